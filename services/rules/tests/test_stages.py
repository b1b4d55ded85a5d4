"""Stage crossing, the pure part: no I/O."""

from fractions import Fraction
from itertools import accumulate

import pytest
from burnrate_common.events import Trigger
from burnrate_rules.domain.rules import stages_problem
from burnrate_rules.domain.stages import (
    OVERAGE,
    alert_trigger,
    highest,
    percent_reached,
    reached,
    to_fire,
)
from hypothesis import given
from hypothesis import strategies as st

H = 3600
PLAN = 40 * H


def test_28_of_40_hours_is_exactly_70_percent():
    assert to_fire(PLAN, 28 * H, [70, 90], True, set()) == ["70"]
    assert to_fire(PLAN, 28 * H - 1, [70, 90], True, set()) == []


def test_36_hours_reaches_90_and_overage_needs_more_than_planned():
    assert reached(PLAN, 36 * H, [70, 90], True) == ["70", "90"]
    assert reached(PLAN, 40 * H, [70, 90], True) == ["70", "90"]
    assert reached(PLAN, 40 * H + 1, [70, 90], True) == ["70", "90", OVERAGE]
    assert reached(PLAN, 60 * H, [70, 90], False) == ["70", "90"]


def test_one_jump_from_65_to_95_percent_is_due_for_both_and_names_90():
    due = to_fire(PLAN, 38 * H, [70, 90], True, set())
    assert due == ["70", "90"]
    assert highest(due) == "90"


def test_fired_stages_never_come_back():
    assert to_fire(PLAN, 29 * H, [70, 90], True, {"70"}) == []
    assert to_fire(PLAN, 50 * H, [70, 90], True, {"70"}) == ["90", OVERAGE]


def test_overage_ranks_above_every_stage_and_stages_rank_as_numbers():
    assert highest(["70", OVERAGE, "1000"]) == OVERAGE
    assert highest(["90", "100", "9"]) == "100"


def test_stages_above_100_percent():
    assert to_fire(PLAN, 48 * H, [100, 120, 150], False, set()) == ["100", "120"]


def test_the_overage_stage_has_its_own_trigger():
    assert alert_trigger(Trigger.PERCENT_CONSUMED, "90") == "percent_consumed"
    assert alert_trigger(Trigger.PERCENT_CONSUMED, OVERAGE) == "overage"


def test_nothing_planned_any_consumption_reaches_everything_and_none_reaches_nothing():
    assert reached(0, 1, [70, 90], True) == ["70", "90", OVERAGE]
    assert reached(0, 0, [70, 90], True) == []


def test_a_negative_total_reaches_nothing():
    assert reached(PLAN, -H, [1], True) == []


@pytest.mark.parametrize(
    ("stages", "problem"),
    [
        ([], "at least one"),
        ([0, 50], "between 1 and 1000"),
        ([70, 1001], "between 1 and 1000"),
        ([90, 70], "strictly increasing"),
        ([70, 70], "strictly increasing"),
    ],
)
def test_bad_stages(stages, problem):
    assert problem in stages_problem(Trigger.PERCENT_CONSUMED, stages)


def test_good_stages():
    assert stages_problem(Trigger.PERCENT_CONSUMED, [1, 70, 90, 1000]) is None


stage_lists = st.lists(st.integers(1, 1000), min_size=1, max_size=6, unique=True).map(sorted)


@given(
    planned=st.integers(0, 500 * H),
    executed=st.integers(-10 * H, 1000 * H),
    percent=st.integers(1, 1000),
)
def test_percent_reached_is_the_exact_ratio(planned, executed, percent):
    exact = executed > 0 and (planned == 0 or Fraction(executed * 100, planned) >= percent)
    assert percent_reached(planned, executed, percent) == exact


@given(
    planned=st.integers(1, 500 * H),
    a=st.integers(-10 * H, 1000 * H),
    b=st.integers(-10 * H, 1000 * H),
    stages=stage_lists,
    overage=st.booleans(),
)
def test_reached_grows_with_the_total(planned, a, b, stages, overage):
    low, high = sorted((a, b))
    assert set(reached(planned, low, stages, overage)) <= set(
        reached(planned, high, stages, overage)
    )


@given(
    planned=st.integers(1, 200 * H),
    deltas=st.lists(st.integers(-20 * H, 40 * H), min_size=1, max_size=30),
    stages=stage_lists,
    overage=st.booleans(),
)
def test_fired_stages_depend_only_on_the_max_total_and_never_fire_twice(
    planned, deltas, stages, overage
):
    """Replay a period's deltas the way the handler does, one total after another."""
    fired: set[str] = set()
    alerts: list[str] = []
    for total in accumulate(deltas):
        due = to_fire(planned, total, stages, overage, fired)
        assert not set(due) & fired  # never twice
        assert set(due) <= set(reached(planned, total, stages, overage))
        if due:
            alerts.append(highest(due))
            assert all(highest([s, alerts[-1]]) == alerts[-1] for s in due)
        fired |= set(due)
    peak = max(accumulate(deltas))
    assert fired == set(reached(planned, peak, stages, overage))
    assert len(alerts) == len(set(alerts))  # one alert per stage at most
