from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

import asyncpg
from burnrate_common import outbox
from burnrate_common.auth import Principal
from burnrate_common.db import Connection
from burnrate_common.deps import ConnectionDep, CursorQuery, LimitQuery, RuntimeDep
from burnrate_common.errors import Problem
from burnrate_common.events import Contact, CustomerChanged, EventType, new_event
from burnrate_common.pagination import Page, decode_cursor, encode_cursor
from burnrate_common.runtime import Runtime
from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from burnrate_contracts import store
from burnrate_contracts.api.concurrency import IfMatch, ReadPrincipal, WritePrincipal, set_etag
from burnrate_contracts.api.concurrency import check_if_match as _check_if_match
from burnrate_contracts.api.contracts import HistoryEntry, history_page
from burnrate_contracts.domain.contracts import diff

router = APIRouter(prefix="/v1/customers", tags=["customers"])

CustomerName = Annotated[str, Field(min_length=1, max_length=200)]


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    language: Literal["en", "nl"] = "en"


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: CustomerName
    contacts: list[ContactIn] = Field(default_factory=list, max_length=100)

    @field_validator("contacts")
    @classmethod
    def _unique_emails(cls, contacts: list[ContactIn]) -> list[ContactIn]:
        emails = [c.email.lower() for c in contacts]
        if len(set(emails)) != len(emails):
            raise ValueError("two contacts share an e-mail address")
        return contacts


class CustomerPatch(BaseModel):
    """Contacts change through ``/v1/customers/{id}/contacts``."""

    model_config = ConfigDict(extra="forbid")
    name: CustomerName


class ContactOut(BaseModel):
    id: uuid.UUID
    name: str
    email: str
    language: str


class CustomerOut(BaseModel):
    id: uuid.UUID
    name: str
    contacts: list[ContactOut]
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


def customer_state(row: asyncpg.Record) -> dict[str, Any]:
    """JSON-ready state for history: the name and one entry per contact (by id)."""
    state: dict[str, Any] = {"name": row["name"]}
    for c in row["contacts"]:
        state[f"contacts.{c['id']}"] = {k: c[k] for k in ("name", "email", "language")}
    return state


def _event(runtime: Runtime, event_type: EventType, row: asyncpg.Record) -> Any:
    payload = CustomerChanged(
        id=row["id"], name=row["name"], contacts=[Contact(**c) for c in row["contacts"]]
    )
    return new_event(event_type, payload, key=row["id"], producer=runtime.settings.service_name)


async def locked_customer(
    conn: Connection, customer_id: uuid.UUID, if_match: str | None, *, required: bool
) -> asyncpg.Record:
    """The customer, locked for this transaction, checked against If-Match."""
    version = await store.lock_customer(conn, customer_id)
    if version is None:
        raise Problem(404, "Not found", f"No customer {customer_id}.", field="customer_id")
    _check_if_match(if_match, version, required=required)
    row = await store.get_customer(conn, customer_id)
    assert row is not None
    return row


async def record_change(
    conn: Connection,
    runtime: Runtime,
    principal: Principal,
    before: asyncpg.Record,
    action: str,
    name: str | None = None,
) -> asyncpg.Record:
    """Bump the customer's version, keep the diff in the history, publish customer.updated."""
    version = await store.touch_customer(conn, before["id"], name)
    after = await store.get_customer(conn, before["id"])
    assert after is not None
    await store.insert_history(
        conn,
        "customer",
        before["id"],
        version,
        action,
        principal.name,
        diff(customer_state(before), customer_state(after)),
    )
    await outbox.add(conn, [_event(runtime, EventType.CUSTOMER_UPDATED, after)])
    return after


