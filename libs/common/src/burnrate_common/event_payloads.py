"""Payloads of the billing and service-level events (``statement.*``, ``invoice.*``,
``ticket.*``, ``sla.*``); registered in ``events.REGISTRY``."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Literal

from pydantic import Field

from burnrate_common.contract_terms import Priority
from burnrate_common.payload import Payload

StatementStatus = Literal[
    "draft", "period_ended", "in_review", "sent", "approved", "disputed", "invoiced"
]


class StatementChanged(Payload):
    """The figures of one contract period's statement after a change (``statement.updated``),
    when it goes to the customer (``statement.sent``) and when approved
    (``statement.approved``). Amounts in ``currency``, before VAT unless named so."""

    statement_id: uuid.UUID
    contract_id: uuid.UUID
    customer_id: uuid.UUID
    period_start: dt.date
    period_end: dt.date
    status: StatementStatus
    currency: str
    allowance_seconds: int
    in_allowance_seconds: int
    charged_seconds: int
    charged_amount: Decimal
    subtotal: Decimal
    vat: Decimal
    total: Decimal
    #: the priced forecast of the whole period at the pace so far (None: not forecast)
    forecast_amount: Decimal | None = None
    budget: Decimal | None = None
    #: the customer's signed link to the statement (``statement.sent``)
    link: str | None = None


class InvoiceIssued(Payload):
    """An invoice (``invoice.issued``) or a credit note that corrects one
    (``invoice.credited``); immutable once issued."""

    invoice_id: uuid.UUID
    number: str
    kind: Literal["invoice", "credit_note"]
    statement_id: uuid.UUID
    contract_id: uuid.UUID
    customer_id: uuid.UUID
    currency: str
    subtotal: Decimal
    vat: Decimal
    total: Decimal
    issued_at: dt.datetime
    #: the invoice a credit note corrects
    corrects: str | None = None


class SlaClockFacts(Payload):
    """One metric of one cycle of a ticket's service-level clock, as measured when the
    ticket event was published: what reporting's compliance figures are made of (times to
    respond and resolve in business time, paused time, met or breached)."""

    metric: Literal["first_response", "resolution"]
    cycle: int = 1
    #: the priority whose target applies (the one in force now, or when the metric stopped)
    priority: Priority
    target_minutes: int
    #: ``business``: the level's calendar; ``24x7``: round the clock
    calendar: Literal["business", "24x7"] = "business"
    state: Literal["running", "paused", "stopped"]
    started_at: dt.datetime
    stopped_at: dt.datetime | None = None
    #: time on the clock, in seconds of the target's calendar (business time), at publication
    elapsed_seconds: int
    #: wall-clock seconds the metric was paused (waiting on the customer), at publication
    paused_seconds: int = 0
    #: when the target is (was) reached; None while paused or once stopped in time
    due_at: dt.datetime | None = None
    #: stopped within the target: True; breached: False; still open: None
    met: bool | None = None


class TicketChanged(Payload):
    """The state of a ticket after a change (``ticket.opened``, ``ticket.updated``,
    ``ticket.resolved``)."""

    ticket_id: uuid.UUID
    #: the reference people and worklogs use (``JSM-4711``, ``ZD-123``, ``149``)
    reference: str
    contract_id: uuid.UUID
    customer_id: uuid.UUID
    source: str
    priority: Priority
    category: str | None = None
    status: str
    level: str | None = None
    opened_at: dt.datetime
    resolved_at: dt.datetime | None = None
    #: the instants the current targets fall due (None: no target, paused or stopped)
    first_response_due_at: dt.datetime | None = None
    resolution_due_at: dt.datetime | None = None
    #: ``ticket.resolved``: the customer's signed link to confirm the closure (or reopen)
    confirmation_link: str | None = None
    #: every metric clock of every cycle at publication (empty: not measured, or a producer
    #: that does not say); reporting's compliance figures come from these
    clocks: list[SlaClockFacts] = Field(default_factory=list)


class TicketConfirmed(Payload):
    """The customer confirmed a resolved ticket closed (``ticket.confirmed``), optionally
    with a rating; billing's "awaiting confirmation" lines of the ticket may be charged."""

    ticket_id: uuid.UUID
    reference: str
    contract_id: uuid.UUID
    confirmed_at: dt.datetime
    rating: int | None = None
    comment: str | None = None
    customer_id: uuid.UUID | None = None


class SlaStageReached(Payload):
    """A ticket's clock reached a stage of a target (``sla.at_risk`` at the contract's
    at-risk percents, ``sla.breached`` at 100), once per ticket, metric, cycle and stage."""

    ticket_id: uuid.UUID
    reference: str
    contract_id: uuid.UUID
    customer_id: uuid.UUID
    metric: Literal["first_response", "resolution"]
    cycle: int
    #: percent of the target elapsed: an at-risk percent, or 100 for the breach
    stage: int
    priority: Priority
    level: str
    target_minutes: int
    due_at: dt.datetime
    #: when such tickets are usually resolved, if that is later than ``due_at``
    expected_at: dt.datetime | None = None
    reached_at: dt.datetime
    category: str | None = None
    #: the zone of the level's calendar, to say the instants in local time
    timezone: str | None = None
    #: business minutes left on the target when the stage was reached (0 for a breach)
    remaining_minutes: int | None = None
