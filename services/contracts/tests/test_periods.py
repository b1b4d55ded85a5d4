import datetime as dt
import itertools

import pytest
from burnrate_contracts.domain.periods import PeriodKind, add_months, compute_periods

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
