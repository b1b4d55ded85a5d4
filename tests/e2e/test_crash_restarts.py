"""The 40-hour month while the rules and the notifier services are SIGKILLed at random points,
several times each, and restarted: exactly one alert per stage, no mail lost, none sent twice.

The kill points are random but seeded: the seed is printed (``-s`` shows it, a failure names
it), and ``BURNRATE_CRASH_SEED=<seed>`` replays the same schedule.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter, defaultdict

import httpx
import pytest
from burnrate_devstack import demo
from burnrate_notifier.sender import SMTP_CONNECTIONS
from burnrate_testing import AUTH, TEST_API_KEY, eventually

pytestmark = pytest.mark.e2e

VICTIMS = ("rules", "notifier")
KILLS_PER_VICTIM = 3
EXPECTED_MAILS = {
    (recipient, stage)
    for recipient in (demo.OWNER, demo.CUSTOMER_CONTACT)
    for stage in ("70", "90", "overage")
}


def schedule(rng: random.Random) -> list[tuple[str, float, float]]:
    """(victim, seconds alive before the kill, seconds down before the restart), shuffled so
    either service may go first and twice in a row."""
    kills = [v for v in VICTIMS for _ in range(KILLS_PER_VICTIM)]
    rng.shuffle(kills)
    return [(v, rng.uniform(0.0, 1.0), rng.choice([0.0, rng.uniform(0.0, 1.0)])) for v in kills]


async def test_rules_and_notifier_killed_at_random_points_keep_every_promise(stack, smtp_server):
    seed = int(os.environ.get("BURNRATE_CRASH_SEED") or random.SystemRandom().randrange(1 << 32))
    print(f"crash schedule seed: {seed} (BURNRATE_CRASH_SEED={seed} replays it)")
    plan = schedule(random.Random(seed))
    urls = {service: stack.url(service) for service in stack.ports}
    killed: list[tuple[str, float]] = []
    started = time.monotonic()

    async def chaos() -> None:
        for victim, alive, down in plan:
            await asyncio.sleep(alive)
            stack.kill(victim)  # SIGKILL: no shutdown hook, whatever it was doing
            killed.append((victim, round(time.monotonic() - started, 2)))
            await asyncio.sleep(down)
            stack.start(victim)
            # Not always waiting for readiness: a kill may also land in the start-up
            # (migrations, the clock's catch-up tick, the first consumed messages).
            if down or victim == plan[-1][0]:
                await stack.wait_ready(victim)
        for victim in VICTIMS:
            await stack.wait_ready(victim)

    chaos_task: asyncio.Task[None] | None = None

    async def after_worklog(n: int) -> None:
        nonlocal chaos_task
        if n == 0:  # the rule exists (the rules API is up for it); worklogs flow from here
            chaos_task = asyncio.create_task(chaos())

    played = await demo.play(urls, TEST_API_KEY, pause=0.4, after_worklog=after_worklog)
    assert chaos_task is not None
    await chaos_task
    context = f"seed {seed}, kills {killed}, service logs in {stack.log_dir}"
    assert len(killed) == len(VICTIMS) * KILLS_PER_VICTIM, context

    async def all_mails_and_sent():
        if len({m["Message-ID"] for m in smtp_server.messages}) < len(EXPECTED_MAILS):
            return None
        items = await demo.notifications(urls, TEST_API_KEY, played)
        return items if [n["state"] for n in items] == ["sent"] * len(items) else None

    sent = await eventually(all_mails_and_sent, timeout=60, interval=0.2)
    # Anything sent twice would arrive shortly after the first copies.
    await asyncio.sleep(3)

    # Exactly one alert per stage in the period (the unique key, whatever crashed when).
    async with httpx.AsyncClient(headers=AUTH, timeout=10) as client:
        response = await client.get(
            f"{stack.url('rules')}/v1/alerts", params={"contract_id": played.contract_id}
        )
    alerts = response.json()["items"]
    assert sorted(a["stage"] for a in alerts) == ["70", "90", "overage"], context
    assert {a["period_start"][:7] for a in alerts} == {played.period}, context

    # One delivery per recipient and stage, all sent; one distinct mail for each in the sink.
    assert len(sent) == len(EXPECTED_MAILS), context
    assert {(n["recipient"], n["stage"]) for n in sent} == EXPECTED_MAILS, context
    message_ids: dict[tuple[str, str], set[str]] = defaultdict(set)
    for m in smtp_server.messages:
        message_ids[(str(m["To"]), m["X-Burnrate-Stage"])].add(m["Message-ID"])
    assert set(message_ids) == EXPECTED_MAILS, context
    assert all(len(ids) == 1 for ids in message_ids.values()), (message_ids, context)
    assert {ids.pop() for ids in message_ids.values()} == {n["message_id"] for n in sent}
    # The resends a kill can cause: between the SMTP server's "250" and the commit that
    # records it. It is the same message (same Message-ID, receivers drop it), at most one
    # per open SMTP connection at each notifier kill. Anything else arriving twice is a bug.
    copies = Counter(m["Message-ID"] for m in smtp_server.messages)
    resent = sum(n - 1 for n in copies.values())
    notifier_kills = sum(1 for victim, _ in killed if victim == "notifier")
    assert resent <= notifier_kills * SMTP_CONNECTIONS, (copies, context)
    print(f"{len(killed)} kills at {killed}; {resent} resends of the same Message-ID")

    # The totals the alerts were computed from are exact after all the crashes.
    report = await eventually(
        lambda: _report_with(urls, played, executed_hours=60), timeout=30, interval=0.2
    )
    assert (report["planned_hours"], report["overage_hours"]) == (40, 20), context


async def _report_with(urls, played, *, executed_hours):
    report = await demo.report(urls, TEST_API_KEY, played)
    return report if report["executed_hours"] == executed_hours else None
