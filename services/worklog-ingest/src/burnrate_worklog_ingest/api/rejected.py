"""Rejected deliveries: what a source sent that could not be applied, kept as received,
listed and replayed. The use cases are in ``service.rejected``."""

from __future__ import annotations

import uuid
from typing import Annotated

from burnrate_common.deps import ConnectionDep, CursorQuery, LimitQuery, RuntimeDep
from burnrate_common.pagination import Page
from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from burnrate_worklog_ingest.api import DepsDep
from burnrate_worklog_ingest.auth import WorklogsReader, WorklogsWriter
from burnrate_worklog_ingest.schemas import (
    BulkReplayIn,
    BulkReplayOut,
    RejectedOut,
    RejectedState,
    ReplayOut,
)
from burnrate_worklog_ingest.service import rejected

router = APIRouter(prefix="/v1/worklogs/rejected", tags=["worklogs"])


@router.get(
    "",
    response_model=Page[RejectedOut],
    summary="Deliveries that could not be applied, kept as received",
    description=(
        "Every Jira webhook delivery and every item of an import answered 2xx "
        "(`mode=skip-invalid`) that could not be applied is kept here, as received, with "
        "its reason, until a replay applies it. In arrival order; open ones by default."
    ),
)
async def list_rejected(
    conn: ConnectionDep,
    _: WorklogsReader,
    source: Annotated[str | None, Query(max_length=200, description="jira, tempo, csv...")] = None,
    reason: Annotated[str | None, Query(max_length=200)] = None,
    since: Annotated[
        AwareDatetime | None, Query(description="Received (last) at or after this instant")
    ] = None,
    state: RejectedState = RejectedState.OPEN,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[RejectedOut]:
    return await rejected.list_rejected(
        conn, source=source, reason=reason, since=since, state=state, limit=limit, cursor=cursor
    )


@router.post(
    "/replay",
    response_model=BulkReplayOut,
    summary="Replay the open rejected deliveries matching a filter (up to 1,000 a call)",
)
async def replay_matching(
    body: BulkReplayIn, runtime: RuntimeDep, deps: DepsDep, _: WorklogsWriter
) -> BulkReplayOut:
    return await rejected.replay_matching(runtime.pool, deps, body)


@router.post(
    "/{rejected_id}/replay",
    response_model=ReplayOut,
    summary="Apply a rejected delivery again (after a fix or a mapping change)",
    description=(
        "`resolved: true` with what it did (created, updated, duplicate, ...), or still "
        "rejected with the reason. 409 once applied. Replaying is safe: the same worklog "
        "twice is one worklog."
    ),
)
async def replay(
    rejected_id: uuid.UUID, runtime: RuntimeDep, deps: DepsDep, _: WorklogsWriter
) -> ReplayOut:
    return await rejected.replay(runtime.pool, deps, rejected_id)
