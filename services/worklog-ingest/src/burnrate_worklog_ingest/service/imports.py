"""Bulk sources: CSV exports, NDJSON streams and Tempo Cloud v4 worklog pages.

Every row becomes a :class:`WorklogIn` and goes through the one ingest path
(``ingest.attribute_items`` then ``ingest.record``: routing, COPY, the worklog events and the
summed consumption deltas in one transaction). Bad rows are reported by line number (CSV,
NDJSON) or by index (Tempo ``results``), naming the field.

With ``mode=skip-invalid`` one bad item never costs the others: a row that cannot be
validated, routed or even stored (a bug of ours) is rejected alone, and kept as received
(``service.kept``) for a replay after a fix (``service.rejected``). All-or-nothing refuses
the whole request (422) and stores nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import Counter
from collections.abc import AsyncIterable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
from burnrate_common.db import Connection
from burnrate_common.errors import Problem
from pydantic import ValidationError

from burnrate_worklog_ingest import store
from burnrate_worklog_ingest.domain.attribution import Attribution, RoutingError, Unroutable
from burnrate_worklog_ingest.domain.csv_rows import (
    GENERIC_FIELDS,
    Dialect,
    HeaderError,
    Rejection,
    Row,
    parse,
    raw_records,
)
from burnrate_worklog_ingest.schemas import (
    MAX_BATCH_ITEMS,
    WORKLOG_IN,
    ImportOut,
    Mode,
    Outcome,
    RejectedRow,
    TempoWorklog,
    WayIn,
    WorklogIn,
    error_message,
)
from burnrate_worklog_ingest.service import Deps, ingest
from burnrate_worklog_ingest.service.kept import UNAVAILABLE, Kept, keep

log = logging.getLogger(__name__)

STREAM_CHUNK = 1000
#: An NDJSON chunk is also stored once its lines hold this many bytes.
STREAM_CHUNK_BYTES = 8 * 1024 * 1024
#: The longest NDJSON line (a worklog is a few hundred bytes): a longer one is rejected alone.
MAX_LINE_BYTES = 1024 * 1024
#: Of a line too long, this many first bytes are kept.
KEPT_HEAD_BYTES = 64 * 1024

# --- the shared path -----------------------------------------------------------------------


#: The field of a rejection that concerns the whole line (not JSON, not an object).
WHOLE_ROW = "row"


def validate(line: int, fields: Any) -> WorklogIn | list[Rejection]:
    try:
        return WORKLOG_IN.validate_python(fields)
    except ValidationError as exc:
        return [
            Rejection(line, ".".join(str(p) for p in e["loc"]) or WHOLE_ROW, error_message(e))
            for e in exc.errors(include_url=False, include_context=False, include_input=False)
        ]


def _bug(line: int, exc: Exception) -> Rejection:
    """An item that failed in a way no input should make us fail: kept, the error logged."""
    log.exception("an import item could not be applied", exc_info=exc)
    return Rejection(
        line, WHOLE_ROW, f"could not be applied: {type(exc).__name__}", code="internal_error"
    )


async def refuse_unroutable(
    conn: Connection,
    items: dict[int, WorklogIn],
    rejected: list[Rejection],
    unrouted: Mapping[int, RoutingError] | None = None,
) -> dict[int, Attribution | RoutingError]:
    """Route the items; those that can never be stored (an unknown explicit contract,
    nothing to route by) move from ``items`` to ``rejected``. ``unrouted``: what an item with
    nothing to route by is kept as instead (unattributed, with that reason)."""
    try:
        outcomes = await ingest.attribute_items(conn, items)
    except UNAVAILABLE:
        raise
    except Exception:  # one item breaks routing: route one by one, reject that one alone
        outcomes = {}
        for line, item in list(items.items()):
            try:
                outcomes[line] = (await ingest.attribute_items(conn, {line: item}))[line]
            except UNAVAILABLE:
                raise
            except Exception as exc:
                rejected.append(_bug(line, exc))
                del items[line]
    for line, outcome in list(outcomes.items()):
        if isinstance(outcome, RoutingError) and outcome.refused:
            if unrouted and line in unrouted and outcome.reason is Unroutable.NO_ROUTE_GIVEN:
                outcomes[line] = unrouted[line]
                continue
            rejected.append(Rejection(line, outcome.field, outcome.message, outcome.reason.value))
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
    rejected: list[Rejection],
) -> list[ingest.Recorded]:
    """Store the items in one transaction; should that fail for a reason of ours, store them
    one by one and reject (into ``rejected``) only those that fail."""
    if not items:
        return []
    order = sorted(items)
    try:
        async with conn.transaction():
            return await ingest.record(
                conn, [items[i] for i in order], [outcomes[i] for i in order], producer
            )
    except UNAVAILABLE:
        raise
    except Exception as exc:
        log.warning("a chunk could not be stored whole; storing it item by item: %r", exc)
    results = []
    for line in order:
        try:
            async with conn.transaction():
                results += await ingest.record(conn, [items[line]], [outcomes[line]], producer)
        except UNAVAILABLE:
            raise
        except Exception as exc:
            rejected.append(_bug(line, exc))
    rejected.sort(key=lambda r: (r.line, r.field))
    return results


#: What a way in keeps of its rejected lines: the line numbers and reasons → the deliveries.
Keeper = Callable[[Sequence[Rejection]], list[Kept]]


def by_line(rejected: Sequence[Rejection]) -> dict[int, list[Rejection]]:
    lines: dict[int, list[Rejection]] = {}
    for r in rejected:
        lines.setdefault(r.line, []).append(r)
    return lines


def kept_item(
    way_in: WayIn,
    source: str,
    line: int,
    reasons: Sequence[Rejection],
    payload: bytes,
    params: dict[str, Any],
    *,
    truncated: bool = False,
) -> Kept:
    """One rejected line as it is kept: its first reason's code and field, every message."""
    first = reasons[0]
    detail = "; ".join(
        r.reason if r.field == WHOLE_ROW else f"{r.field}: {r.reason}" for r in reasons
    )
    return Kept(
        way_in=way_in,
        source=source,
        reason=first.code,
        field=None if first.field == WHOLE_ROW else first.field,
        detail=detail,
        payload=payload,
        line=line,
        params=params,
        truncated=truncated,
    )


