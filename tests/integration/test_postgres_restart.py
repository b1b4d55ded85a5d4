"""A PostgreSQL restart, fast or immediate, on a server of the test's own: every service goes
on by itself — no write acknowledged before it is lost, the totals converge, every service
is ready again — without a restart of its own."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest
from burnrate_testing import Isolation, delete_broker_objects, eventually
from burnrate_testing.servers import OwnPostgres, own_postgres
from test_across_services import Services, new_contract  # type: ignore[import-not-found]

pytestmark = pytest.mark.integration

SERVICES = ("contracts", "ingest", "rules", "reporting")
STARTED = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def postgres() -> Iterator[OwnPostgres]:
    with own_postgres() as server:
        yield server


@pytest.fixture
async def own_isolation(postgres: OwnPostgres, amqp_url: str) -> AsyncIterator[Isolation]:
    name = f"burnrate_restart_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(postgres.url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    isolation = Isolation(postgres.url.rsplit("/", 1)[0] + f"/{name}", amqp_url)
    yield isolation
    await delete_broker_objects(amqp_url, isolation.amqp_prefix)


class Poster:
    """Posts worklogs one after the other, retrying what was not acknowledged (a 503, or a
    connection refused while the server restarts), and counts what was acknowledged."""

    def __init__(self, ingest: httpx.AsyncClient, contract: dict) -> None:
        self.ingest = ingest
        self.contract = contract
        self.acknowledged_seconds = 0
        self.unavailable = 0
        self._numbers = itertools.count(1)

    async def post(self, seconds: int) -> None:
        n = next(self._numbers)
        body = {
            "source": "api",
            "external_id": f"restart-{n}",
            "work_account": self.contract["work_accounts"][0],
            "author": "tech1",
            "team": "servicedesk",
            "activity": "phone support",
            "started_at": (STARTED + dt.timedelta(minutes=n)).isoformat(),
            "seconds": seconds,
        }
        while True:
            response = await self.ingest.post("/v1/worklogs", json=body)
            if response.status_code in (200, 201, 202):
                break
            assert response.status_code == 503, response.text
            assert response.headers.get("retry-after")
            self.unavailable += 1
            await asyncio.sleep(0.2)
        self.acknowledged_seconds += seconds


async def _converged(services: Services, contract_id: str, seconds: int) -> None:
    async def agree() -> bool:
        reporting = await services.clients["reporting"].get(
            f"/v1/contracts/{contract_id}/consumption", params={"period": "2026-03"}
        )
        rules = await services.clients["rules"].get(f"/v1/contracts/{contract_id}/totals")
        assert reporting.status_code == 200, reporting.text
        assert rules.status_code == 200, rules.text
        by_rules = sum(p["executed_hours"] for p in rules.json()["periods"])  # 2 decimals
        by_reporting = reporting.json()["executed_seconds"]
        assert by_reporting == seconds, (by_reporting, seconds)
        assert by_rules == round(seconds / 3600, 2), (by_rules, seconds)
        return True

    await eventually(agree, timeout=90, interval=0.5)

    async def all_ready() -> bool:
        for name in SERVICES:
            response = await services.clients[name].get("/readyz")
            assert response.status_code == 200, (name, response.json())
        return True

    await eventually(all_ready, timeout=90, interval=0.5)


@pytest.mark.parametrize("mode", ["fast", "immediate"])
async def test_every_service_converges_after_a_postgres_restart(
    own_isolation: Isolation, postgres: OwnPostgres, mode: str
) -> None:
    async with Services(own_isolation, SERVICES) as services:
        contract = await new_contract(services.clients["contracts"])
        poster = Poster(services.clients["ingest"], contract)
        for _ in range(10):
            await poster.post(900)
        await _converged(services, contract["id"], poster.acknowledged_seconds)

        async def keep_posting() -> None:
            for _ in range(40):
                await poster.post(600)
                await asyncio.sleep(0.02)

        writer = asyncio.create_task(keep_posting())
        await asyncio.sleep(0.3)
        await asyncio.to_thread(postgres.restart, mode)
        with contextlib.suppress(asyncio.CancelledError):
            async with asyncio.timeout(120):
                await writer
        # Everything acknowledged counted once, in both read models, and every loop alive.
        await _converged(services, contract["id"], poster.acknowledged_seconds)
        for _ in range(5):  # and the flow goes on
            await poster.post(300)
        await _converged(services, contract["id"], poster.acknowledged_seconds)
