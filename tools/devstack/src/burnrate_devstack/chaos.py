"""The fault run: Burnrate on a PostgreSQL and a RabbitMQ of its own, a known workload streamed
in, faults injected, then the exact truth asserted.

``burnrate-dev chaos`` (``make chaos``) is the full run; ``--short`` the variant CI runs. It
never touches the machine's shared servers: the PostgreSQL cluster and the RabbitMQ node are
its own, on other ports, and removed at the end.

The workload: ``contracts`` contracts of 40 h a month, each with one customer contact and
its own owner, and one rule "70 %, 90 %, overage" to owner and customer; worklogs of this
month streamed in through the REST API (retried until acknowledged, as a sync tool does),
and corrections that raise some of them (so the largest running total is the final one and
the stages to fire are known).

The faults, while the worklogs stream: SIGKILLs of random services (restarted after a
moment), ``kill -9`` of RabbitMQ (started again on the same data), PostgreSQL restarted
``fast`` and ``immediate``, and the SMTP server down for a while.

The truth, once everything is back: executed hours per contract period in reporting and in
rules equal the sum of the acknowledged worklogs; one alert per contract and highest stage
crossed, none twice; one mail per recipient and stage (a resend carries the same
Message-ID, at most one per notifier kill); every dead-letter queue empty; every service
ready. A table per fault kind and one per check; the exit code says whether all held.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email
import email.policy
import random
import socket
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aio_pika
import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from burnrate_notifier.sender import SMTP_CONNECTIONS

from burnrate_devstack.stack import SERVICES, Stack

API_KEY = "chaos-admin-key"
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
PLANNED_HOURS = 40
STAGES = (70, 90)


@dataclass(frozen=True)
class Plan:
    """How big the run is and how many faults of each kind it injects."""

    contracts: int
    worklogs: int
    corrections: int
    service_kills: int
    broker_kills: int
    postgres_restarts: tuple[str, ...]
    smtp_down_seconds: float
    #: the seconds over which the worklogs are spread (the faults fall inside)
    stream_seconds: float
    converge_seconds: float


FULL = Plan(
    contracts=20,
    worklogs=300,
    corrections=8,
    service_kills=24,
    broker_kills=2,
    postgres_restarts=("fast", "immediate"),
    smtp_down_seconds=180,
    stream_seconds=150,
    converge_seconds=300,
)
SHORT = Plan(
    contracts=6,
    worklogs=90,
    corrections=4,
    service_kills=8,
    broker_kills=1,
    postgres_restarts=("fast", "immediate"),
    smtp_down_seconds=20,
    stream_seconds=45,
    converge_seconds=180,
)


# --- the SMTP server ---------------------------------------------------------------------------


class Mailbox:
    """An SMTP server that keeps every message, and can be taken down and brought back on the
    same port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list[EmailMessage] = []
        self._controller: Controller | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"

    def up(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def down(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


# --- the workload and its truth ----------------------------------------------------------------


@dataclass
class ContractUnderTest:
    id: str
    code: str
    owner: str
    contact: str
    work_account: str
    seconds: dict[str, int] = field(default_factory=dict)  # external id → acknowledged seconds

    @property
    def executed_seconds(self) -> int:
        return sum(self.seconds.values())

    def stages_crossed(self) -> list[str]:
        percent = self.executed_seconds * 100 / (PLANNED_HOURS * 3600)
        crossed = [str(stage) for stage in STAGES if percent >= stage]
        if percent > 100:
            crossed.append("overage")
        return crossed


@dataclass
class Faults:
    """What was injected, per kind: (what, at seconds into the run)."""

    injected: dict[str, list[tuple[str, float]]] = field(default_factory=lambda: defaultdict(list))
    started: float = field(default_factory=time.monotonic)

    def record(self, kind: str, what: str) -> None:
        self.injected[kind].append((what, round(time.monotonic() - self.started, 1)))


class Client:
    """The APIs, retried while a service is down or answers 503 (what a sync tool does)."""

    def __init__(self, stack: Stack) -> None:
        self._stack = stack
        self._http = httpx.AsyncClient(headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10)

    async def call(
        self, method: str, service: str, path: str, *, until: float = 120, **kwargs: Any
    ) -> Any:
        deadline = time.monotonic() + until
        while True:
            try:
                response = await self._http.request(
                    method, self._stack.url(service) + path, **kwargs
                )
                # 422 while a replica is behind (rules does not know the contract yet).
                if response.status_code < 400:
                    return response.json() if response.content else None
                last = f"{response.status_code}: {response.text[:300]}"
                if response.status_code not in (422, 502, 503, 504):
                    raise RuntimeError(f"{method} {service}{path} → {last}")
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                last = repr(exc)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{method} {service}{path} not acknowledged in {until}s: {last}")
            await asyncio.sleep(0.25)

    async def close(self) -> None:
        await self._http.aclose()


async def create_contracts(client: Client, plan: Plan, today: dt.date) -> list[ContractUnderTest]:
    created = []
    for n in range(plan.contracts):
        suffix = uuid.uuid4().hex[:6].upper()
        contact = f"contact-{n}@customer-{suffix.lower()}.example"
        owner = f"owner-{n}@msp.example"
        customer = await client.call(
            "POST",
            "contracts",
            "/v1/customers",
            json={
                "name": f"Customer {n}",
                "contacts": [{"name": f"Contact {n}", "email": contact, "language": "en"}],
            },
        )
        contract = await client.call(
            "POST",
            "contracts",
            "/v1/contracts",
            json={
                "customer_id": customer["id"],
                "code": f"CHAOS-{suffix}",
                "title": f"Chaos contract {n}",
                "owner_email": owner,
                "start_date": today.replace(month=1, day=1).isoformat(),
                "end_date": today.replace(month=12, day=31).isoformat(),
                "timezone": "Europe/Amsterdam",
                "period": "monthly",
                "planned_hours": PLANNED_HOURS,
                "teams": ["servicedesk"],
                "work_accounts": [f"CHAOS-{suffix}"],
            },
        )
        await client.call(
            "POST",
            "rules",
            "/v1/rules",
            json={
                "name": "70 %, 90 %, overage",
                "contract_id": contract["id"],
                "trigger": "percent_consumed",
                "stages": list(STAGES),
                "overage": True,
                "audience": {"owner": True, "customer_contacts": True},
            },
        )
        created.append(
            ContractUnderTest(contract["id"], contract["code"], owner, contact, f"CHAOS-{suffix}")
        )
    return created


def worklog_body(
    contract: ContractUnderTest, external_id: str, started: dt.datetime, seconds: int
) -> dict[str, Any]:
    return {
        "source": "api",
        "external_id": external_id,
        "work_account": contract.work_account,
        "author": "tech@msp.example",
        "team": "servicedesk",
        "activity": "phone support",
        "started_at": started.isoformat(),
        "seconds": seconds,
    }


async def stream_worklogs(
    client: Client, contracts: list[ContractUnderTest], plan: Plan, rng: random.Random
) -> None:
    """The worklogs, spread over ``plan.stream_seconds``; then the corrections (each raises a
    worklog by an hour through a full replace)."""
    month_start = dt.datetime.now(dt.UTC).replace(day=1, hour=9, minute=0, second=0, microsecond=0)
    ids: list[tuple[ContractUnderTest, str, str, dt.datetime]] = []
    pause = plan.stream_seconds / plan.worklogs
    for n in range(plan.worklogs):
        contract = contracts[n % len(contracts)]
        seconds = rng.choice([3600, 7200, 10800, 14400])
        started = month_start + dt.timedelta(minutes=13 * n)  # within the month's first days
        external_id = f"{contract.code}-{n}"
        worklog = await client.call(
            "POST",
            "worklog-ingest",
            "/v1/worklogs",
            json=worklog_body(contract, external_id, started, seconds),
        )
        contract.seconds[external_id] = seconds
        ids.append((contract, external_id, worklog["id"], started))
        await asyncio.sleep(pause)
    for contract, external_id, worklog_id, started in rng.sample(ids, plan.corrections):
        seconds = contract.seconds[external_id] + 3600
        body = worklog_body(contract, external_id, started, seconds)
        for key in ("source", "external_id", "work_account"):
            del body[key]  # what a correction may not change
        await client.call("PUT", "worklog-ingest", f"/v1/worklogs/{worklog_id}", json=body)
        contract.seconds[external_id] = seconds


# --- the faults --------------------------------------------------------------------------------


async def inject(
    plan: Plan,
    rng: random.Random,
    stack: Stack,
    postgres: Any,
    broker: Any,
    mailbox: Mailbox,
    faults: Faults,
) -> None:
    """Every fault of the plan at a random moment of the stream, one at a time."""
    kinds: list[str] = ["service"] * plan.service_kills + ["broker"] * plan.broker_kills
    kinds += [f"postgres-{mode}" for mode in plan.postgres_restarts] + ["smtp"]
    rng.shuffle(kinds)
    gap = plan.stream_seconds / (len(kinds) + 1)
    for kind in kinds:
        await asyncio.sleep(rng.uniform(0.3, 1.0) * gap)
        if kind == "service":
            victim = rng.choice(list(SERVICES))
            stack.kill(victim)
            faults.record("SIGKILL of a service", victim)
            await asyncio.sleep(rng.uniform(0.0, 2.0))
            stack.start(victim)
        elif kind == "broker":
            await asyncio.to_thread(broker.kill)
            if _listening(broker.port):  # the kill must really take the broker away
                raise RuntimeError(f"RabbitMQ still listens on {broker.port} after kill -9")
            faults.record("kill -9 of RabbitMQ", broker.node)
            await asyncio.sleep(rng.uniform(1.0, 4.0))
            await asyncio.to_thread(broker.start)
        elif kind.startswith("postgres-"):
            mode = kind.removeprefix("postgres-")
            await asyncio.to_thread(postgres.restart, mode)
            faults.record(f"PostgreSQL restart ({mode})", f"port {postgres.port}")
        else:
            mailbox.down()
            faults.record("SMTP down", f"{plan.smtp_down_seconds:.0f} s")
            asyncio.get_running_loop().call_later(plan.smtp_down_seconds, mailbox.up)
        revive(stack, faults)
    for service in SERVICES:
        for _ in range(3):
            try:
                await stack.wait_ready(service, timeout=120)
                break
            except RuntimeError:
                revive(stack, faults)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def revive(stack: Stack, faults: Faults) -> None:
    """Start again a service that exited by itself (as an orchestrator would), and count it:
    a service must wait out a fault, not exit."""
    for service in SERVICES:
        process = stack.processes.get(service)
        if process is not None and process.poll() is not None:
            faults.record("exited by itself", service)
            stack.start(service)


# --- the truth ---------------------------------------------------------------------------------


@dataclass
class Check:
    name: str
    expected: str
    actual: str
    ok: bool


async def _period_hours(
    client: Client, contract: ContractUnderTest, period: str
) -> tuple[float, float]:
    report = await client.call(
        "GET", "reporting", f"/v1/contracts/{contract.id}/consumption", params={"period": period}
    )
    totals = await client.call("GET", "rules", f"/v1/contracts/{contract.id}/totals")
    by_rules = sum(p["executed_hours"] for p in totals["periods"] if p["start_date"][:7] == period)
    return report["executed_seconds"] / 3600, by_rules


async def _all_items(client: Client, service: str, path: str, params: dict[str, Any]) -> list[Any]:
    items: list[Any] = []
    cursor = None
    while True:
        page = await client.call(
            "GET",
            service,
            path,
            params={**params, "limit": 500, **({"cursor": cursor} if cursor else {})},
        )
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return items


async def dead_letters(amqp_url: str, prefix: str) -> dict[str, int]:
    depths = {}
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        for service in SERVICES:
            channel = await connection.channel()
            with contextlib.suppress(Exception):
                queue = await channel.declare_queue(f"{prefix}.{service}.dead", passive=True)
                depths[service] = queue.declaration_result.message_count or 0
    return depths


async def verify(
    plan: Plan,
    client: Client,
    contracts: list[ContractUnderTest],
    mailbox: Mailbox,
    faults: Faults,
    amqp_url: str,
    prefix: str,
    stack: Stack,
) -> list[Check]:
    period = dt.datetime.now(AMSTERDAM).strftime("%Y-%m")
    checks: list[Check] = []
    deadline = time.monotonic() + plan.converge_seconds

    # Hours: reporting and rules agree with the acknowledged worklogs (waiting for them).
    while True:
        wrong = []
        for contract in contracts:
            reported, counted = await _period_hours(client, contract, period)
            want = contract.executed_seconds / 3600
            if abs(reported - want) > 1e-6 or abs(counted - want) > 1e-6:
                wrong.append(
                    f"{contract.code}: reporting {reported}, rules {counted}, truth {want}"
                )
        if not wrong or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    checks.append(
        Check(
            "hours per contract period (reporting and rules)",
            f"{len(contracts)} contracts exact",
            "all exact" if not wrong else "; ".join(wrong[:3]),
            not wrong,
        )
    )

    # Alerts: the highest stage crossed alerted once per contract; no stage twice.
    alerts = await _all_items(client, "rules", "/v1/alerts", {})
    by_contract: dict[str, list[str]] = defaultdict(list)
    for alert in alerts:
        by_contract[alert["contract_id"]].append(alert["stage"])
    twice = {k: v for k, v in by_contract.items() if len(v) != len(set(v))}
    missing = [
        c.code
        for c in contracts
        if c.stages_crossed() and c.stages_crossed()[-1] not in by_contract.get(c.id, [])
    ]
    checks.append(
        Check(
            "one alert per stage, the highest crossed included",
            f"{sum(1 for c in contracts if c.stages_crossed())} contracts alerted, none twice",
            f"{len(alerts)} alerts; twice: {len(twice)}; highest missing: {missing[:3]}",
            not twice and not missing,
        )
    )

    # Mails: one per recipient and stage (by Message-ID), every alert delivered to both.
    expected_mails = {
        (recipient, stage)
        for contract in contracts
        for stage in by_contract.get(contract.id, [])
        for recipient in (contract.owner, contract.contact)
    }
    while True:
        ids: dict[tuple[str, str], set[str]] = defaultdict(set)
        for message in mailbox.messages:
            ids[(str(message["To"]), str(message["X-Burnrate-Stage"]))].add(
                str(message["Message-ID"])
            )
        if set(ids) >= expected_mails or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    copies = Counter(str(m["Message-ID"]) for m in mailbox.messages)
    resent = sum(n - 1 for n in copies.values())
    # The resends the design allows: a crash between the SMTP server's "250" and the commit
    # that records it resends that mail once, same Message-ID — one per open SMTP connection
    # at a notifier kill, or at a PostgreSQL crash (the "sent" marks commit without waiting).
    crashes = sum(
        1 for what, _ in faults.injected["SIGKILL of a service"] if what == "notifier"
    ) + len(faults.injected.get("PostgreSQL restart (immediate)", []))
    allowed = crashes * SMTP_CONNECTIONS
    distinct_twice = [k for k, v in ids.items() if len(v) > 1]
    checks.append(
        Check(
            "one mail per recipient and stage (Message-ID)",
            f"{len(expected_mails)} mails; same-id resends ≤ {allowed}",
            f"{sum(1 for k in expected_mails if k in ids)} delivered; two ids for one: "
            f"{len(distinct_twice)}; resends {resent}",
            set(ids) >= expected_mails and not distinct_twice and resent <= allowed,
        )
    )

    depths = await dead_letters(amqp_url, prefix)
    checks.append(
        Check(
            "dead-letter queues empty",
            "0 everywhere",
            ", ".join(f"{s} {d}" for s, d in depths.items()) or "none declared",
            not any(depths.values()),
        )
    )

    exited = faults.injected.get("exited by itself", [])
    checks.append(
        Check(
            "no service exited by itself",
            "0",
            ", ".join(f"{w}@{t}s" for w, t in exited) or "0",
            not exited,
        )
    )
    ready = {}
    for service in SERVICES:
        try:
            await stack.wait_ready(service, timeout=30)
            ready[service] = True
        except (TimeoutError, RuntimeError):
            ready[service] = False
    checks.append(
        Check(
            "every service ready",
            ", ".join(SERVICES),
            ", ".join(s for s, ok in ready.items() if ok) or "none",
            all(ready.values()),
        )
    )
    return checks


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True)), line]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


