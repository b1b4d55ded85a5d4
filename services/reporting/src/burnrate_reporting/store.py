"""All SQL of the reporting service: the event-fed writes and the reads of the API."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import asyncpg
from burnrate_common.db import Connection, RawJson
from burnrate_common.events import ConsumptionLine, Envelope

# ---------------------------------------------------------------------------------------
# Writes (from the event handlers, inside the consumer's transaction)
# ---------------------------------------------------------------------------------------


async def upsert_customer(
    conn: Connection,
    customer_id: uuid.UUID,
    name: str,
    contacts: list[dict[str, Any]],
    version_at: dt.datetime,
) -> None:
    """Full state; an older version arriving late changes nothing, nor does any version of a
    deleted customer."""
    await _lock_entity(conn, CUSTOMER_LOCK, customer_id)
    await conn.execute(
        """INSERT INTO customers (id, name, contacts, version_at)
           SELECT $1, $2, $3, $4
           WHERE NOT EXISTS (SELECT 1 FROM deleted_customers WHERE id = $1)
           ON CONFLICT (id) DO UPDATE
               SET name = excluded.name, contacts = excluded.contacts,
                   version_at = excluded.version_at
               WHERE customers.version_at < excluded.version_at""",
        customer_id,
        name,
        contacts,
        version_at,
    )


async def check_timezone(conn: Connection, timezone: str) -> None:
    """Raise if PostgreSQL does not know the zone: the contract list computes "today" with it."""
    await conn.execute("SELECT now() AT TIME ZONE $1", timezone)


async def upsert_contract(
    conn: Connection, contract: dict[str, Any], version_at: dt.datetime
) -> bool:
    """Full state; True when this version was written, False when a newer one is stored or
    the contract was deleted (its tombstone: no version comes back after a deletion)."""
    await _lock_entity(conn, SCREEN_LOCK, contract["id"])
    written = await conn.fetchval(
        """INSERT INTO contracts (id, customer_id, code, title, owner_email, start_date, end_date,
                                  timezone, period, planned_hours, teams, work_accounts,
                                  created_at, version_at, lifecycle, currency, rollover_policy,
                                  allowance_policy)
           SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14, $15, $16,
                  $17
           WHERE NOT EXISTS (SELECT 1 FROM deleted_contracts WHERE id = $1)
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


#: Advisory lock class of a customer's writes (contracts use ``SCREEN_LOCK``): a deletion
#: and a late version of the same entity take turns, so the version's tombstone check sees a
#: deletion committed just before (a row lock would not: the deleted row is gone).
CUSTOMER_LOCK = 4243


async def _lock_entity(conn: Connection, lock_class: int, entity_id: uuid.UUID) -> None:
    await conn.execute(
        "SELECT pg_advisory_xact_lock($1, screen_lock_key($2))", lock_class, entity_id
    )


async def delete_contract(
    conn: Connection,
    contract_id: uuid.UUID,
    customer_id: uuid.UUID,
    version_at: dt.datetime,
) -> None:
    """A deleted draft leaves the screens, and its tombstone keeps any older version from
    bringing it back; its consumption rows stay, and the correcting deltas worklog-ingest
    publishes for its worklogs bring them back to zero."""
    await _lock_entity(conn, SCREEN_LOCK, contract_id)
    await conn.execute(
        """INSERT INTO deleted_contracts (id, customer_id, version_at) VALUES ($1, $2, $3)
           ON CONFLICT (id) DO UPDATE SET version_at = greatest(deleted_contracts.version_at,
                                                                excluded.version_at)""",
        contract_id,
        customer_id,
        version_at,
    )
    # Its screen row goes with it (ON DELETE CASCADE).
    await conn.execute("DELETE FROM contract_periods WHERE contract_id = $1", contract_id)
    await conn.execute("DELETE FROM contracts WHERE id = $1", contract_id)


async def delete_customer(
    conn: Connection, customer_id: uuid.UUID, version_at: dt.datetime
) -> None:
    await _lock_entity(conn, CUSTOMER_LOCK, customer_id)
    await conn.execute(
        """INSERT INTO deleted_customers (id, version_at) VALUES ($1, $2)
           ON CONFLICT (id) DO UPDATE SET version_at = greatest(deleted_customers.version_at,
                                                                excluded.version_at)""",
        customer_id,
        version_at,
    )
    await conn.execute("DELETE FROM customers WHERE id = $1", customer_id)


