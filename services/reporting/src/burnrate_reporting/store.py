"""All SQL of the reporting service: the event-fed writes and the reads of the API."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import asyncpg
from burnrate_common.db import RawJson
from burnrate_common.events import Envelope

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
                                  created_at, version_at, lifecycle, currency, rollover_policy,
                                  allowance_policy)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14, $15, $16,
                   $17)
           ON CONFLICT (id) DO UPDATE
               SET customer_id = excluded.customer_id, code = excluded.code,
                   title = excluded.title, owner_email = excluded.owner_email,
                   start_date = excluded.start_date, end_date = excluded.end_date,
                   timezone = excluded.timezone, period = excluded.period,
                   planned_hours = excluded.planned_hours, teams = excluded.teams,
                   work_accounts = excluded.work_accounts,
                   created_at = least(contracts.created_at, excluded.created_at),
                   version_at = excluded.version_at, lifecycle = excluded.lifecycle,
                   currency = excluded.currency, rollover_policy = excluded.rollover_policy,
                   allowance_policy = excluded.allowance_policy
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
        contract.get("lifecycle", "active"),
        contract.get("currency", "EUR"),
        (contract.get("rollover") or {}).get("policy", "none"),
        contract.get("allowance_policy", "overage_allowed"),
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


#: Who logged time when ConsumptionRecorded.author is None.
UNKNOWN_AUTHOR = "unknown"


async def add_consumption(
    conn: asyncpg.Connection,
    contract_id: uuid.UUID,
    period_start: dt.date,
    team: str,
    activity: str,
    delta_seconds: int,
    delta_worklogs: int,
    delta_outside_dates_seconds: int,
    author: str | None = None,
) -> None:
    """Add a signed delta to the three sums (by team and activity, by period, by person):
    sums commute, so arrival order does not matter. One round trip."""
    await conn.execute(
        """WITH by_group AS (
               INSERT INTO consumption (contract_id, period_start, team, activity,
                                        executed_seconds, worklogs, outside_dates_seconds)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (contract_id, period_start, team, activity) DO UPDATE
                   SET executed_seconds =
                           consumption.executed_seconds + excluded.executed_seconds,
                       worklogs = consumption.worklogs + excluded.worklogs,
                       outside_dates_seconds =
                           consumption.outside_dates_seconds + excluded.outside_dates_seconds),
           by_period AS (
               INSERT INTO period_totals (contract_id, period_start, executed_seconds, worklogs,
                                          outside_dates_seconds)
               VALUES ($1, $2, $5, $6, $7)
               ON CONFLICT (contract_id, period_start) DO UPDATE
                   SET executed_seconds =
                           period_totals.executed_seconds + excluded.executed_seconds,
                       worklogs = period_totals.worklogs + excluded.worklogs,
                       outside_dates_seconds =
                           period_totals.outside_dates_seconds + excluded.outside_dates_seconds)
           INSERT INTO consumption_by_author (contract_id, period_start, author,
                                              executed_seconds, worklogs)
           VALUES ($1, $2, $8, $5, $6)
           ON CONFLICT (contract_id, period_start, author) DO UPDATE
               SET executed_seconds =
                       consumption_by_author.executed_seconds + excluded.executed_seconds,
                   worklogs = consumption_by_author.worklogs + excluded.worklogs""",
        contract_id,
        period_start,
        team,
        activity,
        delta_seconds,
        delta_worklogs,
        delta_outside_dates_seconds,
        author if author is not None else UNKNOWN_AUTHOR,
    )


async def log_event(conn: asyncpg.Connection, envelope: Envelope) -> None:
    """Keep the envelope for `rebuild`, in the transaction of its effect."""
    await conn.execute(
        """INSERT INTO event_log (event_id, type, occurred_at, envelope) VALUES ($1, $2, $3, $4)
           ON CONFLICT (event_id) DO NOTHING""",
        envelope.id,
        envelope.type.value,
        envelope.occurred_at,
        RawJson(envelope.model_dump_json()),
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

#: The rule of ``domain.status.derive_status`` in SQL, so the list can filter and paginate
#: ($7: days before the end, today included, from which an active contract is expiring).
STATUS_SQL = """CASE WHEN local_today < start_date THEN 'not_started'
                     WHEN local_today > end_date THEN 'expired'
                     WHEN planned_seconds IS NOT NULL AND executed_seconds >= planned_seconds
                         THEN 'exhausted'
                     WHEN end_date - local_today + 1 <= $7 THEN 'expiring'
                     ELSE 'active' END"""

#: Sort name → (SQL expression over the screen's columns, its type in the cursor). The key is
#: never NULL, so (key, id) is a total order and the cursor carries the last row's key.
SORTS: dict[str, tuple[str, str]] = {
    "created": ("created_at", "timestamptz"),
    "code": ("code", "text"),
    "customer": ("coalesce(customer_name, '')", "text"),
    "end_date": ("end_date", "date"),
    "percent": (
        "coalesce(executed_seconds::numeric * 100 / nullif(planned_seconds, 0), -1)",
        "numeric",
    ),
    "executed": ("executed_seconds", "bigint"),
}


def _screen_sql(sort: str, descending: bool) -> str:
    key, key_type = SORTS[sort]
    direction, compare = ("DESC", "<") if descending else ("ASC", ">")
    return f"""
    WITH screen AS (
        SELECT c.id, c.customer_id, cu.name AS customer_name, c.code, c.title, c.start_date,
               c.end_date, c.timezone, c.created_at, c.lifecycle, t.local_today,
               cp.start_date AS period_start, cp.end_date AS period_end, cp.planned_seconds,
               coalesce(pt.executed_seconds, 0) AS executed_seconds
        FROM contracts c
        CROSS JOIN LATERAL (SELECT ($1::timestamptz AT TIME ZONE c.timezone)::date AS local_today) t
        LEFT JOIN customers cu ON cu.id = c.customer_id
        -- The last period starting on or before today, if today is in it: one index probe.
        LEFT JOIN LATERAL (
            SELECT p.start_date, p.end_date, p.planned_seconds FROM contract_periods p
            WHERE p.contract_id = c.id AND p.start_date <= t.local_today
            ORDER BY p.start_date DESC LIMIT 1) lp ON true
        LEFT JOIN LATERAL (SELECT lp.start_date, lp.end_date, lp.planned_seconds
                           WHERE lp.end_date >= t.local_today) cp ON true
        LEFT JOIN period_totals pt
               ON pt.contract_id = c.id AND pt.period_start = cp.start_date
        WHERE ($5::uuid IS NULL OR c.customer_id = $5)
          AND ($8::text IS NULL OR c.code ILIKE $8 OR c.title ILIKE $8 OR cu.name ILIKE $8)
    ),
    rated AS (SELECT screen.*, {STATUS_SQL} AS status, {key} AS sort_key FROM screen),
    page AS (
        SELECT * FROM rated
        WHERE ($6::text IS NULL OR status = $6)
          AND ($2::text IS NULL OR (sort_key, id) {compare} ($2::text::{key_type}, $3::uuid))
        ORDER BY sort_key {direction}, id {direction}
        LIMIT $4
    )
    SELECT p.*, p.sort_key::text AS cursor_key, la.stage AS alert_stage,
           la.trigger AS alert_trigger, la.raised_at AS alert_raised_at,
           n.sent AS notifications_sent, n.failed AS notifications_failed
    FROM page p
    LEFT JOIN LATERAL (
        SELECT a.stage, a.trigger, a.raised_at FROM alerts a WHERE a.contract_id = p.id
        ORDER BY a.raised_at DESC, a.alert_id DESC LIMIT 1) la ON true
    CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE o.status = 'sent') AS sent,
               count(*) FILTER (WHERE o.status = 'failed') AS failed
        FROM notifications o WHERE o.contract_id = p.id) n
    ORDER BY p.sort_key {direction}, p.id {direction}
    """


_SCREEN_SQL = {
    (sort, descending): _screen_sql(sort, descending)
    for sort in SORTS
    for descending in (False, True)
}


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_contracts(
    conn: asyncpg.Connection,
    now: dt.datetime,
    after: tuple[str, uuid.UUID] | None,
    limit: int,
    *,
    customer_id: uuid.UUID | None = None,
    status: str | None = None,
    expiring_within_days: int = 0,
    sort: str = "created",
    descending: bool = False,
    search: str | None = None,
) -> list[asyncpg.Record]:
    """The contract screen: each contract with its current period's figures in its own zone.

    ``after`` is (sort key as text, id) of the previous page's last row; ``cursor_key`` of
    each row is that text for the next page.
    """
    key, last_id = after or (None, None)
    return await conn.fetch(
        _SCREEN_SQL[(sort, descending)],
        now,
        key,
        last_id,
        limit,
        customer_id,
        status,
        expiring_within_days,
        _like(search) if search else None,
    )


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


# --- the delivery report over a range of periods ------------------------------------------


async def get_contract_terms(
    conn: asyncpg.Connection, contract_id: uuid.UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT period, planned_hours, teams, lifecycle, currency, rollover_policy,
                  allowance_policy
           FROM contracts WHERE id = $1""",
        contract_id,
    )


