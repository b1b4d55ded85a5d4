"""Rules a contract must satisfy, as plain functions over plain data.

The status a reader sees is ``burnrate_common.contract_status.derive_status`` (shared with
reporting); ``store.STATUS_SQL`` is its SQL twin for filtering.
"""

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


def hours_to_seconds(hours: Decimal) -> int:
    return int((hours * 3600).to_integral_value())


def local_today(now: dt.datetime, timezone: str) -> dt.date:
    """The calendar day ``now`` falls on in the contract's zone."""
    return now.astimezone(zoneinfo.ZoneInfo(timezone)).date()


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Field-by-field changes ``{field: {"from": old, "to": new}}`` of two JSON-ready states."""
    return {
        key: {"from": before.get(key), "to": after.get(key)}
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }
