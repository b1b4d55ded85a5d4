"""What a notification rule is, and what makes one valid.

Each trigger reads its stages in its own unit and wants them in the order they fire: percents
rise (70, 90), hours and days remaining fall (10 h, 5 h; 30 days, 7 days).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from burnrate_common.events import Trigger

__all__ = ["STAGE_SPECS", "StageSpec", "Trigger", "default_stages", "stages_problem"]

#: kept for the percent trigger's callers of issue 2
MIN_STAGE = 1
MAX_STAGE = 1000


@dataclass(frozen=True)
class StageSpec:
    low: int
    high: int
    #: True: listed in rising order (percents); False: falling (hours or days remaining)
    rising: bool
    unit: str
    #: the stages a rule gets when it names none (None: stages are required)
    default: tuple[int, ...] | None = None


STAGE_SPECS: dict[Trigger, StageSpec] = {
    Trigger.PERCENT_CONSUMED: StageSpec(1, 1000, True, "percent of the planned hours consumed"),
    Trigger.HOURS_REMAINING: StageSpec(0, 100_000, False, "hours remaining in the period"),
    Trigger.OVERAGE: StageSpec(0, 1000, True, "percent above the planned hours", (0,)),
    Trigger.DAYS_BEFORE_END: StageSpec(0, 3660, False, "days before the contract's end date"),
    Trigger.FORECAST_OVER_PLAN: StageSpec(
        100, 1000, True, "percent of the planned hours forecast", (100,)
    ),
    Trigger.WORKLOG_OUTSIDE_DATES: StageSpec(0, 0, True, "one stage, 0", (0,)),
    Trigger.PERIOD_UNUSED: StageSpec(1, 100, True, "percent of the planned hours unused"),
    Trigger.ALLOWANCE_REACHED: StageSpec(0, 0, True, "one stage, 0", (0,)),
    Trigger.BUDGET_EXCEEDED_FORECAST: StageSpec(0, 0, True, "one stage, 0", (0,)),
    # The tickets service announces a ticket's target at the level's at-risk percents; a
    # stage is reached by an announcement at that percent or above (never by the breach).
    Trigger.SLA_AT_RISK: StageSpec(1, 99, True, "percent of a ticket's target elapsed"),
    Trigger.SLA_BREACHED: StageSpec(100, 100, True, "one stage, 100", (100,)),
}


def default_stages(trigger: Trigger) -> tuple[int, ...] | None:
    return STAGE_SPECS[trigger].default


def stages_problem(trigger: Trigger, stages: Sequence[int]) -> str | None:
    """Why these stages are not acceptable for this trigger, or None when they are."""
    spec = STAGE_SPECS[trigger]
    if not stages:
        return "give at least one stage"
    out_of_range = [s for s in stages if not spec.low <= s <= spec.high]
    if out_of_range:
        return (
            f"each stage of {trigger.value} ({spec.unit}) must be between "
            f"{spec.low} and {spec.high}: {out_of_range}"
        )
    if spec.rising and any(b <= a for a, b in itertools.pairwise(stages)):
        return "stages must be strictly increasing"
    if not spec.rising and any(b >= a for a, b in itertools.pairwise(stages)):
        return f"stages of {trigger.value} must be strictly decreasing (the order they fire in)"
    return None