async def keep_earliest_created(
    conn: Connection, contract_id: uuid.UUID, occurred_at: dt.datetime
) -> None:
    """A stale version (e.g. ``contract.created`` after ``contract.updated``) still dates the row."""
    await conn.execute(
        "UPDATE contracts SET created_at = $2 WHERE id = $1 AND created_at > $2",
        contract_id,
        occurred_at,
    )


async def replace_periods(
    conn: Connection,
    contract_id: uuid.UUID,
    periods: list[tuple[dt.date, dt.date, int]],
) -> None:
    await conn.execute("DELETE FROM contract_periods WHERE contract_id = $1", contract_id)
    await conn.executemany(
        """INSERT INTO contract_periods (contract_id, start_date, end_date, planned_seconds)
           VALUES ($1, $2, $3, $4)""",
        [(contract_id, start, end, planned) for start, end, planned in periods],
    )


#: The screen row of each contract as of the local date at $1 (NULL: the database's clock):
#: that date, the instants between which it is "today" in the contract's zone (local
#: midnights, DST included, as PostgreSQL resolves them), the period containing it and that
#: period's executed seconds (the trigger on `period_totals` keeps them from then on).
_REFRESH_SCREEN = """
    INSERT INTO contract_screen (contract_id, local_date, valid_from, valid_until, period_start,
                                 period_end, planned_seconds, executed_seconds, start_date,
                                 end_date, refreshed_at)
    SELECT c.id, t.local_today, t.local_today::timestamp AT TIME ZONE c.timezone,
           (t.local_today + 1)::timestamp AT TIME ZONE c.timezone,
           lp.start_date, lp.end_date, lp.planned_seconds,
           coalesce((SELECT pt.executed_seconds FROM period_totals pt
                     WHERE pt.contract_id = c.id AND pt.period_start = lp.start_date), 0),
           c.start_date, c.end_date, now()
    FROM contracts c
    CROSS JOIN LATERAL (
        SELECT (coalesce($1::timestamptz, now()) AT TIME ZONE c.timezone)::date AS local_today) t
    LEFT JOIN LATERAL (
        SELECT p.start_date, p.end_date, p.planned_seconds FROM contract_periods p
        WHERE p.contract_id = c.id AND p.start_date <= t.local_today
        ORDER BY p.start_date DESC LIMIT 1) lp ON lp.end_date >= t.local_today
    WHERE $2::uuid[] IS NULL OR c.id = any($2::uuid[])
    ON CONFLICT (contract_id) DO UPDATE
        SET local_date = excluded.local_date, valid_from = excluded.valid_from,
            valid_until = excluded.valid_until, period_start = excluded.period_start,
            period_end = excluded.period_end, planned_seconds = excluded.planned_seconds,
            executed_seconds = excluded.executed_seconds, start_date = excluded.start_date,
            end_date = excluded.end_date, refreshed_at = excluded.refreshed_at"""

#: The lock every writer of a contract's screen row takes first (see migration 0004): the
#: trigger on `period_totals` blocks on it, the refresh task tries it and skips. Two-key
#: advisory locks, a space apart from the migration runner's one-key lock.
SCREEN_LOCK = 4242


async def refresh_screen(
    conn: Connection,
    now: dt.datetime | None,
    contract_ids: Sequence[uuid.UUID] | None,
) -> None:
    """Recompute the screen rows of these contracts (None: all) as of ``now`` (None: the
    database's clock, for the handlers, which have no service clock).

    Each contract's screen lock is taken first, in id order (a consumer batch holding some
    waits or is waited for, never both ways), so the second statement sees every consumption
    committed before and any later one waits and writes its total over this row. None
    (every contract, in one transaction) takes no locks: it is for loads with no consumer
    running (the benchmark); a running service refreshes in batches.
    """
    ids = sorted(contract_ids) if contract_ids is not None else None
    if ids:
        await conn.execute(
            """SELECT pg_advisory_xact_lock($2, screen_lock_key(id))
               FROM unnest($1::uuid[]) WITH ORDINALITY AS x(id, n) ORDER BY n""",
            ids,
            SCREEN_LOCK,
        )
    await conn.execute(_REFRESH_SCREEN, now, ids)


