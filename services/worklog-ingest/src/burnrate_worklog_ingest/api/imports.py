"""Bulk sources: CSV exports, NDJSON streams and Tempo Cloud v4 worklog pages.

The use cases are in ``service.imports``.
"""

from __future__ import annotations

from typing import Annotated

from burnrate_common.bodies import read_capped
from burnrate_common.deps import RuntimeDep
from fastapi import APIRouter, Depends, Query, Request

from burnrate_worklog_ingest.api import DepsDep
from burnrate_worklog_ingest.auth import WorklogsWriter
from burnrate_worklog_ingest.domain.csv_rows import GENERIC_FIELDS, Dialect
from burnrate_worklog_ingest.schemas import MAX_BATCH_BYTES, CsvMapping, ImportOut, Mode
from burnrate_worklog_ingest.service import imports

router = APIRouter(tags=["sources"])


async def _csv_mapping(mapping: Annotated[CsvMapping, Query()]) -> CsvMapping:
    # A dependency of its own: FastAPI reads a query model only as a dependant's one
    # query parameter.
    return mapping


@router.post(
    "/v1/imports/csv",
    response_model=ImportOut,
    summary="Import a Toggl Track, Harvest or generic CSV export (text/csv, UTF-8)",
    description=(
        "Columns are matched by header name. `mode=all-or-nothing` (default): any bad row is "
        "a 422 listing every bad row by line number and nothing is stored; `skip-invalid`: "
        "the good rows are stored, the bad ones reported. Generic CSV: the mapping comes as "
        "query parameters `map.<field>=<header>` (fields: "
        + ", ".join(GENERIC_FIELDS)
        + "). At most 10,000 rows / 32 MiB per request."
    ),
    openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {}}}},
)
async def import_csv(
    request: Request,
    runtime: RuntimeDep,
    deps: DepsDep,
    _: WorklogsWriter,
    format: Annotated[Dialect, Query(description="toggl, harvest or generic")],
    mapping: Annotated[CsvMapping, Depends(_csv_mapping)],
    mode: Mode = Mode.ALL_OR_NOTHING,
    team: Annotated[str, Query(min_length=1, max_length=200)] = "unassigned",
    timezone: Annotated[str, Query(description="IANA zone of the export's times")] = "UTC",
    line_offset: Annotated[
        int, Query(ge=0, description="Lines of the file before this body (chunked uploads)")
    ] = 0,
    dry_run: bool = False,
) -> ImportOut:
    return await imports.import_csv(
        runtime.pool,
        deps,
        await read_capped(request, MAX_BATCH_BYTES, what="request"),
        format=format,
        mapping=mapping.given(),
        mode=mode,
        team=team,
        timezone=timezone,
        line_offset=line_offset,
        dry_run=dry_run,
    )


@router.post(
    "/v1/worklogs/stream",
    response_model=ImportOut,
    summary="Record worklogs from an NDJSON stream (one worklog per line)",
    description=(
        "Read as it arrives and routed and stored in chunks of 1,000 lines; no size limit. "
        "`mode=all-or-nothing` (default, as for CSV): the whole stream is one transaction; a "
        "bad line (not JSON, not a valid worklog, nothing to route by) stops the storing, the "
        "rest is still checked, and the answer is a 422 listing every bad line; nothing is "
        "stored. `skip-invalid`: each chunk is its own transaction, bad lines are listed in "
        "`rejected` and the others are stored."
    ),
    openapi_extra={"requestBody": {"required": True, "content": {"application/x-ndjson": {}}}},
)
async def stream_worklogs(
    request: Request,
    runtime: RuntimeDep,
    deps: DepsDep,
    _: WorklogsWriter,
    mode: Mode = Mode.ALL_OR_NOTHING,
) -> ImportOut:
    return await imports.stream_worklogs(runtime.pool, deps, request.stream(), mode=mode)


@router.post(
    "/v1/imports/tempo",
    response_model=ImportOut,
    summary='Import a page of Tempo Cloud API v4 worklogs (`{"results": [...]}`)',
    description=(
        "external_id = tempoWorklogId; a newer `updatedAt` replaces the stored worklog, an "
        "older one is stale. Work account from the work attribute named by "
        "`account_attribute` (default `_Account_`), location from `location_attribute` "
        "(default `_Location_`). A worklog of a Jira issue not known here (learnt from Jira's "
        "`jira:issue_*` webhooks) and no work account is kept unattributed "
        "(`unknown_jira_issue`). `line` in rejections is the index in `results` + 1; with "
        "`skip-invalid` rejected worklogs are kept under `/v1/worklogs/rejected`."
    ),
)
async def import_tempo(
    request: Request,
    runtime: RuntimeDep,
    deps: DepsDep,
    _: WorklogsWriter,
    mode: Mode = Mode.ALL_OR_NOTHING,
    team: Annotated[str, Query(min_length=1, max_length=200)] = "unassigned",
    activity: Annotated[str, Query(min_length=1, max_length=200)] = "tempo",
    timezone: Annotated[str, Query(description="IANA zone of startDate/startTime")] = "UTC",
    account_attribute: str = "_Account_",
    location_attribute: Annotated[
        str, Query(description="The work attribute holding the location")
    ] = "_Location_",
) -> ImportOut:
    return await imports.import_tempo(
        runtime.pool,
        deps,
        await read_capped(request, MAX_BATCH_BYTES, what="request"),
        mode=mode,
        team=team,
        activity=activity,
        timezone=timezone,
        account_attribute=account_attribute,
        location_attribute=location_attribute,
    )