async def periods_with_totals(
    conn: asyncpg.Connection, contract_id: uuid.UUID
) -> list[asyncpg.Record]:
    """Every period of the contract with its executed totals (the forecast needs them all)."""
    return await conn.fetch(
        """SELECT cp.start_date, cp.end_date, cp.planned_seconds,
                  coalesce(pt.executed_seconds, 0) AS executed_seconds,
                  coalesce(pt.worklogs, 0) AS worklogs,
                  coalesce(pt.outside_dates_seconds, 0) AS outside_dates_seconds
           FROM contract_periods cp
           LEFT JOIN period_totals pt
                  ON pt.contract_id = cp.contract_id AND pt.period_start = cp.start_date
           WHERE cp.contract_id = $1 ORDER BY cp.start_date""",
        contract_id,
    )


async def team_by_period(
    conn: asyncpg.Connection, contract_id: uuid.UUID, first: dt.date, last: dt.date
) -> list[asyncpg.Record]:
    """Executed seconds per period start and team, for periods starting in [first, last]."""
    return await conn.fetch(
        """SELECT period_start, team, sum(executed_seconds)::bigint AS executed_seconds
           FROM consumption
           WHERE contract_id = $1 AND period_start BETWEEN $2 AND $3
           GROUP BY period_start, team
           HAVING sum(executed_seconds) <> 0 OR sum(worklogs) <> 0
           ORDER BY period_start, team""",
        contract_id,
        first,
        last,
    )


