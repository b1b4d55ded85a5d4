"""Contacts of a customer: part of the customer, so each change bumps the customer's version
(its ETag), is kept in the customer's history and publishes ``customer.updated``."""

from __future__ import annotations

import uuid
from typing import Literal

import asyncpg
from burnrate_common.db import Connection
from burnrate_common.deps import RuntimeDep
from burnrate_common.errors import Problem
from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from burnrate_contracts import store
from burnrate_contracts.api.concurrency import IfMatch, WritePrincipal, set_etag
from burnrate_contracts.api.customers import (
    ContactIn,
    ContactOut,
    locked_customer,
    record_change,
)

router = APIRouter(prefix="/v1/customers/{customer_id}/contacts", tags=["contacts"])


class ContactPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: EmailStr | None = None
    language: Literal["en", "nl"] | None = None


async def _email_free(
    conn: Connection, customer_id: uuid.UUID, email: str, except_id: uuid.UUID | None = None
) -> None:
    if await store.contact_email_taken(conn, customer_id, email, except_id):
        raise Problem(
            409, "E-mail in use", f"The customer has a contact with {email}.", field="email"
        )


@router.post(
    "",
    status_code=201,
    response_model=ContactOut,
    summary="Add a contact (the response's ETag is the customer's new version)",
)
async def add_contact(
    customer_id: uuid.UUID,
    body: ContactIn,
    runtime: RuntimeDep,
    principal: WritePrincipal,
    response: Response,
    if_match: IfMatch = None,
) -> ContactOut:
    contact_id = uuid.uuid4()
    async with runtime.pool.acquire() as conn, conn.transaction():
        before = await locked_customer(conn, customer_id, if_match, required=False)
        await _email_free(conn, customer_id, body.email)
        await store.insert_contact(conn, customer_id, {"id": contact_id, **body.model_dump()})
        after = await record_change(conn, runtime, principal, before, "contact_added")
    set_etag(response, after["version"])
    return ContactOut(id=contact_id, **body.model_dump())


async def _contact(
    conn: Connection, customer_id: uuid.UUID, contact_id: uuid.UUID
) -> asyncpg.Record:
    row = await store.get_contact(conn, customer_id, contact_id)
    if row is None:
        raise Problem(
            404,
            "Not found",
            f"No contact {contact_id} of customer {customer_id}.",
            field="contact_id",
        )
    return row


@router.patch(
    "/{contact_id}",
    response_model=ContactOut,
    summary="Change a contact (If-Match: the customer's ETag)",
)
async def patch_contact(
    customer_id: uuid.UUID,
    contact_id: uuid.UUID,
    body: ContactPatch,
    runtime: RuntimeDep,
    principal: WritePrincipal,
    response: Response,
    if_match: IfMatch = None,
) -> ContactOut:
    sent = body.model_dump(include=body.model_fields_set)
    for name, value in sent.items():
        if value is None:
            raise Problem(422, "Invalid input", f"{name}: may not be null", field=name)
    async with runtime.pool.acquire() as conn, conn.transaction():
        before = await locked_customer(conn, customer_id, if_match, required=True)
        current = dict(await _contact(conn, customer_id, contact_id))
        values = current | sent
        if values == current:
            set_etag(response, before["version"])
            return ContactOut(**current)
        if values["email"].lower() != current["email"].lower():
            await _email_free(conn, customer_id, values["email"], contact_id)
        await store.update_contact(conn, contact_id, values)
        after = await record_change(conn, runtime, principal, before, "contact_updated")
    set_etag(response, after["version"])
    return ContactOut(**values)


@router.delete(
    "/{contact_id}",
    status_code=204,
    summary="Remove a contact (If-Match optional: the customer's ETag)",
)
async def delete_contact(
    customer_id: uuid.UUID,
    contact_id: uuid.UUID,
    runtime: RuntimeDep,
    principal: WritePrincipal,
    if_match: IfMatch = None,
) -> Response:
    async with runtime.pool.acquire() as conn, conn.transaction():
        before = await locked_customer(conn, customer_id, if_match, required=False)
        await _contact(conn, customer_id, contact_id)
        await store.delete_contact(conn, contact_id)
        after = await record_change(conn, runtime, principal, before, "contact_removed")
    response = Response(status_code=204)
    set_etag(response, after["version"])
    return response
