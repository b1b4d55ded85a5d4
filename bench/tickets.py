"""Service-level alerts at scale: 100,000 open tickets over 10,000 contracts.

Load: straight into the tickets service's tables by binary ``COPY`` (contracts replica,
tickets, the ``due_stages`` schedule), not through the API or the bus: this measures the
timer, not the intake. Every contract has one level on office hours (Europe/Amsterdam,
08:00-18:00 Mon-Fri, NL holidays) with P3 targets of 4 and 30 business hours, and a P1
resolution target of 1 minute round the clock for the tickets that fall due during the run.
The open P3 tickets ("background") are scheduled days ahead: they never fall due here.

1. **A timer round costs what falls due, not what is open.** In two schemas, one with
   ``--small`` open tickets (default 10,000) and one with ``--open`` (default 100,000),
   ``--due`` of them (default 1,000) have their 50 % stage due; one round of the timer
   (``stages.tick``, in-process, on a fixed clock) fires them. Rounds alternate between
   the schemas (small, large, small, large...) ``--runs`` times, the state restored
   between rounds. The baseline is the round among the small population; printed: the
   rounds' medians, the ratio large / small (1.0: the open tickets cost nothing), and the
   round with a tenth as many due among the large population (per ticket due, it should
   cost about the same).
2. **Alerts fire within 1 s of their due instant.** The service runs as a process on the
   large schema (real clock, default settings). ``--alerts`` tickets (default 2,000) get
   their 50 % stage at instants spread over ``--spread`` seconds (default 30); each then
   reaches 75 % and breaches 15 and 30 s later, so 3 events each. A consumer on the
   broker takes every ``sla.*`` event and notes when it arrived; the latency of an event
   is that instant minus the instant its stage was reached (``reached_at``). Printed:
   events received of expected, p50, p99 and max latency, and the share within 1 s.

    uv run python bench/tickets.py [--open 100000] [--contracts 10000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import httpx
from burnrate_common import db
from burnrate_common.clock import FixedClock
from burnrate_common.contract_terms import Calendar, ServiceLevelTerms, Target, WorkingHours
from burnrate_common.events import Envelope
from burnrate_common.runtime import migrate
from burnrate_testing import delete_broker_objects
from burnrate_tickets.bootstrap import build
from burnrate_tickets.service import Deps, stages
from burnrate_tickets.settings import TicketsSettings

KEY = "bench-admin-key"
LINK_SECRET = "bench-link-secret"  # noqa: S105 - a throwaway schema's
OFFICE = Calendar(
    name="office hours",
    timezone="Europe/Amsterdam",
    hours=[WorkingHours(weekday=d, start=dt.time(8), end=dt.time(18)) for d in range(1, 6)],
    holiday_country="NL",
)
LEVEL = ServiceLevelTerms(
    level="bench",
    effective_from=dt.date(2020, 1, 1),
    targets=[
        Target(metric="resolution", priority="P1", minutes=1, calendar="24x7"),
        Target(metric="first_response", priority="P3", minutes=4 * 60),
        Target(metric="resolution", priority="P3", minutes=30 * 60),
    ],
    calendar=OFFICE,
)
LEVEL_JSON = db.RawJson(json.dumps(LEVEL.model_dump(mode="json")))
TARGET = dt.timedelta(minutes=1)  # the P1 resolution target: stages at 30, 45 and 60 s
FAR = dt.timedelta(days=10)


def contract_id(n: int) -> uuid.UUID:
    return uuid.UUID(f"10000000-0000-4000-8000-{n:012x}")


async def load(conn: asyncpg.Connection, contracts: int, background: int, now: dt.datetime) -> None:
    """``contracts`` contracts and ``background`` open P3 tickets, by COPY."""
    await conn.copy_records_to_table(
        "contracts",
        columns=[
            "id",
            "customer_id",
            "code",
            "timezone",
            "start_date",
            "end_date",
            "lifecycle",
            "service_levels",
            "changed_at",
        ],
        records=[
            (
                contract_id(n),
                uuid.UUID(f"00000000-0000-4000-8000-{n % 2000:012x}"),
                f"C-{n:06d}",
                "Europe/Amsterdam",
                dt.date(2020, 1, 1),
                dt.date(2030, 12, 31),
                "active",
                db.RawJson(f"[{LEVEL_JSON}]"),
                now,
            )
            for n in range(contracts)
        ],
    )
    ids = [uuid.uuid4() for _ in range(background)]
    await copy_tickets(conn, ids, contracts, "P3", [now - dt.timedelta(hours=1)] * background)
    rows = []
    for ticket in ids:
        rows.append((ticket, "first_response", 1, 50, now + FAR))
        rows.append((ticket, "resolution", 1, 50, now + FAR))
    await copy_due(conn, rows)
    await conn.execute("ANALYZE")


async def copy_tickets(
    conn: asyncpg.Connection,
    ids: list[uuid.UUID],
    contracts: int,
    priority: str,
    opened: list[dt.datetime],
) -> None:
    await conn.copy_records_to_table(
        "tickets",
        columns=[
            "id",
            "source",
            "external_id",
            "reference",
            "contract_id",
            "customer_id",
            "attribution",
            "opening_priority",
            "priority",
            "status",
            "status_kind",
            "level",
            "level_terms",
            "opened_at",
            "announced",
        ],
        records=[
            (
                ticket,
                "bench",
                ticket.hex,
                f"B-{ticket.hex[:8]}",
                contract_id(n % contracts),
                uuid.UUID(f"00000000-0000-4000-8000-{n % contracts % 2000:012x}"),
                "attributed",
                priority,
                priority,
                "open",
                "active",
                "bench",
                LEVEL_JSON,
                at,
                True,
            )
            for n, (ticket, at) in enumerate(zip(ids, opened, strict=True))
        ],
    )


async def copy_due(conn: asyncpg.Connection, rows: list[tuple[Any, ...]]) -> None:
    await conn.copy_records_to_table(
        "due_stages", columns=["ticket_id", "metric", "cycle", "stage", "due_at"], records=rows
    )


# --- 1: a round's cost ------------------------------------------------------------------


class Population:
    """``count`` P1 tickets opened 40 s before ``now``: their 50 % stage (30 s) is due."""

    def __init__(self, count: int, contracts: int, now: dt.datetime) -> None:
        self.ids = [uuid.uuid4() for _ in range(count)]
        self.contracts = contracts
        self.opened = now - dt.timedelta(seconds=40)

    async def insert(self, conn: asyncpg.Connection) -> None:
        await copy_tickets(conn, self.ids, self.contracts, "P1", [self.opened] * len(self.ids))

    async def arm(self, conn: asyncpg.Connection, count: int) -> None:
        """Restore the state before a round: ``count`` of them due, nothing fired."""
        await conn.execute("DELETE FROM fired_stages WHERE ticket_id = any($1::uuid[])", self.ids)
        await conn.execute("DELETE FROM due_stages WHERE ticket_id = any($1::uuid[])", self.ids)
        await conn.execute("TRUNCATE outbox")
        due = self.opened + TARGET / 2
        await copy_due(conn, [(t, "resolution", 1, 50, due) for t in self.ids[:count]])

    async def remove(self, conn: asyncpg.Connection) -> None:
        await conn.execute("DELETE FROM tickets WHERE id = any($1::uuid[])", self.ids)
        await conn.execute("TRUNCATE outbox")


async def round_cost(
    pools: dict[str, asyncpg.Pool],
    settings: dict[str, TicketsSettings],
    contracts: int,
    due: int,
    runs: int,
    now: dt.datetime,
) -> dict[str, list[float]]:
    clock = FixedClock(now)
    populations = {name: Population(due, contracts, now) for name in pools}
    for name, pool in pools.items():
        async with pool.acquire() as conn:
            await populations[name].insert(conn)
            await conn.execute("ANALYZE")
    samples: dict[str, list[float]] = {"small": [], "large": [], "large_tenth": []}
    plan = [("small", due), ("large", due), ("large", due // 10)]
    for _ in range(runs):
        for name, count in plan:
            pool = pools[name]
            async with pool.acquire() as conn:
                await populations[name].arm(conn, count)
            deps = Deps(clock=clock, settings=settings[name])
            started = time.perf_counter()
            fired = await stages.tick(pool, deps)
            elapsed = time.perf_counter() - started
            assert fired == count, (name, fired, count)
            samples[name if count == due else "large_tenth"].append(elapsed)
    for name, pool in pools.items():
        async with pool.acquire() as conn:
            await populations[name].remove(conn)
    return samples


# --- 2: alert latency -------------------------------------------------------------------


def start_service(settings: TicketsSettings, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "BURNRATE_DATABASE_URL": settings.database_url,
        "BURNRATE_DATABASE_SCHEMA": settings.db_schema,
        "BURNRATE_AMQP_URL": settings.amqp_url,
        "BURNRATE_AMQP_PREFIX": settings.amqp_prefix,
        "BURNRATE_BOOTSTRAP_API_KEY": KEY,
        "BURNRATE_REPORT_LINK_SECRET": LINK_SECRET,
        "BURNRATE_TICKETS_PORT": str(port),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "burnrate_tickets", "serve"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


async def wait_ready(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 120
    async with httpx.AsyncClient(timeout=2) as client:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"tickets exited; its log: {log}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError("tickets not ready within 120 s")
            await asyncio.sleep(0.2)


class Listener:
    """Every ``sla.*`` event on the broker, with the wall-clock instant it arrived."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, Envelope]] = []

    async def start(self, amqp_url: str, prefix: str) -> aio_pika.abc.AbstractConnection:
        connection = await aio_pika.connect(amqp_url)
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=1000)
        exchange = await channel.declare_exchange(
            f"{prefix}.events", aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key="sla.*")

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            arrived = time.time()
            async with message.process():
                self.arrivals.append((arrived, Envelope.model_validate_json(message.body)))

        await queue.consume(on_message)
        return connection


