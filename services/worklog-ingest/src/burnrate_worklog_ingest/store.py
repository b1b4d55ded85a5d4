"""All SQL of the worklog-ingest service."""

from __future__ import annotations

import datetime as dt
import operator
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import asyncpg
from burnrate_common import outbox
from burnrate_common.db import Connection
from burnrate_common.events import Envelope

# --- the routing replica -------------------------------------------------------------------


async def upsert_contract(
    conn: Connection,
    contract_id: uuid.UUID,
    timezone: str,
    start_date: dt.date,
    end_date: dt.date,
    teams: list[str],
    changed_at: dt.datetime,
    billed: bool,
) -> tuple[bool, bool]:
    """Store a contract's state unless a newer one is stored: (this one was kept, the
    contract was billed before it; False for a contract new here)."""
    row = await conn.fetchrow(
        """WITH before AS (SELECT billed FROM contracts WHERE id = $1)
           INSERT INTO contracts (id, timezone, start_date, end_date, teams, changed_at,
                                  billed)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (id) DO UPDATE
              SET timezone = excluded.timezone, start_date = excluded.start_date,
                  end_date = excluded.end_date, teams = excluded.teams,
                  changed_at = excluded.changed_at, billed = excluded.billed,
                  replicated_at = now()
              WHERE contracts.changed_at <= excluded.changed_at
           RETURNING coalesce((SELECT billed FROM before), false) AS was_billed""",
        contract_id,
        timezone,
        start_date,
        end_date,
        teams,
        changed_at,
        billed,
    )
    return (row is not None, row is not None and row["was_billed"])


async def billed_contracts(
    conn: Connection, contract_ids: Iterable[uuid.UUID]
) -> frozenset[uuid.UUID]:
    """Those of the contracts that are billed (see migration 0006)."""
    ids = list(contract_ids)
    if not ids:
        return frozenset()
    rows = await conn.fetch("SELECT id FROM contracts WHERE id = any($1::uuid[]) AND billed", ids)
    return frozenset(r["id"] for r in rows)


async def lock_routing(conn: Connection, *, shared: bool) -> None:
    """Order routing against replication, until the transaction ends.

    Replication holds it exclusively while it changes a contract and attributes the worklogs
    waiting for it; storing an unattributed worklog holds it shared and routes again. So a
    worklog sent while its contract is being replicated is either seen by that scan or
    routed after the contract committed, never missed by both.
    """
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    await conn.execute(
        f"SELECT {function}(hashtext('worklog-ingest routing ' || current_schema()))"
    )


async def replace_periods(
    conn: Connection,
    contract_id: uuid.UUID,
    periods: Sequence[tuple[dt.date, dt.date, int]],
) -> None:
    await conn.execute("DELETE FROM contract_periods WHERE contract_id = $1", contract_id)
    await conn.execute(
        """INSERT INTO contract_periods (contract_id, start_date, end_date, planned_seconds)
           SELECT $1::uuid, * FROM unnest($2::date[], $3::date[], $4::bigint[])""",
        contract_id,
        [p[0] for p in periods],
        [p[1] for p in periods],
        [p[2] for p in periods],
    )


async def replace_project_keys(
    conn: Connection, contract_id: uuid.UUID, project_keys: list[str]
) -> None:
    await conn.execute("DELETE FROM contract_project_keys WHERE contract_id = $1", contract_id)
    await conn.execute(
        """INSERT INTO contract_project_keys (project_key, contract_id)
           SELECT DISTINCT key, $1::uuid FROM unnest($2::text[]) AS key""",
        contract_id,
        project_keys,
    )


async def replace_work_accounts(
    conn: Connection, contract_id: uuid.UUID, work_accounts: list[str]
) -> None:
    await conn.execute("DELETE FROM contract_work_accounts WHERE contract_id = $1", contract_id)
    await conn.execute(
        """INSERT INTO contract_work_accounts (work_account, contract_id)
           SELECT DISTINCT account, $1::uuid FROM unnest($2::text[]) AS account""",
        contract_id,
        work_accounts,
    )


