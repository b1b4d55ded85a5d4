"""Alerts to mail: latency at a steady rate, and a burst against a plain SMTP client.

Starts, in a database schema and an AMQP prefix of its own: an SMTP server (aiosmtpd, a
process of its own, noting when it accepted each message) and the notifier (a process, its
default settings but for the SMTP port). It replicates ``--contracts`` contracts (default
1,000), each with an owner of its own, then publishes ``alert.raised`` events for them
(audience: the owner, a rule per alert, so no mail limit holds a mail back) as the rules
service would:

1. **Latency, black-box**: alerts at ``--rates`` per second (default 10 and 50) for
   ``--seconds`` each (default 20), published on schedule whether or not the earlier ones
   are done. The latency of an alert is the instant the SMTP server accepted its mail
   minus the instant it was published. Printed per rate: p50, p99, max, and mails still
   not accepted ``--grace`` seconds (default 60) after the last publish.
2. **A burst**: ``--burst`` alerts (default 4,000) published at once; the clock runs from
   the first publish until the server has accepted the last of their mails. The baseline:
   a plain aiosmtplib client sending as many mails of the same size (real mails of part 1,
   rebuilt) over one connection to the same server, measured before and after the burst.
   Printed: mails/s of both and the ratio of the burst to the mean of the baselines, the
   instant the last delivery was queued (so what the consumer and the sender each cost is
   visible), and the CPU seconds the notifier and the SMTP server used.
3. **The sender alone**: as many deliveries queued straight into the notifier's table at
   once (copies of mails it sent, with new ids and Message-IDs) and one NOTIFY; the clock
   runs until the server has accepted the last. Printed against the same baselines. Part 2
   also counts the consumer that turns each alert into its mail; this part does not.

At the end: any Message-ID the server accepted twice (there should be none).

    uv run python bench/alerts.py [--burst 4000] [--rates 10,50] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aio_pika
import aiosmtplib
import asyncpg
import httpx
from burnrate_common import bus, db
from burnrate_common.events import (
    AlertRaised,
    Audience,
    ContractChanged,
    ContractPeriod,
    CustomerChanged,
    Envelope,
    EventType,
    new_event,
)
from burnrate_common.metrics import ServiceMetrics
from burnrate_notifier.mail import OutgoingMail, build_message
from burnrate_notifier.settings import NotifierSettings
from burnrate_notifier.store import WAKE_CHANNEL
from burnrate_testing import delete_broker_objects

H = 3600
KEY = "bench-alerts-admin-key"
LINK_SECRET = "bench-alerts-link-secret-" + "0" * 32
MAIL_FROM = "Burnrate <burnrate@msp.example>"
PERIOD = (dt.date(2026, 3, 1), dt.date(2026, 3, 31))


def now() -> float:
    """One clock for every process of the run (CLOCK_MONOTONIC is system-wide)."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


# --- the SMTP server (run as a process of its own: ``alerts.py --sink PORT FILE``) ---------

_ALERT_ID = re.compile(rb"^X-Burnrate-Alert-Id: *(\S+)", re.M | re.I)
_MESSAGE_ID = re.compile(rb"^Message-ID: *(\S+)", re.M | re.I)


class _Recorder:
    """Accepts every message and notes: the instant, the alert id and the Message-ID."""

    def __init__(self, out: Any) -> None:
        self._out = out

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.content
        alert = _ALERT_ID.search(content)
        message_id = _MESSAGE_ID.search(content)
        self._out.write(
            f"{now():.6f}\t{alert.group(1).decode() if alert else '-'}\t"
            f"{message_id.group(1).decode() if message_id else '-'}\n"
        )
        self._out.flush()
        return "250 Message accepted"


def run_sink(port: int, path: str) -> None:
    from aiosmtpd.smtp import SMTP

    async def serve(recorder: _Recorder) -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(recorder, hostname="bench-sink"), "127.0.0.1", port
        )
        print("ready", flush=True)
        async with server:
            await asyncio.Event().wait()

    with open(path, "a", encoding="utf-8") as out, contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(_Recorder(out)))


