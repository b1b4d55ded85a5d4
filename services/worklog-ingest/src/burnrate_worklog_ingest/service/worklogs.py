"""Worklogs: recorded one at a time or in batches, corrected, deleted, attributed later.

Every change writes its ``worklog.*`` event and the exact consumption deltas to the outbox in
the transaction that changes the rows; the deltas of one request are summed per contract
period, team, activity and author, so a batch of 10,000 worklogs yields one
``consumption.recorded`` event per such key, not one per worklog (see ``ingest``).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
from burnrate_common import outbox
from burnrate_common.db import Connection
from burnrate_common.errors import Problem
from burnrate_common.pagination import Page, decode_cursor, encode_cursor
from burnrate_common.types import seconds_to_hours
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from burnrate_worklog_ingest import store
from burnrate_worklog_ingest.domain.attribution import (
    Attribution,
    RoutingError,
    Unroutable,
    attribute,
)
from burnrate_worklog_ingest.schemas import (
    BATCH_IN,
    MAX_ATTRIBUTABLE_SECONDS,
    MAX_BATCH_ITEMS,
    WORKLOG_IN,
    BatchOut,
    Outcome,
    RecordedWorklog,
    WorklogIn,
    WorklogOut,
    WorklogUpdate,
    error_message,
)
from burnrate_worklog_ingest.service import Deps, ingest

# --- rows, routes and errors ---------------------------------------------------------------


def _out(row: ingest.Row) -> dict[str, Any]:
    return {
        **dict(row),
        "hours": seconds_to_hours(row["seconds"]),
        "attributed": row["contract_id"] is not None,
    }


def _after(cursor: str | None) -> uuid.UUID | None:
    """The id a list page starts after. Lists are in id order (ids are UUIDv7, so creation
    order): of the shared ``(created_at, id)`` cursor only the id is read."""
    last = decode_cursor(cursor)
    return last[1] if last else None


def _next(rows: list[Any], limit: int) -> str | None:
    return encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if len(rows) == limit else None


def _unroutable(error: RoutingError) -> Problem:
    title = {
        Unroutable.NO_ROUTE_GIVEN: "Contract or work account required",
        Unroutable.UNKNOWN_CONTRACT: "Unknown contract",
    }[error.reason]
    return Problem(422, title, error.message, field=error.field)


def _routing_errors(outcomes: dict[int, Attribution | RoutingError]) -> list[dict[str, Any]]:
    """The refused items (unknown explicit contract, nothing to route by) as 422 errors."""
    return [
        {
            "loc": ("body", "worklogs", index, outcome.field),
            "msg": outcome.message,
            "type": outcome.reason.value,
        }
        for index, outcome in outcomes.items()
        if isinstance(outcome, RoutingError) and outcome.refused
    ]


def _not_found(worklog_id: uuid.UUID) -> Problem:
    return Problem(404, "Not found", f"No worklog {worklog_id}.", field="worklog_id")


# --- the batch body, validated here so an oversized batch is refused before it is stored ---


def _parse_batch(body: bytes) -> Any:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise Problem(
            400, "Malformed JSON", "The request body is not valid JSON.", field="body"
        ) from exc
    worklogs = data.get("worklogs") if isinstance(data, dict) else None
    if isinstance(worklogs, list) and len(worklogs) > MAX_BATCH_ITEMS:
        raise Problem(
            413,
            "Batch too large",
            f"{len(worklogs)} worklogs; at most {MAX_BATCH_ITEMS} per batch.",
            field="worklogs",
        )
    return data


def _validate_batch(body: bytes) -> tuple[dict[int, WorklogIn], list[dict[str, Any]]]:
    """The valid items by index, and the errors of the others (``loc`` from the body)."""
    try:
        # Fast path: parsed and validated in one pass in pydantic-core, into plain dicts.
        return dict(enumerate(BATCH_IN.validate_json(body)["worklogs"])), []
    except ValidationError:
        pass
    # Something is wrong: parse it again to say exactly what (400, 413, or every bad item).
    data = _parse_batch(body)
    try:
        return dict(enumerate(BATCH_IN.validate_python(data)["worklogs"])), []
    except ValidationError as exc:
        errors = [
            {**e, "loc": ("body", *e["loc"]), "msg": error_message(e)}
            for e in exc.errors(include_url=False, include_context=False, include_input=False)
        ]
    valid: dict[int, WorklogIn] = {}
    if isinstance(data, dict) and isinstance(data.get("worklogs"), list):
        # Slow path, errors only: keep the valid items so their routing is checked too and
        # the answer lists every bad item at once.
        for index, raw in enumerate(data["worklogs"]):
            try:
                valid[index] = WORKLOG_IN.validate_python(raw)
            except ValidationError:
                pass
    return valid, errors


def _error_order(error: dict[str, Any]) -> tuple[int, str]:
    loc = error["loc"]
    index = loc[2] if len(loc) > 2 and isinstance(loc[2], int) else -1
    return index, ".".join(str(part) for part in loc[3:])


# --- commands ------------------------------------------------------------------------------


async def record_worklog(pool: asyncpg.Pool, deps: Deps, item: WorklogIn) -> RecordedWorklog:
    """One worklog: refused (422) if it can never be routed; else created (attributed or
    kept unattributed), a duplicate, a newer version, or stale. The usual new worklog is
    stored with its events in one statement, its own transaction (``ingest.record_one``)."""
    async with pool.acquire() as conn:
        outcome = (await ingest.attribute_items(conn, {0: item}))[0]
        if isinstance(outcome, RoutingError) and outcome.refused:
            raise _unroutable(outcome)
        result = await ingest.record_one(conn, item, outcome, deps.producer)
    return RecordedWorklog(
        **_out(result.row), duplicate=result.outcome is Outcome.DUPLICATE, outcome=result.outcome
    )


async def record_batch(pool: asyncpg.Pool, deps: Deps, body: bytes) -> BatchOut:
    """A batch (its JSON body), all or nothing: validate and route every item, refuse with
    every error at once (422, ``worklogs.<index>.<field>``), else store in one transaction."""
    items, errors = _validate_batch(body)
    async with pool.acquire() as conn:
        return await record_items(conn, items, errors, deps.producer)


async def record_items(
    conn: Connection,
    items: dict[int, WorklogIn],
    errors: list[dict[str, Any]],
    producer: str,
) -> BatchOut:
    """All or nothing: route, refuse with every error at once, else store in one transaction."""
    outcomes = await ingest.attribute_items(conn, items)
    errors = errors + _routing_errors(outcomes)
    if errors:
        raise RequestValidationError(sorted(errors, key=_error_order))
    order = sorted(items)
    async with conn.transaction():
        results = await ingest.record(
            conn, [items[i] for i in order], [outcomes[i] for i in order], producer
        )
    return summarize(results)


def summarize(results: list[ingest.Recorded]) -> BatchOut:
    """The answer, in one pass over the results (10,000 of them for a full batch)."""
    counts = dict.fromkeys(Outcome, 0)
    unattributed = 0
    ids = []
    created_ids = set()
    for row, outcome in results:
        worklog_id = row["id"]
        ids.append(worklog_id)
        counts[outcome] += 1
        if outcome is Outcome.CREATED:
            created_ids.add(worklog_id)
            unattributed += row["contract_id"] is None
    # A repeat within one request maps to the first occurrence's row: it is a duplicate.
    created = len(created_ids)
    return BatchOut(
        created=created,
        duplicates=counts[Outcome.DUPLICATE] + counts[Outcome.CREATED] - created,
        updated=counts[Outcome.UPDATED],
        stale=counts[Outcome.STALE],
        unattributed=unattributed,
        worklogs=ids,
    )


async def correct_worklog(
    pool: asyncpg.Pool, deps: Deps, worklog_id: uuid.UUID, update: WorklogUpdate
) -> WorklogOut:
    """A full replace of a worklog's editable fields; publishes the correcting deltas. An
    attributed worklog keeps its contract (its period follows the new date), unless it is
    now longer than the attributable bound: then it is unattributed, with that reason."""
    async with pool.acquire() as conn, conn.transaction():
        old = await store.get_worklog(conn, worklog_id, for_update=True)
        if old is None:
            raise _not_found(worklog_id)
        values: dict[str, Any] = update.model_dump()
        if update.seconds > MAX_ATTRIBUTABLE_SECONDS:
            values |= ingest.attribution_values(ingest.too_long(update.seconds))
        elif old["contract_id"] is None:
            # Unattributed: corrected as it is; it stays unattributed until attributed.
            values |= {"period_start": None, "period_end": None, "outside_dates": False}
        else:
            routes = await store.routes_by_id(conn, [old["contract_id"]])
            if not routes:  # only if the replica was wiped: nothing to attribute against
                raise Problem(
                    409,
                    "Contract not replicated",
                    f"Contract {old['contract_id']} is not known here yet; retry shortly.",
                    field="contract_id",
                )
            attribution = attribute(ingest.contract_route(routes[0]), update.started_at)
            values |= {
                "period_start": attribution.period_start,
                "period_end": attribution.period_end,
                "outside_dates": attribution.outside_dates,
            }
        if all(old[name] == value for name, value in values.items()):
            return WorklogOut(**_out(old))  # nothing changes: no new version, no event
        new = await store.update_worklog(conn, worklog_id, values)
        await outbox.add(conn, await ingest.change_events(conn, [(old, new)], deps.producer))
    return WorklogOut(**_out(new))


async def attribute_worklog(
    pool: asyncpg.Pool, deps: Deps, worklog_id: uuid.UUID, contract_id: uuid.UUID
) -> WorklogOut:
    """An unattributed worklog counts from now on against ``contract_id`` (409 if it is
    attributed already, 422 if the contract is not replicated here); publishes its
    consumption."""
    async with pool.acquire() as conn, conn.transaction():
        old = await store.get_worklog(conn, worklog_id, for_update=True)
        if old is None:
            raise _not_found(worklog_id)
        if old["contract_id"] is not None:
            raise Problem(
                409,
                "Already attributed",
                f"Worklog {worklog_id} counts against contract {old['contract_id']}.",
                field="contract_id",
            )
        routes = await store.routes_by_id(conn, [contract_id])
        if not routes:
            raise Problem(
                422,
                "Unknown contract",
                f"unknown contract {contract_id}: a contract created moments ago may not "
                "have reached worklog-ingest yet (eventual consistency); retry shortly",
                field="contract_id",
            )
        attribution = attribute(ingest.contract_route(routes[0]), old["started_at"])
        new = await ingest.reattribute(conn, old, attribution)
        await outbox.add(conn, await ingest.change_events(conn, [(old, new)], deps.producer))
    return WorklogOut(**_out(new))


async def delete_worklog(pool: asyncpg.Pool, deps: Deps, worklog_id: uuid.UUID) -> None:
    """Mark a worklog deleted (the row stays); publishes the negative deltas."""
    async with pool.acquire() as conn, conn.transaction():
        old = await store.get_worklog(conn, worklog_id, for_update=True)
        new = await store.soft_delete_worklog(conn, worklog_id) if old else None
        if old is None or new is None:
            raise _not_found(worklog_id)
        await outbox.add(conn, await ingest.change_events(conn, [(old, new)], deps.producer))


# --- queries -------------------------------------------------------------------------------


async def list_worklogs(
    conn: Connection, contract_id: uuid.UUID | None, limit: int, cursor: str | None
) -> Page[WorklogOut]:
    """Live worklogs in creation order, of one contract or all."""
    rows = await store.list_worklogs(conn, _after(cursor), limit, contract_id)
    return Page(items=[WorklogOut(**_out(r)) for r in rows], next_cursor=_next(rows, limit))


async def list_unattributed(conn: Connection, limit: int, cursor: str | None) -> Page[WorklogOut]:
    """Live worklogs that matched no contract, in creation order."""
    rows = await store.list_unattributed(conn, _after(cursor), limit)
    return Page(items=[WorklogOut(**_out(r)) for r in rows], next_cursor=_next(rows, limit))


async def get_worklog(conn: Connection, worklog_id: uuid.UUID) -> WorklogOut:
    row = await store.get_worklog(conn, worklog_id)
    if row is None:
        raise _not_found(worklog_id)
    return WorklogOut(**_out(row))
