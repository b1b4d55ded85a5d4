"""Re-computing a contract's open statements from the surviving worklogs, and the figures
events that follow. Called by every command that changes what a statement shows."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import uuid
from collections import defaultdict
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from burnrate_common import outbox
from burnrate_common.contract_terms import BillingTerms
from burnrate_common.db import Connection
from burnrate_common.errors import Problem
from burnrate_common.event_payloads import StatementChanged
from burnrate_common.events import EventType, Rollover, new_event

from burnrate_billing import store
from burnrate_billing.domain import chain
from burnrate_billing.domain.corrections import Correction, Settled
from burnrate_billing.domain.corrections import corrections as correcting_lines
from burnrate_billing.domain.corrections import stated as stated_correction
from burnrate_billing.domain.ledger import Lot, paid_not_delivered
from burnrate_billing.domain.rating import RatingError, WorkItem
from burnrate_billing.domain.statement import (
    Marks,
    Money,
    StatedLine,
    forecast_amount,
    shown_status,
)
from burnrate_billing.service import Deps

PRODUCER = "billing"


def as_dict(value: Any) -> dict[str, Any]:
    """A jsonb column's value (the pool decodes jsonb; a bare connection gives text)."""
    loaded = json.loads(value) if isinstance(value, str) else value
    return dict(loaded or {})


def terms_json(contract: asyncpg.Record) -> dict[str, Any]:
    """The commercial terms a new (or re-rated) statement takes from the contract."""
    return {
        "currency": contract["currency"],
        "allowance_policy": contract["allowance_policy"],
        "rollover": as_dict(contract["rollover"]),
        "billing": as_dict(contract["billing"]),
    }


def terms_of(raw: Any) -> chain.Terms:
    data = as_dict(raw)
    return chain.Terms(
        currency=data["currency"],
        allowance_policy=data["allowance_policy"],
        rollover=Rollover.model_validate(data["rollover"]),
        billing=BillingTerms.model_validate(data["billing"]),
    )


def local_today(deps: Deps, timezone: str) -> dt.date:
    return deps.clock.now().astimezone(ZoneInfo(timezone)).date()


def period_ended(deps: Deps, statement: asyncpg.Record, timezone: str) -> bool:
    end: dt.date = statement["period_end"]
    return local_today(deps, timezone) > end


