"""No item and no lost connection stops a loop of the shared runtime for good."""

import asyncio
import uuid

import aio_pika
import asyncpg
import pytest
from burnrate_common import bus, db, outbox
from burnrate_common.events import ApiKeyRevoked, EventType, new_event
from burnrate_common.logs import correlation_id
from burnrate_common.metrics import ServiceMetrics
from burnrate_common.runtime import ServiceDefinition
from burnrate_common.settings import ServiceSettings
from burnrate_common.supervision import Loops, beat
from burnrate_testing import EventProbe, eventually, serve


def revoked(n: int = 0):
    return new_event(
        EventType.APIKEY_REVOKED, ApiKeyRevoked(id=uuid.uuid4()), key=str(n), producer="test"
    )


MIGRATIONS = db.load_migrations("burnrate_common", "common")


@pytest.fixture
async def schema(isolation):
    name = f"common_{isolation.suffix}"
    await db.migrate(isolation.database_url, name, MIGRATIONS)
    pool = await db.create_pool(isolation.database_url, name)
    yield pool
    await pool.close()


async def _relay(isolation, schema, metrics, **options):
    connection = await aio_pika.connect(isolation.amqp_url)
    channel = await connection.channel(publisher_confirms=True)
    topology = bus.Topology(isolation.amqp_prefix, "probe", 3, 0.05)
    exchange = await bus.declare_exchange(channel, topology)
    relay = outbox.OutboxRelay(
        schema, bus.Publisher(exchange, 16, metrics), metrics, poll_seconds=0.05, **options
    )
    return connection, relay


async def test_an_event_that_cannot_be_published_is_set_aside_and_the_rest_flow_on(
    isolation, schema
):
    probe = EventProbe(isolation.amqp_url, isolation.amqp_prefix)
    await probe.start("apikey.*")
    # A header value AMQP cannot encode (an integer above 64 bits): no retry can publish it.
    poison = revoked(0)
    events = [revoked(n) for n in range(1, 20)]
    async with schema.acquire() as conn, conn.transaction():
        await outbox.add(conn, [poison, *events])
        await conn.execute(
            """UPDATE outbox SET headers = '{"huge": 1180591620717411303424}' WHERE id = $1""",
            poison.id,
        )
    metrics = ServiceMetrics("test")
    connection, relay = await _relay(isolation, schema, metrics, batch_size=5, max_attempts=3)
    task = asyncio.create_task(relay.run())
    try:

        async def all_others_published():
            return len(probe.of_type(EventType.APIKEY_REVOKED)) >= len(events)

        await eventually(all_others_published, timeout=20)

        async def poison_set_aside():
            async with schema.acquire() as conn:
                return await conn.fetchval("SELECT count(*) FROM outbox_set_aside") == 1

        await eventually(poison_set_aside, timeout=20)
        async with schema.acquire() as conn:
            [row] = await outbox.list_set_aside(conn, 10)
            assert row["id"] == poison.id and row["attempts"] == 3
            assert await conn.fetchval("SELECT count(*) FROM outbox WHERE id = $1", poison.id) == 0
        assert metrics.outbox_set_aside._value.get() == 1
        published = {e.id for e in probe.of_type(EventType.APIKEY_REVOKED)}
        assert published == {e.id for e in events}

        # Fixed (here: the header made encodable) and replayed, it is published.
        async with schema.acquire() as conn:
            await conn.execute(
                "UPDATE outbox_set_aside SET headers = '{}' WHERE id = $1", poison.id
            )
            assert await outbox.replay_set_aside(conn, poison.id)
            assert not await outbox.replay_set_aside(conn, poison.id)

        async def replayed():
            return poison.id in {e.id for e in probe.of_type(EventType.APIKEY_REVOKED)}

        await eventually(replayed, timeout=20)
    finally:
        task.cancel()
        await probe.close()
        await connection.close()


