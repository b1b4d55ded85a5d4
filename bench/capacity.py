"""Per-core figures for the capacity plan (docs/operations.md): worklogs per second per
worklog-ingest core, events per second per consumer core, mails per second per notifier.

The seven services run as one process each (``burnrate_devstack.stack``) on a PostgreSQL and a
RabbitMQ node of the bench's own (``burnrate_testing.servers``, other ports), so the CPU of
every process, the servers' included, is its own to read from ``/proc``; mail goes to a local
aiosmtpd sink. A Python process uses one core at most, so CPU seconds of a service process are
core-seconds: "per core" below is units of work divided by the CPU time the process spent on
them. On shared cores that is a steadier figure than a rate, which the run prints too.

1. Batch: ``--worklogs`` worklogs over ``--contracts`` contracts, ``POST /v1/worklogs/batch``
   10,000 at a time (two in flight), none crossing a stage; measured until every service is
   idle again.
2. Single: ``--posts`` single ``POST /v1/worklogs`` (``--clients`` in flight), each one
   ``consumption.recorded`` for rules and reporting; the consumers' CPU per event handled.
3. Mails: one batch that takes every contract past 70 %, 90 % and its hours: alerts, then
   two mails each (owner and customer contact); the notifier's CPU per mail and its rate.

    uv run python bench/capacity.py [--contracts 200] [--worklogs 200000] [--posts 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import re
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from burnrate_common.db import ensure_database
from burnrate_devstack.chaos import (
    API_KEY,
    Client,
    ContractUnderTest,
    Mailbox,
    Plan,
    create_contracts,
    table,
    worklog_body,
)
from burnrate_devstack.stack import SERVICES, Stack
from burnrate_testing.servers import OwnPostgres, OwnRabbitMQ, descendants, free_port

BATCH = 10_000
CONSUMERS = ("worklog-ingest", "rules", "notifier", "reporting", "billing", "tickets")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = os.getloadavg()[0]
    return (
        f"{platform.node()}: {os.cpu_count()} × {model}, {memory:.0f} GiB, "
        f"Python {platform.python_version()}, load average at start {load:.1f}"
    )


def cpu_seconds(pids: list[int]) -> float:
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


class Meter:
    """CPU seconds so far of each service process and of the bench's own servers (all their
    processes; a backend that ends between two readings takes its time with it)."""

    def __init__(self, stack: Stack, postgres: OwnPostgres, broker: OwnRabbitMQ) -> None:
        self._stack, self._postgres, self._broker = stack, postgres, broker

    def read(self) -> dict[str, float]:
        used = {name: cpu_seconds([p.pid]) for name, p in self._stack.processes.items()}
        postmaster = int((self._postgres.data / "postmaster.pid").read_text().split()[0])
        used["postgresql"] = cpu_seconds([postmaster, *descendants(postmaster)])
        process = self._broker._process
        if process is not None:
            used["rabbitmq"] = cpu_seconds([process.pid, *descendants(process.pid)])
        return used


async def consumed(stack: Stack) -> dict[str, float]:
    """Events each consumer took from its queue so far (any outcome), from /metrics."""
    counts = {}
    async with httpx.AsyncClient(timeout=10) as http:
        for service in CONSUMERS:
            text = (await http.get(stack.url(service) + "/metrics")).text
            name = f"burnrate_{service.replace('-', '_')}_messages_consumed_total"
            counts[service] = sum(
                float(m.group(1))
                for m in re.finditer(rf"^{name}\{{[^}}]*\}} ([0-9.e+]+)$", text, re.MULTILINE)
            )
    return counts


async def quiet(stack: Stack, settle: float = 2.0, timeout: float = 900) -> float:
    """Wait until the services are idle (under 5 % of a core for ``settle`` s); seconds waited
    until the last busy second."""
    pids = [p.pid for p in stack.processes.values()]
    started = time.perf_counter()
    last_busy = started
    used = cpu_seconds(pids)
    while time.perf_counter() - started < timeout:
        await asyncio.sleep(0.5)
        now = cpu_seconds(pids)
        if now - used > 0.025:
            last_busy = time.perf_counter()
        elif time.perf_counter() - last_busy >= settle:
            break
        used = now
    return last_busy - started


def now_in_period() -> dt.datetime:
    """An instant of today, an hour ago: in the contracts' current period."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)


