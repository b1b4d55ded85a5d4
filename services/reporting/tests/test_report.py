"""The delivery report, the contract screen's filters and sorts, the exports, the pages, the
customer links, the business metrics and the rebuild — fed by events over the real broker."""

import asyncio
import base64
import calendar
import contextlib
import csv
import datetime as dt
import io
import itertools
import json
import os
import shutil
import socket
import tempfile
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest
import uvicorn
from burnrate_common.app import create_app
from burnrate_common.clock import FixedClock
from burnrate_common.events import (
    AlertRaised,
    Audience,
    ConsumptionRecorded,
    ContractChanged,
    ContractPeriod,
    CustomerChanged,
    EventType,
    NotificationOutcome,
    Worklog,
    WorklogsChanged,
    new_event,
)
from burnrate_reporting.bootstrap import build
from burnrate_reporting.service.rebuild import rebuild
from burnrate_reporting.settings import ReportingSettings
from burnrate_testing import eventually, publish, serve
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect as ws_connect

pytestmark = pytest.mark.integration

H = 3600
D = dt.date
NOW = dt.datetime(2026, 3, 15, 12, 0, tzinfo=dt.UTC)
JAN, FEB, MAR = D(2026, 1, 1), D(2026, 2, 1), D(2026, 3, 1)
YEAR_END = D(2026, 12, 31)


def _add_months(anchor, months):
    year, month = divmod(anchor.month - 1 + months, 12)
    year, month = anchor.year + year, month + 1
    return D(year, month, min(anchor.day, calendar.monthrange(year, month)[1]))


def customer(customer_id, name):
    return new_event(
        EventType.CUSTOMER_CREATED,
        CustomerChanged(id=customer_id, name=name, contacts=[]),
        key=customer_id,
        producer="contracts",
    )


def contract(contract_id, customer_id, code, start=JAN, end=YEAR_END, hours=40):
    periods, n = [], 0
    while (first := _add_months(start, n)) <= end:
        last = min(_add_months(start, n + 1) - dt.timedelta(days=1), end)
        periods.append(ContractPeriod(start_date=first, end_date=last, planned_seconds=hours * H))
        n += 1
    payload = ContractChanged(
        id=contract_id,
        customer_id=customer_id,
        code=code,
        title=f"{code} support",
        owner_email="owner@msp.example",
        start_date=start,
        end_date=end,
        timezone="Europe/Amsterdam",
        period="monthly",
        planned_hours=hours,
        teams=["servicedesk", "field"],
        work_accounts=[],
        periods=periods,
        rollover={"policy": "next_period"},
    )
    return new_event(EventType.CONTRACT_CREATED, payload, key=contract_id, producer="contracts")


def delta(contract_id, period_start, team, activity, hours, author, *, worklogs=1, outside=0):
    payload = ConsumptionRecorded(
        contract_id=contract_id,
        period_start=period_start,
        period_end=_add_months(period_start, 1) - dt.timedelta(days=1),
        team=team,
        activity=activity,
        delta_seconds=hours * H,
        delta_worklogs=worklogs,
        delta_outside_dates_seconds=outside * H,
        author=author,
    )
    return new_event(
        EventType.CONSUMPTION_RECORDED, payload, key=contract_id, producer="worklog-ingest"
    )


def outside_worklog(worklog_id, contract_id):
    worklog = Worklog(
        id=worklog_id,
        source="jira",
        external_id="10001",
        contract_id=contract_id,
        period_start=JAN,
        author="tech2",
        team="field",
        activity="on_site_repair",
        started_at=dt.datetime(2025, 12, 31, 10, 0, tzinfo=dt.UTC),
        seconds=2 * H,
        outside_dates=True,
        ticket="SUP-1",
    )
    return new_event(
        EventType.WORKLOG_RECORDED,
        WorklogsChanged(contract_id=contract_id, worklogs=[worklog]),
        key=contract_id,
        producer="worklog-ingest",
    )


def overage_alert(contract_id):
    payload = AlertRaised(
        alert_id=uuid.uuid4(),
        rule_id=uuid.UUID(int=7),
        rule_name="stages",
        contract_id=contract_id,
        period_start=FEB,
        period_end=D(2026, 2, 28),
        trigger="overage",
        stage="overage",
        planned_seconds=40 * H,
        executed_seconds=41 * H,
        audience=Audience(),
    )
    return new_event(EventType.ALERT_RAISED, payload, key=contract_id, producer="rules")


def failed_delivery(contract_id):
    payload = NotificationOutcome(
        delivery_id=uuid.uuid4(),
        alert_id=uuid.uuid4(),
        contract_id=contract_id,
        channel="email",
        recipient="ann@acme.example",
        attempts=5,
        error="550 no such user",
    )
    return new_event(EventType.NOTIFICATION_FAILED, payload, key=contract_id, producer="notifier")


class World:
    """Acme: K (the main contract), E (ends 10 April: expiring), N (starts 2027).
    Other: L. Consumption: K Jan 32 h (2 h outside the dates), Feb 50 h, Mar 20 h; L Mar 30 h."""

    def __init__(self):
        self.acme, self.other = uuid.uuid4(), uuid.uuid4()
        self.k, self.e, self.n, self.l = (uuid.uuid4() for _ in range(4))
        self.outside = uuid.uuid4()

    def events(self):
        k = self.k
        return [
            customer(self.acme, "Acme"),
            customer(self.other, "Other"),
            contract(k, self.acme, "K-MAIN"),
            contract(self.e, self.acme, "E-EXP", end=D(2026, 4, 10)),
            contract(self.n, self.acme, "N-NEXT", start=D(2027, 1, 1), end=D(2027, 12, 31)),
            contract(self.l, self.other, "L-OTHER"),
            delta(k, JAN, "servicedesk", "phone_support", 30, "tech1", worklogs=3),
            delta(k, JAN, "field", "on_site_repair", 2, "tech2", outside=2),
            outside_worklog(self.outside, k),
            delta(k, FEB, "field", "on_site_repair", 45, "tech2", worklogs=5),
            delta(k, FEB, "servicedesk", "phone_support", 5, None),
            delta(k, MAR, "servicedesk", "phone_support", 20, "tech1", worklogs=2),
            delta(self.l, MAR, "servicedesk", "phone_support", 30, "tech9"),
            overage_alert(k),
            failed_delivery(k),
        ]


