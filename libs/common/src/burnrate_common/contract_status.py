"""A contract's status, as every service shows it: the one definition.

The contracts service knows the lifecycle and the dates; reporting also knows whether the
current period is used up. Both call :func:`derive_status` (and mirror it in their SQL for
filtering, tested against it with the shared table of cases).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum


class ContractStatus(StrEnum):
    DRAFT = "draft"
    NOT_STARTED = "not_started"
    ACTIVE = "active"
    EXPIRING = "expiring"
    EXHAUSTED = "exhausted"
    EXPIRED = "expired"
    CLOSED = "closed"


def days_left(end_date: dt.date, today: dt.date) -> int:
    """Days of the contract still to come, today included (1 on the last day, 0 after it)."""
    return max((end_date - today).days + 1, 0)


def is_expiring(end_date: dt.date, today: dt.date, expiring_within_days: int) -> bool:
    """The end date is at most ``expiring_within_days`` days after ``today``: a contract
    ending exactly 30 days from today is expiring with the window of 30; with 0 only on its
    last day."""
    return 0 <= (end_date - today).days <= expiring_within_days


def derive_status(
    *,
    lifecycle: str = "active",
    start_date: dt.date,
    end_date: dt.date,
    today: dt.date,
    expiring_within_days: int,
    exhausted: bool = False,
) -> ContractStatus:
    """Lifecycle first (draft, closed), then the dates, then the current period (executed at
    or above plan: ``exhausted``, even near the end), then how close the end is. ``today``
    is the local date in the contract's time zone."""
    if lifecycle != "active":
        return ContractStatus(lifecycle)
    if today < start_date:
        return ContractStatus.NOT_STARTED
    if today > end_date:
        return ContractStatus.EXPIRED
    if exhausted:
        return ContractStatus.EXHAUSTED
    if is_expiring(end_date, today, expiring_within_days):
        return ContractStatus.EXPIRING
    return ContractStatus.ACTIVE
