"""The bus, the outbox relay, the inbox and the migration runner on the real servers."""

import asyncio
import contextlib
import uuid

import aio_pika
import asyncpg
import pytest
from burnrate_common import bus, db, outbox
from burnrate_common.events import ApiKeyRevoked, EventType, new_event
from burnrate_common.metrics import ServiceMetrics
from burnrate_testing import EventProbe, eventually, worklogs_event

pytestmark = pytest.mark.integration

MIGRATIONS = db.load_migrations("burnrate_common", "common")


@pytest.fixture
async def schema(isolation):
    name = f"common_{isolation.suffix}"
    await db.migrate(isolation.database_url, name, MIGRATIONS)
    pool = await db.create_pool(isolation.database_url, name)
    yield pool
    await pool.close()


def revoked(n: int = 0):
    return new_event(
        EventType.APIKEY_REVOKED, ApiKeyRevoked(id=uuid.uuid4()), key=str(n), producer="test"
    )


async def test_two_relays_publish_every_row_once(isolation, schema):
    probe = EventProbe(isolation.amqp_url, isolation.amqp_prefix)
    await probe.start("apikey.*")
    events = [revoked(n) for n in range(300)]
    async with schema.acquire() as conn, conn.transaction():
        await outbox.add(conn, events)

    connection = await aio_pika.connect(isolation.amqp_url)
    metrics = ServiceMetrics("test")
    topology = bus.Topology(isolation.amqp_prefix, "probe", 3, 0.05)
    relays = []
    for _ in range(2):
        channel = await connection.channel(publisher_confirms=True)
        exchange = await bus.declare_exchange(channel, topology)
        relays.append(
            outbox.OutboxRelay(
                schema,
                bus.Publisher(exchange, 16, metrics),
                metrics,
                batch_size=50,
                poll_seconds=0.1,
            )
        )
    tasks = [asyncio.create_task(r.run()) for r in relays]
    try:
        await eventually(lambda: _count(probe, 300), timeout=20)
        await asyncio.sleep(0.3)
        assert sorted(e.id for e in probe.events) == sorted(e.id for e in events)
        assert await relays[0].backlog() == 0
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await connection.close()
        await probe.close()


async def _count(probe, n):
    return len(probe.events) >= n


async def test_rows_written_before_the_property_columns_are_relayed_too(isolation, schema):
    old, new = revoked(1), revoked(2)
    async with schema.acquire() as conn, conn.transaction():
        # As migration 0001 wrote rows: the envelope only.
        await conn.execute(
            "INSERT INTO outbox (id, type, envelope) VALUES ($1, $2, $3)",
            old.id,
            old.type.value,
            db.RawJson(old.model_dump_json()),
        )
        await outbox.add(conn, [new])
    async with relayed_once(isolation, schema, "apikey.*", expected=2) as messages:
        seen = {
            message.message_id: (
                message.correlation_id,
                message.app_id,
                message.timestamp,
                message.headers["key"],
                message.headers["version"],
            )
            for message in messages
        }
    # The properties are the envelope's, whichever way the row was written.
    assert seen == {
        str(e.id): (
            e.correlation_id,
            e.producer,
            e.occurred_at.replace(microsecond=0),
            e.key,
            e.version,
        )
        for e in (old, new)
    }


async def test_big_and_small_writes_and_rows_without_headers_publish_alike(isolation, schema):
    """Big writes go by COPY, small ones by one INSERT, and rows written before the outbox
    kept the headers have them read off the body: the same bodies and headers come out."""
    contract_id = uuid.uuid4()
    big = [
        worklogs_event(*[False] * 999, True, contract_id=contract_id),
        worklogs_event(*[False] * 1000, contract_id=contract_id),
    ]
    small = [worklogs_event(True), worklogs_event(False)]
    before_headers = [worklogs_event(True), worklogs_event(False)]
    size = lambda events: sum(len(e.to_json()) for e in events)  # noqa: E731
    assert size(big) > outbox._COPY_FROM_BYTES > size(small)
    async with schema.acquire() as conn, conn.transaction():
        for events in (big, small, before_headers):
            await outbox.add(conn, events)
        await conn.execute(
            "UPDATE outbox SET headers = NULL WHERE id = any($1::uuid[])",
            [e.id for e in before_headers],
        )
    events = [*big, *small, *before_headers]
    async with relayed_once(isolation, schema, "worklog.*", expected=len(events)) as messages:
        seen = {m.message_id: (m.body, m.headers["outside_dates"]) for m in messages}
    assert seen == {
        str(e.id): (e.to_json(), any(w["outside_dates"] for w in e.data["worklogs"]))
        for e in events
    }


