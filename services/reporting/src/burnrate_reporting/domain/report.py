"""The delivery report of a contract over a range of periods: one line per period with its
figures, the unused hours of the periods that ended, and the cumulative burn-up."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from burnrate_common.figures import Figures


class PeriodState(StrEnum):
    CLOSED = "closed"  # ended before today: what is left of the plan is unused
    CURRENT = "current"
    FUTURE = "future"


@dataclass(frozen=True)
class PeriodInput:
    start_date: dt.date
    end_date: dt.date
    planned_seconds: int
    executed_seconds: int
    worklogs: int
    outside_dates_seconds: int


@dataclass(frozen=True)
class PeriodLine:
    period: PeriodInput
    state: PeriodState
    figures: Figures
    unused_seconds: int
    cumulative_planned_seconds: int
    cumulative_executed_seconds: int

    @property
    def percent(self) -> Decimal | None:
        return self.figures.percent


def period_lines(periods: Sequence[PeriodInput], today: dt.date) -> list[PeriodLine]:
    """Ordered by start; the cumulative sums run from the first period of the range."""
    lines: list[PeriodLine] = []
    planned = executed = 0
    for p in sorted(periods, key=lambda p: p.start_date):
        figures = Figures(p.planned_seconds, p.executed_seconds)
        if p.end_date < today:
            state = PeriodState.CLOSED
        elif p.start_date > today:
            state = PeriodState.FUTURE
        else:
            state = PeriodState.CURRENT
        planned += p.planned_seconds
        executed += p.executed_seconds
        unused = figures.remaining_seconds if state is PeriodState.CLOSED else 0
        lines.append(PeriodLine(p, state, figures, unused, planned, executed))
    return lines


@dataclass(frozen=True)
class Totals:
    planned_seconds: int
    executed_seconds: int
    overage_seconds: int
    unused_seconds: int
    outside_dates_seconds: int
    worklogs: int


def totals(lines: Sequence[PeriodLine]) -> Totals:
    """Overage and unused hours are per period (one period's overage does not fill another's
    gap; rollover is the contract's business, not the report's)."""
    return Totals(
        planned_seconds=sum(x.period.planned_seconds for x in lines),
        executed_seconds=sum(x.period.executed_seconds for x in lines),
        overage_seconds=sum(x.figures.overage_seconds for x in lines),
        unused_seconds=sum(x.unused_seconds for x in lines),
        outside_dates_seconds=sum(x.period.outside_dates_seconds for x in lines),
        worklogs=sum(x.period.worklogs for x in lines),
    )
