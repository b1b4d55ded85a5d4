"""Statements: read, move through the life cycle, what-ifs (each with ?preview=true)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Annotated, Protocol

from burnrate_common.db import Connection
from burnrate_common.deps import ConnectionDep, CursorQuery, LimitQuery
from fastapi import APIRouter, Query

from burnrate_billing.api import DepsDep, PreviewQuery
from burnrate_billing.auth import BillingReader, BillingWriter
from burnrate_billing.schemas import (
    CancelLineIn,
    CarryIn,
    CreditIn,
    HistoryOut,
    ReasonIn,
    ReleaseIn,
    SentOut,
    StatementOut,
    StatementPage,
)
from burnrate_billing.service import Deps, approval, invoices
from burnrate_billing.service import statements as service

router = APIRouter(prefix="/v1/statements", tags=["statements"])


@router.get("", response_model=StatementPage, summary="Statements, by contract, customer, period")
async def list_statements(
    conn: ConnectionDep,
    deps: DepsDep,
    _: BillingReader,
    contract_id: Annotated[uuid.UUID | None, Query()] = None,
    customer_id: Annotated[uuid.UUID | None, Query()] = None,
    period: Annotated[
        str | None, Query(description="YYYY-MM or a day: the statement whose period holds it")
    ] = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> StatementPage:
    return await service.list_statements(
        conn,
        deps,
        contract_id=contract_id,
        customer_id=customer_id,
        period=period,
        limit=limit,
        cursor=cursor,
    )


@router.get("/{statement_id}", response_model=StatementOut, summary="One statement with its lines")
async def get_statement(
    statement_id: uuid.UUID,
    conn: ConnectionDep,
    deps: DepsDep,
    _: BillingReader,
    rate_row: Annotated[
        str | None, Query(description="Only the lines this rate row priced ('base': none)")
    ] = None,
) -> StatementOut:
    return await service.get_statement(conn, deps, statement_id, rate_row=rate_row)


@router.get(
    "/{statement_id}/history",
    response_model=list[HistoryOut],
    summary="Every change: who, when, what, why",
)
async def history(
    statement_id: uuid.UUID, conn: ConnectionDep, _: BillingReader
) -> list[HistoryOut]:
    return await service.history(conn, statement_id)


class _Command(Protocol):
    """A life-cycle use case: the statement moved by the caller, with an optional reason."""

    def __call__(
        self,
        conn: Connection,
        deps: Deps,
        statement_id: uuid.UUID,
        *,
        actor: str,
        reason: str | None,
    ) -> Awaitable[StatementOut]: ...


def _command(
    name: str, action: _Command, summary: str, response_model: type[StatementOut] = StatementOut
) -> None:
    """``POST /{statement_id}/<name>`` with an optional ``ReasonIn`` body: calls ``action``.
    The route is named ``name`` (its OpenAPI operation id); it has no description."""

    @router.post(
        f"/{{statement_id}}/{name}", response_model=response_model, summary=summary, name=name
    )
    async def command(
        statement_id: uuid.UUID,
        conn: ConnectionDep,
        deps: DepsDep,
        who: BillingWriter,
        body: ReasonIn | None = None,
    ) -> StatementOut:
        reason = body.reason if body else None
        return await action(conn, deps, statement_id, actor=who.name, reason=reason)


_command("review", service.review, "Into review")
_command("send", approval.send, "To the customer, with a signed approval link", SentOut)
_command("approve", service.approve, "Approve on the customer's behalf")
_command("invoice", invoices.invoice, "Issue the invoice")
_command(
    "rerate",
    service.rerate,
    "Rate the open statement with the contract's current terms (audited)",
)


@router.post(
    "/{statement_id}/carry",
    response_model=StatementOut,
    summary="Carry all or part to the next period, within the debt cap",
)
async def carry(
    statement_id: uuid.UUID,
    body: CarryIn,
    conn: ConnectionDep,
    deps: DepsDep,
    who: BillingWriter,
    preview: PreviewQuery = False,
) -> StatementOut:
    return await service.carry(conn, deps, statement_id, body, actor=who.name, preview=preview)


@router.post(
    "/{statement_id}/cancel-line",
    response_model=StatementOut,
    summary="Write off a worklog's lines (reason required)",
)
async def cancel_line(
    statement_id: uuid.UUID,
    body: CancelLineIn,
    conn: ConnectionDep,
    deps: DepsDep,
    who: BillingWriter,
    preview: PreviewQuery = False,
) -> StatementOut:
    return await service.cancel_line(
        conn, deps, statement_id, body, actor=who.name, preview=preview
    )


@router.post(
    "/{statement_id}/credit",
    response_model=StatementOut,
    summary="Grant a credit on this statement or the next",
)
async def credit(
    statement_id: uuid.UUID,
    body: CreditIn,
    conn: ConnectionDep,
    deps: DepsDep,
    who: BillingWriter,
    preview: PreviewQuery = False,
) -> StatementOut:
    return await service.credit(conn, deps, statement_id, body, actor=who.name, preview=preview)


@router.post(
    "/{statement_id}/release-line",
    response_model=StatementOut,
    summary="Make a line held by the hard stop billable",
)
async def release_line(
    statement_id: uuid.UUID,
    body: ReleaseIn,
    conn: ConnectionDep,
    deps: DepsDep,
    who: BillingWriter,
    preview: PreviewQuery = False,
) -> StatementOut:
    return await service.release_line(
        conn, deps, statement_id, body, actor=who.name, preview=preview
    )
