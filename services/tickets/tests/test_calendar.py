"""Business time in a calendar: working windows in a zone, split days, holidays, DST."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest
from burnrate_common.contract_terms import Calendar, WorkingHours
from burnrate_tickets.domain.calendar import (
    ROUND_THE_CLOCK,
    CalendarError,
    add_business_minutes,
    build,
    business_minutes_between,
    business_time_between,
)
from hypothesis import given, settings
from hypothesis import strategies as st

AMS = ZoneInfo("Europe/Amsterdam")


def office(**kwargs: object) -> Calendar:
    hours = [WorkingHours(weekday=d, start=dt.time(8), end=dt.time(18)) for d in range(1, 6)]
    return Calendar.model_validate(
        {"name": "office", "timezone": "Europe/Amsterdam", "hours": hours} | kwargs
    )


def ams(*args: int, fold: int = 0) -> dt.datetime:
    return dt.datetime(*args, tzinfo=AMS, fold=fold)  # type: ignore[misc,arg-type]


NL = build(office(holiday_country="NL"))
PLAIN = build(office())


def test_friday_evening_plus_thirty_business_hours_is_wednesday_evening() -> None:
    due = add_business_minutes(ams(2026, 3, 13, 17, 55), 30 * 60, NL)
    assert due == ams(2026, 3, 18, 17, 55)


def test_kings_day_in_between_moves_it_a_day() -> None:
    # Friday 24 April 2026; Monday 27 April is King's Day
    due = add_business_minutes(ams(2026, 4, 24, 17, 55), 30 * 60, NL)
    assert due == ams(2026, 4, 30, 17, 55)
    assert add_business_minutes(ams(2026, 4, 24, 17, 55), 30 * 60, PLAIN) == ams(
        2026, 4, 29, 17, 55
    )


def test_own_dates_are_holidays_too() -> None:
    own = build(office(extra_holidays=[dt.date(2026, 3, 16)]))
    assert add_business_minutes(ams(2026, 3, 13, 17, 55), 30 * 60, own) == ams(2026, 3, 19, 17, 55)


def test_round_the_clock_over_the_night_the_clocks_go_back() -> None:
    first = ams(2026, 10, 25, 2, 15, fold=0)
    second = ams(2026, 10, 25, 2, 15, fold=1)
    assert second.astimezone(dt.UTC) - first.astimezone(dt.UTC) == dt.timedelta(hours=1)
    due = add_business_minutes(first.astimezone(dt.UTC), 60, ROUND_THE_CLOCK)
    assert due == second.astimezone(dt.UTC)
    assert due.astimezone(AMS).fold == 1 and due.astimezone(AMS).hour == 2


def test_working_hours_are_wall_clock_hours_across_dst() -> None:
    # the Monday after each change still has ten business hours, 08:00 to 18:00 local
    for monday in (dt.date(2026, 3, 30), dt.date(2026, 10, 26)):
        start = dt.datetime.combine(monday, dt.time(0), tzinfo=AMS)
        assert business_minutes_between(start, start + dt.timedelta(days=1), NL) == 600
    assert add_business_minutes(ams(2026, 3, 27, 17, 0), 120, NL) == ams(2026, 3, 30, 9, 0)


def test_split_days_and_overlapping_windows() -> None:
    split = build(
        Calendar(
            timezone="Europe/Amsterdam",
            hours=[
                WorkingHours(weekday=1, start=dt.time(8), end=dt.time(12)),
                WorkingHours(weekday=1, start=dt.time(13), end=dt.time(17)),
                WorkingHours(weekday=1, start=dt.time(11), end=dt.time(12, 30)),
            ],
        )
    )
    monday = ams(2026, 3, 16, 0, 0)
    assert business_minutes_between(monday, monday + dt.timedelta(days=1), split) == 8.5 * 60
    assert add_business_minutes(ams(2026, 3, 16, 12, 0), 60, split) == ams(2026, 3, 16, 13, 30)


def test_a_window_to_midnight() -> None:
    late = build(
        Calendar(timezone="UTC", hours=[WorkingHours(weekday=1, start=dt.time(20), end=dt.time(0))])
    )
    start = dt.datetime(2026, 3, 16, 19, tzinfo=dt.UTC)
    assert add_business_minutes(start, 240, late) == dt.datetime(2026, 3, 17, 0, tzinfo=dt.UTC)


def test_calendars_that_cannot_measure() -> None:
    with pytest.raises(CalendarError, match="end"):
        build(
            Calendar(
                timezone="UTC", hours=[WorkingHours(weekday=1, start=dt.time(18), end=dt.time(8))]
            )
        )
    with pytest.raises(CalendarError, match="zone"):
        build(office(timezone="Mars/Olympus"))
    with pytest.raises(CalendarError, match="holidays"):
        build(office(holiday_country="XX"))


instants = st.datetimes(min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2027, 12, 31)).map(
    lambda d: d.replace(tzinfo=dt.UTC)
)


@settings(max_examples=200, deadline=None)
@given(
    a=instants,
    span=st.timedeltas(dt.timedelta(0), dt.timedelta(days=40)),
    cuts=st.lists(st.floats(0, 1), max_size=6),
)
def test_business_time_of_any_split_is_the_sum_of_its_parts(
    a: dt.datetime, span: dt.timedelta, cuts: list[float]
) -> None:
    b = a + span
    points = sorted(a + span * c for c in cuts)
    edges = [a, *points, b]
    for calendar in (NL, ROUND_THE_CLOCK):
        whole = business_time_between(a, b, calendar)
        parts = sum(
            (business_time_between(x, y, calendar) for x, y in itertools.pairwise(edges)),
            dt.timedelta(0),
        )
        assert parts == whole


@settings(max_examples=200, deadline=None)
@given(a=instants, minutes=st.integers(1, 20_000))
def test_adding_then_measuring_gives_the_minutes_back(a: dt.datetime, minutes: int) -> None:
    due = add_business_minutes(a, minutes, NL)
    assert business_minutes_between(a, due, NL) == minutes
