"""A statement's lines, figures and life cycle. Pure.

Life cycle: ``draft`` (live: re-computed from the surviving worklogs on every change; shown
as ``period_ended`` once the period is over) → ``in_review`` → ``sent`` (to the customer,
with a signed link) → ``approved`` or ``disputed`` (some lines) → ``invoiced`` (immutable).
A statement changes figures until it is invoiced; an approved statement whose figures
change goes back to ``in_review`` (the customer approved other figures).

The allowance policy decides what a line beyond the allowance does:

=================  ========================================================================
policy             effect on the statement
=================  ========================================================================
overage_allowed    the hours beyond the allowance are charged at their rate (``charged``)
warn_only          the lines are shown with their rate and value, but amount 0
                   (``not_charged``); the statement is flagged ``warn_only`` and
                   ``overage_value`` says what they would have cost
hard_stop          the lines are held as "not billable without approval" (``held``): not
                   in the subtotal until released (``POST …/lines/{worklog}/release``)
=================  ========================================================================

Other line statuses: ``in_allowance`` (no hour charged), ``cancelled`` (written off, with
a reason; the work still used the allowance), ``disputed`` (held by the customer's dispute),
``awaiting_confirmation`` (the ticket is not yet confirmed closed, when the terms require
it). Only ``charged`` lines count in the subtotal:

    subtotal = period fee + charged + debt brought forward − carried forward − credits
               − service credits;  VAT = subtotal × VAT rate (to the cent); total.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from burnrate_billing.domain.rating import HOUR, Line, money

Status = Literal["draft", "in_review", "sent", "approved", "disputed", "invoiced"]
Policy = Literal["overage_allowed", "warn_only", "hard_stop"]
LineStatus = Literal[
    "in_allowance",
    "charged",
    "not_charged",
    "held",
    "cancelled",
    "disputed",
    "awaiting_confirmation",
]

#: status → the commands allowed from it and the status each leads to
TRANSITIONS: dict[str, dict[str, Status]] = {
    "draft": {"review": "in_review"},
    "in_review": {"send": "sent", "approve": "approved"},
    "sent": {"approve": "approved", "dispute": "disputed", "review": "in_review"},
    "disputed": {"approve": "approved", "review": "in_review", "invoice": "invoiced"},
    "approved": {"invoice": "invoiced", "review": "in_review"},
    "invoiced": {},
}


class TransitionError(ValueError):
    def __init__(self, status: str, command: str) -> None:
        allowed = ", ".join(TRANSITIONS.get(status, {})) or "none (it is final)"
        super().__init__(
            f"A statement in status {status!r} cannot be {command!r}-ed; allowed: {allowed}."
        )
        self.status = status
        self.command = command


def next_status(status: str, command: str, *, period_ended: bool) -> Status:
    if command == "review" and status == "draft" and not period_ended:
        raise TransitionError("draft (period not ended)", command)
    following = TRANSITIONS.get(status, {}).get(command)
    if following is None:
        raise TransitionError(status, command)
    return following


def shown_status(status: str, *, period_ended: bool) -> str:
    return "period_ended" if status == "draft" and period_ended else status


@dataclass(frozen=True)
class Marks:
    """What people decided about lines, by worklog."""

    cancelled: Mapping[uuid.UUID, str] = field(default_factory=dict)
    disputed: Mapping[uuid.UUID, str] = field(default_factory=dict)
    released: frozenset[uuid.UUID] = frozenset()
    confirmed_tickets: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Money:
    """The adjustments on a statement, in the contract's currency."""

    debt_brought_forward: Decimal = Decimal(0)
    carried_forward: Decimal = Decimal(0)
    credits: Decimal = Decimal(0)
    service_credits: Decimal = Decimal(0)


@dataclass(frozen=True)
class StatedLine:
    line: Line
    status: LineStatus
    #: rate × charged hours, whatever the status
    value: Decimal
    #: what the line adds to the subtotal
    amount: Decimal
    note: str | None = None


def line_status(
    line: Line, policy: str, marks: Marks, confirmation_required: bool
) -> tuple[LineStatus, str | None]:
    worklog = line.worklog.id
    if worklog in marks.cancelled:
        return "cancelled", marks.cancelled[worklog]
    if line.charged_seconds == 0:
        return "in_allowance", None
    if worklog in marks.disputed:
        return "disputed", marks.disputed[worklog]
    if (
        confirmation_required
        and line.worklog.ticket
        and line.worklog.ticket not in marks.confirmed_tickets
    ):
        return "awaiting_confirmation", None
    if policy == "warn_only":
        return "not_charged", "warn only: beyond the allowance, not charged"
    if policy == "hard_stop" and worklog not in marks.released:
        return "held", "not billable without approval"
    return "charged", None


