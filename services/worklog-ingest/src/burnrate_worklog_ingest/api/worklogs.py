"""Worklogs: recorded one at a time or in batches, corrected, deleted, attributed later.

Every change writes its ``worklog.*`` event and the exact consumption deltas to the outbox in
the transaction that changes the rows; the deltas of one request are summed per contract
period, team, activity and author, so a batch of 10,000 worklogs yields one
``consumption.recorded`` event per such key, not one per worklog (see ``ingest``).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Annotated, Any

from burnrate_common import outbox
from burnrate_common.auth import require
from burnrate_common.db import Connection
from burnrate_common.deps import ConnectionDep, CursorQuery, LimitQuery, RuntimeDep
from burnrate_common.errors import Problem
from burnrate_common.pagination import Page, decode_cursor, encode_cursor
from burnrate_common.types import Hours, seconds_to_hours
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    with_config,
)
from typing_extensions import TypedDict

from burnrate_worklog_ingest import ingest, store
from burnrate_worklog_ingest.domain.attribution import (
    Attribution,
    RoutingError,
    Unroutable,
    attribute,
)
from burnrate_worklog_ingest.ingest import WORKLOG_IN, Outcome, Seconds, Source, Text, WorklogIn

__all__ = ["MAX_BATCH_ITEMS", "Source", "WorklogIn", "router"]

router = APIRouter(prefix="/v1/worklogs", tags=["worklogs"])
Writer = Annotated[object, Depends(require("worklogs:write"))]
Reader = Annotated[object, Depends(require("worklogs:read"))]

MAX_BATCH_ITEMS = 10_000
# Far above 10,000 worklogs of honest size; stops a huge body before it is parsed.
MAX_BATCH_BYTES = 32 * 1024 * 1024


class WorklogUpdate(BaseModel):
    """A full replace of what may change about a worklog (not its source, id or contract)."""

    model_config = ConfigDict(extra="forbid")
    author: Text
    team: Text
    activity: Text
    started_at: AwareDatetime
    seconds: Seconds
    ticket: Text | None = None


@with_config(ConfigDict(extra="forbid"))
class BatchIn(TypedDict):
    worklogs: Annotated[list[WorklogIn], Field(max_length=MAX_BATCH_ITEMS)]


BATCH_IN = TypeAdapter(BatchIn)


class AttributeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contract_id: uuid.UUID


class WorklogOut(BaseModel):
    id: uuid.UUID
    source: str
    external_id: str
    contract_id: uuid.UUID | None = Field(description="None: unattributed (matched no contract)")
    attributed: bool
    unattributed_reason: str | None = None
    work_account: str | None
    project_key: str | None = None
    period_start: dt.date | None
    period_end: dt.date | None
    outside_dates: bool
    author: str
    team: str
    activity: str
    started_at: dt.datetime
    seconds: int
    hours: Hours
    ticket: str | None
    source_updated_at: dt.datetime | None = None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    deleted_at: dt.datetime | None = None


class RecordedWorklog(WorklogOut):
    duplicate: bool = Field(
        description="True when this (source, external_id) was already stored; nothing changed"
    )
    outcome: Outcome = Field(
        description="created, duplicate, updated (a newer source_updated_at replaced it) or "
        "stale (an older one: ignored)"
    )


#: A worklog id written as its text: pydantic writes asyncpg's UUID type (a subclass of
#: ``uuid.UUID``, what stored ids are) on a slow path, 0.3 instead of 0.09 µs each, and a
#: batch answers with 10,000 of them.
WorklogId = Annotated[
    uuid.UUID,
    PlainSerializer(str, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "uuid"}),
]


class BatchOut(BaseModel):
    created: int
    duplicates: int
    updated: int = 0
    stale: int = 0
    unattributed: int = Field(0, description="Created but matching no contract (kept)")
    worklogs: list[WorklogId] = Field(description="The stored worklog of each item, in order")


# --- rows, routes and events ---------------------------------------------------------------


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


# --- the batch body, read by hand so an oversized batch is refused before it is validated ---


async def _read_batch(request: Request) -> bytes:
    """The raw body, refused (413) above ``MAX_BATCH_BYTES`` before it is all read."""
    too_large = Problem(
        413,
        "Batch too large",
        f"At most {MAX_BATCH_ITEMS} worklogs and {MAX_BATCH_BYTES // 2**20} MiB per batch.",
        field="worklogs",
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BATCH_BYTES:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BATCH_BYTES:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


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
            {**e, "loc": ("body", *e["loc"])}
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


_BATCH_SCHEMA = BATCH_IN.json_schema(ref_template="#/components/schemas/{model}")
_BATCH_SCHEMA.pop("$defs", None)


# --- routes --------------------------------------------------------------------------------


@router.post(
    "",
    status_code=201,
    response_model=RecordedWorklog,
    summary="Record one worklog",
    description=(
        "201: created and attributed to a contract. 202: created but matching no contract: "
        "kept, unattributed (`attributed: false`), listed under `/v1/worklogs/unattributed`. "
        "200: already stored (duplicate), or replaced by this newer `source_updated_at` "
        "(`outcome: updated`), or older than the stored version (`outcome: stale`)."
    ),
    responses={
        200: {"model": RecordedWorklog, "description": "Already recorded: duplicate"},
        202: {"model": RecordedWorklog, "description": "Kept, unattributed"},
    },
)
async def record(
    body: WorklogIn, response: Response, runtime: RuntimeDep, _: Writer
) -> RecordedWorklog:
    producer = runtime.settings.service_name
    async with runtime.pool.acquire() as conn:
        outcome = (await ingest.attribute_items(conn, {0: body}))[0]
        if isinstance(outcome, RoutingError) and outcome.refused:
            raise _unroutable(outcome)
        result = await ingest.record_one(conn, body, outcome, producer)
    row = result.row
    if result.outcome is Outcome.CREATED:
        response.headers["Location"] = f"{router.prefix}/{row['id']}"
        response.status_code = 201 if row["contract_id"] is not None else 202
    else:
        response.status_code = 200
    return RecordedWorklog(
        **_out(row), duplicate=result.outcome is Outcome.DUPLICATE, outcome=result.outcome
    )


@router.post(
    "/batch",
    status_code=201,
    response_model=BatchOut,
    summary="Record up to 10,000 worklogs, all or nothing",
    description=(
        "Every item is validated and routed first; if any is bad nothing is stored and the "
        "422 lists each bad item (`worklogs.<index>.<field>`). Items already stored count as "
        "duplicates. 201 when something was created, 200 when all were duplicates; 413 above "
        f"{MAX_BATCH_ITEMS} items."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _BATCH_SCHEMA}},
        }
    },
)
async def record_batch(
    request: Request, response: Response, runtime: RuntimeDep, _: Writer
) -> BatchOut:
    producer = runtime.settings.service_name
    items, errors = _validate_batch(await _read_batch(request))
    async with runtime.pool.acquire() as conn:
        outcome = await record_items(conn, items, errors, producer)
    if outcome.created == 0:
        response.status_code = 200
    return outcome


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


@router.get("", response_model=Page[WorklogOut], summary="List worklogs (not deleted ones)")
async def list_worklogs(
    conn: ConnectionDep,
    _: Reader,
    contract_id: Annotated[uuid.UUID | None, Query()] = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[WorklogOut]:
    rows = await store.list_worklogs(conn, _after(cursor), limit, contract_id)
    return Page(items=[WorklogOut(**_out(r)) for r in rows], next_cursor=_next(rows, limit))


@router.get(
    "/unattributed",
    response_model=Page[WorklogOut],
    summary="Worklogs that matched no contract (kept, not counted yet)",
)
async def list_unattributed(
    conn: ConnectionDep, _: Reader, limit: LimitQuery = 100, cursor: CursorQuery = None
) -> Page[WorklogOut]:
    rows = await store.list_unattributed(conn, _after(cursor), limit)
    return Page(items=[WorklogOut(**_out(r)) for r in rows], next_cursor=_next(rows, limit))


@router.get("/{worklog_id}", response_model=WorklogOut, summary="One worklog")
async def get_worklog(worklog_id: uuid.UUID, conn: ConnectionDep, _: Reader) -> WorklogOut:
    row = await store.get_worklog(conn, worklog_id)
    if row is None:
        raise _not_found(worklog_id)
    return WorklogOut(**_out(row))


@router.put(
    "/{worklog_id}",
    response_model=WorklogOut,
    summary="Correct a worklog (full replace); publishes the correcting deltas",
)
async def correct_worklog(
    worklog_id: uuid.UUID, body: WorklogUpdate, runtime: RuntimeDep, _: Writer
) -> WorklogOut:
    producer = runtime.settings.service_name
    async with runtime.pool.acquire() as conn, conn.transaction():
        old = await store.get_worklog(conn, worklog_id, for_update=True)
        if old is None:
            raise _not_found(worklog_id)
        values: dict[str, Any] = body.model_dump()
        if old["contract_id"] is None:
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
            attribution = attribute(ingest.contract_route(routes[0]), body.started_at)
            values |= {
                "period_start": attribution.period_start,
                "period_end": attribution.period_end,
                "outside_dates": attribution.outside_dates,
            }
        if all(old[name] == value for name, value in values.items()):
            return WorklogOut(**_out(old))  # nothing changes: no new version, no event
        new = await store.update_worklog(conn, worklog_id, values)
        await outbox.add(conn, ingest.changed_events([(old, new)], producer))
    return WorklogOut(**_out(new))


@router.post(
    "/{worklog_id}/attribute",
    response_model=WorklogOut,
    summary="Attribute an unattributed worklog to a contract; publishes its consumption",
    description=(
        "The worklog counts from now on against the period of its date in that contract "
        "(outside the contract's dates: counted and flagged). 409 if it is attributed already."
    ),
)
async def attribute_worklog(
    worklog_id: uuid.UUID, body: AttributeIn, runtime: RuntimeDep, _: Writer
) -> WorklogOut:
    producer = runtime.settings.service_name
    async with runtime.pool.acquire() as conn, conn.transaction():
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
        routes = await store.routes_by_id(conn, [body.contract_id])
        if not routes:
            raise Problem(
                422,
                "Unknown contract",
                f"unknown contract {body.contract_id}: a contract created moments ago may not "
                "have reached worklog-ingest yet (eventual consistency); retry shortly",
                field="contract_id",
            )
        attribution = attribute(ingest.contract_route(routes[0]), old["started_at"])
        values = {name: old[name] for name in ("author", "team", "activity", "started_at")}
        values |= {
            "seconds": old["seconds"],
            "ticket": old["ticket"],
            "contract_id": attribution.contract_id,
            "unattributed_reason": None,
            "period_start": attribution.period_start,
            "period_end": attribution.period_end,
            "outside_dates": attribution.outside_dates,
        }
        new = await store.update_worklog(conn, worklog_id, values)
        await outbox.add(conn, ingest.changed_events([(old, new)], producer))
    return WorklogOut(**_out(new))


@router.delete(
    "/{worklog_id}",
    status_code=204,
    summary="Delete a worklog (kept, marked deleted); publishes the negative deltas",
)
async def delete_worklog(worklog_id: uuid.UUID, runtime: RuntimeDep, _: Writer) -> Response:
    producer = runtime.settings.service_name
    async with runtime.pool.acquire() as conn, conn.transaction():
        old = await store.get_worklog(conn, worklog_id, for_update=True)
        new = await store.soft_delete_worklog(conn, worklog_id) if old else None
        if old is None or new is None:
            raise _not_found(worklog_id)
        await outbox.add(conn, ingest.changed_events([(old, new)], producer))
    return Response(status_code=204)
