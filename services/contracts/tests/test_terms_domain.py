"""The pure rules of billing terms and calendars: card + overrides resolution, shift overlap,
calendar validation, targets, iCalendar holidays, level versions."""

import datetime as dt
from decimal import Decimal

import pytest
from burnrate_common.contract_terms import RateRow, ShiftWindow, Target, WorkingHours
from burnrate_contracts.domain.calendars import (
    IcalInvalid,
    assignment_error,
    business_seconds_per_week,
    calendar_errors,
    parse_ical,
    target_errors,
)
from burnrate_contracts.domain.terms import (
    Override,
    ResolutionError,
    holiday_country_error,
    is_currency,
    resolve_rows,
    row_errors,
    shift_errors,
    unknown_shift_errors,
    week_intervals,
)

D = dt.date
T = dt.time


def row(id, amount="50", **kw):
    return RateRow(id=id, amount=Decimal(amount), **kw)


CARD = [
    row("all"),
    row("night", "1.5", shift="night", mode="multiply"),
    row("onsite", "60", activity="on-site repair"),
]

# --------------------------------------------------------------------------------------------
# resolution of a card and a contract's overrides


def test_card_rows_then_overrides_with_ids_saying_where_they_come_from():
    rows = resolve_rows(CARD, [Override(row("remote", "40", location="remote"))])
    assert [r.id for r in rows] == ["card:all", "card:night", "card:onsite", "contract:remote"]
    assert rows[3].location == "remote" and rows[0].amount == Decimal(50)


def test_an_override_takes_the_place_of_the_row_it_replaces():
    rows = resolve_rows(
        CARD, [Override(row("night2", "1.75", shift="night", mode="multiply"), "night")]
    )
    assert [r.id for r in rows] == ["card:all", "card:onsite", "contract:night2"]
    assert rows[-1].amount == Decimal("1.75")


def test_an_override_of_the_same_hours_must_name_the_row_it_replaces():
    with pytest.raises(ResolutionError) as info:
        resolve_rows(CARD, [Override(row("night2", "2", shift="night", mode="multiply"))])
    assert info.value.errors[0][0] == "0"
    assert "card row 'night'" in info.value.errors[0][1]


def test_an_override_on_other_dates_than_the_card_row_is_an_addition():
    later = row("night27", "2", shift="night", mode="multiply", effective_from=D(2027, 1, 1))
    dated_card = [row("night", "1.5", shift="night", mode="multiply", effective_to=D(2026, 12, 31))]
    rows = resolve_rows(dated_card, [Override(later)])
    assert [r.id for r in rows] == ["card:night", "contract:night27"]


def test_an_unknown_row_reference_is_named():
    with pytest.raises(ResolutionError) as info:
        resolve_rows(CARD, [Override(row("x", "1"), "nope")])
    field, message = info.value.errors[0]
    assert field == "0.replaces" and "no row 'nope'" in message and "night" in message


def test_without_a_card_an_override_has_nothing_to_replace():
    with pytest.raises(ResolutionError) as info:
        resolve_rows([], [Override(row("x", "1"), "all")])
    assert "no rate card" in info.value.errors[0][1]


def test_rows_of_one_list_have_unique_ids_and_price_each_hour_once():
    errors = row_errors([row("a"), row("a", activity="x"), row("b")])
    assert errors[0] == ("1.id", "row id 'a' is used by row 0 too")
    assert errors[1][0] == "2" and "same activity, location and shift as row 0" in errors[1][1]
    dated = [
        row("a", effective_to=D(2026, 6, 30)),
        row("b", effective_from=D(2026, 7, 1)),
        row("c", effective_from=D(2026, 6, 30), activity="x"),
    ]
    assert row_errors(dated) == []


def test_rows_naming_an_undefined_shift():
    shifts = [ShiftWindow(name="night", start=T(22), end=T(6))]
    assert unknown_shift_errors([row("a", shift="night"), row("b", shift="weekend")], shifts) == [
        ("1.shift", "no shift 'weekend' in the contract's shifts")
    ]