async def ingest_items(
    conn: Connection,
    items: dict[int, WorklogIn],
    rejected: list[Rejection],
    producer: str,
    *,
    mode: Mode,
    keeper: Keeper,
    dry_run: bool = False,
    unrouted: Mapping[int, RoutingError] | None = None,
) -> ImportOut:
    """Route, refuse (all-or-nothing) or set aside (skip-invalid: kept by ``keeper``) the
    bad ones, store the rest."""
    outcomes = await refuse_unroutable(conn, items, rejected, unrouted)
    if rejected and mode is Mode.ALL_OR_NOTHING:
        raise refused(rejected)
    if dry_run:
        return summary([], rejected)
    results = await store_items(conn, items, outcomes, producer, rejected)
    if rejected:
        async with conn.transaction():
            await keep(conn, keeper(rejected))
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


# --- one kept item, applied again ----------------------------------------------------------


@dataclass(frozen=True)
class Applied:
    """A replay's result: applied (``outcome``, the worklog) or still rejected (why)."""

    outcome: str | None = None
    worklog_id: Any = None
    rejection: Rejection | None = None


async def apply_one(
    conn: Connection,
    producer: str,
    line: int,
    checked: WorklogIn | list[Rejection],
    unrouted: RoutingError | None = None,
) -> Applied:
    """Route and store one item in its own transaction (a replay)."""
    if isinstance(checked, list):
        return Applied(rejection=checked[0])
    items = {line: checked}
    rejected: list[Rejection] = []
    outcomes = await refuse_unroutable(
        conn, items, rejected, {line: unrouted} if unrouted else None
    )
    if rejected:
        return Applied(rejection=rejected[0])
    results = await store_items(conn, items, outcomes, producer, rejected)
    if rejected:
        return Applied(rejection=rejected[0])
    [result] = results
    return Applied(outcome=result.outcome.value, worklog_id=result.row["id"])


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


_CSV_SOURCE = {Dialect.TOGGL: "toggl", Dialect.HARVEST: "harvest", Dialect.GENERIC: "csv"}


