"""Service-level stages fire once while the tickets service is SIGKILLed at random points and
restarted: tickets on a bespoke 24×7 level of 1 minute (first response) and 2 minutes
(resolution) cross their 50 %, 75 % and breach instants while the service dies and comes
back; each stage of each ticket, metric and cycle is announced by one event (one envelope
id: a copy the relay sends again after a crash is the same event, which consumers drop by
its id), every breach is announced, and a stage passed over during a downtime is kept as
fired (the catch-up announces only the highest).

The kill points are random but seeded: the seed is printed (``-s`` shows it, a failure names
it), and ``BURNRATE_CRASH_SEED=<seed>`` replays the same schedule.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import time
import uuid
from collections import defaultdict
from typing import Any

import httpx
import pytest
from burnrate_testing import AUTH, EventProbe, eventually

pytestmark = pytest.mark.e2e

TICKETS = 6
KILLS = 4
METRICS = ("first_response", "resolution")
STAGES = [50, 75, 100]


def schedule(rng: random.Random) -> list[tuple[float, float]]:
    """(seconds alive before the kill, seconds down before the restart) per kill."""
    return [
        (rng.uniform(5.0, 30.0), rng.choice([0.0, rng.uniform(0.0, 4.0)])) for _ in range(KILLS)
    ]


async def call(
    client: httpx.AsyncClient, method: str, url: str, timeout: float = 90, **kwargs: object
) -> dict:
    """Retried while the service is down (connection refused, 5xx while starting)."""

    async def attempt() -> Any:
        try:
            response = await client.request(method, url, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError:
            return None
        if response.status_code >= 500:
            return None
        assert response.status_code < 300, response.text
        return response.json()

    return await eventually(attempt, timeout=timeout, interval=0.2)


async def test_stages_fire_once_while_tickets_is_killed_at_random(stack, amqp_url):
    seed = int(os.environ.get("BURNRATE_CRASH_SEED") or random.SystemRandom().randrange(1 << 32))
    print(f"crash schedule seed: {seed} (BURNRATE_CRASH_SEED={seed} replays it)")
    plan = schedule(random.Random(seed))
    probe = EventProbe(amqp_url, stack.env["BURNRATE_AMQP_PREFIX"])
    await probe.start("sla.*")
    contracts, tickets = stack.url("contracts"), stack.url("tickets")
    today = dt.datetime.now(dt.UTC).date()
    killed: list[float] = []
    started = time.monotonic()
    try:
        async with httpx.AsyncClient(headers=AUTH, timeout=10) as client:
            customer = await call(
                client, "POST", f"{contracts}/v1/customers", json={"name": "Acme Dental"}
            )
            contract = await call(
                client,
                "POST",
                f"{contracts}/v1/contracts",
                json={
                    "customer_id": customer["id"],
                    "code": f"FAST-{uuid.uuid4().hex[:6].upper()}",
                    "title": "Acme Dental: a fast level",
                    "owner_email": "owner@msp.example",
                    "start_date": (today - dt.timedelta(days=31)).isoformat(),
                    "end_date": (today + dt.timedelta(days=365)).isoformat(),
                    "timezone": "UTC",
                    "planned_hours": 40,
                    "service_levels": [
                        {
                            "effective_from": today.isoformat(),
                            "bespoke": {
                                "name": "fast",
                                "targets": [
                                    {
                                        "metric": "first_response",
                                        "priority": "P1",
                                        "minutes": 1,
                                        "calendar": "24x7",
                                    },
                                    {
                                        "metric": "resolution",
                                        "priority": "P1",
                                        "minutes": 2,
                                        "calendar": "24x7",
                                    },
                                ],
                                "at_risk_percents": [50, 75],
                            },
                        }
                    ],
                },
            )

            async def level_known() -> bool:
                response = await client.get(
                    f"{tickets}/v1/service-levels/due",
                    params={"contract_id": contract["id"], "priority": "P1"},
                )
                return response.status_code == 200 and response.json()["level"] == "fast"

            await eventually(level_known, timeout=30)

            async def chaos() -> None:
                for alive, down in plan:
                    await asyncio.sleep(alive)
                    stack.kill("tickets")  # SIGKILL: whatever it was doing
                    killed.append(round(time.monotonic() - started, 1))
                    await asyncio.sleep(down)
                    stack.start("tickets")
                    if down:  # else a kill may land in the start-up (migrations, catch-up)
                        await stack.wait_ready("tickets")
                await stack.wait_ready("tickets")

            chaos_task = asyncio.create_task(chaos())
            ids: list[str] = []
            for n in range(TICKETS):
                opened_at = dt.datetime.now(dt.UTC)
                ticket = await call(
                    client,
                    "POST",
                    f"{tickets}/v1/tickets",
                    json={
                        "reference": f"CRASH-{n}",
                        "contract_id": contract["id"],
                        "priority": "P1",
                        "opened_at": opened_at.isoformat(),
                    },
                )
                ids.append(ticket["id"])
                await asyncio.sleep(4)
            await chaos_task
            context = f"seed {seed}, kills at {killed} s, service logs in {stack.log_dir}"

            def announced() -> dict[tuple[str, str, int, int], set[str]]:
                keys: dict[tuple[str, str, int, int], set[str]] = defaultdict(set)
                for e in probe.events:
                    key = (e.data["ticket_id"], e.data["metric"], e.data["cycle"], e.data["stage"])
                    keys[key].add(str(e.id))
                    assert e.type.value == ("sla.breached" if key[3] == 100 else "sla.at_risk")
                return keys

            async def every_breach() -> bool:
                keys = announced()
                return all((t, m, 1, 100) in keys for t in ids for m in METRICS)

            await eventually(every_breach, timeout=180, interval=1)
            await asyncio.sleep(3)  # anything announced twice would arrive by now
            keys = announced()
            twice = {k: v for k, v in keys.items() if len(v) > 1}
            assert not twice, f"stages announced more than once: {twice}; {context}"
            assert {k[0] for k in keys} == set(ids), context
            for ticket_id in ids:
                sla = await call(client, "GET", f"{tickets}/v1/tickets/{ticket_id}/sla")
                for metric in sla["metrics"]:
                    # every stage fired once; the ones announced are among them
                    assert metric["stages_fired"] == STAGES, (ticket_id, metric, context)
                    assert metric["breached"] is True and metric["cycle"] == 1
                    mine = sorted(
                        k[3]
                        for k in keys
                        if k[0] == ticket_id and k[1] == metric["metric"] and k[2] == 1
                    )
                    assert mine and mine[-1] == 100, (ticket_id, metric["metric"], mine, context)
            assert len(killed) == KILLS, context
            print(
                f"{len(keys)} stages announced for {TICKETS} tickets "
                f"({len(probe.events)} messages), kills at {killed} s"
            )
    finally:
        await probe.close()
