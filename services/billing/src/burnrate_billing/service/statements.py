"""Statements: read them, move them through their life cycle, and the what-ifs before the
invoice (carry, cancel a line, credit, release a held line), each previewable.

A preview runs the very command in its transaction and rolls it back, so what it answers
is exactly what applying it would give."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import asyncpg
from burnrate_common import outbox
from burnrate_common.db import Connection
from burnrate_common.errors import Problem
from burnrate_common.events import EventType, new_event
from burnrate_common.pagination import decode_keys, encode_keys
from burnrate_common.types import seconds_to_hours

from burnrate_billing import store
from burnrate_billing.domain.statement import TransitionError, next_status, shown_status
from burnrate_billing.schemas import (
    AdjustmentOut,
    BankedOut,
    CancelLineIn,
    CarryIn,
    CreditIn,
    FiguresOut,
    HistoryOut,
    LineOut,
    ReleaseIn,
    StatementOut,
    StatementPage,
)
from burnrate_billing.service import Deps
from burnrate_billing.service.compute import (
    PRODUCER,
    as_dict,
    changed_payload,
    period_ended,
    refresh,
    terms_json,
)


class _Preview(Exception):
    """Raised inside a what-if's transaction to roll it back and answer its result."""

    def __init__(self, result: StatementOut) -> None:
        self.result = result


# --- reading ------------------------------------------------------------------------------


def figures_out(raw: Any) -> FiguresOut | None:
    fig = as_dict(raw)
    if not fig:
        return None
    hours = seconds_to_hours
    return FiguresOut(
        currency=fig["currency"],
        planned_hours=hours(fig["planned_seconds"]),
        rollover_in_hours=hours(fig["rollover_in_seconds"]),
        allowance_hours=hours(fig["allowance_seconds"]),
        actual_hours=hours(fig["actual_seconds"]),
        billable_hours=hours(fig["billable_seconds"]),
        in_allowance_hours=hours(fig["in_allowance_seconds"]),
        charged_hours=hours(fig["charged_seconds"]),
        rollover_out_hours=hours(fig["rollover_out_seconds"]),
        expired_hours=hours(fig["expired_seconds"]),
        banked=[
            BankedOut(
                earned_in=lot["earned_in"],
                hours=hours(lot["seconds"]),
                expires_after=lot["expires_after"],
            )
            for lot in fig.get("banked_expiry", [])
        ],
        period_fee=Decimal(fig["period_fee"]),
        charged_amount=Decimal(fig["charged_amount"]),
        written_off=Decimal(fig["written_off"]),
        held_amount=Decimal(fig["held_amount"]),
        overage_value=Decimal(fig["overage_value"]),
        warn_only=fig["warn_only"],
        debt_brought_forward=Decimal(fig["debt_brought_forward"]),
        carried_forward=Decimal(fig["carried_forward"]),
        credits=Decimal(fig["credits"]),
        service_credits=Decimal(fig["service_credits"]),
        subtotal=Decimal(fig["subtotal"]),
        vat_rate=Decimal(fig["vat_rate"]),
        vat=Decimal(fig["vat"]),
        total=Decimal(fig["total"]),
        paid_not_delivered_hours=hours(fig.get("paid_not_delivered_seconds", 0)),
        paid_not_delivered_value=Decimal(fig.get("paid_not_delivered_value", "0")),
        forecast_amount=Decimal(fig["forecast_amount"]) if fig.get("forecast_amount") else None,
        budget=Decimal(fig["budget"]) if fig.get("budget") else None,
        late_lines=fig["late_lines"],
    )


def _rate(rate: Decimal) -> Decimal:
    """To the cent when that is exact (75.000 → 75.00), else as precise as it is."""
    cents = rate.quantize(Decimal("0.01"))
    return cents if cents == rate else rate.normalize()


def line_out(row: asyncpg.Record) -> LineOut:
    return LineOut(
        line_id=row["line_id"],
        worklog_id=row["worklog_id"],
        period_start=row["period_start"],
        late=row["late"],
        date=row["date"],
        person=row["person"],
        team=row["team"],
        ticket=row["ticket"],
        activity=row["activity"],
        location=row["location"],
        shift=row["shift"],
        actual_hours=seconds_to_hours(row["actual_seconds"]),
        billable_hours=seconds_to_hours(row["billable_seconds"]),
        in_allowance_hours=seconds_to_hours(row["in_allowance_seconds"]),
        charged_hours=seconds_to_hours(row["charged_seconds"]),
        rate=_rate(row["rate"]),
        rate_row=row["rate_row"],
        value=row["value"],
        amount=row["amount"],
        status=row["status"],
        note=row["note"],
        correction=row["correction"],
    )