@contextlib.asynccontextmanager
async def relayed_once(isolation, schema, routing_key, *, expected):
    """One relay round into a queue bound to ``routing_key``: the messages it got."""
    connection = await aio_pika.connect(isolation.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        topology = bus.Topology(isolation.amqp_prefix, "probe", 3, 0.05)
        exchange = await bus.declare_exchange(channel, topology)
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchange, routing_key=routing_key)
        metrics = ServiceMetrics("test")
        relay = outbox.OutboxRelay(
            schema, bus.Publisher(exchange, 16, metrics), metrics, batch_size=50, poll_seconds=0.1
        )
        assert await relay.relay_once() == expected
        yield [await _get(queue) for _ in range(expected)]
    finally:
        await connection.close()


async def _get(queue):
    for _ in range(100):
        message = await queue.get(no_ack=True, fail=False)
        if message is not None:
            return message
        await asyncio.sleep(0.05)
    raise AssertionError("no message")


async def test_rolled_back_transaction_publishes_nothing(schema):
    with pytest.raises(RuntimeError):
        async with schema.acquire() as conn, conn.transaction():
            await outbox.add(conn, [revoked()])
            raise RuntimeError("business rule failed")
    async with schema.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0


async def test_a_statement_and_its_events_are_written_in_one_go_only_if_it_returned_a_row(
    schema,
):
    async with schema.acquire() as conn:
        await conn.execute("CREATE TABLE things (name text PRIMARY KEY)")
        insert = "INSERT INTO things VALUES ($1) ON CONFLICT DO NOTHING RETURNING name"
        listener_woken = asyncio.Event()
        payloads = []

        def wake(_conn, _pid, _channel, payload):
            payloads.append(payload)
            listener_woken.set()

        # The channel is the service's (its schema's): other services' relays sleep on.
        channel = await outbox.notify_channel(conn)
        assert channel.endswith(await conn.fetchval("SELECT current_schema()"))
        await conn.add_listener(channel, wake)
        async with schema.acquire() as writer:
            first = await outbox.fetchrow_with(writer, insert, ["a"], [revoked(1), revoked(2)])
            again = await outbox.fetchrow_with(writer, insert, ["a"], [revoked(3)])
        assert dict(first) == {"name": "a"} and again is None
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 2
        await asyncio.wait_for(listener_woken.wait(), 5)
        assert payloads == [outbox.PROCESS_TOKEN]
        await conn.remove_listener(channel, wake)
        # Failing, the statement writes nothing at all (it is its own transaction).
        with pytest.raises(asyncpg.NotNullViolationError):
            await outbox.fetchrow_with(conn, insert, [None], [revoked(4)])
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 2


