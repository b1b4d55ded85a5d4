"""Planned versus executed for one contract period, in integer seconds: the one definition
of remaining, overage and percent used that screens, reports and mails all show."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

_ONE_DECIMAL = Decimal("0.1")


@dataclass(frozen=True)
class Figures:
    planned_seconds: int
    executed_seconds: int

    @property
    def remaining_seconds(self) -> int:
        """What is left of the plan; never negative (the excess is the overage)."""
        return max(self.planned_seconds - self.executed_seconds, 0)

    @property
    def overage_seconds(self) -> int:
        return max(self.executed_seconds - self.planned_seconds, 0)

    @property
    def percent(self) -> Decimal | None:
        """Executed / planned × 100 with one decimal, rounded down, so 89.99 % never reads as
        90 % (a stage at 90 % has not fired yet); None for a period without a plan."""
        if self.planned_seconds <= 0:
            return None
        ratio = Decimal(max(self.executed_seconds, 0)) * 100 / Decimal(self.planned_seconds)
        return ratio.quantize(_ONE_DECIMAL, rounding=ROUND_FLOOR)

    @property
    def exhausted(self) -> bool:
        return self.executed_seconds >= self.planned_seconds