async def statement_out(
    conn: Connection,
    deps: Deps,
    statement: asyncpg.Record,
    *,
    contract: asyncpg.Record | None = None,
    with_lines: bool = True,
) -> StatementOut:
    contract = contract or await store.get_contract(conn, statement["contract_id"])
    assert contract is not None
    terms = as_dict(statement["terms"])
    current = terms_json(contract) if contract["billing"] is not None else None
    adjustments = await store.adjustments_of(conn, [statement["id"]])
    return StatementOut(
        id=statement["id"],
        contract_id=statement["contract_id"],
        customer_id=contract["customer_id"],
        contract_code=contract["code"],
        period_start=statement["period_start"],
        period_end=statement["period_end"],
        status=shown_status(
            statement["status"], period_ended=period_ended(deps, statement, contract["timezone"])
        ),
        allowance_policy=terms["allowance_policy"],
        figures=figures_out(statement["figures"]),
        terms_pending=current is not None and current != terms,
        sent_at=statement["sent_at"],
        approved_by=statement["approved_by"],
        approved_at=statement["approved_at"],
        invoice_id=statement["invoice_id"],
        adjustments=[
            AdjustmentOut(
                id=a["id"],
                kind=a["kind"],
                amount=a["amount"],
                reason=a["reason"],
                source_statement_id=a["source_statement_id"],
                source_period_start=a["source_period_start"],
                created_by=a["created_by"],
                created_at=a["created_at"],
            )
            for a in adjustments
        ],
        lines=[line_out(r) for r in await store.lines_of(conn, statement["id"])]
        if with_lines
        else None,
    )


async def statement_or_404(
    conn: Connection, statement_id: uuid.UUID, *, for_update: bool = False
) -> asyncpg.Record:
    row = await store.get_statement(conn, statement_id, for_update=for_update)
    if row is None:
        raise Problem(404, "Not found", f"No statement {statement_id}.", field="statement_id")
    return row


async def get_statement(
    conn: Connection, deps: Deps, statement_id: uuid.UUID, *, rate_row: str | None = None
) -> StatementOut:
    """With its lines; ``rate_row``: only the lines that row of the statement's rate card
    priced ("base" for the lines no row priced)."""
    row = await statement_or_404(conn, statement_id)
    out = await statement_out(conn, deps, row)
    if rate_row is None:
        return out
    rows = {r["id"] for r in as_dict(row["terms"])["billing"].get("rows", [])}
    if rate_row != "base" and rate_row not in rows:
        raise Problem(
            422,
            "Unknown rate row",
            f"rate_row: the statement's rate card has no row {rate_row!r}; "
            f"its rows: {', '.join(sorted(rows)) or 'none'} (or 'base')",
            field="rate_row",
        )
    wanted = None if rate_row == "base" else rate_row
    return out.model_copy(
        update={"lines": [line for line in out.lines or [] if line.rate_row == wanted]}
    )


def _period_day(period: str | None) -> dt.date | None:
    """``YYYY-MM`` (its first day) or ``YYYY-MM-DD``: the statement whose period holds it."""
    if period is None:
        return None
    try:
        if len(period) == 7:
            return dt.date.fromisoformat(period + "-01")
        return dt.date.fromisoformat(period)
    except ValueError as exc:
        raise Problem(
            422, "Invalid input", "period: use YYYY-MM or YYYY-MM-DD", field="period"
        ) from exc


async def list_statements(
    conn: Connection,
    deps: Deps,
    *,
    contract_id: uuid.UUID | None,
    customer_id: uuid.UUID | None,
    period: str | None,
    limit: int,
    cursor: str | None,
) -> StatementPage:
    after = None
    keys = decode_keys(cursor, 2)
    if keys is not None:
        start, ident = keys
        try:
            after = (dt.date.fromisoformat(start), uuid.UUID(ident))
        except ValueError as exc:
            raise Problem(400, "Invalid cursor", "cursor: not ours", field="cursor") from exc
    rows = await store.list_statements(
        conn,
        contract_id=contract_id,
        customer_id=customer_id,
        on=_period_day(period),
        limit=limit,
        after=after,
    )
    items = [await statement_out(conn, deps, r, with_lines=False) for r in rows]
    next_cursor = (
        encode_keys(rows[-1]["period_start"].isoformat(), str(rows[-1]["id"]))
        if len(rows) == limit
        else None
    )
    return StatementPage(items=items, next_cursor=next_cursor)