async def post_batches(
    http: httpx.AsyncClient, url: str, bodies: list[bytes], in_flight: int = 2
) -> float:
    queue = list(reversed(bodies))

    async def worker() -> None:
        while queue:
            body = queue.pop()
            response = await http.post(
                f"{url}/v1/worklogs/batch",
                content=body,
                headers={"content-type": "application/json"},
            )
            if response.status_code >= 300:
                raise RuntimeError(f"batch → {response.status_code}: {response.text[:300]}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return time.perf_counter() - started


def bodies_of(items: list[dict[str, Any]]) -> list[bytes]:
    return [
        json.dumps({"worklogs": items[i : i + BATCH]}).encode() for i in range(0, len(items), BATCH)
    ]


async def phase(
    name: str, units: int, unit: str, meter: Meter, stack: Stack, work: Any
) -> dict[str, Any]:
    """Run ``work()`` and wait for the stack to go idle: wall time, CPU and events per process."""
    await quiet(stack)
    cpu_before, events_before = meter.read(), await consumed(stack)
    started = time.perf_counter()
    sent = await work()
    worked = time.perf_counter()
    drained = await quiet(stack)
    ended = worked + drained  # the last busy moment
    cpu_after, events_after = meter.read(), await consumed(stack)
    cpu = {k: cpu_after[k] - cpu_before.get(k, 0.0) for k in cpu_after}
    events = {k: events_after[k] - events_before.get(k, 0.0) for k in events_after}
    log(f"{name}: {units} {unit} sent in {sent:.1f} s, idle again {drained:.1f} s later")
    return {"name": name, "units": units, "unit": unit, "sent": sent, "wall": ended - started,
            "ended": ended, "cpu": cpu, "events": events}  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    print(f"machine: {machine()}")
    work_dir = Path(tempfile.mkdtemp(prefix="burnrate-capacity-"))
    postgres, broker, mailbox = OwnPostgres(), OwnRabbitMQ(), Mailbox(free_port())
    stack: Stack | None = None
    client: Client | None = None
    results: list[dict[str, Any]] = []
    try:
        postgres.start()
        await asyncio.to_thread(broker.start)
        mailbox.up()
        database_url = postgres.url.rsplit("/", 1)[0] + "/burnrate"
        await ensure_database(database_url)
        env = {
            "BURNRATE_DATABASE_URL": database_url,
            "BURNRATE_AMQP_URL": broker.url,
            "BURNRATE_AMQP_PREFIX": f"capacity-{uuid.uuid4().hex[:6]}",
            "BURNRATE_BOOTSTRAP_API_KEY": API_KEY,
            "BURNRATE_SMTP_HOST": "127.0.0.1",
            "BURNRATE_SMTP_PORT": str(mailbox.port),
            "BURNRATE_REPORT_LINK_SECRET": uuid.uuid4().hex,
            "BURNRATE_LOG_LEVEL": "WARNING",
        }
        stack = Stack(env=env, log_dir=work_dir / "log", ports={s: free_port() for s in SERVICES})
        await stack.start_all()
        meter = Meter(stack, postgres, broker)
        client = Client(stack)
        log(f"stack up; creating {args.contracts} contracts with a rule each")
        plan = Plan(args.contracts, 0, 0, 0, 0, (), 0, 0, 0)
        contracts: list[ContractUnderTest] = await create_contracts(client, plan, dt.date.today())
        http = httpx.AsyncClient(headers={"Authorization": f"Bearer {API_KEY}"}, timeout=120)
        ingest = stack.url("worklog-ingest")
        at = now_in_period()

        # 1. Batch: 60 s each, a contract gets at most a third of its 40 hours.
        per_contract = args.worklogs // len(contracts)
        items = [
            worklog_body(c, f"b-{n}-{k}", at - dt.timedelta(seconds=k), 60)
            for k in range(per_contract)
            for n, c in enumerate(contracts)
        ]
        batch_bodies = bodies_of(items)

        async def batches() -> float:
            return await post_batches(http, ingest, batch_bodies)

        results.append(await phase("batch", len(items), "worklogs", meter, stack, batches))

        # 2. Single POSTs, one consumption event each.
        async def singles() -> float:
            pending = list(range(args.posts))

            async def worker() -> None:
                while pending:
                    n = pending.pop()
                    contract = contracts[n % len(contracts)]
                    body = worklog_body(contract, f"s-{n}", at - dt.timedelta(seconds=n), 60)
                    response = await http.post(f"{ingest}/v1/worklogs", json=body)
                    if response.status_code >= 300:
                        raise RuntimeError(f"POST → {response.status_code}: {response.text}")

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(args.clients)))
            return time.perf_counter() - started

        results.append(await phase("single", args.posts, "POSTs", meter, stack, singles))

        # 3. Every contract past its hours in one batch: alerts, then two mails each.
        over = [
            worklog_body(c, f"o-{n}-{k}", at - dt.timedelta(minutes=k), 10 * 3600)
            for n, c in enumerate(contracts)
            for k in range(3)
        ]
        mails_before = len(mailbox.messages)
        first_mail: list[float] = []

        async def alerts() -> float:
            started = time.perf_counter()
            await post_batches(http, ingest, bodies_of(over), in_flight=1)
            sent = time.perf_counter() - started
            while True:  # the first mail: from here on the notifier sends
                if len(mailbox.messages) > mails_before:
                    break
                await asyncio.sleep(0.05)
            first_mail.append(time.perf_counter())
            return sent

        mail_phase = await phase("mails", 0, "mails", meter, stack, alerts)
        mails = len(mailbox.messages) - mails_before
        mail_phase["units"] = mails
        # The notifier's own rate: from the first mail to the last busy moment.
        mail_phase["sending"] = mail_phase["ended"] - first_mail[0]
        results.append(mail_phase)
        await http.aclose()

        conn = await asyncpg.connect(database_url)
        try:
            stored = await conn.fetchval("SELECT count(*) FROM worklog_ingest.worklogs")
            size = await conn.fetchval("SELECT pg_total_relation_size('worklog_ingest.worklogs')")
        finally:
            await conn.close()
    finally:
        if client is not None:
            await client.close()
        if stack is not None:
            stack.stop_all()
        mailbox.down()
        await asyncio.to_thread(broker.close)
        postgres.close()

    report(results, stored, size)


