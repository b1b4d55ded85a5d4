"""Contacts of a customer: each change bumps the customer's version, so the answer's ETag (and
the If-Match a write sends) is the customer's."""

from __future__ import annotations

import uuid

from burnrate_common.deps import ConnectionDep
from fastapi import APIRouter, Response

from burnrate_contracts.api import DepsDep
from burnrate_contracts.api.concurrency import IfMatch, set_etag
from burnrate_contracts.auth import ContractsWriter
from burnrate_contracts.schemas import ContactIn, ContactOut, ContactPatch
from burnrate_contracts.service import contacts

router = APIRouter(prefix="/v1/customers/{customer_id}/contacts", tags=["contacts"])


@router.post(
    "",
    status_code=201,
    response_model=ContactOut,
    summary="Add a contact (the response's ETag is the customer's new version)",
)
async def add_contact(
    customer_id: uuid.UUID,
    body: ContactIn,
    conn: ConnectionDep,
    deps: DepsDep,
    principal: ContractsWriter,
    response: Response,
    if_match: IfMatch = None,
) -> ContactOut:
    written = await contacts.add_contact(conn, deps, customer_id, body, principal.name, if_match)
    set_etag(response, written.customer_version)
    return written.contact


@router.patch(
    "/{contact_id}",
    response_model=ContactOut,
    summary="Change a contact (If-Match: the customer's ETag)",
)
async def patch_contact(
    customer_id: uuid.UUID,
    contact_id: uuid.UUID,
    body: ContactPatch,
    conn: ConnectionDep,
    deps: DepsDep,
    principal: ContractsWriter,
    response: Response,
    if_match: IfMatch = None,
) -> ContactOut:
    written = await contacts.patch_contact(
        conn, deps, customer_id, contact_id, body, principal.name, if_match
    )
    set_etag(response, written.customer_version)
    return written.contact


@router.delete(
    "/{contact_id}",
    status_code=204,
    summary="Remove a contact (If-Match optional: the customer's ETag)",
)
async def delete_contact(
    customer_id: uuid.UUID,
    contact_id: uuid.UUID,
    conn: ConnectionDep,
    deps: DepsDep,
    principal: ContractsWriter,
    if_match: IfMatch = None,
) -> Response:
    version = await contacts.delete_contact(
        conn, deps, customer_id, contact_id, principal.name, if_match
    )
    response = Response(status_code=204)
    set_etag(response, version)
    return response
