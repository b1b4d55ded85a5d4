"""The audit history of contracts and customers: who changed what, when, oldest first."""

from __future__ import annotations

import uuid

from burnrate_common.db import Connection
from burnrate_common.errors import Problem
from burnrate_common.pagination import Page, decode_keys, encode_keys

from burnrate_contracts import store
from burnrate_contracts.schemas import HistoryEntry


async def contract_history(
    conn: Connection, contract_id: uuid.UUID, limit: int, cursor: str | None
) -> Page[HistoryEntry]:
    # A deleted contract's history is still there: its last entry says "deleted".
    if not await store.has_history(conn, "contract", contract_id) and (
        await store.get_contract(conn, contract_id) is None
    ):
        raise Problem(404, "Not found", f"No contract {contract_id}.", field="contract_id")
    return await _page(conn, "contract", contract_id, limit, cursor)


async def customer_history(
    conn: Connection, customer_id: uuid.UUID, limit: int, cursor: str | None
) -> Page[HistoryEntry]:
    # A deleted customer's history is still there: its last entry says "deleted".
    if not await store.has_history(conn, "customer", customer_id) and not (
        await store.customer_exists(conn, customer_id)
    ):
        raise Problem(404, "Not found", f"No customer {customer_id}.", field="customer_id")
    return await _page(conn, "customer", customer_id, limit, cursor)


async def _page(
    conn: Connection, aggregate: str, aggregate_id: uuid.UUID, limit: int, cursor: str | None
) -> Page[HistoryEntry]:
    keys = decode_keys(cursor, 1)
    try:
        after = int(keys[0]) if keys else 0
    except ValueError as exc:
        raise Problem(
            400, "Invalid cursor", "The cursor is not one this API returned.", field="cursor"
        ) from exc
    rows = await store.list_history(conn, aggregate, aggregate_id, after, limit + 1)
    more, rows = len(rows) > limit, rows[:limit]
    return Page(
        items=[HistoryEntry.model_validate(dict(r)) for r in rows],
        next_cursor=encode_keys(str(rows[-1]["version"])) if more else None,
    )
