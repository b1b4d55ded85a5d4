"""Which stages of a rule are due for one contract period: the one entry point per trigger."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import assert_never

from burnrate_rules.domain import stages
from burnrate_rules.domain.rules import Trigger


@dataclass(frozen=True)
class RuleSpec:
    trigger: Trigger
    stages: tuple[int, ...]
    overage: bool


@dataclass(frozen=True)
class PeriodState:
    """What is known of one contract period when a rule is evaluated."""

    planned_seconds: int
    executed_seconds: int


def due_stages(rule: RuleSpec, period: PeriodState, fired: Collection[str]) -> list[str]:
    """Stages reached now and not fired yet in this period, lowest first."""
    match rule.trigger:
        case Trigger.PERCENT_CONSUMED:
            return stages.to_fire(
                period.planned_seconds, period.executed_seconds, rule.stages, rule.overage, fired
            )
        case _:
            assert_never(rule.trigger)