@pytest.fixture
def clock():
    return FixedClock(NOW)


@pytest.fixture
def definition(isolation, clock):
    settings = isolation.settings(
        ReportingSettings,
        expiring_within_days=30,
        report_link_secret="test-link-secret",
        reporting_metrics_seconds=0.1,
        reporting_public_url="https://reports.msp.example",
    )
    return build(settings, clock=clock)


@pytest.fixture
async def world(isolation, definition):
    w = World()
    async with serve(definition) as api:
        events = w.events()
        await publish(isolation.amqp_url, isolation.amqp_prefix, *events)

        async def all_logged():
            text = (await api.get("/metrics")).text
            handled = sum(
                s.value
                for f in text_string_to_metric_families(text)
                for s in f.samples
                if s.name == "burnrate_reporting_messages_consumed_total"
                and s.labels["status"] == "success"
            )
            assert handled == len(events)
            return True

        await eventually(all_logged)
        w.api = api
        yield w


def by_field(items, *fields):
    return [tuple(i[f] for f in fields) for i in items]


# --- the delivery report -----------------------------------------------------------------


async def test_delivery_report_over_the_default_range(world):
    r = (await world.api.get(f"/v1/contracts/{world.k}/report")).json()
    assert r["contract"] | {"id": None, "customer_id": None} == {
        "id": None,
        "customer_id": None,
        "customer_name": "Acme",
        "code": "K-MAIN",
        "title": "K-MAIN support",
        "start_date": "2026-01-01",
        "end_date": "2026-12-31",
        "timezone": "Europe/Amsterdam",
        "period": "monthly",
        "status": "active",
        "lifecycle": "active",
        "currency": "EUR",
        "rollover_policy": "next_period",
        "allowance_policy": "overage_allowed",
    }
    # Today's period and the ones before it (up to 12).
    assert r["range"] == {
        "first_period": "2026-01-01",
        "last_period": "2026-03-01",
        "today": "2026-03-15",
    }
    assert by_field(
        r["periods"],
        "start_date",
        "state",
        "planned_hours",
        "executed_hours",
        "remaining_hours",
        "overage_hours",
        "unused_hours",
        "percent",
        "outside_dates_hours",
        "worklog_count",
        "cumulative_planned_hours",
        "cumulative_executed_hours",
    ) == [
        ("2026-01-01", "closed", 40.0, 32.0, 8.0, 0.0, 8.0, 80.0, 2.0, 4, 40.0, 32.0),
        ("2026-02-01", "closed", 40.0, 50.0, 0.0, 10.0, 0.0, 125.0, 0.0, 6, 80.0, 82.0),
        ("2026-03-01", "current", 40.0, 20.0, 20.0, 0.0, 0.0, 50.0, 0.0, 2, 120.0, 102.0),
    ]
    assert [p["by_team"] for p in r["periods"]] == [
        [
            {"team": "field", "executed_hours": 2.0, "executed_seconds": 2 * H},
            {"team": "servicedesk", "executed_hours": 30.0, "executed_seconds": 30 * H},
        ],
        [
            {"team": "field", "executed_hours": 45.0, "executed_seconds": 45 * H},
            {"team": "servicedesk", "executed_hours": 5.0, "executed_seconds": 5 * H},
        ],
        [{"team": "servicedesk", "executed_hours": 20.0, "executed_seconds": 20 * H}],
    ]
    assert r["totals"] == {
        "planned_hours": 120.0,
        "executed_hours": 102.0,
        "overage_hours": 10.0,
        "unused_hours": 8.0,
        "outside_dates_hours": 2.0,
        "percent": 85.0,
        "worklog_count": 12,
        "planned_seconds": 120 * H,
        "executed_seconds": 102 * H,
        "overage_seconds": 10 * H,
        "unused_seconds": 8 * H,
    }
    shares = lambda rows: by_field(rows, "name", "executed_hours", "percent")  # noqa: E731
    assert shares(r["by_team"]) == [("servicedesk", 55.0, 53.9), ("field", 47.0, 46.1)]
    assert shares(r["by_activity"]) == [
        ("phone_support", 55.0, 53.9),
        ("on_site_repair", 47.0, 46.1),
    ]
    assert shares(r["by_person"]) == [
        ("tech1", 50.0, 49.0),
        ("tech2", 47.0, 46.1),
        ("unknown", 5.0, 4.9),
    ]
    assert r["outside_dates_worklogs"] == [
        {
            "id": str(world.outside),
            "period_start": "2026-01-01",
            "author": "tech2",
            "team": "field",
            "activity": "on_site_repair",
            "started_at": "2025-12-31T10:00:00Z",
            "hours": 2.0,
            "seconds": 2 * H,
            "ticket": "SUP-1",
        }
    ]
    assert by_field(r["alerts"], "period_start", "stage", "trigger") == [
        ("2026-02-01", "overage", "overage")
    ]
    # Jan + Feb: 82 h in 59 days. March: 20 h so far + 16 days at that rate.
    forecast = r["forecast"]
    assert (forecast["basis"], forecast["basis_periods"], forecast["hours_per_day"]) == (
        "mean_daily_rate_of_last_full_periods",
        ["2026-01-01", "2026-02-01"],
        1.39,
    )
    assert forecast["description"].startswith("Mean daily rate of the last 2 full periods")
    assert by_field(
        forecast["periods"],
        "start_date",
        "current",
        "executed_hours",
        "forecast_seconds",
        "forecast_hours",
        "forecast_overage_hours",
    ) == [
        ("2026-03-01", True, 20.0, 152_054, 42.24, 2.24),
        ("2026-04-01", False, 0.0, 150_102, 41.7, 1.7),
        ("2026-05-01", False, 0.0, 155_105, 43.08, 3.08),
        ("2026-06-01", False, 0.0, 150_102, 41.7, 1.7),
    ]