def start_sink(port: int, logs: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """The SMTP server as a process of its own, once it listens; and its file."""
    logs.mkdir(parents=True, exist_ok=True)
    accepted = logs / "accepted.tsv"
    accepted.write_text("")
    sink = subprocess.Popen(  # noqa: S603 - this very script, run by this interpreter
        [sys.executable, __file__, "--sink", str(port), str(accepted)], stdout=subprocess.PIPE
    )
    assert sink.stdout is not None
    if sink.stdout.readline().strip() != b"ready":
        stop(sink)
        raise RuntimeError("the SMTP server did not start")
    return sink, accepted


class Accepted:
    """What the SMTP server accepted so far, read from its file."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._offset = 0
        self._rest = b""
        #: (instant, alert id, Message-ID) in order of acceptance
        self.rows: list[tuple[float, str, str]] = []

    def read(self) -> int:
        with self._path.open("rb") as f:
            f.seek(self._offset)
            data = f.read()
        self._offset += len(data)
        data, self._rest = (self._rest + data).rpartition(b"\n")[::2]
        for line in data.decode().splitlines():
            at, alert, message_id = line.split("\t")
            self.rows.append((float(at), alert, message_id))
        return len(self.rows)

    async def wait_for(self, alerts: set[str], deadline: float) -> dict[str, float]:
        """The first acceptance instant of each of ``alerts``' mails, waiting until all are
        in or the deadline passes."""
        found: dict[str, float] = {}
        seen = 0
        while True:
            self.read()
            for at, alert, _ in self.rows[seen:]:
                if alert in alerts and alert not in found:
                    found[alert] = at
            seen = len(self.rows)
            if len(found) == len(alerts) or now() > deadline:
                return found
            await asyncio.sleep(0.02)


# --- the stack -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


#: The notifier under cProfile, its profile written when it is stopped (uvicorn raises the
#: SIGTERM again once it has shut down, to the handler installed before it).
_PROFILED = """
import cProfile, os, signal, sys, time
from burnrate_notifier.__main__ import main
profile, path = cProfile.Profile(time.process_time), sys.argv.pop(1)
def dump(*_):
    profile.disable()
    profile.dump_stats(path)
    os._exit(0)
signal.signal(signal.SIGTERM, dump)
profile.enable()
main()
"""


def start_notifier(
    settings: NotifierSettings, port: int, log: Path, profile: str | None
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "BURNRATE_DATABASE_URL": settings.database_url,
        "BURNRATE_DATABASE_SCHEMA": settings.db_schema,
        "BURNRATE_AMQP_URL": settings.amqp_url,
        "BURNRATE_AMQP_PREFIX": settings.amqp_prefix,
        "BURNRATE_BOOTSTRAP_API_KEY": KEY,
        "BURNRATE_REPORT_LINK_SECRET": LINK_SECRET,
        "BURNRATE_NOTIFIER_PORT": str(port),
        "BURNRATE_SMTP_PORT": str(settings.smtp_port),
        "BURNRATE_MAIL_FROM": MAIL_FROM,
    }
    return subprocess.Popen(  # noqa: S603 - the notifier, run by this interpreter
        [sys.executable, "-c", _PROFILED, profile, "serve"]
        if profile
        else [sys.executable, "-m", "burnrate_notifier", "serve"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


async def wait_ready(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 120
    async with httpx.AsyncClient(timeout=2) as client:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the notifier exited; its log: {log}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the notifier was not ready within 120 s; its log: {log}")
            await asyncio.sleep(0.2)


# --- events ------------------------------------------------------------------------------


def contract_ids(count: int) -> list[uuid.UUID]:
    return [uuid.UUID(int=(0xBE << 120) + n) for n in range(count)]


def stack_events(customer_id: uuid.UUID, contracts: list[uuid.UUID]) -> list[Envelope]:
    events = [
        new_event(
            EventType.CUSTOMER_CREATED,
            CustomerChanged(id=customer_id, name="Acme", contacts=[]),
            key=customer_id,
            producer="contracts",
        )
    ]
    for n, contract_id in enumerate(contracts):
        payload = ContractChanged(
            id=contract_id,
            customer_id=customer_id,
            code=f"ACME-{n:05d}",
            title=f"Acme support {n}",
            owner_email=f"owner{n}@msp.example",
            start_date=dt.date(2026, 1, 1),
            end_date=dt.date(2026, 12, 31),
            timezone="Europe/Amsterdam",
            period="monthly",
            planned_hours=40,
            teams=["servicedesk"],
            work_accounts=[f"ACME{n}"],
            periods=[
                ContractPeriod(start_date=PERIOD[0], end_date=PERIOD[1], planned_seconds=40 * H)
            ],
        )
        events.append(
            new_event(EventType.CONTRACT_CREATED, payload, key=contract_id, producer="contracts")
        )
    return events


def alert(contract_id: uuid.UUID, n: int) -> Envelope:
    stage, executed = [("70", 28 * H), ("90", 36 * H), ("overage", 44 * H)][n % 3]
    payload = AlertRaised(
        alert_id=uuid.uuid4(),
        rule_id=uuid.uuid4(),
        rule_name="bench rule",
        contract_id=contract_id,
        period_start=PERIOD[0],
        period_end=PERIOD[1],
        trigger="overage" if stage == "overage" else "percent_consumed",
        stage=stage,
        planned_seconds=40 * H,
        executed_seconds=executed,
        audience=Audience(owner=True),
    )
    return new_event(EventType.ALERT_RAISED, payload, key=contract_id, producer="rules")


class Bus:
    def __init__(self, amqp_url: str, prefix: str) -> None:
        self._url = amqp_url
        self._prefix = prefix

    async def __aenter__(self) -> bus.Publisher:
        self._connection = await aio_pika.connect(self._url)
        channel = await self._connection.channel(publisher_confirms=True)
        exchange = await bus.declare_exchange(channel, bus.Topology(self._prefix, "bench", 3, 1))
        return bus.Publisher(exchange, 512, ServiceMetrics("bench_alerts"))

    async def __aexit__(self, *_: object) -> None:
        await self._connection.close()


# --- the measurements --------------------------------------------------------------------


def quantile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(milliseconds: float | None) -> str:
    return "      n/a" if milliseconds is None else f"{milliseconds:9.1f} ms"


async def latency(
    publisher: bus.Publisher,
    accepted: Accepted,
    contracts: list[uuid.UUID],
    rate: float,
    seconds: float,
    grace: float,
    first: int,
) -> dict[str, Any]:
    count = round(rate * seconds)
    events = [alert(contracts[(first + n) % len(contracts)], first + n) for n in range(count)]
    published: dict[str, float] = {}
    pending: list[asyncio.Task[None]] = []
    start = now() + 0.1
    for n, event in enumerate(events):
        due = start + n / rate
        await asyncio.sleep(max(0.0, due - now()))
        published[event.data["alert_id"]] = now()
        pending.append(asyncio.create_task(publisher.publish(event)))
    await asyncio.gather(*pending)
    found = await accepted.wait_for(set(published), now() + grace)
    latencies = [found[a] - published[a] for a in found]
    return {
        "rate": rate,
        "alerts": count,
        "accepted": len(found),
        "not_accepted_after_grace": count - len(found),
        "p50_ms": statistics.median(latencies) * 1000 if latencies else None,
        "p99_ms": quantile(latencies, 0.99) * 1000 if latencies else None,
        "max_ms": max(latencies) * 1000 if latencies else None,
    }


async def sample_mails(pool: asyncpg.Pool, count: int) -> list[OutgoingMail]:
    """Real mails of part 1, to send the baseline mails of the same size and shape."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT recipient, subject, body_text, body_html, created_at, stage
               FROM deliveries WHERE channel = 'email' AND state = 'sent' LIMIT $1""",
            count,
        )
    if not rows:
        raise RuntimeError("no mail was sent in part 1: nothing to model the baseline on")
    domain = NotifierSettings(mail_from=MAIL_FROM).message_id_domain
    from burnrate_notifier.mail import new_message_id

    return [
        OutgoingMail(
            recipient=rows[n % len(rows)]["recipient"],
            subject=rows[n % len(rows)]["subject"],
            text=rows[n % len(rows)]["body_text"],
            html=rows[n % len(rows)]["body_html"],
            message_id=new_message_id(domain),
            created_at=rows[n % len(rows)]["created_at"],
            alert_id=uuid.uuid4(),
            stage=rows[n % len(rows)]["stage"],
            unsubscribe_url=None,
        )
        for n in range(count)
    ]


async def baseline(port: int, mails: list[OutgoingMail]) -> float:
    """Mails per second a plain client gets accepted over one connection (it builds each
    message as the notifier does)."""
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=30)
    started = now()
    await smtp.connect()
    sender = NotifierSettings(mail_from=MAIL_FROM).mail_from_address
    for mail in mails:
        await smtp.send_message(
            build_message(mail, MAIL_FROM), sender=sender, recipients=[mail.recipient]
        )
    took = now() - started
    await smtp.quit()
    return len(mails) / took


async def queued_count(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        count: int = await conn.fetchval("SELECT count(*) FROM deliveries")
        return count


async def burst(
    publisher: bus.Publisher,
    accepted: Accepted,
    pool: asyncpg.Pool,
    contracts: list[uuid.UUID],
    size: int,
    first: int,
    grace: float,
    pids: dict[str, int],
) -> dict[str, Any]:
    events = [alert(contracts[(first + n) % len(contracts)], first + n) for n in range(size)]
    ids = {e.data["alert_id"] for e in events}
    before = await queued_count(pool)
    cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
    started = now()
    await publisher.publish_all(events)
    published = now() - started

    async def watch_queue() -> float:
        while await queued_count(pool) < before + size:  # noqa: ASYNC110 - polling the database
            await asyncio.sleep(0.1)
        return now() - started

    watcher = asyncio.create_task(watch_queue())
    found = await accepted.wait_for(ids, now() + grace + size / 10)
    done = max(found.values()) - started if found else float("nan")
    queued = await watcher if watcher.done() else float("nan")
    watcher.cancel()
    used = {name: cpu_seconds(pid) - cpu[name] for name, pid in pids.items()}
    return {
        "alerts": size,
        "accepted": len(found),
        "published_s": published,
        "queued_s": queued,
        "all_accepted_s": done,
        "mails_per_s": len(found) / done if found else 0.0,
        "cpu_s": used,
    }


async def sender_alone(
    accepted: Accepted, pool: asyncpg.Pool, size: int, grace: float, pids: dict[str, int]
) -> dict[str, Any]:
    """``size`` deliveries queued straight into the table at once (copies of mails already
    sent, with new ids and Message-IDs), one NOTIFY: what the sender alone does."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            """CREATE TEMP TABLE copies ON COMMIT DROP AS
               SELECT * FROM deliveries WHERE channel = 'email' AND state = 'sent' LIMIT $1""",
            size,
        )
        await conn.execute(
            """UPDATE copies SET id = gen_random_uuid(), alert_id = gen_random_uuid(),
                      message_id = '<' || gen_random_uuid() || '@msp.example>',
                      state = 'queued', attempts = 0, sent_at = NULL, last_error = NULL,
                      next_attempt_at = now(), created_at = now(), updated_at = now()"""
        )
        ids = {str(r["alert_id"]) for r in await conn.fetch("SELECT alert_id FROM copies")}
        cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
        started = now()
        await conn.execute("INSERT INTO deliveries SELECT * FROM copies")
        await conn.execute(f"NOTIFY {WAKE_CHANNEL}")
    found = await accepted.wait_for(ids, now() + grace + size / 10)
    done = max(found.values()) - started if found else float("nan")
    return {
        "mails": len(ids),
        "accepted": len(found),
        "all_accepted_s": done,
        "mails_per_s": len(found) / done if found else 0.0,
        "cpu_s": {name: cpu_seconds(pid) - cpu[name] for name, pid in pids.items()},
    }


async def main(args: argparse.Namespace) -> None:
    tag = uuid.uuid4().hex[:8]
    prefix = f"bench-{tag}"
    smtp_port, api_port = free_port(), free_port()
    settings = NotifierSettings(
        database_schema=f"bench_notifier_{tag}",
        amqp_prefix=prefix,
        smtp_port=smtp_port,
        mail_from=MAIL_FROM,
        bootstrap_api_key=KEY,
        report_link_secret=LINK_SECRET,
    )
    dsn = settings.database_url
    await db.ensure_database(dsn)
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-alerts-") as tmp:
        logs = Path(args.keep_logs or tmp)
        sink, accepted_file = start_sink(smtp_port, logs)
        notifier: subprocess.Popen[bytes] | None = None
        pool: asyncpg.Pool | None = None
        try:
            notifier = start_notifier(settings, api_port, logs / "notifier.log", args.profile)
            await wait_ready(notifier, api_port, logs / "notifier.log")
            pool = await db.create_pool(dsn, settings.db_schema)
            accepted = Accepted(accepted_file)
            contracts = contract_ids(args.contracts)
            async with Bus(settings.amqp_url, prefix) as publisher:
                await publisher.publish_all(stack_events(uuid.uuid4(), contracts))
                async with pool.acquire() as conn:
                    replicated = "SELECT count(*) FROM contracts"
                    while await conn.fetchval(replicated) < len(contracts):  # noqa: ASYNC110
                        await asyncio.sleep(0.2)
                print(f"{len(contracts)} contracts replicated; warming up")
                warm = await latency(publisher, accepted, contracts, 20, 2, args.grace, 0)
                sent = warm["alerts"]
                figures["latency"] = []
                print("\n1. alert.raised published -> its mail accepted by the SMTP server")
                for rate in args.rates:
                    result = await latency(
                        publisher, accepted, contracts, rate, args.seconds, args.grace, sent
                    )
                    sent += result["alerts"]
                    figures["latency"].append(result)
                    print(
                        f"   {rate:5.0f}/s for {args.seconds:.0f} s: {result['accepted']} of "
                        f"{result['alerts']} accepted, p50 {ms(result['p50_ms'])}, "
                        f"p99 {ms(result['p99_ms'])}, max {ms(result['max_ms'])}"
                        f"; not accepted {args.grace:.0f} s after the last publish: "
                        f"{result['not_accepted_after_grace']}"
                    )
                    await asyncio.sleep(2)
                mails = await sample_mails(pool, args.burst)
                first_baseline = await baseline(smtp_port, mails)
                pids = {"notifier": notifier.pid, "smtp server": sink.pid}
                result = await burst(
                    publisher, accepted, pool, contracts, args.burst, sent, args.grace, pids
                )
                await asyncio.sleep(2)
                alone = await sender_alone(accepted, pool, args.burst, args.grace, pids)
                second_baseline = await baseline(smtp_port, await sample_mails(pool, args.burst))
            base = (first_baseline + second_baseline) / 2
            result["baseline_mails_per_s"] = [first_baseline, second_baseline]
            result["ratio"] = result["mails_per_s"] / base
            figures["burst"] = result
            alone["ratio"] = alone["mails_per_s"] / base
            figures["sender_alone"] = alone
            accepted.read()
            ids = [m for _, a, m in accepted.rows if a != "-" and m != "-"]
            figures["message_ids_accepted_twice"] = len(ids) - len(set(ids))
            print(f"\n2. a burst of {args.burst} alerts, published at once")
            print(
                f"   baseline: a plain client, one connection  {first_baseline:8.0f} and "
                f"{second_baseline:.0f} mails/s (before and after)"
            )
            print(
                f"   the notifier: {result['accepted']} of {args.burst} accepted in "
                f"{result['all_accepted_s']:.2f} s   {result['mails_per_s']:8.0f} mails/s"
            )
            print(
                f"   published in {result['published_s']:.2f} s; all deliveries queued at "
                f"{result['queued_s']:.2f} s"
            )
            print(f"   burst / baseline                          {result['ratio']:8.2f}")
            print(
                "   CPU seconds during the burst: "
                + ", ".join(f"{k} {v:.1f}" for k, v in result["cpu_s"].items())
            )
            print(f"\n3. the sender alone: {alone['mails']} mails queued straight into the table")
            print(
                f"   {alone['accepted']} accepted in {alone['all_accepted_s']:.2f} s"
                f"   {alone['mails_per_s']:8.0f} mails/s;  / baseline {alone['ratio']:.2f}"
            )
            print("   CPU seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in alone["cpu_s"].items()))
            print(f"\nMessage-IDs accepted twice: {figures['message_ids_accepted_twice']}")
            print("\ngoals: p99 at 50/s at most 1 s; burst / baseline at least 0.50")
            if args.json:
                print(json.dumps(figures, indent=2))
        finally:
            if notifier is not None:
                stop(notifier)
            stop(sink)
            if pool is not None:
                await pool.close()
            conn = await asyncpg.connect(dsn)
            await conn.execute(f'DROP SCHEMA IF EXISTS "{settings.db_schema}" CASCADE')
            await conn.close()
            await delete_broker_objects(settings.amqp_url, prefix)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--sink":
        run_sink(int(sys.argv[2]), sys.argv[3])
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contracts", type=int, default=1_000)
    parser.add_argument(
        "--rates",
        type=lambda text: [float(r) for r in text.split(",")],
        default=[10.0, 50.0],
        help="alerts per second for part 1, comma-separated",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="per rate, part 1")
    parser.add_argument("--grace", type=float, default=60.0)
    parser.add_argument("--burst", type=int, default=4_000)
    parser.add_argument("--keep-logs", metavar="DIR", help="keep the logs and the server's file")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    parser.add_argument("--profile", metavar="FILE", help="run the notifier under cProfile")
    asyncio.run(main(parser.parse_args()))
