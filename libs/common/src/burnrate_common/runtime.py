"""The composition every service shares: what a service declares, and how it is started.

A service describes itself with a :class:`ServiceDefinition` in its ``bootstrap.py``;
:func:`running` builds the pool, the broker channels, the outbox relay, the consumer and the
service's background loops, and tears them down in reverse. Nothing connects at import.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Generic, TypeVar

import asyncpg
from aio_pika.abc import AbstractChannel, AbstractRobustConnection
from fastapi import APIRouter

from burnrate_common import auth, bus, db
from burnrate_common.aio import cancel_and_wait
from burnrate_common.events import EventType
from burnrate_common.handling import EventHandlers
from burnrate_common.metrics import ServiceMetrics
from burnrate_common.outbox import OutboxRelay
from burnrate_common.settings import ServiceSettings
from burnrate_common.supervision import Loops, beat

log = logging.getLogger(__name__)

#: The service's dependencies, built in its ``bootstrap.py`` (a dataclass of its
#: ``service.py``: the clock, the SMTP sender …) and reached typed by routes, handlers and loops.
Deps = TypeVar("Deps")

BackgroundLoop = Callable[["Runtime[Any]"], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class ServiceDefinition(Generic[Deps]):
    settings: ServiceSettings
    #: the service's package; its ``migrations`` folder holds the numbered SQL files.
    package: str
    title: str
    deps: Deps
    routers: Sequence[APIRouter] = ()
    #: the service's ``handlers.py`` registry, bound to ``deps`` when the service starts.
    handlers: EventHandlers[Deps] | None = None
    #: applied to every bound handler (reporting keeps each handled event in its log).
    wrap_handlers: Callable[[bus.Handler], bus.Handler] | None = None
    #: per event type, what of it the handlers read (see ``bus.Trim``)
    trims: Mapping[EventType, bus.Trim] = field(default_factory=dict)
    background: Sequence[BackgroundLoop] = ()
    #: The handlers write nothing that leaves the database by itself (no outbox rows): their
    #: batches commit without waiting for the disk and are acked once flushed, so a slow
    #: fsync does not hold the consumer up (``bus.Consumer``). Reporting's read models.
    ack_after_flush: bool = False
    #: the service that issues API keys does not replicate them from the bus.
    replicate_api_keys: bool = True

    @property
    def all_handlers(self) -> dict[EventType, bus.Handler]:
        handlers = (
            self.handlers.bind(self.deps, self.wrap_handlers) if self.handlers is not None else {}
        )
        if self.replicate_api_keys:
            handlers.update(auth.REPLICA_HANDLERS.bind(None))
        return handlers

    @property
    def topology(self) -> bus.Topology:
        return bus.Topology(
            prefix=self.settings.amqp_prefix,
            service=self.settings.service_name,
            max_attempts=self.settings.consumer_max_attempts,
            retry_base_seconds=self.settings.consumer_retry_base_seconds,
        )

    def migrations(self) -> list[db.Migration]:
        common = db.load_migrations("burnrate_common", "common")
        if self.package == "burnrate_common":  # a bare service (tests of the runtime)
            return common
        return common + db.load_migrations(self.package, self.settings.db_schema)


@dataclass
class Runtime(Generic[Deps]):
    definition: ServiceDefinition[Deps]
    metrics: ServiceMetrics
    pool: asyncpg.Pool
    connection: AbstractRobustConnection
    channel: AbstractChannel
    publisher: bus.Publisher
    loops: Loops
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def settings(self) -> ServiceSettings:
        return self.definition.settings

    @property
    def deps(self) -> Deps:
        return self.definition.deps

    async def ready(self) -> dict[str, bool]:
        """Database and broker reachable, and every loop running and beating in time."""
        checks = {"database": False, "broker": not self.connection.is_closed}
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2), self.pool.acquire() as conn:
                checks["database"] = await conn.fetchval("SELECT true")
        return checks | self.loops.ready()


async def migrate(definition: ServiceDefinition[Any]) -> list[str]:
    settings = definition.settings
    await db.ensure_database(settings.database_url)
    return await db.migrate(settings.database_url, settings.db_schema, definition.migrations())


async def _when_database_is_up(
    definition: ServiceDefinition[Any], attempts: int = 60
) -> asyncpg.Pool:
    """Migrate and open the pool, waiting (about a minute) for a database that is starting
    or restarting, rather than exiting at the first refusal."""
    settings = definition.settings
    for attempt in range(1, attempts + 1):
        try:
            await migrate(definition)
            return await db.create_pool(
                settings.database_url,
                settings.db_schema,
                min_size=settings.db_pool_min_size,
                max_size=settings.db_pool_max_size,
            )
        except bus.TRANSIENT_ERRORS as exc:
            if attempt == attempts:
                raise
            log.warning("database not reachable yet", extra={"error": str(exc), "attempt": attempt})
            await asyncio.sleep(1)
    raise AssertionError("unreachable")


async def _connect_broker(url: str, attempts: int = 30) -> AbstractRobustConnection:
    for attempt in range(1, attempts + 1):
        try:
            return await bus.connect(url)
        except (OSError, ConnectionError) as exc:
            if attempt == attempts:
                raise
            log.warning("broker not reachable yet", extra={"error": str(exc), "attempt": attempt})
            await asyncio.sleep(1)
    raise AssertionError("unreachable")


async def _watch_dead_letters(runtime: Runtime[Any]) -> None:
    topology = runtime.definition.topology
    channel = await runtime.connection.channel()
    try:
        while True:
            with contextlib.suppress(Exception):
                depth = await bus.dead_letter_depth(channel, topology)
                runtime.metrics.dead_letter_depth.set(depth)
            beat()
            await asyncio.sleep(15)
    finally:
        with contextlib.suppress(Exception):
            await channel.close()


@contextlib.asynccontextmanager
async def running(
    definition: ServiceDefinition[Deps], metrics: ServiceMetrics
) -> AsyncIterator[Runtime[Deps]]:
    settings = definition.settings
    if settings.gc_gen0_threshold:
        gc.set_threshold(settings.gc_gen0_threshold, *gc.get_threshold()[1:])
    pool = await _when_database_is_up(definition)
    connection = await _connect_broker(settings.amqp_url)
    tasks: list[asyncio.Task[None]] = []
    loops = Loops(metrics)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await bus.declare_exchange(channel, definition.topology)
        publisher = bus.Publisher(exchange, settings.outbox_publish_window, metrics)
        runtime = Runtime(definition, metrics, pool, connection, channel, publisher, loops, tasks)
        relay = OutboxRelay(
            pool,
            publisher,
            metrics,
            batch_size=settings.outbox_batch_size,
            poll_seconds=settings.outbox_poll_seconds,
        )
        tasks.append(loops.start("outbox-relay", relay.run))
        handlers = definition.all_handlers
        if handlers:
            consumer = bus.Consumer(
                pool=pool,
                channel=await connection.channel(),
                topology=definition.topology,
                handlers=handlers,
                metrics=metrics,
                batch_size=settings.consumer_batch,
                linger_seconds=settings.consumer_linger_ms / 1000,
                trims=definition.trims,
                ack_after_flush=definition.ack_after_flush,
            )
            await consumer.subscribe(settings.consumer_prefetch)
            tasks.append(loops.start("consumer", consumer.run))
            tasks.append(loops.start("dead-letter-watch", partial(_watch_dead_letters, runtime)))
        for loop in definition.background:
            tasks.append(loops.start(loop.__qualname__, partial(loop, runtime)))
        yield runtime
    finally:
        await cancel_and_wait(tasks)
        await connection.close()
        await pool.close()
