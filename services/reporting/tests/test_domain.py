"""The pure parts of reporting: period selection, and the figures and contract status it
shows (the rules of ``burnrate_common``, as reporting calls them)."""

import datetime as dt
from decimal import Decimal

import pytest
from burnrate_common.contract_status import ContractStatus, derive_status
from burnrate_common.figures import Figures
from burnrate_reporting.domain.periods import (
    Month,
    Period,
    current_period,
    parse_period,
    select_period,
)

D = dt.date
H = 3600

MONTHLY = [
    Period(D(2026, 1, 1), D(2026, 1, 31), 40 * H),
    Period(D(2026, 2, 1), D(2026, 2, 28), 40 * H),
    Period(D(2026, 3, 1), D(2026, 3, 31), 40 * H),
]
# Anchored on the 15th: every period starts mid-month.
MID_MONTH = [
    Period(D(2026, 1, 15), D(2026, 2, 14), 10 * H),
    Period(D(2026, 2, 15), D(2026, 3, 14), 10 * H),
]
QUARTERLY = [
    Period(D(2026, 1, 1), D(2026, 3, 31), 120 * H),
    Period(D(2026, 4, 1), D(2026, 6, 30), 120 * H),
]


# --- parsing -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03", Month(2026, 3)),
        ("2026-12", Month(2026, 12)),
        (" 2026-03 ", Month(2026, 3)),
        ("2026-03-01", D(2026, 3, 1)),
        ("2024-02-29", D(2024, 2, 29)),
    ],
)
def test_parse_period_accepts_a_month_or_a_date(text, expected):
    assert parse_period(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2026",
        "2026-3",
        "2026-13",
        "2026-00",
        "0000-01",
        "2026-02-30",
        "2026-03-1",
        "March",
        "2026/03",
        "2026-03-01T00:00",
        "20260301",
    ],
)
def test_parse_period_refuses_anything_else(text):
    with pytest.raises(ValueError):
        parse_period(text)


# --- selection -----------------------------------------------------------------------


def test_a_month_selects_the_period_starting_in_it():
    assert select_period(MONTHLY, Month(2026, 2)) == MONTHLY[1]
    assert select_period(MID_MONTH, Month(2026, 2)) == MID_MONTH[1]
    assert select_period(MID_MONTH, Month(2026, 1)) == MID_MONTH[0]


def test_a_month_without_a_period_start_selects_the_period_covering_it():
    assert select_period(QUARTERLY, Month(2026, 2)) == QUARTERLY[0]
    assert select_period(QUARTERLY, Month(2026, 6)) == QUARTERLY[1]


def test_a_month_outside_the_contract_selects_nothing():
    assert select_period(MONTHLY, Month(2025, 12)) is None
    assert select_period(MONTHLY, Month(2026, 4)) is None
    # March holds only the tail of a period that started in February: not March's period.
    assert select_period(MID_MONTH, Month(2026, 3)) is None
    assert select_period(MID_MONTH, Month(2026, 4)) is None


def test_a_date_selects_only_the_period_starting_exactly_then():
    assert select_period(MONTHLY, D(2026, 3, 1)) == MONTHLY[2]
    assert select_period(MONTHLY, D(2026, 3, 2)) is None
    assert select_period(MID_MONTH, D(2026, 2, 15)) == MID_MONTH[1]


def test_current_period_contains_today_bounds_included():
    assert current_period(MONTHLY, D(2026, 2, 1)) == MONTHLY[1]
    assert current_period(MONTHLY, D(2026, 2, 28)) == MONTHLY[1]
    assert current_period(MONTHLY, D(2025, 12, 31)) is None
    assert current_period(MONTHLY, D(2026, 4, 1)) is None


# --- figures ---------------------------------------------------------------------------


def test_the_forty_hour_month_at_sixty_hours():
    figures = Figures(planned_seconds=40 * H, executed_seconds=60 * H)
    assert figures.remaining_seconds == 0
    assert figures.overage_seconds == 20 * H
    assert figures.percent == Decimal("150.0")
    assert figures.exhausted


def test_exactly_at_plan_is_exhausted_without_overage():
    figures = Figures(40 * H, 40 * H)
    assert (figures.remaining_seconds, figures.overage_seconds) == (0, 0)
    assert figures.percent == Decimal("100.0")
    assert figures.exhausted


def test_below_plan():
    figures = Figures(40 * H, 28 * H)
    assert figures.remaining_seconds == 12 * H
    assert figures.overage_seconds == 0
    assert figures.percent == Decimal("70.0")
    assert not figures.exhausted
    one_second_short = Figures(40 * H, 40 * H - 1)
    assert not one_second_short.exhausted and one_second_short.remaining_seconds == 1


@pytest.mark.parametrize(
    ("planned", "executed", "percent"),
    # 2 of 3 is 66.66…: 66.6 rounded down (the shared rule: 89.99 % never reads as 90 %).
    [(3, 1, "33.3"), (3, 2, "66.6"), (1000, 5, "0.5"), (2000, 1, "0.0"), (40, 0, "0.0")],
)
def test_percent_has_one_decimal_rounded_down(planned, executed, percent):
    assert Figures(planned, executed).percent == Decimal(percent)


def test_a_period_without_a_plan_has_no_percent():
    assert Figures(0, 0).percent is None
    assert Figures(0, 5).overage_seconds == 5


# --- status ----------------------------------------------------------------------------

START, END = D(2026, 1, 1), D(2026, 12, 31)


@pytest.mark.parametrize(
    ("today", "current", "status"),
    [
        (D(2025, 12, 31), None, ContractStatus.NOT_STARTED),
        (D(2026, 1, 1), Figures(40 * H, 0), ContractStatus.ACTIVE),
        (D(2026, 6, 1), Figures(40 * H, 40 * H - 1), ContractStatus.ACTIVE),
        (D(2026, 6, 1), Figures(40 * H, 40 * H), ContractStatus.EXHAUSTED),
        (D(2026, 6, 1), Figures(40 * H, 60 * H), ContractStatus.EXHAUSTED),
        (D(2026, 12, 31), Figures(40 * H, 41 * H), ContractStatus.EXHAUSTED),
        (D(2026, 6, 1), None, ContractStatus.ACTIVE),
        (D(2027, 1, 1), None, ContractStatus.EXPIRED),
        # The dates decide first: an over-consumed contract that ended is expired.
        (D(2027, 1, 1), Figures(40 * H, 60 * H), ContractStatus.EXPIRED),
    ],
)
def test_derive_status(today, current, status):
    assert (
        derive_status(
            start_date=START,
            end_date=END,
            today=today,
            expiring_within_days=0,
            exhausted=current is not None and current.exhausted,
        )
        is status
    )