async def history(conn: Connection, statement_id: uuid.UUID) -> list[HistoryOut]:
    await statement_or_404(conn, statement_id)
    return [
        HistoryOut(
            at=r["at"],
            actor=r["actor"],
            action=r["action"],
            reason=r["reason"],
            details=as_dict(r["details"]),
        )
        for r in await store.history_of(conn, statement_id)
    ]


# --- the life cycle -----------------------------------------------------------------------


async def locked(
    conn: Connection, statement_id: uuid.UUID
) -> tuple[asyncpg.Record, asyncpg.Record]:
    """The statement and its contract, locked in the contract → statement order that
    ``compute.refresh`` takes too."""
    row = await statement_or_404(conn, statement_id)
    contract = await store.get_contract(conn, row["contract_id"], for_update=True)
    assert contract is not None
    return await statement_or_404(conn, statement_id, for_update=True), contract


def refuse_invoiced(statement: asyncpg.Record, action: str) -> None:
    if statement["status"] == "invoiced":
        raise Problem(
            409,
            "Statement invoiced",
            f"The statement is invoiced and immutable; {action} is not possible. "
            "Correct it with a credit note, or on the next statement.",
            field="statement_id",
        )


async def transition(
    conn: Connection,
    deps: Deps,
    statement_id: uuid.UUID,
    command: str,
    *,
    actor: str,
    reason: str | None,
    **fields: Any,
) -> tuple[asyncpg.Record, asyncpg.Record]:
    """Move the statement by ``command`` (in the caller's transaction); history kept."""
    statement, contract = await locked(conn, statement_id)
    try:
        status = next_status(
            statement["status"],
            command,
            period_ended=period_ended(deps, statement, contract["timezone"]),
        )
    except TransitionError as exc:
        raise Problem(409, "Not allowed in this status", str(exc), field="status") from exc
    row = await store.set_status(conn, statement_id, status, **fields)
    await store.add_history(
        conn,
        statement_id,
        at=deps.clock.now(),
        actor=actor,
        action=command,
        reason=reason,
        details={"status": [statement["status"], status]},
    )
    return row, contract


async def review(
    conn: Connection, deps: Deps, statement_id: uuid.UUID, *, actor: str, reason: str | None
) -> StatementOut:
    async with conn.transaction():
        row, contract = await transition(
            conn, deps, statement_id, "review", actor=actor, reason=reason
        )
    return await statement_out(conn, deps, row, contract=contract)


async def approve(
    conn: Connection, deps: Deps, statement_id: uuid.UUID, *, actor: str, reason: str | None
) -> StatementOut:
    """Approval on the customer's behalf (recorded as given by this API key)."""
    async with conn.transaction():
        row, contract = await transition(
            conn,
            deps,
            statement_id,
            "approve",
            actor=actor,
            reason=reason,
            approved_by=actor,
            approved_at=deps.clock.now(),
        )
        await publish(conn, deps, EventType.STATEMENT_APPROVED, row, contract)
    return await statement_out(conn, deps, row, contract=contract)


async def publish(
    conn: Connection,
    deps: Deps,
    event_type: EventType,
    statement: asyncpg.Record,
    contract: asyncpg.Record,
    link: str | None = None,
) -> None:
    fig = as_dict(statement["figures"])
    await outbox.add(
        conn,
        [
            new_event(
                event_type,
                changed_payload(contract, statement, fig, statement["status"], deps, link),
                key=contract["id"],
                producer=PRODUCER,
            )
        ],
    )


async def rerate(
    conn: Connection, deps: Deps, statement_id: uuid.UUID, *, actor: str, reason: str | None
) -> StatementOut:
    """Rate the statement with the contract's current terms (a rate change reaches an open
    statement only this way)."""
    async with conn.transaction():
        statement, contract = await locked(conn, statement_id)
        refuse_invoiced(statement, "re-rating")
        if contract["billing"] is None:
            raise Problem(
                409, "Not billed", "The contract no longer has billing terms.", field="contract"
            )
        before = as_dict(statement["figures"]).get("subtotal")
        await store.set_terms(conn, statement_id, terms_json(contract))
        await refresh(conn, deps, contract["id"], actor=actor, cause="re-rated")
        row = await statement_or_404(conn, statement_id)
        await store.add_history(
            conn,
            statement_id,
            at=deps.clock.now(),
            actor=actor,
            action="rerate",
            reason=reason,
            details={"subtotal": [before, as_dict(row["figures"]).get("subtotal")]},
        )
    return await statement_out(conn, deps, row, contract=contract)


