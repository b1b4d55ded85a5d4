from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from burnrate_common import outbox
from burnrate_common.auth import require
from burnrate_common.deps import ConnectionDep, CursorQuery, LimitQuery, RuntimeDep
from burnrate_common.errors import Problem
from burnrate_common.events import Contact, CustomerChanged, EventType, new_event
from burnrate_common.pagination import Page, decode_cursor, encode_cursor
from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from burnrate_contracts import store

router = APIRouter(prefix="/v1/customers", tags=["customers"])


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    language: Literal["en", "nl"] = "en"


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    contacts: list[ContactIn] = Field(default_factory=list, max_length=100)

    @field_validator("contacts")
    @classmethod
    def _unique_emails(cls, contacts: list[ContactIn]) -> list[ContactIn]:
        emails = [c.email.lower() for c in contacts]
        if len(set(emails)) != len(emails):
            raise ValueError("two contacts share an e-mail address")
        return contacts


class ContactOut(BaseModel):
    id: uuid.UUID
    name: str
    email: str
    language: str


class CustomerOut(BaseModel):
    id: uuid.UUID
    name: str
    contacts: list[ContactOut]
    created_at: dt.datetime


@router.post("", status_code=201, response_model=CustomerOut, summary="Create a customer")
async def create_customer(
    body: CustomerIn,
    runtime: RuntimeDep,
    _: Annotated[object, Depends(require("contracts:write"))],
) -> CustomerOut:
    customer_id = uuid.uuid4()
    contacts = [
        Contact(id=uuid.uuid4(), name=c.name, email=c.email, language=c.language)
        for c in body.contacts
    ]
    event = new_event(
        EventType.CUSTOMER_CREATED,
        CustomerChanged(id=customer_id, name=body.name, contacts=contacts),
        key=customer_id,
        producer=runtime.settings.service_name,
    )
    async with runtime.pool.acquire() as conn, conn.transaction():
        await store.insert_customer(
            conn, customer_id, body.name, [c.model_dump() for c in contacts]
        )
        await outbox.add(conn, [event])
        row = await store.get_customer(conn, customer_id)
    return CustomerOut.model_validate(dict(row))


@router.get("", response_model=Page[CustomerOut], summary="List customers")
async def list_customers(
    conn: ConnectionDep,
    _: Annotated[object, Depends(require("contracts:read"))],
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
    customer_id: uuid.UUID,
    conn: ConnectionDep,
    _: Annotated[object, Depends(require("contracts:read"))],
) -> CustomerOut:
    row = await store.get_customer(conn, customer_id)
    if row is None:
        raise Problem(404, "Not found", f"No customer {customer_id}.", field="customer_id")
    return CustomerOut.model_validate(dict(row))
