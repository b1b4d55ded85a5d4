"""What `rebuild` reads and writes: the logged events, the read models, a fresh schema."""

from __future__ import annotations

import asyncpg
from burnrate_common.db import Connection

#: The read models `rebuild` recomputes from the event log (with their primary keys, for
#: comparing). The event log, the inbox, the outbox and the API keys are not read models.
READ_MODELS: dict[str, str] = {
    "customers": "id",
    "contracts": "id",
    "contract_periods": "contract_id, start_date",
    "consumption": "contract_id, period_start, team, activity",
    "period_totals": "contract_id, period_start",
    "consumption_by_author": "contract_id, period_start, author",
    "consumption_by_location": "contract_id, period_start, location",
    "outside_dates_worklogs": "id",
    "alerts": "alert_id",
    "notifications": "delivery_id",
    "deleted_contracts": "id",
    "deleted_customers": "id",
    "tickets": "ticket_id",
    "sla_stages": "ticket_id, metric, cycle, stage",
    "statements": "statement_id",
    "invoices": "invoice_id",
}


async def logged_events(
    conn: Connection, schema: str, after_seq: int, limit: int
) -> list[asyncpg.Record]:
    """The event log of ``schema`` (the live one, read from the rebuild's connection)."""
    return await conn.fetch(
        f"""SELECT seq, envelope::text AS body FROM "{schema}".event_log WHERE seq > $1
            ORDER BY seq LIMIT $2""",
        after_seq,
        limit,
    )


async def unlogged_events(conn: Connection, schema: str, types: list[str]) -> int:
    """Events handled before the event log existed: a rebuild cannot bring them back.

    Consumption events handled before the last compaction are left out: they are in the
    log, summed into the compacted events.
    """
    count: int = await conn.fetchval(
        f"""SELECT count(*) FROM "{schema}".inbox i
            WHERE i.type = any($1::text[])
              AND NOT EXISTS (SELECT 1 FROM "{schema}".event_log l
                              WHERE l.event_id = i.event_id)
              AND NOT (i.type = 'consumption.recorded'
                       AND i.handled_at <= coalesce(
                           (SELECT max(compacted_at) FROM "{schema}".event_log_compactions),
                           '-infinity'))""",
        types,
    )
    return count


async def drop_schema(conn: Connection, schema: str) -> None:
    await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


#: Derived from the read models and the clock, not from events: emptied with them and
#: refilled by the replay (the contract handler writes each contract's row); not compared,
#: since its validity windows depend on when each row was computed.
DERIVED: tuple[str, ...] = ("contract_screen",)


async def truncate_read_models(conn: Connection) -> None:
    await conn.execute(f"TRUNCATE {', '.join([*READ_MODELS, *DERIVED])}")


async def lock_for_rebuild(conn: Connection) -> None:
    """Consumers wait (their handlers write these tables) until the rebuild commits."""
    tables = ", ".join(["event_log", *READ_MODELS, *DERIVED])
    await conn.execute(f"LOCK TABLE {tables} IN EXCLUSIVE MODE")


async def differences(conn: Connection, live: str, fresh: str) -> dict[str, int]:
    """Rows of each read model present in one schema and not the other (0 everywhere: equal)."""
    found: dict[str, int] = {}
    for table in READ_MODELS:
        a, b = f'"{live}".{table}', f'"{fresh}".{table}'
        found[table] = await conn.fetchval(
            f"""SELECT (SELECT count(*) FROM (TABLE {a} EXCEPT ALL TABLE {b}) x)
                     + (SELECT count(*) FROM (TABLE {b} EXCEPT ALL TABLE {a}) y)"""
        )
    return found
