"""Contract periods: windows anchored on the contract's start date, in local calendar days.

The planned seconds of a period are, in this order of precedence: an explicit per-period
override; the contract's planned hours pro-rated by days when the period is cut short by the
end date and the contract asks for pro-rating; else the contract's planned hours.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping
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


def windows(
    start_date: dt.date, end_date: dt.date, kind: PeriodKind
) -> list[tuple[dt.date, dt.date, dt.date]]:
    """``(start, end, natural_end)`` of every period; ``end`` is cut at the contract's end date,
    ``natural_end`` is where the period would end without the cut."""
    if end_date < start_date:
        raise ValueError("end_date is before start_date")
    if kind is PeriodKind.TERM:
        return [(start_date, end_date, end_date)]
    step = MONTHS_PER_PERIOD[kind]
    result: list[tuple[dt.date, dt.date, dt.date]] = []
    index = 0
    while (start := add_months(start_date, index * step)) <= end_date:
        natural_end = add_months(start_date, (index + 1) * step) - dt.timedelta(days=1)
        result.append((start, min(natural_end, end_date), natural_end))
        index += 1
    return result


def prorated(planned_seconds: int, days: int, full_days: int) -> int:
    """Planned seconds for ``days`` of a ``full_days`` period, rounded down (never above plan)."""
    return planned_seconds * days // full_days


def compute_periods(
    start_date: dt.date,
    end_date: dt.date,
    kind: PeriodKind,
    planned_seconds: int,
    *,
    prorate: bool = False,
    overrides: Mapping[dt.date, int] | None = None,
) -> list[Period]:
    """Every period from start to end; the last one is cut at the end date.

    With ``prorate`` a cut period plans ``planned × days / days of the whole period``.
    ``overrides`` maps a period's start date to its planned seconds (taken as is, not pro-rated).
    """
    overrides = overrides or {}
    periods: list[Period] = []
    for start, end, natural_end in windows(start_date, end_date, kind):
        if start in overrides:
            planned = overrides[start]
        elif prorate and end < natural_end:
            planned = prorated(
                planned_seconds, (end - start).days + 1, (natural_end - start).days + 1
            )
        else:
            planned = planned_seconds
        periods.append(Period(start, end, planned))
    return periods


def override_errors(
    start_date: dt.date, end_date: dt.date, kind: PeriodKind, override_starts: list[dt.date]
) -> list[tuple[int, str]]:
    """``(index, message)`` of every override that does not name a period start of the contract."""
    starts = {s for s, _, _ in windows(start_date, end_date, kind)}
    errors: list[tuple[int, str]] = []
    seen: set[dt.date] = set()
    for index, day in enumerate(override_starts):
        if day < start_date or day > end_date:
            errors.append((index, f"{day} is outside the contract ({start_date} to {end_date})"))
        elif day not in starts:
            errors.append((index, f"{day} is not the start of a {kind.value} period"))
        elif day in seen:
            errors.append((index, f"{day} is overridden twice"))
        seen.add(day)
    return errors
