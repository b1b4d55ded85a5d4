"""One pure function per trigger: which of a rule's stages are reached, in firing order.

Stages passed here are valid for their trigger (see :mod:`burnrate_rules.domain.rules`).
Seconds are integers; dates are local calendar days in the contract's time zone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from burnrate_common.events import Trigger
from burnrate_common.figures import Figures

from burnrate_rules.domain import stages as st

HOUR = 3600


def percent_consumed(
    planned_seconds: int, executed_seconds: int, stages: Sequence[int], overage: bool = False
) -> list[str]:
    """≥ X % of the planned hours executed (and, with ``overage``, executed above plan)."""
    return st.reached(planned_seconds, executed_seconds, stages, overage)


def hours_remaining(
    planned_seconds: int, executed_seconds: int, stages: Sequence[int]
) -> list[str]:
    """≤ X hours of the plan left. Nothing fires before anything is consumed, so a plan
    smaller than a stage does not alert at the start of every period."""
    if executed_seconds <= 0:
        return []
    remaining = Figures(planned_seconds, executed_seconds).remaining_seconds
    return [st.stage_name(Trigger.HOURS_REMAINING, h) for h in stages if remaining <= h * HOUR]


def overage(planned_seconds: int, executed_seconds: int, stages: Sequence[int]) -> list[str]:
    """Executed strictly above plan, by more than X % of it (0: any second above plan)."""
    if executed_seconds <= 0:
        return []
    over = Figures(planned_seconds, executed_seconds).overage_seconds
    return [st.stage_name(Trigger.OVERAGE, p) for p in stages if over * 100 > planned_seconds * p]


def days_before_end(end_date: dt.date, today: dt.date, stages: Sequence[int]) -> list[str]:
    """≤ X days before the contract's end date (0: on the end date), never after it."""
    left = (end_date - today).days
    if left < 0:
        return []
    return [st.stage_name(Trigger.DAYS_BEFORE_END, d) for d in stages if left <= d]


def period_bounds(
    start_date: dt.date, end_date: dt.date, timezone: str
) -> tuple[dt.datetime, dt.datetime]:
    """The instants (UTC) a period opens and closes: local midnight of its first day and of
    the day after its last. A March in Amsterdam lasts 743 hours, an October 745."""
    zone = ZoneInfo(timezone)
    opens = dt.datetime.combine(start_date, dt.time(), zone).astimezone(dt.UTC)
    closes = dt.datetime.combine(end_date + dt.timedelta(days=1), dt.time(), zone)
    return opens, closes.astimezone(dt.UTC)


@dataclass(frozen=True)
class Forecast:
    #: executed seconds at the end of the period at the burn rate so far
    seconds: int
    #: the local day on which the plan is used up at that rate (None: not within the period)
    exhaustion_date: dt.date | None


def forecast(
    planned_seconds: int,
    executed_seconds: int,
    opens: dt.datetime,
    closes: dt.datetime,
    now: dt.datetime,
    timezone: str,
    min_elapsed_percent: int = 0,
) -> Forecast | None:
    """Linear burn rate over the elapsed part of the period, projected to its end.

    None outside the period, before anything is consumed, or while less than
    ``min_elapsed_percent`` of the period has passed (one busy first morning is no trend).
    """
    if executed_seconds <= 0 or not opens <= now < closes:
        return None
    # Whole microseconds, so the projection is exact integer arithmetic.
    elapsed = (now - opens) // dt.timedelta(microseconds=1)
    total = (closes - opens) // dt.timedelta(microseconds=1)
    if elapsed <= 0 or elapsed * 100 < min_elapsed_percent * total:
        return None
    projected = executed_seconds * total // elapsed
    exhaustion_date = None
    if executed_seconds * total >= planned_seconds * elapsed:
        # The plan is used up at opens + planned / rate (in the past when already exceeded);
        # its last second is spent on the local day just before that instant.
        used_up = -(-planned_seconds * elapsed // executed_seconds)
        at = opens + dt.timedelta(microseconds=max(used_up, 1) - 1)
        at = min(at, closes - dt.timedelta(microseconds=1))
        exhaustion_date = at.astimezone(ZoneInfo(timezone)).date()
    return Forecast(projected, exhaustion_date)


def forecast_over_plan(
    planned_seconds: int, projected: Forecast | None, stages: Sequence[int]
) -> list[str]:
    """The forecast ends strictly above X % of the plan (100: above plan)."""
    if projected is None:
        return []
    return [
        st.stage_name(Trigger.FORECAST_OVER_PLAN, p)
        for p in stages
        if projected.seconds * 100 > p * planned_seconds
    ]


def worklog_outside_dates(outside_dates_seconds: int) -> list[str]:
    """Time logged on days outside the contract's dates counts against this period."""
    return [st.OUTSIDE_DATES] if outside_dates_seconds > 0 else []


def unused_seconds(planned_seconds: int, executed_seconds: int) -> int:
    return max(planned_seconds - max(executed_seconds, 0), 0)


def period_unused(
    planned_seconds: int,
    executed_seconds: int,
    period_end: dt.date,
    today: dt.date,
    stages: Sequence[int],
) -> list[str]:
    """Once the period is over (from the day after its last day): ≥ X % of its plan unused."""
    if today <= period_end or planned_seconds <= 0:
        return []
    unused = unused_seconds(planned_seconds, executed_seconds)
    return [
        st.stage_name(Trigger.PERIOD_UNUSED, p)
        for p in stages
        if unused * 100 >= p * planned_seconds
    ]


def allowance_reached(
    allowance_seconds: int, in_allowance_seconds: int, charged_seconds: int
) -> list[str]:
    """The statement's allowance is used up and hours beyond it are charged (an allowance
    used up exactly, or a warn-only contract that charges nothing, is no news yet)."""
    if charged_seconds > 0 and in_allowance_seconds >= allowance_seconds:
        return [st.ALLOWANCE]
    return []


def budget_exceeded_forecast(forecast_amount: Decimal | None, budget: Decimal | None) -> list[str]:
    """The priced forecast of the period is strictly above the customer's budget."""
    if forecast_amount is None or budget is None or forecast_amount <= budget:
        return []
    return [st.BUDGET]


def sla_stages(stages: Sequence[int], percent: int) -> list[str]:
    """A ticket's target announced at ``percent`` elapsed reaches every stage at or below
    it: a stage passed over (the tickets service announces only the highest after a
    downtime) still fires, once, by the key."""
    return [str(p) for p in stages if p <= percent]
