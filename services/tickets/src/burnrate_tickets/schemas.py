"""Request and response models of the tickets API."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from burnrate_common.contract_terms import Priority
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

Metric = Literal["first_response", "resolution"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventIn(_In):
    #: the source's id of this event: the same id twice is the same event (idempotent)
    event_id: str | None = Field(default=None, min_length=1, max_length=200)
    #: when it happened (default: now)
    at: AwareDatetime | None = None


class TicketIn(_In):
    reference: str = Field(min_length=1, max_length=200)
    #: the source's id of the ticket (default: ``reference``); unique per source
    external_id: str | None = Field(default=None, min_length=1, max_length=200)
    source: str = Field(default="api", min_length=1, max_length=50, pattern=r"^[a-z0-9_-]+$")
    contract_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None
    priority: Priority
    category: str | None = Field(default=None, min_length=1, max_length=200)
    opened_at: AwareDatetime | None = None
    status: str = Field(default="open", min_length=1, max_length=100)

    @model_validator(mode="after")
    def _whose(self) -> TicketIn:
        if self.contract_id is None and self.customer_id is None:
            raise ValueError("give contract_id or customer_id")
        return self


class StatusIn(EventIn):
    status: str = Field(min_length=1, max_length=100)


class ReplyIn(EventIn):
    by: Literal["agent", "customer"]
    public: bool = True


class PriorityIn(EventIn):
    priority: Priority


class DueOut(BaseModel):
    metric: Metric
    cycle: int
    priority: Priority
    target_minutes: int
    calendar: Literal["business", "24x7"]
    state: Literal["running", "paused", "stopped"]
    due_at: dt.datetime | None
    breached: bool


class ConfirmationOut(BaseModel):
    confirmed_at: dt.datetime
    rating: int | None
    comment: str | None


class TicketOut(BaseModel):
    id: uuid.UUID
    source: str
    external_id: str
    reference: str
    contract_id: uuid.UUID | None
    customer_id: uuid.UUID | None
    #: ``attributed``, or why not (yet): ``unknown_contract``, ``unknown_customer``,
    #: ``unknown_project`` (JSM), ``unknown_organization`` (a Zendesk organization not
    #: mapped to a customer), ``no_contract`` (the source named none)
    attribution: str
    priority: Priority
    category: str | None
    status: str
    status_kind: Literal["active", "waiting", "resolved", "closed"]
    level: str | None
    opened_at: dt.datetime
    resolved_at: dt.datetime | None
    closed_at: dt.datetime | None
    due: list[DueOut]
    confirmation: ConfirmationOut | None = None
    #: the customer's signed link to confirm the closure (on a resolved ticket)
    confirmation_link: str | None = None


class SegmentOut(BaseModel):
    start: dt.datetime
    #: None: still going
    end: dt.datetime | None
    state: Literal["running", "paused", "stopped", "outside_hours"]


class MetricSlaOut(BaseModel):
    metric: Metric
    cycle: int
    priority: Priority
    target_minutes: int
    calendar: Literal["business", "24x7"]
    state: Literal["running", "paused", "stopped"]
    started_at: dt.datetime
    stopped_at: dt.datetime | None
    elapsed_minutes: float
    remaining_minutes: float
    due_at: dt.datetime | None
    breached: bool
    met: bool | None
    stages_fired: list[int]
    next_stage: int | None
    next_stage_at: dt.datetime | None
    timeline: list[SegmentOut]


class SlaOut(BaseModel):
    ticket_id: uuid.UUID
    reference: str
    level: str | None
    calendar: str | None
    timezone: str | None
    at: dt.datetime
    metrics: list[MetricSlaOut]


class TargetDueOut(BaseModel):
    metric: Metric
    target_minutes: int
    calendar: Literal["business", "24x7"]
    due_at: dt.datetime


class ServiceLevelDueOut(BaseModel):
    contract_id: uuid.UUID
    customer_id: uuid.UUID
    #: None: the contract has no service level in force at ``at``
    level: str | None
    calendar: str | None
    timezone: str | None
    priority: Priority
    category: str | None
    at: dt.datetime
    targets: list[TargetDueOut]


class WebhookOut(BaseModel):
    ticket_id: uuid.UUID | None
    #: events stored; 0 for a redelivery or an event that does not move a clock
    recorded: int
    ignored: str | None = None


class ConfirmIn(_In):
    #: confirm the closure, or reopen the ticket
    action: Literal["confirm", "reopen"] = "confirm"
    rating: int | None = Field(default=None, ge=1, le=5)
    comment: str | None = Field(default=None, max_length=4000)


class ConfirmationPageOut(BaseModel):
    ticket_id: uuid.UUID
    reference: str
    status_kind: str
    resolved_at: dt.datetime | None
    confirmation: ConfirmationOut | None
    #: the zone of the ticket's service-level calendar (instants are shown in it)
    timezone: str | None = None


class ZendeskOrganizationIn(_In):
    customer_id: uuid.UUID


class ZendeskOrganizationOut(BaseModel):
    org_id: str
    customer_id: uuid.UUID
    created_at: dt.datetime
    updated_at: dt.datetime
    #: tickets kept for this organization that the mapping attributed (on PUT)
    attributed: int = 0
