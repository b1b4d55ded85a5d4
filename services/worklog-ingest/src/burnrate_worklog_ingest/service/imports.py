"""Bulk sources: CSV exports, NDJSON streams and Tempo Cloud v4 worklog pages.

Every row becomes a :class:`WorklogIn` and goes through the one ingest path
(``ingest.attribute_items`` then ``ingest.record``: routing, COPY, the worklog events and the
summed consumption deltas in one transaction). Bad rows are reported by line number (CSV,
NDJSON) or by index (Tempo ``results``), naming the field.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
from burnrate_common.db import Connection
from burnrate_common.errors import Problem
from pydantic import ValidationError

from burnrate_worklog_ingest import store
from burnrate_worklog_ingest.domain.attribution import Attribution, RoutingError
from burnrate_worklog_ingest.domain.csv_rows import (
    GENERIC_FIELDS,
    Dialect,
    HeaderError,
    Rejection,
    parse,
)
from burnrate_worklog_ingest.schemas import (
    MAX_BATCH_ITEMS,
    WORKLOG_IN,
    ImportOut,
    Mode,
    Outcome,
    RejectedRow,
    TempoWorklog,
    WorklogIn,
)
from burnrate_worklog_ingest.service import Deps, ingest

STREAM_CHUNK = 1000

# --- the shared path -----------------------------------------------------------------------


#: The field of a rejection that concerns the whole line (not JSON, not an object).
WHOLE_ROW = "row"


def validate(line: int, fields: Any) -> WorklogIn | list[Rejection]:
    try:
        return WORKLOG_IN.validate_python(fields)
    except ValidationError as exc:
        return [
            Rejection(line, ".".join(str(p) for p in e["loc"]) or WHOLE_ROW, e["msg"])
            for e in exc.errors(include_url=False, include_context=False, include_input=False)
        ]


async def refuse_unroutable(
    conn: Connection, items: dict[int, WorklogIn], rejected: list[Rejection]
) -> dict[int, Attribution | RoutingError]:
    """Route the items; those that can never be stored (an unknown explicit contract,
    nothing to route by) move from ``items`` to ``rejected``."""
    outcomes = await ingest.attribute_items(conn, items)
    for line, outcome in outcomes.items():
        if isinstance(outcome, RoutingError) and outcome.refused:
            rejected.append(Rejection(line, outcome.field, outcome.message))
            del items[line]
    rejected.sort(key=lambda r: (r.line, r.field))
    return outcomes


def _line_field(rejection: Rejection) -> str:
    """``line 3.seconds`` for a bad value, ``line 3`` when the whole line is bad."""
    if rejection.field == WHOLE_ROW:
        return f"line {rejection.line}"
    return f"line {rejection.line}.{rejection.field}"


def refused(rejected: list[Rejection]) -> Problem:
    """The all-or-nothing answer: every bad line, nothing stored."""
    return Problem(
        422,
        "Invalid rows",
        f"{len(rejected)} bad value(s); nothing was imported.",
        errors=[{"field": _line_field(r), "message": r.reason} for r in rejected],
        rejected=[r.as_dict() for r in rejected],
    )


async def store_items(
    conn: Connection,
    items: dict[int, WorklogIn],
    outcomes: dict[int, Attribution | RoutingError],
    producer: str,
) -> list[ingest.Recorded]:
    if not items:
        return []
    order = sorted(items)
    async with conn.transaction():
        return await ingest.record(
            conn, [items[i] for i in order], [outcomes[i] for i in order], producer
        )


async def ingest_items(
    conn: Connection,
    items: dict[int, WorklogIn],
    rejected: list[Rejection],
    producer: str,
    *,
    mode: Mode,
    dry_run: bool = False,
) -> ImportOut:
    """Route, refuse (all-or-nothing) or drop (skip-invalid) the bad ones, store the rest."""
    outcomes = await refuse_unroutable(conn, items, rejected)
    if rejected and mode is Mode.ALL_OR_NOTHING:
        raise refused(rejected)
    results = [] if dry_run else await store_items(conn, items, outcomes, producer)
    return summary(results, rejected)


def summary(results: list[ingest.Recorded], rejected: list[Rejection]) -> ImportOut:
    counts = {o: 0 for o in Outcome}
    for r in results:
        counts[r.outcome] += 1
    created_rows = {r.row["id"]: r.row for r in results if r.outcome is Outcome.CREATED}
    return ImportOut(
        imported=len(created_rows),
        duplicates=counts[Outcome.DUPLICATE] + counts[Outcome.CREATED] - len(created_rows),
        updated=counts[Outcome.UPDATED],
        stale=counts[Outcome.STALE],
        unattributed=sum(row["contract_id"] is None for row in created_rows.values()),
        rejected=[RejectedRow(**r.as_dict()) for r in rejected],
    )


def merged(total: ImportOut, part: ImportOut) -> ImportOut:
    return ImportOut(
        imported=total.imported + part.imported,
        duplicates=total.duplicates + part.duplicates,
        updated=total.updated + part.updated,
        stale=total.stale + part.stale,
        unattributed=total.unattributed + part.unattributed,
        rejected=[*total.rejected, *part.rejected],
    )


def zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Problem(
            422, "Unknown time zone", f"{name!r} is not an IANA time zone.", field="timezone"
        ) from None
    return name


# --- CSV -----------------------------------------------------------------------------------


def check_mapping(format: Dialect, mapping: dict[str, str]) -> None:
    """A generic CSV's column mapping (``map.<field>=<header>``): known fields, and some."""
    unknown = sorted(set(mapping) - set(GENERIC_FIELDS))
    if unknown:
        raise Problem(
            422, "Unknown mapping", f"map.{unknown[0]} is not a worklog field.", field="map"
        )
    if format is Dialect.GENERIC and not mapping:
        raise Problem(
            422, "Mapping required", "Generic CSV needs map.<field>=<header>.", field="map"
        )


