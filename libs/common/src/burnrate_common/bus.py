"""The RabbitMQ bus: topology, publishing with confirms, the consumer skeleton, replay.

Topology, with ``P`` the configured prefix and ``S`` the consuming service:

* ``P.events``  — the one durable topic exchange; routing key = event type.
* ``P.S``       — the service's quorum queue, bound to the keys it handles.
* ``P.S.<key>`` — for a key the service reads only part of (``Trim.where``): a headers
  exchange bound to ``P.events`` by that key, the queue bound to it by the headers to match.
* ``P.S.retry.N`` — delay queues (TTL grows per attempt) that dead-letter back into ``P.S``.
* ``P.dead-letter`` / ``P.S.dead`` — where a message lands after its last attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aio_pika
import asyncpg
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from asyncpg.pool import PoolConnectionProxy
from pydantic import ValidationError

from burnrate_common import inbox
from burnrate_common.db import Connection
from burnrate_common.events import Envelope, EventType, Payload, routing_headers_of_body
from burnrate_common.logs import correlation_id
from burnrate_common.metrics import ServiceMetrics
from burnrate_common.supervision import beat

log = logging.getLogger(__name__)

ATTEMPT_HEADER = "x-burnrate-attempt"
#: An idle consumer beats this often (see ``supervision``).
_IDLE_BEAT_SECONDS = 5.0
# Errors that mean "the database is away", not "this event is bad": wait, never dead-letter.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncio.TimeoutError,
)


class RetryLater(Exception):
    """Raised by a handler when the event cannot be handled *yet* (a replica is behind).

    Retried like any failure, but logged as a warning without a traceback.
    """


Handler = Callable[[Connection, Envelope, Payload], Awaitable[None]]


@dataclass(frozen=True)
class Trim:
    """What a service reads of an event type: which events reach it at all (``where``, at
    the broker) and what of each it keeps (``keep``, before the payload is validated), so
    the parts it would ignore anyway (a worklog event carries up to 1,000 worklogs) are
    neither delivered, validated nor kept."""

    #: The envelope as the service reads it; the trimmed envelope is also what a retry
    #: carries. None: nothing of the event concerns the service; it is acked without a
    #: transaction (no inbox row: handling it would have had no effect to make idempotent).
    keep: Callable[[Envelope], Envelope | None]
    #: Optional: the headers (``events.routing_headers``) an event of this type must carry
    #: to reach the service at all. The broker does the matching, so the others cost the
    #: service nothing, not even their delivery (a worklog event is ~360 KB of JSON).
    where: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Topology:
    prefix: str
    service: str
    max_attempts: int
    retry_base_seconds: float

    @property
    def exchange(self) -> str:
        return f"{self.prefix}.events"

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.prefix}.dead-letter"

    @property
    def queue(self) -> str:
        return f"{self.prefix}.{self.service}"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.queue}.dead"

    def filter_exchange(self, routing_key: str) -> str:
        return f"{self.queue}.{routing_key}"

    def retry_queue(self, attempt: int) -> str:
        return f"{self.queue}.retry.{attempt}"

    def retry_delay_ms(self, attempt: int) -> int:
        """Exponential backoff: base, 4×base, 16×base … for attempts 1, 2, 3 …"""
        return int(self.retry_base_seconds * 1000 * 4 ** (attempt - 1))


async def declare_exchange(channel: AbstractChannel, topology: Topology) -> AbstractExchange:
    return await channel.declare_exchange(
        topology.exchange, aio_pika.ExchangeType.TOPIC, durable=True
    )


async def declare_consumer_queues(
    channel: AbstractChannel,
    topology: Topology,
    routing_keys: Iterable[str],
    where: Mapping[str, Mapping[str, Any]] | None = None,
) -> AbstractQueue:
    """Declare (idempotently) the service's queue, its retry queues and its dead-letter queue;
    bind the queue to every key, through a headers exchange for the keys in ``where``."""
    exchange = await declare_exchange(channel, topology)
    dlx = await channel.declare_exchange(
        topology.dead_letter_exchange, aio_pika.ExchangeType.DIRECT, durable=True
    )
    dead = await channel.declare_queue(
        topology.dead_letter_queue, durable=True, arguments={"x-queue-type": "quorum"}
    )
    await dead.bind(dlx, routing_key=topology.queue)
    queue = await channel.declare_queue(
        topology.queue,
        durable=True,
        arguments={
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": topology.dead_letter_exchange,
            "x-dead-letter-routing-key": topology.queue,
            # A message that crashes the process over and over ends in the dead-letter queue.
            "x-delivery-limit": 20,
        },
    )
    for key in routing_keys:
        match = (where or {}).get(key)
        if match is None:
            await queue.bind(exchange, routing_key=key)
            continue
        # Deleted with the queue's binding to it (auto-delete), so it never outlives the queue.
        headers = await channel.declare_exchange(
            topology.filter_exchange(key),
            aio_pika.ExchangeType.HEADERS,
            durable=True,
            auto_delete=True,
        )
        await headers.bind(exchange, routing_key=key)
        await queue.bind(headers, arguments={"x-match": "all", **match})
        # Bound directly by an earlier version, the queue would still get every event.
        await queue.unbind(exchange, routing_key=key)
    for attempt in range(1, topology.max_attempts):
        await channel.declare_queue(
            topology.retry_queue(attempt),
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-message-ttl": topology.retry_delay_ms(attempt),
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": topology.queue,
            },
        )
    return queue


@dataclass(frozen=True)
class StoredEvent:
    """An envelope as the outbox holds it: the JSON body and the fields the properties need."""

    id: uuid.UUID
    type: str
    body: bytes
    occurred_at: dt.datetime
    correlation_id: str
    producer: str
    key: str
    version: int
    #: ``Envelope.routing_headers``; None for outbox rows written before they were kept
    #: (read off the body then).
    headers: dict[str, Any] | None

    @classmethod
    def of(cls, envelope: Envelope) -> StoredEvent:
        return cls(
            id=envelope.id,
            type=envelope.type.value,
            body=envelope.to_json(),
            occurred_at=envelope.occurred_at,
            correlation_id=envelope.correlation_id,
            producer=envelope.producer,
            key=envelope.key,
            version=envelope.version,
            headers=envelope.routing_headers(),
        )


def short_string(value: str) -> str:
    """``value`` as an AMQP property may carry it: printable ASCII, at most 255 bytes (a
    property the broker cannot take would make the event unpublishable)."""
    printable = "".join(c if " " <= c <= "~" else "?" for c in value)
    return printable[:255]


def to_message(event: Envelope | StoredEvent, *, attempt: int = 1) -> aio_pika.Message:
    """The envelope as body; id, type, time and correlation id copied into AMQP properties."""
    stored = event if isinstance(event, StoredEvent) else StoredEvent.of(event)
    return aio_pika.Message(
        stored.body,
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=str(stored.id),
        type=short_string(stored.type),
        timestamp=stored.occurred_at,
        correlation_id=short_string(stored.correlation_id),
        app_id=short_string(stored.producer),
        headers={
            "version": stored.version,
            "key": stored.key,
            ATTEMPT_HEADER: attempt,
            **(
                stored.headers
                if stored.headers is not None
                else routing_headers_of_body(stored.type, stored.body)
            ),
        },
    )


class Publisher:
    """Publishes on a confirm-mode channel with at most ``window`` confirms outstanding."""

    def __init__(self, exchange: AbstractExchange, window: int, metrics: ServiceMetrics) -> None:
        self._exchange = exchange
        self._window = asyncio.Semaphore(window)
        self._metrics = metrics

    async def publish(self, event: Envelope | StoredEvent) -> None:
        message = to_message(event)
        async with self._window:
            # Raises on a nack or a closed channel, so the caller does not mark it sent.
            await self._exchange.publish(message, routing_key=message.type or "", mandatory=False)
        self._metrics.messages_published.labels(message.type or "").inc()

    async def publish_all(self, envelopes: Iterable[Envelope | StoredEvent]) -> None:
        """Publish concurrently; returns once every confirm is in, raises if any failed."""
        await asyncio.gather(*(self.publish(e) for e in envelopes))

    async def publish_each(
        self, events: Sequence[Envelope | StoredEvent]
    ) -> list[BaseException | None]:
        """Publish concurrently; per event None (confirmed) or what went wrong."""
        return await asyncio.gather(*(self.publish(e) for e in events), return_exceptions=True)

    @property
    def available(self) -> bool:
        """The channel is open: a failure now is the event's, not the broker's absence."""
        exchange = self._exchange
        return not (isinstance(exchange, aio_pika.Exchange) and exchange.channel.is_closed)


@dataclass(frozen=True)
class _Delivery:
    message: AbstractIncomingMessage
    envelope: Envelope
    payload: Payload
    handler: Handler


class Consumer:
    """One consumer skeleton for every service.

    Parse and validate the envelope (unparseable → dead-letter at once); unknown types are
    acked and counted. Known ones are handled in batches: up to ``batch_size`` prefetched
    messages, gathered for at most ``linger_seconds``, run in one transaction, each in its
    own savepoint with its inbox row, and acked only after the commit. A message whose
    handler fails rolls back its savepoint alone and is retried through the delay queues,
    then dead-lettered; the others of its batch commit. A database outage is waited out
    (the whole batch is run again), never dead-lettered. A crash before the commit leaves
    every message of the batch unacked: redelivered, and the inbox drops what was done.

    With ``ack_after_flush`` a batch commits without waiting for its WAL to reach the disk
    (``synchronous_commit = off``), and its messages are acked once :func:`flush_wal` has
    made it durable: the effects are visible at once and the consumer goes on with the next
    batch, instead of waiting for each fsync, which the WAL of a bulk load elsewhere in the
    database makes slow (reporting waited up to 0.8 s per commit behind the worklog COPYs).
    A crash of PostgreSQL may lose such a commit; its messages were not acked, so they are
    redelivered and handled again — also when the server is back before the flush: see
    :class:`_WalFlusher` for how a flush vouches only for commits of the same server run.
    Only for handlers whose effects stay in the database until then: an outbox row of a
    commit a crash loses could already have been published.
    """

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        channel: AbstractChannel,
        topology: Topology,
        handlers: Mapping[EventType, Handler],
        metrics: ServiceMetrics,
        batch_size: int = 1,
        linger_seconds: float = 0.0,
        trims: Mapping[EventType, Trim] | None = None,
        ack_after_flush: bool = False,
        flush: Callable[[Connection], Awaitable[None]] | None = None,
    ) -> None:
        self._pool = pool
        self._channel = channel
        self._topology = topology
        self._handlers = handlers
        self._trims = trims or {}
        self._metrics = metrics
        self._batch_size = max(1, batch_size)
        self._linger = linger_seconds
        self._deliveries: asyncio.Queue[_Delivery] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._ack_after_flush = ack_after_flush
        #: makes the batches committed without waiting durable (tests hold its flush back)
        self._flusher = _WalFlusher(pool, flush or flush_wal)
        #: batches committed without waiting and not yet settled, each with the flusher
        #: connection that was open before it committed (None: none was)
        self._unflushed: list[tuple[list[_Delivery], list[str | Exception], int | None]] = []
        self._committed = asyncio.Event()

    async def subscribe(self, prefetch: int) -> None:
        """Declare the queues and start receiving; :meth:`run` handles what arrives."""
        # A batch can only be as large as what the broker lets us hold unacked.
        await self._channel.set_qos(prefetch_count=max(prefetch, self._batch_size))
        queue = await declare_consumer_queues(
            self._channel,
            self._topology,
            [t.value for t in self._handlers],
            {t.value: trim.where for t, trim in self._trims.items() if trim.where},
        )
        await queue.consume(self.on_message)

    async def start(self, prefetch: int) -> asyncio.Task[None]:
        """:meth:`subscribe`, and :meth:`run` as a task of its own (cancel it, or call
        :meth:`stop`, to stop). A service runs it supervised instead (``runtime``)."""
        await self.subscribe(prefetch)
        self._worker = asyncio.create_task(self.run(), name=f"consumer-{self._topology.queue}")
        return self._worker

    async def stop(self) -> None:
        """Stop handling; unacked messages go back to the broker when the channel closes."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        try:
            parsed = Envelope.model_validate_json(message.body)
            trim = self._trims.get(parsed.type)
            envelope = trim.keep(parsed) if trim is not None else parsed
            if envelope is None:
                self._metrics.messages_consumed.labels(parsed.type.value, "trimmed").inc()
                await message.ack()
                return
            payload = envelope.payload()
        except (ValidationError, KeyError, ValueError) as exc:
            log.error("unparseable message dead-lettered", extra={"error": str(exc)[:500]})
            self._metrics.messages_consumed.labels(message.type or "unknown", "dead_lettered").inc()
            await message.reject(requeue=False)
            return
        handler = self._handlers.get(envelope.type)
        if handler is None:
            self._metrics.messages_consumed.labels(envelope.type.value, "ignored").inc()
            await message.ack()
            return
        # Handled (and acked) by the worker, in delivery order.
        self._deliveries.put_nowait(_Delivery(message, envelope, payload, handler))

    async def run(self) -> None:
        """Handle the received messages until cancelled (raises if a part of it fails: the
        supervisor logs and restarts it; unsettled messages go back to the broker)."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._work())
            if self._ack_after_flush:
                tasks.create_task(self._settle_when_flushed())

    async def _work(self) -> None:
        while True:
            beat()
            batch = await self._gather()
            if not batch:
                continue
            # Before the commit: the flusher connection that can vouch for it.
            connection = await self._flusher.connection() if self._ack_after_flush else None
            try:
                outcomes = await self._handle(batch)
            except Exception:
                log.exception("consumer batch failed, messages requeued")
                await self._requeue(batch)
                continue
            if self._ack_after_flush:
                self._unflushed.append((batch, outcomes, connection))
                self._committed.set()
            else:
                await self._settle_batch(batch, outcomes)

    async def _settle_when_flushed(self) -> None:
        """Settle the batches committed so far once a flush has made them durable; the
        worker meanwhile goes on (one flush covers every batch committed before it)."""
        try:
            while True:
                await self._committed.wait()
                self._committed.clear()
                committed, self._unflushed = self._unflushed, []
                try:
                    flushed_on = await self._flusher.flush()
                except Exception as exc:
                    log.warning("flush failed, messages requeued", extra={"error": str(exc)})
                    flushed_on = None
                for batch, outcomes, connection in committed:
                    if connection is not None and connection == flushed_on:
                        await self._settle_batch(batch, outcomes)
                    else:
                        # Durable or not is unknown (a crash may have lost the commit): the
                        # broker delivers them again, and the inbox drops what did survive.
                        await self._requeue(batch)
        finally:
            await self._flusher.close()

    async def _settle_batch(self, batch: list[_Delivery], outcomes: list[str | Exception]) -> None:
        try:
            for delivery, outcome in zip(batch, outcomes, strict=True):
                await self._settle(delivery, outcome)
        except Exception:
            log.exception("consumer batch failed, messages requeued")
            await self._requeue(batch)

    async def _requeue(self, batch: list[_Delivery]) -> None:
        """A broken channel (acks fail) or a bug: give the unsettled messages back to the
        broker rather than hold them unacked; the inbox absorbs repeats."""
        for delivery in batch:
            with contextlib.suppress(Exception):
                await delivery.message.nack(requeue=True)

    async def _settle(self, delivery: _Delivery, outcome: str | Exception) -> None:
        """After the commit: ack, or send to the delay queue / the dead letters."""
        if isinstance(outcome, Exception):
            token = correlation_id.set(delivery.envelope.correlation_id)
            try:
                await self._retry_or_dead_letter(delivery.message, delivery.envelope, outcome)
            finally:
                correlation_id.reset(token)
        else:
            await delivery.message.ack()
            self._metrics.messages_consumed.labels(delivery.envelope.type.value, outcome).inc()

    async def _gather(self) -> list[_Delivery]:
        """The next batch: waits for one message, then up to ``batch_size`` within the linger;
        empty after ``_IDLE_BEAT_SECONDS`` without one (the loop beats while idle)."""
        try:
            async with asyncio.timeout(_IDLE_BEAT_SECONDS):
                batch = [await self._deliveries.get()]
        except TimeoutError:
            return []
        if self._batch_size > 1 and self._linger > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._linger):
                    while len(batch) < self._batch_size:
                        batch.append(await self._deliveries.get())
        while len(batch) < self._batch_size and not self._deliveries.empty():
            batch.append(self._deliveries.get_nowait())
        return batch

    async def _handle(self, batch: list[_Delivery]) -> list[str | Exception]:
        """Run the batch in one transaction; per message "success", "duplicate" or the error.

        A lone message runs without a savepoint, exactly as a transaction of its own.
        """
        backoff = 0.5
        while True:
            started = time.perf_counter()
            outcomes: list[str | Exception] = []
            try:
                async with self._pool.acquire() as conn:
                    if len(batch) == 1:
                        try:
                            async with conn.transaction():
                                await self._commit_without_waiting(conn)
                                outcomes.append(await self._handle_one(conn, batch[0]))
                        except TRANSIENT_ERRORS:
                            raise
                        except Exception as exc:
                            outcomes = [exc]
                    else:
                        async with conn.transaction():
                            await self._commit_without_waiting(conn)
                            for delivery in batch:
                                outcomes.append(await self._handle_in_savepoint(conn, delivery))
            except TRANSIENT_ERRORS as exc:
                log.warning("database unavailable, will retry", extra={"error": str(exc)})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            except Exception:
                if len(batch) == 1:
                    raise
                # The batch as a whole failed (at commit, say): each message on its own.
                log.warning("batch transaction failed, handling its messages one by one")
                return [(await self._handle([delivery]))[0] for delivery in batch]
            share = (time.perf_counter() - started) / len(batch)
            for delivery, outcome in zip(batch, outcomes, strict=True):
                if outcome == "success":
                    self._metrics.handler_seconds.labels(delivery.envelope.type.value).observe(
                        share
                    )
            return outcomes

    async def _commit_without_waiting(self, conn: Connection) -> None:
        if self._ack_after_flush:
            await conn.execute("SET LOCAL synchronous_commit = off")

    async def _handle_in_savepoint(self, conn: Connection, delivery: _Delivery) -> str | Exception:
        try:
            async with conn.transaction():
                return await self._handle_one(conn, delivery)
        except TRANSIENT_ERRORS:
            raise
        except Exception as exc:
            # Its savepoint is rolled back: the inbox row too, so the retry is not a duplicate.
            return exc

    async def _handle_one(self, conn: Connection, delivery: _Delivery) -> str:
        token = correlation_id.set(delivery.envelope.correlation_id)
        try:
            if not await inbox.claim(conn, delivery.envelope):
                return "duplicate"
            await delivery.handler(conn, delivery.envelope, delivery.payload)
            return "success"
        finally:
            correlation_id.reset(token)

    async def _retry_or_dead_letter(
        self, message: AbstractIncomingMessage, envelope: Envelope, error: Exception
    ) -> None:
        kind = envelope.type.value
        attempt = int((message.headers or {}).get(ATTEMPT_HEADER, 1) or 1)  # type: ignore[arg-type]
        if attempt >= self._topology.max_attempts:
            log.error(
                "handler failed, dead-lettered",
                exc_info=error,
                extra={"event_id": str(envelope.id)},
            )
            self._metrics.messages_consumed.labels(kind, "dead_lettered").inc()
            await message.reject(requeue=False)
            return
        context = {"event_id": str(envelope.id), "attempt": attempt}
        if isinstance(error, RetryLater):
            log.warning("event not handled yet, will retry: %s", error, extra=context)
        else:
            log.error("handler failed, will retry", exc_info=error, extra=context)
        self._metrics.messages_consumed.labels(kind, "failed").inc()
        # Publish the copy first, then ack: a crash in between gives a duplicate the inbox drops.
        await self._channel.default_exchange.publish(
            to_message(envelope, attempt=attempt + 1),
            routing_key=self._topology.retry_queue(attempt),
        )
        await message.ack()


async def flush_wal(conn: Connection) -> None:
    """Make every transaction committed before this call durable: a transaction that writes
    WAL and commits synchronously flushes the WAL up to its own commit record, which lies
    after theirs. It writes a logical-decoding message (a no-op outside logical decoding,
    callable by any role); an xid alone writes no WAL, and its commit would not wait."""
    await conn.execute("SELECT pg_logical_emit_message(true, 'burnrate.flush', '')")


def _is_open(conn: PoolConnectionProxy) -> bool:
    """False also when asking raises: after a server restart the driver may have handed the
    connection back to the pool, and the proxy then raises ``InterfaceError``."""
    try:
        return not conn.is_closed()
    except Exception:
        return False


class _WalFlusher:
    """Flushes the WAL for a consumer on a connection of its own, held open, and says which
    commits a flush vouches for.

    A flush makes durable what the server committed before it, but only in the same run of
    the server: a crash (or restart) may lose the commits that did not wait, and a flush
    after it would vouch for nothing of theirs. A crash ends every connection, so a batch
    counts as flushed only if this connection was open before the batch committed and the
    flush succeeded on that same connection. Connections are numbered; 0 is none.
    """

    def __init__(self, pool: asyncpg.Pool, flush: Callable[[Connection], Awaitable[None]]):
        self._pool = pool
        self._flush = flush
        self._conn: PoolConnectionProxy | None = None
        self._number = 0
        self._opening = asyncio.Lock()

    async def connection(self) -> int | None:
        """The number of the open connection (opened if need be); None if it cannot be."""
        async with self._opening:
            if self._conn is not None and _is_open(self._conn):
                return self._number
            await self.close()
            try:
                self._conn = await self._pool.acquire()
            except Exception as exc:
                log.warning("flush connection unavailable", extra={"error": str(exc)})
                return None
            self._number += 1
            return self._number

    async def flush(self) -> int:
        """Flush; the number of the connection it succeeded on (raises if it did not)."""
        number = await self.connection()
        if number is None or self._conn is None:
            raise ConnectionError("no connection to flush on")
        try:
            await self._flush(self._conn)
        except BaseException:
            await self.close()
            raise
        return number

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await self._pool.release(conn)


async def replay_dead_letters(channel: AbstractChannel, topology: Topology) -> int:
    """Move the messages now in the dead-letter queue back into the service queue.

    Only as many as were there when the replay began: one that fails again lands back in
    the dead-letter queue and must not be picked up by this same replay.
    """
    waiting = await dead_letter_depth(channel, topology)
    dead = await channel.declare_queue(topology.dead_letter_queue, passive=True)
    moved = 0
    for _ in range(waiting):
        message = await dead.get(no_ack=False, fail=False)
        if message is None:
            break
        headers = dict(message.headers or {})
        headers[ATTEMPT_HEADER] = 1
        await channel.default_exchange.publish(
            aio_pika.Message(
                message.body,
                content_type=message.content_type,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=message.message_id,
                type=message.type,
                timestamp=message.timestamp,
                correlation_id=message.correlation_id,
                app_id=message.app_id,
                headers=headers,
            ),
            routing_key=topology.queue,
        )
        await message.ack()
        moved += 1
    return moved


async def dead_letter_depth(channel: AbstractChannel, topology: Topology) -> int:
    """Messages waiting in the dead-letter queue (a fresh passive declare each call)."""
    underlay = await channel.get_underlay_channel()
    result = await underlay.queue_declare(topology.dead_letter_queue, passive=True)
    return result.message_count or 0


async def connect(url: str) -> AbstractRobustConnection:
    return await aio_pika.connect_robust(url)
