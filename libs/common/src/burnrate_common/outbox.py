"""The transactional outbox and its relay.

Producers call :func:`add` inside the transaction that makes the change. The relay re-reads
every unsent row (not only this process's), publishes them with confirms, and marks them
sent. ``FOR UPDATE SKIP LOCKED`` lets two relays run side by side without publishing a row
twice in the normal case; after a crash between confirm and commit a row is published again,
which the consumers' inbox absorbs.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import asyncpg

from burnrate_common.aio import wait_for_event
from burnrate_common.bus import TRANSIENT_ERRORS, Publisher, StoredEvent
from burnrate_common.db import Connection
from burnrate_common.events import Envelope
from burnrate_common.metrics import ServiceMetrics
from burnrate_common.supervision import beat

log = logging.getLogger(__name__)

#: Prefix of the channel each service's relays LISTEN on: ``burnrate_outbox_<schema>``. The
#: services share one database, and one channel for all woke every service's relay at
#: every commit of any of them.
NOTIFY_CHANNEL = "burnrate_outbox"
_CHANNEL_SQL = f"'{NOTIFY_CHANNEL}_' || current_schema()"
#: The payload of this process's NOTIFYs: a relay wakes for the commits of its own process
#: only, so two replicas do not both run a round for every commit; rows another process
#: left unsent (it crashed) are found by the relay's polling.
PROCESS_TOKEN = uuid.uuid4().hex
# Above this many rows, or this many bytes of bodies, one COPY beats one INSERT of arrays:
# PostgreSQL's cost of the arrays grows faster than their size (a 10,000-worklog batch,
# 20 rows and 3.4 MB: 13.6 ms of INSERT against 5.9 ms of COPY, and a quarter of the
# client CPU), while below ~300 KB the INSERT's single round trip (rows and NOTIFY) wins.
_COPY_FROM_ROWS = 20
_COPY_FROM_BYTES = 256 * 1024


_BACKLOG_EVERY_SECONDS = 1.0
_PURGE_EVERY_SECONDS = 3600.0

_COLUMNS = (
    "id",
    "type",
    "body",
    "occurred_at",
    "correlation_id",
    "producer",
    "key",
    "version",
    "headers",
)
_BODY = _COLUMNS.index("body")


async def notify_channel(conn: Connection) -> str:
    """The channel the outbox of this connection's service (its schema) notifies on."""
    channel: str = await conn.fetchval(f"SELECT {_CHANNEL_SQL}")
    return channel


def _rows(envelopes: Iterable[Envelope]) -> list[tuple[Any, ...]]:
    return [
        (
            e.id,
            e.type.value,
            e.to_json(),
            e.occurred_at,
            e.correlation_id,
            e.producer,
            e.key,
            e.version,
            e.routing_headers(),
        )
        for e in envelopes
    ]


def _unnest(first: int) -> str:
    """The outbox rows passed as one array per column, parameters ``$first`` onwards."""
    types = ("uuid", "text", "bytea", "timestamptz", "text", "text", "text", "int", "jsonb")
    arrays = ", ".join(f"${first + n}::{t}[]" for n, t in enumerate(types))
    return f"INSERT INTO outbox ({', '.join(_COLUMNS)}) SELECT * FROM unnest({arrays})"


def _arrays(rows: list[tuple[Any, ...]]) -> list[list[Any]]:
    return [list(column) for column in zip(*rows, strict=True)]


async def add(conn: Connection, envelopes: Iterable[Envelope]) -> None:
    """Write events in the caller's transaction and wake the relay at commit."""
    rows = _rows(envelopes)
    if not rows:
        return
    # NOTIFY is delivered at commit only, and not at all on rollback.
    if len(rows) > _COPY_FROM_ROWS or sum(len(row[_BODY]) for row in rows) > _COPY_FROM_BYTES:
        await conn.copy_records_to_table("outbox", records=rows, columns=_COLUMNS)
        await conn.execute(f"SELECT pg_notify({_CHANNEL_SQL}, $1)", PROCESS_TOKEN)
    else:
        # One round trip for the rows and the NOTIFY: a single POST writes one or two.
        await conn.execute(
            f"WITH added AS ({_unnest(1)}) SELECT pg_notify({_CHANNEL_SQL}, ${len(_COLUMNS) + 1})",
            *_arrays(rows),
            PROCESS_TOKEN,
        )


