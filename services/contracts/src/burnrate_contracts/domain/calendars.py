"""Calendars and service-level targets as plain functions over plain data.

A calendar is 24×7 (no working hours) or business hours: windows per ISO weekday (a day
may have several, e.g. 08:00–12:00 and 13:00–17:00), in a time zone, minus holidays (a
country's public holidays, the MSP's own dates and the all-day events of an iCalendar file).
Checks return ``(field, message)`` pairs, the field relative to what was checked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Literal

from burnrate_common.contract_terms import Target, WorkingHours
from icalendar import Calendar as ICalendar

Error = tuple[str, str]
CalendarKind = Literal["24x7", "business"]

#: The horizon a recurring all-day event (RRULE without an end) is expanded over.
RECURRENCE_YEARS = 10


def _end_seconds(window: WorkingHours) -> int:
    """The end of a window in seconds of its day; 00:00 is the end of the day."""
    end = window.end.hour * 3600 + window.end.minute * 60 + window.end.second
    return end or 86_400


def _start_seconds(window: WorkingHours) -> int:
    return window.start.hour * 3600 + window.start.minute * 60 + window.start.second


def calendar_errors(kind: CalendarKind, hours: Sequence[WorkingHours]) -> list[Error]:
    """A business calendar has at least one window; a 24×7 calendar has none; each window
    ends after it starts (an end of 00:00 is midnight); windows of one weekday do not overlap
    (split days are separate windows)."""
    if kind == "24x7":
        return [("hours", "a 24x7 calendar has no working hours")] if hours else []
    if not hours:
        return [("hours", "a business calendar needs working hours (it would never run)")]
    errors: list[Error] = []
    for index, window in enumerate(hours):
        if _end_seconds(window) <= _start_seconds(window):
            errors.append((f"hours.{index}.end", "the window ends before it starts"))
    if errors:
        return errors
    for (i, a), (j, b) in combinations(enumerate(hours), 2):
        if (
            a.weekday == b.weekday
            and _start_seconds(a) < _end_seconds(b)
            and _start_seconds(b) < _end_seconds(a)
        ):
            errors.append((f"hours.{j}", f"overlaps window {i} on weekday {a.weekday}"))
    return errors


def business_seconds_per_week(hours: Sequence[WorkingHours]) -> int:
    return sum(_end_seconds(w) - _start_seconds(w) for w in hours)


# ---------------------------------------------------------------------------------------------
# targets

PRIORITIES = ("P1", "P2", "P3", "P4")


def target_errors(targets: Sequence[Target]) -> list[Error]:
    """At least one target; one per metric and priority or category; a category target
    applies whatever the priority, so it names no priority."""
    if not targets:
        return [("targets", "a service level needs at least one target")]
    errors: list[Error] = []
    seen: dict[tuple[str, str | None, str | None], int] = {}
    for index, target in enumerate(targets):
        if target.category is not None and target.priority is not None:
            errors.append(
                (
                    f"targets.{index}.priority",
                    "a category target applies whatever the priority: leave priority empty",
                )
            )
        key = (target.metric, target.priority, target.category)
        if key in seen:
            errors.append(
                (f"targets.{index}", f"the same metric and priority/category as target {seen[key]}")
            )
        seen.setdefault(key, index)
    return errors


# ---------------------------------------------------------------------------------------------
# iCalendar


class IcalInvalid(ValueError):
    pass


@dataclass(frozen=True)
class IcalHolidays:
    #: every day an all-day event covers, with the event's summary
    days: dict[dt.date, str]
    #: events with a time of day (not whole days), left out
    timed_events: int


def parse_ical(data: bytes) -> IcalHolidays:
    """The days covered by the all-day events (``VALUE=DATE``) of an iCalendar file.

    A multi-day event covers ``DTSTART`` up to, not including, ``DTEND``; a yearly or other
    recurring event (``RRULE``) is expanded up to its end, or over ``RECURRENCE_YEARS``.
    Events with a time of day do not make a day a holiday and are counted, not used.
    """
    from dateutil.rrule import rrulestr

    try:
        calendar = ICalendar.from_ical(data)
    except (ValueError, IndexError, KeyError) as exc:
        raise IcalInvalid(f"not an iCalendar file: {exc}") from exc
    days: dict[dt.date, str] = {}
    timed = 0
    for event in calendar.walk("VEVENT"):
        start_prop = event.get("DTSTART")
        if start_prop is None:
            raise IcalInvalid("an event has no DTSTART")
        start = start_prop.dt
        if isinstance(start, dt.datetime):
            timed += 1
            continue
        end_prop = event.get("DTEND")
        end = end_prop.dt if end_prop is not None else start + dt.timedelta(days=1)
        if isinstance(end, dt.datetime):
            end = end.date()
        length = max((end - start).days, 1)
        summary = str(event.get("SUMMARY", "")) or "holiday"
        starts = [start]
        rule = event.get("RRULE")
        if rule is not None:
            begin = dt.datetime.combine(start, dt.time())
            try:
                recurrence = rrulestr(rule.to_ical().decode(), dtstart=begin)
            except (ValueError, TypeError) as exc:
                raise IcalInvalid(f"event '{summary}': bad RRULE: {exc}") from exc
            horizon = begin.replace(year=begin.year + RECURRENCE_YEARS)
            starts = [d.date() for d in recurrence.between(begin, horizon, inc=True)]
        for first in starts:
            for offset in range(length):
                days.setdefault(first + dt.timedelta(days=offset), summary)
    return IcalHolidays(days=dict(sorted(days.items())), timed_events=timed)


# ---------------------------------------------------------------------------------------------
# a contract's levels over time


def assignment_error(
    existing: Sequence[dt.date], effective_from: dt.date, today: dt.date, end_date: dt.date
) -> str | None:
    """Why a new level version from ``effective_from`` would rewrite history, or None.

    A contract's levels are only ever added: a new version starts after the last one and not
    before today (tickets already opened keep the level they were opened under), and before
    the contract ends. The first version may start on any date up to the end.
    """
    if effective_from > end_date:
        return f"{effective_from} is after the contract's end date {end_date}"
    if not existing:
        return None
    last = max(existing)
    if effective_from <= last:
        return f"a version from {last} exists: a new one starts after it (history is kept)"
    if effective_from < today:
        return f"{effective_from} is in the past (today is {today}): tickets opened then keep their level"
    return None
