"""Consumption deltas: what a create, correction or delete changes in the totals.

Totals are sums per (contract, period, team, activity, author, location), so every change
travels as a signed delta and the deltas of one request are summed per key before they are
published.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, order=True)
class ConsumptionKey:
    contract_id: uuid.UUID
    period_start: dt.date
    team: str
    activity: str
    #: the person who logged the time: reports split by person
    author: str
    #: where the work was done (None: not said): reports split by location
    location: str | None = None

    def order(self) -> tuple[Any, ...]:
        """The key's place in the published order (a location not said sorts first; None
        and text do not compare)."""
        return (
            self.contract_id,
            self.period_start,
            self.team,
            self.activity,
            self.author,
            self.location or "",
        )


@dataclass(frozen=True)
class Share:
    """What one live worklog adds to the totals."""

    key: ConsumptionKey
    period_end: dt.date
    seconds: int
    outside_dates: bool


@dataclass(frozen=True)
class Delta:
    key: ConsumptionKey
    period_end: dt.date
    seconds: int
    worklogs: int
    outside_dates_seconds: int


def change(before: Share | None, after: Share | None) -> list[Delta]:
    """The deltas of one worklog going from ``before`` to ``after`` (None: absent).

    A create is ``(None, s)``, a delete ``(s, None)``; a correction takes the old share off its
    key and puts the new one on its key, which nets out when the key stays the same.
    """
    return summed([(before, after)])


def summed(changes: Iterable[tuple[Share | None, Share | None]]) -> list[Delta]:
    """The deltas of many changes, one per key, in key order; zero sums are dropped."""
    sums: dict[ConsumptionKey, list[int]] = {}
    period_ends: dict[ConsumptionKey, dt.date] = {}
    for before, after in changes:
        for share, sign in ((before, -1), (after, +1)):
            if share is None:
                continue
            total = sums.setdefault(share.key, [0, 0, 0])
            total[0] += sign * share.seconds
            total[1] += sign
            total[2] += sign * share.seconds if share.outside_dates else 0
            # The later share carries the current period end (the same unless the contract's
            # periods were redrawn in between).
            period_ends[share.key] = share.period_end
    return [
        Delta(key, period_ends[key], seconds, worklogs, outside)
        for key, (seconds, worklogs, outside) in sorted(sums.items(), key=_by_key_order)
        if seconds or worklogs or outside
    ]


def _by_key_order(item: tuple[ConsumptionKey, Any]) -> tuple[Any, ...]:
    return item[0].order()