async def test_a_chosen_range_and_its_csv(world):
    api = world.api
    r = (
        await api.get(
            f"/v1/contracts/{world.k}/report", params={"from": "2026-02", "to": "2026-04"}
        )
    ).json()
    assert by_field(
        r["periods"], "start_date", "state", "cumulative_executed_hours", "unused_hours"
    ) == [
        ("2026-02-01", "closed", 50.0, 0.0),
        ("2026-03-01", "current", 70.0, 0.0),
        ("2026-04-01", "future", 70.0, 0.0),
    ]
    assert r["outside_dates_worklogs"] == [] and r["totals"]["overage_hours"] == 10.0
    assert by_field(r["by_person"], "name") == [("tech2",), ("tech1",), ("unknown",)]

    params = {"from": "2026-01", "to": "2026-03"}
    response = await api.get(f"/v1/contracts/{world.k}/report.csv", params=params)
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "K-MAIN-2026-01-2026-03-periods.csv" in response.headers["content-disposition"]
    assert response.text.splitlines() == [
        "period_start,period_end,state,planned_hours,executed_hours,remaining_hours,"
        "overage_hours,unused_hours,percent,outside_dates_hours,worklogs,"
        "cumulative_planned_hours,cumulative_executed_hours",
        "2026-01-01,2026-01-31,closed,40.00,32.00,8.00,0.00,8.00,80.0,2.00,4,40.00,32.00",
        "2026-02-01,2026-02-28,closed,40.00,50.00,0.00,10.00,0.00,125.0,0.00,6,80.00,82.00",
        "2026-03-01,2026-03-31,current,40.00,20.00,20.00,0.00,0.00,50.0,0.00,2,120.00,102.00",
        "total,,,120.00,102.00,,10.00,8.00,85.0,2.00,12,,",
    ]
    same = await api.get(f"/v1/contracts/{world.k}/report", params=params | {"format": "csv"})
    assert same.text == response.text
    people = await api.get(
        f"/v1/contracts/{world.k}/report.csv", params=params | {"section": "people"}
    )
    assert list(csv.reader(io.StringIO(people.text))) == [
        ["person", "executed_hours", "percent"],
        ["tech1", "50.00", "49.0"],
        ["tech2", "47.00", "46.1"],
        ["unknown", "5.00", "4.9"],
    ]
    for section, rows in [
        ("teams", 3),
        ("team_periods", 6),
        ("activities", 3),
        ("outside_dates", 2),
        ("forecast", 5),
    ]:
        text = (
            await api.get(
                f"/v1/contracts/{world.k}/report.csv", params=params | {"section": section}
            )
        ).text
        assert len(text.splitlines()) == rows, (section, text)
    screen = await api.get("/v1/contracts", params={"format": "csv", "sort": "code"})
    assert [row[1:5] for row in csv.reader(io.StringIO(screen.text))] == [
        ["code", "title", "customer", "status"],
        ["E-EXP", "E-EXP support", "Acme", "expiring"],
        ["K-MAIN", "K-MAIN support", "Acme", "active"],
        ["L-OTHER", "L-OTHER support", "Other", "active"],
        ["N-NEXT", "N-NEXT support", "Acme", "not_started"],
    ]


async def test_bad_ranges_and_unknown_contracts(world):
    api, url = world.api, f"/v1/contracts/{world.k}/report"
    for params, status, field in [
        ({"from": "2025-12"}, 404, "from"),
        ({"to": "2027-01"}, 404, "to"),
        ({"from": "2026-13"}, 422, "from"),
        ({"to": "March"}, 422, "to"),
        ({"from": "2026-05", "to": "2026-03"}, 422, "to"),
        ({"from": "x" * 11}, 422, "from"),
        ({"section": "everything"}, 422, "section"),
        ({"format": "pdf"}, 422, "format"),
    ]:
        response = await api.get(url, params=params)
        assert response.status_code == status, (params, response.text)
        assert [e["field"] for e in response.json()["errors"]] == [field], params
    missing = await api.get(f"/v1/contracts/{uuid.uuid4()}/report")
    assert missing.status_code == 404 and missing.json()["errors"][0]["field"] == "contract_id"
    assert "2025-12" in (await api.get(url, params={"from": "2025-12"})).json()["detail"]
    nobody = await api.get(f"/v1/customers/{uuid.uuid4()}/report")
    assert nobody.status_code == 404 and nobody.json()["errors"][0]["field"] == "customer_id"
    for params, field in [
        ({"sort": "price"}, "sort"),
        ({"limit": 501}, "limit"),
        ({"q": "x" * 101}, "q"),
    ]:
        response = await api.get("/v1/contracts", params=params)
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == field


async def test_customer_roll_up(world):
    r = (
        await world.api.get(
            f"/v1/customers/{world.acme}/report", params={"from": "2026-01", "to": "2026-03"}
        )
    ).json()
    assert (r["customer_name"], r["first_day"], r["last_day"]) == (
        "Acme",
        "2026-01-01",
        "2026-03-31",
    )
    assert by_field(
        r["contracts"],
        "code",
        "periods",
        "planned_hours",
        "executed_hours",
        "overage_hours",
        "unused_hours",
        "percent",
    ) == [
        ("K-MAIN", 3, 120.0, 102.0, 10.0, 8.0, 85.0),
        ("E-EXP", 3, 120.0, 0.0, 0.0, 80.0, 0.0),
        ("N-NEXT", 0, 0.0, 0.0, 0.0, 0.0, None),
    ]
    t = r["totals"]
    assert (t["planned_hours"], t["executed_hours"], t["overage_hours"], t["unused_hours"]) == (
        240.0,
        102.0,
        10.0,
        88.0,
    )
    text = (
        await world.api.get(
            f"/v1/customers/{world.acme}/report",
            params={"from": "2026-01", "to": "2026-03", "format": "csv"},
        )
    ).text
    assert text.splitlines()[-1] == "total,,,,,,240.00,102.00,10.00,88.00,2.00,42.5"


# --- the contract screen -----------------------------------------------------------------


