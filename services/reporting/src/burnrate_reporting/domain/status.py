"""The status of a contract on the contract screen."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from burnrate_reporting.domain.figures import Figures


class ContractStatus(StrEnum):
    NOT_STARTED = "not_started"
    ACTIVE = "active"
    EXHAUSTED = "exhausted"
    EXPIRED = "expired"


def derive_status(
    start_date: dt.date, end_date: dt.date, today: dt.date, current: Figures | None
) -> ContractStatus:
    """Dates first, then the current period: executed at or above plan means exhausted.

    ``today`` is the local date in the contract's time zone. The SQL filter of the contract
    list (``store.STATUS_SQL``) states the same rule and must stay in step with this one.
    """
    if today < start_date:
        return ContractStatus.NOT_STARTED
    if today > end_date:
        return ContractStatus.EXPIRED
    if current is not None and current.exhausted:
        return ContractStatus.EXHAUSTED
    return ContractStatus.ACTIVE
