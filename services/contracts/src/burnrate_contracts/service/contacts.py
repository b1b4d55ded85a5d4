"""Contacts of a customer: part of the customer, so each change bumps the customer's version
(its ETag), is kept in the customer's history and publishes ``customer.updated``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg
from burnrate_common.db import Connection
from burnrate_common.errors import Problem

from burnrate_contracts import store
from burnrate_contracts.schemas import ContactIn, ContactOut, ContactPatch
from burnrate_contracts.service import Deps
from burnrate_contracts.service.customers import locked_customer, record_change


@dataclass(frozen=True)
class ContactWritten:
    contact: ContactOut
    #: the customer's version after the write: the ETag of the answer
    customer_version: int


async def _email_free(
    conn: Connection, customer_id: uuid.UUID, email: str, except_id: uuid.UUID | None = None
) -> None:
    if await store.contact_email_taken(conn, customer_id, email, except_id):
        raise Problem(
            409, "E-mail in use", f"The customer has a contact with {email}.", field="email"
        )


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


async def add_contact(
    conn: Connection,
    deps: Deps,
    customer_id: uuid.UUID,
    body: ContactIn,
    actor: str,
    if_match: str | None,
) -> ContactWritten:
    contact_id = uuid.uuid4()
    async with conn.transaction():
        before = await locked_customer(conn, customer_id, if_match, required=False)
        await _email_free(conn, customer_id, body.email)
        await store.insert_contact(conn, customer_id, {"id": contact_id, **body.model_dump()})
        after = await record_change(conn, deps, actor, before, "contact_added")
    return ContactWritten(ContactOut(id=contact_id, **body.model_dump()), after["version"])


async def patch_contact(
    conn: Connection,
    deps: Deps,
    customer_id: uuid.UUID,
    contact_id: uuid.UUID,
    body: ContactPatch,
    actor: str,
    if_match: str | None,
) -> ContactWritten:
    """Only the fields sent change (none may be null); no change writes nothing."""
    sent = body.model_dump(include=body.model_fields_set)
    for name, value in sent.items():
        if value is None:
            raise Problem(422, "Invalid input", f"{name}: may not be null", field=name)
    async with conn.transaction():
        before = await locked_customer(conn, customer_id, if_match, required=True)
        current = dict(await _contact(conn, customer_id, contact_id))
        values = current | sent
        if values == current:
            return ContactWritten(ContactOut(**current), before["version"])
        if values["email"].lower() != current["email"].lower():
            await _email_free(conn, customer_id, values["email"], contact_id)
        await store.update_contact(conn, contact_id, values)
        after = await record_change(conn, deps, actor, before, "contact_updated")
    return ContactWritten(ContactOut(**values), after["version"])


async def delete_contact(
    conn: Connection,
    deps: Deps,
    customer_id: uuid.UUID,
    contact_id: uuid.UUID,
    actor: str,
    if_match: str | None,
) -> int:
    """Remove the contact; returns the customer's new version."""
    async with conn.transaction():
        before = await locked_customer(conn, customer_id, if_match, required=False)
        await _contact(conn, customer_id, contact_id)
        await store.delete_contact(conn, contact_id)
        after = await record_change(conn, deps, actor, before, "contact_removed")
    version: int = after["version"]
    return version