_ROUTE_COLUMNS = """c.id, c.timezone, c.start_date, c.end_date, c.teams, c.billed,
       array_agg(p.start_date ORDER BY p.start_date) AS period_starts,
       array_agg(p.end_date ORDER BY p.start_date) AS period_ends"""


async def routes_by_id(conn: Connection, contract_ids: Sequence[uuid.UUID]) -> list[asyncpg.Record]:
    if not contract_ids:
        return []
    # One contract (every single POST): PostgreSQL re-plans ``= any($1)`` at every
    # execution, ~0.15 ms; ``= $1`` keeps the generic plan it prepared once.
    one = len(contract_ids) == 1
    return await conn.fetch(
        f"""SELECT {_ROUTE_COLUMNS}
            FROM contracts c JOIN contract_periods p ON p.contract_id = c.id
            WHERE {"c.id = $1" if one else "c.id = any($1::uuid[])"}
            GROUP BY c.id""",
        contract_ids[0] if one else list(contract_ids),
    )


async def routes_by_work_account(
    conn: Connection, work_accounts: Sequence[str]
) -> list[asyncpg.Record]:
    """Every contract each work account routes to (one row per account and contract)."""
    if not work_accounts:
        return []
    return await conn.fetch(
        f"""SELECT w.work_account, {_ROUTE_COLUMNS}
            FROM contract_work_accounts w
            JOIN contracts c ON c.id = w.contract_id
            JOIN contract_periods p ON p.contract_id = c.id
            WHERE w.work_account = any($1::text[])
            GROUP BY w.work_account, c.id""",
        list(work_accounts),
    )


async def routes_by_project_key(
    conn: Connection, project_keys: Sequence[str]
) -> list[asyncpg.Record]:
    """Every contract each Jira project key routes to (one row per key and contract)."""
    if not project_keys:
        return []
    return await conn.fetch(
        f"""SELECT k.project_key, {_ROUTE_COLUMNS}
            FROM contract_project_keys k
            JOIN contracts c ON c.id = k.contract_id
            JOIN contract_periods p ON p.contract_id = c.id
            WHERE k.project_key = any($1::text[])
            GROUP BY k.project_key, c.id""",
        list(project_keys),
    )


# --- Jira issues (a worklog webhook names the issue id only) --------------------------------


async def upsert_jira_issue(
    conn: Connection, issue_id: str, issue_key: str, project_key: str
) -> None:
    await conn.execute(
        """INSERT INTO jira_issues (issue_id, issue_key, project_key) VALUES ($1, $2, $3)
           ON CONFLICT (issue_id) DO UPDATE
              SET issue_key = excluded.issue_key, project_key = excluded.project_key,
                  seen_at = now()""",
        issue_id,
        issue_key,
        project_key,
    )


async def jira_issue(conn: Connection, issue_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT issue_key, project_key FROM jira_issues WHERE issue_id = $1", issue_id
    )


async def jira_issues(conn: Connection, issue_ids: list[str]) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT issue_id, issue_key, project_key FROM jira_issues WHERE issue_id = any($1::text[])",
        issue_ids,
    )


# --- worklogs ------------------------------------------------------------------------------

#: Below every id: the first page of a list.
_NO_ID = uuid.UUID(int=0)

#: What a new worklog row is made of, in this order.
INSERT_COLUMNS = (
    "id",
    "source",
    "external_id",
    "contract_id",
    "work_account",
    "period_start",
    "period_end",
    "outside_dates",
    "author",
    "team",
    "activity",
    "started_at",
    "seconds",
    "ticket",
    "project_key",
    "unattributed_reason",
    "source_updated_at",
    "location",
)
#: The values of a new worklog (a dict of its columns, see ``ingest.new_row``) in that order.
insert_values = operator.itemgetter(*INSERT_COLUMNS)
#: A worklog's key (source, external_id): of its columns, and of its ``insert_values``.
_KEY = operator.itemgetter("source", "external_id")
_VALUES_KEY = operator.itemgetter(
    INSERT_COLUMNS.index("source"), INSERT_COLUMNS.index("external_id")
)
_VALUES_ID = operator.itemgetter(INSERT_COLUMNS.index("id"))
_INSERT_LIST = ", ".join(INSERT_COLUMNS)
_COLUMNS = f"{_INSERT_LIST}, version, created_at, updated_at, deleted_at"