@router.post("", status_code=201, response_model=CustomerOut, summary="Create a customer")
async def create_customer(
    body: CustomerIn, runtime: RuntimeDep, principal: WritePrincipal, response: Response
) -> CustomerOut:
    customer_id = uuid.uuid4()
    contacts = [
        Contact(id=uuid.uuid4(), name=c.name, email=c.email, language=c.language)
        for c in body.contacts
    ]
    async with runtime.pool.acquire() as conn, conn.transaction():
        await store.insert_customer(
            conn, customer_id, body.name, [c.model_dump() for c in contacts]
        )
        row = await store.get_customer(conn, customer_id)
        assert row is not None
        await store.insert_history(
            conn,
            "customer",
            customer_id,
            1,
            "created",
            principal.name,
            diff({}, customer_state(row)),
        )
        await outbox.add(conn, [_event(runtime, EventType.CUSTOMER_CREATED, row)])
    set_etag(response, row["version"])
    return CustomerOut.model_validate(dict(row))


@router.get("", response_model=Page[CustomerOut], summary="List customers")
async def list_customers(
    conn: ConnectionDep,
    _: ReadPrincipal,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[CustomerOut]:
    rows = await store.list_customers(conn, decode_cursor(cursor), limit)
    items = [CustomerOut.model_validate(dict(r)) for r in rows]
    next_cursor = (
        encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if len(rows) == limit else None
    )
    return Page(items=items, next_cursor=next_cursor)


@router.get("/{customer_id}", response_model=CustomerOut, summary="One customer with contacts")
async def get_customer(
    customer_id: uuid.UUID, conn: ConnectionDep, _: ReadPrincipal, response: Response
) -> CustomerOut:
    row = await store.get_customer(conn, customer_id)
    if row is None:
        raise Problem(404, "Not found", f"No customer {customer_id}.", field="customer_id")
    set_etag(response, row["version"])
    return CustomerOut.model_validate(dict(row))


@router.patch(
    "/{customer_id}", response_model=CustomerOut, summary="Rename a customer (If-Match required)"
)
async def patch_customer(
    customer_id: uuid.UUID,
    body: CustomerPatch,
    runtime: RuntimeDep,
    principal: WritePrincipal,
    response: Response,
    if_match: IfMatch = None,
) -> CustomerOut:
    async with runtime.pool.acquire() as conn, conn.transaction():
        row = await locked_customer(conn, customer_id, if_match, required=True)
        if body.name != row["name"]:
            row = await record_change(conn, runtime, principal, row, "updated", body.name)
    set_etag(response, row["version"])
    return CustomerOut.model_validate(dict(row))


@router.delete(
    "/{customer_id}",
    status_code=204,
    summary="Delete a customer without contracts, with its contacts (If-Match optional)",
)
async def delete_customer(
    customer_id: uuid.UUID,
    runtime: RuntimeDep,
    principal: WritePrincipal,
    if_match: IfMatch = None,
) -> Response:
    async with runtime.pool.acquire() as conn, conn.transaction():
        row = await locked_customer(conn, customer_id, if_match, required=False)
        # The row lock makes a concurrent contract create wait on the foreign key, then fail.
        if await store.customer_has_contracts(conn, customer_id):
            raise Problem(
                409,
                "Customer has contracts",
                "A customer with contracts cannot be deleted; delete its draft contracts or "
                "keep it.",
                field="customer_id",
            )
        await store.delete_customer(conn, customer_id)
        await store.insert_history(
            conn,
            "customer",
            customer_id,
            row["version"] + 1,
            "deleted",
            principal.name,
            diff(customer_state(row), {}),
        )
        await outbox.add(conn, [_event(runtime, EventType.CUSTOMER_DELETED, row)])
    return Response(status_code=204)


@router.get(
    "/{customer_id}/history",
    response_model=Page[HistoryEntry],
    summary="Every change of a customer and its contacts (oldest first)",
)
async def customer_history(
    customer_id: uuid.UUID,
    conn: ConnectionDep,
    _: ReadPrincipal,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[HistoryEntry]:
    # A deleted customer's history is still there: its last entry says "deleted".
    if not await store.has_history(conn, "customer", customer_id) and not (
        await store.customer_exists(conn, customer_id)
    ):
        raise Problem(404, "Not found", f"No customer {customer_id}.", field="customer_id")
    return await history_page(conn, "customer", customer_id, limit, cursor)
