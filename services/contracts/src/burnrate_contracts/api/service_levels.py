"""The service-level catalogue: the levels the MSP offers, their targets, calendars, prices."""

from __future__ import annotations

import uuid

from burnrate_common.deps import ConnectionDep
from fastapi import APIRouter, Response

from burnrate_contracts.api.concurrency import IfMatch, set_etag
from burnrate_contracts.auth import ContractsReader, ContractsWriter
from burnrate_contracts.schemas import ServiceLevelIn, ServiceLevelOut, ServiceLevelPatch
from burnrate_contracts.service import service_levels

router = APIRouter(prefix="/v1/service-levels", tags=["service levels"])


def _answer(response: Response, level: ServiceLevelOut) -> ServiceLevelOut:
    set_etag(response, level.version)
    return level


@router.post(
    "",
    status_code=201,
    response_model=ServiceLevelOut,
    summary="Add a level to the catalogue",
    description="Targets in minutes (more than zero) for first response and resolution, per "
    "priority P1–P4 or per category whatever the priority, each on the level's calendar "
    "(business) or round the clock (24x7).",
)
async def create_service_level(
    body: ServiceLevelIn, conn: ConnectionDep, _: ContractsWriter, response: Response
) -> ServiceLevelOut:
    return _answer(response, await service_levels.create_service_level(conn, body))


@router.get(
    "",
    response_model=list[ServiceLevelOut],
    summary="The service catalogue: every level with its targets, calendar and price",
    description="Shipped with gold, silver and bronze as editable examples. Cheapest first.",
)
async def list_service_levels(conn: ConnectionDep, _: ContractsReader) -> list[ServiceLevelOut]:
    return await service_levels.list_service_levels(conn)


@router.get("/{level_id}", response_model=ServiceLevelOut, summary="One level")
async def get_service_level(
    level_id: uuid.UUID, conn: ConnectionDep, _: ContractsReader, response: Response
) -> ServiceLevelOut:
    return _answer(response, await service_levels.get_service_level(conn, level_id))


@router.patch(
    "/{level_id}",
    response_model=ServiceLevelOut,
    summary="Change a level (If-Match required); contracts keep the copy they have",
)
async def patch_service_level(
    level_id: uuid.UUID,
    body: ServiceLevelPatch,
    conn: ConnectionDep,
    _: ContractsWriter,
    response: Response,
    if_match: IfMatch = None,
) -> ServiceLevelOut:
    level = await service_levels.patch_service_level(conn, level_id, body, if_match)
    return _answer(response, level)


@router.delete(
    "/{level_id}",
    status_code=204,
    summary="Remove a level from the catalogue (contracts keep their copies)",
)
async def delete_service_level(
    level_id: uuid.UUID, conn: ConnectionDep, _: ContractsWriter, if_match: IfMatch = None
) -> Response:
    await service_levels.delete_service_level(conn, level_id, if_match)
    return Response(status_code=204)