async def activity_totals(
    conn: asyncpg.Connection, contract_id: uuid.UUID, first: dt.date, last: dt.date
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT activity AS name, sum(executed_seconds)::bigint AS executed_seconds,
                  sum(worklogs)::bigint AS worklogs
           FROM consumption
           WHERE contract_id = $1 AND period_start BETWEEN $2 AND $3
           GROUP BY activity HAVING sum(executed_seconds) <> 0 OR sum(worklogs) <> 0
           ORDER BY executed_seconds DESC, activity""",
        contract_id,
        first,
        last,
    )


async def person_totals(
    conn: asyncpg.Connection, contract_id: uuid.UUID, first: dt.date, last: dt.date
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT author AS name, sum(executed_seconds)::bigint AS executed_seconds,
                  sum(worklogs)::bigint AS worklogs
           FROM consumption_by_author
           WHERE contract_id = $1 AND period_start BETWEEN $2 AND $3
           GROUP BY author HAVING sum(executed_seconds) <> 0 OR sum(worklogs) <> 0
           ORDER BY executed_seconds DESC, author""",
        contract_id,
        first,
        last,
    )


async def outside_dates_in_range(
    conn: asyncpg.Connection, contract_id: uuid.UUID, first: dt.date, last: dt.date
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id, period_start, author, team, activity, started_at, seconds, ticket
           FROM outside_dates_worklogs
           WHERE contract_id = $1 AND period_start BETWEEN $2 AND $3
             AND outside_dates AND NOT deleted
           ORDER BY started_at, id""",
        contract_id,
        first,
        last,
    )


async def alerts_in_range(
    conn: asyncpg.Connection, contract_id: uuid.UUID, first: dt.date, last: dt.date
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT period_start, stage, trigger, rule_name, raised_at FROM alerts
           WHERE contract_id = $1 AND period_start BETWEEN $2 AND $3
           ORDER BY raised_at, alert_id""",
        contract_id,
        first,
        last,
    )


async def customer_name(conn: asyncpg.Connection, customer_id: uuid.UUID) -> str | None:
    name: str | None = await conn.fetchval("SELECT name FROM customers WHERE id = $1", customer_id)
    return name


async def customer_roll_up(
    conn: asyncpg.Connection,
    customer_id: uuid.UUID,
    first: dt.date,
    last: dt.date,
    now: dt.datetime,
) -> list[asyncpg.Record]:
    """Per contract of the customer, the sums over its periods starting in [first, last]."""
    return await conn.fetch(
        """SELECT c.id, c.code, c.title, c.start_date, c.end_date,
                  count(cp.start_date)::int AS periods,
                  coalesce(sum(cp.planned_seconds), 0)::bigint AS planned_seconds,
                  coalesce(sum(pt.executed_seconds), 0)::bigint AS executed_seconds,
                  coalesce(sum(greatest(coalesce(pt.executed_seconds, 0)
                                        - cp.planned_seconds, 0)), 0)::bigint
                      AS overage_seconds,
                  coalesce(sum(greatest(cp.planned_seconds - coalesce(pt.executed_seconds, 0), 0))
                           FILTER (WHERE cp.end_date < ($4::timestamptz AT TIME ZONE c.timezone)::date),
                           0)::bigint AS unused_seconds,
                  coalesce(sum(pt.outside_dates_seconds), 0)::bigint AS outside_dates_seconds,
                  coalesce(sum(pt.worklogs), 0)::bigint AS worklogs
           FROM contracts c
           LEFT JOIN contract_periods cp
                  ON cp.contract_id = c.id AND cp.start_date BETWEEN $2 AND $3
           LEFT JOIN period_totals pt
                  ON pt.contract_id = c.id AND pt.period_start = cp.start_date
           WHERE c.customer_id = $1
           GROUP BY c.id ORDER BY c.created_at, c.id""",
        customer_id,
        first,
        last,
        now,
    )


