"""Which period of a contract a report is about: a month, an exact start date, or today's."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Period:
    start_date: dt.date
    end_date: dt.date  # inclusive
    planned_seconds: int

    def contains(self, day: dt.date) -> bool:
        return self.start_date <= day <= self.end_date


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def last_day(self) -> dt.date:
        return dt.date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def __contains__(self, day: dt.date) -> bool:
        return (day.year, day.month) == (self.year, self.month)


#: ``YYYY-MM`` names a month, ``YYYY-MM-DD`` the exact start date of a period.
PeriodRef = Month | dt.date

_MONTH = re.compile(r"(\d{4})-(\d{2})")
_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def parse_period(text: str) -> PeriodRef:
    """``YYYY-MM`` → :class:`Month`, ``YYYY-MM-DD`` → date; anything else raises ValueError."""
    text = text.strip()
    if match := _MONTH.fullmatch(text):
        year, month = int(match[1]), int(match[2])
        if not 1 <= month <= 12 or year < 1:
            raise ValueError(f"'{text}' is not a month; expected YYYY-MM")
        return Month(year, month)
    if match := _DAY.fullmatch(text):
        try:
            return dt.date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            raise ValueError(f"'{text}' is not a calendar date; expected YYYY-MM-DD") from None
    raise ValueError(f"'{text}' is neither YYYY-MM nor YYYY-MM-DD")


def select_period(periods: Sequence[Period], ref: PeriodRef) -> Period | None:
    """The period a month or a start date names, or None when the contract has none there.

    A month names the period that starts in it; for quarterly or yearly contracts, whose
    periods do not start every month, it names the period spanning the whole month.
    """
    if isinstance(ref, Month):
        starting = [p for p in periods if p.start_date in ref]
        if starting:
            return min(starting, key=lambda p: p.start_date)
        return next(
            (p for p in periods if p.contains(ref.first_day) and p.contains(ref.last_day)), None
        )
    return next((p for p in periods if p.start_date == ref), None)


def current_period(periods: Sequence[Period], today: dt.date) -> Period | None:
    """The period containing ``today`` (a local date in the contract's zone), if any."""
    return next((p for p in periods if p.contains(today)), None)
