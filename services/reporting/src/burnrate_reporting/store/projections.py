"""The event-fed writes of the read models (the handlers' use cases, in the consumer's
transaction), the contract screen rows and the event log."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from burnrate_common.db import Connection, RawJson
from burnrate_common.events import ConsumptionLine, Envelope


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
    conn: Connection,
    contract: dict[str, Any],
    version_at: dt.datetime,
    service_levels: list[dict[str, Any]] | None = None,
) -> bool:
    """Full state; True when this version was written, False when a newer one is stored or
    the contract was deleted (its tombstone: no version comes back after a deletion).
    ``service_levels``: the levels as JSON (``ContractChanged.service_levels``)."""
    await _lock_entity(conn, SCREEN_LOCK, contract["id"])
    written = await conn.fetchval(
        """INSERT INTO contracts (id, customer_id, code, title, owner_email, start_date, end_date,
                                  timezone, period, planned_hours, teams, work_accounts,
                                  created_at, version_at, lifecycle, currency, rollover_policy,
                                  allowance_policy, service_levels)
           SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14, $15, $16,
                  $17, $18
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
                   allowance_policy = excluded.allowance_policy,
                   service_levels = excluded.service_levels
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
        service_levels or [],
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
#: ``consumption_by_location.location`` of a line that does not say (see migration 0007)
NO_LOCATION = ""


async def add_consumption(
    conn: Connection,
    contract_id: uuid.UUID,
    period_start: dt.date,
    lines: Sequence[ConsumptionLine],
) -> None:
    """Add the signed deltas of one contract period to the four sums (by team and activity,
    by period, by person, by location): sums commute, so arrival order does not matter. One
    round trip whatever the number of lines; lines sharing a row are summed first (one
    statement may not update a row twice)."""
    await conn.execute(
        """WITH line AS (
               SELECT * FROM unnest($3::text[], $4::text[], $5::text[], $6::bigint[],
                                    $7::bigint[], $8::bigint[], $9::text[])
                      AS l (team, activity, author, seconds, worklogs, outside, location)),
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
                           period_totals.outside_dates_seconds + excluded.outside_dates_seconds),
           by_location AS (
               INSERT INTO consumption_by_location (contract_id, period_start, location,
                                                    executed_seconds, worklogs)
               SELECT $1, $2, location, sum(seconds), sum(worklogs) FROM line
               GROUP BY location
               ON CONFLICT (contract_id, period_start, location) DO UPDATE
                   SET executed_seconds =
                           consumption_by_location.executed_seconds + excluded.executed_seconds,
                       worklogs = consumption_by_location.worklogs + excluded.worklogs)
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
        [line.location or NO_LOCATION for line in lines],
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