# --------------------------------------------------------------------------------------------
# shifts


def night(**kw):
    return ShiftWindow(name="night", start=T(22), end=T(6), **kw)


def test_a_night_window_runs_into_the_next_day_and_sunday_into_monday():
    assert week_intervals(night(weekdays=[1]))[0] == (22 * 3600, 30 * 3600)
    assert week_intervals(night(weekdays=[7])) == [
        (6 * 86400 + 22 * 3600, 7 * 86400),
        (0, 6 * 3600),
    ]


@pytest.mark.parametrize(
    ("shifts", "overlap"),
    [
        ([night(), ShiftWindow(name="evening", start=T(18), end=T(22))], False),
        ([night(), ShiftWindow(name="evening", start=T(18), end=T(23))], True),
        # Friday night runs to Saturday 06:00: an early Saturday window overlaps it
        ([night(), ShiftWindow(name="sat", weekdays=[6], start=T(5), end=T(9))], True),
        ([night(), ShiftWindow(name="sat", weekdays=[6], start=T(6), end=T(9))], False),
        # Sunday night into Monday morning
        (
            [night(weekdays=[7]), ShiftWindow(name="early", weekdays=[1], start=T(5), end=T(7))],
            True,
        ),
        # weekend and holiday are other dimensions than a window; billing orders them
        ([night(), ShiftWindow(name="weekend", kind="weekend")], False),
        ([ShiftWindow(name="we", kind="weekend"), ShiftWindow(name="we2", kind="weekend")], True),
    ],
)
def test_shift_windows_may_not_overlap(shifts, overlap):
    errors = shift_errors(shifts)
    assert bool(errors) is overlap
    if overlap:
        assert errors[0][0] == "1" and "overlaps shift" in errors[0][1]


@pytest.mark.parametrize(
    ("shift", "field"),
    [
        (ShiftWindow(name="x", start=T(8), end=T(8)), "0.end"),
        (ShiftWindow(name="x", start=T(8)), "0"),
        (ShiftWindow(name="x", start=T(8), end=T(9), weekdays=[]), "0.weekdays"),
        (ShiftWindow(name="x", start=T(8), end=T(9), weekdays=[0, 8]), "0.weekdays"),
        (ShiftWindow(name="x", start=T(8), end=T(9), weekdays=[1, 1]), "0.weekdays"),
        (ShiftWindow(name="x", kind="holiday", start=T(8)), "0"),
    ],
)
def test_a_malformed_shift_is_named(shift, field):
    assert shift_errors([shift])[0][0] == field


def test_two_shifts_with_one_name():
    errors = shift_errors([night(), night(weekdays=[6])])
    assert errors[0] == ("1.name", "shift 'night' is defined twice")


# --------------------------------------------------------------------------------------------
# currencies and holiday countries


def test_currencies_are_checked_against_iso_4217():
    assert is_currency("EUR") and is_currency("USD") and is_currency("JPY")
    assert not is_currency("ABC") and not is_currency("EUX")


def test_holiday_countries_and_subdivisions_the_holidays_package_knows():
    assert holiday_country_error("NL", None) is None
    assert holiday_country_error("DE", "BY") is None
    assert "unknown holiday country 'XX'" in (holiday_country_error("XX", None) or "")
    assert "unknown subdivision 'ZZ' of DE" in (holiday_country_error("DE", "ZZ") or "")
    assert holiday_country_error(None, "BY") == "a subdivision needs a holiday_country"


# --------------------------------------------------------------------------------------------
# calendars


def hours(*windows):
    return [WorkingHours(weekday=d, start=s, end=e) for d, s, e in windows]


def test_a_business_calendar_needs_hours_and_a_24x7_one_has_none():
    assert calendar_errors("business", [])[0][0] == "hours"
    assert calendar_errors("24x7", hours((1, T(8), T(18))))[0][0] == "hours"
    assert calendar_errors("24x7", []) == []


