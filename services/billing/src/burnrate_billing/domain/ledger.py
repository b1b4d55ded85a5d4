"""Rollover: what happens to the allowance hours a period leaves unused. Pure.

The hours rolled over form *lots*, one per period that earned them; a period's allowance is
its planned hours plus the lots still valid in it, minus debt carried as hours. Work uses
the oldest lot first (it expires first), then the period's own planned hours; planned
hours left unused become the period's new lot, by the contract's rollover policy:

==============  ===========================================================================
policy          effect
==============  ===========================================================================
none            nothing carries over; unused hours are paid but not delivered
next_period     the unused hours are usable in the next period only
capped          the unused hours carry over, but the hours banked never exceed
                ``cap_hours`` (the new lot is trimmed to fit)
expiring        any policy with ``expires_after_periods = k``: a lot is usable in the k
                periods after the one that earned it (``next_period`` is ``k = 1``;
                ``capped`` without it never expires)
==============  ===========================================================================

Lots that reach their expiry unused are *expired*: paid but not delivered, like the
unused hours of a period without rollover.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from burnrate_common.events import Rollover

HOUR = 3600


@dataclass(frozen=True)
class Lot:
    earned_in: dt.date
    seconds: int
    #: index of the last period (in the contract's order) it may be used in; None: never
    last_index: int | None


@dataclass(frozen=True)
class PeriodUse:
    start: dt.date
    planned_seconds: int
    #: seconds of the period's work that counted against the allowance so far is not
    #: known until rating: ``used`` is the billable seconds of the period's own work
    used_seconds: int
    debt_seconds: int = 0


@dataclass
class PeriodLedger:
    start: dt.date
    planned_seconds: int
    rollover_in_seconds: int
    debt_seconds: int
    allowance_seconds: int
    in_allowance_seconds: int = 0
    unused_planned_seconds: int = 0
    rollover_out_seconds: int = 0
    expired_seconds: int = 0
    #: the lots still banked after this period, oldest first
    banked: list[Lot] = field(default_factory=list)


def _lifetime(rollover: Rollover) -> int | None:
    if rollover.expires_after_periods is not None:
        return max(rollover.expires_after_periods, 0)
    return 1 if rollover.policy == "next_period" else None


def opening(banked: Sequence[Lot], index: int) -> list[Lot]:
    """The lots valid in period ``index``."""
    return [lot for lot in banked if lot.last_index is None or lot.last_index >= index]


def step(
    banked: Sequence[Lot],
    index: int,
    period: PeriodUse,
    rollover: Rollover,
) -> PeriodLedger:
    """Close period ``index`` given the lots banked before it and its use."""
    valid = opening(banked, index)
    rolled_in = sum(lot.seconds for lot in valid)
    allowance = max(period.planned_seconds + rolled_in - period.debt_seconds, 0)
    inside = min(period.used_seconds, allowance)
    ledger = PeriodLedger(
        period.start, period.planned_seconds, rolled_in, period.debt_seconds, allowance, inside
    )
    # Debt carried as hours eats the planned hours first; work uses the oldest lot first.
    left = inside
    remaining: list[Lot] = []
    for lot in sorted(valid, key=lambda lot: lot.earned_in):
        used = min(left, lot.seconds)
        left -= used
        if lot.seconds - used:
            remaining.append(Lot(lot.earned_in, lot.seconds - used, lot.last_index))
    planned_left = max(period.planned_seconds - period.debt_seconds - left, 0)
    ledger.unused_planned_seconds = planned_left
    expired = [lot for lot in remaining if lot.last_index is not None and lot.last_index <= index]
    ledger.expired_seconds = sum(lot.seconds for lot in expired)
    kept = [lot for lot in remaining if lot not in expired]
    new = 0
    if rollover.policy != "none" and planned_left > 0:
        new = planned_left
        if rollover.policy == "capped" and rollover.cap_hours is not None:
            room = int(rollover.cap_hours * HOUR) - sum(lot.seconds for lot in kept)
            new = max(min(new, room), 0)
    lifetime = _lifetime(rollover)
    if new and lifetime != 0:
        kept.append(Lot(period.start, new, None if lifetime is None else index + lifetime))
    else:
        new = 0
    ledger.rollover_out_seconds = new
    ledger.banked = kept
    return ledger


def paid_not_delivered(ledger: PeriodLedger, period_fee: Decimal) -> tuple[int, Decimal]:
    """Hours of the period fee not used and not carried over, with their value."""
    seconds = ledger.unused_planned_seconds - ledger.rollover_out_seconds
    if seconds <= 0 or ledger.planned_seconds <= 0:
        return 0, Decimal("0.00")
    value = (period_fee * seconds / ledger.planned_seconds).quantize(Decimal("0.01"))
    return seconds, value
