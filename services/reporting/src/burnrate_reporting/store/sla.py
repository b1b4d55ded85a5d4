"""Tickets, their clocks and the stages of their targets: the event-fed writes and the
compliance reads."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg
from burnrate_common.db import Connection


async def upsert_ticket(
    conn: Connection, ticket: dict[str, Any], clocks: list[dict[str, Any]], version_at: dt.datetime
) -> None:
    """Full state: a version older than the stored one changes nothing."""
    await conn.execute(
        """INSERT INTO tickets (ticket_id, contract_id, customer_id, reference, source, priority,
                                category, status, level, opened_at, resolved_at, clocks,
                                version_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
           ON CONFLICT (ticket_id) DO UPDATE
               SET contract_id = excluded.contract_id, customer_id = excluded.customer_id,
                   reference = excluded.reference, source = excluded.source,
                   priority = excluded.priority, category = excluded.category,
                   status = excluded.status, level = excluded.level,
                   opened_at = excluded.opened_at, resolved_at = excluded.resolved_at,
                   clocks = excluded.clocks, version_at = excluded.version_at
               WHERE tickets.version_at < excluded.version_at""",
        ticket["ticket_id"],
        ticket["contract_id"],
        ticket["customer_id"],
        ticket["reference"],
        ticket["source"],
        ticket["priority"],
        ticket["category"],
        ticket["status"],
        ticket["level"],
        ticket["opened_at"],
        ticket["resolved_at"],
        clocks,
        version_at,
    )


async def insert_stage(conn: Connection, stage: dict[str, Any]) -> None:
    """Each stage is fired once per ticket, metric, cycle and stage; a repeat changes nothing."""
    await conn.execute(
        """INSERT INTO sla_stages (ticket_id, metric, cycle, stage, contract_id, customer_id,
                                   reference, priority, level, category, target_minutes, due_at,
                                   expected_at, reached_at, timezone)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
           ON CONFLICT (ticket_id, metric, cycle, stage) DO NOTHING""",
        stage["ticket_id"],
        stage["metric"],
        stage["cycle"],
        stage["stage"],
        stage["contract_id"],
        stage["customer_id"],
        stage["reference"],
        stage["priority"],
        stage["level"],
        stage["category"],
        stage["target_minutes"],
        stage["due_at"],
        stage["expected_at"],
        stage["reached_at"],
        stage["timezone"],
    )


# --- reads ---------------------------------------------------------------------------------

#: The tickets of a contract or a customer opened in [$2, $3), with the zone their month is
#: counted in (their contract's; UTC while the contract is unknown) and its code.
_TICKETS = """
    SELECT t.ticket_id, t.contract_id, t.customer_id, t.reference, t.priority, t.category,
           t.status, t.level, t.opened_at, t.resolved_at, t.clocks,
           coalesce(c.timezone, 'UTC') AS timezone, c.code AS contract_code
    FROM tickets t LEFT JOIN contracts c ON c.id = t.contract_id
    WHERE t.{column} = $1 AND t.opened_at >= $2 AND t.opened_at < $3
    ORDER BY t.opened_at, t.ticket_id"""


async def tickets_of(
    conn: Connection,
    *,
    contract_id: uuid.UUID | None,
    customer_id: uuid.UUID | None,
    opened_from: dt.datetime,
    opened_before: dt.datetime,
) -> list[asyncpg.Record]:
    """The tickets of one contract (``contract_id``) or of every contract of one customer.
    The window is a little wider than the report's (a day each side): each ticket's own
    zone decides its month."""
    column, key = ("contract_id", contract_id) if contract_id else ("customer_id", customer_id)
    return await conn.fetch(_TICKETS.format(column=column), key, opened_from, opened_before)


async def breaches_of(conn: Connection, ticket_ids: list[uuid.UUID]) -> list[asyncpg.Record]:
    """The breach stages (100) of these tickets."""
    return await conn.fetch(
        """SELECT ticket_id, metric, cycle, priority, level, category, target_minutes, due_at,
                  expected_at, reached_at, timezone
           FROM sla_stages WHERE ticket_id = any($1::uuid[]) AND stage = 100
           ORDER BY reached_at, ticket_id""",
        ticket_ids,
    )


async def warnings_of(conn: Connection, ticket_ids: list[uuid.UUID]) -> list[asyncpg.Record]:
    """The (ticket, metric, cycle) warned at risk before any breach."""
    return await conn.fetch(
        """SELECT DISTINCT ticket_id, metric, cycle FROM sla_stages
           WHERE ticket_id = any($1::uuid[]) AND stage < 100""",
        ticket_ids,
    )


async def contracts_with_levels(
    conn: Connection, *, contract_id: uuid.UUID | None, customer_id: uuid.UUID | None
) -> list[asyncpg.Record]:
    """The contract (or the customer's contracts) with the service levels they carry."""
    column, key = ("id", contract_id) if contract_id else ("customer_id", customer_id)
    return await conn.fetch(
        f"""SELECT c.id, c.customer_id, cu.name AS customer_name, c.code, c.title, c.timezone,
                   c.start_date, c.end_date, c.service_levels
            FROM contracts c LEFT JOIN customers cu ON cu.id = c.customer_id
            WHERE c.{column} = $1 ORDER BY c.code, c.id""",
        key,
    )
