"""Outbox relay throughput against a baseline measured in the same run.

Baseline: the same events published straight to RabbitMQ with confirms (same window),
no database. Then: the events written to an outbox table (one COPY) and relayed by
``OutboxRelay`` until none is left. Prints events/s for both and the ratio.

    uv run python bench/outbox.py [--events 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import aio_pika
import asyncpg
from burnrate_common import bus, db, outbox
from burnrate_common.events import ApiKeyRevoked, EventType, new_event
from burnrate_common.metrics import ServiceMetrics
from burnrate_common.settings import ServiceSettings


async def main(count: int, window: int, batch: int) -> None:
    settings = ServiceSettings()
    dsn = settings.database_url
    await db.ensure_database(dsn)
    tag = uuid.uuid4().hex[:8]
    schema, prefix = f"bench_outbox_{tag}", f"bench-{tag}"
    await db.migrate(dsn, schema, db.load_migrations("burnrate_common", "common"))
    pool = await db.create_pool(dsn, schema)
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        topology = bus.Topology(prefix, "bench", 3, 1.0)
        exchange = await bus.declare_exchange(channel, topology)
        sink = await channel.declare_queue(
            f"{prefix}.sink", durable=True, arguments={"x-queue-type": "quorum"}
        )
        await sink.bind(exchange, "#")
        metrics = ServiceMetrics("bench")
        publisher = bus.Publisher(exchange, window, metrics)

        events = [
            new_event(
                EventType.APIKEY_REVOKED,
                ApiKeyRevoked(id=uuid.uuid4()),
                key=str(n % 1000),
                producer="bench",
            )
            for n in range(count)
        ]
        started = time.perf_counter()
        await publisher.publish_all(events)
        baseline = count / (time.perf_counter() - started)

        started = time.perf_counter()
        async with pool.acquire() as conn, conn.transaction():
            await outbox.add(conn, events)
        written = count / (time.perf_counter() - started)

        relay = outbox.OutboxRelay(pool, publisher, metrics, batch_size=batch, poll_seconds=1)
        started = time.perf_counter()
        relayed = 0
        while n := await relay.relay_once():
            relayed += n
        rate = relayed / (time.perf_counter() - started)
        print(f"events                         {count}")
        print(f"baseline: direct publish       {baseline:10.0f} events/s")
        print(f"outbox.add (COPY, one txn)     {written:10.0f} events/s")
        print(f"outbox relay                   {rate:10.0f} events/s")
        print(f"relay / baseline               {rate / baseline:10.2f}")
        await channel.queue_delete(sink.name)
        await channel.exchange_delete(topology.exchange)
    finally:
        await connection.close()
        await pool.close()
        conn = await asyncpg.connect(dsn)
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--window", type=int, default=256)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.window, args.batch))
