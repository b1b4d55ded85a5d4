"""All SQL of the contracts service."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import asyncpg


async def insert_customer(
    conn: asyncpg.Connection, customer_id: uuid.UUID, name: str, contacts: list[dict[str, Any]]
) -> None:
    await conn.execute("INSERT INTO customers (id, name) VALUES ($1, $2)", customer_id, name)
    await conn.executemany(
        """INSERT INTO contacts (id, customer_id, name, email, language, position)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        [
            (c["id"], customer_id, c["name"], c["email"], c["language"], i)
            for i, c in enumerate(contacts)
        ],
    )


_CUSTOMER_SELECT = """
    SELECT c.id, c.name, c.created_at,
           coalesce(jsonb_agg(jsonb_build_object(
               'id', k.id, 'name', k.name, 'email', k.email, 'language', k.language)
               ORDER BY k.position) FILTER (WHERE k.id IS NOT NULL), '[]') AS contacts
    FROM customers c LEFT JOIN contacts k ON k.customer_id = c.id
"""


async def get_customer(conn: asyncpg.Connection, customer_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(_CUSTOMER_SELECT + " WHERE c.id = $1 GROUP BY c.id", customer_id)


async def list_customers(
    conn: asyncpg.Connection, after: tuple[dt.datetime, uuid.UUID] | None, limit: int
) -> list[asyncpg.Record]:
    created_at, last_id = after or (dt.datetime.min.replace(tzinfo=dt.UTC), uuid.UUID(int=0))
    return await conn.fetch(
        _CUSTOMER_SELECT
        + " WHERE (c.created_at, c.id) > ($1, $2) GROUP BY c.id ORDER BY c.created_at, c.id LIMIT $3",
        created_at,
        last_id,
        limit,
    )


async def customer_exists(conn: asyncpg.Connection, customer_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval("SELECT true FROM customers WHERE id = $1", customer_id))


async def code_taken(conn: asyncpg.Connection, code: str) -> bool:
    return bool(await conn.fetchval("SELECT true FROM contracts WHERE code = $1", code))


async def work_accounts_in_use(
    conn: asyncpg.Connection, accounts: list[str], start_date: dt.date, end_date: dt.date
) -> list[str]:
    """Accounts already routed to another contract whose dates overlap these."""
    rows = await conn.fetch(
        """SELECT DISTINCT account FROM contracts, unnest(work_accounts) AS account
           WHERE work_accounts && $1::text[] AND account = any($1::text[])
             AND start_date <= $3 AND end_date >= $2""",
        accounts,
        start_date,
        end_date,
    )
    return sorted(r["account"] for r in rows)


async def insert_contract(conn: asyncpg.Connection, contract: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO contracts (id, customer_id, code, title, owner_email, start_date, end_date,
                                  timezone, period, planned_hours, teams, work_accounts)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)""",
        contract["id"],
        contract["customer_id"],
        contract["code"],
        contract["title"],
        contract["owner_email"],
        contract["start_date"],
        contract["end_date"],
        contract["timezone"],
        contract["period"],
        Decimal(contract["planned_hours"]),
        contract["teams"],
        contract["work_accounts"],
    )


_CONTRACT_COLUMNS = """id, customer_id, code, title, owner_email, start_date, end_date, timezone,
                       period, planned_hours, teams, work_accounts, created_at, updated_at"""


async def get_contract(conn: asyncpg.Connection, contract_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_CONTRACT_COLUMNS} FROM contracts WHERE id = $1", contract_id
    )


async def list_contracts(
    conn: asyncpg.Connection,
    after: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
    customer_id: uuid.UUID | None,
) -> list[asyncpg.Record]:
    created_at, last_id = after or (dt.datetime.min.replace(tzinfo=dt.UTC), uuid.UUID(int=0))
    return await conn.fetch(
        f"""SELECT {_CONTRACT_COLUMNS} FROM contracts
            WHERE (created_at, id) > ($1, $2) AND ($4::uuid IS NULL OR customer_id = $4)
            ORDER BY created_at, id LIMIT $3""",
        created_at,
        last_id,
        limit,
        customer_id,
    )


async def insert_api_key(
    conn: asyncpg.Connection, key_id: uuid.UUID, name: str, key_hash: str, scopes: list[str]
) -> None:
    await conn.execute(
        "INSERT INTO api_keys (id, name, key_hash, scopes) VALUES ($1, $2, $3, $4)",
        key_id,
        name,
        key_hash,
        scopes,
    )


async def list_api_keys(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, name, scopes, created_at, revoked_at FROM api_keys ORDER BY created_at"
    )
