"""Burnrate with every consuming service as several replicas, the fault run's workload streamed
through them round-robin, and the fault run's truth checked (``burnrate_devstack.chaos``).

Each replica is a process of its own (``Stack.start(service, name=…)``) with its own port,
its own outbox relay, and a consumer on the service's one quorum queue. Replica ``n`` of a
service may be given its own AMQP URL (replica ``n`` on node ``n`` of a cluster).
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
from burnrate_devstack.chaos import API_KEY, Check, Mailbox, table
from burnrate_devstack.stack import SERVICES, Stack
from burnrate_testing import TEST_LINK_SECRET
from burnrate_testing.servers import free_port

#: The services that consume from the bus: three replicas each. Contracts consumes nothing
#: (it issues the API keys the others replicate) but writes an outbox: two replicas, two relays.
CONSUMING = ("worklog-ingest", "rules", "notifier", "reporting", "billing", "tickets")
REPLICAS = {service: 3 if service in CONSUMING else 2 for service in SERVICES}


def replica_names(service: str) -> list[str]:
    """``rules``, ``rules-2``, ``rules-3``: the first keeps the service's name (what the
    fault run's checks ask for readiness)."""
    return [service] + [f"{service}-{n}" for n in range(2, REPLICAS[service] + 1)]


def environment(
    database_url: str, amqp_url: str, prefix: str, smtp_port: int, **extra: str
) -> dict[str, str]:
    return {
        "BURNRATE_DATABASE_URL": database_url,
        "BURNRATE_AMQP_URL": amqp_url,
        "BURNRATE_AMQP_PREFIX": prefix,
        "BURNRATE_BOOTSTRAP_API_KEY": API_KEY,
        "BURNRATE_REPORT_LINK_SECRET": TEST_LINK_SECRET,
        "BURNRATE_SMTP_HOST": "127.0.0.1",
        "BURNRATE_SMTP_PORT": str(smtp_port),
        "BURNRATE_CONSUMER_RETRY_BASE_SECONDS": "0.2",
        "BURNRATE_OUTBOX_POLL_SECONDS": "0.2",
        "BURNRATE_SEND_RETRY_BASE_SECONDS": "0.5",
        # Twenty processes on a small machine: small pools.
        "BURNRATE_DB_POOL_MIN_SIZE": "1",
        "BURNRATE_DB_POOL_MAX_SIZE": "4",
        **extra,
    }


@dataclass
class ReplicatedStack:
    """The stack, every service as :data:`REPLICAS` processes."""

    env: dict[str, str]
    log_dir: Path
    #: replica index (0, 1, 2) → the AMQP URL its replicas use; default: ``env``'s
    amqp_urls: list[str] = field(default_factory=list)
    stack: Stack = field(init=False)

    def __post_init__(self) -> None:
        ports = {name: free_port() for s in SERVICES for name in replica_names(s)}
        self.stack = Stack(env=dict(self.env), log_dir=self.log_dir, ports=ports)

    @property
    def names(self) -> Iterator[str]:
        for service in SERVICES:
            yield from replica_names(service)

    def start_replica(self, service: str, index: int) -> None:
        name = replica_names(service)[index]
        env = dict(self.env)
        if self.amqp_urls:
            env["BURNRATE_AMQP_URL"] = self.amqp_urls[index % len(self.amqp_urls)]
        # Stack.start takes the stack's environment: set it for this replica.
        self.stack.env = env
        try:
            self.stack.start(service, name=name if index else None)
        finally:
            self.stack.env = dict(self.env)

    async def start(self) -> None:
        # The first replicas first: they create the schemas and declare the queues.
        for service in SERVICES:
            self.start_replica(service, 0)
        await asyncio.gather(*(self.stack.wait_ready(s, timeout=180) for s in SERVICES))
        for service in SERVICES:
            for index in range(1, REPLICAS[service]):
                self.start_replica(service, index)
        await asyncio.gather(*(self.stack.wait_ready(n, timeout=180) for n in self.names))

    def exited(self) -> list[str]:
        """Replicas that exited by themselves (none should)."""
        return [
            f"{name} ({process.returncode})"
            for name, process in self.stack.processes.items()
            if process.poll() is not None
        ]

    def stop(self) -> None:
        self.stack.stop_all()

    # The fault run's Client asks ``url(service)`` of its stack: each call goes to the next
    # replica, so the API load (and so the outbox rows, and so the relays) is spread too.
    def url(self, service: str) -> str:
        cycles = self.__dict__.setdefault("_cycles", {})
        if service not in cycles:
            cycles[service] = itertools.cycle(replica_names(service))
        name: str = next(cycles[service])
        return self.stack.url(name)

    async def counters(self) -> dict[str, dict[str, float]]:
        """Per replica: messages consumed (success / duplicate) and published, from /metrics."""
        found: dict[str, dict[str, float]] = {}
        async with httpx.AsyncClient(timeout=10) as client:
            for service in SERVICES:
                prefix = f"burnrate_{service.replace('-', '_')}"
                for name in replica_names(service):
                    text = (await client.get(self.stack.url(name) + "/metrics")).text
                    found[name] = {
                        "consumed": _sum(text, f"{prefix}_messages_consumed_total", "success"),
                        "duplicate": _sum(text, f"{prefix}_messages_consumed_total", "duplicate"),
                        "published": _sum(text, f"{prefix}_messages_published_total", None),
                    }
        return found


def _sum(metrics: str, name: str, status: str | None) -> float:
    total = 0.0
    for match in re.finditer(rf"^{name}\{{([^}}]*)\}} ([0-9.e+]+)$", metrics, re.MULTILINE):
        if status is None or f'status="{status}"' in match.group(1):
            total += float(match.group(2))
    return total


def spread_checks(counters: dict[str, dict[str, float]]) -> list[Check]:
    """The work was shared: every replica of a consuming service handled events, and at least
    two relays of each producing service published."""
    checks = []
    idle = [
        name
        for service in CONSUMING
        for name in replica_names(service)
        if counters[name]["consumed"] == 0
    ]
    checks.append(
        Check(
            "every consuming replica handled events",
            f"{sum(REPLICAS[s] for s in CONSUMING)} replicas > 0",
            "idle: " + (", ".join(idle) or "none"),
            not idle,
        )
    )
    for producer in ("contracts", "worklog-ingest", "rules"):
        publishing = [n for n in replica_names(producer) if counters[n]["published"] > 0]
        checks.append(
            Check(
                f"relays of {producer} that published",
                "≥ 2",
                ", ".join(publishing) or "none",
                len(publishing) >= 2,
            )
        )
    return checks


def counters_table(counters: dict[str, dict[str, float]]) -> str:
    return table(
        [
            [name, f"{c['consumed']:.0f}", f"{c['duplicate']:.0f}", f"{c['published']:.0f}"]
            for name, c in counters.items()
        ],
        ["replica", "consumed", "duplicates dropped", "published"],
    )


def checks_table(checks: list[Check]) -> str:
    return table(
        [[c.name, c.expected, c.actual, "ok" if c.ok else "FAILED"] for c in checks],
        ["check", "expected", "actual", "result"],
    )


async def fresh_database(server_url: str, name: str) -> str:
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))


async def drop_database(server_url: str, name: str) -> None:
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def new_prefix(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:6]}"


class Timer:
    def __init__(self) -> None:
        self.started = time.monotonic()

    def __str__(self) -> str:
        return f"{time.monotonic() - self.started:.0f} s"


__all__ = ["Mailbox"]
