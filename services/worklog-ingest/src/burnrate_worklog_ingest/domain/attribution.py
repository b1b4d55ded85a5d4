"""Which contract and which period a worklog counts against, as plain functions.

A worklog belongs to the local calendar day of its start, in the *contract's* IANA time zone
(whatever the author's zone). Worklogs dated outside the contract are kept and counted: before
the start they go to the first period, after the end to the last, flagged ``outside_dates``.
"""

from __future__ import annotations

import bisect
import datetime as dt
import uuid
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum


def zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA zone ``name``; raises ValueError for an unknown one."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone '{name}'") from exc


def local_date(instant: dt.datetime, timezone: str) -> dt.date:
    """The calendar day ``instant`` falls on in ``timezone``."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("a naive datetime has no defined local date")
    return instant.astimezone(zone(timezone)).date()


@dataclass(frozen=True)
class Period:
    start_date: dt.date
    end_date: dt.date  # inclusive


@dataclass(frozen=True)
class ContractRoute:
    """What attribution needs to know of a contract (the routing replica's view)."""

    id: uuid.UUID
    timezone: str
    start_date: dt.date
    end_date: dt.date
    periods: tuple[Period, ...]

    def __post_init__(self) -> None:
        zone(self.timezone)
        if not self.periods:
            raise ValueError(f"contract {self.id} has no periods")
        if self.end_date < self.start_date:
            raise ValueError(f"contract {self.id} ends before it starts")
        starts = [p.start_date for p in self.periods]
        if starts != sorted(starts) or len(set(starts)) != len(starts):
            raise ValueError(f"contract {self.id} has unordered or repeated periods")

    def covers(self, day: dt.date) -> bool:
        return self.start_date <= day <= self.end_date


@dataclass(frozen=True)
class Attribution:
    contract_id: uuid.UUID
    period_start: dt.date
    period_end: dt.date
    outside_dates: bool


def attribute(contract: ContractRoute, started_at: dt.datetime) -> Attribution:
    """The period of ``contract`` a worklog starting at ``started_at`` counts against."""
    day = local_date(started_at, contract.timezone)
    periods = contract.periods
    if day < contract.start_date:
        period = periods[0]
    elif day > contract.end_date:
        period = periods[-1]
    else:
        # The last period starting on or before the day; periods tile the contract, and
        # should there be a gap the day still lands in the period before it.
        index = bisect.bisect_right([p.start_date for p in periods], day) - 1
        period = periods[max(index, 0)]
    return Attribution(
        contract_id=contract.id,
        period_start=period.start_date,
        period_end=period.end_date,
        outside_dates=not contract.covers(day),
    )


class Unroutable(StrEnum):
    """Why a worklog has no contract. Issue 3 keeps NO_CONTRACT_FOR_DATE ones as unattributed."""

    NO_ROUTE_GIVEN = "no_route_given"
    UNKNOWN_CONTRACT = "unknown_contract"
    NO_CONTRACT_FOR_DATE = "no_contract_for_date"
    AMBIGUOUS_WORK_ACCOUNT = "ambiguous_work_account"


@dataclass(frozen=True)
class RoutingError:
    reason: Unroutable
    field: str
    message: str


_NOT_YET = (
    "a contract created moments ago may not have reached worklog-ingest yet (eventual "
    "consistency); retry shortly"
)


def route(
    contract_id: uuid.UUID | None,
    work_account: str | None,
    started_at: dt.datetime,
    by_id: Mapping[uuid.UUID, ContractRoute],
    by_account: Mapping[str, Sequence[ContractRoute]],
) -> Attribution | RoutingError:
    """Attribute by explicit contract id, else by the work account's contract on that date.

    An explicit contract takes any date (outside its dates: flagged); a work account only
    routes to the contract whose dates hold the worklog's local date in that contract's zone.
    """
    if contract_id is not None:
        contract = by_id.get(contract_id)
        if contract is None:
            return RoutingError(
                Unroutable.UNKNOWN_CONTRACT,
                "contract_id",
                f"unknown contract {contract_id}: {_NOT_YET}",
            )
        return attribute(contract, started_at)
    if work_account is None:
        return RoutingError(
            Unroutable.NO_ROUTE_GIVEN, "contract_id", "give contract_id or work_account"
        )
    candidates = by_account.get(work_account, ())
    if not candidates:
        return RoutingError(
            Unroutable.UNKNOWN_CONTRACT,
            "work_account",
            f"work account '{work_account}' belongs to no known contract: {_NOT_YET}",
        )
    matches = [c for c in candidates if c.covers(local_date(started_at, c.timezone))]
    if not matches:
        return RoutingError(
            Unroutable.NO_CONTRACT_FOR_DATE,
            "work_account",
            f"work account '{work_account}' maps to no contract on the date of "
            f"{started_at.isoformat()}",
        )
    if len(matches) > 1:
        return RoutingError(
            Unroutable.AMBIGUOUS_WORK_ACCOUNT,
            "work_account",
            f"work account '{work_account}' maps to several contracts on that date",
        )
    return attribute(matches[0], started_at)