async def with_legacy_ids(conn: Connection, rows: list[Row]) -> None:
    """Rows stored under the id of before (duration in the hash) keep that id."""
    legacy = [r for r in rows if r.legacy_id is not None]
    if not legacy:
        return
    source = legacy[0].fields["source"]
    stored = await store.stored_external_ids(
        conn, source, [r.legacy_id for r in legacy if r.legacy_id]
    )
    for row in legacy:
        if row.legacy_id in stored:
            row.fields["external_id"] = row.legacy_id


def _csv_keeper(text: str, first_line: int, format: Dialect, params: dict[str, Any]) -> Keeper:
    def kept(rejected: Sequence[Rejection]) -> list[Kept]:
        header, records = raw_records(text, first_line)
        # Which occurrence of identical records each one is: two identical rows stay two.
        seen: Counter[str] = Counter()
        occurrence: dict[int, int] = {}
        for line, record in records.items():
            seen[record] += 1
            occurrence[line] = seen[record]
        return [
            kept_item(
                WayIn.CSV,
                _CSV_SOURCE[format],
                line,
                reasons,
                (header + records.get(line, "")).encode(),
                params | {"occurrence": occurrence.get(line, 1)},
            )
            for line, reasons in by_line(rejected).items()
        ]

    return kept


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
    params = {"format": format.value, "mapping": mapping, "team": team, "timezone": timezone}
    async with pool.acquire() as conn:
        await with_legacy_ids(conn, rows)
        items: dict[int, WorklogIn] = {}
        for row in rows:
            checked = validate(row.line, row.fields)
            if isinstance(checked, list):
                rejected.extend(checked)
            else:
                items[row.line] = checked
        return await ingest_items(
            conn,
            items,
            rejected,
            deps.producer,
            mode=mode,
            dry_run=dry_run,
            keeper=_csv_keeper(text, line_offset + 1, format, params),
        )


async def replay_csv(
    conn: Connection, deps: Deps, payload: bytes, params: dict[str, Any], line: int
) -> Applied:
    """A kept CSV row (its header and record), parsed and applied as in its import."""
    try:
        rows, rejected = parse(
            payload.decode("utf-8"),
            Dialect(params["format"]),
            team=params["team"],
            timezone=params["timezone"],
            mapping=params.get("mapping") or {},
            first_line=line - 1,
            occurrence=params.get("occurrence"),
        )
    except HeaderError as exc:
        return Applied(rejection=Rejection(line, exc.field, str(exc)))
    if rejected or not rows:
        return Applied(rejection=rejected[0] if rejected else Rejection(line, WHOLE_ROW, "empty"))
    await with_legacy_ids(conn, rows)
    return await apply_one(conn, deps.producer, line, validate(line, rows[0].fields))


# --- NDJSON --------------------------------------------------------------------------------


class Lines:
    """Splits a byte stream into lines in time linear in its length, whatever the length
    of a line; of a line longer than :data:`MAX_LINE_BYTES` only the first
    :data:`KEPT_HEAD_BYTES` are kept (its length says it is too long)."""

    def __init__(self, cap: int = MAX_LINE_BYTES, head: int = KEPT_HEAD_BYTES) -> None:
        self.cap, self.head = cap, head
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, chunk: bytes) -> list[tuple[bytes, int]]:
        """The lines this chunk completes, each with its length."""
        pieces = chunk.split(b"\n")
        done = [self._end(piece) for piece in pieces[:-1]]
        self._add(pieces[-1])
        return done

    def rest(self) -> tuple[bytes, int]:
        """The last line, without a newline after it."""
        return self._end(b"")

    def _add(self, piece: bytes) -> None:
        if self._size <= self.cap:
            self._parts.append(piece)
            if self._size + len(piece) > self.cap:
                self._parts = [b"".join(self._parts)[: self.head]]
        self._size += len(piece)

    def _end(self, piece: bytes) -> tuple[bytes, int]:
        if not self._parts:  # the usual line: in one chunk
            size = len(piece)
            return (piece if size <= self.cap else piece[: self.head]), size
        self._add(piece)
        line, size = b"".join(self._parts), self._size
        self._parts, self._size = [], 0
        return line, size


