from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from burnrate_common.contract_status import ContractStatus
from burnrate_common.deps import ConnectionDep, CursorQuery, LimitQuery
from burnrate_common.pagination import Page
from fastapi import APIRouter, Query, Response

from burnrate_contracts.api import DepsDep
from burnrate_contracts.api.concurrency import IfMatch, set_etag
from burnrate_contracts.auth import ContractsReader, ContractsWriter
from burnrate_contracts.schemas import (
    ContractIn,
    ContractOut,
    ContractPatch,
    ContractServiceLevel,
    HistoryEntry,
    LevelAssignmentIn,
)
from burnrate_contracts.service import contracts, history

router = APIRouter(prefix="/v1/contracts", tags=["contracts"])

StatusQuery = Annotated[
    list[ContractStatus] | None,
    Query(
        description="One or more derived statuses (repeat the parameter); not exhausted, "
        "which reporting derives"
    ),
]


def _answer(response: Response, contract: ContractOut) -> ContractOut:
    set_etag(response, contract.version)
    return contract


@router.post("", status_code=201, response_model=ContractOut, summary="Create a contract")
async def create_contract(
    body: ContractIn,
    conn: ConnectionDep,
    deps: DepsDep,
    principal: ContractsWriter,
    response: Response,
) -> ContractOut:
    return _answer(response, await contracts.create_contract(conn, deps, body, principal.name))


@router.get("", response_model=Page[ContractOut], summary="List contracts")
async def list_contracts(
    conn: ConnectionDep,
    deps: DepsDep,
    _: ContractsReader,
    status: StatusQuery = None,
    customer_id: Annotated[uuid.UUID | None, Query()] = None,
    owner: Annotated[str | None, Query(max_length=320, description="Owner e-mail")] = None,
    team: Annotated[str | None, Query(max_length=100)] = None,
    expiring_within_days: Annotated[
        int | None,
        Query(ge=0, le=3650, description="Active contracts whose end date is at most N days away"),
    ] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=100, description="Text in code or title")
    ] = None,
    sort: Annotated[
        str, Query(description="code, end_date or created_at; '-' first for descending")
    ] = "created_at",
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[ContractOut]:
    return await contracts.list_contracts(
        conn,
        deps,
        statuses=status or [],
        customer_id=customer_id,
        owner=owner,
        team=team,
        expiring_within_days=expiring_within_days,
        q=q,
        sort=sort,
        limit=limit,
        cursor=cursor,
    )


@router.get("/{contract_id}", response_model=ContractOut, summary="One contract with its periods")
async def get_contract(
    contract_id: uuid.UUID,
    conn: ConnectionDep,
    deps: DepsDep,
    _: ContractsReader,
    response: Response,
) -> ContractOut:
    return _answer(response, await contracts.get_contract(conn, deps, contract_id))


@router.patch(
    "/{contract_id}",
    response_model=ContractOut,
    summary="Change a contract (If-Match required; dates or period kind recompute the periods)",
)
async def patch_contract(
    contract_id: uuid.UUID,
    body: ContractPatch,
    conn: ConnectionDep,
    deps: DepsDep,
    principal: ContractsWriter,
    response: Response,
    if_match: IfMatch = None,
) -> ContractOut:
    contract = await contracts.patch_contract(
        conn, deps, contract_id, body, principal.name, if_match
    )
    return _answer(response, contract)


@router.post(
    "/{contract_id}/activate", response_model=ContractOut, summary="Activate a draft contract"
)
async def activate_contract(
    contract_id: uuid.UUID,
    conn: ConnectionDep,
    deps: DepsDep,
    principal: ContractsWriter,
    response: Response,
    if_match: IfMatch = None,
) -> ContractOut:
    contract = await contracts.activate_contract(conn, deps, contract_id, principal.name, if_match)
    return _answer(response, contract)


@router.post(
    "/{contract_id}/close",
    response_model=ContractOut,
    summary="Close a contract (final; its history and periods are kept)",
)
async def close_contract(
    contract_id: uuid.UUID,
    conn: ConnectionDep,
    deps: DepsDep,
    principal: ContractsWriter,
    response: Response,
    if_match: IfMatch = None,
) -> ContractOut:
    contract = await contracts.close_contract(conn, deps, contract_id, principal.name, if_match)
    return _answer(response, contract)


@router.delete(
    "/{contract_id}",
    status_code=204,
    summary="Delete a draft contract (If-Match optional); close an active one instead",
)
async def delete_contract(
    contract_id: uuid.UUID,
    conn: ConnectionDep,
    deps: DepsDep,
    principal: ContractsWriter,
    if_match: IfMatch = None,
) -> Response:
    await contracts.delete_contract(conn, deps, contract_id, principal.name, if_match)
    return Response(status_code=204)


@router.get(
    "/{contract_id}/history",
    response_model=Page[HistoryEntry],
    summary="Every change of a contract: who, when, what changed (oldest first)",
)
async def contract_history(
    contract_id: uuid.UUID,
    conn: ConnectionDep,
    _: ContractsReader,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[HistoryEntry]:
    return await history.contract_history(conn, contract_id, limit, cursor)


@router.get(
    "/{contract_id}/service-level",
    response_model=ContractServiceLevel,
    summary="What the customer bought: the level in force on a date, its targets, calendar "
    "and price, and every version",
)
async def contract_service_level(
    contract_id: uuid.UUID,
    conn: ConnectionDep,
    deps: DepsDep,
    _: ContractsReader,
    on: Annotated[
        dt.date | None, Query(description="A local date (default: today in the contract's zone)")
    ] = None,
) -> ContractServiceLevel:
    return await contracts.contract_service_level(conn, deps, contract_id, on)


@router.post(
    "/{contract_id}/service-levels",
    response_model=ContractOut,
    summary="Give the contract a level from a date on (If-Match optional)",
    description="A catalogue level (copied as it is now) or a bespoke one. Versions are only "
    "added: a new one starts after the last and not before today, so tickets already opened "
    "keep their level. Publishes contract.updated with every version.",
)
async def assign_service_level(
    contract_id: uuid.UUID,
    body: LevelAssignmentIn,
    conn: ConnectionDep,
    deps: DepsDep,
    principal: ContractsWriter,
    response: Response,
    if_match: IfMatch = None,
) -> ContractOut:
    contract = await contracts.assign_service_level(
        conn, deps, contract_id, body, principal.name, if_match
    )
    return _answer(response, contract)