def _item(row: asyncpg.Record) -> WorkItem:
    return WorkItem(
        id=row["id"],
        started_at=row["started_at"],
        seconds=row["seconds"],
        author=row["author"],
        team=row["team"],
        activity=row["activity"],
        location=row["location"],
        ticket=row["ticket"],
        period_start=row["period_start"],
        version=row["version"],
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


async def refresh(
    conn: Connection,
    deps: Deps,
    contract_id: uuid.UUID,
    *,
    actor: str,
    cause: str,
) -> list[uuid.UUID]:
    """Re-compute every open statement of the contract; write those whose lines or figures
    changed, with a ``statement.updated`` event each. Returns the changed statements' ids.
    The caller holds the transaction."""
    contract = await store.get_contract(conn, contract_id, for_update=True)
    if contract is None or contract["billing"] is None:
        return []
    timezone: str = contract["timezone"]
    statements = await store.statements_of(conn, contract_id, for_update=True)
    if not statements:
        return []
    planned = {
        p["start_date"]: p["planned_seconds"] for p in await store.periods(conn, contract_id)
    }
    invoiced = [s for s in statements if s["status"] == "invoiced"]
    invoiced_starts = {s["period_start"] for s in invoiced}
    billed = await store.billed_worklogs(conn, [s["id"] for s in invoiced]) if invoiced else set()
    own: dict[dt.date, list[WorkItem]] = defaultdict(list)
    late: dict[dt.date, list[WorkItem]] = defaultdict(list)
    open_starts = [s["period_start"] for s in statements if s["status"] != "invoiced"]
    for row in await store.worklogs_of(conn, contract_id):
        start = row["period_start"]
        if start in invoiced_starts:
            if row["id"] in billed:
                continue
            # a late line: on the first open statement after its own period
            target = next((s for s in open_starts if s > start), None)
            if target is not None:
                late[target].append(_item(row))
        else:
            own[start].append(_item(row))
    ids = [s["id"] for s in statements]
    money: dict[uuid.UUID, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for a in await store.adjustments_of(conn, ids):
        money[a["statement_id"]][a["kind"]] += a["amount"]
    cancelled: dict[uuid.UUID, dict[uuid.UUID, str]] = defaultdict(dict)
    disputed: dict[uuid.UUID, dict[uuid.UUID, str]] = defaultdict(dict)
    released: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for m in await store.marks_of(conn, ids):
        if m["mark"] == "cancelled":
            cancelled[m["statement_id"]][m["worklog_id"]] = m["reason"]
        elif m["mark"] == "disputed":
            disputed[m["statement_id"]][m["worklog_id"]] = m["reason"]
        else:
            released[m["statement_id"]].add(m["worklog_id"])
    confirmed = await store.confirmed_tickets(conn, contract_id)
    corrections: dict[dt.date, list[StatedLine]] = defaultdict(list)
    if invoiced:
        for correction, source in await invoiced_corrections(conn, contract_id, timezone):
            target = next((s for s in open_starts if s > source["period_start"]), None)
            if target is not None:
                corrections[target].append(
                    stated_correction(correction, timezone, source["period_start"])
                )
    zone = ZoneInfo(timezone)
    breaches: dict[dt.date, int] = defaultdict(int)
    for b in await store.breaches_of(conn, contract_id):
        day = b["reached_at"].astimezone(zone).date()
        for s in statements:
            if s["period_start"] <= day <= s["period_end"]:
                breaches[s["period_start"]] += 1
    inputs = []
    for s in statements:
        terms = terms_of(s["terms"])
        frozen = None
        if s["status"] == "invoiced":
            stored = as_dict(s["figures"])
            frozen = [
                Lot(dt.date.fromisoformat(lot["earned_in"]), lot["seconds"], lot["last_index"])
                for lot in stored.get("banked", [])
            ]
        adj = money[s["id"]]
        inputs.append(
            chain.PeriodInput(
                statement_id=s["id"],
                start=s["period_start"],
                end=s["period_end"],
                planned_seconds=planned.get(s["period_start"], 0),
                terms=terms,
                items=own.get(s["period_start"], []),
                late_items=late.get(s["period_start"], []),
                marks=Marks(
                    cancelled=cancelled[s["id"]],
                    disputed=disputed[s["id"]],
                    released=frozenset(released[s["id"]]),
                    confirmed_tickets=confirmed,
                ),
                money=Money(
                    debt_brought_forward=adj["carry_in"],
                    carried_forward=adj["carry_out"],
                    credits=adj["credit"],
                    service_credits=chain.service_credits(
                        breaches[s["period_start"]], terms.billing
                    ),
                ),
                frozen_banked=frozen,
                corrections=corrections.get(s["period_start"], []),
            )
        )
    try:
        results = chain.compute(inputs, timezone)
    except RatingError as exc:
        raise Problem(422, "Terms cannot be applied", str(exc), field=exc.field) from exc
    by_id = {s["id"]: s for s in statements}
    changed = []
    for result in results:
        row = by_id[result.statement_id]
        terms = terms_of(row["terms"])
        fig = dataclasses.asdict(result.figures)
        fig = {k: _jsonable(v) for k, v in fig.items()}
        fig["banked"] = [
            {
                "earned_in": lot.earned_in.isoformat(),
                "seconds": lot.seconds,
                "last_index": lot.last_index,
            }
            for lot in result.ledger.banked
        ]
        fig["banked_expiry"] = _expiries(result.ledger.banked, statements)
        pnd_seconds, pnd_value = paid_not_delivered(result.ledger, terms.billing.period_fee)
        fig["paid_not_delivered_seconds"] = pnd_seconds
        fig["paid_not_delivered_value"] = str(pnd_value)
        fig["budget"] = str(terms.billing.budget) if terms.billing.budget is not None else None
        lines = [
            (
                position,
                s.line.line_id,
                s.line.worklog.id,
                s.line.worklog.period_start or row["period_start"],
                s.line.late,
                s.line.local_date,
                s.line.worklog.author,
                s.line.worklog.team,
                s.line.worklog.ticket,
                s.line.worklog.activity,
                s.line.worklog.location,
                s.line.price.shift,
                s.line.actual_seconds,
                s.line.billable_seconds,
                s.line.in_allowance_seconds,
                s.line.charged_seconds,
                s.line.price.rate,
                s.line.price.row,
                s.value,
                s.amount,
                s.status,
                s.note,
                s.line.worklog.version,
                s.line.correction,
            )
            for position, s in enumerate(result.lines)
        ]
        digest = hashlib.sha256(
            json.dumps([fig, lines], default=str, sort_keys=True).encode()
        ).hexdigest()
        if digest == row["digest"]:
            continue
        # the forecast moves with the calendar, not with the statement: kept out of the digest
        forecast = forecast_amount(
            result.figures,
            period_start=row["period_start"],
            period_end=row["period_end"],
            today=local_today(deps, timezone),
        )
        fig["forecast_amount"] = str(forecast) if forecast is not None else None
        status = row["status"]
        if status == "approved" and row["digest"]:
            status = "in_review"  # the customer approved other figures
        await store.write_figures(
            conn, row["id"], figures=fig, digest=digest, status=status, lines=lines
        )
        before = as_dict(row["figures"]) if row["digest"] else {}
        if row["status"] != "draft" or status != row["status"]:
            await store.add_history(
                conn,
                row["id"],
                at=deps.clock.now(),
                actor=actor,
                action="recomputed",
                reason=cause,
                details={
                    "subtotal": [before.get("subtotal"), fig["subtotal"]],
                    "status": [row["status"], status],
                },
            )
        changed.append(row["id"])
        await outbox.add(
            conn,
            [
                new_event(
                    EventType.STATEMENT_UPDATED,
                    changed_payload(contract, row, fig, status, deps),
                    key=contract_id,
                    producer=PRODUCER,
                )
            ],
        )
    return changed


async def invoiced_corrections(
    conn: Connection,
    contract_id: uuid.UUID,
    timezone: str,
    statement_ids: set[uuid.UUID] | None = None,
) -> list[tuple[Correction, asyncpg.Record]]:
    """The correcting lines of the contract's invoiced statements (of ``statement_ids``
    only, when given) whose settled worklogs changed since, each with its statement."""
    dirty = await store.corrected_statements(conn, contract_id)
    if statement_ids is not None:
        dirty &= statement_ids
    if not dirty:
        return []
    statements = [s for s in await store.statements_of(conn, contract_id) if s["id"] in dirty]
    lines = await store.lines_of_statements(conn, list(dirty))
    prior = await store.prior_corrections(conn, contract_id)
    rows = {r["id"]: r for r in await store.worklogs_of(conn, contract_id)}
    known = {line["worklog_id"] for line in lines}
    # deleted, moved to another contract, or moved to another period of this one
    gone = {
        r["id"]: _item(r)
        for r in await store.worklogs_by_ids(conn, [i for i in known if i not in rows])
    }
    gone.update({i: _item(rows[i]) for i in known if i in rows})
    marks = await store.marks_of(conn, list(dirty))
    confirmed = await store.confirmed_tickets(conn, contract_id)
    out: list[tuple[Correction, asyncpg.Record]] = []
    for s in statements:
        own: dict[uuid.UUID, WorkItem] = {}
        late: dict[uuid.UUID, WorkItem] = {}
        settled: dict[uuid.UUID, Settled] = {}
        for line in lines:
            if line["statement_id"] != s["id"] or line["correction"]:
                continue
            worklog_id = line["worklog_id"]
            row = rows.get(worklog_id)
            if line["late"] and line["status"] not in store.SETTLED:
                continue  # a held late line was not invoiced here
            if row is not None and row["period_start"] == line["period_start"]:
                (late if line["late"] else own)[worklog_id] = _item(row)
            if line["status"] in store.SETTLED:
                before = settled.get(worklog_id, Settled(0, Decimal(0), line["rate"]))
                charged = line["status"] == "charged"
                settled[worklog_id] = Settled(
                    before.seconds + (line["charged_seconds"] if charged else 0),
                    before.amount + (line["amount"] if charged else Decimal(0)),
                    before.rate,
                )
        for worklog_id, (seconds, amount) in prior.items():
            if worklog_id in settled:
                before = settled[worklog_id]
                settled[worklog_id] = Settled(
                    before.seconds + seconds, before.amount + amount, before.rate
                )
        terms = terms_of(s["terms"])
        mine = [m for m in marks if m["statement_id"] == s["id"]]
        try:
            found = correcting_lines(
                statement_id=s["id"],
                own=list(own.values()),
                late=list(late.values()),
                allowance_seconds=int(as_dict(s["figures"]).get("allowance_seconds", 0)),
                terms_billing=terms.billing,
                policy=terms.allowance_policy,
                confirmation_required=terms.billing.ticket_confirmation_required,
                marks=Marks(
                    cancelled={
                        m["worklog_id"]: m["reason"] for m in mine if m["mark"] == "cancelled"
                    },
                    disputed={
                        m["worklog_id"]: m["reason"] for m in mine if m["mark"] == "disputed"
                    },
                    released=frozenset(m["worklog_id"] for m in mine if m["mark"] == "released"),
                    confirmed_tickets=confirmed,
                ),
                timezone=timezone,
                settled=settled,
                gone=gone,
            )
        except RatingError as exc:
            raise Problem(422, "Terms cannot be applied", str(exc), field=exc.field) from exc
        out.extend((c, s) for c in found)
    return out


def _expiries(banked: list[Lot], statements: list[asyncpg.Record]) -> list[dict[str, Any]]:
    """The lots with the last day each may be used."""
    out = []
    for lot in banked:
        last_day = None
        if lot.last_index is not None and lot.last_index < len(statements):
            last_day = statements[lot.last_index]["period_end"].isoformat()
        out.append(
            {
                "earned_in": lot.earned_in.isoformat(),
                "seconds": lot.seconds,
                "expires_after": last_day,
            }
        )
    return out


def changed_payload(
    contract: asyncpg.Record,
    statement: asyncpg.Record,
    fig: dict[str, Any],
    status: str,
    deps: Deps,
    link: str | None = None,
) -> StatementChanged:
    ended = local_today(deps, contract["timezone"]) > statement["period_end"]
    return StatementChanged(
        statement_id=statement["id"],
        contract_id=contract["id"],
        customer_id=contract["customer_id"],
        period_start=statement["period_start"],
        period_end=statement["period_end"],
        status=shown_status(status, period_ended=ended),
        currency=fig["currency"],
        allowance_seconds=fig["allowance_seconds"],
        in_allowance_seconds=fig["in_allowance_seconds"],
        charged_seconds=fig["charged_seconds"],
        charged_amount=Decimal(fig["charged_amount"]),
        subtotal=Decimal(fig["subtotal"]),
        vat=Decimal(fig["vat"]),
        total=Decimal(fig["total"]),
        forecast_amount=Decimal(fig["forecast_amount"]) if fig.get("forecast_amount") else None,
        budget=Decimal(fig["budget"]) if fig.get("budget") else None,
        link=link,
    )
