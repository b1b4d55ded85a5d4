"""The event envelope and the registry of every routing key with its payload model.

No routing key is typed at a call site: use :class:`EventType`. A breaking change to a
payload bumps its version; the old model stays registered until consumers move.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from burnrate_common.contract_terms import BillingTerms, ServiceLevelTerms
from burnrate_common.event_payloads import (
    InvoiceIssued,
    SlaStageReached,
    StatementChanged,
    TicketChanged,
    TicketConfirmed,
)
from burnrate_common.logs import correlation_id as current_correlation_id
from burnrate_common.payload import Payload

__all__ = ["Payload"]


class EventType(StrEnum):
    """Routing keys (``aggregate.event``, past tense)."""

    CUSTOMER_CREATED = "customer.created"
    CUSTOMER_UPDATED = "customer.updated"
    CUSTOMER_DELETED = "customer.deleted"
    CONTRACT_CREATED = "contract.created"
    CONTRACT_UPDATED = "contract.updated"
    CONTRACT_DELETED = "contract.deleted"
    WORKLOG_RECORDED = "worklog.recorded"
    WORKLOG_CORRECTED = "worklog.corrected"
    WORKLOG_DELETED = "worklog.deleted"
    CONSUMPTION_RECORDED = "consumption.recorded"
    ALERT_RAISED = "alert.raised"
    NOTIFICATION_SENT = "notification.sent"
    NOTIFICATION_FAILED = "notification.failed"
    APIKEY_ISSUED = "apikey.issued"
    APIKEY_REVOKED = "apikey.revoked"
    STATEMENT_UPDATED = "statement.updated"
    STATEMENT_SENT = "statement.sent"
    STATEMENT_APPROVED = "statement.approved"
    INVOICE_ISSUED = "invoice.issued"
    INVOICE_CREDITED = "invoice.credited"
    TICKET_OPENED = "ticket.opened"
    TICKET_UPDATED = "ticket.updated"
    TICKET_RESOLVED = "ticket.resolved"
    TICKET_CONFIRMED = "ticket.confirmed"
    SLA_AT_RISK = "sla.at_risk"
    SLA_BREACHED = "sla.breached"


class Trigger(StrEnum):
    """What a notification rule watches; ``AlertRaised.trigger`` is one of these."""

    PERCENT_CONSUMED = "percent_consumed"
    HOURS_REMAINING = "hours_remaining"
    OVERAGE = "overage"
    DAYS_BEFORE_END = "days_before_end"
    FORECAST_OVER_PLAN = "forecast_over_plan"
    WORKLOG_OUTSIDE_DATES = "worklog_outside_dates"
    PERIOD_UNUSED = "period_unused"
    #: the period's allowance is used up and hours are charged (``statement.updated``)
    ALLOWANCE_REACHED = "allowance_reached"
    #: the priced forecast of the period exceeds the customer's budget (``statement.updated``)
    BUDGET_EXCEEDED_FORECAST = "budget_exceeded_forecast"
    #: a ticket's target is at risk (``sla.at_risk``), per ticket, metric, cycle and stage
    SLA_AT_RISK = "sla_at_risk"
    #: a ticket's target is breached (``sla.breached``)
    SLA_BREACHED = "sla_breached"


class Contact(Payload):
    id: uuid.UUID
    name: str
    email: EmailStr
    language: str


class CustomerChanged(Payload):
    """Full state of a customer after a change (``customer.created`` / ``customer.updated``),
    or its last state when it is deleted (``customer.deleted``)."""

    id: uuid.UUID
    name: str
    contacts: list[Contact]
    # Billing details (optional; what an invoice needs to name the buyer, e.g. in UBL):
    #: the registered name, when it differs from ``name``
    legal_name: str | None = None
    address_lines: list[str] = []
    city: str | None = None
    postcode: str | None = None
    #: ISO 3166-1 alpha-2
    country: str | None = None
    vat_id: str | None = None
    #: the Peppol electronic address and its ISO 6523 ICD scheme (e.g. ``0106`` KvK)
    peppol_endpoint_id: str | None = None
    peppol_scheme: str | None = None


class ContractPeriod(Payload):
    """One window of a contract: ``start_date`` ≤ local day ≤ ``end_date`` in the contract zone."""

    start_date: dt.date
    end_date: dt.date
    planned_seconds: int


class Rollover(Payload):
    """What happens to unused hours at the end of a period."""

    policy: Literal["none", "next_period", "capped"] = "none"
    cap_hours: Decimal | None = None
    expires_after_periods: int | None = None


class ContractChanged(Payload):
    """Full state of a contract after a change, periods included, so no consumer re-derives them.

    ``periods`` carry the planned seconds after per-period overrides and pro-rating.
    ``lifecycle`` is the stored state (draft, active, closed); derived statuses such as
    expiring or exhausted are computed by whoever reads. ``contract.deleted`` (a draft, the
    only kind that can be deleted) carries the last state with lifecycle ``deleted``, so a
    replica can keep it as a tombstone that an older, late event does not bring back.
    """

    id: uuid.UUID
    customer_id: uuid.UUID
    code: str
    title: str
    owner_email: EmailStr
    start_date: dt.date
    end_date: dt.date
    timezone: str
    period: str
    planned_hours: Decimal
    teams: list[str]
    work_accounts: list[str]
    periods: list[ContractPeriod]
    lifecycle: Literal["draft", "active", "closed", "deleted"] = "active"
    jira_project_keys: list[str] = Field(default_factory=list)
    currency: str = "EUR"
    overage_rate: Decimal | None = None
    allowance_policy: Literal["overage_allowed", "warn_only", "hard_stop"] = "overage_allowed"
    rollover: Rollover = Field(default_factory=Rollover)
    prorate_partial_periods: bool = False
    #: how billing prices the hours (None: the contract is not billed by Burnrate)
    billing: BillingTerms | None = None
    #: the service levels, each in force for tickets opened from its ``effective_from``
    service_levels: list[ServiceLevelTerms] = Field(default_factory=list)


class Worklog(Payload):
    """Full state of one worklog after a change."""

    id: uuid.UUID
    source: str
    external_id: str
    contract_id: uuid.UUID
    period_start: dt.date
    author: str
    team: str
    activity: str
    started_at: dt.datetime
    seconds: int
    outside_dates: bool
    ticket: str | None = None
    work_account: str | None = None
    version: int = 1
    #: where the work was done (service desk, site A …); None: not said
    location: str | None = None


#: Worklog events carry many worklogs each, so a bulk load is not one message per worklog.
WORKLOGS_PER_EVENT = 1000


class WorklogsChanged(Payload):
    """Worklogs of one contract recorded, corrected or deleted by one request
    (``worklog.recorded`` / ``worklog.corrected`` / ``worklog.deleted``), at most
    :data:`WORKLOGS_PER_EVENT` per event."""

    contract_id: uuid.UUID
    worklogs: list[Worklog] = Field(max_length=WORKLOGS_PER_EVENT)
    #: the contract is billed (``ContractChanged.billing`` set, as worklog-ingest knew it):
    #: every worklog event of such a contract is published; None: not said (older events)
    billed: bool | None = None


class ConsumptionRecorded(Payload):
    """``consumption.recorded`` version 1: a signed delta of executed seconds for one contract
    period, team, activity and author.

    Deltas commute: totals are sums, so order and replicas do not matter. Superseded by
    :class:`PeriodConsumptionRecorded` (version 2); kept so stored and in-flight version 1
    events are still read (reporting's rebuild replays its event log).
    """

    contract_id: uuid.UUID
    period_start: dt.date
    period_end: dt.date
    team: str
    activity: str
    delta_seconds: int
    delta_worklogs: int
    delta_outside_dates_seconds: int = 0
    #: the person who logged the time, so reports can split by person (None: not split)
    author: str | None = None

    def as_period(self) -> PeriodConsumptionRecorded:
        """The same delta in the shape of version 2 (one line), so consumers handle one shape."""
        return PeriodConsumptionRecorded(
            contract_id=self.contract_id,
            period_start=self.period_start,
            period_end=self.period_end,
            lines=[
                ConsumptionLine(
                    team=self.team,
                    activity=self.activity,
                    author=self.author,
                    delta_seconds=self.delta_seconds,
                    delta_worklogs=self.delta_worklogs,
                    delta_outside_dates_seconds=self.delta_outside_dates_seconds,
                )
            ],
        )


class ConsumptionLine(Payload):
    """One (team, activity, author, location) share of a :class:`PeriodConsumptionRecorded`."""

    team: str
    activity: str
    #: None: not split by person (only in version 1 events)
    author: str | None = None
    delta_seconds: int
    delta_worklogs: int
    delta_outside_dates_seconds: int = 0
    #: where the work was done (``Worklog.location``); None: not said
    location: str | None = None


class PeriodConsumptionRecorded(Payload):
    """``consumption.recorded`` version 2: the signed deltas one request (batch, import chunk,
    correction) makes to one contract period, one line per (team, activity, author, location).

    One event per contract period and request, not one per line: a batch of 10,000 worklogs
    yields as many events as it touches contract periods, and a consumer applies all lines
    of one event set-based and evaluates the period once. Deltas commute as in version 1.
    """

    contract_id: uuid.UUID
    period_start: dt.date
    period_end: dt.date
    lines: list[ConsumptionLine] = Field(min_length=1)

    def as_period(self) -> PeriodConsumptionRecorded:
        return self


class Audience(Payload):
    owner: bool = True
    #: the contract's teams, through the in-app feed
    teams: bool = False
    customer_contacts: bool = False
    emails: list[EmailStr] = Field(default_factory=list)
    webhook_url: str | None = None
    #: customer mail may show internal names and costs only when this is set
    include_internal: bool = False


class AlertFacts(Payload):
    """What an alert says besides its stage: the facts particular to some triggers (None
    where they do not apply). Rules computes them, the notifier renders them."""

    days_before_end: int | None = None
    forecast_seconds: int | None = None
    forecast_exhaustion_date: dt.date | None = None
    unused_seconds: int | None = None
    outside_dates_seconds: int | None = None
    # Billing triggers: the statement's figures.
    currency: str | None = None
    #: the period's allowance (planned hours, plus hours rolled over, minus debt as hours)
    allowance_seconds: int | None = None
    charged_seconds: int | None = None
    charged_amount: Decimal | None = None
    forecast_amount: Decimal | None = None
    budget: Decimal | None = None
    # Service-level triggers: the ticket and its target.
    ticket_id: uuid.UUID | None = None
    ticket_reference: str | None = None
    ticket_priority: str | None = None
    service_level: str | None = None
    sla_metric: str | None = None
    sla_target_minutes: int | None = None
    sla_due_at: dt.datetime | None = None
    sla_expected_at: dt.datetime | None = None
    #: the clock's cycle (a reopened ticket may start a new one)
    sla_cycle: int | None = None


class AlertRaised(AlertFacts):
    """One stage of a rule crossed for one contract period (at most once per stage and period)."""

    alert_id: uuid.UUID
    rule_id: uuid.UUID
    rule_name: str
    contract_id: uuid.UUID
    period_start: dt.date
    period_end: dt.date
    trigger: Trigger
    stage: str
    planned_seconds: int
    executed_seconds: int
    audience: Audience
    customer_id: uuid.UUID | None = None


class NotificationOutcome(Payload):
    delivery_id: uuid.UUID
    alert_id: uuid.UUID
    contract_id: uuid.UUID
    channel: str
    recipient: str
    attempts: int
    error: str | None = None


class ApiKeyIssued(Payload):
    """Only the hash travels; the key itself is shown once, to whoever asked for it."""

    id: uuid.UUID
    name: str
    key_hash: str
    scopes: list[str]


class ApiKeyRevoked(Payload):
    id: uuid.UUID


#: (type, version) → payload model. A breaking change adds (type, version + 1).
REGISTRY: dict[tuple[EventType, int], type[Payload]] = {
    (EventType.CUSTOMER_CREATED, 1): CustomerChanged,
    (EventType.CUSTOMER_UPDATED, 1): CustomerChanged,
    (EventType.CUSTOMER_DELETED, 1): CustomerChanged,
    (EventType.CONTRACT_CREATED, 1): ContractChanged,
    (EventType.CONTRACT_UPDATED, 1): ContractChanged,
    (EventType.CONTRACT_DELETED, 1): ContractChanged,
    (EventType.WORKLOG_RECORDED, 1): WorklogsChanged,
    (EventType.WORKLOG_CORRECTED, 1): WorklogsChanged,
    (EventType.WORKLOG_DELETED, 1): WorklogsChanged,
    (EventType.CONSUMPTION_RECORDED, 1): ConsumptionRecorded,
    (EventType.CONSUMPTION_RECORDED, 2): PeriodConsumptionRecorded,
    (EventType.ALERT_RAISED, 1): AlertRaised,
    (EventType.NOTIFICATION_SENT, 1): NotificationOutcome,
    (EventType.NOTIFICATION_FAILED, 1): NotificationOutcome,
    (EventType.APIKEY_ISSUED, 1): ApiKeyIssued,
    (EventType.APIKEY_REVOKED, 1): ApiKeyRevoked,
    (EventType.STATEMENT_UPDATED, 1): StatementChanged,
    (EventType.STATEMENT_SENT, 1): StatementChanged,
    (EventType.STATEMENT_APPROVED, 1): StatementChanged,
    (EventType.INVOICE_ISSUED, 1): InvoiceIssued,
    (EventType.INVOICE_CREDITED, 1): InvoiceIssued,
    (EventType.TICKET_OPENED, 1): TicketChanged,
    (EventType.TICKET_UPDATED, 1): TicketChanged,
    (EventType.TICKET_RESOLVED, 1): TicketChanged,
    (EventType.TICKET_CONFIRMED, 1): TicketConfirmed,
    (EventType.SLA_AT_RISK, 1): SlaStageReached,
    (EventType.SLA_BREACHED, 1): SlaStageReached,
}

CURRENT_VERSION: dict[EventType, int] = {
    event_type: max(v for (t, v) in REGISTRY if t == event_type) for event_type in EventType
}

_WORKLOG_EVENTS = frozenset(
    {EventType.WORKLOG_RECORDED, EventType.WORKLOG_CORRECTED, EventType.WORKLOG_DELETED}
)
# A JSON true as the value of the field; a quote inside a string value is escaped, so no
# ticket or description can look like it.
_OUTSIDE_DATES_TRUE = re.compile(rb'"outside_dates"\s*:\s*true')
_BILLED_TRUE = re.compile(rb'"billed"\s*:\s*true')


def routing_headers_of_body(event_type: str, body: bytes) -> dict[str, Any]:
    """:meth:`Envelope.routing_headers` read off a JSON body: for outbox rows written before
    the outbox kept the headers (``burnrate_common`` migration 0004)."""
    if event_type in _WORKLOG_EVENTS:
        return {
            "outside_dates": _OUTSIDE_DATES_TRUE.search(body) is not None,
            "billed": _BILLED_TRUE.search(body) is not None,
        }
    return {}


class Envelope(BaseModel):
    """What travels on the bus; ``data`` is validated against the registry at both ends."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: uuid.UUID
    type: EventType
    version: int
    occurred_at: dt.datetime
    producer: str
    correlation_id: str
    causation_id: str | None
    key: str
    data: dict[str, Any]

    def payload(self) -> Payload:
        """The typed payload; raises ``KeyError`` for an unknown version, ValidationError if bad."""
        model = REGISTRY[(self.type, self.version)]
        return model.model_validate(self.data)

    def routing_headers(self) -> dict[str, Any]:
        """The AMQP headers this event carries beside its JSON body, so a consumer can have
        the broker deliver only some events of a type (``bus.Trim.where``).

        ``worklog.*``: ``outside_dates``, whether any of its worklogs is outside its
        contract's dates: a 1,000-worklog event is ~360 KB, and reporting, which lists only
        those worklogs, need not receive the rest (almost all of them); ``billed``, whether
        its contract is billed (``WorklogsChanged.billed``): billing rates every worklog of
        those. Taken from ``data`` when the event is written and kept beside it in the
        outbox: searching the stored body at every publish cost ~0.3 µs per worklog.
        """
        if self.type in _WORKLOG_EVENTS:
            return {
                "outside_dates": any(w.get("outside_dates") for w in self.data["worklogs"]),
                "billed": self.data.get("billed") is True,
            }
        return {}

    def to_json(self) -> bytes:
        """The envelope as JSON, as ``model_dump_json`` writes it (tests compare), but by
        orjson: a 1,000-worklog bulk event (~360 KB, its ``data`` still holding the rows'
        UUIDs, dates and datetimes) in a sixth of pydantic's time."""
        try:
            return orjson.dumps(dict(self), option=orjson.OPT_UTC_Z)
        except orjson.JSONEncodeError:  # what orjson does not write (an int above 64 bits)
            return self.model_dump_json().encode()


def new_event(
    event_type: EventType,
    payload: Payload,
    *,
    key: str | uuid.UUID,
    producer: str,
    correlation_id: str | None = None,
    causation_id: str | uuid.UUID | None = None,
    event_id: uuid.UUID | None = None,
) -> Envelope:
    """Build an envelope, checking the payload model against the registry.

    The version is the one registered for the payload's model: the current one for current
    producers; an older model (kept until every consumer moved) still builds its own version.
    """
    version = CURRENT_VERSION[event_type]
    expected = REGISTRY[(event_type, version)]
    if not isinstance(payload, expected):
        older = [
            v for (t, v), model in REGISTRY.items() if t == event_type and model is type(payload)
        ]
        if not older:
            raise TypeError(f"{event_type} v{version} carries {expected.__name__}")
        version = max(older)
    return _envelope(
        event_type,
        version,
        payload.model_dump(mode="json"),
        key=key,
        producer=producer,
        correlation_id=correlation_id,
        causation_id=causation_id,
        event_id=event_id,
    )


def new_bulk_event(
    event_type: EventType, data: dict[str, Any], *, key: str | uuid.UUID, producer: str
) -> Envelope:
    """An envelope (current version) around ``data`` that is NOT validated against the payload
    model here: for the events a batch builds from rows it has just validated and stored
    (10,000 worklogs a request), where a model per item cost more than the rest of the batch.
    ``data`` may hold UUIDs, dates and datetimes; they serialise to the JSON of the payload
    model (``tests`` compare both ways), and consumers validate the payload as always."""
    return _envelope(event_type, CURRENT_VERSION[event_type], data, key=key, producer=producer)


def _envelope(
    event_type: EventType,
    version: int,
    data: dict[str, Any],
    *,
    key: str | uuid.UUID,
    producer: str,
    correlation_id: str | None = None,
    causation_id: str | uuid.UUID | None = None,
    event_id: uuid.UUID | None = None,
) -> Envelope:
    event_id = event_id or uuid.uuid4()
    return Envelope(
        id=event_id,
        type=event_type,
        version=version,
        occurred_at=dt.datetime.now(dt.UTC),
        producer=producer,
        correlation_id=correlation_id or current_correlation_id.get() or str(event_id),
        causation_id=str(causation_id) if causation_id else None,
        key=str(key),
        data=data,
    )
