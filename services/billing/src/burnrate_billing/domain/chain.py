"""The statements of one contract, computed in period order. Pure.

Each period's allowance depends on the hours the earlier periods rolled over, so a change
in one period is carried through every later open one. An invoiced period is not computed
again: its ledger (the lots it left banked) is taken as invoiced.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from burnrate_common.contract_terms import BillingTerms
from burnrate_common.events import Rollover

from burnrate_billing.domain import ledger as ledgers
from burnrate_billing.domain.rating import WorkItem, rate_period
from burnrate_billing.domain.statement import (
    Figures,
    Marks,
    Money,
    StatedLine,
    figures,
    state_lines,
)


@dataclass(frozen=True)
class Terms:
    """The commercial terms a statement is rated with (a snapshot of the contract's)."""

    currency: str
    allowance_policy: str
    rollover: Rollover
    billing: BillingTerms


@dataclass(frozen=True)
class PeriodInput:
    statement_id: uuid.UUID
    start: dt.date
    end: dt.date
    planned_seconds: int
    terms: Terms
    items: Sequence[WorkItem] = ()
    late_items: Sequence[WorkItem] = ()
    marks: Marks = field(default_factory=Marks)
    money: Money = field(default_factory=Money)
    #: an invoiced period: the lots it left banked (nothing is computed)
    frozen_banked: Sequence[ledgers.Lot] | None = None
    #: correcting lines of invoiced worklogs, landing on this statement
    corrections: Sequence[StatedLine] = ()


@dataclass(frozen=True)
class PeriodResult:
    statement_id: uuid.UUID
    lines: list[StatedLine]
    figures: Figures
    ledger: ledgers.PeriodLedger


def compute(periods: Sequence[PeriodInput], timezone: str) -> list[PeriodResult]:
    """The open statements' lines and figures (invoiced ones are skipped)."""
    banked: list[ledgers.Lot] = []
    results = []
    for index, period in enumerate(periods):
        if period.frozen_banked is not None:
            banked = list(period.frozen_banked)
            continue
        terms = period.terms
        valid = ledgers.opening(banked, index)
        rolled_in = sum(lot.seconds for lot in valid)
        allowance = max(period.planned_seconds + rolled_in, 0)
        lines = rate_period(
            period.items,
            timezone=timezone,
            terms=terms.billing,
            allowance_seconds=allowance,
            late_items=period.late_items,
        )
        used = sum(line.billable_seconds for line in lines if not line.late)
        ledger = ledgers.step(
            banked,
            index,
            ledgers.PeriodUse(period.start, period.planned_seconds, used),
            terms.rollover,
        )
        banked = ledger.banked
        stated = state_lines(
            lines,
            terms.allowance_policy,
            period.marks,
            terms.billing.ticket_confirmation_required,
        )
        stated.extend(period.corrections)
        fig = figures(
            stated,
            currency=terms.currency,
            policy=terms.allowance_policy,
            planned_seconds=period.planned_seconds,
            allowance_seconds=ledger.allowance_seconds,
            rollover_in_seconds=ledger.rollover_in_seconds,
            rollover_out_seconds=ledger.rollover_out_seconds,
            expired_seconds=ledger.expired_seconds,
            debt_seconds=ledger.debt_seconds,
            period_fee=terms.billing.period_fee,
            vat_rate=terms.billing.vat_rate,
            adjustments=period.money,
        )
        results.append(PeriodResult(period.statement_id, stated, fig, ledger))
    return results


def service_credits(breaches: int, terms: BillingTerms) -> Decimal:
    """What ``breaches`` breached resolution targets in one period credit the customer."""
    credit = terms.service_credit
    if credit is None or breaches <= 0:
        return Decimal(0)
    each = Decimal(0)
    if credit.percent_of_fee is not None:
        each += terms.period_fee * credit.percent_of_fee / 100
    if credit.fixed_amount is not None:
        each += credit.fixed_amount
    total = each * breaches
    if credit.cap_per_period is not None:
        total = min(total, credit.cap_per_period)
    return total.quantize(Decimal("0.01"))
