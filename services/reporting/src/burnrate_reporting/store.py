"""All SQL of the reporting service: the event-fed writes and the reads of the API."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import asyncpg

# ---------------------------------------------------------------------------------------
# Writes (from the event handlers, inside the consumer's transaction)
# ---------------------------------------------------------------------------------------


async def upsert_customer(
    conn: asyncpg.Connection,
    customer_id: uuid.UUID,
    name: str,
    contacts: list[dict[str, Any]],
    version_at: dt.datetime,
) -> None:
    """Full state; an older version arriving late changes nothing."""
    await conn.execute(
        """INSERT INTO customers (id, name, contacts, version_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (id) DO UPDATE
               SET name = excluded.name, contacts = excluded.contacts,
                   version_at = excluded.version_at
               WHERE customers.version_at < excluded.version_at""",
        customer_id,
        name,
        contacts,
        version_at,
    )


async def check_timezone(conn: asyncpg.Connection, timezone: str) -> None:
    """Raise if PostgreSQL does not know the zone: the contract list computes "today" with it."""
    await conn.execute("SELECT now() AT TIME ZONE $1", timezone)


async def upsert_contract(
    conn: asyncpg.Connection, contract: dict[str, Any], version_at: dt.datetime
) -> bool:
    """Full state; True when this version was written, False when a newer one is stored."""
    written = await conn.fetchval(
        """INSERT INTO contracts (id, customer_id, code, title, owner_email, start_date, end_date,
                                  timezone, period, planned_hours, teams, work_accounts,
                                  created_at, version_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)
           ON CONFLICT (id) DO UPDATE
               SET customer_id = excluded.customer_id, code = excluded.code,
                   title = excluded.title, owner_email = excluded.owner_email,
                   start_date = excluded.start_date, end_date = excluded.end_date,
                   timezone = excluded.timezone, period = excluded.period,
                   planned_hours = excluded.planned_hours, teams = excluded.teams,
                   work_accounts = excluded.work_accounts,
                   created_at = least(contracts.created_at, excluded.created_at),
                   version_at = excluded.version_at
               WHERE contracts.version_at < excluded.version_at
           RETURNING true""",
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
        version_at,
    )
    return bool(written)


async def keep_earliest_created(
    conn: asyncpg.Connection, contract_id: uuid.UUID, occurred_at: dt.datetime
) -> None:
    """A stale version (e.g. ``contract.created`` after ``contract.updated``) still dates the row."""
    await conn.execute(
        "UPDATE contracts SET created_at = $2 WHERE id = $1 AND created_at > $2",
        contract_id,
        occurred_at,
    )


async def replace_periods(
    conn: asyncpg.Connection,
    contract_id: uuid.UUID,
    periods: list[tuple[dt.date, dt.date, int]],
) -> None:
    await conn.execute("DELETE FROM contract_periods WHERE contract_id = $1", contract_id)
    await conn.executemany(
        """INSERT INTO contract_periods (contract_id, start_date, end_date, planned_seconds)
           VALUES ($1, $2, $3, $4)""",
        [(contract_id, start, end, planned) for start, end, planned in periods],
    )


async def add_consumption(
    conn: asyncpg.Connection,
    contract_id: uuid.UUID,
    period_start: dt.date,
    team: str,
    activity: str,
    delta_seconds: int,
    delta_worklogs: int,
    delta_outside_dates_seconds: int,
) -> None:
    """Add a signed delta: sums commute, so arrival order does not matter."""
    await conn.execute(
        """INSERT INTO consumption (contract_id, period_start, team, activity,
                                    executed_seconds, worklogs, outside_dates_seconds)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (contract_id, period_start, team, activity) DO UPDATE
               SET executed_seconds = consumption.executed_seconds + excluded.executed_seconds,
                   worklogs = consumption.worklogs + excluded.worklogs,
                   outside_dates_seconds =
                       consumption.outside_dates_seconds + excluded.outside_dates_seconds""",
        contract_id,
        period_start,
        team,
        activity,
        delta_seconds,
        delta_worklogs,
        delta_outside_dates_seconds,
    )


async def upsert_worklog_version(
    conn: asyncpg.Connection, worklog: dict[str, Any], *, deleted: bool, version_at: dt.datetime
) -> None:
    """Keep the newest known version of a worklog that is, or was, outside the dates."""
    await conn.execute(
        """INSERT INTO outside_dates_worklogs (id, contract_id, period_start, source, external_id,
                                               author, team, activity, started_at, seconds,
                                               ticket, outside_dates, deleted, version_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
           ON CONFLICT (id) DO UPDATE
               SET contract_id = excluded.contract_id, period_start = excluded.period_start,
                   source = excluded.source, external_id = excluded.external_id,
                   author = excluded.author, team = excluded.team,
                   activity = excluded.activity, started_at = excluded.started_at,
                   seconds = excluded.seconds, ticket = excluded.ticket,
                   outside_dates = excluded.outside_dates, deleted = excluded.deleted,
                   version_at = excluded.version_at
               WHERE outside_dates_worklogs.version_at < excluded.version_at""",
        worklog["id"],
        worklog["contract_id"],
        worklog["period_start"],
        worklog["source"],
        worklog["external_id"],
        worklog["author"],
        worklog["team"],
        worklog["activity"],
        worklog["started_at"],
        worklog["seconds"],
        worklog["ticket"],
        worklog["outside_dates"],
        deleted,
        version_at,
    )


async def insert_alert(
    conn: asyncpg.Connection, alert: dict[str, Any], raised_at: dt.datetime
) -> None:
    await conn.execute(
        """INSERT INTO alerts (alert_id, rule_id, rule_name, contract_id, period_start,
                               period_end, trigger, stage, planned_seconds, executed_seconds,
                               raised_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           ON CONFLICT (alert_id) DO NOTHING""",
        alert["alert_id"],
        alert["rule_id"],
        alert["rule_name"],
        alert["contract_id"],
        alert["period_start"],
        alert["period_end"],
        alert["trigger"],
        alert["stage"],
        alert["planned_seconds"],
        alert["executed_seconds"],
        raised_at,
    )


async def upsert_notification(
    conn: asyncpg.Connection, outcome: dict[str, Any], status: str, version_at: dt.datetime
) -> None:
    """The latest outcome per delivery, so a retried delivery counts once."""
    await conn.execute(
        """INSERT INTO notifications (delivery_id, alert_id, contract_id, channel, recipient,
                                      status, attempts, error, version_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (delivery_id) DO UPDATE
               SET status = excluded.status, attempts = excluded.attempts,
                   error = excluded.error, version_at = excluded.version_at
               WHERE notifications.version_at < excluded.version_at""",
        outcome["delivery_id"],
        outcome["alert_id"],
        outcome["contract_id"],
        outcome["channel"],
        outcome["recipient"],
        status,
        outcome["attempts"],
        outcome["error"],
        version_at,
    )


# ---------------------------------------------------------------------------------------
# Reads (the API)
# ---------------------------------------------------------------------------------------

#: The rule of ``domain.status.derive_status`` in SQL, so the list can filter and paginate.
STATUS_SQL = """CASE WHEN local_today < start_date THEN 'not_started'
                     WHEN local_today > end_date THEN 'expired'
                     WHEN planned_seconds IS NOT NULL AND executed_seconds >= planned_seconds
                         THEN 'exhausted'
                     ELSE 'active' END"""

_SCREEN = f"""
    WITH screen AS (
        SELECT c.id, c.customer_id, cu.name AS customer_name, c.code, c.title, c.start_date,
               c.end_date, c.timezone, c.created_at, t.local_today,
               cp.start_date AS period_start, cp.end_date AS period_end, cp.planned_seconds,
               coalesce(x.executed_seconds, 0) AS executed_seconds
        FROM contracts c
        CROSS JOIN LATERAL (SELECT ($1::timestamptz AT TIME ZONE c.timezone)::date AS local_today) t
        LEFT JOIN customers cu ON cu.id = c.customer_id
        LEFT JOIN contract_periods cp
               ON cp.contract_id = c.id AND t.local_today BETWEEN cp.start_date AND cp.end_date
        LEFT JOIN LATERAL (
            SELECT sum(k.executed_seconds)::bigint AS executed_seconds FROM consumption k
            WHERE k.contract_id = c.id AND k.period_start = cp.start_date) x ON true
        WHERE (c.created_at, c.id) > ($2, $3) AND ($5::uuid IS NULL OR c.customer_id = $5)
    ),
    rated AS (SELECT screen.*, {STATUS_SQL} AS status FROM screen)
    SELECT r.*, la.stage AS alert_stage, la.trigger AS alert_trigger,
           la.raised_at AS alert_raised_at, n.sent AS notifications_sent,
           n.failed AS notifications_failed
    FROM rated r
    LEFT JOIN LATERAL (
        SELECT a.stage, a.trigger, a.raised_at FROM alerts a WHERE a.contract_id = r.id
        ORDER BY a.raised_at DESC, a.alert_id DESC LIMIT 1) la ON true
    CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE o.status = 'sent') AS sent,
               count(*) FILTER (WHERE o.status = 'failed') AS failed
        FROM notifications o WHERE o.contract_id = r.id) n
    WHERE ($6::text IS NULL OR r.status = $6)
    ORDER BY r.created_at, r.id
    LIMIT $4
"""


async def list_contracts(
    conn: asyncpg.Connection,
    now: dt.datetime,
    after: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
    *,
    customer_id: uuid.UUID | None = None,
    status: str | None = None,
) -> list[asyncpg.Record]:
    """The contract screen: each contract with its current period's figures in its own zone."""
    created_at, last_id = after or (dt.datetime.min.replace(tzinfo=dt.UTC), uuid.UUID(int=0))
    return await conn.fetch(_SCREEN, now, created_at, last_id, limit, customer_id, status)


async def customer_known(conn: asyncpg.Connection, customer_id: uuid.UUID) -> bool:
    """Known by its own event or, before that arrives, by one of its contracts."""
    return bool(
        await conn.fetchval(
            """SELECT EXISTS (SELECT 1 FROM customers WHERE id = $1)
                   OR EXISTS (SELECT 1 FROM contracts WHERE customer_id = $1)""",
            customer_id,
        )
    )


async def get_contract(
    conn: asyncpg.Connection, contract_id: uuid.UUID, now: dt.datetime
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT c.id, c.customer_id, cu.name AS customer_name, c.code, c.title, c.start_date,
                  c.end_date, c.timezone, ($2::timestamptz AT TIME ZONE c.timezone)::date AS local_today
           FROM contracts c LEFT JOIN customers cu ON cu.id = c.customer_id
           WHERE c.id = $1""",
        contract_id,
        now,
    )


async def get_periods(conn: asyncpg.Connection, contract_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT start_date, end_date, planned_seconds FROM contract_periods
           WHERE contract_id = $1 ORDER BY start_date""",
        contract_id,
    )


async def period_totals(
    conn: asyncpg.Connection, contract_id: uuid.UUID, period_start: dt.date
) -> asyncpg.Record:
    row = await conn.fetchrow(
        """SELECT coalesce(sum(executed_seconds), 0)::bigint AS executed_seconds,
                  coalesce(sum(worklogs), 0)::bigint AS worklogs,
                  coalesce(sum(outside_dates_seconds), 0)::bigint AS outside_dates_seconds
           FROM consumption WHERE contract_id = $1 AND period_start = $2""",
        contract_id,
        period_start,
    )
    assert row is not None  # an aggregate without GROUP BY always yields one row
    return row


# Groups whose worklogs were all corrected away (sum and count back to zero) are left out.
async def executed_by_team(
    conn: asyncpg.Connection, contract_id: uuid.UUID, period_start: dt.date
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT team, sum(executed_seconds)::bigint AS executed_seconds
           FROM consumption WHERE contract_id = $1 AND period_start = $2
           GROUP BY team HAVING sum(executed_seconds) <> 0 OR sum(worklogs) <> 0
           ORDER BY team""",
        contract_id,
        period_start,
    )


async def executed_by_activity(
    conn: asyncpg.Connection, contract_id: uuid.UUID, period_start: dt.date
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT activity, sum(executed_seconds)::bigint AS executed_seconds
           FROM consumption WHERE contract_id = $1 AND period_start = $2
           GROUP BY activity HAVING sum(executed_seconds) <> 0 OR sum(worklogs) <> 0
           ORDER BY activity""",
        contract_id,
        period_start,
    )


async def outside_dates_worklogs(
    conn: asyncpg.Connection, contract_id: uuid.UUID, period_start: dt.date
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id, author, team, activity, started_at, seconds, ticket
           FROM outside_dates_worklogs
           WHERE contract_id = $1 AND period_start = $2 AND outside_dates AND NOT deleted
           ORDER BY started_at, id""",
        contract_id,
        period_start,
    )


async def period_alerts(
    conn: asyncpg.Connection, contract_id: uuid.UUID, period_start: dt.date
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT stage, trigger, rule_name, raised_at FROM alerts
           WHERE contract_id = $1 AND period_start = $2 ORDER BY raised_at, alert_id""",
        contract_id,
        period_start,
    )
