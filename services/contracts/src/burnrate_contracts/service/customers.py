"""Customers: created, renamed and deleted with history, ``customer.*`` events and ETags."""

from __future__ import annotations

import enum
import json
import uuid
from typing import Any, Final

import asyncpg
from burnrate_common import outbox
from burnrate_common.db import Connection
from burnrate_common.errors import Problem
from burnrate_common.events import Contact, CustomerChanged, Envelope, EventType, new_event
from burnrate_common.pagination import Page, decode_cursor, encode_cursor

from burnrate_contracts import store
from burnrate_contracts.domain.contracts import diff
from burnrate_contracts.schemas import CustomerBilling, CustomerIn, CustomerOut, CustomerPatch
from burnrate_contracts.service import Deps
from burnrate_contracts.service.concurrency import check_if_match


class Unchanged(enum.Enum):
    """Billing details not given in a PATCH: kept as they are."""

    TOKEN = 0


UNCHANGED: Final = Unchanged.TOKEN


def _billing_json(billing: CustomerBilling | None) -> dict[str, Any] | None:
    """As stored: only the fields given; None when nothing is given."""
    if billing is None:
        return None
    data = billing.model_dump(exclude_none=True)
    if not data.get("address_lines"):
        data.pop("address_lines", None)
    return data or None


def _billing(row: asyncpg.Record) -> dict[str, Any] | None:
    value = row["billing"]
    return dict(json.loads(value) if isinstance(value, str) else value) if value else None


def customer_state(row: asyncpg.Record) -> dict[str, Any]:
    """JSON-ready state for history: the name, the billing details (one entry per field) and
    one entry per contact (by id)."""
    state: dict[str, Any] = {"name": row["name"]}
    for key, value in (_billing(row) or {}).items():
        if value not in (None, []):
            state[f"billing.{key}"] = value
    for c in row["contacts"]:
        state[f"contacts.{c['id']}"] = {k: c[k] for k in ("name", "email", "language")}
    return state


def _out(row: asyncpg.Record) -> CustomerOut:
    return CustomerOut.model_validate({**dict(row), "billing": _billing(row)})


def _event(deps: Deps, event_type: EventType, row: asyncpg.Record) -> Envelope:
    billing = CustomerBilling.model_validate(_billing(row) or {})
    payload = CustomerChanged(
        id=row["id"],
        name=row["name"],
        contacts=[Contact(**c) for c in row["contacts"]],
        **billing.model_dump(),
    )
    return new_event(event_type, payload, key=row["id"], producer=deps.producer)


async def locked_customer(
    conn: Connection, customer_id: uuid.UUID, if_match: str | None, *, required: bool
) -> asyncpg.Record:
    """The customer, locked for this transaction, checked against If-Match."""
    version = await store.lock_customer(conn, customer_id)
    if version is None:
        raise Problem(404, "Not found", f"No customer {customer_id}.", field="customer_id")
    check_if_match(if_match, version, required=required)
    row = await store.get_customer(conn, customer_id)
    assert row is not None
    return row


async def record_change(
    conn: Connection,
    deps: Deps,
    actor: str,
    before: asyncpg.Record,
    action: str,
    name: str | None = None,
    billing: CustomerBilling | Unchanged | None = UNCHANGED,
) -> asyncpg.Record:
    """Bump the customer's version, keep the diff in the history, publish customer.updated."""
    if not isinstance(billing, Unchanged):
        await store.set_customer_billing(conn, before["id"], _billing_json(billing))
    version = await store.touch_customer(conn, before["id"], name)
    after = await store.get_customer(conn, before["id"])
    assert after is not None
    await store.insert_history(
        conn,
        "customer",
        before["id"],
        version,
        action,
        actor,
        diff(customer_state(before), customer_state(after)),
    )
    await outbox.add(conn, [_event(deps, EventType.CUSTOMER_UPDATED, after)])
    return after


async def create_customer(
    conn: Connection, deps: Deps, body: CustomerIn, actor: str
) -> CustomerOut:
    customer_id = uuid.uuid4()
    contacts = [
        Contact(id=uuid.uuid4(), name=c.name, email=c.email, language=c.language)
        for c in body.contacts
    ]
    async with conn.transaction():
        await store.insert_customer(
            conn,
            customer_id,
            body.name,
            [c.model_dump() for c in contacts],
            _billing_json(body.billing),
        )
        row = await store.get_customer(conn, customer_id)
        assert row is not None
        await store.insert_history(
            conn, "customer", customer_id, 1, "created", actor, diff({}, customer_state(row))
        )
        await outbox.add(conn, [_event(deps, EventType.CUSTOMER_CREATED, row)])
    return _out(row)


async def list_customers(conn: Connection, limit: int, cursor: str | None) -> Page[CustomerOut]:
    rows = await store.list_customers(conn, decode_cursor(cursor), limit)
    next_cursor = (
        encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if len(rows) == limit else None
    )
    return Page(items=[_out(r) for r in rows], next_cursor=next_cursor)


async def get_customer(conn: Connection, customer_id: uuid.UUID) -> CustomerOut:
    row = await store.get_customer(conn, customer_id)
    if row is None:
        raise Problem(404, "Not found", f"No customer {customer_id}.", field="customer_id")
    return _out(row)


async def rename_customer(
    conn: Connection,
    deps: Deps,
    customer_id: uuid.UUID,
    body: CustomerPatch,
    actor: str,
    if_match: str | None,
) -> CustomerOut:
    """Rename and/or replace the billing details (``billing: null`` removes them). The same
    state again changes nothing: no new version, history entry or event."""
    async with conn.transaction():
        row = await locked_customer(conn, customer_id, if_match, required=True)
        name = body.name if body.name is not None and body.name != row["name"] else None
        billing: CustomerBilling | Unchanged | None = UNCHANGED
        if "billing" in body.model_fields_set and _billing_json(body.billing) != _billing(row):
            billing = body.billing
        if name is not None or not isinstance(billing, Unchanged):
            row = await record_change(conn, deps, actor, row, "updated", name, billing)
    return _out(row)


async def delete_customer(
    conn: Connection, deps: Deps, customer_id: uuid.UUID, actor: str, if_match: str | None
) -> None:
    """Only a customer without contracts goes, with its contacts; its history stays."""
    async with conn.transaction():
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
            actor,
            diff(customer_state(row), {}),
        )
        await outbox.add(conn, [_event(deps, EventType.CUSTOMER_DELETED, row)])
