"""Burnrate on a three-node RabbitMQ cluster of the test's own (quorum queues, a member on every
node), every consuming service as three replicas, replica ``n`` connected to node ``n``. The
node leading the queues is killed (``kill -9``) while the worklogs stream: the replicas on the
other nodes carry on by themselves (the queues elect new leaders; the surviving relays publish
the rows the cut-off relays left), and the hours are exact while that node is still down;
then it is started again and the whole truth holds: one alert per stage, each mail once, no
dead letters, every replica back."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time

import pytest
from burnrate_devstack.chaos import (
    AMSTERDAM,
    Check,
    Client,
    ContractUnderTest,
    Faults,
    Mailbox,
    Plan,
    create_contracts,
    stream_worklogs,
    verify,
)
from burnrate_testing.servers import OwnRabbitMQCluster, own_rabbitmq_cluster
from replicated_stack import (
    CONSUMING,
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
    broker_kills=1,
    postgres_restarts=(),
    smtp_down_seconds=0,
    stream_seconds=30,
    converge_seconds=180,
)


def leaders(cluster: OwnRabbitMQCluster, prefix: str) -> dict[str, str]:
    """Per consuming service: the node leading its queue."""
    queues = cluster.queues()
    return {
        s: str(queues[f"{prefix}.{s}"]["leader"]) for s in CONSUMING if f"{prefix}.{s}" in queues
    }


async def wrong_hours(client: Client, contracts: list[ContractUnderTest]) -> list[str]:
    """The contracts whose hours this month differ from the truth, in reporting or rules."""
    period = dt.datetime.now(AMSTERDAM).strftime("%Y-%m")
    wrong = []
    for contract in contracts:
        report = await client.call(
            "GET",
            "reporting",
            f"/v1/contracts/{contract.id}/consumption",
            params={"period": period},
        )
        totals = await client.call("GET", "rules", f"/v1/contracts/{contract.id}/totals")
        counted = sum(
            p["executed_hours"] for p in totals["periods"] if p["start_date"][:7] == period
        )
        want = contract.executed_seconds / 3600
        if abs(report["executed_seconds"] / 3600 - want) > 1e-6 or abs(counted - want) > 1e-6:
            wrong.append(
                f"{contract.code}: reporting {report['executed_seconds'] / 3600}, rules {counted}, truth {want}"
            )
    return wrong


async def test_a_node_killed_mid_stream_loses_nothing_and_repeats_nothing(
    scale_database: str, mailbox: Mailbox, tmp_path
):
    timer = Timer()
    prefix = new_prefix("cluster")
    seed = random.SystemRandom().randrange(1 << 32)
    with own_rabbitmq_cluster(3) as cluster:
        formed = str(timer)
        env = environment(scale_database, cluster.urls[0], prefix, mailbox.port)
        replicas = ReplicatedStack(env, tmp_path / "log", amqp_urls=cluster.urls)
        client = None
        try:
            await replicas.start()
            started = str(timer)
            queues = cluster.queues()
            members = {s: queues[f"{prefix}.{s}"]["members"] for s in CONSUMING}
            checks = [
                Check(
                    "quorum queues with a member on every node",
                    "3 members each",
                    ", ".join(f"{s} {len(m)}" for s, m in members.items()),
                    all(len(m) == 3 for m in members.values()),
                )
            ]
            before = leaders(cluster, prefix)
            # The node that leads the most queues (the first replicas declared them there).
            victim_node = max(set(before.values()), key=list(before.values()).count)
            victim = next(i for i, n in enumerate(cluster.nodes) if n.node == victim_node)
            client = Client(replicas)  # type: ignore[arg-type]  # round-robin over replicas
            contracts = await create_contracts(client, PLAN, dt.date.today())
            stream = asyncio.create_task(
                stream_worklogs(client, contracts, PLAN, random.Random(seed))
            )
            await asyncio.sleep(PLAN.stream_seconds / 3)
            await asyncio.to_thread(cluster.kill, victim)
            killed_at = time.monotonic()
            faults = Faults()
            faults.record("kill -9 of a RabbitMQ node", victim_node)
            await stream
            # With the node still down: the other replicas took over its share.
            deadline = time.monotonic() + PLAN.converge_seconds
            while True:
                wrong = await wrong_hours(client, contracts)
                if not wrong or time.monotonic() > deadline:
                    break
                await asyncio.sleep(1)
            converged = time.monotonic() - killed_at
            after = leaders(cluster, prefix)
            checks.append(
                Check(
                    "hours exact with the node still down",
                    f"{len(contracts)} contracts exact",
                    "all exact" if not wrong else "; ".join(wrong[:3]),
                    not wrong,
                )
            )
            checks.append(
                Check(
                    "queues led by a live node after the kill",
                    f"no leader on {victim_node}",
                    ", ".join(f"{s} {n.split('@')[0]}" for s, n in after.items()),
                    len(after) == len(CONSUMING) and victim_node not in after.values(),
                )
            )
            await asyncio.to_thread(cluster.restart, victim)
            live_url = cluster.urls[(victim + 1) % 3]
            checks += await verify(
                PLAN, client, contracts, mailbox, faults, live_url, prefix, replicas.stack
            )
            for name in replicas.names:  # every replica back, those of the killed node too
                await replicas.stack.wait_ready(name, timeout=120)
            counters = await replicas.counters()
            checks += spread_checks(counters)
            exited = replicas.exited()
            checks.append(
                Check("no replica exited", "none", ", ".join(exited) or "none", not exited)
            )
        finally:
            if client is not None:
                await client.close()
            replicas.stop()
    print(
        f"\ncluster formed in {formed}, stack up by {started}, node {victim_node} killed; "
        f"hours exact {converged:.0f} s after the kill; done in {timer} (seed {seed})"
    )
    print("leaders before:", before)
    print("leaders after: ", after)
    print(counters_table(counters))
    print(checks_table(checks))
    assert all(c.ok for c in checks), f"logs in {tmp_path / 'log'}\n{checks_table(checks)}"
