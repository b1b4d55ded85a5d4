"""Rules a contract must satisfy, as plain functions over plain data."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Any


class Lifecycle(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    CLOSED = "closed"


class Status(StrEnum):
    """What a reader sees; ``exhausted`` needs consumption and is derived by reporting."""

    DRAFT = "draft"
    NOT_STARTED = "not_started"
    ACTIVE = "active"
    EXPIRING = "expiring"
    EXPIRED = "expired"
    CLOSED = "closed"


#: action → (lifecycles it may start from, lifecycle it leads to)
TRANSITIONS: dict[str, tuple[frozenset[Lifecycle], Lifecycle]] = {
    "activate": (frozenset({Lifecycle.DRAFT}), Lifecycle.ACTIVE),
    "close": (frozenset({Lifecycle.DRAFT, Lifecycle.ACTIVE}), Lifecycle.CLOSED),
}


class TransitionRefused(ValueError):
    pass


def transition(current: Lifecycle, action: str) -> Lifecycle:
    sources, target = TRANSITIONS[action]
    if current not in sources:
        allowed = ", ".join(sorted(s.value for s in sources))
        raise TransitionRefused(
            f"cannot {action} a contract that is {current.value} (only {allowed})"
        )
    return target


def is_valid_timezone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def hours_to_seconds(hours: Decimal) -> int:
    return int((hours * 3600).to_integral_value())


def local_today(now: dt.datetime, timezone: str) -> dt.date:
    """The calendar day ``now`` falls on in the contract's zone."""
    return now.astimezone(zoneinfo.ZoneInfo(timezone)).date()


def derive_status(
    lifecycle: Lifecycle | str,
    start_date: dt.date,
    end_date: dt.date,
    today: dt.date,
    expiring_within_days: int,
) -> Status:
    """Status from the lifecycle and the dates (``today`` in the contract's zone).

    ``expiring``: the end date is at most ``expiring_within_days`` days away. Mirrored in SQL
    by ``store.STATUS_SQL`` for filtering; the two are tested against each other.
    """
    if lifecycle != Lifecycle.ACTIVE:
        return Status(str(lifecycle))
    if today < start_date:
        return Status.NOT_STARTED
    if today > end_date:
        return Status.EXPIRED
    if (end_date - today).days <= expiring_within_days:
        return Status.EXPIRING
    return Status.ACTIVE


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Field-by-field changes ``{field: {"from": old, "to": new}}`` of two JSON-ready states."""
    return {
        key: {"from": before.get(key), "to": after.get(key)}
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }
