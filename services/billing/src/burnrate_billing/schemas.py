"""Every request and response model of billing's REST API."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from burnrate_common.types import Hours
from pydantic import BaseModel, ConfigDict, Field

#: why: required for every what-if, kept in the history
ReasonText = Annotated[str, Field(min_length=1, max_length=2000, pattern=r"\S")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReasonIn(Strict):
    reason: str | None = Field(None, max_length=2000, description="Why (kept in the history)")


class CarryIn(Strict):
    """Carry all or part of what the customer owes to the next period's statement."""

    amount: Decimal | None = Field(None, gt=0, max_digits=14, decimal_places=2)
    all: bool = Field(False, description="Carry everything still owed on this statement")
    reason: ReasonText


class CancelLineIn(Strict):
    """Write off a worklog's lines on this statement."""

    worklog_id: uuid.UUID
    reason: ReasonText


class CreditIn(Strict):
    amount: Decimal = Field(gt=0, max_digits=14, decimal_places=2)
    target: Literal["this", "next"] = "this"
    reason: ReasonText


class ReleaseIn(Strict):
    """Make a held line (hard stop beyond the allowance) billable."""

    worklog_id: uuid.UUID
    reason: ReasonText


class ConfirmTicketIn(Strict):
    confirmed_at: dt.datetime | None = None


class CustomerApproveIn(Strict):
    name: str = Field(min_length=1, max_length=200, description="Who approves, as they sign")


class CustomerDisputeIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    worklog_ids: list[uuid.UUID] = Field(min_length=1, max_length=10_000)
    comment: str = Field(min_length=1, max_length=4000)


class CreditNoteIn(Strict):
    amount: Decimal | None = Field(
        None, gt=0, max_digits=14, decimal_places=2, description="Before VAT; none: all"
    )
    reason: ReasonText


class LineOut(BaseModel):
    line_id: str
    worklog_id: uuid.UUID
    period_start: dt.date
    late: bool
    date: dt.date
    person: str
    team: str
    ticket: str | None
    activity: str
    location: str | None
    shift: str | None
    actual_hours: Hours
    billable_hours: Hours
    in_allowance_hours: Hours
    charged_hours: Hours
    rate: Decimal
    rate_row: str | None
    value: Decimal
    amount: Decimal
    status: str
    note: str | None
    #: corrects a worklog invoiced on an earlier statement (late, negative for a reduction)
    correction: bool = False


class AdjustmentOut(BaseModel):
    id: uuid.UUID
    kind: str
    amount: Decimal
    reason: str
    source_statement_id: uuid.UUID | None
    source_period_start: dt.date | None
    created_by: str
    created_at: dt.datetime


class BankedOut(BaseModel):
    earned_in: dt.date
    hours: Hours
    expires_after: dt.date | None


class FiguresOut(BaseModel):
    currency: str
    planned_hours: Hours
    rollover_in_hours: Hours
    allowance_hours: Hours
    actual_hours: Hours
    billable_hours: Hours
    in_allowance_hours: Hours
    charged_hours: Hours
    rollover_out_hours: Hours
    expired_hours: Hours
    banked: list[BankedOut]
    period_fee: Decimal
    charged_amount: Decimal
    written_off: Decimal
    held_amount: Decimal
    overage_value: Decimal
    warn_only: bool
    debt_brought_forward: Decimal
    carried_forward: Decimal
    credits: Decimal
    service_credits: Decimal
    subtotal: Decimal
    vat_rate: Decimal
    vat: Decimal
    total: Decimal
    paid_not_delivered_hours: Hours
    paid_not_delivered_value: Decimal
    forecast_amount: Decimal | None
    budget: Decimal | None
    late_lines: int


class StatementOut(BaseModel):
    id: uuid.UUID
    contract_id: uuid.UUID
    customer_id: uuid.UUID
    contract_code: str
    period_start: dt.date
    period_end: dt.date
    status: str
    allowance_policy: str
    figures: FiguresOut | None
    #: the contract's terms changed since this statement was rated (POST …/rerate)
    terms_pending: bool
    sent_at: dt.datetime | None
    approved_by: str | None
    approved_at: dt.datetime | None
    invoice_id: uuid.UUID | None
    adjustments: list[AdjustmentOut] = []
    lines: list[LineOut] | None = None
    #: a what-if answered with ?preview=true: nothing was applied
    preview: bool = False


class SentOut(StatementOut):
    link: str
    link_expires_at: dt.datetime


class StatementPage(BaseModel):
    items: list[StatementOut]
    next_cursor: str | None


class HistoryOut(BaseModel):
    at: dt.datetime
    actor: str
    action: str
    reason: str | None
    details: dict[str, Any]


class InvoiceOut(BaseModel):
    id: uuid.UUID
    number: str
    kind: str
    statement_id: uuid.UUID
    contract_id: uuid.UUID
    customer_id: uuid.UUID
    currency: str
    issued_at: dt.datetime
    issue_date: dt.date
    due_date: dt.date
    vat_rate: Decimal
    subtotal: Decimal
    vat: Decimal
    total: Decimal
    corrects: uuid.UUID | None
    reason: str | None
    issued_by: str
    document: dict[str, Any]


class ReasonRequiredIn(Strict):
    reason: ReasonText


class CorrectionOut(BaseModel):
    """A worklog an invoice settled, corrected or deleted since: what it changes."""

    worklog_id: uuid.UUID
    period_start: dt.date | None
    started_at: dt.datetime
    person: str
    ticket: str | None
    activity: str
    #: charged hours and amount, negative for a reduction
    hours: Hours
    amount: Decimal
    deleted: bool


class CorrectionsOut(BaseModel):
    invoice_id: uuid.UUID
    number: str
    lines: list[CorrectionOut]
    net_amount: Decimal
    #: what ``POST …/corrections/credit-note`` would credit (before VAT); 0: nothing
    proposed_credit_note: Decimal


class TicketConfirmationOut(BaseModel):
    contract_id: uuid.UUID
    reference: str
    confirmed: bool


class PeriodBalanceOut(BaseModel):
    statement_id: uuid.UUID
    period_start: dt.date
    period_end: dt.date
    status: str
    open_amount: Decimal
    paid_not_delivered_hours: Hours
    paid_not_delivered_value: Decimal
    expired_hours: Hours


class ContractBalanceOut(BaseModel):
    contract_id: uuid.UUID
    customer_id: uuid.UUID
    contract_code: str
    currency: str
    #: subtotals of statements not yet invoiced (before VAT)
    open_amount: Decimal
    #: debt carried forward onto open statements
    debt_carried: Decimal
    #: credits granted on open statements, not yet invoiced
    credits: Decimal
    invoiced_total: Decimal
    credited_total: Decimal
    rollover_banked: list[BankedOut]
    paid_not_delivered_hours: Hours
    paid_not_delivered_value: Decimal
    periods: list[PeriodBalanceOut]


class CustomerBalanceOut(BaseModel):
    customer_id: uuid.UUID
    #: per currency
    open_amount: dict[str, Decimal]
    debt_carried: dict[str, Decimal]
    credits: dict[str, Decimal]
    paid_not_delivered_value: dict[str, Decimal]
    contracts: list[ContractBalanceOut]