# --- what-ifs -------------------------------------------------------------------------------


async def _what_if(
    conn: Connection,
    deps: Deps,
    statement_id: uuid.UUID,
    *,
    preview: bool,
    apply: Callable[[asyncpg.Record, asyncpg.Record], Awaitable[None]],
) -> StatementOut:
    try:
        async with conn.transaction():
            statement, contract = await locked(conn, statement_id)
            refuse_invoiced(statement, "a change")
            await apply(statement, contract)
            row = await statement_or_404(conn, statement_id)
            result = await statement_out(conn, deps, row, contract=contract)
            if preview:
                raise _Preview(result.model_copy(update={"preview": True}))
    except _Preview as done:
        return done.result
    return result


async def _next_statement(
    conn: Connection, statement: asyncpg.Record, field: str
) -> asyncpg.Record:
    later = [
        s
        for s in await store.statements_of(conn, statement["contract_id"], for_update=True)
        if s["period_start"] > statement["period_start"]
    ]
    if not later:
        raise Problem(
            422, "No next period", "The contract has no period after this one.", field=field
        )
    if later[0]["status"] == "invoiced":
        raise Problem(
            409, "Next statement invoiced", "The next statement is invoiced.", field=field
        )
    return later[0]


def _figure(statement: asyncpg.Record, name: str) -> Decimal:
    return Decimal(as_dict(statement["figures"]).get(name, "0"))


async def _recompute(
    conn: Connection, deps: Deps, contract_id: uuid.UUID, actor: str, why: str
) -> None:
    await refresh(conn, deps, contract_id, actor=actor, cause=why)


async def carry(
    conn: Connection,
    deps: Deps,
    statement_id: uuid.UUID,
    body: CarryIn,
    *,
    actor: str,
    preview: bool,
) -> StatementOut:
    """Move all or part of what is owed to the next period's statement (shown on both),
    within the contract's debt cap."""
    if body.amount is None and not body.all:
        raise Problem(422, "Invalid input", "amount: give an amount or all=true", field="amount")
    if body.amount is not None and body.all:
        raise Problem(
            422, "Invalid input", "amount: give an amount or all=true, not both", field="amount"
        )

    async def apply(statement: asyncpg.Record, contract: asyncpg.Record) -> None:
        following = await _next_statement(conn, statement, "amount")
        owed = _figure(statement, "subtotal")
        amount = owed if body.all else Decimal(body.amount or 0)
        if amount <= 0 or amount > owed:
            raise Problem(
                422,
                "Invalid input",
                f"amount: at most what is owed on this statement ({owed})",
                field="amount",
            )
        cap = as_dict(statement["terms"])["billing"].get("debt_cap")
        carried = _figure(statement, "carried_forward") + amount
        if cap is not None and carried > Decimal(cap):
            raise Problem(
                422,
                "Above the debt cap",
                f"amount: {carried} carried in all would exceed the contract's debt cap ({cap})",
                field="amount",
            )
        now, pair = deps.clock.now(), uuid.uuid4()
        for kind, target, source in (
            ("carry_out", statement["id"], following["id"]),
            ("carry_in", following["id"], statement["id"]),
        ):
            await store.add_adjustment(
                conn,
                {
                    "id": uuid.uuid4(),
                    "statement_id": target,
                    "kind": kind,
                    "amount": amount,
                    "reason": body.reason,
                    "source_statement_id": source,
                    "pair_id": pair,
                    "created_by": actor,
                    "created_at": now,
                },
            )
            await store.add_history(
                conn,
                target,
                at=now,
                actor=actor,
                action=kind,
                reason=body.reason,
                details={"amount": str(amount), "statement_id": str(source)},
            )
        await _recompute(conn, deps, contract["id"], actor, "carried forward")

    return await _what_if(conn, deps, statement_id, preview=preview, apply=apply)


