"""Worklogs: recorded one at a time or in batches, corrected, deleted, attributed later.

The use cases are in ``service.worklogs``.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from burnrate_common.bodies import read_capped
from burnrate_common.deps import ConnectionDep, CursorQuery, LimitQuery, RuntimeDep
from burnrate_common.pagination import Page
from fastapi import APIRouter, Query, Request, Response

from burnrate_worklog_ingest.api import DepsDep
from burnrate_worklog_ingest.auth import WorklogsReader, WorklogsWriter
from burnrate_worklog_ingest.schemas import (
    BATCH_SCHEMA,
    MAX_BATCH_BYTES,
    MAX_BATCH_ITEMS,
    AttributeIn,
    BatchOut,
    Outcome,
    RecordedWorklog,
    WorklogIn,
    WorklogOut,
    WorklogUpdate,
)
from burnrate_worklog_ingest.service import worklogs

router = APIRouter(prefix="/v1/worklogs", tags=["worklogs"])


@router.post(
    "",
    status_code=201,
    response_model=RecordedWorklog,
    summary="Record one worklog",
    description=(
        "201: created and attributed to a contract. 202: created but matching no contract: "
        "kept, unattributed (`attributed: false`, `unattributed_reason`), listed under "
        "`/v1/worklogs/unattributed`. 200: stored already as sent (`outcome: duplicate`); a "
        "correction (`outcome: updated`: a newer `source_updated_at`, or without one, "
        "different content; the exact deltas are published); older than the stored version "
        "(`outcome: stale`).\n\n"
        "Read your own writes: a worklog naming the work account or Jira project of a "
        "contract created moments ago, which has not reached this service yet, is accepted "
        "(202, `unknown_work_account` / `unknown_project`) and attributed to the contract as "
        "soon as its `contract.created` arrives, with no retry by the client. An explicit "
        "`contract_id` not known here yet is refused (422: retry shortly).\n\n"
        "Any positive duration is accepted; above 31 days the worklog is kept unattributed "
        "(`duration_above_limit`) for a person to attribute. 503 with `Retry-After` while "
        "the database is away: nothing was stored."
    ),
    responses={
        200: {"model": RecordedWorklog, "description": "Already recorded: duplicate"},
        202: {"model": RecordedWorklog, "description": "Kept, unattributed"},
    },
)
async def record(
    body: WorklogIn, response: Response, runtime: RuntimeDep, deps: DepsDep, _: WorklogsWriter
) -> RecordedWorklog:
    recorded = await worklogs.record_worklog(runtime.pool, deps, body)
    if recorded.outcome is Outcome.CREATED:
        response.headers["Location"] = f"{router.prefix}/{recorded.id}"
        response.status_code = 201 if recorded.attributed else 202
    else:
        response.status_code = 200
    return recorded


@router.post(
    "/batch",
    status_code=201,
    response_model=BatchOut,
    summary="Record up to 10,000 worklogs, all or nothing",
    description=(
        "Every item is validated and routed first; if any is bad nothing is stored and the "
        "422 lists each bad item (`worklogs.<index>.<field>`). Items stored already count as "
        "duplicates, or as `updated` when their content changed (a correction; within one "
        "batch the first occurrence of a key wins). Routing as for one worklog. 201 when "
        "something was created, 200 otherwise; 413 above "
        f"{MAX_BATCH_ITEMS} items."
    ),
    responses={200: {"model": BatchOut, "description": "Nothing created: duplicates, updates"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": BATCH_SCHEMA}},
        }
    },
)
async def record_batch(
    request: Request, response: Response, runtime: RuntimeDep, deps: DepsDep, _: WorklogsWriter
) -> BatchOut:
    body = await read_capped(request, MAX_BATCH_BYTES, what="batch")
    outcome = await worklogs.record_batch(runtime.pool, deps, body)
    if outcome.created == 0:
        response.status_code = 200
    return outcome


@router.get("", response_model=Page[WorklogOut], summary="List worklogs (not deleted ones)")
async def list_worklogs(
    conn: ConnectionDep,
    _: WorklogsReader,
    contract_id: Annotated[uuid.UUID | None, Query()] = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[WorklogOut]:
    return await worklogs.list_worklogs(conn, contract_id, limit, cursor)


@router.get(
    "/unattributed",
    response_model=Page[WorklogOut],
    summary="Worklogs that matched no contract (kept, not counted yet)",
)
async def list_unattributed(
    conn: ConnectionDep, _: WorklogsReader, limit: LimitQuery = 100, cursor: CursorQuery = None
) -> Page[WorklogOut]:
    return await worklogs.list_unattributed(conn, limit, cursor)


@router.get("/{worklog_id}", response_model=WorklogOut, summary="One worklog")
async def get_worklog(worklog_id: uuid.UUID, conn: ConnectionDep, _: WorklogsReader) -> WorklogOut:
    return await worklogs.get_worklog(conn, worklog_id)


@router.put(
    "/{worklog_id}",
    response_model=WorklogOut,
    summary="Correct a worklog (full replace); publishes the correcting deltas",
)
async def correct_worklog(
    worklog_id: uuid.UUID,
    body: WorklogUpdate,
    runtime: RuntimeDep,
    deps: DepsDep,
    _: WorklogsWriter,
) -> WorklogOut:
    return await worklogs.correct_worklog(runtime.pool, deps, worklog_id, body)


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
    worklog_id: uuid.UUID,
    body: AttributeIn,
    runtime: RuntimeDep,
    deps: DepsDep,
    _: WorklogsWriter,
) -> WorklogOut:
    return await worklogs.attribute_worklog(runtime.pool, deps, worklog_id, body.contract_id)


@router.delete(
    "/{worklog_id}",
    status_code=204,
    summary="Delete a worklog (kept, marked deleted); publishes the negative deltas",
)
async def delete_worklog(
    worklog_id: uuid.UUID, runtime: RuntimeDep, deps: DepsDep, _: WorklogsWriter
) -> Response:
    await worklogs.delete_worklog(runtime.pool, deps, worklog_id)
    return Response(status_code=204)