_INSERT_ONE = f"""INSERT INTO worklogs ({_INSERT_LIST})
    VALUES ({", ".join(f"${i}" for i in range(1, len(INSERT_COLUMNS) + 1))})
    ON CONFLICT (source, external_id) DO NOTHING
    RETURNING {_COLUMNS}"""


async def insert_worklog(conn: Connection, row: Mapping[str, Any]) -> asyncpg.Record | None:
    """Insert one worklog; None when (source, external_id) is already stored."""
    return await conn.fetchrow(_INSERT_ONE, *insert_values(row))


async def insert_worklog_with_events(
    conn: Connection, row: Mapping[str, Any], events: Sequence[Envelope]
) -> asyncpg.Record | None:
    """:func:`insert_worklog` and, only if it created the worklog, its events: one statement
    (see ``outbox.fetchrow_with``)."""
    return await outbox.fetchrow_with(conn, _INSERT_ONE, insert_values(row), events)


async def insert_worklogs(
    conn: Connection, rows: Sequence[Mapping[str, Any]]
) -> tuple[set[uuid.UUID], dt.datetime]:
    """Insert many worklogs; returns the ids of the rows actually created and their
    ``created_at`` (the transaction's time): the caller has every other column, and decoding
    10,000 full rows back cost more than the insert. Of two rows of one batch with the same
    (source, external_id) the first one wins. Must run inside a transaction.

    The usual batch is all new worklogs: it goes straight into ``worklogs`` with one binary
    COPY, inside a savepoint. When one of its keys is stored already, that COPY fails whole,
    is rolled back to the savepoint, and the batch takes the slower path that skips stored
    keys (:func:`_insert_skipping_stored`). Both paths take the keys in the same (byte)
    order, so two batches sharing keys never wait on each other in a cycle (deadlock).
    """
    # Built in C (map, zip, itemgetter): this runs for every worklog of a batch. Filled
    # from the last row back, so of two rows with one key the first one stays.
    first = dict(zip(map(_KEY, reversed(rows)), map(insert_values, reversed(rows)), strict=True))
    ordered = sorted(first.values(), key=_VALUES_KEY)
    try:
        async with conn.transaction():
            await conn.copy_records_to_table("worklogs", records=ordered, columns=INSERT_COLUMNS)
    except asyncpg.UniqueViolationError:
        return await _insert_skipping_stored(conn, ordered)
    created_at = await conn.fetchval("SELECT now()")
    return set(map(_VALUES_ID, ordered)), created_at


async def _insert_skipping_stored(
    conn: Connection, rows: Sequence[Sequence[Any]]
) -> tuple[set[uuid.UUID], dt.datetime]:
    """:func:`insert_worklogs` for a batch holding stored keys (rows unique by key): copied
    into a temporary table, then moved in key order with ``ON CONFLICT DO NOTHING``."""
    await conn.execute(
        """CREATE TEMPORARY TABLE worklogs_in (
               id uuid, source text, external_id text, contract_id uuid,
               work_account text, period_start date, period_end date, outside_dates boolean,
               author text, team text, activity text, started_at timestamptz, seconds integer,
               ticket text, project_key text, unattributed_reason text,
               source_updated_at timestamptz, location text
           ) ON COMMIT DROP"""
    )
    await conn.copy_records_to_table("worklogs_in", records=rows, columns=INSERT_COLUMNS)
    created = await conn.fetchrow(
        f"""WITH created AS (
                INSERT INTO worklogs ({_INSERT_LIST})
                SELECT {_INSERT_LIST} FROM worklogs_in
                ORDER BY source COLLATE "C", external_id COLLATE "C"
                ON CONFLICT (source, external_id) DO NOTHING
                RETURNING id)
            SELECT now() AS created_at,
                   coalesce(array_agg(id), '{{}}') AS ids FROM created"""
    )
    assert created is not None
    # Dropped now too, not only at commit: an all-or-nothing NDJSON stream inserts chunk
    # after chunk in one transaction.
    await conn.execute("DROP TABLE worklogs_in")
    return set(created["ids"]), created["created_at"]


