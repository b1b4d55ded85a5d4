"""Stage names and their order, and stage crossing for the percent trigger.

A stage is named by a string: a percent stage by its number ("70"), hours remaining by
"10h", days before the end by "30d", the overage stage by ``"overage"`` (``"overage+10"``:
10 % above plan), a worklog outside the dates by ``"outside_dates"``, the allowance used
up by ``"allowance"``, a forecast over budget by ``"budget"``, a ticket's target at risk or
breached by its percent ("75", "100"). All arithmetic is on integer seconds, so 28 h of
40 h is exactly 70 %.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from burnrate_common.events import Trigger

OVERAGE = "overage"
OUTSIDE_DATES = "outside_dates"
#: the one stage of ``allowance_reached`` and of ``budget_exceeded_forecast``
ALLOWANCE = "allowance"
BUDGET = "budget"
#: The trigger an alert for the overage stage names (the rule's own trigger for the others).
OVERAGE_TRIGGER = Trigger.OVERAGE


def stage_name(trigger: Trigger, value: int) -> str:
    """The name of one configured stage of a rule."""
    match trigger:
        case Trigger.HOURS_REMAINING:
            return f"{value}h"
        case Trigger.DAYS_BEFORE_END:
            return f"{value}d"
        case Trigger.OVERAGE:
            return OVERAGE if value == 0 else f"{OVERAGE}+{value}"
        case Trigger.WORKLOG_OUTSIDE_DATES:
            return OUTSIDE_DATES
        case Trigger.ALLOWANCE_REACHED:
            return ALLOWANCE
        case Trigger.BUDGET_EXCEEDED_FORECAST:
            return BUDGET
        case _:
            return str(value)


def percent_reached(planned_seconds: int, executed_seconds: int, percent: int) -> bool:
    # executed > 0: with nothing planned, any consumption (but not none) reaches every stage.
    return executed_seconds > 0 and executed_seconds * 100 >= percent * planned_seconds


def reached(
    planned_seconds: int, executed_seconds: int, stages: Sequence[int], overage: bool
) -> list[str]:
    """Every percent stage reached at this total, lowest first."""
    keys = [str(s) for s in sorted(stages) if percent_reached(planned_seconds, executed_seconds, s)]
    if overage and executed_seconds > planned_seconds:
        keys.append(OVERAGE)
    return keys


def to_fire(
    planned_seconds: int,
    executed_seconds: int,
    stages: Sequence[int],
    overage: bool,
    fired: Collection[str],
) -> list[str]:
    """Stages reached now and not fired before in this period, lowest first.

    A stage once fired stays fired: a correction that drops below it and crosses it again
    returns nothing, because the caller passes it in ``fired``.
    """
    return [
        s for s in reached(planned_seconds, executed_seconds, stages, overage) if s not in fired
    ]


def rank(stage: str) -> tuple[int, int]:
    """Later-firing (more urgent) stages rank higher: 90 > 70, overage above every percent,
    "5h" > "10h" (less remaining), "7d" > "30d" (closer to the end)."""
    if stage == OVERAGE:
        return (1, 0)
    if stage.startswith(f"{OVERAGE}+"):
        return (1, int(stage.removeprefix(f"{OVERAGE}+")))
    if stage in (OUTSIDE_DATES, ALLOWANCE, BUDGET):
        return (0, 0)
    if stage[-1:] in ("h", "d"):
        return (0, -int(stage[:-1]))
    return (0, int(stage))


def highest(stages: Iterable[str]) -> str:
    """The stage an alert names when one change crosses several at once."""
    return max(stages, key=rank)


def alert_trigger(rule_trigger: Trigger, stage: str) -> Trigger:
    """A percent rule's overage stage is an overage alert; every other stage keeps its rule's."""
    return OVERAGE_TRIGGER if stage == OVERAGE else rule_trigger