# --- the run -----------------------------------------------------------------------------------


async def run(plan: Plan, seed: int, keep: Path | None = None) -> bool:
    from burnrate_testing.servers import OwnPostgres, OwnRabbitMQ, free_port

    rng = random.Random(seed)  # noqa: S311 - a replayable schedule, not a secret
    work = keep or Path(tempfile.mkdtemp(prefix="burnrate-chaos-"))
    print(f"fault run, seed {seed} (--seed {seed} replays the schedule); logs in {work}")
    postgres = OwnPostgres()
    broker = OwnRabbitMQ()
    mailbox = Mailbox(free_port())
    stack: Stack | None = None
    client: Client | None = None
    try:
        postgres.start()
        await asyncio.to_thread(broker.start)
        mailbox.up()
        prefix = f"chaos-{uuid.uuid4().hex[:6]}"
        env = {
            "BURNRATE_DATABASE_URL": postgres.url.rsplit("/", 1)[0] + "/burnrate",
            "BURNRATE_AMQP_URL": broker.url,
            "BURNRATE_AMQP_PREFIX": prefix,
            "BURNRATE_BOOTSTRAP_API_KEY": API_KEY,
            "BURNRATE_SMTP_HOST": "127.0.0.1",
            "BURNRATE_SMTP_PORT": str(mailbox.port),
            "BURNRATE_CONSUMER_RETRY_BASE_SECONDS": "0.2",
            "BURNRATE_OUTBOX_POLL_SECONDS": "0.2",
            "BURNRATE_SEND_RETRY_BASE_SECONDS": "0.5",
            "BURNRATE_REPORT_LINK_SECRET": uuid.uuid4().hex,
        }
        from burnrate_common.db import ensure_database

        await ensure_database(env["BURNRATE_DATABASE_URL"])
        stack = Stack(env=env, log_dir=work / "log", ports={s: free_port() for s in SERVICES})
        await stack.start_all()
        client = Client(stack)
        faults = Faults()
        contracts = await create_contracts(client, plan, dt.date.today())
        faults.started = time.monotonic()
        chaos = asyncio.create_task(inject(plan, rng, stack, postgres, broker, mailbox, faults))
        await stream_worklogs(client, contracts, plan, rng)
        await chaos
        checks = await verify(plan, client, contracts, mailbox, faults, broker.url, prefix, stack)
    finally:
        if client is not None:
            await client.close()
        if stack is not None:
            stack.stop_all()
        mailbox.down()
        await asyncio.to_thread(broker.close)
        postgres.close()

    print()
    print(
        table(
            [
                [kind, str(len(events)), ", ".join(f"{w}@{t}s" for w, t in events)[:90]]
                for kind, events in sorted(faults.injected.items())
            ],
            ["fault", "count", "what @ when"],
        )
    )
    print()
    print(
        table(
            [[c.name, c.expected, c.actual, "ok" if c.ok else "FAILED"] for c in checks],
            ["check", "expected", "actual", "result"],
        )
    )
    ok = all(c.ok for c in checks)
    print(f"\n{'all checks held' if ok else 'SOME CHECKS FAILED'} (seed {seed})")
    return ok


def main_with(*, short: bool, seed: int | None, keep: Path | None) -> int:
    """Run the fault run; 0 when every check held."""
    chosen = seed if seed is not None else random.SystemRandom().randrange(1 << 32)
    return 0 if asyncio.run(run(SHORT if short else FULL, chosen, keep)) else 1


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="burnrate-dev chaos", description=__doc__.split("\n")[0])
    parser.add_argument("--short", action="store_true", help="the few-minute variant CI runs")
    parser.add_argument("--seed", type=int, default=None, help="replay a schedule")
    parser.add_argument("--keep", type=Path, default=None, help="folder for the services' logs")
    args = parser.parse_args()
    return main_with(short=args.short, seed=args.seed, keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())
