"""The business metrics, counted from the read models."""

from __future__ import annotations

import datetime as dt

import asyncpg
from burnrate_common.db import Connection

from burnrate_reporting.store.screen import SCREEN_FROM, STATUS_SQL, no_jit


async def contracts_by_status(
    conn: Connection, now: dt.datetime, expiring_within_days: int
) -> dict[str, int]:
    async with conn.transaction():
        await no_jit(conn)
        rows = await _contracts_by_status(conn, now, expiring_within_days)
    return {r["status"]: r["n"] for r in rows}


async def _contracts_by_status(
    conn: Connection, now: dt.datetime, expiring_within_days: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""WITH screen AS (
                SELECT c.start_date, c.end_date, cp.local_today, cp.planned_seconds,
                       cp.executed_seconds
                {SCREEN_FROM})
            SELECT status, count(*)::int AS n
            FROM (SELECT {STATUS_SQL.format(days="$2")} AS status FROM screen) s
            GROUP BY status""",
        now,
        expiring_within_days,
    )


async def business_figures(conn: Connection) -> asyncpg.Record:
    row = await conn.fetchrow(
        """SELECT (SELECT coalesce(sum(executed_seconds), 0)::bigint FROM period_totals)
                      AS executed_seconds,
                  (SELECT count(*)::bigint FROM alerts) AS alerts,
                  (SELECT count(*) FILTER (WHERE status = 'failed')::bigint FROM notifications)
                      AS deliveries_failed,
                  (SELECT count(*) FILTER (WHERE status = 'sent')::bigint FROM notifications)
                      AS deliveries_sent,
                  (SELECT occurred_at FROM event_log ORDER BY seq DESC LIMIT 1) AS last_occurred_at"""
    )
    assert row is not None
    return row


async def alerts_by_trigger(conn: Connection) -> dict[str, int]:
    rows = await conn.fetch("SELECT trigger, count(*)::int AS n FROM alerts GROUP BY trigger")
    return {r["trigger"]: r["n"] for r in rows}
