"""The forecast of executed hours, one definition for the contract screen, the delivery
report, its CSV and the pages. Integer seconds throughout.

The daily rate is that of the last three full periods (ended before today): their executed
seconds / their days. A period's forecast is what it has executed so far plus that rate for
its days after today (for a period still to come: the rate × its days). Without a full
period yet, the current period's own pace (executed so far / days elapsed, today included)
stands in; without either, nothing is added. :attr:`Forecast.basis` says which, and
:attr:`Forecast.description` says it in words for the pages.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

HISTORY_PERIODS = 3
AHEAD_PERIODS = 3


@dataclass(frozen=True)
class Actual:
    """One contract period with what was executed in it."""

    start_date: dt.date
    end_date: dt.date  # inclusive
    planned_seconds: int
    executed_seconds: int

    @property
    def days(self) -> int:
        return (self.end_date - self.start_date).days + 1

    def elapsed_days(self, today: dt.date) -> int:
        """Days of the period up to and including today (0 before it starts)."""
        return min(max((today - self.start_date).days + 1, 0), self.days)


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


class Basis(StrEnum):
    FULL_PERIODS = "mean_daily_rate_of_last_full_periods"
    CURRENT_RUN_RATE = "current_period_run_rate"
    NONE = "no_history"

    @property
    def label(self) -> str:
        """A few words for a table cell."""
        return {
            Basis.FULL_PERIODS: "rate of the last full periods",
            Basis.CURRENT_RUN_RATE: "pace so far (no full period yet)",
            Basis.NONE: "nothing executed yet",
        }[self]


@dataclass(frozen=True)
class ForecastPeriod:
    start_date: dt.date
    end_date: dt.date
    planned_seconds: int
    executed_seconds: int  # so far (0 for a period still to come)
    forecast_seconds: int
    current: bool

    @property
    def forecast_overage_seconds(self) -> int:
        return max(self.forecast_seconds - self.planned_seconds, 0)


@dataclass(frozen=True)
class Forecast:
    basis: Basis
    #: start dates of the periods the rate was taken from
    basis_periods: tuple[dt.date, ...]
    #: executed seconds per day the forecast assumes
    seconds_per_day: Decimal
    periods: tuple[ForecastPeriod, ...]

    @property
    def description(self) -> str:
        per_day = (self.seconds_per_day / 3600).quantize(Decimal("0.01"))
        if self.basis is Basis.FULL_PERIODS:
            n = len(self.basis_periods)
            first, last = self.basis_periods[0], self.basis_periods[-1]
            span = f"{first:%Y-%m-%d}" if n == 1 else f"{first:%Y-%m-%d} to {last:%Y-%m-%d}"
            return (
                f"Mean daily rate of the last {n} full period{'s' * (n != 1)} "
                f"(starting {span}): {per_day} h/day"
            )
        if self.basis is Basis.CURRENT_RUN_RATE:
            return f"No full period yet: the current period's pace so far, {per_day} h/day"
        return "No history yet: nothing executed to extrapolate from"


def forecast(
    periods: Sequence[Actual],
    today: dt.date,
    *,
    history: int = HISTORY_PERIODS,
    ahead: int = AHEAD_PERIODS,
) -> Forecast:
    """The current period (if today is in one) and the next ``ahead`` periods of the contract."""
    ordered = sorted(periods, key=lambda p: p.start_date)
    full = [p for p in ordered if p.end_date < today][-history:]
    current = next((p for p in ordered if p.start_date <= today <= p.end_date), None)
    if full:
        basis = Basis.FULL_PERIODS
        rate = Decimal(sum(p.executed_seconds for p in full)) / sum(p.days for p in full)
    elif current is not None:
        basis = Basis.CURRENT_RUN_RATE
        rate = Decimal(current.executed_seconds) / current.elapsed_days(today)
    else:
        basis, rate = Basis.NONE, Decimal(0)
    lines: list[ForecastPeriod] = []
    if current is not None:
        rest = current.days - current.elapsed_days(today)
        lines.append(
            ForecastPeriod(
                current.start_date,
                current.end_date,
                current.planned_seconds,
                current.executed_seconds,
                current.executed_seconds + _round(rate * rest),
                current=True,
            )
        )
    for p in [p for p in ordered if p.start_date > today][:ahead]:
        lines.append(
            ForecastPeriod(
                p.start_date,
                p.end_date,
                p.planned_seconds,
                p.executed_seconds,
                max(p.executed_seconds, _round(rate * p.days)),
                current=False,
            )
        )
    return Forecast(basis, tuple(p.start_date for p in full), rate, tuple(lines))


def current_period_forecast(
    periods: Sequence[Actual], today: dt.date
) -> tuple[ForecastPeriod, Forecast] | None:
    """The current period's line of :func:`forecast` (what the contract screen shows) and the
    forecast it belongs to (its basis); None when today is in no period. ``periods`` need
    only hold the current one and the last ``HISTORY_PERIODS`` ended before today."""
    result = forecast(periods, today, ahead=0)
    current = next((p for p in result.periods if p.current), None)
    return None if current is None else (current, result)
