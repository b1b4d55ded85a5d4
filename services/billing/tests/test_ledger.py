"""Scenario 7: unused hours roll over per the contract's policy (cap, expiry, oldest first)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from burnrate_billing.domain.ledger import PeriodUse, paid_not_delivered, step
from burnrate_common.events import Rollover

H = 3600
MONTHS = [dt.date(2026, m, 1) for m in range(1, 7)]


def run(rollover, planned, used):
    """Per period: (allowance, rolled in, rolled out, expired, banked) in hours."""
    banked, out = [], []
    for index, (p, u) in enumerate(zip(planned, used, strict=True)):
        ledger = step(banked, index, PeriodUse(MONTHS[index], p * H, u * H), rollover)
        banked = ledger.banked
        out.append(
            (
                ledger.allowance_seconds / H,
                ledger.rollover_in_seconds / H,
                ledger.rollover_out_seconds / H,
                ledger.expired_seconds / H,
                [(lot.earned_in.month, lot.seconds / H) for lot in banked],
            )
        )
    return out


def test_none_carries_nothing_and_the_rest_is_paid_not_delivered():
    got = run(Rollover(policy="none"), [10, 10], [4, 12])
    assert got == [(10, 0, 0, 0, []), (10, 0, 0, 0, [])]
    ledger = step([], 0, PeriodUse(MONTHS[0], 10 * H, 4 * H), Rollover())
    assert paid_not_delivered(ledger, Decimal("500.00")) == (6 * H, Decimal("300.00"))


def test_next_period_carries_into_the_next_period_only():
    got = run(Rollover(policy="next_period"), [10, 10, 10], [4, 3, 20])
    assert got == [
        (10, 0, 6, 0, [(1, 6)]),
        # 3 h used from January's lot (oldest first): its other 3 h expire; 10 h new
        (16, 6, 10, 3, [(2, 10)]),
        (20, 10, 0, 0, []),
    ]


def test_capped_never_banks_more_than_the_cap():
    got = run(Rollover(policy="capped", cap_hours=Decimal(8)), [10, 10, 10], [4, 5, 0])
    assert got == [
        (10, 0, 6, 0, [(1, 6)]),
        # 5 h used January's lot first (1 h left); 2 h more fit under the cap
        (16, 6, 7, 0, [(1, 1), (2, 7)]),
        (18, 8, 0, 0, [(1, 1), (2, 7)]),
    ]


@pytest.mark.parametrize("policy", ["next_period", "capped"])
def test_expiring_lots_are_used_oldest_first_and_expire_after_k_periods(policy):
    rollover = Rollover(policy=policy, expires_after_periods=2)
    got = run(rollover, [10, 10, 10, 10], [5, 8, 12, 0])
    assert got == [
        (10, 0, 5, 0, [(1, 5)]),
        (15, 5, 7, 0, [(2, 7)]),  # January's 5 used first, then 3 of February's own
        (17, 7, 5, 0, [(3, 5)]),  # February's 7 used first, then 5 of March's own
        (15, 5, 10, 0, [(3, 5), (4, 10)]),
    ]
    # March's lot is valid in April and May only
    assert run(rollover, [10, 10, 10], [10, 10, 5])[-1][-1] == [(3, 5)]
