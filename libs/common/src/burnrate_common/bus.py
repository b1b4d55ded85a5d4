"""The RabbitMQ bus: topology, publishing with confirms, the consumer skeleton, replay.

Topology, with ``P`` the configured prefix and ``S`` the consuming service:

* ``P.events``  — the one durable topic exchange; routing key = event type.
* ``P.S``       — the service's quorum queue, bound to the keys it handles.
* ``P.S.retry.N`` — delay queues (TTL grows per attempt) that dead-letter back into ``P.S``.
* ``P.dead-letter`` / ``P.S.dead`` — where a message lands after its last attempt.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

import aio_pika
import asyncpg
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from pydantic import ValidationError

from burnrate_common import inbox
from burnrate_common.db import Connection
from burnrate_common.events import Envelope, EventType, Payload
from burnrate_common.logs import correlation_id
from burnrate_common.metrics import ServiceMetrics

log = logging.getLogger(__name__)

ATTEMPT_HEADER = "x-burnrate-attempt"
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
    channel: AbstractChannel, topology: Topology, routing_keys: Iterable[str]
) -> AbstractQueue:
    """Declare (idempotently) the service's queue, its retry queues and its dead-letter queue."""
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
        await queue.bind(exchange, routing_key=key)
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

    @classmethod
    def of(cls, envelope: Envelope) -> StoredEvent:
        return cls(
            id=envelope.id,
            type=envelope.type.value,
            body=envelope.model_dump_json().encode(),
            occurred_at=envelope.occurred_at,
            correlation_id=envelope.correlation_id,
            producer=envelope.producer,
            key=envelope.key,
            version=envelope.version,
        )


def to_message(event: Envelope | StoredEvent, *, attempt: int = 1) -> aio_pika.Message:
    """The envelope as body; id, type, time and correlation id copied into AMQP properties."""
    stored = event if isinstance(event, StoredEvent) else StoredEvent.of(event)
    return aio_pika.Message(
        stored.body,
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=str(stored.id),
        type=stored.type,
        timestamp=stored.occurred_at,
        correlation_id=stored.correlation_id,
        app_id=stored.producer,
        headers={"version": stored.version, "key": stored.key, ATTEMPT_HEADER: attempt},
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


class Consumer:
    """One consumer skeleton for every service.

    Parse and validate the envelope (unparseable → dead-letter at once); unknown types are
    acked and counted; known ones run their handler in one transaction with the inbox row,
    and the message is acked only after commit. A failing handler is retried through the
    delay queues, then dead-lettered. A database outage is waited out, never dead-lettered.
    """

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        channel: AbstractChannel,
        topology: Topology,
        handlers: Mapping[EventType, Handler],
        metrics: ServiceMetrics,
    ) -> None:
        self._pool = pool
        self._channel = channel
        self._topology = topology
        self._handlers = handlers
        self._metrics = metrics

    async def start(self, prefetch: int) -> None:
        await self._channel.set_qos(prefetch_count=prefetch)
        queue = await declare_consumer_queues(
            self._channel, self._topology, [t.value for t in self._handlers]
        )
        await queue.consume(self.on_message)

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        try:
            envelope = Envelope.model_validate_json(message.body)
            payload = envelope.payload()
        except (ValidationError, KeyError, ValueError) as exc:
            log.error("unparseable message dead-lettered", extra={"error": str(exc)[:500]})
            self._metrics.messages_consumed.labels(message.type or "unknown", "dead_lettered").inc()
            await message.reject(requeue=False)
            return
        kind = envelope.type.value
        handler = self._handlers.get(envelope.type)
        if handler is None:
            self._metrics.messages_consumed.labels(kind, "ignored").inc()
            await message.ack()
            return
        token = correlation_id.set(envelope.correlation_id)
        try:
            status = await self._handle(handler, envelope, payload)
        except Exception as exc:
            await self._retry_or_dead_letter(message, envelope, exc)
        else:
            await message.ack()
            self._metrics.messages_consumed.labels(kind, status).inc()
        finally:
            correlation_id.reset(token)

    async def _handle(self, handler: Handler, envelope: Envelope, payload: Payload) -> str:
        backoff = 0.5
        while True:
            started = time.perf_counter()
            try:
                async with self._pool.acquire() as conn, conn.transaction():
                    if not await inbox.claim(conn, envelope):
                        return "duplicate"
                    await handler(conn, envelope, payload)
                self._metrics.handler_seconds.labels(envelope.type.value).observe(
                    time.perf_counter() - started
                )
                return "success"
            except TRANSIENT_ERRORS as exc:
                log.warning("database unavailable, will retry", extra={"error": str(exc)})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

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