def report(results: list[dict[str, Any]], stored: int, size: int) -> None:
    rows = []
    for r in results:
        units = max(r["units"], 1)
        for process, seconds in sorted(r["cpu"].items(), key=lambda kv: -kv[1]):
            if seconds < 0.05:
                continue
            events = r["events"].get(process, 0.0)
            rows.append(
                [
                    r["name"],
                    process,
                    f"{seconds:.2f}",
                    f"{1e3 * seconds / units:.3f} ms per {r['unit'][:-1]}",
                    f"{units / seconds:,.0f} {r['unit']}/core-s",
                    f"{events:,.0f}" if events else "",
                    f"{events / seconds:,.0f}" if events else "",
                ]
            )
    print()
    print(
        table(
            rows,
            ["phase", "process", "CPU s", "CPU per unit", "per core", "events", "events/core-s"],
        )
    )
    print()
    for r in results:
        print(
            f"{r['name']}: {r['units']:,} {r['unit']}, sent in {r['sent']:.1f} s, "
            f"all done in {r['wall']:.1f} s ({r['units'] / r['wall']:,.0f} {r['unit']}/s)"
        )
        if "sending" in r:
            print(
                f"  mails: {r['units'] / r['sending']:,.1f} mails/s from the first mail on "
                f"({r['sending']:.1f} s), one notifier process"
            )
    print(f"worklogs stored: {stored:,}, {size / max(stored, 1):.0f} bytes each with indexes")
    summary = {
        r["name"]: {"units": r["units"], "cpu": r["cpu"], "events": r["events"], "sent": r["sent"]}
        for r in results
    }
    print(json.dumps(summary, default=lambda x: round(x, 3)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contracts", type=int, default=200)
    parser.add_argument("--worklogs", type=int, default=200_000)
    parser.add_argument("--posts", type=int, default=2_000)
    parser.add_argument("--clients", type=int, default=8)
    asyncio.run(main(parser.parse_args()))
