"""The customer confirms a resolved ticket closed (``ticket.confirmed``, with a rating 1–5
and a comment) or reopens it, through the signed link of :mod:`.links`."""

from __future__ import annotations

import uuid

import asyncpg
from burnrate_common import outbox
from burnrate_common.db import Connection
from burnrate_common.errors import Problem
from burnrate_common.event_payloads import TicketConfirmed
from burnrate_common.events import EventType, new_event

from burnrate_tickets import store
from burnrate_tickets.schemas import ConfirmationPageOut, ConfirmIn
from burnrate_tickets.service import Deps, links
from burnrate_tickets.service.clocks import event_row
from burnrate_tickets.service.tickets import confirmation_of, refresh

_EXPIRED = Problem(404, "Link expired", "This link has expired or is not valid.", field="token")


def _page(ticket: asyncpg.Record) -> ConfirmationPageOut:
    return ConfirmationPageOut(
        ticket_id=ticket["id"],
        reference=ticket["reference"],
        status_kind=ticket["status_kind"],
        resolved_at=ticket["resolved_at"],
        confirmation=confirmation_of(ticket),
        timezone=terms["calendar"]["timezone"] if (terms := ticket["level_terms"]) else None,
    )


async def _ticket(conn: Connection, deps: Deps, token: str, lock: bool) -> asyncpg.Record:
    ticket_id = links.ticket_of(deps, token)
    ticket = None if ticket_id is None else await store.ticket(conn, ticket_id, lock=lock)
    if ticket is None or ticket["contract_id"] is None:
        raise _EXPIRED
    return ticket


async def show(conn: Connection, deps: Deps, token: str) -> ConfirmationPageOut:
    return _page(await _ticket(conn, deps, token, lock=False))


async def answer(conn: Connection, deps: Deps, token: str, body: ConfirmIn) -> ConfirmationPageOut:
    """Confirm (closes the ticket) or reopen. Confirming twice answers the first
    confirmation; a ticket reopened since is no longer waiting for one (409)."""
    async with conn.transaction():
        ticket = await _ticket(conn, deps, token, lock=True)
        if ticket["confirmed_at"] is not None and body.action == "confirm":
            return _page(ticket)
        if ticket["resolved_at"] is None or ticket["closed_at"] is not None:
            raise Problem(
                409, "Conflict", "The ticket is not waiting for a confirmation.", field="action"
            )
        now = deps.clock.now()
        if body.action == "reopen":
            row = event_row(f"confirmation:reopen:{uuid.uuid4().hex}", "reopen", now)
            await store.insert_events(conn, ticket["id"], ticket["source"], [row])
            return _page(await refresh(conn, deps, ticket))
        ticket = await store.update_ticket(
            conn,
            ticket["id"],
            {"confirmed_at": now, "rating": body.rating, "comment": body.comment},
        )
        await store.insert_events(
            conn,
            ticket["id"],
            ticket["source"],
            [event_row(f"confirmation:close:{ticket['id']}", "close", now)],
        )
        ticket = await refresh(conn, deps, ticket)
        payload = TicketConfirmed(
            ticket_id=ticket["id"],
            reference=ticket["reference"],
            contract_id=ticket["contract_id"],
            confirmed_at=now,
            rating=body.rating,
            comment=body.comment,
            customer_id=ticket["customer_id"],
        )
        await outbox.add(
            conn,
            [
                new_event(
                    EventType.TICKET_CONFIRMED,
                    payload,
                    key=ticket["contract_id"],
                    producer="tickets",
                )
            ],
        )
        return _page(ticket)