def state_lines(
    lines: Iterable[Line], policy: str, marks: Marks, confirmation_required: bool
) -> list[StatedLine]:
    stated = []
    for line in lines:
        status, note = line_status(line, policy, marks, confirmation_required)
        value = line.amount
        stated.append(
            StatedLine(line, status, value, value if status == "charged" else Decimal("0.00"), note)
        )
    return stated


@dataclass(frozen=True)
class Figures:
    currency: str
    allowance_seconds: int
    planned_seconds: int
    rollover_in_seconds: int
    rollover_out_seconds: int
    expired_seconds: int
    debt_seconds: int
    actual_seconds: int
    billable_seconds: int
    in_allowance_seconds: int
    charged_seconds: int
    period_fee: Decimal
    charged_amount: Decimal
    written_off: Decimal
    held_amount: Decimal
    overage_value: Decimal
    debt_brought_forward: Decimal
    carried_forward: Decimal
    credits: Decimal
    service_credits: Decimal
    subtotal: Decimal
    vat_rate: Decimal
    vat: Decimal
    total: Decimal
    warn_only: bool
    late_lines: int

    @property
    def before_carry(self) -> Decimal:
        """What the customer would owe with nothing carried forward (the most a carry moves)."""
        return self.subtotal + self.carried_forward


def figures(
    stated: Iterable[StatedLine],
    *,
    currency: str,
    policy: str,
    planned_seconds: int,
    allowance_seconds: int,
    rollover_in_seconds: int,
    rollover_out_seconds: int,
    expired_seconds: int,
    debt_seconds: int,
    period_fee: Decimal,
    vat_rate: Decimal,
    adjustments: Money,
) -> Figures:
    rows = list(stated)
    charged_amount = sum((s.amount for s in rows), Decimal(0))
    subtotal = (
        period_fee
        + charged_amount
        + adjustments.debt_brought_forward
        - adjustments.carried_forward
        - adjustments.credits
        - adjustments.service_credits
    )
    subtotal = money(subtotal)
    vat = money(subtotal * vat_rate)
    return Figures(
        currency=currency,
        allowance_seconds=allowance_seconds,
        planned_seconds=planned_seconds,
        rollover_in_seconds=rollover_in_seconds,
        rollover_out_seconds=rollover_out_seconds,
        expired_seconds=expired_seconds,
        debt_seconds=debt_seconds,
        actual_seconds=sum(s.line.actual_seconds for s in rows),
        billable_seconds=sum(s.line.billable_seconds for s in rows),
        in_allowance_seconds=sum(s.line.in_allowance_seconds for s in rows),
        charged_seconds=sum(s.line.charged_seconds for s in rows),
        period_fee=money(period_fee),
        charged_amount=money(charged_amount),
        written_off=money(sum((s.value for s in rows if s.status == "cancelled"), Decimal(0))),
        held_amount=money(
            sum(
                (
                    s.value
                    for s in rows
                    if s.status in ("held", "disputed", "awaiting_confirmation")
                ),
                Decimal(0),
            )
        ),
        overage_value=money(sum((s.value for s in rows if s.status == "not_charged"), Decimal(0))),
        debt_brought_forward=money(adjustments.debt_brought_forward),
        carried_forward=money(adjustments.carried_forward),
        credits=money(adjustments.credits),
        service_credits=money(adjustments.service_credits),
        subtotal=subtotal,
        vat_rate=vat_rate,
        vat=vat,
        total=subtotal + vat,
        warn_only=policy == "warn_only" and any(s.status == "not_charged" for s in rows),
        late_lines=sum(1 for s in rows if s.line.late),
    )


def forecast_amount(
    fig: Figures, *, period_start: dt.date, period_end: dt.date, today: dt.date
) -> Decimal | None:
    """The priced forecast of the whole period at the pace so far (None before it starts,
    or when nothing is charged per hour yet and the allowance is not at risk)."""
    days = (period_end - period_start).days + 1
    elapsed = min(max((today - period_start).days + 1, 0), days)
    if elapsed <= 0 or fig.billable_seconds <= 0:
        return None
    pace = fig.billable_seconds * days // elapsed
    beyond = max(pace - fig.allowance_seconds, 0)
    if fig.charged_seconds:
        rate = (fig.charged_amount + fig.held_amount) / (Decimal(fig.charged_seconds) / HOUR)
    else:
        return money(fig.period_fee + fig.charged_amount) if beyond == 0 else None
    return money(fig.period_fee + rate * beyond / HOUR)