async def refresh_due_screen_rows(conn: Connection, now: dt.datetime, batch: int) -> int:
    """Refresh up to ``batch`` rows whose window does not hold ``now``; how many it did.

    The rows are locked first (other replicas skip them), then their contracts' screen locks
    are tried (a contract whose consumption is being written is skipped: the task never
    waits, so it cannot deadlock with a consumer batch that holds many contracts), then the
    rows are computed in a third statement, whose snapshot is newer than the locks: a
    contract change or consumption committed before is seen, and one not yet written waits
    for this transaction and then writes its own row or total.
    """
    async with conn.transaction():
        due = await conn.fetch(
            """SELECT contract_id FROM contract_screen
               WHERE valid_until <= $1 OR valid_from > $1
               ORDER BY valid_until LIMIT $2 FOR UPDATE SKIP LOCKED""",
            now,
            batch,
        )
        if not due:
            return 0
        locked = await conn.fetchval(
            """SELECT array_agg(id) FROM unnest($1::uuid[]) id
               WHERE pg_try_advisory_xact_lock($2, screen_lock_key(id))""",
            [r["contract_id"] for r in due],
            SCREEN_LOCK,
        )
        if locked:
            await conn.execute(_REFRESH_SCREEN, now, locked)
    return len(locked or [])


#: Who logged time when ConsumptionRecorded.author is None.
UNKNOWN_AUTHOR = "unknown"


async def add_consumption(
    conn: Connection,
    contract_id: uuid.UUID,
    period_start: dt.date,
    lines: Sequence[ConsumptionLine],
) -> None:
    """Add the signed deltas of one contract period to the three sums (by team and activity,
    by period, by person): sums commute, so arrival order does not matter. One round trip
    whatever the number of lines; lines sharing a row are summed first (one statement may
    not update a row twice)."""
    await conn.execute(
        """WITH line AS (
               SELECT * FROM unnest($3::text[], $4::text[], $5::text[], $6::bigint[],
                                    $7::bigint[], $8::bigint[])
                      AS l (team, activity, author, seconds, worklogs, outside)),
           by_group AS (
               INSERT INTO consumption (contract_id, period_start, team, activity,
                                        executed_seconds, worklogs, outside_dates_seconds)
               SELECT $1, $2, team, activity, sum(seconds), sum(worklogs), sum(outside)
               FROM line GROUP BY team, activity
               ON CONFLICT (contract_id, period_start, team, activity) DO UPDATE
                   SET executed_seconds =
                           consumption.executed_seconds + excluded.executed_seconds,
                       worklogs = consumption.worklogs + excluded.worklogs,
                       outside_dates_seconds =
                           consumption.outside_dates_seconds + excluded.outside_dates_seconds),
           by_period AS (
               INSERT INTO period_totals (contract_id, period_start, executed_seconds, worklogs,
                                          outside_dates_seconds)
               SELECT $1, $2, sum(seconds), sum(worklogs), sum(outside) FROM line
               ON CONFLICT (contract_id, period_start) DO UPDATE
                   SET executed_seconds =
                           period_totals.executed_seconds + excluded.executed_seconds,
                       worklogs = period_totals.worklogs + excluded.worklogs,
                       outside_dates_seconds =
                           period_totals.outside_dates_seconds + excluded.outside_dates_seconds)
           INSERT INTO consumption_by_author (contract_id, period_start, author,
                                              executed_seconds, worklogs)
           SELECT $1, $2, author, sum(seconds), sum(worklogs) FROM line GROUP BY author
           ON CONFLICT (contract_id, period_start, author) DO UPDATE
               SET executed_seconds =
                       consumption_by_author.executed_seconds + excluded.executed_seconds,
                   worklogs = consumption_by_author.worklogs + excluded.worklogs""",
        contract_id,
        period_start,
        [line.team for line in lines],
        [line.activity for line in lines],
        [line.author if line.author is not None else UNKNOWN_AUTHOR for line in lines],
        [line.delta_seconds for line in lines],
        [line.delta_worklogs for line in lines],
        [line.delta_outside_dates_seconds for line in lines],
    )


async def log_event(conn: Connection, envelope: Envelope) -> None:
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
    conn: Connection, worklog: dict[str, Any], *, deleted: bool, version_at: dt.datetime
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


