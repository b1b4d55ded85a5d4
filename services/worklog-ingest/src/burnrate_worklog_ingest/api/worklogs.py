"""Worklogs: recorded one at a time or in batches, corrected and deleted.

Every change writes its ``worklog.*`` event and the exact consumption deltas to the outbox in
the transaction that changes the rows; the deltas of one request are summed per contract
period, team and activity, so a batch of 10,000 worklogs yields a handful of
``consumption.recorded`` events.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Any

import asyncpg
from burnrate_common import outbox
from burnrate_common.auth import require
from burnrate_common.deps import ConnectionDep, CursorQuery, LimitQuery, RuntimeDep
from burnrate_common.errors import Problem
from burnrate_common.events import (
    WORKLOGS_PER_EVENT,
    ConsumptionRecorded,
    Envelope,
    EventType,
    Worklog,
    WorklogsChanged,
    new_event,
)
from burnrate_common.pagination import Page, decode_cursor, encode_cursor
from burnrate_common.types import Hours, seconds_to_hours
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from burnrate_worklog_ingest import store
from burnrate_worklog_ingest.domain.attribution import (
    Attribution,
    ContractRoute,
    Period,
    RoutingError,
    Unroutable,
    attribute,
    route,
)
from burnrate_worklog_ingest.domain.consumption import (
    ConsumptionKey,
    Delta,
    Share,
    change,
    summed,
)

router = APIRouter(prefix="/v1/worklogs", tags=["worklogs"])
Writer = Annotated[object, Depends(require("worklogs:write"))]
Reader = Annotated[object, Depends(require("worklogs:read"))]

MAX_BATCH_ITEMS = 10_000
# Far above 10,000 worklogs of honest size; stops a huge body before it is parsed.
MAX_BATCH_BYTES = 32 * 1024 * 1024
MAX_WORKLOG_SECONDS = 24 * 3600


class Source(StrEnum):
    JIRA = "jira"
    TEMPO = "tempo"
    CSV = "csv"
    API = "api"
    HARVEST = "harvest"
    TOGGL = "toggl"


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Seconds = Annotated[int, Field(gt=0, le=MAX_WORKLOG_SECONDS, strict=True)]


class WorklogIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: Source
    external_id: str = Field(
        min_length=1,
        max_length=200,
        coerce_numbers_to_str=True,
        description="The worklog's id at its source; the same (source, external_id) is one worklog",
    )
    contract_id: uuid.UUID | None = Field(default=None, description="Explicit contract")
    work_account: Text | None = Field(
        default=None, description="Routes to the contract holding this account on that date"
    )
    author: Text
    team: Text
    activity: Text
    started_at: AwareDatetime = Field(description="With a time zone or offset; naive is refused")
    seconds: Seconds
    ticket: Text | None = None


class WorklogUpdate(BaseModel):
    """A full replace of what may change about a worklog (not its source, id or contract)."""

    model_config = ConfigDict(extra="forbid")
    author: Text
    team: Text
    activity: Text
    started_at: AwareDatetime
    seconds: Seconds
    ticket: Text | None = None


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    worklogs: list[WorklogIn] = Field(max_length=MAX_BATCH_ITEMS)


class WorklogOut(BaseModel):
    id: uuid.UUID
    source: str
    external_id: str
    contract_id: uuid.UUID
    work_account: str | None
    period_start: dt.date
    period_end: dt.date
    outside_dates: bool
    author: str
    team: str
    activity: str
    started_at: dt.datetime
    seconds: int
    hours: Hours
    ticket: str | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    deleted_at: dt.datetime | None = None


class RecordedWorklog(WorklogOut):
    duplicate: bool = Field(
        description="True when this (source, external_id) was already stored; nothing changed"
    )


class BatchOut(BaseModel):
    created: int
    duplicates: int
    worklogs: list[uuid.UUID] = Field(description="The stored worklog of each item, in order")


# --- rows, routes and events ---------------------------------------------------------------


def _out(row: asyncpg.Record) -> dict[str, Any]:
    return {**dict(row), "hours": seconds_to_hours(row["seconds"])}


def _route(row: asyncpg.Record) -> ContractRoute:
    return ContractRoute(
        id=row["id"],
        timezone=row["timezone"],
        start_date=row["start_date"],
        end_date=row["end_date"],
        periods=tuple(
            Period(start, end)
            for start, end in zip(row["period_starts"], row["period_ends"], strict=True)
        ),
    )


async def _attribute(
    conn: asyncpg.Connection, items: Mapping[int, WorklogIn]
) -> dict[int, Attribution | RoutingError]:
    """Route every item with two queries at most, whatever the batch size."""
    contract_ids = {i.contract_id for i in items.values() if i.contract_id is not None}
    accounts = {
        i.work_account
        for i in items.values()
        if i.contract_id is None and i.work_account is not None
    }
    by_id = {r["id"]: _route(r) for r in await store.routes_by_id(conn, sorted(contract_ids))}
    by_account: dict[str, list[ContractRoute]] = defaultdict(list)
    for row in await store.routes_by_work_account(conn, sorted(accounts)):
        by_account[row["work_account"]].append(_route(row))
    return {
        index: route(item.contract_id, item.work_account, item.started_at, by_id, by_account)
        for index, item in items.items()
    }


def _new_row(item: WorklogIn, attribution: Attribution) -> tuple[Any, ...]:
    """A row in the order of ``store.INSERT_COLUMNS``."""
    return (
        uuid.uuid4(),
        item.source.value,
        item.external_id,
        attribution.contract_id,
        item.work_account,
        attribution.period_start,
        attribution.period_end,
        attribution.outside_dates,
        item.author,
        item.team,
        item.activity,
        item.started_at,
        item.seconds,
        item.ticket,
    )


async def _insert(
    conn: asyncpg.Connection, items: Sequence[WorklogIn], attributions: Sequence[Attribution]
) -> list[tuple[asyncpg.Record, bool]]:
    """Store the items; for each, the stored row and whether this request created it.

    Idempotency is the unique (source, external_id): ON CONFLICT DO NOTHING, then the rows
    that were already there are read back.
    """
    rows = [_new_row(i, a) for i, a in zip(items, attributions, strict=True)]
    if not rows:
        return []
    if len(rows) == 1:
        one = await store.insert_worklog(conn, rows[0])
        created = [one] if one is not None else []
    else:
        created = await store.insert_worklogs(conn, rows)
    keys = [(item.source.value, item.external_id) for item in items]
    stored = {(r["source"], r["external_id"]): r for r in created}
    for r in await store.worklogs_by_keys(conn, sorted(set(keys) - stored.keys())):
        stored[(r["source"], r["external_id"])] = r
    # New only if the stored row is the one this request made (a repeat within the same
    # batch maps to the first occurrence's row).
    return [(stored[key], stored[key]["id"] == row[0]) for key, row in zip(keys, rows, strict=True)]


def _share(row: asyncpg.Record) -> Share:
    return Share(
        key=ConsumptionKey(row["contract_id"], row["period_start"], row["team"], row["activity"]),
        period_end=row["period_end"],
        seconds=row["seconds"],
        outside_dates=row["outside_dates"],
    )


def _worklog_events(
    event_type: EventType, rows: Iterable[asyncpg.Record], producer: str
) -> list[Envelope]:
    """One event per contract and chunk of worklogs, not one per worklog."""
    by_contract: dict[uuid.UUID, list[Worklog]] = {}
    for row in rows:
        worklog = Worklog(**{name: row[name] for name in Worklog.model_fields})
        by_contract.setdefault(row["contract_id"], []).append(worklog)
    return [
        new_event(
            event_type,
            WorklogsChanged(contract_id=contract_id, worklogs=worklogs[i : i + WORKLOGS_PER_EVENT]),
            key=contract_id,
            producer=producer,
        )
        for contract_id, worklogs in by_contract.items()
        for i in range(0, len(worklogs), WORKLOGS_PER_EVENT)
    ]


def _consumption_events(deltas: Iterable[Delta], producer: str) -> list[Envelope]:
    return [
        new_event(
            EventType.CONSUMPTION_RECORDED,
            ConsumptionRecorded(
                contract_id=d.key.contract_id,
                period_start=d.key.period_start,
                period_end=d.period_end,
                team=d.key.team,
                activity=d.key.activity,
                delta_seconds=d.seconds,
                delta_worklogs=d.worklogs,
                delta_outside_dates_seconds=d.outside_dates_seconds,
            ),
            key=d.key.contract_id,
            producer=producer,
        )
        for d in deltas
    ]


def _recorded_events(rows: Sequence[asyncpg.Record], producer: str) -> list[Envelope]:
    deltas = summed((None, _share(row)) for row in rows)
    return [
        *_worklog_events(EventType.WORKLOG_RECORDED, rows, producer),
        *_consumption_events(deltas, producer),
    ]


def _unroutable(error: RoutingError) -> Problem:
    title = {
        Unroutable.NO_ROUTE_GIVEN: "Contract or work account required",
        Unroutable.UNKNOWN_CONTRACT: "Unknown contract"
        if error.field == "contract_id"
        else "Unknown work account",
        Unroutable.NO_CONTRACT_FOR_DATE: "No contract for this date",
        Unroutable.AMBIGUOUS_WORK_ACCOUNT: "Ambiguous work account",
    }[error.reason]
    return Problem(422, title, error.message, field=error.field)


def _not_found(worklog_id: uuid.UUID) -> Problem:
    return Problem(404, "Not found", f"No worklog {worklog_id}.", field="worklog_id")


# --- the batch body, read by hand so an oversized batch is refused before it is validated ---


async def _read_batch(request: Request) -> Any:
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
    try:
        data = json.loads(b"".join(chunks))
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


def _validate_batch(data: Any) -> tuple[dict[int, WorklogIn], list[dict[str, Any]]]:
    """The valid items by index, and the errors of the others (``loc`` from the body)."""
    try:
        return dict(enumerate(BatchIn.model_validate(data).worklogs)), []
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
                valid[index] = WorklogIn.model_validate(raw)
            except ValidationError:
                pass
    return valid, errors


def _error_order(error: dict[str, Any]) -> tuple[int, str]:
    loc = error["loc"]
    index = loc[2] if len(loc) > 2 and isinstance(loc[2], int) else -1
    return index, ".".join(str(part) for part in loc[3:])


_BATCH_SCHEMA = BatchIn.model_json_schema(ref_template="#/components/schemas/{model}")
_BATCH_SCHEMA.pop("$defs", None)


# --- routes --------------------------------------------------------------------------------


@router.post(
    "",
    status_code=201,
    response_model=RecordedWorklog,
    summary="Record one worklog",
    responses={200: {"model": RecordedWorklog, "description": "Already recorded: duplicate"}},
)
async def record(
    body: WorklogIn, response: Response, runtime: RuntimeDep, _: Writer
) -> RecordedWorklog:
    producer = runtime.settings.service_name
    async with runtime.pool.acquire() as conn:
        outcome = (await _attribute(conn, {0: body}))[0]
        if isinstance(outcome, RoutingError):
            raise _unroutable(outcome)
        async with conn.transaction():
            [(row, created)] = await _insert(conn, [body], [outcome])
            if created:
                await outbox.add(conn, _recorded_events([row], producer))
    if created:
        response.headers["Location"] = f"{router.prefix}/{row['id']}"
    else:
        response.status_code = 200
    return RecordedWorklog(**_out(row), duplicate=not created)


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
        outcomes = await _attribute(conn, items)
        errors += [
            {
                "loc": ("body", "worklogs", index, outcome.field),
                "msg": outcome.message,
                "type": outcome.reason.value,
            }
            for index, outcome in outcomes.items()
            if isinstance(outcome, RoutingError)
        ]
        if errors:
            raise RequestValidationError(sorted(errors, key=_error_order))
        attributions = {i: o for i, o in outcomes.items() if isinstance(o, Attribution)}
        order = sorted(items)
        async with conn.transaction():
            results = await _insert(
                conn, [items[i] for i in order], [attributions[i] for i in order]
            )
            created = [row for row, is_new in results if is_new]
            await outbox.add(conn, _recorded_events(created, producer))
    if not created:
        response.status_code = 200
    return BatchOut(
        created=len(created),
        duplicates=len(results) - len(created),
        worklogs=[row["id"] for row, _ in results],
    )


@router.get("", response_model=Page[WorklogOut], summary="List worklogs (not deleted ones)")
async def list_worklogs(
    conn: ConnectionDep,
    _: Reader,
    contract_id: Annotated[uuid.UUID | None, Query()] = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[WorklogOut]:
    rows = await store.list_worklogs(conn, decode_cursor(cursor), limit, contract_id)
    next_cursor = (
        encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if len(rows) == limit else None
    )
    return Page(items=[WorklogOut(**_out(r)) for r in rows], next_cursor=next_cursor)


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
        routes = await store.routes_by_id(conn, [old["contract_id"]])
        if not routes:  # only if the replica was wiped: nothing to attribute against
            raise Problem(
                409,
                "Contract not replicated",
                f"Contract {old['contract_id']} is not known here yet; retry shortly.",
                field="contract_id",
            )
        attribution = attribute(_route(routes[0]), body.started_at)
        values = {
            **body.model_dump(),
            "period_start": attribution.period_start,
            "period_end": attribution.period_end,
            "outside_dates": attribution.outside_dates,
        }
        if all(old[name] == value for name, value in values.items()):
            return WorklogOut(**_out(old))  # nothing changes: no new version, no event
        new = await store.update_worklog(conn, worklog_id, values)
        await outbox.add(
            conn,
            [
                *_worklog_events(EventType.WORKLOG_CORRECTED, [new], producer),
                *_consumption_events(change(_share(old), _share(new)), producer),
            ],
        )
    return WorklogOut(**_out(new))


@router.delete(
    "/{worklog_id}",
    status_code=204,
    summary="Delete a worklog (kept, marked deleted); publishes the negative deltas",
)
async def delete_worklog(worklog_id: uuid.UUID, runtime: RuntimeDep, _: Writer) -> Response:
    producer = runtime.settings.service_name
    async with runtime.pool.acquire() as conn, conn.transaction():
        row = await store.soft_delete_worklog(conn, worklog_id)
        if row is None:
            raise _not_found(worklog_id)
        await outbox.add(
            conn,
            [
                *_worklog_events(EventType.WORKLOG_DELETED, [row], producer),
                *_consumption_events(change(_share(row), None), producer),
            ],
        )
    return Response(status_code=204)
