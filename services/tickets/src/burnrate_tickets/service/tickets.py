"""Tickets: open, record what happens to them (status, replies, priority, resolve, reopen,
close), each event once per source and event id; read them with their clocks.

Every change replays the ticket's events in the order they happened
(:mod:`burnrate_tickets.domain.clock`), stores the state it comes to, publishes
``ticket.opened|updated|resolved`` and fires or reschedules its stages
(:mod:`burnrate_tickets.service.stages`), all in one transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from burnrate_common import outbox
from burnrate_common.contract_terms import Priority, ServiceLevelTerms
from burnrate_common.db import Connection
from burnrate_common.errors import Problem
from burnrate_common.event_payloads import SlaClockFacts, TicketChanged
from burnrate_common.events import EventType, new_event
from burnrate_common.pagination import Page, decode_cursor, encode_cursor

from burnrate_tickets import store
from burnrate_tickets.domain.clock import EventKind, MetricClock, TicketClock, level_in_force
from burnrate_tickets.schemas import (
    ConfirmationOut,
    MetricSlaOut,
    SegmentOut,
    SlaOut,
    TicketIn,
    TicketOut,
)
from burnrate_tickets.service import Deps, links, stages
from burnrate_tickets.service.clocks import due_list, event_row, measure, status_kind, status_name

#: How far in the future an event may be stamped (clocks of the sources drift a little).
FUTURE_SLACK = dt.timedelta(minutes=5)


def not_found(ticket_id: uuid.UUID) -> Problem:
    return Problem(404, "Not found", f"No ticket {ticket_id}.", field="ticket_id")


def _not_in_future(at: dt.datetime, now: dt.datetime, field: str) -> None:
    if at > now + FUTURE_SLACK:
        raise Problem(
            422, "Invalid input", f"{field}: {at.isoformat()} is in the future", field=field
        )


# --- attribution ------------------------------------------------------------------------


def local_day(at: dt.datetime, timezone: str) -> dt.date:
    try:
        return at.astimezone(ZoneInfo(timezone)).date()
    except (KeyError, ValueError):
        return at.astimezone(dt.UTC).date()


def levels_of(contract: asyncpg.Record) -> list[ServiceLevelTerms]:
    return [ServiceLevelTerms.model_validate(level) for level in contract["service_levels"]]


def level_at(contract: asyncpg.Record, at: dt.datetime) -> ServiceLevelTerms | None:
    return level_in_force(levels_of(contract), local_day(at, contract["timezone"]))


def choose_contract(contracts: list[asyncpg.Record], at: dt.datetime) -> asyncpg.Record | None:
    """Of a customer's (or a Jira project's) active contracts, the one for a ticket opened
    at ``at``: one whose dates cover that day, with a service level in force, the latest
    started first."""
    if not contracts:
        return None
    covering = [
        c for c in contracts if c["start_date"] <= local_day(at, c["timezone"]) <= c["end_date"]
    ]
    candidates = covering or contracts
    with_level = [c for c in candidates if level_at(c, at) is not None]
    return (with_level or candidates)[0]


async def attribution(
    conn: Connection,
    *,
    contract_id: uuid.UUID | None,
    customer_id: uuid.UUID | None,
    project_key: str | None,
    at: dt.datetime,
    organization_id: str | None = None,
) -> dict[str, Any]:
    """The ticket's contract, customer and level, or why it has none yet (kept, listed as
    unattributed, attributed when the contract, or the organization's mapping, arrives).
    ``organization_id`` (Zendesk): its mapped customer when neither contract nor customer
    is named."""
    missing_organization = False
    if contract_id is None and customer_id is None and organization_id is not None:
        mapped = await store.zendesk_organization(conn, organization_id)
        if mapped is not None:
            customer_id = mapped["customer_id"]
        else:
            missing_organization = True
    asked = {
        "asked_contract_id": contract_id,
        "asked_customer_id": customer_id,
        "project_key": project_key.upper() if project_key else None,
        "organization_id": organization_id,
    }
    contract: asyncpg.Record | None = None
    if contract_id is not None:
        contract = await store.contract(conn, contract_id)
        if (
            contract is not None
            and customer_id is not None
            and contract["customer_id"] != customer_id
        ):
            raise Problem(
                422,
                "Invalid input",
                f"customer_id: contract {contract_id} is not a contract of customer {customer_id}",
                field="customer_id",
            )
        missing = "unknown_contract"
    elif customer_id is not None:
        contract = choose_contract(await store.contracts_of_customer(conn, customer_id), at)
        missing = "unknown_customer"
    elif project_key:
        contract = choose_contract(await store.contracts_of_project(conn, project_key), at)
        missing = "unknown_project"
    elif missing_organization:
        missing = "unknown_organization"
    else:
        missing = "no_contract"
    if contract is None:
        return asked | {
            "contract_id": None,
            "customer_id": customer_id,
            "attribution": missing,
            "level": None,
            "level_terms": None,
        }
    level = level_at(contract, at)
    return asked | {
        "contract_id": contract["id"],
        "customer_id": contract["customer_id"],
        "attribution": "attributed",
        "level": level.level if level else None,
        "level_terms": level.model_dump(mode="json") if level else None,
    }


# --- commands ---------------------------------------------------------------------------


async def open_ticket(conn: Connection, deps: Deps, body: TicketIn) -> tuple[TicketOut, bool]:
    """Open a ticket; ``(ticket, created)``. Opening the same source's ticket again answers
    the one held (idempotent), whatever the body says."""
    now = deps.clock.now()
    opened_at = body.opened_at or now
    _not_in_future(opened_at, now, "opened_at")
    external_id = body.external_id or body.reference
    async with conn.transaction():
        held = await store.ticket_of_source(conn, body.source, external_id, lock=True)
        if held is not None:
            return await ticket_out(conn, deps, held), False
        whose = await attribution(
            conn,
            contract_id=body.contract_id,
            customer_id=body.customer_id,
            project_key=None,
            at=opened_at,
        )
        ticket = await create(
            conn,
            deps,
            source=body.source,
            external_id=external_id,
            reference=body.reference,
            priority=body.priority,
            category=body.category,
            status=body.status,
            opened_at=opened_at,
            whose=whose,
        )
        return await ticket_out(conn, deps, ticket), True


async def create(
    conn: Connection,
    deps: Deps,
    *,
    source: str,
    external_id: str,
    reference: str,
    priority: Priority,
    category: str | None,
    status: str,
    opened_at: dt.datetime,
    whose: dict[str, Any],
    opening_confirmed: bool = True,
    events: list[dict[str, Any]] | None = None,
) -> asyncpg.Record:
    """Insert a ticket with its first events and bring it up to date (caller's transaction)."""
    kind = status_kind(deps.settings, source, status)
    ticket = await store.insert_ticket(
        conn,
        {
            "id": uuid.uuid4(),
            "source": source,
            "external_id": external_id,
            "reference": reference,
            "opening_priority": priority,
            "priority": priority,
            "category": category,
            "status": status,
            "status_kind": "active",
            "opened_at": opened_at,
            "opening_confirmed": opening_confirmed,
        }
        | whose,
    )
    if ticket is None:  # a concurrent open of the same ticket won
        raise Problem(409, "Conflict", "The ticket was opened concurrently; retry.")
    first = list(events or [])
    if kind != "active":
        first.append(
            event_row(
                f"{external_id}:opened-status", "status", opened_at, status=status, status_kind=kind
            )
        )
    await store.insert_events(conn, ticket["id"], source, first)
    return await refresh(conn, deps, ticket)


async def record(
    conn: Connection,
    deps: Deps,
    ticket_id: uuid.UUID,
    kind: EventKind,
    *,
    event_id: str | None,
    at: dt.datetime | None,
    **fields: Any,
) -> TicketOut:
    """Record one event of the API on a ticket; the same ``event_id`` again changes
    nothing and answers the ticket as it is."""
    now = deps.clock.now()
    at = at or now
    _not_in_future(at, now, "at")
    async with conn.transaction():
        ticket = await store.ticket(conn, ticket_id, lock=True)
        if ticket is None:
            raise not_found(ticket_id)
        if event_id is not None:
            owner = await store.event_owner(conn, ticket["source"], event_id)
            if owner is not None:
                if owner != ticket_id:
                    raise Problem(
                        409,
                        "Conflict",
                        f"event_id {event_id!r} is an event of another ticket of this source.",
                        field="event_id",
                    )
                return await ticket_out(conn, deps, ticket)
        if ticket["closed_at"] is not None and at >= ticket["closed_at"]:
            raise Problem(
                409, "Conflict", "The ticket is closed; a closed ticket is final.", field="status"
            )
        if kind == "status":
            fields["status_kind"] = status_kind(deps.settings, ticket["source"], fields["status"])
        row = event_row(event_id or f"api:{uuid.uuid4().hex}", kind, at, **fields)
        if await store.insert_events(conn, ticket_id, ticket["source"], [row]):
            ticket = await refresh(conn, deps, ticket)
        return await ticket_out(conn, deps, ticket)


async def refresh(conn: Connection, deps: Deps, ticket: asyncpg.Record) -> asyncpg.Record:
    """Replay the ticket, store what it comes to, publish it and sync its stages. Call with
    the ticket locked, after its events are stored."""
    now = deps.clock.now()
    rows = await store.events_of(conn, [ticket["id"]])
    clock = measure(ticket, rows, now)
    resolution = clock.current("resolution")
    was_resolved = ticket["resolved_at"] is not None
    seconds = ticket["resolution_seconds"]
    if clock.resolved_at is not None and resolution is not None:
        seconds = int(resolution.elapsed.total_seconds())
    attributed = ticket["contract_id"] is not None
    updated = await store.update_ticket(
        conn,
        ticket["id"],
        {
            "priority": clock.priority,
            "status": status_name(ticket, rows),
            "status_kind": clock.status_kind,
            "resolved_at": clock.resolved_at,
            "closed_at": clock.closed_at,
            "resolution_seconds": seconds,
            "announced": attributed,
        },
    )
    if attributed:
        if not ticket["announced"]:
            event_type = EventType.TICKET_OPENED
        elif clock.resolved_at is not None and not was_resolved:
            event_type = EventType.TICKET_RESOLVED
        else:
            event_type = EventType.TICKET_UPDATED
        await outbox.add(conn, [ticket_event(deps, updated, clock, event_type)])
        await stages.sync(conn, deps, updated, clock, now)
    return updated


def ticket_event(
    deps: Deps, ticket: asyncpg.Record, clock: TicketClock, event_type: EventType
) -> Any:
    first, resolution = clock.current("first_response"), clock.current("resolution")
    payload = TicketChanged(
        ticket_id=ticket["id"],
        reference=ticket["reference"],
        contract_id=ticket["contract_id"],
        customer_id=ticket["customer_id"],
        source=ticket["source"],
        priority=ticket["priority"],
        category=ticket["category"],
        status=ticket["status"],
        level=ticket["level"],
        opened_at=ticket["opened_at"],
        resolved_at=ticket["resolved_at"],
        first_response_due_at=first.due_at if first else None,
        resolution_due_at=resolution.due_at if resolution else None,
        confirmation_link=links.confirmation_url(deps, ticket),
        clocks=[clock_facts(c) for c in clock.clocks],
    )
    return new_event(event_type, payload, key=ticket["contract_id"], producer="tickets")


def clock_facts(clock: MetricClock) -> SlaClockFacts:
    """One metric clock as the ticket event carries it (reporting's compliance figures)."""
    return SlaClockFacts(
        metric=clock.metric,
        cycle=clock.cycle,
        priority=clock.priority,
        target_minutes=clock.target_minutes,
        calendar=clock.rule.calendar_kind,
        state=clock.state,
        started_at=clock.started_at,
        stopped_at=clock.stopped_at,
        elapsed_seconds=int(clock.elapsed.total_seconds()),
        paused_seconds=int(clock.paused.total_seconds()),
        due_at=clock.due_at,
        met=clock.met,
    )


# --- queries ----------------------------------------------------------------------------


async def ticket_out(conn: Connection, deps: Deps, ticket: asyncpg.Record) -> TicketOut:
    rows = await store.events_of(conn, [ticket["id"]])
    clock = measure(ticket, rows, deps.clock.now())
    return _out(deps, ticket, clock)


def confirmation_of(ticket: asyncpg.Record) -> ConfirmationOut | None:
    """The customer's confirmation of the ticket closed, if given."""
    if ticket["confirmed_at"] is None:
        return None
    return ConfirmationOut(
        confirmed_at=ticket["confirmed_at"], rating=ticket["rating"], comment=ticket["comment"]
    )


def _out(deps: Deps, ticket: asyncpg.Record, clock: TicketClock) -> TicketOut:
    return TicketOut(
        id=ticket["id"],
        source=ticket["source"],
        external_id=ticket["external_id"],
        reference=ticket["reference"],
        contract_id=ticket["contract_id"],
        customer_id=ticket["customer_id"],
        attribution=ticket["attribution"],
        priority=ticket["priority"],
        category=ticket["category"],
        status=ticket["status"],
        status_kind=ticket["status_kind"],
        level=ticket["level"],
        opened_at=ticket["opened_at"],
        resolved_at=ticket["resolved_at"],
        closed_at=ticket["closed_at"],
        due=due_list(clock),
        confirmation=confirmation_of(ticket),
        confirmation_link=links.confirmation_url(deps, ticket),
    )


async def get_ticket(conn: Connection, deps: Deps, ticket_id: uuid.UUID) -> TicketOut:
    ticket = await store.ticket(conn, ticket_id)
    if ticket is None:
        raise not_found(ticket_id)
    return await ticket_out(conn, deps, ticket)


async def list_tickets(
    conn: Connection,
    deps: Deps,
    *,
    contract_id: uuid.UUID | None = None,
    customer_id: uuid.UUID | None = None,
    status_kind: str | None = None,
    priority: str | None = None,
    unattributed: bool = False,
    limit: int,
    cursor: str | None,
) -> Page[TicketOut]:
    rows = await store.list_tickets(
        conn,
        contract_id=contract_id,
        customer_id=customer_id,
        status_kind=status_kind,
        priority=priority,
        unattributed=unattributed,
        after=decode_cursor(cursor),
        limit=limit + 1,
    )
    page = rows[:limit]
    now = deps.clock.now()
    events_of: dict[uuid.UUID, list[asyncpg.Record]] = {}
    for row in await store.events_of(conn, [t["id"] for t in page]):
        events_of.setdefault(row["ticket_id"], []).append(row)
    items = [_out(deps, t, measure(t, events_of.get(t["id"], []), now)) for t in page]
    next_cursor = (
        encode_cursor(page[-1]["opened_at"], page[-1]["id"]) if len(rows) > limit else None
    )
    return Page(items=items, next_cursor=next_cursor)


async def ticket_sla(conn: Connection, deps: Deps, ticket_id: uuid.UUID) -> SlaOut:
    """The ticket's clocks now: per metric and cycle the timeline (running, paused,
    stopped, outside hours), elapsed, remaining, due, the stages fired and the next one."""
    ticket = await store.ticket(conn, ticket_id)
    if ticket is None:
        raise not_found(ticket_id)
    now = deps.clock.now()
    rows = await store.events_of(conn, [ticket_id])
    clock = measure(ticket, rows, now)
    fired: dict[tuple[str, int], list[int]] = {}
    for f in await store.fired_of(conn, ticket_id):
        fired.setdefault((f["metric"], f["cycle"]), []).append(f["stage"])
    next_of = {(d["metric"], d["cycle"]): d for d in await store.due_of(conn, ticket_id)}
    terms = ticket["level_terms"]
    metrics = []
    for c in clock.clocks:
        upcoming = next_of.get((c.metric, c.cycle))
        metrics.append(
            MetricSlaOut(
                metric=c.metric,
                cycle=c.cycle,
                priority=c.priority,
                target_minutes=c.target_minutes,
                calendar=c.rule.calendar_kind,
                state=c.state,
                started_at=c.started_at,
                stopped_at=c.stopped_at,
                elapsed_minutes=round(c.elapsed.total_seconds() / 60, 2),
                remaining_minutes=round(c.remaining.total_seconds() / 60, 2),
                due_at=c.due_at,
                breached=c.breached,
                met=c.met,
                stages_fired=sorted(fired.get((c.metric, c.cycle), [])),
                next_stage=upcoming["stage"] if upcoming else None,
                next_stage_at=upcoming["due_at"] if upcoming else None,
                timeline=[SegmentOut(start=a, end=b, state=s) for a, b, s in c.timeline()],
            )
        )
    return SlaOut(
        ticket_id=ticket_id,
        reference=ticket["reference"],
        level=ticket["level"],
        calendar=terms["calendar"]["name"] if terms else None,
        timezone=terms["calendar"]["timezone"] if terms else None,
        at=now,
        metrics=metrics,
    )
