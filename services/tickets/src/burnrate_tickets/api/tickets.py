"""Tickets: open, what happens to them, and their clocks."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from burnrate_common.contract_terms import Priority
from burnrate_common.deps import ConnectionDep, CursorQuery, LimitQuery
from burnrate_common.pagination import Page
from fastapi import APIRouter, Query, Response

from burnrate_tickets.api import DepsDep
from burnrate_tickets.auth import TicketsReader, TicketsWriter
from burnrate_tickets.domain.clock import EventKind
from burnrate_tickets.schemas import (
    EventIn,
    PriorityIn,
    ReplyIn,
    SlaOut,
    StatusIn,
    TicketIn,
    TicketOut,
)
from burnrate_tickets.service import tickets as service

router = APIRouter(prefix="/v1/tickets", tags=["tickets"])


@router.post(
    "",
    status_code=201,
    response_model=TicketOut,
    responses={200: {"model": TicketOut, "description": "The source's ticket, opened before"}},
    summary="Open a ticket (with its contract, or its customer's); answers its due instants",
)
async def open_ticket(
    body: TicketIn, response: Response, conn: ConnectionDep, deps: DepsDep, _: TicketsWriter
) -> TicketOut:
    ticket, created = await service.open_ticket(conn, deps, body)
    response.status_code = 201 if created else 200
    response.headers["Location"] = f"/v1/tickets/{ticket.id}"
    return ticket


@router.get("", response_model=Page[TicketOut], summary="List tickets, newest opened first")
async def list_tickets(
    conn: ConnectionDep,
    deps: DepsDep,
    _: TicketsReader,
    contract_id: uuid.UUID | None = None,
    customer_id: uuid.UUID | None = None,
    status_kind: Annotated[
        Literal["active", "waiting", "resolved", "closed"] | None, Query()
    ] = None,
    priority: Priority | None = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[TicketOut]:
    return await service.list_tickets(
        conn,
        deps,
        contract_id=contract_id,
        customer_id=customer_id,
        status_kind=status_kind,
        priority=priority,
        limit=limit,
        cursor=cursor,
    )


@router.get(
    "/unattributed",
    response_model=Page[TicketOut],
    summary="Tickets whose contract is not known (yet): kept, never dropped",
)
async def list_unattributed(
    conn: ConnectionDep,
    deps: DepsDep,
    _: TicketsReader,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[TicketOut]:
    return await service.list_tickets(conn, deps, unattributed=True, limit=limit, cursor=cursor)


@router.get("/{ticket_id}", response_model=TicketOut, summary="One ticket with its due instants")
async def get_ticket(
    ticket_id: uuid.UUID, conn: ConnectionDep, deps: DepsDep, _: TicketsReader
) -> TicketOut:
    return await service.get_ticket(conn, deps, ticket_id)


@router.get(
    "/{ticket_id}/sla",
    response_model=SlaOut,
    summary="The clocks: timeline (running, paused, outside hours), elapsed, remaining, due",
)
async def get_sla(
    ticket_id: uuid.UUID, conn: ConnectionDep, deps: DepsDep, _: TicketsReader
) -> SlaOut:
    return await service.ticket_sla(conn, deps, ticket_id)


@router.post("/{ticket_id}/status", response_model=TicketOut, summary="The status changed")
async def change_status(
    ticket_id: uuid.UUID, body: StatusIn, conn: ConnectionDep, deps: DepsDep, _: TicketsWriter
) -> TicketOut:
    return await service.record(
        conn, deps, ticket_id, "status", event_id=body.event_id, at=body.at, status=body.status
    )


@router.post(
    "/{ticket_id}/replies", response_model=TicketOut, summary="A reply by an agent or the customer"
)
async def reply(
    ticket_id: uuid.UUID, body: ReplyIn, conn: ConnectionDep, deps: DepsDep, _: TicketsWriter
) -> TicketOut:
    return await service.record(
        conn,
        deps,
        ticket_id,
        "reply",
        event_id=body.event_id,
        at=body.at,
        by_whom=body.by,
        public=body.public,
    )


@router.post("/{ticket_id}/priority", response_model=TicketOut, summary="The priority changed")
async def change_priority(
    ticket_id: uuid.UUID, body: PriorityIn, conn: ConnectionDep, deps: DepsDep, _: TicketsWriter
) -> TicketOut:
    return await service.record(
        conn,
        deps,
        ticket_id,
        "priority",
        event_id=body.event_id,
        at=body.at,
        priority=body.priority,
    )


def _event(kind: EventKind, summary: str) -> None:
    """``POST /{ticket_id}/<kind>`` with an ``EventIn`` body: the event ``kind`` recorded.
    The route is named ``kind`` (its OpenAPI operation id); it has no description."""

    @router.post(f"/{{ticket_id}}/{kind}", response_model=TicketOut, summary=summary, name=kind)
    async def event(
        ticket_id: uuid.UUID, body: EventIn, conn: ConnectionDep, deps: DepsDep, _: TicketsWriter
    ) -> TicketOut:
        return await service.record(conn, deps, ticket_id, kind, event_id=body.event_id, at=body.at)


_event("resolve", "Resolved")
_event("reopen", "Reopened")
_event("close", "Closed (final)")
