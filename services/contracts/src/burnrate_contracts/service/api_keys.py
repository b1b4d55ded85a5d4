"""API keys are issued here and replicated (as hashes) to every other service by events."""

from __future__ import annotations

import uuid

from burnrate_common import auth, outbox
from burnrate_common.db import Connection
from burnrate_common.errors import Problem
from burnrate_common.events import ApiKeyIssued, ApiKeyRevoked, EventType, new_event
from burnrate_common.pagination import Page, decode_cursor, encode_cursor

from burnrate_contracts import store
from burnrate_contracts.schemas import ApiKeyIn, ApiKeyOut, IssuedApiKey
from burnrate_contracts.service import Deps


async def issue_api_key(conn: Connection, deps: Deps, body: ApiKeyIn) -> IssuedApiKey:
    """A new key: the answer shows it once; the database and the event hold its hash."""
    key, key_id = auth.new_key(), uuid.uuid4()
    key_hash = auth.hash_key(key)
    event = new_event(
        EventType.APIKEY_ISSUED,
        ApiKeyIssued(id=key_id, name=body.name, key_hash=key_hash, scopes=body.scopes),
        key=key_id,
        producer=deps.producer,
    )
    async with conn.transaction():
        created_at = await store.insert_api_key(conn, key_id, body.name, key_hash, body.scopes)
        await outbox.add(conn, [event])
    return IssuedApiKey(
        id=key_id, name=body.name, scopes=body.scopes, key=key, created_at=created_at
    )


async def list_api_keys(conn: Connection, limit: int, cursor: str | None) -> Page[ApiKeyOut]:
    rows = await store.list_api_keys(conn, limit, decode_cursor(cursor))
    items = [ApiKeyOut.model_validate(dict(r)) for r in rows[:limit]]
    more = len(rows) > limit
    last = rows[limit - 1] if more else None
    return Page(
        items=items,
        next_cursor=encode_cursor(last["created_at"], last["id"]) if last is not None else None,
    )


async def revoke_api_key(conn: Connection, deps: Deps, key_id: uuid.UUID) -> None:
    async with conn.transaction():
        if not await auth.revoke_key(conn, key_id):
            raise Problem(404, "Not found", f"No active API key {key_id}.", field="key_id")
        event = new_event(
            EventType.APIKEY_REVOKED, ApiKeyRevoked(id=key_id), key=key_id, producer=deps.producer
        )
        await outbox.add(conn, [event])
