"""Every trigger, the pure part: no I/O, exact seconds and local calendar days."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from burnrate_common.events import Trigger
from burnrate_rules.domain import triggers as tr
from burnrate_rules.domain.evaluation import RuleSpec, Situation, due, key_period, reached
from burnrate_rules.domain.rules import default_stages, stages_problem
from burnrate_rules.domain.stages import highest, rank
from hypothesis import given
from hypothesis import strategies as st

H = 3600
PLAN = 40 * H
AMS = "Europe/Amsterdam"
UTC = dt.UTC


def at(text):
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def situation(**overrides):
    values = dict(
        planned_seconds=PLAN,
        executed_seconds=0,
        period_start=dt.date(2026, 3, 1),
        period_end=dt.date(2026, 3, 31),
        contract_end=dt.date(2026, 12, 31),
        timezone=AMS,
        now=at("2026-03-16T12:00:00"),
    )
    return Situation(**(values | overrides))


# --- hours remaining -------------------------------------------------------------------


def test_hours_remaining_fires_at_exactly_x_hours_left():
    assert tr.hours_remaining(PLAN, 30 * H - 1, [10, 5]) == []
    assert tr.hours_remaining(PLAN, 30 * H, [10, 5]) == ["10h"]
    assert tr.hours_remaining(PLAN, 35 * H, [10, 5]) == ["10h", "5h"]


def test_hours_remaining_zero_means_used_up_and_overrun_still_counts():
    assert tr.hours_remaining(PLAN, 40 * H - 1, [0]) == []
    assert tr.hours_remaining(PLAN, 40 * H, [0]) == ["0h"]
    assert tr.hours_remaining(PLAN, 55 * H, [10, 0]) == ["10h", "0h"]


def test_hours_remaining_stays_quiet_before_anything_is_consumed():
    # A 5 h plan is "≤ 10 h remaining" from day one; that is no news until work is logged.
    assert tr.hours_remaining(5 * H, 0, [10]) == []
    assert tr.hours_remaining(5 * H, 60, [10]) == ["10h"]
    assert tr.hours_remaining(5 * H, -H, [10]) == []


# --- overage ---------------------------------------------------------------------------


def test_overage_is_strictly_above_plan():
    assert tr.overage(PLAN, PLAN, [0]) == []
    assert tr.overage(PLAN, PLAN + 1, [0]) == ["overage"]


def test_overage_stages_are_percent_above_plan():
    assert tr.overage(PLAN, 44 * H, [0, 10, 25]) == ["overage"]
    assert tr.overage(PLAN, 44 * H + 1, [0, 10, 25]) == ["overage", "overage+10"]
    assert tr.overage(PLAN, 50 * H + 1, [0, 10, 25]) == ["overage", "overage+10", "overage+25"]


def test_overage_with_nothing_planned():
    assert tr.overage(0, 1, [0, 10]) == ["overage", "overage+10"]
    assert tr.overage(0, 0, [0]) == []


# --- days before the end ---------------------------------------------------------------


def test_days_before_end_on_the_exact_days():
    end = dt.date(2026, 12, 31)
    assert tr.days_before_end(end, dt.date(2026, 11, 30), [30, 7]) == []
    assert tr.days_before_end(end, dt.date(2026, 12, 1), [30, 7]) == ["30d"]
    assert tr.days_before_end(end, dt.date(2026, 12, 24), [30, 7]) == ["30d", "7d"]
    assert tr.days_before_end(end, end, [30, 7, 0]) == ["30d", "7d", "0d"]


def test_days_before_end_never_after_the_end():
    end = dt.date(2026, 12, 31)
    assert tr.days_before_end(end, dt.date(2027, 1, 1), [30, 7, 0]) == []


def test_days_before_end_counts_in_the_contracts_zone():
    # 23:30 UTC on 23 December is already 24 December in Amsterdam: 7 days to go there.
    rule = RuleSpec(Trigger.DAYS_BEFORE_END, (30, 7))
    s = situation(now=at("2026-12-23T23:30:00"), period_start=dt.date(2026, 12, 1))
    assert s.today == dt.date(2026, 12, 24)
    decision = due(rule, s, {"30d"})
    assert decision is not None
    assert (decision.stages, decision.stage, decision.facts.days_before_end) == (("7d",), "7d", 7)
    in_utc = situation(now=at("2026-12-23T23:30:00"), timezone="UTC")
    assert due(rule, in_utc, {"30d"}) is None


def test_catching_up_several_day_stages_names_the_closest():
    rule = RuleSpec(Trigger.DAYS_BEFORE_END, (30, 7))
    decision = due(rule, situation(now=at("2026-12-27T10:00:00")), set())
    assert decision is not None
    assert (decision.stages, decision.stage) == (("30d", "7d"), "7d")


def test_days_before_end_is_keyed_on_the_final_period():
    final = dt.date(2026, 12, 1)
    assert key_period(Trigger.DAYS_BEFORE_END, dt.date(2026, 11, 1), final) == final
    assert key_period(Trigger.PERCENT_CONSUMED, dt.date(2026, 11, 1), final) == dt.date(2026, 11, 1)


# --- periods and forecasts -------------------------------------------------------------


def test_period_bounds_follow_daylight_saving_time():
    opens, closes = tr.period_bounds(dt.date(2026, 3, 1), dt.date(2026, 3, 31), AMS)
    assert (opens, closes) == (at("2026-02-28T23:00:00"), at("2026-03-31T22:00:00"))
    assert closes - opens == dt.timedelta(hours=743)
    opens, closes = tr.period_bounds(dt.date(2026, 10, 1), dt.date(2026, 10, 31), AMS)
    assert closes - opens == dt.timedelta(hours=745)
    opens, closes = tr.period_bounds(dt.date(2026, 2, 1), dt.date(2026, 2, 28), AMS)
    assert closes - opens == dt.timedelta(days=28)


def test_forecast_is_the_linear_burn_rate_to_the_end_of_the_period():
    # February in Amsterdam: 28 days. After exactly 7 days, 14 h logged: 56 h at the end.
    opens, closes = tr.period_bounds(dt.date(2026, 2, 1), dt.date(2026, 2, 28), AMS)
    now = opens + dt.timedelta(days=7)
    forecast = tr.forecast(PLAN, 14 * H, opens, closes, now, AMS)
    # 40 h at 2 h a day are used up 20 days in: the last hour is spent on 20 February.
    assert forecast == tr.Forecast(56 * H, dt.date(2026, 2, 20))
    assert tr.forecast_over_plan(PLAN, forecast, [100, 120, 150]) == ["100", "120"]


def test_forecast_exactly_on_plan_is_not_over_it():
    opens, closes = tr.period_bounds(dt.date(2026, 2, 1), dt.date(2026, 2, 28), AMS)
    forecast = tr.forecast(PLAN, 10 * H, opens, closes, opens + dt.timedelta(days=7), AMS)
    assert forecast is not None and forecast.seconds == PLAN
    assert tr.forecast_over_plan(PLAN, forecast, [100]) == []


def test_exhaustion_date_is_a_local_day():
    # 1 March 00:00 local is 28 February 23:00 UTC; 20 h in the first 24 h 15 min of a 40 h
    # plan runs out 48 h 30 min after the start: 3 March 00:30 local, still 2 March in UTC.
    opens, closes = tr.period_bounds(dt.date(2026, 3, 1), dt.date(2026, 3, 31), AMS)
    now = opens + dt.timedelta(hours=24, minutes=15)
    forecast = tr.forecast(PLAN, 20 * H, opens, closes, now, AMS)
    assert forecast is not None
    assert forecast.exhaustion_date == dt.date(2026, 3, 3)
    assert (opens + dt.timedelta(hours=48, minutes=30)).date() == dt.date(2026, 3, 2)
    assert forecast.seconds == 20 * H * 743 * 4 // 97


def test_an_exceeded_plan_ran_out_in_the_past():
    opens, closes = tr.period_bounds(dt.date(2026, 2, 1), dt.date(2026, 2, 28), AMS)
    forecast = tr.forecast(PLAN, 80 * H, opens, closes, opens + dt.timedelta(days=14), AMS)
    # Used up 7 days in, at midnight: the last hour was spent on 7 February.
    assert forecast == tr.Forecast(160 * H, dt.date(2026, 2, 7))


def test_no_forecast_outside_the_period_before_consumption_or_too_early():
    opens, closes = tr.period_bounds(dt.date(2026, 2, 1), dt.date(2026, 2, 28), AMS)
    assert tr.forecast(PLAN, 10 * H, opens, closes, opens - dt.timedelta(seconds=1), AMS) is None
    assert tr.forecast(PLAN, 10 * H, opens, closes, closes, AMS) is None
    assert tr.forecast(PLAN, 10 * H, opens, closes, opens, AMS) is None
    assert tr.forecast(PLAN, 0, opens, closes, opens + dt.timedelta(days=3), AMS) is None
    day_5 = opens + dt.timedelta(days=5)  # 5 of 28 days: 17.9 %
    assert tr.forecast(PLAN, 10 * H, opens, closes, day_5, AMS, min_elapsed_percent=20) is None
    day_6 = opens + dt.timedelta(days=5, hours=14, minutes=24)  # exactly 20 %
    assert tr.forecast(PLAN, 10 * H, opens, closes, day_6, AMS, min_elapsed_percent=20) == (
        tr.Forecast(50 * H, dt.date(2026, 2, 23))
    )


def test_forecast_facts_travel_with_the_decision():
    rule = RuleSpec(Trigger.FORECAST_OVER_PLAN, (100,))
    s = situation(
        period_start=dt.date(2026, 2, 1),
        period_end=dt.date(2026, 2, 28),
        executed_seconds=14 * H,
        now=at("2026-01-31T23:00:00") + dt.timedelta(days=7),
        forecast_min_elapsed_percent=20,
    )
    decision = due(rule, s, set())
    assert decision is not None
    assert (decision.stage, decision.trigger) == ("100", Trigger.FORECAST_OVER_PLAN)
    assert decision.facts.forecast_seconds == 56 * H
    assert decision.facts.forecast_exhaustion_date == dt.date(2026, 2, 20)
    assert due(rule, s, {"100"}) is None


# --- outside the dates, unused at the end ----------------------------------------------


def test_worklog_outside_dates_fires_once_anything_is_outside():
    assert tr.worklog_outside_dates(0) == []
    assert tr.worklog_outside_dates(1) == ["outside_dates"]
    rule = RuleSpec(Trigger.WORKLOG_OUTSIDE_DATES, (0,))
    decision = due(rule, situation(outside_dates_seconds=2 * H), set())
    assert decision is not None and decision.facts.outside_dates_seconds == 2 * H
    assert due(rule, situation(outside_dates_seconds=2 * H), {"outside_dates"}) is None


def test_period_unused_only_from_the_day_after_the_period():
    end = dt.date(2026, 1, 31)
    assert tr.period_unused(PLAN, 20 * H, end, end, [20, 50]) == []
    assert tr.period_unused(PLAN, 20 * H, end, dt.date(2026, 2, 1), [20, 50]) == ["20", "50"]
    assert tr.period_unused(PLAN, 20 * H + 1, end, dt.date(2026, 2, 1), [20, 50]) == ["20"]
    assert tr.period_unused(PLAN, 60 * H, end, dt.date(2026, 2, 1), [20]) == []
    assert tr.period_unused(0, 0, end, dt.date(2026, 2, 1), [20]) == []
    # Corrections below zero do not make more than everything unused.
    assert tr.unused_seconds(PLAN, -H) == PLAN


def test_period_unused_month_end_in_the_contracts_zone():
    rule = RuleSpec(Trigger.PERIOD_UNUSED, (25,))
    january = dict(
        period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 1, 31), executed_seconds=10 * H
    )
    # 22:59 UTC on 31 January is still January in Amsterdam; 23:00 is 1 February.
    assert due(rule, situation(now=at("2026-01-31T22:59:59"), **january), set()) is None
    decision = due(rule, situation(now=at("2026-01-31T23:00:00"), **january), set())
    assert decision is not None
    assert (decision.stage, decision.facts.unused_seconds) == ("25", 30 * H)


# --- stages, ranks and validation ------------------------------------------------------


def test_ranks_put_the_most_urgent_stage_highest():
    assert highest(["10h", "5h", "0h"]) == "0h"
    assert highest(["30d", "7d"]) == "7d"
    assert highest(["overage", "overage+10"]) == "overage+10"
    assert highest(["20", "50"]) == "50"
    assert rank("outside_dates") == (0, 0)


def test_percent_rule_with_overage_names_the_overage_trigger():
    rule = RuleSpec(Trigger.PERCENT_CONSUMED, (70, 90), overage=True)
    decision = due(rule, situation(executed_seconds=41 * H), {"70"})
    assert decision is not None
    assert (decision.stages, decision.stage, decision.trigger) == (
        ("90", "overage"),
        "overage",
        Trigger.OVERAGE,
    )


@pytest.mark.parametrize(
    ("trigger", "stages", "problem"),
    [
        (Trigger.HOURS_REMAINING, [5, 10], "strictly decreasing"),
        (Trigger.HOURS_REMAINING, [10, 10], "strictly decreasing"),
        (Trigger.HOURS_REMAINING, [-1], "between 0 and 100000"),
        (Trigger.DAYS_BEFORE_END, [7, 30], "strictly decreasing"),
        (Trigger.DAYS_BEFORE_END, [4000], "between 0 and 3660"),
        (Trigger.OVERAGE, [10, 0], "strictly increasing"),
        (Trigger.FORECAST_OVER_PLAN, [90], "between 100 and 1000"),
        (Trigger.WORKLOG_OUTSIDE_DATES, [1], "between 0 and 0"),
        (Trigger.PERIOD_UNUSED, [101], "between 1 and 100"),
        (Trigger.PERIOD_UNUSED, [], "at least one"),
    ],
)
def test_bad_stages_per_trigger(trigger, stages, problem):
    assert problem in stages_problem(trigger, stages)


def test_good_stages_and_defaults():
    assert stages_problem(Trigger.DAYS_BEFORE_END, [30, 7, 0]) is None
    assert stages_problem(Trigger.HOURS_REMAINING, [10, 0]) is None
    assert [default_stages(t) for t in Trigger] == [
        None,
        None,
        (0,),
        None,
        (100,),
        (0,),
        None,
        (0,),
        (0,),
        None,
        (100,),
    ]


# --- properties ------------------------------------------------------------------------

descending = st.lists(st.integers(0, 200), min_size=1, max_size=5, unique=True).map(
    lambda xs: sorted(xs, reverse=True)
)


@given(
    planned=st.integers(0, 200 * H),
    a=st.integers(-10 * H, 400 * H),
    b=st.integers(-10 * H, 400 * H),
    stages=descending,
)
def test_hours_remaining_grows_with_the_total(planned, a, b, stages):
    low, high = sorted((a, b))
    assert set(tr.hours_remaining(planned, low, stages)) <= set(
        tr.hours_remaining(planned, high, stages)
    )


@given(
    end=st.dates(dt.date(2026, 1, 1), dt.date(2028, 12, 31)),
    first=st.dates(dt.date(2025, 6, 1), dt.date(2029, 6, 1)),
    later=st.integers(0, 400),
    stages=descending,
)
def test_day_stages_once_reached_stay_reached_until_the_end(end, first, later, stages):
    second = first + dt.timedelta(days=later)
    early, late = tr.days_before_end(end, first, stages), tr.days_before_end(end, second, stages)
    if second <= end:
        assert set(early) <= set(late)
    else:
        assert late == []


@given(
    days=st.integers(1, 31 * 24 * 3600),
    executed=st.integers(1, 300 * H),
    planned=st.integers(1, 300 * H),
)
def test_forecast_never_below_what_is_executed_and_exhaustion_only_when_over(
    days, executed, planned
):
    opens, closes = tr.period_bounds(dt.date(2026, 10, 1), dt.date(2026, 10, 31), AMS)
    now = min(opens + dt.timedelta(seconds=days), closes - dt.timedelta(seconds=1))
    forecast = tr.forecast(planned, executed, opens, closes, now, AMS)
    assert forecast is not None
    assert forecast.seconds >= executed
    if forecast.exhaustion_date is not None:
        assert forecast.seconds >= planned
        assert dt.date(2026, 10, 1) <= forecast.exhaustion_date <= dt.date(2026, 10, 31)
    elif forecast.seconds > planned:
        raise AssertionError("over plan without an exhaustion date")


@given(st.datetimes(dt.datetime(2026, 1, 1), dt.datetime(2027, 12, 31)))
def test_today_is_the_local_calendar_day(naive):
    now = naive.replace(tzinfo=UTC)
    assert situation(now=now).today == now.astimezone(ZoneInfo(AMS)).date()


def test_reached_lists_each_trigger_in_firing_order():
    s = situation(executed_seconds=38 * H)
    assert reached(RuleSpec(Trigger.HOURS_REMAINING, (10, 5, 1)), s)[0] == ["10h", "5h"]