async def insert_alert(conn: Connection, alert: dict[str, Any], raised_at: dt.datetime) -> None:
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
    conn: Connection, outcome: dict[str, Any], status: str, version_at: dt.datetime
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
#: ({days}: the parameter holding the days before the end, today included, from which an
#: active contract is expiring).
STATUS_SQL = """CASE WHEN local_today < start_date THEN 'not_started'
                     WHEN local_today > end_date THEN 'expired'
                     WHEN planned_seconds IS NOT NULL AND executed_seconds >= planned_seconds
                         THEN 'exhausted'
                     WHEN end_date - local_today + 1 <= {days} THEN 'expiring'
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


#: Joined to contracts ``c``: each one's local "today", current period and its executed
#: seconds. The precomputed row of ``contract_screen`` is used while $1 falls on the local
#: date it was computed for, where it equals what the per-contract computation gives (its
#: executed seconds are kept by the trigger on `period_totals`); otherwise (a local midnight
#: passed before the refresh task ran, a contract just changed, the clock was set back) that
#: one contract is computed here, with a probe of `period_totals`, so the read is right by
#: construction and only the rows not refreshed yet cost a zone conversion and a probe.
_CURRENT_PERIOD = """
    LEFT JOIN contract_screen s
           ON s.contract_id = c.id AND s.valid_from <= $1 AND $1 < s.valid_until
    LEFT JOIN LATERAL (
        SELECT t.local_today, lp.start_date, lp.end_date, lp.planned_seconds,
               coalesce((SELECT pt.executed_seconds FROM period_totals pt
                         WHERE pt.contract_id = c.id AND pt.period_start = lp.start_date),
                        0) AS executed_seconds
        FROM (SELECT ($1::timestamptz AT TIME ZONE c.timezone)::date AS local_today) t
        -- The last period starting on or before today, if today is in it: one index probe.
        LEFT JOIN LATERAL (
            SELECT p.start_date, p.end_date, p.planned_seconds FROM contract_periods p
            WHERE p.contract_id = c.id AND p.start_date <= t.local_today
            ORDER BY p.start_date DESC LIMIT 1) lp ON lp.end_date >= t.local_today
        WHERE s.contract_id IS NULL) late ON true
    CROSS JOIN LATERAL (
        SELECT coalesce(s.local_date, late.local_today) AS local_today,
               CASE WHEN s.contract_id IS NULL THEN late.start_date ELSE s.period_start END
                   AS period_start,
               CASE WHEN s.contract_id IS NULL THEN late.end_date ELSE s.period_end END
                   AS period_end,
               CASE WHEN s.contract_id IS NULL THEN late.planned_seconds
                    ELSE s.planned_seconds END AS planned_seconds,
               CASE WHEN s.contract_id IS NULL THEN late.executed_seconds
                    ELSE s.executed_seconds END AS executed_seconds) cp"""
_PERIOD_COLUMNS = """cp.local_today, cp.period_start, cp.period_end, cp.planned_seconds,
                     cp.executed_seconds"""
_SCREEN_FROM = f"FROM contracts c {_CURRENT_PERIOD}"
_CONTRACT_COLUMNS = """c.id, c.customer_id, c.code, c.title, c.start_date, c.end_date,
                       c.timezone, c.created_at, c.lifecycle"""

#: The statuses that follow from the dates alone (``STATUS_SQL`` decides them first).
DATE_STATUSES = ("not_started", "expired")
_DATE_STATUS_SQL = """CASE WHEN local_today < start_date THEN 'not_started'
                          WHEN local_today > end_date THEN 'expired' END"""


#: The statuses whose rows the screen table finds by index (few contracts have them).
INDEXED_STATUSES = ("exhausted", "expiring")


@functools.cache
def _screen_sql(
    sort: str,
    descending: bool,
    customer: bool,
    status: str | None,
    search: bool,
    after: bool,
) -> str:
    """``status``: None, "dates" (a status of ``DATE_STATUSES``), one of
    ``INDEXED_STATUSES``, or "totals" (active)."""
    if sort in ("percent", "executed") or status in INDEXED_STATUSES:
        return _indexed_screen_sql(sort, descending, customer, status, search, after)
    return _computed_screen_sql(sort, descending, customer, status, search, after)


def _computed_screen_sql(
    sort: str,
    descending: bool,
    customer: bool,
    status: str | None,
    search: bool,
    after: bool,
) -> str:
    """One statement per sort and set of filters present, none of the form "$n IS NULL OR
    …": asyncpg prepares statements, and after five runs PostgreSQL may switch to a generic
    plan, which cannot drop such a branch and sorted all contracts for the first page.
    $1: now, $2: limit, $3: expiring days; then the filters present, in this order.
    ``status``: None, "dates" (a status of ``DATE_STATUSES``) or "totals" (any other).

    What the page is cut by is joined before the cut, the rest for the page's rows only:
    the current period and its executed seconds (both in the screen row, computed only for
    contracts whose row is stale) when a status is filtered or the sort needs them.
    """
    key, key_type = SORTS[sort]
    direction, compare = ("DESC", "<") if descending else ("ASC", ">")
    totals_first = status == "totals" or sort in ("percent", "executed")
    period_first = totals_first or status is not None
    # The customer's name is read for every contract only when it sorts or filters.
    by_name = sort == "customer" or search
    n = iter(range(4, 10))
    where = ["true"]
    if customer:
        where.append(f"c.customer_id = ${next(n)}")
    if search:
        like = f"${next(n)}"
        # Two index-backed semi-joins (trigram indexes, migration 0004) rather than one OR
        # over two tables, which can only be checked contract by contract.
        where.append(
            f"""c.id IN (SELECT m.id FROM contracts m
                         WHERE m.code ILIKE {like} OR m.title ILIKE {like}
                         UNION ALL
                         SELECT m.id FROM contracts m
                         WHERE m.customer_id IN (SELECT k.id FROM customers k
                                                 WHERE k.name ILIKE {like}))"""
        )
    page_where = ["true"]
    if status is not None:
        page_where.append(f"{'status' if totals_first else 'date_status'} = ${next(n)}")
    if after:
        last_key, last_id = f"${next(n)}", f"${next(n)}"
        page_where.append(
            f"(sort_key, id) {compare} ({last_key}::text::{key_type}, {last_id}::uuid)"
        )
    status_sql = STATUS_SQL.format(days="$3")
    first_columns = [_CONTRACT_COLUMNS]
    first_joins = []
    if by_name:
        first_columns.append("cu.name AS customer_name")
        first_joins.append("LEFT JOIN customers cu ON cu.id = c.customer_id")
    if period_first:
        first_columns.append(_PERIOD_COLUMNS)
        first_joins.append(_CURRENT_PERIOD)
    then_columns, then_joins = ["c.*"], []
    if not period_first:
        then_columns.append(_PERIOD_COLUMNS)
        then_joins.append(_CURRENT_PERIOD)
    first_status = (
        f", {status_sql} AS status"
        if totals_first
        else f", {_DATE_STATUS_SQL} AS date_status"
        if period_first
        else ""
    )
    return f"""
    WITH screen AS (
        SELECT {", ".join(first_columns)}
        FROM contracts c {" ".join(first_joins)}
        WHERE {" AND ".join(where)}),
    rated AS (SELECT screen.*, {key} AS sort_key {first_status} FROM screen),
    cut AS (
        SELECT * FROM rated
        WHERE {" AND ".join(page_where)}
        ORDER BY sort_key {direction}, id {direction}
        LIMIT $2),
    periods AS (SELECT {", ".join(then_columns)} FROM cut c {" ".join(then_joins)}),
    page AS (
        SELECT periods.* {"" if totals_first else f", {status_sql} AS status"} FROM periods)
    SELECT p.*, p.sort_key::text AS cursor_key, la.stage AS alert_stage,
           la.trigger AS alert_trigger, la.raised_at AS alert_raised_at,
           n.sent AS notifications_sent, n.failed AS notifications_failed
           {"" if by_name else ", cu.name AS customer_name"}
    FROM page p
    {"" if by_name else "LEFT JOIN customers cu ON cu.id = p.customer_id"}
    LEFT JOIN LATERAL (
        SELECT a.stage, a.trigger, a.raised_at FROM alerts a WHERE a.contract_id = p.id
        ORDER BY a.raised_at DESC, a.alert_id DESC LIMIT 1) la ON true
    CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE o.status = 'sent') AS sent,
               count(*) FILTER (WHERE o.status = 'failed') AS failed
        FROM notifications o WHERE o.contract_id = p.id) n
    ORDER BY p.sort_key {direction}, p.id {direction}
    """


#: Sort name → its key over the screen row ``s`` (the expressions of its indexes, migration
#: 0004), contract ``c`` and customer ``cu``: the same values as ``SORTS`` gives.
_FRESH_KEYS: dict[str, str] = {
    "created": "c.created_at",
    "code": "c.code",
    "customer": "coalesce(cu.name, '')",
    "end_date": "c.end_date",
    "percent": "coalesce(s.executed_seconds::numeric * 100 / nullif(s.planned_seconds, 0), -1)",
    "executed": "s.executed_seconds",
}
#: ``STATUS_SQL`` over the screen row alone (its copies of the contract's dates).
_FRESH_STATUS_SQL = (
    STATUS_SQL.replace("local_today", "s.local_date")
    .replace("start_date", "s.start_date")
    .replace("end_date", "s.end_date")
    .replace("planned_seconds", "s.planned_seconds")
    .replace("executed_seconds", "s.executed_seconds")
)
#: Implied by the status, in the form of a partial or expression index of the screen table.
_FRESH_PREFILTER = {
    "exhausted": "s.executed_seconds >= s.planned_seconds",
    "expiring": "(s.end_date - s.local_date) BETWEEN 0 AND $3 - 1",
}


def _indexed_screen_sql(
    sort: str,
    descending: bool,
    customer: bool,
    status: str | None,
    search: bool,
    after: bool,
) -> str:
    """The percent and executed sorts and the few-contract statuses, from the screen rows by
    index: the page is the first rows of two parts merged, (1) the contracts whose row holds
    $1, walked in key order (or found by the status's index) and cut at $2 rows, and (2) the
    others (row stale or missing), computed as ``_CURRENT_PERIOD`` does, cut at $2 too. The
    two parts give the same values as the per-contract computation, so the merge is the
    same page; part (2) is one anti-join over the contracts, and nothing per contract once
    the rows are fresh. Parameters as ``_computed_screen_sql``.
    """
    key, key_type = SORTS[sort]
    fresh_key = _FRESH_KEYS[sort]
    direction, compare = ("DESC", "<") if descending else ("ASC", ">")
    by_name = sort == "customer" or search
    n = iter(range(4, 10))
    where = ["true"]
    if customer:
        where.append(f"c.customer_id = ${next(n)}")
    if search:
        like = f"${next(n)}"
        where.append(
            f"""c.id IN (SELECT m.id FROM contracts m
                         WHERE m.code ILIKE {like} OR m.title ILIKE {like}
                         UNION ALL
                         SELECT m.id FROM contracts m
                         WHERE m.customer_id IN (SELECT k.id FROM customers k
                                                 WHERE k.name ILIKE {like}))"""
        )
    fresh_where, stale_where = list(where), ["true"]
    if status is not None:
        wanted = f"${next(n)}"
        fresh_where.append(f"{_FRESH_STATUS_SQL.format(days='$3')} = {wanted}")
        if status in _FRESH_PREFILTER:
            fresh_where.append(_FRESH_PREFILTER[status])
        stale_where.append(f"{STATUS_SQL.format(days='$3')} = {wanted}")
    if after:
        last = f"(${next(n)}::text::{key_type}, ${next(n)}::uuid)"
        fresh_where.append(f"({fresh_key}, s.contract_id) {compare} {last}")
        stale_where.append(f"({key}, id) {compare} {last}")
    name_column = ", cu.name AS customer_name" if by_name else ""
    name_join = "LEFT JOIN customers cu ON cu.id = c.customer_id" if by_name else ""
    return f"""
    WITH fresh AS (
        SELECT {_CONTRACT_COLUMNS} {name_column}, s.local_date AS local_today,
               s.period_start, s.period_end, s.planned_seconds, s.executed_seconds,
               {fresh_key} AS sort_key
        FROM contract_screen s JOIN contracts c ON c.id = s.contract_id {name_join}
        WHERE s.valid_from <= $1 AND $1 < s.valid_until AND {" AND ".join(fresh_where)}
        ORDER BY {fresh_key} {direction}, s.contract_id {direction}
        LIMIT $2),
    stale AS (
        SELECT x.*, {key} AS sort_key
        FROM (SELECT {_CONTRACT_COLUMNS} {name_column}, {_PERIOD_COLUMNS}
              FROM contracts c {name_join} {_CURRENT_PERIOD}
              WHERE s.contract_id IS NULL AND {" AND ".join(where)}) x
        WHERE {" AND ".join(stale_where)}
        ORDER BY sort_key {direction}, id {direction}
        LIMIT $2),
    cut AS (
        SELECT * FROM (TABLE fresh UNION ALL TABLE stale) m
        ORDER BY sort_key {direction}, id {direction}
        LIMIT $2),
    page AS (SELECT cut.*, {STATUS_SQL.format(days="$3")} AS status FROM cut)
    SELECT p.*, p.sort_key::text AS cursor_key, la.stage AS alert_stage,
           la.trigger AS alert_trigger, la.raised_at AS alert_raised_at,
           n.sent AS notifications_sent, n.failed AS notifications_failed
           {"" if by_name else ", cu.name AS customer_name"}
    FROM page p
    {"" if by_name else "LEFT JOIN customers cu ON cu.id = p.customer_id"}
    LEFT JOIN LATERAL (
        SELECT a.stage, a.trigger, a.raised_at FROM alerts a WHERE a.contract_id = p.id
        ORDER BY a.raised_at DESC, a.alert_id DESC LIMIT 1) la ON true
    CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE o.status = 'sent') AS sent,
               count(*) FILTER (WHERE o.status = 'failed') AS failed
        FROM notifications o WHERE o.contract_id = p.id) n
    ORDER BY p.sort_key {direction}, p.id {direction}
    """


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_contracts(
    conn: Connection,
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
    args: list[Any] = [now, limit, expiring_within_days]
    for value in (customer_id, _like(search) if search else None, status):
        if value is not None:
            args.append(value)
    if after is not None:
        args.extend(after)
    status_kind = (
        None
        if status is None
        else "dates"
        if status in DATE_STATUSES
        else status
        if status in INDEXED_STATUSES
        else "totals"
    )
    sql = _screen_sql(
        sort,
        descending,
        customer_id is not None,
        status_kind,
        bool(search),
        after is not None,
    )
    async with conn.transaction():
        await _no_jit(conn)
        return await conn.fetch(sql, *args)


async def _no_jit(conn: Connection) -> None:
    """Reads that visit every contract cost enough for PostgreSQL's JIT threshold, and
    compiling takes longer (~17 ms) than running them: off for this transaction."""
    await conn.execute("SET LOCAL jit = off")


async def customer_known(conn: Connection, customer_id: uuid.UUID) -> bool:
    """Known by its own event or, before that arrives, by one of its contracts; not once
    deleted."""
    return bool(
        await conn.fetchval(
            """SELECT (EXISTS (SELECT 1 FROM customers WHERE id = $1)
                       OR EXISTS (SELECT 1 FROM contracts WHERE customer_id = $1))
                  AND NOT EXISTS (SELECT 1 FROM deleted_customers WHERE id = $1)""",
            customer_id,
        )
    )


async def get_contract(
    conn: Connection, contract_id: uuid.UUID, now: dt.datetime
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT c.id, c.customer_id, cu.name AS customer_name, c.code, c.title, c.start_date,
                  c.end_date, c.timezone, ($2::timestamptz AT TIME ZONE c.timezone)::date AS local_today
           FROM contracts c LEFT JOIN customers cu ON cu.id = c.customer_id
           WHERE c.id = $1""",
        contract_id,
        now,
    )


