"""Rating: splitting at shifts, midnight, holidays and DST; the rate card's precedence;
rounding; the allowance used in work order."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from decimal import Decimal

import pytest
from burnrate_billing.domain.rating import (
    PRECEDENCE,
    Calendar,
    RatingError,
    check_rows,
    check_shifts,
    price,
    rate_period,
    split,
)
from burnrate_common.contract_terms import BillingTerms, RateRow, Rounding, ShiftWindow
from hypothesis import given, settings
from hypothesis import strategies as st

from .terms import AMS, SCENARIO5, H, item, scenario5


def charged(lines):
    return [
        (line.charged_seconds / H, line.price.rate, line.price.row)
        for line in lines
        if line.charged_seconds
    ]


def test_scenario5_charges_1_3_2_hours_at_50_and_3_at_75():
    lines = rate_period(
        scenario5(), timezone="Europe/Amsterdam", terms=SCENARIO5, allowance_seconds=5 * H
    )
    assert charged(lines) == [
        (1, Decimal("50.00"), "all"),
        (3, Decimal("50.00"), "all"),
        (2, Decimal("50.00"), "all"),
        (3, Decimal("75.000"), "night"),
    ]
    assert sum(line.amount for line in lines) == Decimal("525.00")
    crossing = lines[1]
    assert (crossing.in_allowance_seconds, crossing.charged_seconds) == (2 * H, H)
    assert lines[-1].price.chain == ("all", "night")


def test_the_same_statement_whatever_the_arrival_order():
    items = scenario5()
    expected = rate_period(
        items, timezone="Europe/Amsterdam", terms=SCENARIO5, allowance_seconds=5 * H
    )
    for seed in range(5):
        shuffled = items[:]
        random.Random(seed).shuffle(shuffled)
        got = rate_period(
            shuffled, timezone="Europe/Amsterdam", terms=SCENARIO5, allowance_seconds=5 * H
        )
        assert [(g.line_id, g.charged_seconds, g.amount) for g in got] == [
            (e.line_id, e.charged_seconds, e.amount) for e in expected
        ]


def test_an_evening_worklog_is_split_at_the_night_shift():
    calendar = Calendar.of("Europe/Amsterdam", SCENARIO5)
    parts = split(item("2026-03-02T20:30", 3), calendar)
    assert [(p.seconds / H, p.shifts) for p in parts] == [(1.5, ()), (1.5, ("night",))]


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        # spring forward: 29 March 2026 02:00 → 03:00; 22:00 Sat → 06:00 Sun is 7 real hours
        (
            "2026-03-28T21:00",
            10,
            [(1, ()), (2, ("night",)), (2, ("night",)), (3, ("night",)), (2, ())],
        ),
        # fall back: 25 October 2026 03:00 → 02:00; 22:00 Sat → 06:00 Sun is 9 real hours
        (
            "2026-10-24T21:00",
            11,
            [(1, ()), (2, ("night",)), (3, ("night",)), (4, ("night",)), (1, ())],
        ),
    ],
)
def test_a_night_worklog_across_a_dst_change(start, hours, expected):
    calendar = Calendar.of("Europe/Amsterdam", SCENARIO5)
    parts = split(item(start, hours), calendar)
    assert [(p.seconds / H, p.shifts) for p in parts] == expected
    lines = rate_period(
        [item(start, hours)], timezone="Europe/Amsterdam", terms=SCENARIO5, allowance_seconds=0
    )
    night = sum(line.charged_seconds for line in lines if line.price.row == "night")
    assert night == (7 if start.startswith("2026-03") else 9) * H


def test_holidays_and_weekends_are_shifts_of_their_own():
    terms = BillingTerms(
        base_rate=Decimal(40),
        rows=[RateRow(id="holiday", shift="holiday", mode="multiply", amount=Decimal(2))],
        shifts=[
            ShiftWindow(name="holiday", kind="holiday"),
            ShiftWindow(name="weekend", kind="weekend"),
        ],
        holiday_country="NL",
        extra_holidays=[dt.date(2026, 3, 3)],
    )
    calendar = Calendar.of("Europe/Amsterdam", terms)
    # King's Day (27 April 2026, a Monday) 22:00 → 02:00 the next day
    parts = split(item("2026-04-27T22:00", 4), calendar)
    assert [(p.seconds / H, p.shifts) for p in parts] == [(2, ("holiday",)), (2, ())]
    assert calendar.shifts_at(item("2026-03-03T10:00", 1).started_at) == ("holiday",)
    assert calendar.shifts_at(item("2026-03-07T10:00", 1).started_at) == ("weekend",)
    lines = rate_period(
        [item("2026-04-27T22:00", 4)], timezone="Europe/Amsterdam", terms=terms, allowance_seconds=0
    )
    assert sum(line.amount for line in lines) == Decimal("240.00")


# --- the precedence table: one case per rank -------------------------------------------------

ROWS = [
    RateRow(id="r8", amount=Decimal(10)),
    RateRow(id="r7", location="site A", amount=Decimal(20)),
    RateRow(id="r6", activity="repair", amount=Decimal(30)),
    RateRow(id="r5", activity="repair", location="site A", amount=Decimal(40)),
    RateRow(id="r4", shift="night", mode="add", amount=Decimal(5)),
    RateRow(id="r3", shift="night", location="site A", mode="multiply", amount=Decimal(2)),
    RateRow(id="r2", shift="night", activity="repair", amount=Decimal(70)),
    RateRow(
        id="r1",
        shift="night",
        activity="repair",
        location="site A",
        mode="replace",
        amount=Decimal(80),
    ),
]
PRECEDENCE_TERMS = BillingTerms(
    base_rate=Decimal(1),
    rows=ROWS,
    shifts=[
        ShiftWindow(name="night", weekdays=[1, 2, 3, 4, 5, 6, 7], start=dt.time(22), end=dt.time(6))
    ],
)


@pytest.mark.parametrize(
    ("activity", "location", "night", "row", "rate", "rank"),
    [
        ("repair", "site A", True, "r1", Decimal(80), 1),
        ("repair", "site B", True, "r2", Decimal(70), 2),
        ("phone", "site A", True, "r3", Decimal(50), 3),  # ×2 on r4's 25 (+5 on r7's 20)
        ("phone", "site B", True, "r4", Decimal(15), 4),  # +5 on r8's 10
        ("repair", "site A", False, "r5", Decimal(40), 5),
        ("repair", "site B", False, "r6", Decimal(30), 6),
        ("phone", "site A", False, "r7", Decimal(20), 7),
        ("phone", "site B", False, "r8", Decimal(10), 8),
    ],
)
def test_the_most_specific_row_wins(activity, location, night, row, rate, rank):
    got = price(
        PRECEDENCE_TERMS,
        activity=activity,
        location=location,
        shifts=("night",) if night else (),
        day=dt.date(2026, 3, 2),
    )
    assert (got.row, got.rate, got.rank) == (row, rate, rank)
    assert (
        PRECEDENCE[
            (
                row in ("r1", "r2", "r3", "r4"),
                activity == "repair" and rank in (1, 2, 5, 6),
                location == "site A" and rank in (1, 3, 5, 7),
            )
        ]
        == rank
    )


def test_no_row_gives_the_base_rate_and_effective_dates_choose_rows():
    terms = BillingTerms(
        base_rate=Decimal(45),
        rows=[
            RateRow(id="old", amount=Decimal(50), effective_to=dt.date(2026, 3, 31)),
            RateRow(id="new", amount=Decimal(55), effective_from=dt.date(2026, 4, 1)),
            RateRow(
                id="repair",
                activity="repair",
                amount=Decimal(60),
                effective_from=dt.date(2027, 1, 1),
            ),
        ],
    )
    on = lambda day: price(terms, activity="repair", location=None, shifts=(), day=day)  # noqa: E731
    assert (on(dt.date(2026, 3, 31)).row, on(dt.date(2026, 4, 1)).row) == ("old", "new")
    empty = BillingTerms(base_rate=Decimal(45))
    base = price(empty, activity="x", location=None, shifts=(), day=dt.date(2026, 1, 1))
    assert (base.row, base.rate, base.rank) == (None, Decimal(45), 9)


def test_terms_that_cannot_be_applied_name_the_field():
    with pytest.raises(RatingError) as unknown:
        check_rows(BillingTerms(rows=[RateRow(id="x", shift="weekend", amount=Decimal(1))]))
    assert unknown.value.field == "billing.rows.0.shift"
    with pytest.raises(RatingError) as negative:
        check_rows(BillingTerms(rows=[RateRow(id="x", amount=Decimal(-1))]))
    assert negative.value.field == "billing.rows.0.amount"
    with pytest.raises(RatingError) as overlap:
        check_shifts(
            [
                ShiftWindow(name="night", start=dt.time(22), end=dt.time(6)),
                ShiftWindow(name="late", start=dt.time(20), end=dt.time(23)),
            ]
        )
    assert overlap.value.field == "billing.shifts.1"


@pytest.mark.parametrize(
    ("level", "expected_billable"),
    [
        ("worklog", [H, H, H]),  # each worklog to the 1 h minimum
        ("ticket", [20 * 60, 20 * 60, 20 * 60]),  # ticket 1: 60 min, on the increment
        ("day", [20 * 60, 40 * 60, H]),  # tech1's day: 40 → 60 min on its last worklog
    ],
)
def test_rounding_per_level_keeps_actual_and_billable_side_by_side(level, expected_billable):
    terms = BillingTerms(
        base_rate=Decimal(60),
        rounding=Rounding(increment_minutes=15, minimum_minutes=60, level=level),
    )
    items = [
        item("2026-03-02T09:00", 20 / 60, ticket="1"),
        item("2026-03-02T10:00", 20 / 60, ticket="1"),
        item("2026-03-02T11:00", 20 / 60, ticket="1", author="tech2"),
    ]
    lines = rate_period(items, timezone="Europe/Amsterdam", terms=terms, allowance_seconds=0)
    assert [line.actual_seconds for line in lines] == [20 * 60] * 3
    assert [line.billable_seconds for line in lines] == expected_billable


# --- property: any arrival order and any corrections → the surviving worklogs' statement ---

starts = st.integers(min_value=0, max_value=30 * 24 * 4 - 1).map(
    lambda q: dt.datetime(2026, 3, 1, tzinfo=AMS) + dt.timedelta(minutes=15 * q)
)


@st.composite
def histories(draw):
    """A set of worklogs with versions, and the events that carry them in any order."""
    count = draw(st.integers(min_value=1, max_value=8))
    events = []
    final = {}
    for n in range(count):
        worklog_id = uuid.UUID(int=n + 1)
        versions = draw(st.integers(min_value=1, max_value=3))
        state = None
        for version in range(1, versions + 1):
            deleted = version == versions and draw(st.booleans()) and versions > 1
            state = (
                worklog_id,
                version,
                draw(starts),
                draw(st.integers(min_value=1, max_value=6 * 4)) * 900,
                draw(st.sampled_from(["phone support", "on-site repair"])),
                deleted,
            )
            events.append(state)
        final[worklog_id] = state
    order = draw(st.permutations(events))
    return order, final


def replay(events):
    """The replica's rule (store.upsert_worklogs): a version replaces an older one only."""
    replica = {}
    for worklog_id, version, start, seconds, activity, deleted in events:
        held = replica.get(worklog_id)
        if held is None or held[1] < version:
            replica[worklog_id] = (worklog_id, version, start, seconds, activity, deleted)
    return replica


