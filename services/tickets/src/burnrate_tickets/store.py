"""All SQL of the tickets service."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
from burnrate_common.db import Connection
from burnrate_common.events import ContractChanged

_TICKET_COLUMNS = """id, source, external_id, reference, contract_id, customer_id,
    asked_contract_id, asked_customer_id, project_key, organization_id, attribution, opening_priority,
    priority, category, status, status_kind, level, level_terms, opened_at,
    opening_confirmed, resolved_at, closed_at, resolution_seconds, announced, confirmed_at,
    rating, comment, created_at, updated_at"""

# --- the contract replica ---------------------------------------------------------------


async def upsert_contract(
    conn: Connection, contract: ContractChanged, changed_at: dt.datetime
) -> bool:
    """Store the contract's state; False (and nothing written) if a newer state is held."""
    row = await conn.fetchval(
        """INSERT INTO contracts (id, customer_id, code, timezone, start_date, end_date,
                                  lifecycle, jira_project_keys, service_levels, changed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10)
           ON CONFLICT (id) DO UPDATE SET
               customer_id = excluded.customer_id, code = excluded.code,
               timezone = excluded.timezone, start_date = excluded.start_date,
               end_date = excluded.end_date, lifecycle = excluded.lifecycle,
               jira_project_keys = excluded.jira_project_keys,
               service_levels = excluded.service_levels, changed_at = excluded.changed_at
           WHERE contracts.changed_at <= excluded.changed_at
           RETURNING 1""",
        contract.id,
        contract.customer_id,
        contract.code,
        contract.timezone,
        contract.start_date,
        contract.end_date,
        contract.lifecycle,
        [key.upper() for key in contract.jira_project_keys],
        [level.model_dump(mode="json") for level in contract.service_levels],
        changed_at,
    )
    return row is not None


async def contract(conn: Connection, contract_id: uuid.UUID) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT * FROM contracts WHERE id = $1", contract_id
    )
    return row


async def contracts_of_customer(conn: Connection, customer_id: uuid.UUID) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT * FROM contracts WHERE customer_id = $1 AND lifecycle = 'active'
           ORDER BY start_date DESC, id""",
        customer_id,
    )
    return rows


async def contracts_of_project(conn: Connection, project_key: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT * FROM contracts WHERE jira_project_keys @> ARRAY[$1::text]
             AND lifecycle = 'active'
           ORDER BY start_date DESC, id""",
        project_key.upper(),
    )
    return rows


# --- tickets ----------------------------------------------------------------------------


async def ticket(
    conn: Connection, ticket_id: uuid.UUID, *, lock: bool = False
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {_TICKET_COLUMNS} FROM tickets WHERE id = $1{' FOR UPDATE' if lock else ''}",
        ticket_id,
    )
    return row


async def ticket_of_source(
    conn: Connection, source: str, external_id: str, *, lock: bool = False
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        f"""SELECT {_TICKET_COLUMNS} FROM tickets WHERE source = $1 AND external_id = $2
            {"FOR UPDATE" if lock else ""}""",
        source,
        external_id,
    )
    return row


async def insert_ticket(conn: Connection, values: dict[str, Any]) -> asyncpg.Record | None:
    """Insert a ticket; None if the source's ticket exists already (a concurrent open)."""
    names = list(values)
    placeholders = ", ".join(
        f"${n}::jsonb" if name == "level_terms" else f"${n}"
        for n, name in enumerate(names, start=1)
    )
    row: asyncpg.Record | None = await conn.fetchrow(
        f"""INSERT INTO tickets ({", ".join(names)}) VALUES ({placeholders})
            ON CONFLICT (source, external_id) DO NOTHING RETURNING {_TICKET_COLUMNS}""",
        *values.values(),
    )
    return row


async def update_ticket(
    conn: Connection, ticket_id: uuid.UUID, values: dict[str, Any]
) -> asyncpg.Record:
    sets = ", ".join(
        f"{name} = ${n}::jsonb" if name == "level_terms" else f"{name} = ${n}"
        for n, name in enumerate(values, start=2)
    )
    row: asyncpg.Record | None = await conn.fetchrow(
        f"""UPDATE tickets SET {sets}, updated_at = now() WHERE id = $1
            RETURNING {_TICKET_COLUMNS}""",
        ticket_id,
        *values.values(),
    )
    assert row is not None, f"ticket {ticket_id} vanished"
    return row


