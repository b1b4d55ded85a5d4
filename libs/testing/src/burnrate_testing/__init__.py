"""A pytest plugin for every Burnrate test suite (enabled by the root ``conftest.py``).

The tiers: a test that uses none of the server fixtures below is marked ``unit`` (``make
test-unit`` runs only those: pure domain, no I/O, seconds); the rest need the servers.

PostgreSQL and RabbitMQ come from ``BURNRATE_DATABASE_URL`` / ``BURNRATE_AMQP_URL`` when
set, else the local defaults when reachable, else testcontainers when a Docker engine is
there. Each test gets its own database schema and its own exchange and queue names.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import shutil
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import asyncpg
import httpx
import pytest
from burnrate_common import bus
from burnrate_common.app import create_app
from burnrate_common.events import Envelope, EventType, WorklogsChanged, new_event
from burnrate_common.runtime import ServiceDefinition
from burnrate_common.settings import ServiceSettings

LOCAL_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
TEST_API_KEY = "test-admin-key"
#: The secret customer links are signed with in tests (BURNRATE_REPORT_LINK_SECRET).
TEST_LINK_SECRET = "test-link-secret-" + "0" * 32


def pytest_configure(config: pytest.Config) -> None:
    # Settings built outside a test's isolation read the environment: give them the test
    # secret customer links are signed with (the product has no built-in one).
    os.environ.setdefault("BURNRATE_REPORT_LINK_SECRET", TEST_LINK_SECRET)


AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}

T = TypeVar("T")


#: The fixtures that reach a server: a test using any of them (directly or through another
#: fixture) is not a unit test.
SERVER_FIXTURES = frozenset({"postgres_server_url", "amqp_url"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        uses_servers = SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        marked = {m.name for m in item.iter_markers()} & {"integration", "e2e"}
        if not uses_servers and not marked:
            item.add_marker(pytest.mark.unit)


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def _docker_available() -> bool:
    return shutil.which("docker") is not None and os.path.exists("/var/run/docker.sock")


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    url = os.environ.get("BURNRATE_DATABASE_URL", LOCAL_DATABASE_URL)
    if _reachable(url, 5432):
        yield url
        return
    if not _docker_available():
        pytest.fail(f"PostgreSQL is not reachable at {url} and no Docker engine is available")
    from testcontainers.postgres import PostgresContainer

    with PostgresContainer("postgres:16", driver=None) as container:
        yield container.get_connection_url()


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    url = os.environ.get("BURNRATE_AMQP_URL", LOCAL_AMQP_URL)
    if _reachable(url, 5672):
        yield url
        return
    if not _docker_available():
        pytest.fail(f"RabbitMQ is not reachable at {url} and no Docker engine is available")
    from testcontainers.rabbitmq import RabbitMqContainer

    with RabbitMqContainer("rabbitmq:3.13") as container:
        params = container.get_connection_params()
        yield f"amqp://guest:guest@{params.host}:{params.port}/"


@pytest.fixture(scope="session")
async def database_url(postgres_server_url: str) -> AsyncIterator[str]:
    """A fresh database for this test session, dropped at the end."""
    name = f"burnrate_test_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(postgres_server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    parts = urlsplit(postgres_server_url)
    yield urlunsplit(parts._replace(path=f"/{name}"))
    admin = await asyncpg.connect(postgres_server_url)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@dataclass
class Isolation:
    """Names that belong to one test: a schema suffix and an AMQP prefix."""

    database_url: str
    amqp_url: str
    suffix: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def amqp_prefix(self) -> str:
        return f"test-{self.suffix}"

    def settings(self, cls: type[ServiceSettings], **overrides: Any) -> Any:
        base = cls()
        values: dict[str, Any] = {
            "database_url": self.database_url,
            "amqp_url": self.amqp_url,
            "amqp_prefix": self.amqp_prefix,
            "database_schema": f"{base.db_schema}_{self.suffix}",
            "bootstrap_api_key": TEST_API_KEY,
            "consumer_retry_base_seconds": 0.05,
            "outbox_poll_seconds": 0.2,
            # Tests run in parallel workers against one PostgreSQL (100 connections).
            "db_pool_min_size": 1,
            "db_pool_max_size": 6,
        }
        if "report_link_secret" in cls.model_fields:
            values["report_link_secret"] = TEST_LINK_SECRET
        values.update(overrides)
        return cls(**values)


TEARDOWN_SECONDS = 30


@contextlib.asynccontextmanager
async def bounded(what: str, seconds: float = TEARDOWN_SECONDS) -> AsyncIterator[None]:
    """Fail (with every task's stack on stderr) instead of hanging the whole run."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        print(f"\n{what} took over {seconds}s; tasks:", file=sys.stderr)
        for task in asyncio.all_tasks():
            task.print_stack(limit=6, file=sys.stderr)
        raise


@pytest.fixture
async def isolation(database_url: str, amqp_url: str) -> AsyncIterator[Isolation]:
    iso = Isolation(database_url, amqp_url)
    yield iso
    async with bounded("deleting the test's queues"):
        await delete_broker_objects(amqp_url, iso.amqp_prefix)


async def delete_broker_objects(amqp_url: str, prefix: str) -> None:
    """Delete the exchanges and queues a test declared under its prefix."""
    services = [
        "contracts",
        "worklog-ingest",
        "rules",
        "notifier",
        "reporting",
        "billing",
        "tickets",
        "probe",
    ]
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        for service in services:
            names = [f"{prefix}.{service}", f"{prefix}.{service}.dead"]
            names += [f"{prefix}.{service}.retry.{n}" for n in range(1, 21)]
            for name in names:
                channel = await connection.channel()
                with contextlib.suppress(Exception):
                    await channel.queue_delete(name)
                with contextlib.suppress(Exception):
                    await channel.close()
        for exchange in (f"{prefix}.events", f"{prefix}.dead-letter"):
            channel = await connection.channel()
            with contextlib.suppress(Exception):
                await channel.exchange_delete(exchange)


@contextlib.asynccontextmanager
async def serve(definition: ServiceDefinition[Any]) -> AsyncIterator[httpx.AsyncClient]:
    """Run a service in-process (lifespan included) and give an HTTP client for it."""
    app = create_app(definition)
    lifespan = app.router.lifespan_context(app)
    async with bounded("starting the service"):
        await lifespan.__aenter__()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://service", headers=AUTH
        ) as client:
            client.app = app  # type: ignore[attr-defined]
            yield client
    finally:
        async with bounded("stopping the service"):
            await lifespan.__aexit__(None, None, None)