def test_split_days_are_allowed_overlapping_windows_are_not():
    split = hours((1, T(8), T(12)), (1, T(13), T(17)), (2, T(8), T(18)))
    assert calendar_errors("business", split) == []
    assert business_seconds_per_week(split) == 18 * 3600
    touching = hours((1, T(8), T(12)), (1, T(12), T(17)))
    assert calendar_errors("business", touching) == []
    overlapping = hours((1, T(8), T(12)), (1, T(11), T(17)))
    assert calendar_errors("business", overlapping) == [
        ("hours.1", "overlaps window 0 on weekday 1")
    ]


def test_a_window_ends_after_it_starts_and_midnight_ends_the_day():
    assert calendar_errors("business", hours((1, T(18), T(8)))) == [
        ("hours.0.end", "the window ends before it starts")
    ]
    assert calendar_errors("business", hours((1, T(18), T(0)))) == []
    assert business_seconds_per_week(hours((1, T(18), T(0)))) == 6 * 3600


# --------------------------------------------------------------------------------------------
# targets


def target(**kw):
    return Target(**{"metric": "resolution", "minutes": 60} | kw)


def test_targets_per_priority_and_per_category():
    assert target_errors([target(priority="P1"), target(category="e-mail outage")]) == []
    assert target_errors([])[0][0] == "targets"
    assert target_errors([target(priority="P1"), target(priority="P1", minutes=5)])[0][0] == (
        "targets.1"
    )
    assert target_errors([target(priority="P1", category="x")])[0][0] == "targets.0.priority"


def test_a_target_of_zero_minutes_is_refused_by_the_payload():
    with pytest.raises(ValueError):
        target(minutes=0)


# --------------------------------------------------------------------------------------------
# iCalendar


ICAL = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//MSP//Holidays//EN\r
BEGIN:VEVENT\r
UID:1@msp\r
DTSTART;VALUE=DATE:20261224\r
DTEND;VALUE=DATE:20261226\r
SUMMARY:Office closed\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:2@msp\r
DTSTART;VALUE=DATE:20260501\r
RRULE:FREQ=YEARLY;COUNT=3\r
SUMMARY:Company day\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:3@msp\r
DTSTART:20260302T090000Z\r
DTEND:20260302T100000Z\r
SUMMARY:Meeting\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_all_day_events_become_holidays_and_timed_ones_are_counted():
    parsed = parse_ical(ICAL)
    assert parsed.days == {
        D(2026, 5, 1): "Company day",
        D(2026, 12, 24): "Office closed",
        D(2026, 12, 25): "Office closed",
        D(2027, 5, 1): "Company day",
        D(2028, 5, 1): "Company day",
    }
    assert parsed.timed_events == 1


def test_not_an_icalendar_file():
    with pytest.raises(IcalInvalid):
        parse_ical(b"hello")


# --------------------------------------------------------------------------------------------
# a contract's level versions


@pytest.mark.parametrize(
    ("existing", "effective_from", "ok"),
    [
        ([], D(2026, 1, 1), True),  # the first may start in the past
        ([], D(2027, 1, 1), False),  # after the contract's end
        ([D(2026, 1, 1)], D(2026, 7, 1), True),
        ([D(2026, 1, 1)], D(2026, 6, 16), True),  # today
        ([D(2026, 1, 1)], D(2026, 6, 15), False),  # yesterday: tickets were opened then
        ([D(2026, 1, 1), D(2026, 9, 1)], D(2026, 8, 1), False),  # before the last version
        ([D(2026, 7, 1)], D(2026, 7, 1), False),
    ],
)
def test_level_versions_are_only_added(existing, effective_from, ok):
    error = assignment_error(existing, effective_from, D(2026, 6, 16), D(2026, 12, 31))
    assert (error is None) is ok