async def fetchrow_with(
    conn: Connection, query: str, args: Sequence[Any], envelopes: Iterable[Envelope]
) -> asyncpg.Record | None:
    """Run ``query`` (a data-modifying statement ``RETURNING`` one row at most) and write
    ``envelopes`` only if it returned its row: ONE statement, so outside a transaction it is
    its own, and one round trip replaces BEGIN, two statements and COMMIT (a single POST)."""
    rows = _rows(envelopes)
    if not rows:
        return await conn.fetchrow(query, *args)
    first = len(args) + 1
    return await conn.fetchrow(
        f"""WITH changed AS ({query}),
                 added AS ({_unnest(first)} WHERE EXISTS (SELECT FROM changed))
            SELECT changed.* FROM changed
            CROSS JOIN LATERAL (SELECT pg_notify({_CHANNEL_SQL}, ${first + len(_COLUMNS)}))
                AS notified""",
        *args,
        *_arrays(rows),
        PROCESS_TOKEN,
    )


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        publisher: Publisher,
        metrics: ServiceMetrics,
        *,
        batch_size: int,
        poll_seconds: float,
        retention: str = "7 days",
        linger_seconds: float = 0.01,
        max_attempts: int = 5,
    ) -> None:
        self._max_attempts = max_attempts
        self._pool = pool
        self._publisher = publisher
        self._metrics = metrics
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._retention = retention
        self._linger = linger_seconds
        self._wake = asyncio.Event()

    async def relay_once(self) -> int:
        """Publish one batch of unsent rows; returns how many were published."""
        async with self._pool.acquire() as conn, conn.transaction():
            # The "sent" marks need not wait for the disk: a crash that loses them has the rows
            # published again, as a crash between confirm and commit does (the inbox absorbs
            # it). Waiting held each round up for an fsync, 0.3-0.8 s behind a bulk load.
            await conn.execute("SET LOCAL synchronous_commit = off")
            # The stored bytes go out as they are: they were validated when they were written.
            # The properties come from their columns (from the JSON only for rows written
            # before those columns existed, which have no body either).
            rows = await conn.fetch(
                """SELECT id, type, coalesce(body, convert_to(envelope::text, 'UTF8')) AS body,
                          coalesce(occurred_at, (envelope->>'occurred_at')::timestamptz)
                              AS occurred_at,
                          coalesce(correlation_id, envelope->>'correlation_id')
                              AS correlation_id,
                          coalesce(producer, envelope->>'producer') AS producer,
                          coalesce(key, envelope->>'key') AS key,
                          coalesce(version, (envelope->>'version')::int) AS version,
                          headers
                   FROM outbox WHERE published_at IS NULL
                   ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED""",
                self._batch_size,
            )
            if not rows:
                return 0
            events = [
                StoredEvent(
                    id=r["id"],
                    type=r["type"],
                    body=r["body"],
                    occurred_at=r["occurred_at"],
                    correlation_id=r["correlation_id"],
                    producer=r["producer"],
                    key=r["key"],
                    version=r["version"],
                    headers=r["headers"],
                )
                for r in rows
            ]
            outcomes = await self._publisher.publish_each(events)
            sent = [e.id for e, outcome in zip(events, outcomes, strict=True) if outcome is None]
            await conn.execute(
                "UPDATE outbox SET published_at = now() WHERE id = any($1::uuid[])", sent
            )
            failed = [(e, o) for e, o in zip(events, outcomes, strict=True) if o is not None]
            if failed:
                if not self._publisher.available:
                    # The broker is away: nothing to say about the events themselves.
                    raise ConnectionError(f"broker unavailable: {failed[0][1]}")
                await self._count_failures(conn, failed)
        return len(rows)

    async def _count_failures(
        self, conn: Connection, failed: list[tuple[StoredEvent, BaseException]]
    ) -> None:
        """One more attempt for each event the open channel refused; an event out of
        attempts is set aside (``outbox_set_aside``) so the ones behind it flow on."""
        errors = [f"{type(o).__name__}: {o}"[:1000] for _, o in failed]
        exhausted = await conn.fetchval(
            """WITH counted AS (
                   UPDATE outbox o SET attempts = o.attempts + 1, last_error = f.error
                   FROM unnest($1::uuid[], $2::text[]) AS f(id, error)
                   WHERE o.id = f.id RETURNING o.id, o.attempts)
               SELECT coalesce(array_agg(id), '{}') FROM counted WHERE attempts >= $3""",
            [e.id for e, _ in failed],
            errors,
            self._max_attempts,
        )
        set_aside = await conn.fetch(
            """WITH moved AS (DELETE FROM outbox WHERE id = any($1::uuid[]) RETURNING *)
               INSERT INTO outbox_set_aside (id, type, body, occurred_at, correlation_id,
                                             producer, key, version, headers, created_at,
                                             attempts, last_error)
               SELECT id, type, coalesce(body, convert_to(envelope::text, 'UTF8')),
                      coalesce(occurred_at, (envelope->>'occurred_at')::timestamptz),
                      coalesce(correlation_id, envelope->>'correlation_id'),
                      coalesce(producer, envelope->>'producer'), coalesce(key, envelope->>'key'),
                      coalesce(version, (envelope->>'version')::int), headers, created_at,
                      attempts, last_error
               FROM moved RETURNING id, type, last_error""",
            exhausted,
        )
        for row in set_aside:
            self._metrics.outbox_set_aside.inc()
            log.error(
                "event set aside after %d failed publishes",
                self._max_attempts,
                extra={"event_id": str(row["id"]), "type": row["type"], "error": row["last_error"]},
            )
        if len(set_aside) < len(failed):
            log.warning("events not published, will retry", extra={"error": errors[0]})

    async def backlog(self) -> int:
        async with self._pool.acquire() as conn:
            count: int = await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL"
            )
        return count

    async def purge_published(self) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute(
                "DELETE FROM outbox WHERE published_at < now() - $1::interval", self._retention
            )

    async def run(self) -> None:
        """Relay forever: woken by the NOTIFY at each commit of this process's service,
        polling as a fallback (and for rows other processes left unsent)."""
        loop = asyncio.get_running_loop()
        counted = purged = loop.time()
        while True:
            try:
                async with self._pool.acquire() as listener:
                    channel = await notify_channel(listener)
                    await listener.add_listener(channel, self._on_notify)
                    try:
                        while True:
                            beat()
                            while await self.relay_once() == self._batch_size:
                                beat()
                            # By the clock, not per round: a stream of single POSTs wakes
                            # the relay every few ms.
                            if loop.time() - counted >= _BACKLOG_EVERY_SECONDS:
                                self._metrics.outbox_backlog.set(await self.backlog())
                                counted = loop.time()
                            if loop.time() - purged >= _PURGE_EVERY_SECONDS:
                                await self.purge_published()
                                purged = loop.time()
                            await self._sleep()
                    finally:
                        if not listener.is_closed():
                            await listener.remove_listener(channel, self._on_notify)
            except TRANSIENT_ERRORS as exc:
                log.warning("outbox relay waiting for the database", extra={"error": str(exc)})
            except Exception:
                # Broker away or a publish refused: the rows stay unsent and are retried.
                log.exception("outbox relay round failed")
            beat()
            await self._sleep()

    def _on_notify(self, _conn: Connection, _pid: int, _channel: str, payload: object) -> None:
        if payload == PROCESS_TOKEN:
            self._wake.set()

    async def _sleep(self) -> None:
        await wait_for_event(self._wake, self._poll_seconds)
        # Woken by a commit: let the commits of the next few ms join this round, so a stream
        # of single POSTs costs one relay round (and one commit) per linger, not one each.
        await asyncio.sleep(self._linger)


async def list_set_aside(conn: Connection, limit: int) -> list[asyncpg.Record]:
    """The events set aside, oldest first."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT id, type, correlation_id, key, created_at, attempts, last_error, set_aside_at
           FROM outbox_set_aside ORDER BY set_aside_at, id LIMIT $1""",
        limit,
    )
    return rows


async def replay_set_aside(conn: Connection, event_id: uuid.UUID) -> bool:
    """Put a set-aside event back in the outbox (attempts from zero); False if unknown."""
    async with conn.transaction():
        status: str = await conn.execute(
            """WITH moved AS (DELETE FROM outbox_set_aside WHERE id = $1 RETURNING *)
               INSERT INTO outbox (id, type, body, occurred_at, correlation_id, producer, key,
                                   version, headers, created_at)
               SELECT id, type, body, occurred_at, correlation_id, producer, key, version,
                      headers, created_at FROM moved""",
            event_id,
        )
        await conn.execute(f"SELECT pg_notify({_CHANNEL_SQL}, $1)", PROCESS_TOKEN)
    return status.endswith(" 1")