# --- business metrics ------------------------------------------------------------------


async def contracts_by_status(
    conn: asyncpg.Connection, now: dt.datetime, expiring_within_days: int
) -> dict[str, int]:
    rows = await conn.fetch(
        f"""WITH screen AS (
                SELECT c.start_date, c.end_date, t.local_today, cp.planned_seconds,
                       coalesce(pt.executed_seconds, 0) AS executed_seconds
                FROM contracts c
                CROSS JOIN LATERAL (
                    SELECT ($1::timestamptz AT TIME ZONE c.timezone)::date AS local_today) t
                LEFT JOIN contract_periods cp ON cp.contract_id = c.id
                      AND t.local_today BETWEEN cp.start_date AND cp.end_date
                LEFT JOIN period_totals pt
                       ON pt.contract_id = c.id AND pt.period_start = cp.start_date)
            SELECT status, count(*)::int AS n
            FROM (SELECT {STATUS_SQL.replace("$7", "$2")} AS status FROM screen) s
            GROUP BY status""",
        now,
        expiring_within_days,
    )
    return {r["status"]: r["n"] for r in rows}


async def business_figures(conn: asyncpg.Connection) -> asyncpg.Record:
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


async def alerts_by_trigger(conn: asyncpg.Connection) -> dict[str, int]:
    rows = await conn.fetch("SELECT trigger, count(*)::int AS n FROM alerts GROUP BY trigger")
    return {r["trigger"]: r["n"] for r in rows}


# --- rebuild -------------------------------------------------------------------------------

#: The read models `rebuild` recomputes from the event log (with their primary keys, for
#: comparing). The event log, the inbox, the outbox and the API keys are not read models.
READ_MODELS: dict[str, str] = {
    "customers": "id",
    "contracts": "id",
    "contract_periods": "contract_id, start_date",
    "consumption": "contract_id, period_start, team, activity",
    "period_totals": "contract_id, period_start",
    "consumption_by_author": "contract_id, period_start, author",
    "outside_dates_worklogs": "id",
    "alerts": "alert_id",
    "notifications": "delivery_id",
}


async def logged_events(
    conn: asyncpg.Connection, schema: str, after_seq: int, limit: int
) -> list[asyncpg.Record]:
    """The event log of ``schema`` (the live one, read from the rebuild's connection)."""
    return await conn.fetch(
        f"""SELECT seq, envelope::text AS body FROM "{schema}".event_log WHERE seq > $1
            ORDER BY seq LIMIT $2""",
        after_seq,
        limit,
    )


async def unlogged_events(conn: asyncpg.Connection, schema: str, types: list[str]) -> int:
    """Events handled before the event log existed: a rebuild cannot bring them back."""
    count: int = await conn.fetchval(
        f"""SELECT count(*) FROM "{schema}".inbox i
            WHERE i.type = any($1::text[])
              AND NOT EXISTS (SELECT 1 FROM "{schema}".event_log l
                              WHERE l.event_id = i.event_id)""",
        types,
    )
    return count


async def drop_schema(conn: asyncpg.Connection, schema: str) -> None:
    await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def truncate_read_models(conn: asyncpg.Connection) -> None:
    await conn.execute(f"TRUNCATE {', '.join(READ_MODELS)}")


async def lock_for_rebuild(conn: asyncpg.Connection) -> None:
    """Consumers wait (their handlers write these tables) until the rebuild commits."""
    await conn.execute(f"LOCK TABLE event_log, {', '.join(READ_MODELS)} IN EXCLUSIVE MODE")


async def differences(conn: asyncpg.Connection, live: str, fresh: str) -> dict[str, int]:
    """Rows of each read model present in one schema and not the other (0 everywhere: equal)."""
    found: dict[str, int] = {}
    for table in READ_MODELS:
        a, b = f'"{live}".{table}', f'"{fresh}".{table}'
        found[table] = await conn.fetchval(
            f"""SELECT (SELECT count(*) FROM (TABLE {a} EXCEPT ALL TABLE {b}) x)
                     + (SELECT count(*) FROM (TABLE {b} EXCEPT ALL TABLE {a}) y)"""
        )
    return found
