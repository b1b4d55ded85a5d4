from __future__ import annotations

import uuid

from burnrate_common.deps import ConnectionDep, CursorQuery, LimitQuery
from burnrate_common.pagination import Page
from fastapi import APIRouter, Response

from burnrate_contracts.api import DepsDep
from burnrate_contracts.api.concurrency import IfMatch, set_etag
from burnrate_contracts.auth import ContractsReader, ContractsWriter
from burnrate_contracts.schemas import CustomerIn, CustomerOut, CustomerPatch, HistoryEntry
from burnrate_contracts.service import customers, history

router = APIRouter(prefix="/v1/customers", tags=["customers"])


def _answer(response: Response, customer: CustomerOut) -> CustomerOut:
    set_etag(response, customer.version)
    return customer


@router.post("", status_code=201, response_model=CustomerOut, summary="Create a customer")
async def create_customer(
    body: CustomerIn,
    conn: ConnectionDep,
    deps: DepsDep,
    principal: ContractsWriter,
    response: Response,
) -> CustomerOut:
    return _answer(response, await customers.create_customer(conn, deps, body, principal.name))


@router.get("", response_model=Page[CustomerOut], summary="List customers")
async def list_customers(
    conn: ConnectionDep,
    _: ContractsReader,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[CustomerOut]:
    return await customers.list_customers(conn, limit, cursor)


@router.get("/{customer_id}", response_model=CustomerOut, summary="One customer with contacts")
async def get_customer(
    customer_id: uuid.UUID, conn: ConnectionDep, _: ContractsReader, response: Response
) -> CustomerOut:
    return _answer(response, await customers.get_customer(conn, customer_id))


@router.patch(
    "/{customer_id}",
    response_model=CustomerOut,
    summary="Rename a customer or set its billing details (If-Match required)",
)
async def patch_customer(
    customer_id: uuid.UUID,
    body: CustomerPatch,
    conn: ConnectionDep,
    deps: DepsDep,
    principal: ContractsWriter,
    response: Response,
    if_match: IfMatch = None,
) -> CustomerOut:
    customer = await customers.rename_customer(
        conn, deps, customer_id, body, principal.name, if_match
    )
    return _answer(response, customer)


@router.delete(
    "/{customer_id}",
    status_code=204,
    summary="Delete a customer without contracts, with its contacts (If-Match optional)",
)
async def delete_customer(
    customer_id: uuid.UUID,
    conn: ConnectionDep,
    deps: DepsDep,
    principal: ContractsWriter,
    if_match: IfMatch = None,
) -> Response:
    await customers.delete_customer(conn, deps, customer_id, principal.name, if_match)
    return Response(status_code=204)


@router.get(
    "/{customer_id}/history",
    response_model=Page[HistoryEntry],
    summary="Every change of a customer and its contacts (oldest first)",
)
async def customer_history(
    customer_id: uuid.UUID,
    conn: ConnectionDep,
    _: ContractsReader,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[HistoryEntry]:
    return await history.customer_history(conn, customer_id, limit, cursor)
