"""Service-level compliance per contract and per customer (``domain.compliance``), with what
the customer bought: each contract's levels, their targets and calendars."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from burnrate_common.contract_terms import ServiceLevelTerms
from burnrate_common.db import Connection
from burnrate_common.errors import Problem

from burnrate_reporting.domain import compliance as cp
from burnrate_reporting.schemas import (
    BreachOut,
    ComplianceRow,
    ComplianceTotals,
    ContractLevels,
    Grain,
    MetricCompliance,
    ServiceLevelReport,
)
from burnrate_reporting.service.deps import Deps
from burnrate_reporting.service.reports import month_window
from burnrate_reporting.store import reports as report_store
from burnrate_reporting.store import sla as store

#: The instants a window of local days is read in: a day either side, so every zone's
#: tickets of those days are among them (the domain keeps those of the local days).
_MARGIN = dt.timedelta(days=2)


def _instant(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def level_in_force(levels: Sequence[ServiceLevelTerms], day: dt.date) -> ServiceLevelTerms | None:
    """The level for tickets opened on ``day``: the latest ``effective_from`` on or before it."""
    candidates = [level for level in levels if level.effective_from <= day]
    return max(candidates, key=lambda level: level.effective_from) if candidates else None


def contract_levels(row: asyncpg.Record, now: dt.datetime) -> ContractLevels:
    levels = [ServiceLevelTerms.model_validate(v) for v in row["service_levels"]]
    today = now.astimezone(ZoneInfo(row["timezone"])).date()
    return ContractLevels(
        contract_id=row["id"],
        code=row["code"],
        title=row["title"],
        in_force=level_in_force(levels, today),
        levels=sorted(levels, key=lambda level: level.effective_from),
    )


def _ticket(row: asyncpg.Record, breaches: list[asyncpg.Record], warned: set[Any]) -> cp.Ticket:
    return cp.Ticket(
        ticket_id=row["ticket_id"],
        reference=row["reference"],
        contract_id=row["contract_id"],
        contract_code=row["contract_code"],
        priority=row["priority"],
        category=row["category"],
        level=row["level"],
        opened_at=row["opened_at"],
        resolved_at=row["resolved_at"],
        timezone=row["timezone"],
        clocks=tuple(cp.Clock.of(c) for c in row["clocks"]),
        breaches=tuple(
            cp.Breach(
                metric=b["metric"],
                cycle=b["cycle"],
                target_minutes=b["target_minutes"],
                due_at=b["due_at"],
                reached_at=b["reached_at"],
            )
            for b in breaches
        ),
        warned=frozenset((m, c) for t, m, c in warned if t == row["ticket_id"]),
    )


async def load_tickets(
    conn: Connection,
    *,
    contract_id: uuid.UUID | None,
    customer_id: uuid.UUID | None,
    first: dt.date,
    last: dt.date,
) -> list[cp.Ticket]:
    """The tickets opened around [first, last] with their breaches and warnings (call in
    the report's snapshot)."""
    rows = await store.tickets_of(
        conn,
        contract_id=contract_id,
        customer_id=customer_id,
        opened_from=_instant(first) - _MARGIN,
        opened_before=_instant(last) + _MARGIN,
    )
    ids = [r["ticket_id"] for r in rows]
    breaches: dict[uuid.UUID, list[asyncpg.Record]] = {}
    for b in await store.breaches_of(conn, ids):
        breaches.setdefault(b["ticket_id"], []).append(b)
    warned = {(w["ticket_id"], w["metric"], w["cycle"]) for w in await store.warnings_of(conn, ids)}
    return [_ticket(r, breaches.get(r["ticket_id"], []), warned) for r in rows]


def as_grain(grain: Grain) -> cp.Grain:
    return grain.value


def metric_out(summary: dict[str, Any]) -> MetricCompliance:
    return MetricCompliance(**summary)


def rows_out(result: cp.Compliance, grain: cp.Grain) -> list[ComplianceRow]:
    return [
        ComplianceRow(
            **{k: v for k, v in r.items() if k not in ("first_response", "resolution")},
            first_response=metric_out(r["first_response"]),
            resolution=metric_out(r["resolution"]),
        )
        for r in cp.group_rows(result, grain)
    ]


def totals_out(groups: Sequence[cp.Group]) -> ComplianceTotals:
    t = cp.totals(groups)
    return ComplianceTotals(
        tickets=t["tickets"],
        first_response=metric_out(t["first_response"]),
        resolution=metric_out(t["resolution"]),
        paused_minutes=t["paused_minutes"],
    )


def _minutes(seconds: int | None) -> Decimal | None:
    return None if seconds is None else (Decimal(seconds) / 60).quantize(Decimal("0.1"))


def breaches_out(result: cp.Compliance) -> list[BreachOut]:
    out = []
    for o in result.breaches:
        t = o.ticket
        out.append(
            BreachOut(
                ticket_id=t.ticket_id,
                reference=t.reference,
                contract_id=t.contract_id,
                contract_code=t.contract_code,
                metric=o.metric,
                cycle=o.cycle,
                priority=t.priority,
                level=t.level or cp.NO_LEVEL,
                category=t.category,
                target_minutes=o.target_minutes,
                due_at=o.breach.due_at if o.breach else None,
                breached_at=o.breach.reached_at if o.breach else o.stopped_at,
                stopped_at=o.stopped_at,
                elapsed_minutes=_minutes(o.elapsed_seconds),
                paused_minutes=_minutes(o.paused_seconds) or Decimal(0),
                reason=cp.reason(o),
            )
        )
    return out


async def service_level_report(
    conn: Connection,
    deps: Deps,
    *,
    contract_id: uuid.UUID | None = None,
    customer_id: uuid.UUID | None = None,
    grain: Grain = Grain.MONTH,
    first: str | None = None,
    last: str | None = None,
    restrict_to: uuid.UUID | None = None,
) -> ServiceLevelReport:
    """One contract's (``contract_id``) or one customer's compliance over the months
    ``first`` to ``last`` (YYYY-MM, default: the 12 months up to this one). ``restrict_to``:
    a customer link's customer, for whom another customer's contract is "not found"."""
    now = deps.clock.now()
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        if contract_id is not None:
            contract = await report_store.get_contract(conn, contract_id, now)
            if contract is None or (
                restrict_to is not None and contract["customer_id"] != restrict_to
            ):
                raise Problem(404, "Not found", f"No contract {contract_id}.", field="contract_id")
            owner: uuid.UUID = contract["customer_id"]
            today: dt.date = contract["local_today"]
        else:
            assert customer_id is not None  # one of the two, by the routes
            if not await report_store.customer_known(conn, customer_id):
                raise Problem(404, "Not found", f"No customer {customer_id}.", field="customer_id")
            owner, today = customer_id, now.date()
        start, end = month_window(first, last, today)
        name = await report_store.customer_name(conn, owner)
        contracts = await store.contracts_with_levels(
            conn, contract_id=contract_id, customer_id=None if contract_id else owner
        )
        tickets = await load_tickets(
            conn, contract_id=contract_id, customer_id=owner, first=start, last=end
        )
    result = cp.compliance(tickets, as_grain(grain), start, end)
    return ServiceLevelReport(
        customer_id=owner,
        customer_name=name,
        contract_id=contract_id,
        grain=grain,
        first_day=start,
        last_day=end,
        today=today,
        levels=[contract_levels(c, now) for c in contracts],
        rows=rows_out(result, as_grain(grain)),
        totals=totals_out(result.groups),
        breaches=breaches_out(result),
    )
