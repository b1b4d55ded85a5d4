"""The status of a contract on the contract screen."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from burnrate_reporting.domain.figures import Figures


class ContractStatus(StrEnum):
    NOT_STARTED = "not_started"
    ACTIVE = "active"
    EXPIRING = "expiring"
    EXHAUSTED = "exhausted"
    EXPIRED = "expired"


def days_left(end_date: dt.date, today: dt.date) -> int:
    """Days of the contract still to come, today included (1 on the last day, 0 after it)."""
    return max((end_date - today).days + 1, 0)


def derive_status(
    start_date: dt.date,
    end_date: dt.date,
    today: dt.date,
    current: Figures | None,
    expiring_within_days: int = 0,
) -> ContractStatus:
    """Dates first, then the current period, then how close the end is.

    Executed at or above plan means exhausted (even near the end); an active contract with
    at most ``expiring_within_days`` days left (today included) is expiring; 0 turns that
    off. ``today`` is the local date in the contract's time zone. The SQL of the contract
    list (``store.STATUS_SQL``) states the same rule and must stay in step with this one.
    """
    if today < start_date:
        return ContractStatus.NOT_STARTED
    if today > end_date:
        return ContractStatus.EXPIRED
    if current is not None and current.exhausted:
        return ContractStatus.EXHAUSTED
    if days_left(end_date, today) <= expiring_within_days:
        return ContractStatus.EXPIRING
    return ContractStatus.ACTIVE