async def import_csv(
    pool: asyncpg.Pool,
    deps: Deps,
    body: bytes,
    *,
    format: Dialect,
    mapping: dict[str, str],
    mode: Mode,
    team: str,
    timezone: str,
    line_offset: int,
    dry_run: bool,
) -> ImportOut:
    """A Toggl, Harvest or generic CSV export (``body``, UTF-8), or a chunk of one that
    starts ``line_offset`` lines into the file."""
    check_mapping(format, mapping)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Problem(400, "Not UTF-8", f"The body is not UTF-8: {exc}", field="body") from None
    try:
        rows, rejected = parse(
            text,
            format,
            team=team,
            timezone=zone(timezone),
            mapping=mapping,
            first_line=line_offset + 1,
        )
    except HeaderError as exc:
        raise Problem(422, "Bad CSV", str(exc), field=exc.field) from None
    if len(rows) + len(rejected) > MAX_BATCH_ITEMS:
        raise Problem(
            413,
            "Too many rows",
            f"{len(rows) + len(rejected)} rows; at most {MAX_BATCH_ITEMS} per request.",
            field="body",
        )
    items: dict[int, WorklogIn] = {}
    for row in rows:
        checked = validate(row.line, row.fields)
        if isinstance(checked, list):
            rejected.extend(checked)
        else:
            items[row.line] = checked
    async with pool.acquire() as conn:
        return await ingest_items(conn, items, rejected, deps.producer, mode=mode, dry_run=dry_run)


# --- NDJSON --------------------------------------------------------------------------------


async def stream_worklogs(
    pool: asyncpg.Pool, deps: Deps, chunks: AsyncIterable[bytes], *, mode: Mode
) -> ImportOut:
    """One worklog per line, read as it arrives and routed and stored in chunks of
    :data:`STREAM_CHUNK` lines. All-or-nothing: the whole stream is one transaction; a bad
    line stops the storing, the rest is still checked, and every bad line is refused (422).
    Skip-invalid: each chunk is its own transaction, bad lines are reported."""
    producer = deps.producer
    all_or_nothing = mode is Mode.ALL_OR_NOTHING
    total = ImportOut(imported=0, duplicates=0, unattributed=0, rejected=[])
    bad: list[Rejection] = []  # every rejected line so far
    items: dict[int, WorklogIn] = {}
    rejected: list[Rejection] = []
    line, pending = 0, b""

    async def flush(conn: Connection) -> None:
        nonlocal total, items, rejected
        if items or rejected:
            outcomes = await refuse_unroutable(conn, items, rejected)
            bad.extend(rejected)
            # All-or-nothing: once a line is bad, the rest is only checked.
            stored = (
                [] if all_or_nothing and bad else await store_items(conn, items, outcomes, producer)
            )
            total = merged(total, summary(stored, rejected))
        items, rejected = {}, []

    def take(raw: bytes) -> None:
        nonlocal line
        line += 1
        if not raw.strip():
            return
        try:
            data = json.loads(raw)
        except ValueError:
            rejected.append(Rejection(line, WHOLE_ROW, "not valid JSON"))
            return
        checked = validate(line, data)
        if isinstance(checked, list):
            rejected.extend(checked)
        else:
            items[line] = checked

    async with pool.acquire() as conn:
        # All-or-nothing: the chunks are savepoints of one transaction, rolled back whole
        # (their outbox events with them) when a line is bad, however long the stream.
        whole = conn.transaction() if all_or_nothing else None
        if whole is not None:
            await whole.start()
        try:
            async for chunk in chunks:
                pending += chunk
                *complete, pending = pending.split(b"\n")
                for raw in complete:
                    take(raw)
                    if len(items) + len(rejected) >= STREAM_CHUNK:
                        await flush(conn)
            if pending.strip():
                take(pending)
            await flush(conn)
            if all_or_nothing and bad:
                raise refused(bad)
        except BaseException:
            if whole is not None:
                await whole.rollback()
            raise
        if whole is not None:
            await whole.commit()
    return total