async def test_a_correlation_id_no_amqp_property_can_carry_is_still_published(isolation, schema):
    """256 bytes of "é" once made an event unpublishable, and the relay's round with it."""
    probe = EventProbe(isolation.amqp_url, isolation.amqp_prefix)
    await probe.start("apikey.*")
    token = correlation_id.set("é" * 128)
    try:
        event = revoked(1)
    finally:
        correlation_id.reset(token)
    async with schema.acquire() as conn, conn.transaction():
        await outbox.add(conn, [event, revoked(2)])
    connection, relay = await _relay(isolation, schema, ServiceMetrics("test"), batch_size=10)
    try:
        assert await relay.relay_once() == 2
        await eventually(lambda: _arrived(probe, 2), timeout=10)
    finally:
        await probe.close()
        await connection.close()


async def _arrived(probe, count):
    return len(probe.of_type(EventType.APIKEY_REVOKED)) == count


@pytest.mark.parametrize(
    ("header", "kept"),
    [
        (b"req-42", True),
        ("é".encode() * 128, False),
        (b"a" * 129, False),
        (b"\xff\xfe", False),
        (b"a b", False),
    ],
)
async def test_the_correlation_id_is_kept_only_when_it_is_short_printable_ascii(
    isolation, header, kept
):
    settings = isolation.settings(ServiceSettings, service_name="probe")
    definition = ServiceDefinition(
        settings=settings, package="burnrate_common", title="t", deps=None
    )
    async with serve(definition) as client:
        response = await client.get("/healthz", headers={"x-correlation-id": header})
        assert response.status_code == 200
        answered = response.headers["x-correlation-id"]
        assert (answered == header.decode("latin-1")) is kept
        assert answered.isascii() and 0 < len(answered) <= 128


async def test_a_loop_that_raises_or_ends_is_restarted_and_counted():
    metrics = ServiceMetrics("test")
    loops = Loops(metrics)
    runs = []

    async def flaky():
        runs.append(1)
        beat()
        if len(runs) == 1:
            raise RuntimeError("boom")
        if len(runs) == 2:
            return
        await asyncio.Event().wait()

    task = loops.start("flaky", flaky)
    try:
        await eventually(lambda: _value(len(runs) == 3), timeout=10)
        assert metrics.loop_restarts.labels("flaky")._value.get() == 2
        assert loops.ready() == {"loop:flaky": True}
        assert loops.health()["flaky"].last_error == "the loop returned"
    finally:
        task.cancel()


async def _value(x):
    return x


async def test_a_loop_that_stops_beating_reads_as_not_ready():
    loops = Loops(ServiceMetrics("test"))

    async def stuck():
        beat()
        await asyncio.Event().wait()

    task = loops.start("stuck", stuck, stale_after=0.2)
    try:
        await asyncio.sleep(0.05)
        assert loops.ready() == {"loop:stuck": True}
        await asyncio.sleep(0.3)
        assert loops.ready() == {"loop:stuck": False}
    finally:
        task.cancel()


async def test_the_consumer_goes_on_when_its_flush_connection_was_taken_back(isolation, schema):
    """After a PostgreSQL restart the driver hands the flusher's connection back to the pool,
    and asking it ``is_closed()`` raises: the consumer must open another and go on."""
    handled = []

    async def handle(conn, envelope, payload):
        handled.append(envelope.id)

    connection = await aio_pika.connect_robust(isolation.amqp_url)
    topology = bus.Topology(isolation.amqp_prefix, "probe", 3, 0.05)
    consumer = bus.Consumer(
        pool=schema,
        channel=await connection.channel(),
        topology=topology,
        handlers={EventType.APIKEY_REVOKED: handle},
        metrics=ServiceMetrics("test"),
        ack_after_flush=True,
    )
    worker = await consumer.start(prefetch=10)
    exchange = await bus.declare_exchange(await connection.channel(), topology)
    try:
        first = revoked(1)
        await exchange.publish(bus.to_message(first), routing_key="apikey.revoked")
        await eventually(lambda: _value(len(handled) == 1), timeout=10)
        flusher = consumer._flusher
        held = flusher._conn
        assert held is not None
        await schema.release(held)  # what the driver does with a connection the server ended
        with pytest.raises(asyncpg.InterfaceError):
            held.is_closed()
        second = revoked(2)
        await exchange.publish(bus.to_message(second), routing_key="apikey.revoked")
        await eventually(lambda: _value(len(handled) == 2), timeout=10)
        assert not worker.done()
    finally:
        await consumer.stop()
        await connection.close()