async def get_periods(conn: Connection, contract_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT start_date, end_date, planned_seconds FROM contract_periods
           WHERE contract_id = $1 ORDER BY start_date""",
        contract_id,
    )


async def period_totals(
    conn: Connection, contract_id: uuid.UUID, period_start: dt.date
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
    conn: Connection, contract_id: uuid.UUID, period_start: dt.date
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
    conn: Connection, contract_id: uuid.UUID, period_start: dt.date
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
    conn: Connection, contract_id: uuid.UUID, period_start: dt.date
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
    conn: Connection, contract_id: uuid.UUID, period_start: dt.date
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT stage, trigger, rule_name, raised_at FROM alerts
           WHERE contract_id = $1 AND period_start = $2 ORDER BY raised_at, alert_id""",
        contract_id,
        period_start,
    )


# --- the delivery report over a range of periods ------------------------------------------


async def get_contract_terms(conn: Connection, contract_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT period, planned_hours, teams, lifecycle, currency, rollover_policy,
                  allowance_policy
           FROM contracts WHERE id = $1""",
        contract_id,
    )


async def periods_with_totals(conn: Connection, contract_id: uuid.UUID) -> list[asyncpg.Record]:
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
    conn: Connection, contract_id: uuid.UUID, first: dt.date, last: dt.date
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
    conn: Connection, contract_id: uuid.UUID, first: dt.date, last: dt.date
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
    conn: Connection, contract_id: uuid.UUID, first: dt.date, last: dt.date
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
    conn: Connection, contract_id: uuid.UUID, first: dt.date, last: dt.date
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
    conn: Connection, contract_id: uuid.UUID, first: dt.date, last: dt.date
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT period_start, stage, trigger, rule_name, raised_at FROM alerts
           WHERE contract_id = $1 AND period_start BETWEEN $2 AND $3
           ORDER BY raised_at, alert_id""",
        contract_id,
        first,
        last,
    )