class Consumed:
    def __init__(self):
        self.calls = []
        self.fail_times = 0
        #: events whose first attempt fails (after writing, so the rollback is tested too)
        self.fail_once = set()

    async def handle(self, conn, envelope, payload):
        self.calls.append(envelope.id)
        if self.fail_times:
            self.fail_times -= 1
            raise RuntimeError("handler bug")
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS effects (
                   id uuid PRIMARY KEY, tx bigint NOT NULL, synchronous_commit text NOT NULL)"""
        )
        await conn.execute(
            "INSERT INTO effects VALUES ($1, txid_current(), current_setting('synchronous_commit'))",
            envelope.id,
        )
        if envelope.id in self.fail_once:
            self.fail_once.discard(envelope.id)
            raise RuntimeError("handler bug after its write")


def probe_consumer(channel, schema, topology, consumed, metrics, **options):
    return bus.Consumer(
        pool=schema,
        channel=channel,
        topology=topology,
        handlers={EventType.APIKEY_REVOKED: consumed.handle},
        metrics=metrics,
        batch_size=16,
        linger_seconds=0.05,
        **options,
    )


# Every consumer test runs both ways: acked after a synchronous commit, and committed without
# waiting for the disk, then acked after the flush (what reporting does).
@pytest.fixture(params=[False, True], ids=["ack-after-commit", "ack-after-flush"])
async def consumer_setup(request, isolation, schema):
    connection = await aio_pika.connect_robust(isolation.amqp_url)
    topology = bus.Topology(isolation.amqp_prefix, "probe", 3, 0.05)
    consumed = Consumed()
    metrics = ServiceMetrics("test")
    consumer = probe_consumer(
        await connection.channel(),
        schema,
        topology,
        consumed,
        metrics,
        ack_after_flush=request.param,
    )
    await consumer.start(prefetch=10)
    publish_channel = await connection.channel()
    exchange = await bus.declare_exchange(publish_channel, topology)
    yield consumed, exchange, topology, connection, metrics
    await consumer.stop()
    await connection.close()
    async with schema.acquire() as conn:
        if await conn.fetchval("SELECT to_regclass('effects') IS NOT NULL"):
            modes = await conn.fetchval(
                "SELECT array_agg(DISTINCT synchronous_commit) FROM effects"
            )
            assert modes == (["off"] if request.param else ["on"])


async def effects(pool):
    async with pool.acquire() as conn:
        exists = await conn.fetchval("SELECT to_regclass('effects') IS NOT NULL")
        return await conn.fetchval("SELECT count(*) FROM effects") if exists else 0


def consumed_count(metrics, kind, status):
    value = metrics.registry.get_sample_value(
        "burnrate_test_messages_consumed_total", {"type": kind, "status": status}
    )
    return value or 0


async def test_redelivered_event_has_one_effect(consumer_setup, schema):
    consumed, exchange, *_, metrics = consumer_setup
    event = revoked()
    for _ in range(3):
        await exchange.publish(bus.to_message(event), routing_key=event.type.value)

    async def handled_three_times():
        return consumed_count(metrics, "apikey.revoked", "duplicate") == 2

    await eventually(handled_three_times)
    assert await effects(schema) == 1
    assert consumed.calls == [event.id]


async def test_a_batch_commits_together_and_a_failing_message_is_retried_alone(
    consumer_setup, schema
):
    consumed, exchange, *_, metrics = consumer_setup
    events = [revoked(n) for n in range(40)]
    consumed.fail_once = {events[5].id, events[30].id}
    for event in events:
        await exchange.publish(bus.to_message(event), routing_key=event.type.value)

    async def all_applied():
        return await effects(schema) == 40

    await eventually(all_applied, timeout=10)
    async with schema.acquire() as conn:
        transactions = await conn.fetchval("SELECT count(DISTINCT tx) FROM effects")
    # Prefetched messages share transactions; the failed two came back through the retry queue.
    assert transactions < 40 - 2
    assert consumed_count(metrics, "apikey.revoked", "failed") == 2
    assert consumed_count(metrics, "apikey.revoked", "success") == 40
    assert sorted(map(str, consumed.calls)) == sorted(
        [str(e.id) for e in events] + [str(events[5].id), str(events[30].id)]
    )


async def test_acked_after_flush_only_once_the_flush_is_done(isolation, schema):
    """Committed without waiting for the disk, a batch is visible at once but its messages
    stay unacked until the flush: a consumer stopped before it gives them back, and the
    next one finds them handled (the inbox) and acks them after its own flush."""
    connection = await aio_pika.connect_robust(isolation.amqp_url)
    topology = bus.Topology(isolation.amqp_prefix, "probe", 3, 0.05)
    consumed, metrics = Consumed(), ServiceMetrics("test")
    flush_allowed = asyncio.Event()

    async def held_flush(conn):
        await flush_allowed.wait()
        await bus.flush_wal(conn)

    held_channel = await connection.channel()
    held = probe_consumer(
        held_channel, schema, topology, consumed, metrics, ack_after_flush=True, flush=held_flush
    )
    await held.start(prefetch=10)
    exchange = await bus.declare_exchange(await connection.channel(), topology)
    events = [revoked(n) for n in range(3)]
    for event in events:
        await exchange.publish(bus.to_message(event), routing_key=event.type.value)
    await eventually(lambda: _effects_are(schema, 3))
    await held.stop()  # before the flush: the channel closes with the three unacked
    await held_channel.close()

    queue_channel = await connection.channel()
    await eventually(lambda: _ready_is(queue_channel, topology, 3))
    flushing_channel = await connection.channel()
    flushing = probe_consumer(
        flushing_channel, schema, topology, consumed, metrics, ack_after_flush=True
    )
    await flushing.start(prefetch=10)
    await eventually(lambda: _consumed_is(metrics, "duplicate", 3))
    await flushing.stop()
    await flushing_channel.close()
    assert await _ready_is(queue_channel, topology, 0)  # acked: nothing came back
    assert await effects(schema) == 3
    assert consumed.calls == [e.id for e in events]
    await connection.close()


async def test_a_flush_after_its_connection_ended_acks_nothing(isolation, schema):
    """A crash of PostgreSQL between a commit that did not wait and the flush may lose the
    commit, and ends every connection: a flush that finds its connection gone (here ended
    by pg_terminate_backend, as a crash would) vouches for nothing, and the batch goes back
    to the broker; delivered again, the inbox finds it handled, and it is acked then."""
    connection = await aio_pika.connect_robust(isolation.amqp_url)
    topology = bus.Topology(isolation.amqp_prefix, "probe", 3, 0.05)
    consumed, metrics = Consumed(), ServiceMetrics("test")
    flush_allowed, ended = asyncio.Event(), []

    async def flush_after_a_crash(conn):
        await flush_allowed.wait()
        if not ended:  # the first flush only
            async with schema.acquire() as admin:
                ended.append(
                    await admin.fetchval("SELECT pg_terminate_backend($1)", conn.get_server_pid())
                )
        await bus.flush_wal(conn)

    channel = await connection.channel()
    consumer = probe_consumer(
        channel,
        schema,
        topology,
        consumed,
        metrics,
        ack_after_flush=True,
        flush=flush_after_a_crash,
    )
    await consumer.start(prefetch=10)
    try:
        exchange = await bus.declare_exchange(await connection.channel(), topology)
        events = [revoked(n) for n in range(3)]
        for event in events:
            await exchange.publish(bus.to_message(event), routing_key=event.type.value)
        await eventually(lambda: _effects_are(schema, 3))
        flush_allowed.set()

        await eventually(lambda: _consumed_is(metrics, "duplicate", 3))
        assert ended == [True]
        queue_channel = await connection.channel()
        await eventually(lambda: _ready_is(queue_channel, topology, 0))
        assert await effects(schema) == 3
        assert consumed.calls == [e.id for e in events]
        # The first handling was never acked (settled as a success); the second was.
        assert consumed_count(metrics, "apikey.revoked", "success") == 0
    finally:
        await consumer.stop()
        await channel.close()
        await connection.close()


async def test_flush_wal_makes_earlier_commits_durable(schema):
    """What ack_after_flush relies on: after ``flush_wal`` the WAL is on disk past every
    commit made before it, also one made without waiting (an xid alone would not flush)."""
    async with schema.acquire() as conn:
        await conn.execute("CREATE TABLE flushed (n int)")
        for _ in range(3):
            async with conn.transaction():
                await conn.execute("SET LOCAL synchronous_commit = off")
                await conn.execute("INSERT INTO flushed SELECT generate_series(1, 1000)")
            committed = await conn.fetchval("SELECT pg_current_wal_insert_lsn()::text")
            async with schema.acquire() as other:
                await bus.flush_wal(other)
            behind = await conn.fetchval(
                "SELECT pg_wal_lsn_diff($1::text::pg_lsn, pg_current_wal_flush_lsn())", committed
            )
            assert behind <= 0


async def _effects_are(pool, n):
    return await effects(pool) == n


async def _ready_is(channel, topology, n):
    underlay = await channel.get_underlay_channel()
    return (await underlay.queue_declare(topology.queue, passive=True)).message_count == n


async def _consumed_is(metrics, status, n):
    return consumed_count(metrics, "apikey.revoked", status) == n


async def test_failing_handler_is_retried_then_succeeds(consumer_setup, schema):
    consumed, exchange, *_ = consumer_setup
    consumed.fail_times = 2
    event = revoked()
    await exchange.publish(bus.to_message(event), routing_key=event.type.value)
    await eventually(lambda: effects(schema), timeout=10)
    assert consumed.calls == [event.id] * 3


async def test_poison_and_unparseable_messages_are_dead_lettered_and_replayable(
    consumer_setup, schema
):
    consumed, exchange, topology, connection, metrics = consumer_setup
    consumed.fail_times = 3  # max_attempts is 3: the third failure dead-letters
    event = revoked()
    await exchange.publish(bus.to_message(event), routing_key=event.type.value)
    await exchange.publish(
        aio_pika.Message(b"{not json", type="apikey.revoked"), routing_key="apikey.revoked"
    )
    channel = await connection.channel()

    async def depth():
        return await bus.dead_letter_depth(channel, topology) == 2

    await eventually(depth, timeout=10)
    assert await effects(schema) == 0
    assert consumed_count(metrics, "apikey.revoked", "dead_lettered") == 2

    # After the fix, a replay delivers it again; the garbage goes back to the dead letters.
    assert await bus.replay_dead_letters(channel, topology) == 2
    await eventually(lambda: effects(schema), timeout=10)
    await eventually(lambda: _depth_is(channel, topology, 1), timeout=10)


async def _depth_is(channel, topology, n):
    return await bus.dead_letter_depth(channel, topology) == n


async def test_unknown_event_types_are_acked_and_counted(consumer_setup):
    consumed, exchange, topology, connection, metrics = consumer_setup
    queue_channel = await connection.channel()
    queue = await queue_channel.declare_queue(topology.queue, passive=True)
    # Bind an extra key the consumer has no handler for.
    await queue.bind(exchange, routing_key="customer.created")
    from burnrate_common.events import CustomerChanged

    event = new_event(
        EventType.CUSTOMER_CREATED,
        CustomerChanged(id=uuid.uuid4(), name="x", contacts=[]),
        key="c",
        producer="test",
    )
    await exchange.publish(bus.to_message(event), routing_key="customer.created")

    async def ignored():
        return consumed_count(metrics, "customer.created", "ignored") == 1

    await eventually(ignored)
    assert consumed.calls == []


async def test_migrations_from_two_replicas_at_once_apply_once(isolation):
    schema_name = f"race_{isolation.suffix}"
    migrations = [
        db.Migration("t/0001", "CREATE TABLE t (id int PRIMARY KEY)"),
        db.Migration("t/0002", "INSERT INTO t VALUES (1)"),
    ]
    results = await asyncio.gather(
        *(db.migrate(isolation.database_url, schema_name, migrations) for _ in range(3))
    )
    assert sorted(len(r) for r in results) == [0, 0, 2]
    conn = await asyncpg.connect(isolation.database_url)
    try:
        assert await conn.fetchval(f"SELECT count(*) FROM {schema_name}.t") == 1
    finally:
        await conn.close()
    changed = [migrations[0], db.Migration("t/0002", "INSERT INTO t VALUES (2)")]
    with pytest.raises(RuntimeError, match="changed after it was applied"):
        await db.migrate(isolation.database_url, schema_name, changed)


@contextlib.asynccontextmanager
async def worklog_consumer(isolation, schema, handle, trim):
    """A consumer of ``worklog.recorded`` with ``trim``; yields the exchange and its metrics."""
    connection = await aio_pika.connect_robust(isolation.amqp_url)
    topology = bus.Topology(isolation.amqp_prefix, "probe", 3, 0.05)
    metrics = ServiceMetrics("test")
    consumer = bus.Consumer(
        pool=schema,
        channel=await connection.channel(),
        topology=topology,
        handlers={EventType.WORKLOG_RECORDED: handle},
        metrics=metrics,
        trims={EventType.WORKLOG_RECORDED: trim},
    )
    await consumer.start(prefetch=10)
    try:
        yield await bus.declare_exchange(await connection.channel(), topology), metrics
    finally:
        await consumer.stop()
        await connection.close()


async def test_a_trim_drops_what_the_service_ignores_before_it_is_validated(isolation, schema):
    def outside_only(envelope):
        worklogs = [w for w in envelope.data["worklogs"] if w.get("outside_dates")]
        if not worklogs:
            return None
        return envelope.model_copy(update={"data": {**envelope.data, "worklogs": worklogs}})

    received = []

    async def handle(conn, envelope, payload):
        received.append(payload)

    trim = bus.Trim(outside_only)
    async with worklog_consumer(isolation, schema, handle, trim) as (exchange, metrics):
        event = worklogs_event(True)
        [outside] = event.data["worklogs"]
        # A worklog inside the dates, incomplete: it would fail validation were it not dropped.
        inside = {"id": str(uuid.uuid4()), "outside_dates": False}
        data = {**event.data, "worklogs": [inside, outside]}
        message = bus.to_message(event.model_copy(update={"data": data}))
        # Trimmed to nothing: acked without a transaction, no handler, no inbox row.
        only_inside = event.model_copy(
            update={"id": uuid.uuid4(), "data": {**event.data, "worklogs": [inside]}}
        )
        await exchange.publish(bus.to_message(only_inside), routing_key=event.type.value)
        await exchange.publish(message, routing_key=event.type.value)

        async def handled():
            return bool(received)

        await eventually(handled, timeout=10)
        [payload] = received
        assert [str(w.id) for w in payload.worklogs] == [outside["id"]]
        assert consumed_count(metrics, event.type.value, "trimmed") == 1

        async def committed():
            # The handler ran inside the transaction: its inbox row shows once that commits.
            async with schema.acquire() as conn:
                return await conn.fetchval("SELECT count(*) FROM inbox") == 1

        await eventually(committed, timeout=10)


async def test_a_trim_where_has_the_broker_deliver_only_the_matching_events(isolation, schema):
    parsed, received = [], []

    def keep(envelope):
        parsed.append(envelope.id)
        return envelope

    async def handle(conn, envelope, payload):
        received.append(envelope.id)

    # The queue as an earlier version left it: bound to every worklog.recorded directly.
    connection = await aio_pika.connect(isolation.amqp_url)
    async with connection:
        topology = bus.Topology(isolation.amqp_prefix, "probe", 3, 0.05)
        await bus.declare_consumer_queues(
            await connection.channel(), topology, [EventType.WORKLOG_RECORDED.value]
        )
    trim = bus.Trim(keep, where={"outside_dates": True})
    async with worklog_consumer(isolation, schema, handle, trim) as (exchange, metrics):
        contract_id = uuid.uuid4()
        inside = worklogs_event(False, contract_id=contract_id)
        outside = worklogs_event(True, contract_id=contract_id)
        for event in (inside, outside):
            await exchange.publish(bus.to_message(event), routing_key=event.type.value)

        async def handled():
            return bool(received)

        await eventually(handled, timeout=10)
        await asyncio.sleep(0.3)  # an undue delivery (direct binding left) would be in by now
        # The event inside the dates never reached the service; the other came once.
        assert (parsed, received) == ([outside.id], [outside.id])
        assert consumed_count(metrics, outside.type.value, "trimmed") == 0


async def test_a_new_pool_connection_needs_no_type_lookup_for_our_array_types(isolation, schema):
    """asyncpg looks an array type up on first use, per connection (~12 ms); the pool's
    connections have done that for all of ours when they open."""
    query = "SELECT $1::uuid[], $2::date[], $3::timestamptz[], $4::bigint[], $5::numeric[]"
    args = ([uuid.uuid4()], [], [], [1], [])

    async def queries_run(conn) -> list[str]:
        run: list[str] = []
        with conn.query_logger(lambda logged: run.append(logged.query)):
            await conn.fetchrow(query, *args)
        await asyncio.sleep(0)  # asyncpg calls the loggers soon after, not at once
        return run

    plain = await asyncpg.connect(isolation.database_url)
    try:
        assert len(await queries_run(plain)) > 1  # the lookup, then the query
    finally:
        await plain.close()
    async with schema.acquire() as conn:
        assert await queries_run(conn) == [query]
