"""Billing at scale: reading a statement of ``--lines`` lines (default 10,000), re-rating a
period after a rate change, the cost of one worklog event on a contract that size, and the
printable PDF of that statement. Each against a baseline measured in the same run.

One billed contract (scenario 5's terms: €50.00/h, night 22:00–06:00 ×1.5, Europe/Amsterdam,
5 h allowance) with ``--lines`` worklogs of 30 minutes in March 2026, a quarter of them at
night, loaded by COPY into billing's worklog replica and rated once. Then, in-process
through the HTTP API (FastAPI + asyncpg, no network), ``--runs`` times each:

  statement read        GET /v1/statements/{id}, every line
    baseline:           SELECT * FROM statement_lines of that statement (the same rows)
  re-rate               the contract's rate changes (50 → 60 → 50 …); POST …/rerate
    baseline:           SELECT of the contract's worklog rows (what re-rating reads)
  one worklog event     a worklog.corrected of one worklog, as the consumer handles it
                        (replica upsert + re-computing the contract's open statements)
  PDF                   GET /v1/statements/{id}.pdf (fewer runs)

    uv run python bench/billing.py [--lines 10000] [--runs 50]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
from burnrate_billing.bootstrap import build
from burnrate_billing.service import compute, replica
from burnrate_billing.settings import BillingSettings
from burnrate_common.app import create_app
from burnrate_common.clock import FixedClock
from burnrate_common.contract_terms import BillingTerms, RateRow, ShiftWindow
from burnrate_common.events import ContractChanged, ContractPeriod, Rollover, Worklog
from burnrate_testing import delete_broker_objects

NOW = dt.datetime(2026, 3, 20, 12, 0, tzinfo=dt.UTC)
AMS = ZoneInfo("Europe/Amsterdam")
KEY = "bench-admin-key"
MARCH = (dt.date(2026, 3, 1), dt.date(2026, 3, 31))


def terms(rate: str) -> BillingTerms:
    return BillingTerms(
        base_rate=Decimal(rate),
        rows=[
            RateRow(id="all", amount=Decimal(rate)),
            RateRow(id="night", shift="night", mode="multiply", amount=Decimal("1.5")),
        ],
        shifts=[
            ShiftWindow(
                name="night", weekdays=[1, 2, 3, 4, 5, 6, 7], start=dt.time(22), end=dt.time(6)
            )
        ],
        vat_rate=Decimal("0.21"),
    )


def contract(contract_id: uuid.UUID, rate: str) -> ContractChanged:
    return ContractChanged(
        id=contract_id,
        customer_id=uuid.uuid4(),
        code="BENCH",
        title="Bench",
        owner_email="owner@msp.example",
        start_date=MARCH[0],
        end_date=dt.date(2026, 4, 30),
        timezone="Europe/Amsterdam",
        period="monthly",
        planned_hours=Decimal(5),
        teams=["servicedesk"],
        work_accounts=[],
        periods=[
            ContractPeriod(start_date=MARCH[0], end_date=MARCH[1], planned_seconds=5 * 3600),
            ContractPeriod(
                start_date=dt.date(2026, 4, 1),
                end_date=dt.date(2026, 4, 30),
                planned_seconds=5 * 3600,
            ),
        ],
        allowance_policy="overage_allowed",
        rollover=Rollover(),
        billing=terms(rate),
    )


def worklog_rows(contract_id: uuid.UUID, count: int) -> list[tuple[Any, ...]]:
    rows = []
    for n in range(count):
        day = 1 + n % 31
        hour = (8, 10, 14, 23)[n % 4]  # a quarter at night
        started = dt.datetime(2026, 3, day, hour, (n // 31) % 4 * 15, tzinfo=AMS)
        rows.append(
            (uuid.uuid4(), contract_id, MARCH[0], started, 1800, f"tech{n % 20}", "servicedesk",
             ("phone support", "on-site repair", "maintenance")[n % 3],
             ("service desk", "site A", "site B")[n % 3], str(100 + n % 50), 1, False)
        )  # fmt: skip
    return rows


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000


async def timed(runs: int, call: Callable[[], Awaitable[Any]]) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return samples


def report(name: str, samples: list[float], baseline: list[float]) -> None:
    p50, p99 = percentiles(samples)
    b50, b99 = percentiles(baseline)
    print(
        f"{name:<22} p50 {p50:8.1f} ms  p99 {p99:8.1f} ms   baseline p50 {b50:6.1f} ms "
        f"p99 {b99:6.1f} ms   ratio p50 ×{p50 / b50:.1f}"
    )


async def main(lines: int, runs: int) -> None:
    tag = uuid.uuid4().hex[:8]
    settings = BillingSettings(
        database_schema=f"bench_billing_{tag}", amqp_prefix=f"bench-{tag}", bootstrap_api_key=KEY
    )
    definition = build(settings, clock=FixedClock(NOW))
    deps = definition.deps
    app = create_app(definition)
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    try:
        pool = app.state.runtime.pool
        contract_id = uuid.uuid4()
        async with pool.acquire() as conn:
            await replica.record_contract(
                conn, deps, contract(contract_id, "50.00"), changed_at=NOW
            )
            rows = worklog_rows(contract_id, lines)
            started = time.perf_counter()
            await conn.copy_records_to_table(
                "worklogs",
                records=rows,
                columns=["id", "contract_id", "period_start", "started_at", "seconds", "author",
                         "team", "activity", "location", "ticket", "version", "deleted"],
            )  # fmt: skip
            copied = time.perf_counter() - started
            started = time.perf_counter()
            async with conn.transaction():
                await compute.refresh(conn, deps, contract_id, actor="bench", cause="load")
            rated = time.perf_counter() - started
            await conn.execute("ANALYZE")
            statement_id = await conn.fetchval(
                "SELECT id FROM statements WHERE contract_id = $1 AND period_start = $2",
                contract_id,
                MARCH[0],
            )
            count = await conn.fetchval(
                "SELECT count(*) FROM statement_lines WHERE statement_id = $1", statement_id
            )
        print(
            f"{lines} worklogs copied in {copied * 1000:.0f} ms; rated into {count} lines in "
            f"{rated * 1000:.0f} ms ({rated / lines * 1e6:.0f} µs per worklog)"
        )

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://bench",
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=300,
        ) as api:

            async def read() -> None:
                response = await api.get(f"/v1/statements/{statement_id}")
                assert response.status_code == 200 and len(response.json()["lines"]) == count

            async def select_lines() -> None:
                async with pool.acquire() as c:
                    await c.fetch(
                        "SELECT * FROM statement_lines WHERE statement_id = $1 ORDER BY position",
                        statement_id,
                    )

            await read()
            baseline = await timed(runs, select_lines)
            report("statement read", await timed(runs, read), baseline)

            rates = iter(["60.00", "50.00"] * runs)
            when = [NOW]

            async def rerate() -> None:
                when[0] += dt.timedelta(seconds=1)
                async with pool.acquire() as c:
                    await replica.record_contract(
                        c, deps, contract(contract_id, next(rates)), changed_at=when[0]
                    )
                response = await api.post(
                    f"/v1/statements/{statement_id}/rerate", json={"reason": "bench"}
                )
                assert response.status_code == 200, response.text

            async def select_worklogs() -> None:
                async with pool.acquire() as c:
                    await c.fetch(
                        "SELECT * FROM worklogs WHERE contract_id = $1 AND NOT deleted", contract_id
                    )

            rerate_runs = max(runs // 5, 3)
            baseline = await timed(rerate_runs, select_worklogs)
            report("re-rate after a change", await timed(rerate_runs, rerate), baseline)

            versions = iter(range(2, 10_000))
            first = rows[0]

            async def one_event() -> None:
                version = next(versions)
                log = Worklog(
                    id=first[0], source="api", external_id=first[0].hex, contract_id=contract_id,
                    period_start=MARCH[0], author=first[5], team=first[6], activity=first[7],
                    location=first[8], started_at=first[3], seconds=1800 + 60 * (version % 2),
                    outside_dates=False, ticket=first[9], version=version,
                )  # fmt: skip
                async with pool.acquire() as c:
                    await replica.record_worklogs(c, deps, [log], deleted=False, cause="bench")

            async def upsert_only() -> None:
                async with pool.acquire() as c:
                    await c.execute(
                        "UPDATE worklogs SET updated_at = now() WHERE id = $1", first[0]
                    )

            baseline = await timed(rerate_runs, upsert_only)
            event = await timed(rerate_runs, one_event)
            report("one worklog event", event, baseline)
            p50 = percentiles(event)[0]
            print(
                f"  → at this size one event costs {p50:.0f} ms: {1000 / p50:.1f} worklog events "
                "per second per contract (each re-computes the contract's open statements)"
            )

            async def pdf() -> None:
                response = await api.get(f"/v1/statements/{statement_id}.pdf")
                assert response.status_code == 200

            pdf_runs = 3
            report("statement PDF", await timed(pdf_runs, pdf), await timed(pdf_runs, read))
            print("  (the PDF's baseline is the JSON read of the same statement)")
    finally:
        await lifespan.__aexit__(None, None, None)
        conn = await asyncpg.connect(settings.database_url)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{settings.db_schema}" CASCADE')
        finally:
            await conn.close()
        await delete_broker_objects(settings.amqp_url, settings.amqp_prefix)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--lines", type=int, default=10_000, help="worklogs (= lines) in the statement"
    )
    parser.add_argument("--runs", type=int, default=50, help="timed runs per measurement")
    args = parser.parse_args()
    asyncio.run(main(args.lines, args.runs))
