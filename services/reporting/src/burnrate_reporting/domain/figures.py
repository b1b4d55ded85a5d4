"""Planned versus executed for one contract period, in integer seconds."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

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
        """Executed / planned × 100, one decimal, half up; None for a period without a plan."""
        if self.planned_seconds <= 0:
            return None
        ratio = Decimal(self.executed_seconds) * 100 / Decimal(self.planned_seconds)
        return ratio.quantize(_ONE_DECIMAL, rounding=ROUND_HALF_UP)

    @property
    def exhausted(self) -> bool:
        return self.executed_seconds >= self.planned_seconds
