"""Reporting reads at scale: the contract screen and a 24-month delivery report, against a
plain SQL aggregate over the raw worklog rows measured in the same run.

Load (straight into the read models, not through the bus: this measures the reads):
``--contracts`` contracts of 24 monthly periods (Jan 2025 to Dec 2026, some ending in June
2026 so the screen has every status) for 500 customers, and ``--worklogs`` raw worklog rows
(3 teams, 4 activities, 20 people, over the 18 periods up to "today", 15 June 2026) in a
bench table; the read models (``consumption``, ``period_totals``, ``consumption_by_author``)
are their GROUP BY, as the handlers would have summed the deltas.

The contract screen rows (``contract_screen``, each contract's current period as of its
local date) are computed once after the load, as the screen task does at local midnight;
that refresh is timed too.

Measured through the service's HTTP API in-process (FastAPI + asyncpg, no network):
  screen first page (50, default order) · screen filtered (status=active; status=expired,
  which no contract is, so every one is visited) · screen sorted (sort=-percent,
  sort=customer) · screen searched (q=) · a 24-month delivery report of a random contract; then, with the clock moved a day on and no row refreshed yet (the worst
  moment: every contract computed at read time), the first page and the filtered screen.
Baselines, the same number of times on the same connection pool:
  the first page's 50 contracts' current-period sums from the raw rows · one contract's
  executed seconds per period and team from the raw rows (what a report would aggregate).

    uv run python bench/reporting.py [--contracts 10000] [--worklogs 5000000] [--runs 200]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import statistics
import time
import uuid

import asyncpg
import httpx
from burnrate_common.app import create_app
from burnrate_common.clock import FixedClock
from burnrate_reporting.bootstrap import build
from burnrate_reporting.service import upkeep
from burnrate_reporting.settings import ReportingSettings
from burnrate_reporting.store import projections
from burnrate_testing import delete_broker_objects

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)
KEY = "bench-admin-key"


async def load(conn: asyncpg.Connection, contracts: int, worklogs: int) -> None:
    await conn.execute(
        """INSERT INTO customers (id, name, version_at)
           SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid,
                  'Customer ' || n, now()
           FROM generate_series(1, 500) n"""
    )
    await conn.execute(
        """INSERT INTO contracts (id, customer_id, code, title, owner_email, start_date,
                                  end_date, timezone, period, planned_hours, created_at,
                                  version_at)
           SELECT ('10000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid,
                  ('00000000-0000-4000-8000-' || lpad(to_hex(n % 500 + 1), 12, '0'))::uuid,
                  'C-' || lpad(n::text, 6, '0'), 'Contract ' || n, 'owner@msp.example',
                  date '2025-01-01',
                  CASE WHEN n % 10 = 0 THEN date '2026-06-30' ELSE date '2026-12-31' END,
                  CASE WHEN n % 3 = 0 THEN 'Pacific/Auckland' ELSE 'Europe/Amsterdam' END,
                  'monthly', 40, timestamptz '2025-01-01' + n * interval '1 second', now()
           FROM generate_series(1, $1) n""",
        contracts,
    )
    await conn.execute(
        """INSERT INTO contract_periods (contract_id, start_date, end_date, planned_seconds)
           SELECT c.id, m::date, least((m + interval '1 month - 1 day')::date, c.end_date),
                  144000
           FROM contracts c,
                generate_series(timestamp '2025-01-01', timestamp '2026-12-01', '1 month') m
           WHERE m::date <= c.end_date"""
    )
    await conn.execute(
        """CREATE TABLE bench_worklogs (contract_id uuid NOT NULL, period_start date NOT NULL,
               team text NOT NULL, activity text NOT NULL, author text NOT NULL,
               seconds bigint NOT NULL)"""
    )
    await conn.execute(
        """CREATE TEMP TABLE ids AS
           SELECT row_number() OVER (ORDER BY created_at) - 1 AS n, id FROM contracts"""
    )
    await conn.execute("CREATE INDEX ON ids (n)")
    await conn.execute(
        """INSERT INTO bench_worklogs
           SELECT i.id, (date '2025-01-01' + ((g / $2) % 18) * interval '1 month')::date,
                  (ARRAY['servicedesk', 'field', 'network'])[g % 3 + 1],
                  (ARRAY['phone_support', 'on_site_repair', 'maintenance', 'remote'])[g % 4 + 1],
                  'tech' || (g % 20), 600 + (g::bigint * 7919) % 9000
           FROM generate_series(0, $1 - 1) g JOIN ids i ON i.n = g % $2""",
        worklogs,
        contracts,
    )
    await conn.execute("CREATE INDEX ON bench_worklogs (contract_id, period_start)")
    await conn.execute(
        """INSERT INTO consumption
           SELECT contract_id, period_start, team, activity, sum(seconds), count(*), 0
           FROM bench_worklogs GROUP BY 1, 2, 3, 4"""
    )
    await conn.execute(
        """INSERT INTO period_totals
           SELECT contract_id, period_start, sum(seconds), count(*), 0
           FROM bench_worklogs GROUP BY 1, 2"""
    )
    await conn.execute(
        """INSERT INTO consumption_by_author
           SELECT contract_id, period_start, author, sum(seconds), count(*)
           FROM bench_worklogs GROUP BY 1, 2, 3"""
    )
    await conn.execute("ANALYZE")


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000


async def timed(runs: int, call) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return samples


async def main(contracts: int, worklogs: int, runs: int) -> None:
    tag = uuid.uuid4().hex[:8]
    settings = ReportingSettings(
        database_schema=f"bench_reporting_{tag}",
        amqp_prefix=f"bench-{tag}",
        bootstrap_api_key=KEY,
        # The bench refreshes the screen rows itself, when it means to.
        reporting_screen_refresh_seconds=86400,
    )
    clock = FixedClock(NOW)
    definition = build(settings, clock=clock)
    app = create_app(definition)
    schema = settings.db_schema
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    try:
        pool = app.state.runtime.pool
        started = time.perf_counter()
        async with pool.acquire() as conn:
            await load(conn, contracts, worklogs)
            rows = await conn.fetchval("SELECT count(*) FROM bench_worklogs")
            read_rows = await conn.fetchval("SELECT count(*) FROM consumption")
            refresh_started = time.perf_counter()
            await projections.refresh_screen(conn, NOW, None)
            refresh_all = time.perf_counter() - refresh_started
            await conn.execute("ANALYZE contract_screen")
            ids = [
                r["id"]
                for r in await conn.fetch(
                    "SELECT id FROM contracts WHERE end_date = date '2026-12-31'"
                )
            ]
        print(
            f"loaded {contracts} contracts, {rows} worklog rows ({read_rows} consumption rows) "
            f"in {time.perf_counter() - started:.1f} s; screen rows computed in "
            f"{refresh_all * 1000:.0f} ms"
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", headers={"Authorization": f"Bearer {KEY}"}
        ) as api:

            def get(path: str, **params):
                async def call():
                    response = await api.get(path, params=params)
                    assert response.status_code == 200, response.text
                    return response.json()

                return call

            rng = random.Random(7)  # noqa: S311 (picks contracts, not secrets)

            async def report():
                contract = rng.choice(ids)
                response = await api.get(
                    f"/v1/contracts/{contract}/report", params={"from": "2025-01", "to": "2026-12"}
                )
                assert response.status_code == 200, response.text
                assert len(response.json()["periods"]) == 24

            first_page = await get("/v1/contracts", limit=50)()
            page_ids = [uuid.UUID(i["id"]) for i in first_page["items"]]
            statuses = {i["status"] for i in (await get("/v1/contracts", limit=500)())["items"]}

            async def baseline_screen():
                async with pool.acquire() as conn:
                    await conn.fetch(
                        """SELECT contract_id, sum(seconds) FROM bench_worklogs
                           WHERE contract_id = any($1::uuid[]) AND period_start = $2
                           GROUP BY contract_id""",
                        page_ids,
                        dt.date(2026, 6, 1),
                    )

            async def baseline_report():
                async with pool.acquire() as conn:
                    await conn.fetch(
                        """SELECT period_start, team, sum(seconds) FROM bench_worklogs
                           WHERE contract_id = $1 GROUP BY 1, 2""",
                        rng.choice(ids),
                    )

            # Warm up caches and plans, then measure.
            for call in (get("/v1/contracts", limit=50), report, baseline_screen, baseline_report):
                await timed(10, call)
            results = {
                "screen, first page": await timed(runs, get("/v1/contracts", limit=50)),
                "screen, status=active": await timed(
                    runs, get("/v1/contracts", limit=50, status="active")
                ),
                "screen, status=expired": await timed(
                    runs, get("/v1/contracts", limit=50, status="expired")
                ),
                "screen, sort=-percent": await timed(
                    runs, get("/v1/contracts", limit=50, sort="-percent")
                ),
                "screen, sort=customer": await timed(
                    runs, get("/v1/contracts", limit=50, sort="customer")
                ),
                "screen, q=search": await timed(runs, get("/v1/contracts", limit=50, q="ract 12")),
                "report, 24 months": await timed(runs, report),
            }
            base_screen = percentiles(await timed(runs, baseline_screen))
            base_report = percentiles(await timed(runs, baseline_report))
            # A day later, before the screen task ran: every row stale, every contract
            # computed at read time (still right, only slower).
            clock.set(NOW + dt.timedelta(days=1))
            stale_runs = max(runs // 4, 10)
            results["stale rows, first page"] = await timed(
                stale_runs, get("/v1/contracts", limit=50)
            )
            results["stale rows, status=active"] = await timed(
                stale_runs, get("/v1/contracts", limit=50, status="active")
            )
            async with pool.acquire() as conn:
                refresh_started = time.perf_counter()
                refreshed = await upkeep.refresh_screen(conn, clock.now())
                refresh_due = time.perf_counter() - refresh_started
        print(f"statuses on the first 500 rows: {sorted(statuses)}")
        print(
            f"screen task after the date rolled over: {refreshed} rows in "
            f"{refresh_due * 1000:.0f} ms ({upkeep.SCREEN_BATCH} a transaction)"
        )
        print(f"{'read':28} {'p50 ms':>8} {'p99 ms':>8} {'p50 ratio':>10} {'p99 ratio':>10}")
        for name, samples in results.items():
            p50, p99 = percentiles(samples)
            base = base_report if name.startswith("report") else base_screen
            print(f"{name:28} {p50:8.2f} {p99:8.2f} {p50 / base[0]:10.2f} {p99 / base[1]:10.2f}")
        print(f"{'baseline: screen from raw':28} {base_screen[0]:8.2f} {base_screen[1]:8.2f}")
        print(f"{'baseline: report from raw':28} {base_report[0]:8.2f} {base_report[1]:8.2f}")
    finally:
        await lifespan.__aexit__(None, None, None)
        admin = await asyncpg.connect(settings.database_url)
        try:
            await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await admin.close()
        await delete_broker_objects(settings.amqp_url, settings.amqp_prefix)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contracts", type=int, default=10_000)
    parser.add_argument("--worklogs", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.contracts, args.worklogs, args.runs))
