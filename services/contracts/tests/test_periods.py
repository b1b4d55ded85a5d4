import datetime as dt
import itertools

import pytest
from burnrate_contracts.domain.periods import (
    PeriodKind,
    add_months,
    compute_periods,
    override_errors,
)
from hypothesis import given, settings
from hypothesis import strategies as st

D = dt.date


def test_monthly_periods_follow_calendar_months_from_the_first():
    periods = compute_periods(D(2026, 1, 1), D(2026, 12, 31), PeriodKind.MONTHLY, 144_000)
    assert len(periods) == 12
    assert periods[1].start_date == D(2026, 2, 1) and periods[1].end_date == D(2026, 2, 28)
    assert all(p.planned_seconds == 144_000 for p in periods)


def test_periods_are_anchored_on_the_start_date():
    periods = compute_periods(D(2026, 1, 15), D(2026, 4, 14), PeriodKind.MONTHLY, 1)
    assert [(p.start_date, p.end_date) for p in periods] == [
        (D(2026, 1, 15), D(2026, 2, 14)),
        (D(2026, 2, 15), D(2026, 3, 14)),
        (D(2026, 3, 15), D(2026, 4, 14)),
    ]


def test_anchor_on_the_31st_clamps_to_short_months_and_comes_back():
    assert add_months(D(2026, 1, 31), 1) == D(2026, 2, 28)
    assert add_months(D(2026, 1, 31), 2) == D(2026, 3, 31)
    assert add_months(D(2024, 1, 31), 1) == D(2024, 2, 29)


def test_last_period_is_cut_at_the_end_date():
    periods = compute_periods(D(2026, 1, 1), D(2026, 2, 10), PeriodKind.MONTHLY, 1)
    assert periods[-1] == periods[-1].__class__(D(2026, 2, 1), D(2026, 2, 10), 1)


@pytest.mark.parametrize(
    ("kind", "count"), [(PeriodKind.QUARTERLY, 4), (PeriodKind.YEARLY, 1), (PeriodKind.TERM, 1)]
)
def test_other_period_kinds(kind, count):
    periods = compute_periods(D(2026, 1, 1), D(2026, 12, 31), kind, 1)
    assert len(periods) == count
    assert periods[0].start_date == D(2026, 1, 1) and periods[-1].end_date == D(2026, 12, 31)


def test_periods_tile_the_contract_without_gaps():
    periods = compute_periods(D(2025, 3, 31), D(2027, 3, 30), PeriodKind.MONTHLY, 1)
    for before, after in itertools.pairwise(periods):
        assert after.start_date == before.end_date + dt.timedelta(days=1)


def test_end_before_start_is_refused():
    with pytest.raises(ValueError, match="before"):
        compute_periods(D(2026, 2, 1), D(2026, 1, 1), PeriodKind.MONTHLY, 1)


def test_a_period_cut_by_the_end_date_is_prorated_by_days_when_asked():
    # Anchored on the 15th: the last period, 15 Dec to 31 Dec, is 17 of 31 days.
    periods = compute_periods(
        D(2026, 1, 15), D(2026, 12, 31), PeriodKind.MONTHLY, 144_000, prorate=True
    )
    assert periods[0].planned_seconds == 144_000
    assert (periods[-1].start_date, periods[-1].end_date) == (D(2026, 12, 15), D(2026, 12, 31))
    assert periods[-1].planned_seconds == 144_000 * 17 // 31 == 78_967
    unprorated = compute_periods(D(2026, 1, 15), D(2026, 12, 31), PeriodKind.MONTHLY, 144_000)
    assert unprorated[-1].planned_seconds == 144_000


def test_whole_periods_and_the_term_are_never_prorated():
    periods = compute_periods(D(2026, 1, 1), D(2026, 12, 31), PeriodKind.QUARTERLY, 7, prorate=True)
    assert [p.planned_seconds for p in periods] == [7, 7, 7, 7]
    term = compute_periods(D(2026, 1, 1), D(2026, 2, 10), PeriodKind.TERM, 7, prorate=True)
    assert term == [term[0].__class__(D(2026, 1, 1), D(2026, 2, 10), 7)]


def test_an_override_replaces_the_plan_of_its_period_and_is_not_prorated():
    periods = compute_periods(
        D(2026, 1, 1),
        D(2026, 12, 20),
        PeriodKind.MONTHLY,
        144_000,
        prorate=True,
        overrides={D(2026, 12, 1): 72_000, D(2026, 3, 1): 0},
    )
    assert periods[-1].planned_seconds == 72_000
    assert periods[2].planned_seconds == 0
    assert periods[1].planned_seconds == 144_000


def test_override_errors_name_the_index_of_each_bad_start_date():
    errors = override_errors(
        D(2026, 1, 15),
        D(2026, 12, 31),
        PeriodKind.MONTHLY,
        [D(2026, 2, 15), D(2026, 3, 1), D(2027, 1, 15), D(2026, 2, 15), D(2026, 1, 1)],
    )
    assert errors == [
        (1, "2026-03-01 is not the start of a monthly period"),
        (2, "2027-01-15 is outside the contract (2026-01-15 to 2026-12-31)"),
        (3, "2026-02-15 is overridden twice"),
        (4, "2026-01-01 is outside the contract (2026-01-15 to 2026-12-31)"),
    ]


dates = st.dates(min_value=D(2000, 1, 1), max_value=D(2060, 12, 31))


@settings(max_examples=300, deadline=None)
@given(
    start=dates,
    length=st.integers(min_value=0, max_value=2000),
    kind=st.sampled_from(list(PeriodKind)),
    planned=st.integers(min_value=0, max_value=10_000 * 3600),
)
def test_periods_tile_the_term_and_prorating_never_exceeds_the_plan(start, length, kind, planned):
    end = start + dt.timedelta(days=length)
    full = compute_periods(start, end, kind, planned)
    cut = compute_periods(start, end, kind, planned, prorate=True)
    # no gap, no overlap, from the first day to the last
    assert full[0].start_date == start and full[-1].end_date == end
    for before, after in itertools.pairwise(full):
        assert after.start_date == before.end_date + dt.timedelta(days=1)
    assert [(p.start_date, p.end_date) for p in cut] == [(p.start_date, p.end_date) for p in full]
    # only the last period may be partial; pro-rating never plans more than the whole plan
    assert all(p.planned_seconds == planned for p in cut[:-1])
    assert 0 <= cut[-1].planned_seconds <= planned
    assert sum(p.planned_seconds for p in cut) <= sum(p.planned_seconds for p in full)
    # every period start is a valid override target, and nothing else inside is
    starts = [p.start_date for p in full]
    assert override_errors(start, end, kind, starts) == []