async def alert_latency(
    pool: asyncpg.Pool,
    settings: TicketsSettings,
    contracts: int,
    alerts: int,
    spread: float,
    log_dir: Path,
) -> tuple[list[float], int]:
    port = free_port()
    log = log_dir / "tickets.log"
    listener = Listener()
    connection = await listener.start(settings.amqp_url, settings.amqp_prefix)
    process = start_service(settings, port, log)
    try:
        await wait_ready(process, port, log)
        # the first 50 % stage 5 s from now, the last ``spread`` s later
        start = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
        rng = random.Random(22)  # noqa: S311 - instants, not secrets
        ids = [uuid.uuid4() for _ in range(alerts)]
        firsts = [start + dt.timedelta(seconds=rng.uniform(0, spread)) for _ in ids]
        async with pool.acquire() as conn, conn.transaction():
            await copy_tickets(conn, ids, contracts, "P1", [at - TARGET / 2 for at in firsts])
            await copy_due(
                conn, [(t, "resolution", 1, 50, at) for t, at in zip(ids, firsts, strict=True)]
            )
        expected = 3 * alerts
        deadline = time.monotonic() + 5 + spread + TARGET.total_seconds() / 2 + 10
        while len(listener.arrivals) < expected and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.5)
        mine = {str(t) for t in ids}
        latencies = [
            arrived - dt.datetime.fromisoformat(envelope.data["reached_at"]).timestamp()
            for arrived, envelope in listener.arrivals
            if envelope.data["ticket_id"] in mine
        ]
        return latencies, expected
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        await connection.close()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def quantile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main(args: argparse.Namespace) -> None:
    tag = uuid.uuid4().hex[:8]
    prefix = f"bench-{tag}"
    settings = {
        name: TicketsSettings(
            database_schema=f"bench_tickets_{name}_{tag}",
            amqp_prefix=prefix,
            bootstrap_api_key=KEY,
            report_link_secret=LINK_SECRET,
        )
        for name in ("small", "large")
    }
    dsn = settings["large"].database_url
    await db.ensure_database(dsn)
    pools: dict[str, asyncpg.Pool] = {}
    figures: dict[str, Any] = {}
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    try:
        for name, size in (("small", args.small), ("large", args.open)):
            await migrate(build(settings[name]))
            pools[name] = await db.create_pool(dsn, settings[name].db_schema)
            started = time.perf_counter()
            async with pools[name].acquire() as conn:
                await load(conn, args.contracts, size - args.due, now)
            took = time.perf_counter() - started
            print(
                f"loaded {args.contracts} contracts and {size - args.due} open tickets "
                f"by COPY into {name} in {took:.1f} s"
            )
        samples = await round_cost(pools, settings, args.contracts, args.due, args.runs, now)
        small, large = statistics.median(samples["small"]), statistics.median(samples["large"])
        tenth = statistics.median(samples["large_tenth"])
        figures["round"] = {
            "due": args.due,
            "small_open": args.small,
            "large_open": args.open,
            "small_ms": small * 1000,
            "large_ms": large * 1000,
            "ratio_large_small": large / small,
            "tenth_due_ms": tenth * 1000,
            "per_due_ms_large": large * 1000 / args.due,
            "per_due_ms_tenth": tenth * 1000 / (args.due // 10),
        }
        print(f"\n1. a timer round, {args.due} due, median of {args.runs} interleaved rounds")
        print(f"   among {args.small:>7} open (baseline) {ms(small)}")
        print(f"   among {args.open:>7} open            {ms(large)}")
        print(f"   large / baseline                  {large / small:8.2f}")
        print(
            f"   {args.due // 10} due among {args.open} open     {ms(tenth)}"
            f"   ({tenth * 1000 / (args.due // 10):.2f} ms per ticket due, "
            f"{large * 1000 / args.due:.2f} with {args.due})"
        )
        with tempfile.TemporaryDirectory(prefix="bench-tickets-") as log_dir:
            latencies, expected = await alert_latency(
                pools["large"],
                settings["large"],
                args.contracts,
                args.alerts,
                args.spread,
                Path(log_dir),
            )
        within = sum(1 for x in latencies if x <= 1.0) / max(1, len(latencies))
        figures["alerts"] = {
            "open": args.open,
            "expected": expected,
            "received": len(latencies),
            "p50_ms": statistics.median(latencies) * 1000 if latencies else None,
            "p99_ms": quantile(latencies, 0.99) * 1000 if latencies else None,
            "max_ms": max(latencies) * 1000 if latencies else None,
            "within_1s": within,
        }
        print(f"\n2. alerts among {args.open} open: {args.alerts} tickets over {args.spread:.0f} s")
        print(f"   sla.* events received             {len(latencies)} of {expected}")
        if latencies:
            print(f"   due instant to the broker, p50    {ms(statistics.median(latencies))}")
            print(f"   p99                               {ms(quantile(latencies, 0.99))}")
            print(f"   max                               {ms(max(latencies))}")
            print(f"   within 1 s                        {within * 100:8.2f} %")
        print("\ngoals: p99 under 1 s; large / baseline near 1 (a round costs what falls due)")
        if args.json:
            print(json.dumps(figures, indent=2))
    finally:
        for pool in pools.values():
            await pool.close()
        conn = await asyncpg.connect(dsn)
        for s in settings.values():
            await conn.execute(f'DROP SCHEMA IF EXISTS "{s.db_schema}" CASCADE')
        await conn.close()
        await delete_broker_objects(settings["large"].amqp_url, prefix)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--open", type=int, default=100_000, help="open tickets (large)")
    parser.add_argument("--small", type=int, default=10_000, help="open tickets (baseline)")
    parser.add_argument("--contracts", type=int, default=10_000)
    parser.add_argument("--due", type=int, default=1_000, help="tickets due in a timed round")
    parser.add_argument("--runs", type=int, default=7, help="timed rounds per population")
    parser.add_argument("--alerts", type=int, default=2_000, help="tickets alerting (part 2)")
    parser.add_argument("--spread", type=float, default=30.0, help="seconds they fall due over")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    asyncio.run(main(parser.parse_args()))