async def worklogs_by_keys(
    conn: Connection, keys: Sequence[tuple[str, str]]
) -> list[asyncpg.Record]:
    """The stored worklogs with these (source, external_id) pairs, deleted ones included."""
    if not keys:
        return []
    return await conn.fetch(
        f"""SELECT {_COLUMNS} FROM worklogs
            WHERE (source, external_id) IN (
                SELECT * FROM unnest($1::text[], $2::text[]))""",
        [k[0] for k in keys],
        [k[1] for k in keys],
    )


async def get_worklog(
    conn: Connection, worklog_id: uuid.UUID, *, for_update: bool = False
) -> asyncpg.Record | None:
    """A live (not deleted) worklog; ``for_update`` locks it until the transaction ends."""
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM worklogs WHERE id = $1 AND deleted_at IS NULL{lock}",
        worklog_id,
    )


async def list_worklogs(
    conn: Connection, after: uuid.UUID | None, limit: int, contract_id: uuid.UUID | None
) -> list[asyncpg.Record]:
    """Live worklogs in id (creation) order, after the id ``after`` (see migration 0004)."""
    if contract_id is None:
        return await conn.fetch(
            f"""SELECT {_COLUMNS} FROM worklogs
                WHERE deleted_at IS NULL AND id > $1 ORDER BY id LIMIT $2""",
            after or _NO_ID,
            limit,
        )
    return await conn.fetch(
        f"""SELECT {_COLUMNS} FROM worklogs
            WHERE deleted_at IS NULL AND contract_id = $3 AND id > $1 ORDER BY id LIMIT $2""",
        after or _NO_ID,
        limit,
        contract_id,
    )


async def update_worklog(
    conn: Connection, worklog_id: uuid.UUID, values: dict[str, Any]
) -> asyncpg.Record:
    """Replace the editable fields and the attribution; bumps ``version``.

    The caller holds the row locked (``get_worklog(..., for_update=True)``), so it is there.
    ``contract_id``, ``unattributed_reason`` and ``source_updated_at`` keep their stored
    value unless ``values`` has them; so does ``location``.
    """
    row = await conn.fetchrow(
        f"""UPDATE worklogs
            SET author = $2, team = $3, activity = $4, started_at = $5, seconds = $6,
                ticket = $7, period_start = $8, period_end = $9, outside_dates = $10,
                contract_id = CASE WHEN $11 THEN $12 ELSE contract_id END,
                unattributed_reason = CASE WHEN $11 THEN $13 ELSE unattributed_reason END,
                source_updated_at = coalesce($14, source_updated_at),
                location = CASE WHEN $15 THEN $16 ELSE location END,
                version = version + 1, updated_at = now()
            WHERE id = $1
            RETURNING {_COLUMNS}""",
        worklog_id,
        values["author"],
        values["team"],
        values["activity"],
        values["started_at"],
        values["seconds"],
        values["ticket"],
        values["period_start"],
        values["period_end"],
        values["outside_dates"],
        "contract_id" in values,
        values.get("contract_id"),
        values.get("unattributed_reason"),
        values.get("source_updated_at"),
        "location" in values,
        values.get("location"),
    )
    assert row is not None
    return row


async def soft_delete_worklog(
    conn: Connection, worklog_id: uuid.UUID, source_updated_at: dt.datetime | None = None
) -> asyncpg.Record | None:
    """Mark a live worklog deleted (the row stays); None if absent or already deleted."""
    return await conn.fetchrow(
        f"""UPDATE worklogs
            SET deleted_at = now(), updated_at = now(), version = version + 1,
                source_updated_at = coalesce($2, source_updated_at)
            WHERE id = $1 AND deleted_at IS NULL
            RETURNING {_COLUMNS}""",
        worklog_id,
        source_updated_at,
    )