async def test_screen_status_sort_search_and_cursor(world):
    api = world.api

    async def codes(**params):
        page = (await api.get("/v1/contracts", params=params)).json()
        return [i["code"] for i in page["items"]], page["next_cursor"]

    assert (await codes(status="expiring"))[0] == ["E-EXP"]
    items = (await api.get("/v1/contracts", params={"sort": "code"})).json()["items"]
    assert by_field(items, "code", "status", "days_left") == [
        ("E-EXP", "expiring", 27),
        ("K-MAIN", "active", 292),
        ("L-OTHER", "active", 292),
        ("N-NEXT", "not_started", 657),  # to its end, today included
    ]
    # One forecast (domain.forecast): the report's current line, 20 h so far plus 16 days at
    # the daily rate of January and February.
    assert items[1]["current_period"]["forecast_hours"] == 42.24
    assert items[1]["current_period"]["forecast_basis"] == "mean_daily_rate_of_last_full_periods"
    # The percent of the current period; no current period sorts as below 0.
    first, cursor = await codes(sort="-percent", limit=2)
    assert first == ["L-OTHER", "K-MAIN"]
    assert await codes(sort="-percent", limit=2, cursor=cursor) == (["E-EXP", "N-NEXT"], None)
    assert (await codes(sort="percent"))[0] == ["N-NEXT", "E-EXP", "K-MAIN", "L-OTHER"]
    assert (await codes(sort="-executed", limit=2))[0] == ["L-OTHER", "K-MAIN"]
    by_end = (await codes(sort="-end_date"))[0]
    assert (by_end[0], sorted(by_end[1:3]), by_end[3]) == ("N-NEXT", ["K-MAIN", "L-OTHER"], "E-EXP")
    by_customer = (await codes(sort="customer"))[0]
    assert sorted(by_customer[:3]) == ["E-EXP", "K-MAIN", "N-NEXT"] and by_customer[3] == "L-OTHER"
    assert (await codes(q="acme", sort="code"))[0] == ["E-EXP", "K-MAIN", "N-NEXT"]
    assert (await codes(q="l-oth"))[0] == ["L-OTHER"]
    assert (await codes(q="100%"))[0] == []
    # Filter, sort and page together, one row a page.
    pages, cursor = [], None
    while True:
        found, cursor = await codes(
            sort="-percent", status="active", limit=1, **({"cursor": cursor} if cursor else {})
        )
        pages += found
        if cursor is None:
            break
    assert pages == ["L-OTHER", "K-MAIN"]
    wrong = await api.get(
        "/v1/contracts",
        params={"sort": "code", "cursor": (await codes(sort="-percent", limit=1))[1]},
    )
    assert wrong.status_code == 400 and wrong.json()["errors"][0]["field"] == "cursor"
    roll_up = (
        await api.get(f"/v1/customers/{world.acme}/contracts", params={"sort": "-percent"})
    ).json()
    assert [i["code"] for i in roll_up["items"]] == ["K-MAIN", "E-EXP", "N-NEXT"]


# --- metrics -----------------------------------------------------------------------------


async def test_business_metrics_and_lag(world):
    async def values():
        found = {}
        for family in text_string_to_metric_families((await world.api.get("/metrics")).text):
            for s in family.samples:
                if s.name.startswith("burnrate_reporting_") and s.name[19:].startswith(
                    ("contracts", "hours", "alerts", "deliveries", "read_model")
                ):
                    found[(s.name[19:], tuple(sorted(s.labels.values())))] = s.value
        # Refreshed from the tables every 0.1 s: wait for a refresh after the last event.
        assert found.get(("hours_executed", ())) == 132.0, found
        assert found.get(("deliveries", ("failed",))) == 1.0, found
        return found

    found = await eventually(values)
    assert {k[1][0]: v for k, v in found.items() if k[0] == "contracts"} == {
        "active": 2.0,
        "expiring": 1.0,
        "not_started": 1.0,
        "exhausted": 0.0,
        "expired": 0.0,
    }
    assert found[("alerts_raised", ("overage",))] == 1.0
    assert found[("alerts_raised", ("percent_consumed",))] == 0.0
    assert found[("deliveries", ("failed",))] == 1.0
    assert 0 < found[("read_model_lag_seconds", ())] < 60


# --- rebuild -----------------------------------------------------------------------------


async def test_rebuild_equals_the_live_read_models(world, definition, isolation):
    before = (await world.api.get(f"/v1/contracts/{world.k}/report")).json()
    result = await rebuild(definition)
    assert result["events"] == len(world.events()) and result["unlogged_events"] == 0
    assert set(result["differences"].values()) == {0}, result

    schema = definition.settings.db_schema
    conn = await asyncpg.connect(isolation.database_url)
    try:
        await conn.execute(
            f"""UPDATE "{schema}".consumption SET executed_seconds = 1
                WHERE contract_id = $1 AND period_start = $2""",
            world.k,
            MAR,
        )
        await conn.execute(f'DELETE FROM "{schema}".alerts')
    finally:
        await conn.close()
    broken = await rebuild(definition)
    assert broken["differences"]["consumption"] == 2 and broken["differences"]["alerts"] == 1

    applied = await rebuild(definition, apply=True)
    assert applied["events"] == len(world.events())
    assert set((await rebuild(definition))["differences"].values()) == {0}
    assert (await world.api.get(f"/v1/contracts/{world.k}/report")).json() == before


# --- pages, login and customer links ------------------------------------------------------


