"""One status rule for reporting and contracts (``burnrate_common.contract_status``): a
contract ending exactly ``expiring_within_days`` days from today is expiring, on the screen
(every way it is read), in its filters, in the delivery report and in the metrics; and the
rule's SQL twins agree with the shared table of cases."""

import datetime as dt
import uuid

import asyncpg
import pytest
from burnrate_common.clock import FixedClock
from burnrate_common.contract_status import derive_status
from burnrate_reporting.bootstrap import build
from burnrate_reporting.settings import ReportingSettings
from burnrate_reporting.store import screen
from burnrate_testing import CONTRACT_STATUS_CASES, eventually, publish, serve
from prometheus_client.parser import text_string_to_metric_families

from .test_screen import UTC, D, contract, handled, same_screen_every_way

pytestmark = pytest.mark.integration

WINDOW = 30
NOW = dt.datetime(2026, 3, 15, 12, 0, tzinfo=UTC)  # 13:00 on 15 March in Amsterdam
TODAY = D(2026, 3, 15)


async def contracts_gauge(api):
    text = (await api.get("/metrics")).text
    return {
        s.labels["status"]: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "burnrate_reporting_contracts"
    }


async def test_a_contract_ending_exactly_the_window_away_is_expiring(isolation):
    clock = FixedClock(NOW)
    settings = isolation.settings(
        ReportingSettings,
        expiring_within_days=WINDOW,
        reporting_metrics_seconds=0.1,
        reporting_screen_refresh_seconds=3600,
    )
    customer, edge, beyond = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    start = D(2026, 1, 1)
    events = [
        contract(
            edge,
            customer,
            "EDGE",
            start=start,
            end=TODAY + dt.timedelta(days=WINDOW),
            timezone="Europe/Amsterdam",
        ),
        contract(
            beyond,
            customer,
            "BEYOND",
            start=start,
            end=TODAY + dt.timedelta(days=WINDOW + 1),
            timezone="Europe/Amsterdam",
        ),
    ]
    async with serve(build(settings, clock=clock)) as api:
        await publish(isolation.amqp_url, isolation.amqp_prefix, *events)
        await handled(api, len(events))

        # As stored, refreshed, and computed at read time: the same statuses and filters.
        by_code, by_status = await same_screen_every_way(api, clock)
        assert {code: item["status"] for code, item in by_code.items()} == {
            "BEYOND": "active",
            "EDGE": "expiring",
        }
        assert by_code["EDGE"]["days_left"] == WINDOW + 1  # today included
        assert (by_status["expiring"], by_status["active"]) == (["EDGE"], ["BEYOND"])
        indexed = await api.get("/v1/contracts", params={"status": "expiring", "sort": "-percent"})
        assert [i["code"] for i in indexed.json()["items"]] == ["EDGE"]

        report = (await api.get(f"/v1/contracts/{edge}/report")).json()
        assert report["contract"]["status"] == "expiring"

        async def counted():
            gauge = await contracts_gauge(api)
            assert (gauge.get("expiring"), gauge.get("active")) == (1.0, 1.0), gauge
            return gauge

        await eventually(counted)


#: The shared cases reporting can meet: it keeps no drafts nor closed contracts.
ACTIVE_CASES = [case[1:] for case in CONTRACT_STATUS_CASES if case[0] == "active"]


@pytest.fixture
async def db(database_url):
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


@pytest.mark.parametrize(("start", "end", "today", "window", "exhausted", "expected"), ACTIVE_CASES)
async def test_the_sql_twins_agree_with_the_shared_rule(
    db, start, end, today, window, exhausted, expected
):
    assert (
        derive_status(
            start_date=start,
            end_date=end,
            today=today,
            expiring_within_days=window,
            exhausted=exhausted,
        )
        == expected
    )
    # Exhausted: executed at plan; otherwise below it, or no current period at all.
    plans = [(40, 40)] if exhausted else [(40, 39), (None, None)]
    for planned, executed in plans:
        row = await db.fetchrow(
            f"""SELECT {screen.STATUS_SQL.format(days="$6")} AS listed,
                       {screen.FRESH_STATUS_SQL.format(days="$6")} AS fresh,
                       {screen.FRESH_PREFILTER["expiring"].format(days="$6")} AS maybe_expiring,
                       {screen.FRESH_PREFILTER["exhausted"]} AS maybe_exhausted
                FROM (SELECT $1::date AS local_today, $1::date AS local_date,
                             $2::date AS start_date, $3::date AS end_date,
                             $4::bigint AS planned_seconds, $5::bigint AS executed_seconds) s""",
            today,
            start,
            end,
            planned,
            executed,
            window,
        )
        assert (row["listed"], row["fresh"]) == (expected, expected), (planned, executed)
        # The index conditions never leave out a contract of their status.
        if expected == "expiring":
            assert row["maybe_expiring"]
        if expected == "exhausted":
            assert row["maybe_exhausted"]