def _ndjson_source(raw: bytes) -> str:
    try:
        data = json.loads(raw)
    except ValueError:
        return "unknown"
    source = data.get("source") if isinstance(data, dict) else None
    return source if isinstance(source, str) else "unknown"


def ndjson_item(line: int, raw: bytes, size: int) -> WorklogIn | list[Rejection]:
    """One NDJSON line as a worklog, or why not."""
    if size > MAX_LINE_BYTES:
        return [
            Rejection(
                line,
                WHOLE_ROW,
                f"line of {size} bytes; at most {MAX_LINE_BYTES} per line",
                code="line_too_long",
            )
        ]
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return [Rejection(line, WHOLE_ROW, "not valid JSON", code="not_json")]
    return validate(line, data)


async def stream_worklogs(
    pool: asyncpg.Pool, deps: Deps, chunks: AsyncIterable[bytes], *, mode: Mode
) -> ImportOut:
    """One worklog per line, read as it arrives and routed and stored in chunks of
    :data:`STREAM_CHUNK` lines. All-or-nothing: the whole stream is one transaction; a bad
    line stops the storing, the rest is still checked, and every bad line is refused (422).
    Skip-invalid: each chunk is its own transaction, bad lines are reported and kept."""
    producer = deps.producer
    all_or_nothing = mode is Mode.ALL_OR_NOTHING
    total = ImportOut(imported=0, duplicates=0, unattributed=0, rejected=[])
    bad: list[Rejection] = []  # every rejected line so far
    items: dict[int, WorklogIn] = {}
    rejected: list[Rejection] = []
    # Skip-invalid: the lines of the chunk as received, to keep those rejected.
    raw_lines: dict[int, tuple[bytes, int]] = {}
    line, chunk_bytes = 0, 0

    def keeper(rejections: Sequence[Rejection]) -> list[Kept]:
        kept = []
        for number, reasons in by_line(rejections).items():
            raw, size = raw_lines[number]
            kept.append(
                kept_item(
                    WayIn.NDJSON,
                    _ndjson_source(raw) if size <= MAX_LINE_BYTES else "unknown",
                    number,
                    reasons,
                    raw,
                    {},
                    truncated=size > MAX_LINE_BYTES,
                )
            )
        return kept

    async def flush(conn: Connection) -> None:
        nonlocal total, items, rejected, raw_lines, chunk_bytes
        if items or rejected:
            if all_or_nothing:
                outcomes = await refuse_unroutable(conn, items, rejected)
                # Once a line is bad, the rest is only checked.
                stored = (
                    []
                    if bad or rejected
                    else await store_items(conn, items, outcomes, producer, rejected)
                )
                bad.extend(rejected)
                total = merged(total, summary(stored, rejected))
            else:
                part = await ingest_items(conn, items, rejected, producer, mode=mode, keeper=keeper)
                total = merged(total, part)
        items, rejected, raw_lines, chunk_bytes = {}, [], {}, 0

    def take(raw: bytes, size: int) -> None:
        nonlocal line, chunk_bytes
        line += 1
        if size <= MAX_LINE_BYTES and not raw.strip():
            return
        if not all_or_nothing:
            raw_lines[line] = (raw, size)
        chunk_bytes += len(raw)
        checked = ndjson_item(line, raw, size)
        if isinstance(checked, list):
            rejected.extend(checked)
        else:
            items[line] = checked

    splitter = Lines()
    async with pool.acquire() as conn:
        # All-or-nothing: the chunks are savepoints of one transaction, rolled back whole
        # (their outbox events with them) when a line is bad, however long the stream.
        whole = conn.transaction() if all_or_nothing else None
        if whole is not None:
            await whole.start()
        try:
            async for chunk in chunks:
                for raw, size in splitter.feed(chunk):
                    take(raw, size)
                    if (
                        len(items) + len(rejected) >= STREAM_CHUNK
                        or chunk_bytes >= STREAM_CHUNK_BYTES
                    ):
                        await flush(conn)
            take(*splitter.rest())
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


async def replay_ndjson(
    conn: Connection, deps: Deps, payload: bytes, line: int, truncated: bool
) -> Applied:
    if truncated:
        return Applied(
            rejection=Rejection(
                line,
                WHOLE_ROW,
                f"only the first {len(payload)} bytes of the line were kept",
                code="line_too_long",
            )
        )
    return await apply_one(conn, deps.producer, line, ndjson_item(line, payload, len(payload)))