async def worklog_by_key(
    conn: Connection, source: str, external_id: str, *, for_update: bool = False
) -> asyncpg.Record | None:
    """The stored worklog with this (source, external_id), deleted or not."""
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM worklogs WHERE source = $1 AND external_id = $2{lock}",
        source,
        external_id,
    )


async def worklogs_of_contract(conn: Connection, contract_id: uuid.UUID) -> list[asyncpg.Record]:
    """Live worklogs attributed to one contract, locked."""
    return await conn.fetch(
        f"""SELECT {_COLUMNS} FROM worklogs
            WHERE contract_id = $1 AND deleted_at IS NULL ORDER BY id FOR UPDATE""",
        contract_id,
    )


async def inside_dates_of_contract(
    conn: Connection, contract_id: uuid.UUID
) -> list[asyncpg.Record]:
    """Live worklogs of one contract inside its dates (those not announced while the
    contract was not billed), in id order."""
    return await conn.fetch(
        f"""SELECT {_COLUMNS} FROM worklogs
            WHERE contract_id = $1 AND deleted_at IS NULL AND NOT outside_dates
            ORDER BY id""",
        contract_id,
    )


async def unattributed_matching(
    conn: Connection, work_accounts: Sequence[str], project_keys: Sequence[str]
) -> list[asyncpg.Record]:
    """Live unattributed worklogs naming one of these accounts or project keys, locked."""
    if not work_accounts and not project_keys:
        return []
    return await conn.fetch(
        f"""SELECT {_COLUMNS} FROM worklogs
            WHERE contract_id IS NULL AND deleted_at IS NULL
              AND (work_account = any($1::text[]) OR project_key = any($2::text[]))
            ORDER BY id FOR UPDATE""",
        list(work_accounts),
        list(project_keys),
    )


async def list_unattributed(
    conn: Connection, after: uuid.UUID | None, limit: int
) -> list[asyncpg.Record]:
    """Live unattributed worklogs in id (creation) order, after the id ``after``."""
    return await conn.fetch(
        f"""SELECT {_COLUMNS} FROM worklogs
            WHERE contract_id IS NULL AND deleted_at IS NULL AND id > $1
            ORDER BY id LIMIT $2""",
        after or _NO_ID,
        limit,
    )


# --- rejected deliveries (kept as received, replayable) -------------------------------------

_REJECTED_COLUMNS = """id, way_in, source, reason, field, detail, line, payload, truncated,
    params, received_at, last_received_at, times_received, replays, last_replayed_at,
    resolved_at, resolution, worklog_id"""