async def customer_name(conn: Connection, customer_id: uuid.UUID) -> str | None:
    name: str | None = await conn.fetchval("SELECT name FROM customers WHERE id = $1", customer_id)
    return name


async def customer_roll_up(
    conn: Connection,
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
    conn: Connection, now: dt.datetime, expiring_within_days: int
) -> dict[str, int]:
    async with conn.transaction():
        await _no_jit(conn)
        rows = await _contracts_by_status(conn, now, expiring_within_days)
    return {r["status"]: r["n"] for r in rows}


async def _contracts_by_status(
    conn: Connection, now: dt.datetime, expiring_within_days: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""WITH screen AS (
                SELECT c.start_date, c.end_date, cp.local_today, cp.planned_seconds,
                       cp.executed_seconds
                {_SCREEN_FROM})
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


# --- event log compaction ------------------------------------------------------------------

#: Consumption deltas that occurred before $1 (versions 1 and 2) become one version 2 event
#: per contract period, with one line per (team, activity, author) summing theirs. Replaying
#: it adds what the originals added to each of the three sums (all keyed by a subset of that
#: line key), so `rebuild` gives the same tables; lines summing to zero are kept, since the
#: rows they created exist. Each new event takes the smallest seq of those it replaces.
_COMPACT_CONSUMPTION = """
    WITH old AS (
        DELETE FROM event_log
        WHERE type = 'consumption.recorded' AND occurred_at < $1
        RETURNING seq, occurred_at, envelope),
    line AS (
        SELECT o.seq, o.occurred_at, o.envelope -> 'data' AS d, l
        FROM old o
        CROSS JOIN LATERAL jsonb_array_elements(
            CASE WHEN (o.envelope ->> 'version')::int >= 2 THEN o.envelope -> 'data' -> 'lines'
                 ELSE jsonb_build_array(o.envelope -> 'data') END) l),
    summed AS (
        SELECT d ->> 'contract_id' AS contract_id, d ->> 'period_start' AS period_start,
               max(d ->> 'period_end') AS period_end, l ->> 'team' AS team,
               l ->> 'activity' AS activity, l ->> 'author' AS author,
               sum((l ->> 'delta_seconds')::bigint) AS seconds,
               sum((l ->> 'delta_worklogs')::bigint) AS worklogs,
               sum(coalesce((l ->> 'delta_outside_dates_seconds')::bigint, 0)) AS outside,
               min(seq) AS seq, max(occurred_at) AS occurred_at, count(DISTINCT seq) AS events
        FROM line GROUP BY 1, 2, 4, 5, 6),
    merged AS (
        SELECT contract_id, period_start, max(period_end) AS period_end, min(seq) AS seq,
               max(occurred_at) AS occurred_at, gen_random_uuid() AS id,
               jsonb_agg(jsonb_build_object(
                   'team', team, 'activity', activity, 'author', author,
                   'delta_seconds', seconds, 'delta_worklogs', worklogs,
                   'delta_outside_dates_seconds', outside) ORDER BY team, activity, author)
                   AS lines
        FROM summed GROUP BY contract_id, period_start),
    written AS (
        INSERT INTO event_log (seq, event_id, type, occurred_at, envelope)
        SELECT seq, id, 'consumption.recorded', occurred_at,
               jsonb_build_object(
                   'id', id, 'type', 'consumption.recorded', 'version', 2,
                   'occurred_at', occurred_at, 'producer', 'reporting',
                   'correlation_id', 'compaction:' || id, 'causation_id', NULL,
                   'key', contract_id,
                   'data', jsonb_build_object('contract_id', contract_id,
                                              'period_start', period_start,
                                              'period_end', period_end, 'lines', lines))
        FROM merged
        RETURNING 1)
    INSERT INTO event_log_compactions (occurred_before, events_removed, events_written)
    SELECT $1, (SELECT count(*) FROM old), (SELECT count(*) FROM written)
    RETURNING events_removed, events_written"""


async def compact_consumption_events(
    conn: Connection, occurred_before: dt.datetime
) -> tuple[int, int]:
    """Replace the consumption events that occurred before the horizon by their per-period
    sums; (events removed, events written). One statement, so one transaction."""
    row = await conn.fetchrow(_COMPACT_CONSUMPTION, occurred_before)
    assert row is not None
    return row["events_removed"], row["events_written"]


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
    "deleted_contracts": "id",
    "deleted_customers": "id",
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