class EventProbe:
    """Captures the events published on a test's exchange, for assertions."""

    def __init__(self, amqp_url: str, prefix: str) -> None:
        self._url = amqp_url
        self._prefix = prefix
        self.events: list[Envelope] = []
        self._connection: aio_pika.abc.AbstractConnection | None = None

    async def start(self, *keys: str) -> None:
        self._connection = await aio_pika.connect(self._url)
        channel = await self._connection.channel()
        exchange = await channel.declare_exchange(
            f"{self._prefix}.events", aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        for key in keys or ("#",):
            await queue.bind(exchange, routing_key=key)

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            async with message.process():
                self.events.append(Envelope.model_validate_json(message.body))

        await queue.consume(on_message)

    def of_type(self, event_type: EventType) -> list[Envelope]:
        return [e for e in self.events if e.type == event_type]

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()


@pytest.fixture
async def probe(isolation: Isolation) -> AsyncIterator[EventProbe]:
    events = EventProbe(isolation.amqp_url, isolation.amqp_prefix)
    yield events
    async with bounded("closing the event probe"):
        await events.close()


async def publish(amqp_url: str, prefix: str, *envelopes: Envelope) -> None:
    """Publish events on a test's exchange, as another service's relay would."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(
            f"{prefix}.events", aio_pika.ExchangeType.TOPIC, durable=True
        )
        for envelope in envelopes:
            await exchange.publish(
                bus.to_message(envelope), routing_key=envelope.type.value, mandatory=False
            )


async def eventually(
    check: Callable[[], Awaitable[T]], *, timeout: float = 10.0, interval: float = 0.05
) -> T:
    """Await ``check`` until it returns a truthy value (or stops raising AssertionError)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = await check()
            if result:
                return result
            last: BaseException | None = None
        except AssertionError as exc:
            last = exc
        if time.monotonic() > deadline:
            if last is not None:
                raise last
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


def worklogs_event(
    *outside_dates: bool,
    event_type: EventType = EventType.WORKLOG_RECORDED,
    contract_id: uuid.UUID | None = None,
    ticket: str | None = None,
) -> Envelope:
    """A ``worklog.*`` event of one contract with a worklog per flag in ``outside_dates``."""
    contract_id = contract_id or uuid.uuid4()
    worklogs = [
        {
            "id": uuid.uuid4(),
            "source": "api",
            "external_id": uuid.uuid4().hex,
            "contract_id": contract_id,
            "period_start": "2026-03-01",
            "author": "tech1",
            "team": "servicedesk",
            "activity": "phone support",
            "started_at": "2026-03-02T09:00:00+01:00",
            "seconds": 3600,
            "outside_dates": outside,
            "ticket": ticket,
        }
        for outside in outside_dates
    ]
    payload = WorklogsChanged.model_validate({"contract_id": contract_id, "worklogs": worklogs})
    return new_event(event_type, payload, key=contract_id, producer="test")


#: The status table both services test their status (and its SQL twin) against:
#: (lifecycle, start, end, today, expiring window, exhausted) → status.
_D = dt.date
CONTRACT_STATUS_CASES: list[tuple[str, Any, Any, Any, int, bool, str]] = [
    ("draft", _D(2026, 1, 1), _D(2026, 12, 31), _D(2026, 6, 1), 30, False, "draft"),
    ("closed", _D(2026, 1, 1), _D(2026, 12, 31), _D(2026, 6, 1), 30, False, "closed"),
    ("active", _D(2026, 1, 1), _D(2026, 12, 31), _D(2025, 12, 31), 30, False, "not_started"),
    ("active", _D(2026, 1, 1), _D(2026, 12, 31), _D(2026, 1, 1), 30, False, "active"),
    ("active", _D(2026, 1, 1), _D(2026, 12, 31), _D(2026, 12, 1), 30, False, "expiring"),
    ("active", _D(2026, 1, 1), _D(2026, 12, 31), _D(2026, 11, 30), 30, False, "active"),
    ("active", _D(2026, 1, 1), _D(2026, 12, 31), _D(2026, 12, 31), 30, False, "expiring"),
    ("active", _D(2026, 1, 1), _D(2026, 12, 31), _D(2026, 12, 31), 0, False, "expiring"),
    ("active", _D(2026, 1, 1), _D(2026, 12, 31), _D(2026, 12, 30), 0, False, "active"),
    ("active", _D(2026, 1, 1), _D(2026, 12, 31), _D(2027, 1, 1), 30, False, "expired"),
    ("active", _D(2026, 1, 1), _D(2026, 12, 31), _D(2026, 6, 1), 30, True, "exhausted"),
    ("active", _D(2026, 1, 1), _D(2026, 12, 31), _D(2026, 12, 20), 30, True, "exhausted"),
    ("active", _D(2026, 1, 1), _D(2026, 12, 31), _D(2027, 1, 1), 30, True, "expired"),
]