async def waiting_for_contract(
    conn: Connection, contract_id: uuid.UUID, customer_id: uuid.UUID, project_keys: list[str]
) -> list[asyncpg.Record]:
    """Tickets this contract may attribute or measure: the unattributed ones that asked
    for it (or its customer, or one of its Jira projects) and its own without a level."""
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""SELECT {_TICKET_COLUMNS} FROM tickets
            WHERE (contract_id IS NULL AND (asked_contract_id = $1
                       OR (asked_contract_id IS NULL AND asked_customer_id = $2)
                       OR (asked_contract_id IS NULL AND asked_customer_id IS NULL
                           AND project_key = any($3::text[]))))
               OR (contract_id = $1 AND level IS NULL)
            ORDER BY id FOR UPDATE""",
        contract_id,
        customer_id,
        [key.upper() for key in project_keys],
    )
    return rows


async def list_tickets(
    conn: Connection,
    *,
    contract_id: uuid.UUID | None,
    customer_id: uuid.UUID | None,
    status_kind: str | None,
    priority: str | None,
    unattributed: bool,
    after: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    where: list[str] = ["true"]
    args: list[Any] = []
    for column, value in (
        ("contract_id", contract_id),
        ("customer_id", customer_id),
        ("status_kind", status_kind),
        ("priority", priority),
    ):
        if value is not None:
            args.append(value)
            where.append(f"{column} = ${len(args)}")
    if unattributed:
        where.append("contract_id IS NULL")
    if after is not None:
        args.extend(after)
        where.append(f"(opened_at, id) < (${len(args) - 1}, ${len(args)})")
    args.append(limit)
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""SELECT {_TICKET_COLUMNS} FROM tickets WHERE {" AND ".join(where)}
            ORDER BY opened_at DESC, id DESC LIMIT ${len(args)}""",
        *args,
    )
    return rows


async def insert_events(
    conn: Connection, ticket_id: uuid.UUID, source: str, events: Sequence[dict[str, Any]]
) -> list[str]:
    """Store the events not seen before (per source and event id); their ids."""
    if not events:
        return []
    rows = await conn.fetch(
        """INSERT INTO ticket_events (ticket_id, source, event_id, kind, occurred_at, status,
                                      status_kind, by_whom, public, priority)
           SELECT $1, $2, * FROM unnest($3::text[], $4::text[], $5::timestamptz[],
                                        $6::text[], $7::text[], $8::text[], $9::boolean[],
                                        $10::text[])
           ON CONFLICT (source, event_id) DO NOTHING RETURNING event_id""",
        ticket_id,
        source,
        [e["event_id"] for e in events],
        [e["kind"] for e in events],
        [e["occurred_at"] for e in events],
        [e.get("status") for e in events],
        [e.get("status_kind") for e in events],
        [e.get("by_whom") for e in events],
        [e.get("public") for e in events],
        [e.get("priority") for e in events],
    )
    return [r["event_id"] for r in rows]


async def event_owner(conn: Connection, source: str, event_id: str) -> uuid.UUID | None:
    owner: uuid.UUID | None = await conn.fetchval(
        "SELECT ticket_id FROM ticket_events WHERE source = $1 AND event_id = $2",
        source,
        event_id,
    )
    return owner


async def events_of(conn: Connection, ticket_ids: Sequence[uuid.UUID]) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT * FROM ticket_events WHERE ticket_id = any($1::uuid[])
           ORDER BY ticket_id, occurred_at, seq""",
        list(ticket_ids),
    )
    return rows


# --- stages -----------------------------------------------------------------------------


async def fired_of(conn: Connection, ticket_id: uuid.UUID) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT * FROM fired_stages WHERE ticket_id = $1 ORDER BY metric, cycle, stage",
        ticket_id,
    )
    return rows


async def fired_of_many(conn: Connection, ids: Sequence[uuid.UUID]) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT * FROM fired_stages WHERE ticket_id = any($1::uuid[])", list(ids)
    )
    return rows


async def insert_fired_many(
    conn: Connection,
    rows: Sequence[tuple[uuid.UUID, str, int, int, dt.datetime, dt.datetime, bool]],
) -> set[tuple[uuid.UUID, str, int, int]]:
    """Insert ``(ticket_id, metric, cycle, stage, reached_at, fired_at, announced)`` rows;
    the keys of those not fired before (the key decides, not a check)."""
    if not rows:
        return set()
    columns = list(zip(*rows, strict=True))
    inserted = await conn.fetch(
        """INSERT INTO fired_stages (ticket_id, metric, cycle, stage, reached_at, fired_at,
                                     announced)
           SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::int[],
                                $5::timestamptz[], $6::timestamptz[], $7::boolean[])
           ON CONFLICT DO NOTHING RETURNING ticket_id, metric, cycle, stage""",
        *(list(c) for c in columns),
    )
    return {(r["ticket_id"], r["metric"], r["cycle"], r["stage"]) for r in inserted}


async def replace_due_many(
    conn: Connection,
    ids: Sequence[uuid.UUID],
    rows: Sequence[tuple[uuid.UUID, str, int, int, dt.datetime]],
) -> None:
    """The next stages of the tickets ``ids``: ``(ticket_id, metric, cycle, stage,
    due_at)``, one per running clock; their other rows go."""
    await conn.execute("DELETE FROM due_stages WHERE ticket_id = any($1::uuid[])", list(ids))
    if rows:
        columns = list(zip(*rows, strict=True))
        await conn.execute(
            """INSERT INTO due_stages (ticket_id, metric, cycle, stage, due_at)
               SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::int[],
                                    $5::timestamptz[])""",
            *(list(c) for c in columns),
        )


async def median_resolution_seconds_many(
    conn: Connection, asks: Sequence[tuple[uuid.UUID, uuid.UUID, str]]
) -> dict[uuid.UUID, float]:
    """Per ``(ticket_id, contract_id, priority)``: the median resolution time of the
    contract's other tickets of that priority (absent: none resolved yet)."""
    if not asks:
        return {}
    ticket_ids, contract_ids, priorities = (list(c) for c in zip(*asks, strict=True))
    rows = await conn.fetch(
        """SELECT a.id, (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY resolution_seconds)
                         FROM tickets t
                         WHERE t.contract_id = a.contract_id AND t.priority = a.priority
                           AND t.resolution_seconds IS NOT NULL AND t.id <> a.id) AS median
           FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS a(id, contract_id, priority)""",
        ticket_ids,
        contract_ids,
        priorities,
    )
    return {r["id"]: r["median"] for r in rows if r["median"] is not None}