async def keep_rejected(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> list[uuid.UUID]:
    """Keep deliveries that could not be applied; the same one again (by ``digest``) is one
    row, counted, with its latest reason, and open again. The id of each, in order."""
    if not rows:
        return []
    kept = await conn.fetch(
        """INSERT INTO rejected_deliveries AS r
                (id, way_in, source, reason, field, detail, line, payload, truncated, params,
                 digest)
            SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
                                 $6::text[], $7::int[], $8::bytea[], $9::bool[], $10::jsonb[],
                                 $11::bytea[])
            ON CONFLICT (digest) DO UPDATE
               SET reason = excluded.reason, field = excluded.field, detail = excluded.detail,
                   line = excluded.line, last_received_at = now(),
                   times_received = r.times_received + 1,
                   resolved_at = NULL, resolution = NULL, worklog_id = NULL
            RETURNING id, digest""",
        *(
            [row[name] for row in rows]
            for name in (
                "id",
                "way_in",
                "source",
                "reason",
                "field",
                "detail",
                "line",
                "payload",
                "truncated",
                "params",
                "digest",
            )
        ),
    )
    by_digest = {r["digest"]: r["id"] for r in kept}
    return [by_digest[row["digest"]] for row in rows]


async def list_rejected(
    conn: Connection,
    *,
    after: uuid.UUID | None,
    limit: int,
    source: str | None,
    reason: str | None,
    since: dt.datetime | None,
    state: str,
) -> list[asyncpg.Record]:
    """Rejected deliveries in id (arrival) order after ``after``, filtered."""
    return await conn.fetch(
        f"""SELECT {_REJECTED_COLUMNS} FROM rejected_deliveries
            WHERE id > $1 AND ($2::text IS NULL OR source = $2)
              AND ($3::text IS NULL OR reason = $3)
              AND ($4::timestamptz IS NULL OR last_received_at >= $4)
              AND CASE $5 WHEN 'open' THEN resolved_at IS NULL
                          WHEN 'resolved' THEN resolved_at IS NOT NULL ELSE true END
            ORDER BY id LIMIT $6""",
        after or _NO_ID,
        source,
        reason,
        since,
        state,
        limit,
    )


async def rejected_for_update(conn: Connection, rejected_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_REJECTED_COLUMNS} FROM rejected_deliveries WHERE id = $1 FOR UPDATE",
        rejected_id,
    )


async def open_rejected_ids(
    conn: Connection,
    *,
    source: str | None,
    reason: str | None,
    since: dt.datetime | None,
    limit: int,
) -> list[uuid.UUID]:
    """The open rejected deliveries matching, oldest first (at most ``limit``)."""
    rows = await conn.fetch(
        """SELECT id FROM rejected_deliveries
           WHERE resolved_at IS NULL AND ($1::text IS NULL OR source = $1)
             AND ($2::text IS NULL OR reason = $2)
             AND ($3::timestamptz IS NULL OR last_received_at >= $3)
           ORDER BY id LIMIT $4""",
        source,
        reason,
        since,
        limit,
    )
    return [r["id"] for r in rows]


async def rejected_replayed(
    conn: Connection,
    rejected_id: uuid.UUID,
    *,
    resolution: str | None,
    worklog_id: uuid.UUID | None,
    reason: str | None,
    field: str | None,
    detail: str | None,
) -> None:
    """Record a replay: resolved (``resolution``), or still rejected (the new reason)."""
    await conn.execute(
        """UPDATE rejected_deliveries
           SET replays = replays + 1, last_replayed_at = now(),
               resolved_at = CASE WHEN $2::text IS NULL THEN NULL ELSE now() END,
               resolution = $2, worklog_id = $3,
               reason = coalesce($4, reason), field = CASE WHEN $4 IS NULL THEN field ELSE $5 END,
               detail = coalesce($6, detail)
           WHERE id = $1""",
        rejected_id,
        resolution,
        worklog_id,
        reason,
        field,
        detail,
    )


# --- Jira deliveries applied (the replay window) --------------------------------------------


async def remember_jira_delivery(
    conn: Connection,
    digest: bytes,
    sent_at: dt.datetime,
    identifier: str | None,
    forget_before: dt.datetime,
) -> bool:
    """Remember a delivery (its signed body's digest) as applied; False if it was already.
    Deliveries sent before ``forget_before`` (outside the window: refused anyway) are
    forgotten."""
    await conn.execute("DELETE FROM jira_deliveries WHERE sent_at < $1", forget_before)
    first = await conn.fetchval(
        """INSERT INTO jira_deliveries (digest, sent_at, identifier) VALUES ($1, $2, $3)
           ON CONFLICT (digest) DO NOTHING RETURNING true""",
        digest,
        sent_at,
        identifier,
    )
    return bool(first)


async def stored_external_ids(conn: Connection, source: str, external_ids: list[str]) -> set[str]:
    """Which of these external ids of ``source`` are stored."""
    rows = await conn.fetch(
        "SELECT external_id FROM worklogs WHERE source = $1 AND external_id = any($2::text[])",
        source,
        external_ids,
    )
    return {r["external_id"] for r in rows}
