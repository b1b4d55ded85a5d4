"""The pure parts added for the delivery report: expiring, forecasts, the period lines,
the signed customer links and the CSV cells."""

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from burnrate_common import report_links as links
from burnrate_common.contract_status import ContractStatus, days_left, derive_status
from burnrate_common.figures import Figures
from burnrate_reporting.api.exports import safe_cell as _safe
from burnrate_reporting.domain.forecast import (
    Actual,
    Basis,
    current_period_forecast,
    forecast,
)
from burnrate_reporting.domain.report import PeriodInput, PeriodState, period_lines, totals
from hypothesis import given
from hypothesis import strategies as st

D = dt.date
H = 3600
START, END = D(2026, 1, 1), D(2026, 12, 31)


# --- expiring ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "current", "status"),
    [
        (D(2026, 12, 1), Figures(40 * H, 0), ContractStatus.EXPIRING),  # ends in 30 days
        # Ends in 31 days: expiring within 31 (the shared rule; was "32 days left": active).
        (D(2026, 11, 30), Figures(40 * H, 0), ContractStatus.EXPIRING),
        (D(2026, 11, 29), Figures(40 * H, 0), ContractStatus.ACTIVE),  # ends in 32 days
        (D(2026, 12, 2), Figures(40 * H, 0), ContractStatus.EXPIRING),
        (D(2026, 12, 31), None, ContractStatus.EXPIRING),
        # Exhausted says more than expiring.
        (D(2026, 12, 20), Figures(40 * H, 40 * H), ContractStatus.EXHAUSTED),
        (D(2027, 1, 1), None, ContractStatus.EXPIRED),
    ],
)
def test_expiring_within_31_days(today, current, status):
    assert (
        derive_status(
            start_date=START,
            end_date=END,
            today=today,
            expiring_within_days=31,
            exhausted=current is not None and current.exhausted,
        )
        is status
    )


def test_a_window_of_0_is_the_last_day_only():
    # The shared rule: 0 days from the end is within a window of 0 (was: 0 turned it off).
    def status(today):
        return derive_status(start_date=START, end_date=END, today=today, expiring_within_days=0)

    assert status(D(2026, 12, 31)) is ContractStatus.EXPIRING
    assert status(D(2026, 12, 30)) is ContractStatus.ACTIVE


def test_days_left_counts_today():
    assert days_left(END, D(2026, 12, 31)) == 1
    assert days_left(END, D(2026, 12, 1)) == 31
    assert days_left(END, D(2027, 1, 5)) == 0
    assert days_left(END, D(2025, 12, 31)) == 366


# --- forecasts ----------------------------------------------------------------------------


def test_without_a_full_period_the_forecast_is_the_pace_so_far():
    march = Actual(D(2026, 3, 1), D(2026, 3, 31), 40 * H, 60 * H)
    mid = current_period_forecast([march], D(2026, 3, 15))
    assert mid is not None
    assert (mid[0].forecast_seconds, mid[1].basis) == (124 * H, Basis.CURRENT_RUN_RATE)
    end = current_period_forecast([march], D(2026, 3, 31))
    assert end is not None and end[0].forecast_seconds == 60 * H
    # Today in no period: no current forecast.
    assert current_period_forecast([march], D(2026, 4, 20)) is None
    assert current_period_forecast([march], D(2026, 2, 28)) is None


def test_the_screen_forecast_is_the_report_forecast():
    """One definition: the current line of the report's forecast, from the current period
    and the last full ones only (all the screen reads)."""
    for today in [D(2026, 1, 10), D(2026, 2, 14), D(2026, 3, 15), D(2026, 5, 31)]:
        report = next(p for p in forecast(MONTHS, today).periods if p.current)
        recent = [p for p in MONTHS if p.end_date < today][-3:]
        current = [p for p in MONTHS if p.start_date <= today <= p.end_date]
        screen = current_period_forecast(recent + current, today)
        assert screen is not None and screen[0] == report


MONTHS = [
    Actual(D(2026, 1, 1), D(2026, 1, 31), 40 * H, 30 * H),
    Actual(D(2026, 2, 1), D(2026, 2, 28), 40 * H, 50 * H),
    Actual(D(2026, 3, 1), D(2026, 3, 31), 40 * H, 20 * H),
    Actual(D(2026, 4, 1), D(2026, 4, 30), 40 * H, 0),
    Actual(D(2026, 5, 1), D(2026, 5, 31), 40 * H, 0),
    Actual(D(2026, 6, 1), D(2026, 6, 30), 40 * H, 0),
    Actual(D(2026, 7, 1), D(2026, 7, 31), 40 * H, 0),
]


def test_forecast_from_the_full_periods():
    result = forecast(MONTHS, D(2026, 3, 15))
    # Jan + Feb: 80 h in 59 days; the current period adds that rate for 16 more days.
    assert result.basis is Basis.FULL_PERIODS
    assert result.basis_periods == (D(2026, 1, 1), D(2026, 2, 1))
    assert result.seconds_per_day == Decimal(288_000) / 59
    assert [(p.start_date, p.forecast_seconds, p.current) for p in result.periods] == [
        (D(2026, 3, 1), 20 * H + 78_102, True),
        (D(2026, 4, 1), 146_441, False),
        (D(2026, 5, 1), 151_322, False),
        (D(2026, 6, 1), 146_441, False),
    ]
    assert result.periods[0].forecast_overage_seconds == 20 * H + 78_102 - 40 * H
    assert result.description == (
        "Mean daily rate of the last 2 full periods (starting 2026-01-01 to 2026-02-01): 1.36 h/day"
    )


