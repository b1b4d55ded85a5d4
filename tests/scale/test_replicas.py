"""Every consuming service as three replicas (contracts as two), each with its own outbox relay,
under the fault run's workload (contracts, rules with stages, worklogs streamed through every
replica of the API, corrections): the hours exact in reporting and rules, one alert per stage,
each mail once. Rules and reporting keep their schemas on a PostgreSQL server of their own
(``BURNRATE_<SERVICE>_DATABASE_URL``), the others on the shared one."""

from __future__ import annotations

import datetime as dt
import random

import asyncpg
import pytest
from burnrate_devstack.chaos import (
    Check,
    Client,
    Faults,
    Mailbox,
    Plan,
    create_contracts,
    stream_worklogs,
    verify,
)
from burnrate_testing import delete_broker_objects
from burnrate_testing.servers import own_postgres
from replicated_stack import (
    ReplicatedStack,
    Timer,
    checks_table,
    counters_table,
    environment,
    new_prefix,
    spread_checks,
)

pytestmark = [pytest.mark.e2e, pytest.mark.scale]

PLAN = Plan(
    contracts=9,
    worklogs=180,
    corrections=6,
    service_kills=0,
    broker_kills=0,
    postgres_restarts=(),
    smtp_down_seconds=0,
    stream_seconds=30,
    converge_seconds=180,
)
#: the services whose schema lives on the second PostgreSQL server
OWN_SERVER = ("rules", "reporting")


async def schemas(url: str) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        return {r["nspname"] for r in await conn.fetch("SELECT nspname FROM pg_namespace")}
    finally:
        await conn.close()


async def test_three_replicas_of_every_consumer_keep_the_truth(
    scale_database: str, amqp_url: str, mailbox: Mailbox, tmp_path
):
    timer = Timer()
    prefix = new_prefix("scale")
    seed = random.SystemRandom().randrange(1 << 32)
    with own_postgres() as second:
        second_url = second.url.rsplit("/", 1)[0] + "/burnrate"
        env = environment(
            scale_database,
            amqp_url,
            prefix,
            mailbox.port,
            **{f"BURNRATE_{s.upper()}_DATABASE_URL": second_url for s in OWN_SERVER},
        )
        replicas = ReplicatedStack(env, tmp_path / "log")
        client = None
        try:
            await replicas.start()
            started = str(timer)
            client = Client(replicas)  # type: ignore[arg-type]  # round-robin over replicas
            contracts = await create_contracts(client, PLAN, dt.date.today())
            await stream_worklogs(client, contracts, PLAN, random.Random(seed))
            streamed = str(timer)
            checks = await verify(
                PLAN, client, contracts, mailbox, Faults(), amqp_url, prefix, replicas.stack
            )
            counters = await replicas.counters()
            checks += spread_checks(counters)
            exited = replicas.exited()
            checks.append(
                Check("no replica exited", "none", ", ".join(exited) or "none", not exited)
            )
            on_second, on_shared = await schemas(second_url), await schemas(scale_database)
            misplaced = [s for s in OWN_SERVER if s in on_shared or s not in on_second]
            misplaced += [s for s in ("contracts", "notifier") if s in on_second]
            checks.append(
                Check(
                    "schemas on the server their URL names",
                    "rules, reporting on the second server; the rest on the shared one",
                    "misplaced: " + (", ".join(misplaced) or "none"),
                    not misplaced,
                )
            )
        finally:
            if client is not None:
                await client.close()
            replicas.stop()
            await delete_broker_objects(amqp_url, prefix)
    print(f"\nstack up {started}, streamed by {streamed}, checked by {timer} (seed {seed})")
    print(counters_table(counters))
    print(checks_table(checks))
    assert all(c.ok for c in checks), f"logs in {tmp_path / 'log'}\n{checks_table(checks)}"
