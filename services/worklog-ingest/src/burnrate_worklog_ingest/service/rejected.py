"""Rejected deliveries: listed, and replayed after a fix or a mapping change.

A replay applies a kept delivery again through its own way in (the Jira webhook's rules, a
CSV row parsed with the import's dialect and mapping, an NDJSON line, a Tempo worklog), in
a transaction of its own. Applied: the row is resolved (with what the replay did and the
worklog); still not: the row stays open with the new reason. A delivery applied twice is
one worklog (the same source and external id), so replaying is always safe.
"""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
from burnrate_common.db import Connection
from burnrate_common.errors import Problem
from burnrate_common.pagination import Page, decode_keys, encode_keys

from burnrate_worklog_ingest import auth, store
from burnrate_worklog_ingest.schemas import (
    BulkReplayIn,
    BulkReplayOut,
    RejectedOut,
    RejectedState,
    ReplayOut,
    WayIn,
)
from burnrate_worklog_ingest.service import Deps, imports, jira
from burnrate_worklog_ingest.service.kept import UNAVAILABLE


def _out(row: asyncpg.Record) -> RejectedOut:
    return RejectedOut(
        **{**dict(row), "payload": bytes(row["payload"]).decode("utf-8", errors="replace")}
    )


async def list_rejected(
    conn: Connection,
    *,
    source: str | None,
    reason: str | None,
    since: dt.datetime | None,
    state: RejectedState,
    limit: int,
    cursor: str | None,
) -> Page[RejectedOut]:
    """Kept deliveries in arrival order (open ones by default), filtered."""
    keys = decode_keys(cursor, 1)
    try:
        after = uuid.UUID(keys[0]) if keys else None
    except ValueError:
        raise Problem(400, "Bad cursor", "Not a cursor of this list.", field="cursor") from None
    rows = await store.list_rejected(
        conn,
        after=after,
        limit=limit,
        source=source,
        reason=reason,
        since=since,
        state=state.value,
    )
    next_cursor = encode_keys(str(rows[-1]["id"])) if len(rows) == limit else None
    return Page(items=[_out(r) for r in rows], next_cursor=next_cursor)


async def _apply(conn: Connection, deps: Deps, row: asyncpg.Record) -> ReplayOut:
    """Apply one kept (locked) delivery again and record what happened."""
    way_in, payload, params = WayIn(row["way_in"]), bytes(row["payload"]), row["params"]
    line = row["line"] or 1
    resolution: str | None = None
    worklog_id: uuid.UUID | None = None
    reason = field = detail = None
    try:
        async with conn.transaction():  # a savepoint: a failure leaves the row to update
            if way_in is WayIn.JIRA:
                try:
                    out = await jira.replay(conn, deps, payload, auth.JiraParameters(**params))
                except jira.Refusal as refusal:
                    reason, field, detail = refusal.reason, refusal.field, refusal.detail
                else:
                    resolution = out.outcome
                    worklog_id = uuid.UUID(out.worklog_id) if out.worklog_id else None
            else:
                if way_in is WayIn.CSV:
                    applied = await imports.replay_csv(conn, deps, payload, params, line)
                elif way_in is WayIn.NDJSON:
                    applied = await imports.replay_ndjson(
                        conn, deps, payload, line, row["truncated"]
                    )
                else:
                    applied = await imports.replay_tempo(conn, deps, payload, params, line)
                if applied.rejection is not None:
                    r = applied.rejection
                    reason, detail = r.code, r.reason
                    field = None if r.field == imports.WHOLE_ROW else r.field
                else:
                    resolution, worklog_id = applied.outcome, applied.worklog_id
    except UNAVAILABLE:
        raise
    except Exception as exc:
        imports.log.exception("a replay failed", exc_info=exc)
        reason, field = "internal_error", None
        detail = f"could not be applied: {type(exc).__name__}"
    async with conn.transaction():
        await store.rejected_replayed(
            conn,
            row["id"],
            resolution=resolution,
            worklog_id=worklog_id,
            reason=reason,
            field=field,
            detail=detail,
        )
    return ReplayOut(
        id=row["id"],
        resolved=resolution is not None,
        resolution=resolution,
        worklog_id=worklog_id,
        reason=reason,
        detail=detail,
    )


async def replay(pool: asyncpg.Pool, deps: Deps, rejected_id: uuid.UUID) -> ReplayOut:
    """Replay one kept delivery (404 if unknown, 409 if resolved already)."""
    async with pool.acquire() as conn, conn.transaction():
        row = await store.rejected_for_update(conn, rejected_id)
        if row is None:
            raise Problem(404, "Not found", f"No rejected delivery {rejected_id}.", field="id")
        if row["resolved_at"] is not None:
            raise Problem(
                409,
                "Already applied",
                f"Rejected delivery {rejected_id} was applied ({row['resolution']}).",
                field="id",
            )
        return await _apply(conn, deps, row)


async def replay_matching(pool: asyncpg.Pool, deps: Deps, wanted: BulkReplayIn) -> BulkReplayOut:
    """Replay the open kept deliveries matching, oldest first, each on its own."""
    resolved = still = 0
    async with pool.acquire() as conn:
        ids = await store.open_rejected_ids(
            conn,
            source=wanted.source,
            reason=wanted.reason,
            since=wanted.since,
            limit=wanted.limit + 1,
        )
        for rejected_id in ids[: wanted.limit]:
            async with conn.transaction():
                row = await store.rejected_for_update(conn, rejected_id)
                if row is None or row["resolved_at"] is not None:
                    continue  # replayed meanwhile
                done = await _apply(conn, deps, row)
            resolved += done.resolved
            still += not done.resolved
    return BulkReplayOut(
        replayed=resolved + still,
        resolved=resolved,
        still_rejected=still,
        more=len(ids) > wanted.limit,
    )