# --- Tempo Cloud API v4 --------------------------------------------------------------------


def tempo_fields(
    w: TempoWorklog,
    *,
    team: str,
    activity: str,
    zone_name: str,
    account_attribute: str,
    known: dict[str, tuple[str, str]],
) -> dict[str, Any]:
    """Worklog fields of a Tempo worklog; ``known`` maps Jira issue ids (learnt from Jira
    webhooks) to (issue key, project key), so v4's bare ``issue.id`` can route by project."""
    attributes = {a.key: a.value for a in w.attributes.values if a.value}
    updated = w.updatedAt
    if updated is not None and updated.tzinfo is None:
        updated = updated.replace(tzinfo=dt.UTC)
    issue_key = w.issue.key or known.get(str(w.issue.id), (None, None))[0]
    project = issue_key.split("-")[0] if issue_key and "-" in issue_key else None
    ticket = issue_key or (f"issue {w.issue.id}" if w.issue.id is not None else None)
    return {
        "source": "tempo",
        "external_id": str(w.tempoWorklogId),
        "work_account": attributes.get(account_attribute),
        "project_key": project,
        "author": w.author.accountId,
        "team": attributes.get("_Team_", team),
        "activity": attributes.get("_Activity_", activity),
        "started_at": dt.datetime.combine(w.startDate, w.startTime, tzinfo=ZoneInfo(zone_name)),
        "seconds": w.timeSpentSeconds,
        "ticket": ticket,
        "source_updated_at": updated,
    }


async def import_tempo(
    pool: asyncpg.Pool,
    deps: Deps,
    body: bytes,
    *,
    mode: Mode,
    team: str,
    activity: str,
    timezone: str,
    account_attribute: str,
) -> ImportOut:
    """A page of Tempo Cloud API v4 worklogs (``{"results": [...]}``); ``line`` in the
    rejections is the index in ``results`` + 1."""
    zone_name = zone(timezone)
    try:
        data = json.loads(body)
    except ValueError:
        raise Problem(400, "Malformed JSON", "The body is not valid JSON.", field="body") from None
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list):
        raise Problem(422, "No results", 'Expected {"results": [...]}.', field="results")
    if len(results) > MAX_BATCH_ITEMS:
        raise Problem(
            413, "Too many worklogs", f"At most {MAX_BATCH_ITEMS} per page.", field="results"
        )
    items: dict[int, WorklogIn] = {}
    rejected: list[Rejection] = []
    parsed: dict[int, TempoWorklog] = {}
    for index, raw in enumerate(results, start=1):
        try:
            parsed[index] = TempoWorklog.model_validate(raw)
        except ValidationError as exc:
            rejected.extend(
                Rejection(index, ".".join(str(p) for p in e["loc"]), e["msg"])
                for e in exc.errors(include_url=False, include_context=False, include_input=False)
            )
    async with pool.acquire() as conn:
        ids = sorted({str(t.issue.id) for t in parsed.values() if t.issue.id is not None})
        known = {
            r["issue_id"]: (r["issue_key"], r["project_key"])
            for r in await store.jira_issues(conn, ids)
        }
        for index, tempo in parsed.items():
            fields = tempo_fields(
                tempo,
                team=team,
                activity=activity,
                zone_name=zone_name,
                account_attribute=account_attribute,
                known=known,
            )
            checked = validate(index, fields)
            if isinstance(checked, list):
                rejected.extend(checked)
            else:
                items[index] = checked
        return await ingest_items(conn, items, rejected, deps.producer, mode=mode)
