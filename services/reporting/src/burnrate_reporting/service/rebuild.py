"""`burnrate-reporting rebuild`: the read models recomputed from the event log.

Without ``apply``: replay the log through the handlers into a fresh schema
(``<schema>_rebuild``) and count the rows that differ from the live tables, in one
transaction whose snapshot also fixes the live side. With ``apply``: lock the live read
models (consumers wait), empty them and replay the log into them, in one transaction.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import asyncpg
from burnrate_common import db
from burnrate_common.bus import Handler
from burnrate_common.db import Connection
from burnrate_common.events import Envelope, EventType
from burnrate_common.runtime import ServiceDefinition, migrate

from burnrate_reporting.service.deps import Deps
from burnrate_reporting.store import rebuild as store

log = logging.getLogger(__name__)

BATCH = 2000


async def _replay(conn: Connection, handlers: dict[EventType, Handler], source_schema: str) -> int:
    """Every logged envelope, in the order it was first handled, through the handlers."""
    replayed, last = 0, 0
    while True:
        rows = await store.logged_events(conn, source_schema, last, BATCH)
        if not rows:
            return replayed
        for row in rows:
            envelope = Envelope.model_validate_json(row["body"])
            await handlers[envelope.type](conn, envelope, envelope.payload())
        last = rows[-1]["seq"]
        replayed += len(rows)


async def rebuild(definition: ServiceDefinition[Deps], *, apply: bool = False) -> dict[str, Any]:
    settings = definition.settings
    # The read-model handlers alone: replayed events are in the log already.
    handlers = definition.handlers.bind(definition.deps) if definition.handlers else {}
    await migrate(definition)
    live = settings.db_schema
    fresh = f"{live}_rebuild"
    started = time.perf_counter()
    types = [t.value for t in handlers]
    result: dict[str, Any] = {"schema": live, "applied": apply}
    if not apply:
        admin = await asyncpg.connect(settings.database_url)
        try:
            await store.drop_schema(admin, fresh)
        finally:
            await admin.close()
        await db.migrate(settings.database_url, fresh, definition.migrations())
    pool = await db.create_pool(
        settings.database_url, live if apply else fresh, min_size=1, max_size=1
    )
    try:
        async with pool.acquire() as conn:
            async with conn.transaction(isolation="repeatable_read"):
                result["unlogged_events"] = await store.unlogged_events(conn, live, types)
                if apply:
                    await store.lock_for_rebuild(conn)
                    await store.truncate_read_models(conn)
                result["events"] = await _replay(conn, handlers, live)
                if not apply:
                    result["differences"] = await store.differences(conn, live, fresh)
        if not apply:
            async with pool.acquire() as conn:
                await store.drop_schema(conn, fresh)
    finally:
        await pool.close()
    result["seconds"] = round(time.perf_counter() - started, 3)
    if result["unlogged_events"]:
        log.warning(
            "events handled before the event log existed are not in the rebuild",
            extra={"count": result["unlogged_events"]},
        )
    return result
