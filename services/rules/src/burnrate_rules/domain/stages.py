"""Stage crossing: which stages of a rule one contract period has reached and not fired yet.

A stage is named by a string: a percent stage by its number ("70"), the overage stage by
``"overage"``, which ranks above every percent stage. All arithmetic is on integer seconds,
so 28 h of 40 h is exactly 70 %.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from burnrate_rules.domain.rules import Trigger

OVERAGE = "overage"
#: The trigger an alert for the overage stage names (the rule's own trigger for the others).
OVERAGE_TRIGGER = "overage"


def percent_reached(planned_seconds: int, executed_seconds: int, percent: int) -> bool:
    # executed > 0: with nothing planned, any consumption (but not none) reaches every stage.
    return executed_seconds > 0 and executed_seconds * 100 >= percent * planned_seconds


def reached(
    planned_seconds: int, executed_seconds: int, stages: Sequence[int], overage: bool
) -> list[str]:
    """Every stage reached at this total, lowest first."""
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
    return (1, 0) if stage == OVERAGE else (0, int(stage))


def highest(stages: Iterable[str]) -> str:
    """The stage an alert names when one change crosses several at once."""
    return max(stages, key=rank)


def alert_trigger(rule_trigger: Trigger, stage: str) -> str:
    return OVERAGE_TRIGGER if stage == OVERAGE else rule_trigger.value
