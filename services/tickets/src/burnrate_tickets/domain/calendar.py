"""Business time in a service-level calendar.

A calendar is either round the clock (24×7: no working hours; holidays do not apply) or a
set of working windows per ISO weekday in an IANA time zone (a day may have several: a
split day), minus public holidays (a country, and subdivision, of the ``holidays``
package) and the MSP's own dates. Windows are local wall-clock times: 08:00–18:00 is ten
hours on a normal day and still 08:00–18:00 on the days the clocks change; the instants
are UTC. Overlapping windows of one day count once.

Everything here is exact (``timedelta`` arithmetic on instants): the business time of an
interval is the sum of the business time of any split of it.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import holidays as holidays_package
from burnrate_common.contract_terms import Calendar

UTC = dt.UTC
ZERO = dt.timedelta(0)
MINUTE = dt.timedelta(minutes=1)
#: How far :func:`add_business_time` looks for working time before it gives up: a
#: calendar with windows only on holidays would otherwise never reach its target.
HORIZON_DAYS = 3 * 366


class CalendarError(ValueError):
    """A calendar that cannot measure time (bad zone, a window that ends before it starts,
    a country the holidays package does not know, no working time within the horizon)."""


@dataclass(frozen=True)
class BusinessCalendar:
    """A calendar ready to measure: ``windows[weekday]`` are the merged ``(start, end)``
    local times of that ISO weekday (``end`` None: midnight, the end of the day)."""

    zone: ZoneInfo
    windows: dict[int, tuple[tuple[dt.time, dt.time | None], ...]] = field(default_factory=dict)
    country: str | None = None
    subdivision: str | None = None
    extra_holidays: frozenset[dt.date] = frozenset()

    @property
    def round_the_clock(self) -> bool:
        return not self.windows

    def is_holiday(self, day: dt.date) -> bool:
        if day in self.extra_holidays:
            return True
        if self.country is None:
            return False
        return day in _holidays(self.country, self.subdivision, day.year)

    def local_windows(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        """The working windows of one local day as UTC instants (none on a holiday)."""
        if self.is_holiday(day):
            return []
        result = []
        for start, end in self.windows.get(day.isoweekday(), ()):
            a = _instant(day, start, self.zone)
            b = (
                _instant(day + dt.timedelta(days=1), dt.time(0), self.zone)
                if end is None
                else _instant(day, end, self.zone)
            )
            if b > a:
                result.append((a, b))
        return result


ROUND_THE_CLOCK = BusinessCalendar(zone=ZoneInfo("UTC"))


def _instant(day: dt.date, time: dt.time, zone: ZoneInfo) -> dt.datetime:
    """The UTC instant of a local wall-clock time; a time the clocks skip (02:30 on the
    spring night) is read with the offset before the jump, a time they repeat is its first
    occurrence."""
    return dt.datetime.combine(day, time, tzinfo=zone).astimezone(UTC)


@functools.lru_cache(maxsize=256)
def _holidays(country: str, subdivision: str | None, year: int) -> frozenset[dt.date]:
    try:
        found = holidays_package.country_holidays(country, subdiv=subdivision, years=year)
    except NotImplementedError as exc:
        raise CalendarError(f"holidays of {country}/{subdivision or '-'} are not known") from exc
    return frozenset(found.keys())


def build(calendar: Calendar | None, *, round_the_clock: bool = False) -> BusinessCalendar:
    """The measuring calendar of a contract's :class:`Calendar` (None or ``round_the_clock``:
    24×7). Raises :class:`CalendarError` for a calendar that cannot measure."""
    if calendar is None or round_the_clock or not calendar.hours:
        return ROUND_THE_CLOCK
    try:
        zone = ZoneInfo(calendar.timezone)
    except (KeyError, ValueError) as exc:
        raise CalendarError(f"unknown time zone {calendar.timezone!r}") from exc
    by_day: dict[int, list[tuple[dt.time, dt.time | None]]] = {}
    for hours in calendar.hours:
        end: dt.time | None = None if hours.end == dt.time(0) else hours.end
        if end is not None and end <= hours.start:
            raise CalendarError(
                f"working hours on weekday {hours.weekday} end ({hours.end}) before they "
                f"start ({hours.start})"
            )
        by_day.setdefault(hours.weekday, []).append((hours.start, end))
    if calendar.holiday_country:
        _holidays(calendar.holiday_country, calendar.holiday_subdivision, 2000)
    return BusinessCalendar(
        zone=zone,
        windows={day: _merge(spans) for day, spans in by_day.items()},
        country=calendar.holiday_country,
        subdivision=calendar.holiday_subdivision,
        extra_holidays=frozenset(calendar.extra_holidays),
    )


def _merge(
    spans: list[tuple[dt.time, dt.time | None]],
) -> tuple[tuple[dt.time, dt.time | None], ...]:
    def end_key(end: dt.time | None) -> tuple[int, dt.time]:
        return (1, dt.time(0)) if end is None else (0, end)

    merged: list[tuple[dt.time, dt.time | None]] = []
    for start, end in sorted(spans, key=lambda s: s[0]):
        if merged and (merged[-1][1] is None or merged[-1][1] >= start):
            last_start, last_end = merged[-1]
            merged[-1] = (last_start, max(last_end, end, key=end_key))
        else:
            merged.append((start, end))
    return tuple(merged)


def open_intervals(
    start: dt.datetime, end: dt.datetime, calendar: BusinessCalendar
) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """The parts of ``[start, end)`` in working time, in order (UTC instants)."""
    if end <= start:
        return
    if calendar.round_the_clock:
        yield start, end
        return
    day = start.astimezone(calendar.zone).date() - dt.timedelta(days=1)
    last = end.astimezone(calendar.zone).date()
    while day <= last:
        for a, b in calendar.local_windows(day):
            lo, hi = max(a, start), min(b, end)
            if hi > lo:
                yield lo, hi
        day += dt.timedelta(days=1)


def business_time_between(
    a: dt.datetime, b: dt.datetime, calendar: BusinessCalendar
) -> dt.timedelta:
    """The working time in ``[a, b)`` (zero when ``b <= a``)."""
    return sum((hi - lo for lo, hi in open_intervals(a, b, calendar)), ZERO)


def business_minutes_between(a: dt.datetime, b: dt.datetime, calendar: BusinessCalendar) -> float:
    return business_time_between(a, b, calendar) / MINUTE


def add_business_time(
    start: dt.datetime, amount: dt.timedelta, calendar: BusinessCalendar
) -> dt.datetime:
    """The instant at which ``amount`` of working time has passed since ``start``: the end
    of the working time that completes it (Friday 17:55 + 10 min on 08:00–18:00 weekdays is
    Monday 08:05). ``amount`` zero: ``start`` itself."""
    if amount <= ZERO:
        return start
    if calendar.round_the_clock:
        return start + amount
    left = amount
    day = start.astimezone(calendar.zone).date() - dt.timedelta(days=1)
    for _ in range(HORIZON_DAYS):
        for a, b in calendar.local_windows(day):
            lo = max(a, start)
            if b <= lo:
                continue
            if b - lo >= left:
                return lo + left
            left -= b - lo
        day += dt.timedelta(days=1)
    raise CalendarError(f"no working time within {HORIZON_DAYS} days of {start.isoformat()}")


def add_business_minutes(
    start: dt.datetime, minutes: float, calendar: BusinessCalendar
) -> dt.datetime:
    """The due instant of a target of ``minutes`` of the calendar's time from ``start``."""
    return add_business_time(start, dt.timedelta(minutes=minutes), calendar)


def next_change(at: dt.datetime, calendar: BusinessCalendar) -> dt.datetime | None:
    """The next instant after ``at`` at which the calendar opens or closes (None: 24×7)."""
    if calendar.round_the_clock:
        return None
    day = at.astimezone(calendar.zone).date() - dt.timedelta(days=1)
    for _ in range(HORIZON_DAYS):
        for a, b in calendar.local_windows(day):
            for edge in (a, b):
                if edge > at:
                    return edge
        day += dt.timedelta(days=1)
    return None