async def _mark_worklog(
    conn: Connection,
    deps: Deps,
    statement_id: uuid.UUID,
    contract_id: uuid.UUID,
    worklog_id: uuid.UUID,
    *,
    mark: str,
    action: str,
    reason: str,
    actor: str,
    details: dict[str, Any],
    why: str,
) -> None:
    """Mark a worklog's lines on the statement (``cancelled``, ``released``), record it in
    the history (``details`` after the worklog's id) and rate the contract again."""
    now = deps.clock.now()
    await store.add_mark(
        conn,
        {
            "statement_id": statement_id,
            "worklog_id": worklog_id,
            "mark": mark,
            "reason": reason,
            "created_by": actor,
            "created_at": now,
        },
    )
    await store.add_history(
        conn,
        statement_id,
        at=now,
        actor=actor,
        action=action,
        reason=reason,
        details={"worklog_id": str(worklog_id), **details},
    )
    await _recompute(conn, deps, contract_id, actor, why)


async def cancel_line(
    conn: Connection,
    deps: Deps,
    statement_id: uuid.UUID,
    body: CancelLineIn,
    *,
    actor: str,
    preview: bool,
) -> StatementOut:
    """Write off a worklog's lines on this statement (the work still used the allowance)."""

    async def apply(statement: asyncpg.Record, contract: asyncpg.Record) -> None:
        lines = [
            r
            for r in await store.lines_of(conn, statement_id)
            if r["worklog_id"] == body.worklog_id
        ]
        if not lines:
            raise Problem(
                422,
                "Unknown line",
                f"worklog_id: no line of worklog {body.worklog_id} on this statement",
                field="worklog_id",
            )
        await _mark_worklog(
            conn,
            deps,
            statement_id,
            contract["id"],
            body.worklog_id,
            mark="cancelled",
            action="cancel_line",
            reason=body.reason,
            actor=actor,
            details={
                "activity": lines[0]["activity"],
                "amount": str(sum((r["value"] for r in lines), Decimal(0))),
            },
            why="line cancelled",
        )

    return await _what_if(conn, deps, statement_id, preview=preview, apply=apply)


async def release_line(
    conn: Connection,
    deps: Deps,
    statement_id: uuid.UUID,
    body: ReleaseIn,
    *,
    actor: str,
    preview: bool,
) -> StatementOut:
    """A line held by the hard stop becomes billable: the approval it waited for."""

    async def apply(statement: asyncpg.Record, contract: asyncpg.Record) -> None:
        held = [
            r
            for r in await store.lines_of(conn, statement_id)
            if r["worklog_id"] == body.worklog_id and r["status"] == "held"
        ]
        if not held:
            raise Problem(
                422,
                "Nothing held",
                f"worklog_id: no held line of worklog {body.worklog_id} on this statement",
                field="worklog_id",
            )
        await _mark_worklog(
            conn,
            deps,
            statement_id,
            contract["id"],
            body.worklog_id,
            mark="released",
            action="release_line",
            reason=body.reason,
            actor=actor,
            details={},
            why="held line released",
        )

    return await _what_if(conn, deps, statement_id, preview=preview, apply=apply)


async def credit(
    conn: Connection,
    deps: Deps,
    statement_id: uuid.UUID,
    body: CreditIn,
    *,
    actor: str,
    preview: bool,
) -> StatementOut:
    """Grant a credit in currency on this statement or the next."""

    async def apply(statement: asyncpg.Record, contract: asyncpg.Record) -> None:
        target = statement
        if body.target == "next":
            target = await _next_statement(conn, statement, "target")
        elif body.amount > _figure(statement, "subtotal"):
            raise Problem(
                422,
                "Invalid input",
                f"amount: more than is owed on this statement ({_figure(statement, 'subtotal')}); "
                "grant the rest on the next (target=next)",
                field="amount",
            )
        now = deps.clock.now()
        await store.add_adjustment(
            conn,
            {
                "id": uuid.uuid4(),
                "statement_id": target["id"],
                "kind": "credit",
                "amount": body.amount,
                "reason": body.reason,
                "source_statement_id": statement["id"] if target is not statement else None,
                "created_by": actor,
                "created_at": now,
            },
        )
        for sid in {statement["id"], target["id"]}:
            await store.add_history(
                conn,
                sid,
                at=now,
                actor=actor,
                action="credit",
                reason=body.reason,
                details={"amount": str(body.amount), "on": str(target["id"])},
            )
        await _recompute(conn, deps, contract["id"], actor, "credit granted")

    return await _what_if(conn, deps, statement_id, preview=preview, apply=apply)