def browser(api):
    """A client without the API key the test client carries."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=api.app), base_url="http://service")


async def test_staff_pages_need_a_key_in_the_cookie_or_header(world):
    async with browser(world.api) as web:
        to_login = await web.get("/ui/contracts", params={"status": "expiring"})
        assert to_login.status_code == 303
        assert to_login.headers["location"] == "/ui/login?next=/ui/contracts%3Fstatus%3Dexpiring"
        refused = await web.post(
            "/ui/login",
            content="api_key=wrong&next=/ui/contracts",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert refused.status_code == 401 and "unknown, revoked" in refused.text
        logged_in = await web.post(
            "/ui/login",
            content="api_key=test-admin-key&next=https://evil.example/",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert (logged_in.status_code, logged_in.headers["location"]) == (303, "/ui/contracts")
        cookie = logged_in.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
        page = await web.get("/ui/contracts", params={"sort": "code"})
        assert page.status_code == 200
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert page.text.index("E-EXP") < page.text.index("K-MAIN") < page.text.index("L-OTHER")
        report = await web.get(f"/ui/contracts/{world.k}/report")
        assert report.status_code == 200 and "tech1" in report.text
        assert "/static/vendor/chart.js/chart.umd.min.js" in report.text
        csv_text = (await web.get(f"/ui/contracts/{world.k}/report.csv")).text
        assert csv_text.splitlines()[-1].startswith("total,,,120.00,102.00")
        bad = await web.get(f"/ui/contracts/{world.k}/report", params={"from": "2025-01"})
        assert bad.status_code == 404 and "from=&#39;2025-01&#39;" in bad.text
        await web.post("/ui/logout")
        assert (await web.get("/ui/contracts")).status_code == 303
    with_header = await world.api.get("/ui/contracts")
    assert with_header.status_code == 200
    # The chart library and the CSS come from this service.
    chart = await world.api.get("/static/vendor/chart.js/chart.umd.min.js")
    assert chart.status_code == 200 and "Chart" in chart.text[:2000]
    assert (await world.api.get("/static/vendor/pico/pico.min.css")).status_code == 200
    assert (await world.api.get("/static/app/report.js")).status_code == 200


async def test_names_are_escaped_on_the_pages(isolation, world):
    evil, c = uuid.uuid4(), uuid.uuid4()
    await publish(
        isolation.amqp_url,
        isolation.amqp_prefix,
        customer(evil, "<script>alert(1)</script>"),
        contract(c, evil, "<b>X</b>"),
    )

    async def listed():
        page = await world.api.get("/ui/contracts", params={"q": "<b>"})
        assert "&lt;b&gt;X&lt;/b&gt;" in page.text
        return page

    page = await eventually(listed)
    assert "<script>alert(1)</script>" not in page.text and "<b>X</b>" not in page.text


async def test_a_customer_link_shows_that_customer_only_until_it_expires(world, clock):
    api = world.api
    created = await api.post(
        f"/v1/customers/{world.acme}/report-links", json={"expires_in_days": 7}
    )
    assert created.status_code == 201
    link = created.json()
    assert link["expires_at"] == "2026-03-22T12:00:00Z"
    assert link["url"] == f"https://reports.msp.example/ui/c/{link['token']}"
    default = (await api.post(f"/v1/customers/{world.acme}/report-links")).json()
    assert default["expires_at"] == "2026-04-14T12:00:00Z"
    unknown = await api.post(f"/v1/customers/{uuid.uuid4()}/report-links")
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["field"] == "customer_id"
    too_long = await api.post(
        f"/v1/customers/{world.acme}/report-links", json={"expires_in_days": 400}
    )
    assert (
        too_long.status_code == 422 and too_long.json()["errors"][0]["field"] == "expires_in_days"
    )

    base = f"/ui/c/{link['token']}"
    async with browser(api) as web:
        screen = await web.get(base)
        assert screen.status_code == 200
        assert all(code in screen.text for code in ["K-MAIN", "E-EXP", "N-NEXT"])
        assert "L-OTHER" not in screen.text and "Other" not in screen.text
        # Filters cannot widen the view to other customers.
        widened = await web.get(base, params={"q": "L-OTHER", "customer_id": str(world.other)})
        assert widened.status_code == 200 and 'data-figure="code">L-OTHER' not in widened.text
        report = await web.get(f"{base}/contracts/{world.k}/report")
        assert report.status_code == 200 and "K-MAIN" in report.text
        assert "tech1" not in report.text  # internal names stay internal
        assert report.headers["referrer-policy"] == "no-referrer"
        other = await web.get(f"{base}/contracts/{world.l}/report")
        assert other.status_code == 404 and "L-OTHER" not in other.text
        other_csv = await web.get(f"{base}/contracts/{world.l}/report.csv")
        assert other_csv.status_code == 404
        own_csv = await web.get(f"{base}/contracts/{world.k}/report.csv")
        assert own_csv.text.splitlines()[-1].startswith("total,,,120.00,102.00")

        payload, signature = link["token"].split(".")
        # Change a middle character: the last one of base64 carries padding bits, and a
        # change there may decode to the very same signature.
        flipped = "A" if signature[5] != "A" else "Q"
        forged = f"{signature[:5]}{flipped}{signature[6:]}"
        for token in [f"{payload}.{forged}", f"{payload[:-2]}xx.{signature}", "nonsense"]:
            tampered = await web.get(f"/ui/c/{token}")
            assert tampered.status_code == 403 and "This link has expired" in tampered.text
            assert "K-MAIN" not in tampered.text
        assert (
            await web.get(f"/ui/c/{payload}.{forged}/contracts/{world.k}/report")
        ).status_code == 403

        clock.advance(dt.timedelta(days=7))
        expired = await web.get(base)
        assert expired.status_code == 403 and "This link has expired" in expired.text
        assert (await web.get(f"{base}/contracts/{world.k}/report")).status_code == 403


# --- the pages in headless Chromium ---------------------------------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


class Chromium:
    """Headless Chromium driven over the Chrome DevTools protocol (one page target)."""

    def __init__(self, shots: Path) -> None:
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future] = {}
        #: where screenshots and PDFs go (the test's tmp dir)
        self.shots = shots

    async def start(self) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="burnrate-chromium-")
        self._process = await asyncio.create_subprocess_exec(
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--remote-debugging-port=0",
            "--remote-allow-origins=*",
            f"--user-data-dir={self._profile.name}",
            "--window-size=1280,1600",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        stderr = self._process.stderr
        assert stderr is not None  # stderr=PIPE
        async with asyncio.timeout(30):
            while True:
                line = (await stderr.readline()).decode()
                if not line:
                    raise RuntimeError("chromium exited before its DevTools endpoint was up")
                if line.startswith("DevTools listening on "):
                    url = line.split(" on ", 1)[1].strip()
                    break
        self._stderr = asyncio.create_task(self._drain())
        self._ws = await ws_connect(url, max_size=None)
        self._reader = asyncio.create_task(self._read())
        target = await self.send("Target.createTarget", url="about:blank")
        attached = await self.send(
            "Target.attachToTarget", targetId=target["targetId"], flatten=True
        )
        self._session = attached["sessionId"]
        await self.send("Page.enable", session=True)
        await self.width(1280)

    async def width(self, pixels: int) -> None:
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            session=True,
            width=pixels,
            height=1600,
            deviceScaleFactor=1,
            mobile=False,
        )

    async def _drain(self) -> None:
        assert self._process.stderr is not None
        while await self._process.stderr.readline():
            pass

    async def _read(self) -> None:
        async for raw in self._ws:
            message = json.loads(raw)
            future = self._waiting.pop(message.get("id", -1), None)
            if future is not None and not future.done():
                future.set_result(message)

    async def send(self, method: str, session: bool = False, **params):
        message_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._waiting[message_id] = future
        body = {"id": message_id, "method": method, "params": params}
        if session:
            body["sessionId"] = self._session
        await self._ws.send(json.dumps(body))
        async with asyncio.timeout(30):
            reply = await future
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    async def evaluate(self, expression: str):
        result = await self.send(
            "Runtime.evaluate",
            session=True,
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
        )
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def until(self, expression: str, timeout: float = 15.0):
        async def check():
            value = await self.evaluate(expression)
            assert value, expression
            return value

        return await eventually(check, timeout=timeout, interval=0.1)

    async def open(self, url: str) -> None:
        """Navigate and wait for the new document (redirects followed) to be loaded."""
        await self.evaluate("window.__left = true")
        await self.send("Page.navigate", session=True, url=url)
        await self.until("!window.__left && document.readyState === 'complete'")

    async def screenshot(self, name: str) -> Path:
        shot = await self.send(
            "Page.captureScreenshot", session=True, format="png", captureBeyondViewport=True
        )
        self.shots.mkdir(parents=True, exist_ok=True)
        path = self.shots / f"{name}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    async def pdf(self, name: str) -> Path:
        printed = await self.send("Page.printToPDF", session=True, printBackground=True)
        path = self.shots / f"{name}.pdf"
        path.write_bytes(base64.b64decode(printed["data"]))
        return path

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._ws.close()
        for task in (getattr(self, "_reader", None), getattr(self, "_stderr", None)):
            if task is not None:
                task.cancel()
        if self._process.returncode is None:
            self._process.terminate()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(10):
                    await self._process.wait()
            if self._process.returncode is None:
                self._process.kill()
                await self._process.wait()
        self._profile.cleanup()


@pytest.fixture
async def chromium(tmp_path):
    if not Path(CHROMIUM).exists():  # noqa: ASYNC240 (once per test, before any I/O)
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    browser = Chromium(tmp_path / "screenshots")
    try:
        await browser.start()
        yield browser
    finally:
        await browser.close()


@contextlib.asynccontextmanager
async def on_a_port(definition):
    """The service on a real TCP port (uvicorn in this event loop), as Chromium needs."""
    app = create_app(definition)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await eventually(lambda: asyncio.sleep(0, server.started), timeout=30)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        async with asyncio.timeout(30):
            await task
        sock.close()


def shown(value, kind="hours"):
    if value is None:
        return "–"
    return f"{value:.2f}" if kind == "hours" else f"{value:.1f} %"


FIGURES_OF_ROWS = """[...document.querySelectorAll(%s)].map(row => Object.assign(
    {key: row.dataset.contract || row.dataset.period || row.dataset.name},
    Object.fromEntries([...row.querySelectorAll('[data-figure]')]
        .map(cell => [cell.dataset.figure, cell.textContent.trim()]))))"""


async def test_pages_in_headless_chromium(isolation, definition, chromium):
    w = World()
    async with (
        on_a_port(definition) as base,
        httpx.AsyncClient(base_url=base, headers={"Authorization": "Bearer test-admin-key"}) as api,
    ):
        await publish(isolation.amqp_url, isolation.amqp_prefix, *w.events())

        async def settled():
            response = await api.get(f"/v1/contracts/{w.k}/report")
            assert response.status_code == 200
            report = response.json()
            assert report["totals"]["executed_hours"] == 102.0 and report["alerts"]
            screen = (await api.get("/v1/contracts")).json()["items"]
            assert sum((i["current_period"] or {}).get("executed_hours", 0) for i in screen) == 50
            return True

        await eventually(settled, timeout=20)
        screen = (await api.get("/v1/contracts")).json()["items"]
        report = (await api.get(f"/v1/contracts/{w.k}/report")).json()

        # Staff: the login form sets the cookie, then the contract screen.
        await chromium.open(f"{base}/ui/contracts")
        await chromium.until("location.pathname === '/ui/login'")
        await chromium.evaluate(
            "document.querySelector('input[name=api_key]').value = 'test-admin-key';"
            "window.__left = true; document.querySelector('main form').submit(); true"
        )
        await chromium.until("!window.__left && document.readyState === 'complete'")
        assert await chromium.evaluate("location.pathname") == "/ui/contracts"
        rows = await chromium.evaluate(FIGURES_OF_ROWS % "'#contracts tbody tr[data-contract]'")
        expected = []
        for item in screen:
            p = item["current_period"] or {}
            expected.append(
                {
                    "key": item["id"],
                    "code": item["code"],
                    "status": item["status"].replace("_", " "),
                    "planned_hours": shown(p.get("planned_hours")),
                    "executed_hours": shown(p.get("executed_hours")),
                    "remaining_hours": shown(p.get("remaining_hours")),
                    "percent": shown(p.get("percent"), "percent"),
                    "forecast_hours": shown(p.get("forecast_hours")),
                    "days_left": str(item["days_left"]),
                }
            )
        assert rows == expected
        assert [r["code"] for r in rows] == ["K-MAIN", "E-EXP", "N-NEXT", "L-OTHER"]
        await chromium.screenshot("contract-screen")

        # The delivery report over the API's default range (12 periods up to today; the
        # page itself opens on the current period): figures, the three charts drawn from
        # the same numbers.
        await chromium.open(f"{base}/ui/contracts/{w.k}/report?periods=12")
        await chromium.until("document.body.dataset.charts === 'ready'")
        totals = await chromium.evaluate(FIGURES_OF_ROWS % "'#totals'")
        t = report["totals"]
        assert totals == [
            {
                "planned_hours": shown(t["planned_hours"]),
                "executed_hours": shown(t["executed_hours"]),
                "percent": shown(t["percent"], "percent"),
                "overage_hours": shown(t["overage_hours"]),
                "unused_hours": shown(t["unused_hours"]),
                "outside_dates_hours": shown(t["outside_dates_hours"]),
            }
        ]
        periods = await chromium.evaluate(FIGURES_OF_ROWS % "'#periods tbody tr'")
        assert periods == [
            {
                "key": p["start_date"],
                "planned_hours": shown(p["planned_hours"]),
                "executed_hours": shown(p["executed_hours"]),
                "overage_hours": shown(p["overage_hours"]),
                "unused_hours": shown(p["unused_hours"]),
                "cumulative_executed_hours": shown(p["cumulative_executed_hours"]),
            }
            for p in report["periods"]
        ]
        teams = await chromium.evaluate(FIGURES_OF_ROWS % "'#by-team tbody tr'")
        assert teams == [
            {"key": s["name"], "executed_hours": shown(s["executed_hours"])}
            for s in report["by_team"]
        ]
        charts = await chromium.evaluate(
            "Object.fromEntries(['chart-periods', 'chart-burnup', 'chart-teams'].map(id => "
            "[id, Chart.getChart(id).data.datasets.map(d => [d.label, d.data])]))"
        )
        assert charts["chart-periods"] == [
            ["Planned", [40, 40, 40]],
            ["Executed", [p["executed_hours"] for p in report["periods"]]],
        ]
        burnup = dict(charts["chart-burnup"])
        assert burnup["Executed (cumulative)"] == [32, 82, 102, None, None, None]
        # From the end of February (82 h): March's forecast, then April to June.
        assert burnup["Forecast"] == pytest.approx(
            [
                None,
                82,
                82 + 42.24,
                82 + 42.24 + 41.7,
                82 + 42.24 + 41.7 + 43.08,
                82 + 42.24 + 41.7 + 43.08 + 41.7,
            ]
        )
        assert dict(charts["chart-teams"]) == {"servicedesk": [30, 5, 20], "field": [2, 45, 0]}
        basis = await chromium.evaluate("document.getElementById('forecast-basis').textContent")
        assert basis.startswith("Mean daily rate of the last 2 full periods")
        await chromium.screenshot("delivery-report")
        assert (await chromium.pdf("delivery-report")).read_bytes()[:5] == b"%PDF-"

        # A customer's link: only Acme's contracts, no login needed.
        link = (await api.post(f"/v1/customers/{w.acme}/report-links")).json()
        await chromium.send("Network.clearBrowserCookies", session=True)
        await chromium.open(link["url"].replace("https://reports.msp.example", base))
        rows = await chromium.evaluate(FIGURES_OF_ROWS % "'#contracts tbody tr[data-contract]'")
        assert sorted(r["code"] for r in rows) == ["E-EXP", "K-MAIN", "N-NEXT"]
        await chromium.screenshot("customer-link")
        await chromium.open(f"{base}/ui/c/{link['token'][:-3]}abc")
        assert (
            await chromium.evaluate("document.getElementById('error-title').textContent")
            == "This link has expired"
        )
        await chromium.screenshot("customer-link-expired")
    assert all(
        (chromium.shots / f"{n}.png").stat().st_size > 10_000
        for n in ["contract-screen", "delivery-report", "customer-link"]
    )


#: No horizontal scroll: the page is no wider than the window, and no table sticks out of
#: the main column.
FITS = """(() => {
    const root = document.documentElement;
    const main = document.querySelector('main').getBoundingClientRect();
    const wide = [...document.querySelectorAll('table')]
        .filter(t => t.getBoundingClientRect().right > main.right + 1).map(t => t.id);
    return {scroll: root.scrollWidth <= root.clientWidth, wide: wide};
})()"""
#: The heights and vertical centres of the filter row's visible controls.
FILTER_ROW = """[...document.querySelectorAll(
        'form.filters select, form.filters input:not([type=hidden]), form.filters button')]
    .map(e => e.getBoundingClientRect())
    .map(r => [Math.round(r.height), Math.round(r.top + r.height / 2)])"""


async def fits(chromium, name):
    """At 1280 and 1400 px: no horizontal scroll; a screenshot at 1280 px."""
    for width in (1400, 1280):
        await chromium.width(width)
        await chromium.until("document.readyState === 'complete'")
        assert await chromium.evaluate(FITS) == {"scroll": True, "wide": []}, (name, width)
    return await chromium.screenshot(name)


async def test_the_pages_fit_and_answer_what_needs_attention(isolation, definition, chromium):
    """Issue 19: the layout at 1280 px, the capped bar, one filter-row height, no "Log out"
    before login, the report opening on the current period, one forecast everywhere, a
    visible forecast line, and the counts of what needs attention as filters."""
    w = World()
    x = uuid.uuid4()
    over = [
        contract(x, w.acme, "X-OVER"),
        delta(x, MAR, "servicedesk", "phone_support", 60, "tech1"),
    ]
    async with (
        on_a_port(definition) as base,
        httpx.AsyncClient(base_url=base, headers={"Authorization": "Bearer test-admin-key"}) as api,
    ):
        await publish(isolation.amqp_url, isolation.amqp_prefix, *w.events(), *over)

        async def settled():
            screen = (await api.get("/v1/contracts")).json()["items"]
            assert sum((i["current_period"] or {}).get("executed_hours", 0) for i in screen) == 110
            report = (await api.get(f"/v1/contracts/{w.k}/report")).json()
            assert report["totals"]["executed_hours"] == 102.0 and report["alerts"]
            return True

        await eventually(settled, timeout=20)
        attention = (await api.get("/v1/contracts/attention")).json()
        assert attention == {"exhausted": 1, "over_forecast": 2, "expiring": 1}
        over_forecast = (await api.get("/v1/contracts", params={"forecast": "over"})).json()
        assert sorted(i["code"] for i in over_forecast["items"]) == ["K-MAIN", "X-OVER"]
        screen = {i["code"]: i for i in (await api.get("/v1/contracts")).json()["items"]}
        # The SQL filter agrees with the forecast the screen shows (domain.forecast).
        assert sorted(i["code"] for i in over_forecast["items"]) == sorted(
            code
            for code, i in screen.items()
            if i["current_period"]
            and i["current_period"]["forecast_seconds"] > i["current_period"]["planned_seconds"]
        )

        # The login page: no "Log out" before anyone logged in.
        await chromium.open(f"{base}/ui/contracts")
        await chromium.until("location.pathname === '/ui/login'")
        assert await chromium.evaluate("document.getElementById('logout') === null")
        assert "Log out" not in await chromium.evaluate(
            "document.querySelector('header').innerText"
        )
        await fits(chromium, "login")
        await chromium.evaluate(
            "document.querySelector('input[name=api_key]').value = 'test-admin-key';"
            "window.__left = true; document.querySelector('main form').submit(); true"
        )
        await chromium.until("!window.__left && document.readyState === 'complete'")
        assert await chromium.evaluate("document.getElementById('logout') !== null")

        # The contract screen: what needs attention, as filters.
        counts = await chromium.evaluate(
            "Object.fromEntries([...document.querySelectorAll('[data-attention]')].map("
            "a => [a.dataset.attention, [a.querySelector('strong').textContent, "
            "a.getAttribute('href')]]))"
        )
        assert counts == {
            "exhausted": ["1", "?status=exhausted"],
            "over_forecast": ["2", "?forecast=over"],
            "expiring": ["1", "?status=expiring"],
        }
        # A bar at 150 % does not look like one at 50 %: capped, its overage in red.
        bars = await chromium.evaluate(
            "Object.fromEntries([...document.querySelectorAll('#contracts tr[data-contract]')]"
            ".filter(r => r.querySelector('progress')).map(r => {"
            "const p = r.querySelector('progress'); const s = getComputedStyle(p);"
            "return [r.querySelector('[data-figure=code]').textContent, "
            "[p.value / p.max, s.backgroundColor, Math.round(p.getBoundingClientRect().width)]]"
            "}))"
        )
        assert bars["X-OVER"][0] == pytest.approx(100 / 150)
        assert bars["K-MAIN"][0] == pytest.approx(0.5)
        assert bars["X-OVER"][1] != bars["K-MAIN"][1]  # the red track: the overage
        assert bars["X-OVER"][2] == bars["K-MAIN"][2]  # capped: the same width
        # The filter row: one height, one line.
        row = await chromium.evaluate(FILTER_ROW)
        assert len(row) == 3 and len({h for h, _ in row}) == 1 and len({c for _, c in row}) == 1
        # The forecast, labelled with its basis.
        k_row = f"#contracts tr[data-contract='{w.k}']"
        screen_forecast = await chromium.evaluate(
            f'document.querySelector("{k_row} [data-figure=forecast_hours]").textContent'
        )
        assert screen_forecast == shown(screen["K-MAIN"]["current_period"]["forecast_hours"])
        assert await chromium.evaluate(
            f'document.querySelector("{k_row} .basis").dataset.basis'
        ) == ("mean_daily_rate_of_last_full_periods")
        await fits(chromium, "contract-screen")
        # A count is one click from its list.
        await chromium.evaluate(
            "window.__left = true; document.querySelector('[data-attention=over_forecast]')"
            ".click(); true"
        )
        await chromium.until("!window.__left && document.readyState === 'complete'")
        listed = await chromium.evaluate(FIGURES_OF_ROWS % "'#contracts tbody tr[data-contract]'")
        assert sorted(r["code"] for r in listed) == ["K-MAIN", "X-OVER"]

        # The report opens on the current period; the range is one click away.
        await chromium.open(f"{base}/ui/contracts/{w.k}/report")
        await chromium.until("document.body.dataset.charts === 'ready'")
        periods = await chromium.evaluate(FIGURES_OF_ROWS % "'#periods tbody tr'")
        assert [p["key"] for p in periods] == ["2026-03-01"]
        report_forecast = await chromium.evaluate(
            "document.querySelector(\"#forecast tr[data-period='2026-03-01'] "
            '[data-figure=forecast_hours]").textContent'
        )
        # One forecast: the screen's figure is the report's.
        assert report_forecast == screen_forecast == "42.24"
        assert await chromium.evaluate("document.getElementById('forecast-basis').textContent")
        await fits(chromium, "delivery-report")
        await chromium.evaluate(
            "window.__left = true; document.querySelector('#ranges [data-span=all]').click(); true"
        )
        await chromium.until("!window.__left && document.readyState === 'complete'")
        await chromium.until("document.body.dataset.charts === 'ready'")
        periods = await chromium.evaluate(FIGURES_OF_ROWS % "'#periods tbody tr'")
        assert len(periods) == 12 and periods[0]["key"] == "2026-01-01"
        # The forecast line is drawn on top, in its own colour: at its last point the canvas
        # shows the forecast's colour.
        seen = await chromium.evaluate(
            """(() => {
                const chart = Chart.getChart('chart-burnup');
                const i = chart.data.datasets.findIndex(d => d.label === 'Forecast');
                const points = chart.getDatasetMeta(i).data.filter(p => !p.skip);
                const last = points[points.length - 1];
                const ratio = chart.currentDevicePixelRatio;
                const pixel = chart.ctx.getImageData(
                    Math.round(last.x * ratio), Math.round(last.y * ratio), 1, 1).data;
                return {pixel: [...pixel.slice(0, 3)], colour: chart.data.datasets[i].borderColor,
                        width: chart.data.datasets[i].borderWidth,
                        others: chart.data.datasets.filter((d, j) => j !== i)
                            .map(d => d.borderColor)};
            })()"""
        )
        assert seen["colour"] not in seen["others"] and seen["width"] >= 3
        assert seen["pixel"] == [0xD6, 0x27, 0x28]
        shot = await fits(chromium, "delivery-report-whole-term")

        # A customer's link: the same page, without the staff navigation.
        link = (await api.post(f"/v1/customers/{w.acme}/report-links")).json()
        await chromium.send("Network.clearBrowserCookies", session=True)
        await chromium.open(link["url"].replace("https://reports.msp.example", base))
        assert await chromium.evaluate("document.getElementById('logout') === null")
        await fits(chromium, "customer-link")
    assert shot.stat().st_size > 10_000
    if view := os.environ.get("BURNRATE_SCREENSHOTS"):  # a copy to look at
        for png in chromium.shots.glob("*.png"):
            shutil.copy(png, Path(view) / png.name)
