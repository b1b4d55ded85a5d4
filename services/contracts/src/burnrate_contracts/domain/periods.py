"""Contract periods: windows anchored on the contract's start date, in local calendar days."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class PeriodKind(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"
    TERM = "term"


MONTHS_PER_PERIOD = {PeriodKind.MONTHLY: 1, PeriodKind.QUARTERLY: 3, PeriodKind.YEARLY: 12}


@dataclass(frozen=True)
class Period:
    start_date: dt.date
    end_date: dt.date  # inclusive
    planned_seconds: int


def add_months(anchor: dt.date, months: int) -> dt.date:
    """``anchor`` moved by whole months, the day clamped to the month's length (31 Jan → 28 Feb)."""
    month_index = anchor.month - 1 + months
    year, month = anchor.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(anchor.day, calendar.monthrange(year, month)[1]))


def compute_periods(
    start_date: dt.date, end_date: dt.date, kind: PeriodKind, planned_seconds: int
) -> list[Period]:
    """Every period from start to end; the last one is cut at the end date."""
    if end_date < start_date:
        raise ValueError("end_date is before start_date")
    if kind is PeriodKind.TERM:
        return [Period(start_date, end_date, planned_seconds)]
    step = MONTHS_PER_PERIOD[kind]
    periods: list[Period] = []
    index = 0
    while (start := add_months(start_date, index * step)) <= end_date:
        next_start = add_months(start_date, (index + 1) * step)
        periods.append(
            Period(start, min(next_start - dt.timedelta(days=1), end_date), planned_seconds)
        )
        index += 1
    return periods