async def due_tickets(conn: Connection, now: dt.datetime, limit: int) -> list[uuid.UUID]:
    """Tickets with a stage due by ``now``, the most overdue first."""
    rows = await conn.fetch(
        """SELECT ticket_id FROM due_stages WHERE due_at <= $1
           GROUP BY ticket_id ORDER BY min(due_at) LIMIT $2""",
        now,
        limit,
    )
    return [r["ticket_id"] for r in rows]


async def next_due_at(conn: Connection) -> dt.datetime | None:
    """The instant the next scheduled stage falls due (None: nothing scheduled)."""
    at: dt.datetime | None = await conn.fetchval("SELECT min(due_at) FROM due_stages")
    return at


async def lock_tickets(conn: Connection, ids: Sequence[uuid.UUID]) -> list[asyncpg.Record]:
    """The tickets no other transaction holds (a writer reschedules its own ticket)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""SELECT {_TICKET_COLUMNS} FROM tickets WHERE id = any($1::uuid[])
            ORDER BY id FOR UPDATE SKIP LOCKED""",
        list(ids),
    )
    return rows


async def due_of(conn: Connection, ticket_id: uuid.UUID) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT * FROM due_stages WHERE ticket_id = $1 ORDER BY due_at", ticket_id
    )
    return rows


# --- Zendesk organizations --------------------------------------------------------------


async def put_zendesk_organization(
    conn: Connection, org_id: str, customer_id: uuid.UUID
) -> tuple[asyncpg.Record, bool]:
    """Map ``org_id`` to ``customer_id``; ``(row, created)``."""
    row = await conn.fetchrow(
        """INSERT INTO zendesk_organizations (org_id, customer_id) VALUES ($1, $2)
           ON CONFLICT (org_id) DO UPDATE SET customer_id = excluded.customer_id,
               updated_at = CASE WHEN zendesk_organizations.customer_id = excluded.customer_id
                                 THEN zendesk_organizations.updated_at ELSE now() END
           RETURNING *, (xmax = 0) AS created""",
        org_id,
        customer_id,
    )
    assert row is not None
    return row, bool(row["created"])


async def zendesk_organization(conn: Connection, org_id: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT * FROM zendesk_organizations WHERE org_id = $1", org_id
    )
    return row


async def zendesk_organizations(
    conn: Connection, after: str | None, limit: int
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT * FROM zendesk_organizations WHERE $1::text IS NULL OR org_id > $1
           ORDER BY org_id LIMIT $2""",
        after,
        limit,
    )
    return rows


async def delete_zendesk_organization(conn: Connection, org_id: str) -> bool:
    done = await conn.fetchval(
        "DELETE FROM zendesk_organizations WHERE org_id = $1 RETURNING 1", org_id
    )
    return done is not None


async def unattributed_of_organization(
    conn: Connection, source: str, org_id: str
) -> list[asyncpg.Record]:
    """Tickets of a source's organization kept without a contract, for which the source
    named neither contract nor customer."""
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""SELECT {_TICKET_COLUMNS} FROM tickets
            WHERE contract_id IS NULL AND organization_id = $2 AND source = $1
              AND asked_contract_id IS NULL
            ORDER BY id FOR UPDATE""",
        source,
        org_id,
    )
    return rows