def test_forecast_takes_the_last_three_full_periods_only():
    result = forecast(MONTHS, D(2026, 5, 10))
    assert result.basis_periods == (D(2026, 2, 1), D(2026, 3, 1), D(2026, 4, 1))


def test_forecast_without_history_uses_the_current_pace_then_nothing():
    first = forecast(MONTHS, D(2026, 1, 10))
    assert first.basis is Basis.CURRENT_RUN_RATE
    assert first.periods[0].forecast_seconds == 93 * H  # 30 h in 10 days, 31 days
    before = forecast(MONTHS, D(2025, 12, 1))
    assert before.basis is Basis.NONE
    assert [p.start_date for p in before.periods] == [D(2026, 1, 1), D(2026, 2, 1), D(2026, 3, 1)]
    after = forecast(MONTHS, D(2027, 1, 1))
    assert after.periods == ()


@given(st.integers(min_value=0, max_value=20 * H))
def test_a_steady_history_forecasts_itself(per_day):
    # Three 30-day periods at one daily rate forecast that rate for the 30-day ones to come.
    def month(n, executed):
        first = D(2026, 1, 1) + dt.timedelta(days=30 * n)
        return Actual(first, first + dt.timedelta(days=29), 0, executed)

    periods = [month(n, per_day * 30) for n in range(3)] + [month(n, 0) for n in (4, 5)]
    result = forecast(periods, D(2026, 4, 15))  # between the two groups: no current period
    assert result.basis is Basis.FULL_PERIODS
    assert [p.forecast_seconds for p in result.periods] == [per_day * 30, per_day * 30]


# --- period lines -----------------------------------------------------------------------


def test_period_lines_unused_only_when_ended_and_cumulative():
    inputs = [
        PeriodInput(D(2026, 1, 1), D(2026, 1, 31), 40 * H, 30 * H, 3, 0),
        PeriodInput(D(2026, 2, 1), D(2026, 2, 28), 40 * H, 50 * H, 5, H),
        PeriodInput(D(2026, 3, 1), D(2026, 3, 31), 40 * H, 20 * H, 2, 0),
        PeriodInput(D(2026, 4, 1), D(2026, 4, 30), 40 * H, 0, 0, 0),
    ]
    lines = period_lines(inputs, D(2026, 3, 15))
    assert [x.state for x in lines] == [
        PeriodState.CLOSED,
        PeriodState.CLOSED,
        PeriodState.CURRENT,
        PeriodState.FUTURE,
    ]
    assert [x.unused_seconds for x in lines] == [10 * H, 0, 0, 0]
    assert [x.cumulative_executed_seconds for x in lines] == [30 * H, 80 * H, 100 * H, 100 * H]
    assert totals(lines) == totals(lines[::-1])
    t = totals(lines)
    assert (t.overage_seconds, t.unused_seconds, t.worklogs, t.outside_dates_seconds) == (
        10 * H,
        10 * H,
        10,
        H,
    )


@given(st.lists(st.tuples(st.integers(0, 200 * H), st.integers(0, 200 * H)), max_size=24))
def test_burn_up_ends_at_the_totals(figures):
    inputs = [
        PeriodInput(
            D(2020, 1, 1) + dt.timedelta(days=31 * i),
            D(2020, 1, 30) + dt.timedelta(days=31 * i),
            p,
            e,
            0,
            0,
        )
        for i, (p, e) in enumerate(figures)
    ]
    lines = period_lines(inputs, D(2030, 1, 1))
    t = totals(lines)
    if lines:
        assert lines[-1].cumulative_planned_seconds == t.planned_seconds
        assert lines[-1].cumulative_executed_seconds == t.executed_seconds
    # Every period ended: executed + unused − overage = planned, period by period and in all.
    assert t.executed_seconds + t.unused_seconds - t.overage_seconds == t.planned_seconds


# --- customer links -----------------------------------------------------------------------

SECRET = b"s3cret"
NOW = dt.datetime(2026, 3, 15, 12, tzinfo=dt.UTC)


def test_a_link_opens_until_it_expires():
    customer = uuid.uuid4()
    token = links.sign(SECRET, customer, NOW + dt.timedelta(days=30))
    grant = links.verify(SECRET, token, NOW)
    assert grant == links.LinkGrant(customer, NOW + dt.timedelta(days=30))
    assert links.verify(SECRET, token, NOW + dt.timedelta(days=30, seconds=-1)) == grant
    with pytest.raises(links.InvalidLink, match="expired"):
        links.verify(SECRET, token, NOW + dt.timedelta(days=30))


def test_a_tampered_link_is_refused():
    customer, other = uuid.uuid4(), uuid.uuid4()
    token = links.sign(SECRET, customer, NOW + dt.timedelta(days=30))
    payload, signature = token.split(".")
    forged = links.sign(b"guess", other, NOW + dt.timedelta(days=30))
    for bad in [
        forged,
        f"{forged.split('.')[0]}.{signature}",  # another customer, the real signature
        f"{payload}.{signature[:5]}{'A' if signature[5] != 'A' else 'Q'}{signature[6:]}",
        payload,
        "",
        "a.b.c",
    ]:
        with pytest.raises(links.InvalidLink):
            links.verify(SECRET, bad, NOW)
    with pytest.raises(links.InvalidLink):
        links.verify(b"another secret", token, NOW)


# --- CSV cells ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("+1+2", "'+1+2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-2.50", "-2.50"),
        ("-x", "'-x"),
        ("servicedesk", "servicedesk"),
        ("", ""),
    ],
)
def test_csv_cells_never_run_as_formulas(cell, written):
    assert _safe(cell) == written