# --- Tempo Cloud API v4 --------------------------------------------------------------------


def tempo_fields(
    w: TempoWorklog,
    *,
    team: str,
    activity: str,
    zone_name: str,
    account_attribute: str,
    location_attribute: str,
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
        "location": attributes.get(location_attribute),
        "source_updated_at": updated,
    }


def _unknown_issue(w: TempoWorklog) -> RoutingError | None:
    """A Tempo worklog naming a Jira issue not known here is kept, unattributed."""
    if w.issue.id is None and not w.issue.key:
        return None
    return RoutingError(
        Unroutable.UNKNOWN_JIRA_ISSUE,
        "issue",
        f"issue {w.issue.key or w.issue.id} unknown: its project is learnt from Jira's "
        "jira:issue_* webhooks",
    )


def _tempo_item(
    index: int, raw: Any, params: Mapping[str, str], known: dict[str, tuple[str, str]]
) -> tuple[WorklogIn | list[Rejection], RoutingError | None]:
    try:
        tempo = TempoWorklog.model_validate(raw)
    except ValidationError as exc:
        return [
            Rejection(index, ".".join(str(p) for p in e["loc"]) or WHOLE_ROW, error_message(e))
            for e in exc.errors(include_url=False, include_context=False, include_input=False)
        ], None
    try:
        fields = tempo_fields(
            tempo,
            team=params["team"],
            activity=params["activity"],
            zone_name=params["timezone"],
            account_attribute=params["account_attribute"],
            location_attribute=params["location_attribute"],
            known=known,
        )
    except (ValueError, OverflowError) as exc:  # a date the calendar cannot hold
        return [Rejection(index, "startDate", str(exc))], None
    return validate(index, fields), _unknown_issue(tempo)


async def _known_issues(conn: Connection, raws: Sequence[Any]) -> dict[str, tuple[str, str]]:
    ids = sorted(
        {
            str(issue["id"])
            for raw in raws
            if isinstance(raw, dict)
            and isinstance(issue := raw.get("issue"), dict)
            and issue.get("id") is not None
        }
    )
    return {
        r["issue_id"]: (r["issue_key"], r["project_key"])
        for r in await store.jira_issues(conn, ids)
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
    location_attribute: str,
) -> ImportOut:
    """A page of Tempo Cloud API v4 worklogs (``{"results": [...]}``); ``line`` in the
    rejections is the index in ``results`` + 1. A worklog of a Jira issue not known here
    (and no work account) is kept unattributed (``unknown_jira_issue``)."""
    params = {
        "team": team,
        "activity": activity,
        "timezone": zone(timezone),
        "account_attribute": account_attribute,
        "location_attribute": location_attribute,
    }
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
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
    unrouted: dict[int, RoutingError] = {}

    def keeper(rejections: Sequence[Rejection]) -> list[Kept]:
        return [
            kept_item(
                WayIn.TEMPO,
                "tempo",
                index,
                reasons,
                json.dumps(results[index - 1]).encode(),
                params,
            )
            for index, reasons in by_line(rejections).items()
        ]

    async with pool.acquire() as conn:
        known = await _known_issues(conn, results)
        for index, raw in enumerate(results, start=1):
            checked, unknown = _tempo_item(index, raw, params, known)
            if isinstance(checked, list):
                rejected.extend(checked)
            else:
                items[index] = checked
                if unknown is not None:
                    unrouted[index] = unknown
        return await ingest_items(
            conn,
            items,
            rejected,
            deps.producer,
            mode=mode,
            keeper=keeper,
            unrouted=unrouted,
        )


async def replay_tempo(
    conn: Connection, deps: Deps, payload: bytes, params: dict[str, Any], line: int
) -> Applied:
    try:
        raw = json.loads(payload)
    except ValueError:
        return Applied(rejection=Rejection(line, WHOLE_ROW, "not valid JSON", code="not_json"))
    checked, unknown = _tempo_item(line, raw, params, await _known_issues(conn, [raw]))
    return await apply_one(conn, deps.producer, line, checked, unknown)
