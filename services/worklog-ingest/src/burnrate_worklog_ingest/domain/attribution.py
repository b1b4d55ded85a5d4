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
from dataclasses import dataclass, field
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
    #: the teams working on the contract; empty: any team (for Jira project key routing)
    teams: frozenset[str] = frozenset()
    #: billing rates the contract's hours: every worklog of it is announced
    billed: bool = False
    _starts: tuple[dt.date, ...] = field(init=False, repr=False, compare=False)
    _zone: zoneinfo.ZoneInfo = field(init=False, repr=False, compare=False)
    # The attribution of each local day asked for: a batch of 10,000 worklogs of one
    # contract has a handful of days, so most are looked up here instead of computed.
    _by_day: dict[dt.date, Attribution] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        zone(self.timezone)
        if not self.periods:
            raise ValueError(f"contract {self.id} has no periods")
        if self.end_date < self.start_date:
            raise ValueError(f"contract {self.id} ends before it starts")
        starts = [p.start_date for p in self.periods]
        if starts != sorted(starts) or len(set(starts)) != len(starts):
            raise ValueError(f"contract {self.id} has unordered or repeated periods")
        object.__setattr__(self, "_starts", tuple(starts))
        object.__setattr__(self, "_zone", zone(self.timezone))

    def covers(self, day: dt.date) -> bool:
        return self.start_date <= day <= self.end_date

    def local_date(self, instant: dt.datetime) -> dt.date:
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise ValueError("a naive datetime has no defined local date")
        return instant.astimezone(self._zone).date()

    def period_of(self, day: dt.date) -> Period:
        if day < self.start_date:
            return self.periods[0]
        if day > self.end_date:
            return self.periods[-1]
        # The last period starting on or before the day; periods tile the contract, and
        # should there be a gap the day still lands in the period before it.
        index = bisect.bisect_right(self._starts, day) - 1
        return self.periods[max(index, 0)]

    def attribution_on(self, day: dt.date) -> Attribution:
        """The period a worklog of local ``day`` counts against (computed once per day)."""
        found = self._by_day.get(day)
        if found is None:
            period = self.period_of(day)
            found = self._by_day[day] = Attribution(
                contract_id=self.id,
                period_start=period.start_date,
                period_end=period.end_date,
                outside_dates=not self.covers(day),
                billed=self.billed,
            )
        return found


@dataclass(frozen=True)
class Attribution:
    contract_id: uuid.UUID
    period_start: dt.date
    period_end: dt.date
    outside_dates: bool
    #: the contract is billed (``ContractRoute.billed``)
    billed: bool = False


def attribute(contract: ContractRoute, started_at: dt.datetime) -> Attribution:
    """The period of ``contract`` a worklog starting at ``started_at`` counts against."""
    return contract.attribution_on(contract.local_date(started_at))


class Unroutable(StrEnum):
    """Why a worklog has no contract.

    ``UNKNOWN_CONTRACT`` (an explicit contract id not known here) and ``NO_ROUTE_GIVEN`` are
    refused (422); the others are *kept* as unattributed worklogs, to be attributed later.
    """

    NO_ROUTE_GIVEN = "no_route_given"
    UNKNOWN_CONTRACT = "unknown_contract"
    UNKNOWN_WORK_ACCOUNT = "unknown_work_account"
    NO_CONTRACT_FOR_DATE = "no_contract_for_date"
    AMBIGUOUS_WORK_ACCOUNT = "ambiguous_work_account"
    UNKNOWN_PROJECT = "unknown_project"
    NO_PROJECT_CONTRACT_FOR_TEAM = "no_project_contract_for_team_and_date"
    AMBIGUOUS_PROJECT = "ambiguous_project"
    #: a Jira worklog whose issue (so project) is not known here
    UNKNOWN_JIRA_ISSUE = "unknown_jira_issue"
    #: longer than a worklog attributed on its own may be (31 days): kept for a person
    DURATION_ABOVE_LIMIT = "duration_above_limit"


#: Reasons that refuse the worklog; every other reason keeps it unattributed.
REFUSED = frozenset({Unroutable.NO_ROUTE_GIVEN, Unroutable.UNKNOWN_CONTRACT})


@dataclass(frozen=True)
class RoutingError:
    reason: Unroutable
    field: str
    message: str

    @property
    def refused(self) -> bool:
        return self.reason in REFUSED


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
    *,
    project_key: str | None = None,
    team: str | None = None,
    by_project: Mapping[str, Sequence[ContractRoute]] | None = None,
) -> Attribution | RoutingError:
    """Attribute by explicit contract id, else work account, else Jira project key + team.

    1. An explicit contract takes any date (outside its dates: flagged); an unknown one is
       refused.
    2. A work account routes to the one contract holding it whose dates hold the worklog's
       local date (in that contract's zone).
    3. Else (no account, or it routed nowhere) a Jira project key routes to the one contract
       listing the key whose dates hold the date and whose teams include the worklog's team
       (a contract without teams takes any team). If several do, those naming the team
       explicitly win; still several: ambiguous.

    What matches no contract is returned as a :class:`RoutingError` whose ``refused`` is
    False: the caller keeps it, unattributed.
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
    if work_account is None and project_key is None:
        return RoutingError(
            Unroutable.NO_ROUTE_GIVEN,
            "contract_id",
            "give contract_id, work_account or project_key",
        )
    failure: RoutingError | None = None
    if work_account is not None:
        candidates = by_account.get(work_account, ())
        matches = [c for c in candidates if c.covers(c.local_date(started_at))]
        if len(matches) == 1:
            return attribute(matches[0], started_at)
        if len(matches) > 1:
            failure = RoutingError(
                Unroutable.AMBIGUOUS_WORK_ACCOUNT,
                "work_account",
                f"work account '{work_account}' maps to several contracts on that date",
            )
        elif candidates:
            failure = RoutingError(
                Unroutable.NO_CONTRACT_FOR_DATE,
                "work_account",
                f"work account '{work_account}' maps to no contract on the date of "
                f"{started_at.isoformat()}",
            )
        else:
            failure = RoutingError(
                Unroutable.UNKNOWN_WORK_ACCOUNT,
                "work_account",
                f"work account '{work_account}' belongs to no known contract: {_NOT_YET}",
            )
    if project_key is not None:
        by_key = (by_project or {}).get(project_key, ())
        dated = [c for c in by_key if c.covers(c.local_date(started_at))]
        matches = [c for c in dated if not c.teams or team in c.teams]
        if len(matches) > 1:
            matches = [c for c in matches if team in c.teams] or matches
        if len(matches) == 1:
            return attribute(matches[0], started_at)
        if failure is None or failure.reason is Unroutable.UNKNOWN_WORK_ACCOUNT:
            if len(matches) > 1:
                failure = RoutingError(
                    Unroutable.AMBIGUOUS_PROJECT,
                    "project_key",
                    f"project '{project_key}' and team '{team}' map to several contracts "
                    "on that date",
                )
            elif by_key:
                failure = RoutingError(
                    Unroutable.NO_PROJECT_CONTRACT_FOR_TEAM,
                    "project_key",
                    f"project '{project_key}' maps to no contract for team '{team}' on the "
                    f"date of {started_at.isoformat()}",
                )
            else:
                failure = RoutingError(
                    Unroutable.UNKNOWN_PROJECT,
                    "project_key",
                    f"project '{project_key}' belongs to no known contract: {_NOT_YET}",
                )
    assert failure is not None
    return failure
