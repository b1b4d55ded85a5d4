"""Reports split by location: ``consumption.recorded`` lines carry where the work was done
(``ConsumptionLine.location``); reporting sums them per contract period and location
(``consumption_by_location``) and shows the split in the consumption and the delivery report,
in the report's CSV and page; a location not said is a share of its own (null)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
from pathlib import Path

import pytest
from burnrate_common import db
from burnrate_common.clock import FixedClock
from burnrate_common.events import (
    ConsumptionLine,
    ConsumptionRecorded,
    ContractChanged,
    ContractPeriod,
    CustomerChanged,
    EventType,
    PeriodConsumptionRecorded,
    new_event,
)
from burnrate_common.runtime import migrate
from burnrate_reporting import migrations
from burnrate_reporting.bootstrap import build
from burnrate_reporting.service.rebuild import rebuild
from burnrate_reporting.settings import ReportingSettings
from burnrate_reporting.store.compaction import compact_consumption_events
from burnrate_testing import eventually, publish, serve

pytestmark = pytest.mark.integration

H = 3600
MARCH, APRIL = dt.date(2026, 3, 1), dt.date(2026, 4, 1)
END = {MARCH: dt.date(2026, 3, 31), APRIL: dt.date(2026, 4, 30)}


@pytest.fixture
def definition(isolation):
    settings = isolation.settings(ReportingSettings)
    return build(settings, clock=FixedClock(dt.datetime(2026, 4, 15, 12, 0, tzinfo=dt.UTC)))


def line(location, hours, worklogs=1, *, team="field", author="tech1"):
    return ConsumptionLine(
        team=team,
        activity="repair",
        author=author,
        delta_seconds=hours * H,
        delta_worklogs=worklogs,
        location=location,
    )


def consumption(contract_id, period_start, *lines):
    return new_event(
        EventType.CONSUMPTION_RECORDED,
        PeriodConsumptionRecorded(
            contract_id=contract_id,
            period_start=period_start,
            period_end=END[period_start],
            lines=list(lines),
        ),
        key=contract_id,
        producer="worklog-ingest",
    )


def contract_events(contract_id, customer_id):
    customer = CustomerChanged(id=customer_id, name="Acme", contacts=[])
    contract = ContractChanged(
        id=contract_id,
        customer_id=customer_id,
        code="LOC-1",
        title="Acme sites",
        owner_email="owner@msp.example",
        start_date=MARCH,
        end_date=END[APRIL],
        timezone="Europe/Amsterdam",
        period="monthly",
        planned_hours=40,
        teams=["field"],
        work_accounts=[],
        periods=[
            ContractPeriod(start_date=start, end_date=END[start], planned_seconds=40 * H)
            for start in (MARCH, APRIL)
        ],
    )
    return [
        new_event(EventType.CUSTOMER_CREATED, customer, key=customer_id, producer="contracts"),
        new_event(EventType.CONTRACT_CREATED, contract, key=contract_id, producer="contracts"),
    ]


def located(items):
    return [(i["location"], i["executed_seconds"] // H, i["worklog_count"]) for i in items]


async def test_the_consumption_and_the_report_split_by_location(isolation, definition):
    contract_id, customer_id = uuid.uuid4(), uuid.uuid4()
    events = [
        *contract_events(contract_id, customer_id),
        consumption(
            contract_id,
            MARCH,
            line("site A", 3, 2),
            line("site A", 1, team="servicedesk"),  # another team, the same location
            line("site B", 2),
            line(None, 5),
        ),
        consumption(contract_id, APRIL, line("site B", 4)),
        # A correction moving an hour from site A to site B, in two lines of one event.
        consumption(contract_id, MARCH, line("site A", -1, -1), line("site B", 1, 1)),
        # Version 1 says no location.
        new_event(
            EventType.CONSUMPTION_RECORDED,
            ConsumptionRecorded(
                contract_id=contract_id,
                period_start=APRIL,
                period_end=END[APRIL],
                team="field",
                activity="repair",
                delta_seconds=H,
                delta_worklogs=1,
                author="tech2",
            ),
            key=contract_id,
            producer="worklog-ingest",
        ),
    ]
    async with serve(definition) as api:
        await publish(isolation.amqp_url, isolation.amqp_prefix, *events)

        async def april() -> dict:
            response = await api.get(
                f"/v1/contracts/{contract_id}/consumption", params={"period": "2026-04"}
            )
            body = response.json() if response.status_code == 200 else {}
            assert body.get("worklog_count") == 2, response.text
            return body

        assert located((await eventually(april))["by_location"]) == [
            ("site B", 4, 1),
            (None, 1, 1),
        ]
        march = (
            await api.get(f"/v1/contracts/{contract_id}/consumption", params={"period": "2026-03"})
        ).json()
        assert located(march["by_location"]) == [(None, 5, 1), ("site A", 3, 2), ("site B", 3, 2)]
        # The split adds up to the period's figures.
        assert sum(i["executed_seconds"] for i in march["by_location"]) == march["executed_seconds"]

        report = (
            await api.get(
                f"/v1/contracts/{contract_id}/report", params={"from": "2026-03", "to": "2026-04"}
            )
        ).json()
        assert located(report["by_location"]) == [
            ("site B", 7, 3),
            (None, 6, 2),
            ("site A", 3, 2),
        ]
        assert [s["percent"] for s in report["by_location"]] == [43.8, 37.5, 18.8]
        assert [located(p["by_location"]) for p in report["periods"]] == [
            located(march["by_location"]),
            [("site B", 4, 1), (None, 1, 1)],
        ]

        exported = await api.get(
            f"/v1/contracts/{contract_id}/report.csv",
            params={"from": "2026-03", "to": "2026-04", "section": "locations"},
        )
        assert exported.status_code == 200, exported.text
        rows = list(csv.reader(io.StringIO(exported.text)))
        assert rows[0] == ["location", "executed_hours", "worklogs", "percent"]
        assert [(r[0], r[2]) for r in rows[1:]] == [("site B", "3"), ("", "2"), ("site A", "2")]

    # The event log replays into the same sums.
    result = await rebuild(definition)
    assert result["differences"]["consumption_by_location"] == 0, result


async def test_sums_from_before_the_split_count_as_not_said(isolation, definition):
    """Migration 0007 fills the split with the period totals counted before it, as a
    location not said: what replaying those events (which say none) gives."""
    await migrate(definition)
    schema = definition.settings.db_schema
    contract_id = uuid.uuid4()
    pool = await db.create_pool(isolation.database_url, schema)
    try:
        async with pool.acquire() as conn:
            await conn.execute(
                """INSERT INTO period_totals (contract_id, period_start, executed_seconds,
                                              worklogs, outside_dates_seconds)
                   VALUES ($1, $2, 7200, 3, 0), ($1, $3, 0, 0, 0)""",
                contract_id,
                MARCH,
                APRIL,
            )
            # The state before migration 0007, then the migration again.
            await conn.execute("DROP TABLE consumption_by_location")
            sql = (
                Path(migrations.__file__).parent / "0007_consumption_by_location.sql"
            ).read_text()
            await conn.execute(sql)
            rows = await conn.fetch(
                """SELECT period_start, location, executed_seconds, worklogs
                   FROM consumption_by_location WHERE contract_id = $1 ORDER BY period_start""",
                contract_id,
            )
    finally:
        await pool.close()
    assert [tuple(r) for r in rows] == [(MARCH, "", 7200, 3), (APRIL, "", 0, 0)]


async def test_compaction_keeps_the_location(isolation, definition):
    """The event log's compaction sums lines per (team, activity, author, location)."""
    contract_id = uuid.uuid4()
    await migrate(definition)
    pool = await db.create_pool(isolation.database_url, definition.settings.db_schema)
    handlers = definition.handlers.bind(definition.deps, definition.wrap_handlers)
    try:
        async with pool.acquire() as conn:
            for event in (
                consumption(contract_id, MARCH, line("site A", 2), line(None, 1)),
                consumption(contract_id, MARCH, line("site A", 1), line("site B", 1)),
            ):
                async with conn.transaction():
                    await handlers[event.type](conn, event, event.payload())
            async with conn.transaction():
                assert await compact_consumption_events(conn, dt.datetime.now(dt.UTC)) == (2, 1)
            envelope = await conn.fetchval(
                "SELECT envelope FROM event_log WHERE type = 'consumption.recorded'"
            )
    finally:
        await pool.close()
    lines = (json.loads(envelope) if isinstance(envelope, str) else envelope)["data"]["lines"]
    assert [(x["location"], x["delta_seconds"] // H) for x in lines] == [
        ("site A", 3),
        ("site B", 1),
        (None, 1),
    ]
    result = await rebuild(definition)
    assert result["differences"]["consumption_by_location"] == 0, result
