"""Corrections of invoiced work. Pure.

An invoiced statement is immutable, but the worklogs it settled may still be corrected or
deleted at the source. Such a change is never ignored: the invoiced statement is rated
again as it would be now (its own worklogs against the same allowance, with the terms and
the line decisions it was invoiced with; its late lines charged in full), and for every
worklog it settled, what it comes to now minus what was invoiced for it so far (the
invoice, then earlier corrections and credit notes) is a *correcting line*: negative for a
reduction. Correcting lines land on the next open statement, as late lines of the worklog's
own period; or, for a reduction, an explicit action issues a credit note against the
invoice instead (the lines then leave the open statement).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from burnrate_common.contract_terms import BillingTerms

from burnrate_billing.domain.rating import BASE_RATE_RANK, Line, Price, WorkItem, rate_period
from burnrate_billing.domain.statement import Marks, StatedLine, state_lines


@dataclass(frozen=True)
class Settled:
    """What was invoiced for one worklog so far (charged seconds and amount)."""

    seconds: int
    amount: Decimal
    rate: Decimal


@dataclass(frozen=True)
class Correction:
    worklog: WorkItem
    #: the invoiced statement whose figures it corrects
    statement_id: uuid.UUID
    seconds: int
    amount: Decimal
    rate: Decimal
    deleted: bool


def _charged(stated: Sequence[StatedLine]) -> dict[uuid.UUID, tuple[int, Decimal, Decimal]]:
    out: dict[uuid.UUID, tuple[int, Decimal, Decimal]] = {}
    for s in stated:
        seconds, amount, rate = out.get(s.line.worklog.id, (0, Decimal(0), s.line.price.rate))
        if s.status == "charged":
            seconds += s.line.charged_seconds
            amount += s.amount
        out[s.line.worklog.id] = (seconds, amount, rate)
    return out


def corrections(
    *,
    statement_id: uuid.UUID,
    own: Sequence[WorkItem],
    late: Sequence[WorkItem],
    allowance_seconds: int,
    terms_billing: BillingTerms,
    policy: str,
    confirmation_required: bool,
    marks: Marks,
    timezone: str,
    settled: Mapping[uuid.UUID, Settled],
    gone: Mapping[uuid.UUID, WorkItem],
) -> list[Correction]:
    """The correcting lines of one invoiced statement. ``own``/``late``: the current state
    of the worklogs it rated against its allowance / charged as late lines (deleted ones
    left out); ``settled``: what was invoiced so far for each worklog it settled; ``gone``:
    the last state of the deleted ones."""
    lines = rate_period(
        own,
        timezone=timezone,
        terms=terms_billing,
        allowance_seconds=allowance_seconds,
        late_items=late,
    )
    now = _charged(state_lines(lines, policy, marks, confirmation_required))
    current = {item.id: item for item in (*own, *late)}
    out = []
    for worklog_id, before in settled.items():
        seconds, amount, rate = now.get(worklog_id, (0, Decimal(0), before.rate))
        delta_seconds, delta_amount = seconds - before.seconds, amount - before.amount
        if delta_seconds == 0 and delta_amount == 0:
            continue
        item = current.get(worklog_id) or gone.get(worklog_id)
        if item is None:
            continue
        out.append(
            Correction(
                worklog=item,
                statement_id=statement_id,
                seconds=delta_seconds,
                amount=delta_amount,
                rate=rate,
                deleted=worklog_id not in current,
            )
        )
    out.sort(key=lambda c: c.worklog.order)
    return out


def stated(correction: Correction, timezone: str, invoiced_period: dt.date) -> StatedLine:
    """The correcting line as it stands on the open statement: charged, late."""
    item = correction.worklog
    line = Line(
        item,
        0,
        item.started_at.astimezone(ZoneInfo(timezone)).date(),
        Price(correction.rate, None, (), None, BASE_RATE_RANK),
        correction.seconds,
        correction.seconds,
        0,
        correction.seconds,
        late=True,
        correction=True,
    )
    what = "deleted or moved" if correction.deleted else "corrected"
    note = (
        f"correction: worklog {what} after the statement of {invoiced_period.isoformat()} "
        "was invoiced"
    )
    return StatedLine(line, "charged", correction.amount, correction.amount, note)
