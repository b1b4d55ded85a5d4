"""The replica of the customers' billing details (``customer.*`` from contracts): who an
invoice names as the buyer."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg
from burnrate_common.db import Connection
from burnrate_common.events import CustomerChanged

from burnrate_billing import store

BUYER_FIELDS = (
    "name",
    "legal_name",
    "address_lines",
    "city",
    "postcode",
    "country",
    "vat_id",
    "peppol_endpoint_id",
    "peppol_scheme",
)


async def record_customer(
    conn: Connection, customer: CustomerChanged, *, changed_at: dt.datetime, deleted: bool
) -> None:
    async with conn.transaction():
        await store.upsert_customer(conn, customer, changed_at, deleted=deleted)


def buyer_json(customer_id: uuid.UUID, row: asyncpg.Record | None) -> dict[str, Any]:
    """The buyer as an invoice's document keeps it (only what is known)."""
    out: dict[str, Any] = {"customer_id": str(customer_id)}
    if row is not None:
        out.update({k: row[k] for k in BUYER_FIELDS if row[k] not in (None, [], "")})
    return out


async def buyer_of_customer(conn: Connection, customer_id: uuid.UUID) -> dict[str, Any]:
    return buyer_json(customer_id, await store.get_customer(conn, customer_id))


async def buyer_details(conn: Connection, invoice: dict[str, Any]) -> dict[str, Any]:
    """The invoice's buyer as issued; details it was issued without (they were not known
    yet) are filled in from the customer's current ones."""
    issued: dict[str, Any] = dict(invoice["document"].get("buyer") or {})
    current = await buyer_of_customer(conn, uuid.UUID(str(invoice["customer_id"])))
    return {**current, **issued}