def to_items(states):
    return [
        item(
            "2026-03-01T00:00",
            1,
            worklog_id=worklog_id,
            activity=activity,
        ).__class__(
            id=worklog_id,
            started_at=start,
            seconds=seconds,
            author="tech",
            team="t",
            activity=activity,
            location=None,
            ticket=None,
        )
        for worklog_id, _, start, seconds, activity, deleted in states
        if not deleted
    ]


@settings(max_examples=150, deadline=None)
@given(histories(), st.integers(min_value=0, max_value=20))
def test_any_arrival_order_and_corrections_give_the_surviving_worklogs_statement(history, hours):
    events, final = history
    surviving = to_items(final.values())
    replica = to_items(replay(events).values())
    expected = rate_period(
        surviving, timezone="Europe/Amsterdam", terms=SCENARIO5, allowance_seconds=hours * H
    )
    got = rate_period(
        replica, timezone="Europe/Amsterdam", terms=SCENARIO5, allowance_seconds=hours * H
    )

    def view(lines):
        return [(x.line_id, x.in_allowance_seconds, x.charged_seconds, x.amount) for x in lines]

    assert view(got) == view(expected)
    assert sum(x.billable_seconds for x in got) == sum(i.seconds for i in surviving)
    assert sum(x.in_allowance_seconds for x in got) == min(
        hours * H, sum(i.seconds for i in surviving)
    )
