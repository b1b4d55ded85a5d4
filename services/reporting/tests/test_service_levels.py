"""Issues 21 and 22, reporting's part: service-level compliance from ``ticket.*`` and
``sla.*`` (per level × priority × month / quarter / year), the levels the customer bought,
billing's statements beside the hours, and the quarterly review — fed by events over the
real broker, read through the API, the CSV, the pages, a customer's link and Chromium."""

import csv
import datetime as dt
import io
import os
import shutil
import uuid
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from burnrate_common.contract_terms import Calendar, ServiceLevelTerms, Target, WorkingHours
from burnrate_common.event_payloads import (
    InvoiceIssued,
    SlaClockFacts,
    SlaStageReached,
    StatementChanged,
    TicketChanged,
)
from burnrate_common.events import ContractChanged, ContractPeriod, EventType, new_event
from burnrate_reporting.service.rebuild import rebuild
from burnrate_testing import eventually, publish, serve
from prometheus_client.parser import text_string_to_metric_families

from . import test_report  # type: ignore[misc]  # a sibling test module (pytest imports it)
from .test_report import FIGURES_OF_ROWS, H, _add_months, browser, customer, delta, fits, on_a_port

# The delivery report's fixtures: the service as built there, and headless Chromium.
clock = test_report.clock
definition = test_report.definition
chromium = test_report.chromium

pytestmark = pytest.mark.integration

D = dt.date
UTC = dt.UTC
AMS = "Europe/Amsterdam"
BUSINESS = Calendar(
    name="Business hours NL",
    timezone=AMS,
    hours=[WorkingHours(weekday=d, start=dt.time(8), end=dt.time(18)) for d in range(1, 6)],
    holiday_country="NL",
)


def level(name, effective_from, targets):
    return ServiceLevelTerms(
        level=name, effective_from=effective_from, targets=targets, calendar=BUSINESS
    )


SILVER = level(
    "silver",
    D(2025, 1, 1),
    [
        Target(metric="first_response", priority="P2", minutes=60),
        Target(metric="resolution", priority="P2", minutes=480),
    ],
)
GOLD = level(
    "gold",
    D(2026, 2, 1),
    [
        Target(metric="first_response", priority="P1", minutes=15, calendar="24x7"),
        Target(metric="resolution", priority="P1", minutes=60, calendar="24x7"),
        Target(metric="first_response", priority="P2", minutes=60),
        Target(metric="resolution", priority="P2", minutes=240),
        Target(metric="resolution", category="e-mail outage", minutes=240),
    ],
)
BRONZE = level(
    "bronze",
    D(2025, 1, 1),
    [Target(metric="resolution", priority=p, minutes=1800) for p in ("P1", "P2", "P3", "P4")],
)


def contract(contract_id, customer_id, code, levels, hours=40):
    start, end = D(2026, 1, 1), D(2026, 12, 31)
    periods, n = [], 0
    while (first := _add_months(start, n)) <= end:
        last = _add_months(start, n + 1) - dt.timedelta(days=1)
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
        timezone=AMS,
        period="monthly",
        planned_hours=hours,
        teams=["servicedesk"],
        work_accounts=[],
        periods=periods,
        service_levels=levels,
    )
    return new_event(EventType.CONTRACT_CREATED, payload, key=contract_id, producer="contracts")


def clock_facts(metric, priority, target, *, elapsed, met, cycle=1, paused=0, calendar="24x7"):
    """A stopped clock when ``met`` is not None, else a running one."""
    started = dt.datetime(2026, 1, 1, tzinfo=UTC)
    return SlaClockFacts(
        metric=metric,
        cycle=cycle,
        priority=priority,
        target_minutes=target,
        calendar=calendar,
        state="running" if met is None else "stopped",
        started_at=started,
        stopped_at=None if met is None else started + dt.timedelta(seconds=elapsed),
        elapsed_seconds=elapsed,
        paused_seconds=paused,
        met=met,
    )


class Tickets:
    """The tickets of K (Acme) and one of L (Other), with their events."""

    def __init__(self, k, other_contract, acme, other):
        self.k, self.l, self.acme, self.other = k, other_contract, acme, other
        self.ids = {name: uuid.uuid4() for name in ("T1", "T2", "T3", "T4", "T5", "T6", "TL")}

    def ticket(
        self,
        name,
        priority,
        opened,
        level_name,
        *,
        clocks=(),
        resolved=None,
        contract=None,
        status="open",
        event_type=EventType.TICKET_UPDATED,
        category=None,
    ):
        contract = contract or self.k
        payload = TicketChanged(
            ticket_id=self.ids[name],
            reference=f"SUP-{name}",
            contract_id=contract,
            customer_id=self.acme if contract == self.k else self.other,
            source="api",
            priority=priority,
            category=category,
            status=status,
            level=level_name,
            opened_at=opened,
            resolved_at=resolved,
            clocks=list(clocks),
        )
        return new_event(event_type, payload, key=contract, producer="tickets")

    def stage(self, name, metric, stage, priority, target, due, *, cycle=1, level_name="gold"):
        payload = SlaStageReached(
            ticket_id=self.ids[name],
            reference=f"SUP-{name}",
            contract_id=self.k,
            customer_id=self.acme,
            metric=metric,
            cycle=cycle,
            stage=stage,
            priority=priority,
            level=level_name,
            target_minutes=target,
            due_at=due,
            reached_at=due if stage == 100 else due - dt.timedelta(minutes=15),
            timezone=AMS,
        )
        kind = EventType.SLA_BREACHED if stage == 100 else EventType.SLA_AT_RISK
        return new_event(kind, payload, key=self.k, producer="tickets")

    def events(self):
        t = lambda *a: dt.datetime(*a, tzinfo=UTC)  # noqa: E731
        fr, res = "first_response", "resolution"
        t1_opened = self.ticket(
            "T1", "P1", t(2026, 3, 2, 9), "gold", event_type=EventType.TICKET_OPENED
        )
        t1_resolved = self.ticket(
            "T1",
            "P1",
            t(2026, 3, 2, 9),
            "gold",
            status="resolved",
            resolved=t(2026, 3, 2, 9, 50),
            event_type=EventType.TICKET_RESOLVED,
            clocks=[
                clock_facts(fr, "P1", 15, elapsed=600, met=True),
                clock_facts(res, "P1", 60, elapsed=3000, met=True),
            ],
        )
        return [
            # the newer version first: the older one, arriving late, changes nothing
            t1_resolved,
            t1_opened,
            self.ticket(
                "T2",
                "P1",
                t(2026, 3, 3, 10),
                "gold",
                status="resolved",
                resolved=t(2026, 3, 3, 12),
                event_type=EventType.TICKET_RESOLVED,
                clocks=[
                    clock_facts(fr, "P1", 15, elapsed=900, met=True),
                    clock_facts(res, "P1", 60, elapsed=5400, met=False, paused=1800),
                ],
            ),
            self.stage("T2", res, 75, "P1", 60, t(2026, 3, 3, 11, 30)),
            self.stage("T2", res, 100, "P1", 60, t(2026, 3, 3, 11, 30)),
            self.stage("T2", res, 100, "P1", 60, t(2026, 3, 3, 11, 30)),  # twice: once
            self.ticket(
                "T3",
                "P2",
                t(2026, 3, 10, 9),
                "gold",
                clocks=[
                    clock_facts(fr, "P2", 60, elapsed=1200, met=True, calendar="business"),
                    clock_facts(res, "P2", 240, elapsed=3600, met=None, calendar="business"),
                ],
            ),
            # a producer without clocks: resolved without a breach is met; its breach counts
            self.ticket(
                "T4",
                "P2",
                t(2026, 3, 11, 9),
                "gold",
                status="resolved",
                resolved=t(2026, 3, 11, 15),
                category="e-mail outage",
            ),
            self.stage("T4", fr, 100, "P2", 60, t(2026, 3, 11, 10)),
            self.ticket(
                "T5",
                "P2",
                t(2026, 1, 20, 9),
                "silver",
                status="resolved",
                resolved=t(2026, 1, 20, 12),
                clocks=[
                    clock_facts(fr, "P2", 60, elapsed=1800, met=True, calendar="business"),
                    clock_facts(res, "P2", 480, elapsed=7200, met=True, calendar="business"),
                ],
            ),
            self.ticket(
                "T6",
                "P1",
                t(2026, 2, 10, 9),
                "gold",
                status="resolved",
                resolved=t(2026, 2, 12, 9),
                clocks=[
                    clock_facts(fr, "P1", 15, elapsed=300, met=True),
                    clock_facts(res, "P1", 60, elapsed=1200, met=True),
                    clock_facts(res, "P1", 60, elapsed=4000, met=False, cycle=2),
                ],
            ),
            self.stage("T6", res, 100, "P1", 60, t(2026, 2, 12, 8), cycle=2),
            # another customer's ticket
            self.ticket(
                "TL",
                "P1",
                t(2026, 3, 5, 9),
                "bronze",
                contract=self.l,
                status="resolved",
                resolved=t(2026, 3, 9, 9),
                clocks=[clock_facts(res, "P1", 1800, elapsed=200_000, met=False)],
            ),
        ]


def statement(
    k, acme, period_start, status, subtotal, *, charged=0, event=EventType.STATEMENT_UPDATED
):
    payload = StatementChanged(
        statement_id=uuid.uuid5(k, str(period_start)),
        contract_id=k,
        customer_id=acme,
        period_start=period_start,
        period_end=_add_months(period_start, 1) - dt.timedelta(days=1),
        status=status,
        currency="EUR",
        allowance_seconds=40 * H,
        in_allowance_seconds=min(40, 40) * H,
        charged_seconds=charged * H,
        charged_amount=Decimal(charged * 50),
        subtotal=Decimal(subtotal),
        vat=Decimal(subtotal) * Decimal("0.21"),
        total=Decimal(subtotal) * Decimal("1.21"),
    )
    return new_event(event, payload, key=k, producer="billing")


def invoice(k, acme, period_start, number, subtotal, kind="invoice"):
    payload = InvoiceIssued(
        invoice_id=uuid.uuid4(),
        number=number,
        kind=kind,
        statement_id=uuid.uuid5(k, str(period_start)),
        contract_id=k,
        customer_id=acme,
        currency="EUR",
        subtotal=Decimal(subtotal),
        vat=Decimal(subtotal) * Decimal("0.21"),
        total=Decimal(subtotal) * Decimal("1.21"),
        # a credit note comes after the invoice it corrects
        issued_at=dt.datetime(2026, 3, 6 if kind == "credit_note" else 5, tzinfo=UTC),
        corrects="INV-2026-000002" if kind == "credit_note" else None,
    )
    event = EventType.INVOICE_CREDITED if kind == "credit_note" else EventType.INVOICE_ISSUED
    return new_event(event, payload, key=k, producer="billing")


class World:
    """Acme: K (silver, then gold from February), K2 (bronze, no tickets); Other: L."""

    def __init__(self):
        self.acme, self.other = uuid.uuid4(), uuid.uuid4()
        self.k, self.k2, self.l = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        self.tickets = Tickets(self.k, self.l, self.acme, self.other)

    def events(self):
        k, acme = self.k, self.acme
        jan, feb, mar = D(2026, 1, 1), D(2026, 2, 1), D(2026, 3, 1)
        feb_updated = statement(k, acme, feb, "draft", 350, charged=5)
        feb_sent = statement(k, acme, feb, "sent", 350, charged=5, event=EventType.STATEMENT_SENT)
        feb_approved = statement(
            k, acme, feb, "approved", 350, charged=5, event=EventType.STATEMENT_APPROVED
        )
        return [
            customer(acme, "Acme"),
            customer(self.other, "Other"),
            contract(k, acme, "K-GOLD", [SILVER, GOLD]),
            contract(self.k2, acme, "K2-BRONZE", [BRONZE], hours=10),
            contract(self.l, self.other, "L-OTHER", [BRONZE]),
            delta(k, jan, "servicedesk", "phone_support", 30, "tech1"),
            delta(k, feb, "servicedesk", "phone_support", 45, "tech1"),
            delta(k, mar, "servicedesk", "phone_support", 20, "tech1"),
            statement(k, acme, jan, "invoiced", 100),
            invoice(k, acme, jan, "INV-2026-000001", 100),
            # approved, then the older versions arriving late
            feb_approved,
            feb_updated,
            feb_sent,
            invoice(k, acme, feb, "INV-2026-000002", 350),
            invoice(k, acme, feb, "CN-2026-000001", 50, kind="credit_note"),
            statement(k, acme, mar, "draft", 100),
            *self.tickets.events(),
        ]


@pytest.fixture
async def world(isolation, definition):
    w = World()
    async with serve(definition) as api:
        events = w.events()
        await publish(isolation.amqp_url, isolation.amqp_prefix, *events)

        async def all_handled():
            text = (await api.get("/metrics")).text
            handled = sum(
                s.value
                for f in text_string_to_metric_families(text)
                for s in f.samples
                if s.name == "burnrate_reporting_messages_consumed_total"
                and s.labels["status"] in ("success", "duplicate")
            )
            assert handled >= len(events)
            return True

        await eventually(all_handled, timeout=20)
        w.api = api
        yield w


def metric(met, breached, percent, median, p90, completed, warned=0):
    return {
        "met": met,
        "breached": breached,
        "percent_met": percent,
        "median_minutes": median,
        "p90_minutes": p90,
        "completed": completed,
        "warned_at_risk": warned,
    }


async def test_compliance_per_level_priority_and_month(world):
    r = (
        await world.api.get(
            f"/v1/contracts/{world.k}/service-levels", params={"from": "2026-01", "to": "2026-03"}
        )
    ).json()
    rows = {(x["period"], x["level"], x["priority"]): x for x in r["rows"]}
    assert list(rows) == [
        ("2026-01", "silver", "P2"),
        ("2026-02", "gold", "P1"),
        ("2026-03", "gold", "P1"),
        ("2026-03", "gold", "P2"),
    ]
    jan = rows["2026-01", "silver", "P2"]
    assert jan["tickets"] == 1
    assert jan["first_response"] == metric(1, 0, 100.0, 30.0, 30.0, 1)
    assert jan["resolution"] == metric(1, 0, 100.0, 120.0, 120.0, 1)
    # a reopened ticket: cycle 1 met, cycle 2 breached
    feb = rows["2026-02", "gold", "P1"]
    assert feb["resolution"] == metric(1, 1, 50.0, 43.3, 62.0, 2)
    # T1 met, T2 breached after a warning at 75 %; T1 arrived before its older version
    mar1 = rows["2026-03", "gold", "P1"]
    assert mar1["tickets"] == 2
    assert mar1["first_response"] == metric(2, 0, 100.0, 12.5, 14.5, 2)
    assert mar1["resolution"] == metric(1, 1, 50.0, 70.0, 86.0, 2, warned=1)
    assert mar1["paused_minutes"] == 30.0
    # T3 still running (not counted); T4 without clocks: its breach and its resolution
    mar2 = rows["2026-03", "gold", "P2"]
    assert mar2["tickets"] == 2
    assert mar2["first_response"] == metric(1, 1, 50.0, 20.0, 20.0, 1)
    assert mar2["resolution"] == metric(1, 0, 100.0, None, None, 0)

    assert r["totals"]["tickets"] == 6
    assert r["totals"]["first_response"]["met"] == 5
    assert r["totals"]["first_response"]["percent_met"] == 83.3  # rounded down
    assert r["totals"]["resolution"]["percent_met"] == 66.6
    breaches = [(b["reference"], b["metric"], b["cycle"]) for b in r["breaches"]]
    assert breaches == [
        ("SUP-T6", "resolution", 2),
        ("SUP-T2", "resolution", 1),
        ("SUP-T4", "first_response", 1),
    ]
    t2 = r["breaches"][1]
    assert t2["reason"] == (
        "The resolution target of 1 h (round the clock) was missed: resolved after 1 h 30 min, "
        "30 min late; 30 min waiting on the customer not counted; warned at risk before the "
        "breach."
    )
    assert t2["elapsed_minutes"] == 90.0 and t2["due_at"] == "2026-03-03T11:30:00Z"
    t4 = r["breaches"][2]
    assert t4["reason"].startswith(
        "The first response target of 1 h was missed: "
        "still unanswered when it fell due at 2026-03-11 10:00 UTC"
    )
    assert "category e-mail outage" in t4["reason"]
    # what the customer bought: both versions, gold in force
    (k,) = r["levels"]
    assert k["in_force"]["level"] == "gold"
    assert [v["level"] for v in k["levels"]] == ["silver", "gold"]


async def test_quarter_year_customer_scope_and_csv(world):
    api = world.api
    q = (
        await api.get(
            f"/v1/contracts/{world.k}/service-levels",
            params={"grain": "quarter", "from": "2026-01", "to": "2026-03"},
        )
    ).json()
    assert [(x["period"], x["level"], x["priority"], x["tickets"]) for x in q["rows"]] == [
        ("2026-Q1", "gold", "P1", 3),
        ("2026-Q1", "gold", "P2", 2),
        ("2026-Q1", "silver", "P2", 1),
    ]
    gold_p1 = q["rows"][0]["resolution"]
    assert (gold_p1["met"], gold_p1["breached"], gold_p1["percent_met"]) == (2, 2, 50.0)
    y = (
        await api.get(
            f"/v1/customers/{world.acme}/service-levels",
            params={"grain": "year", "from": "2026-01", "to": "2026-12"},
        )
    ).json()
    assert {x["period"] for x in y["rows"]} == {"2026"}
    assert y["totals"]["tickets"] == 6  # the other customer's ticket is not Acme's
    assert sorted(c["code"] for c in y["levels"]) == ["K-GOLD", "K2-BRONZE"]
    other = (
        await api.get(
            f"/v1/customers/{world.other}/service-levels",
            params={"from": "2026-01", "to": "2026-03"},
        )
    ).json()
    assert other["totals"]["resolution"]["breached"] == 1

    text = (
        await api.get(
            f"/v1/contracts/{world.k}/service-levels",
            params={"format": "csv", "from": "2026-01", "to": "2026-03"},
        )
    ).text
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0][:4] == ["period", "level", "priority", "tickets"]
    assert lines[1][:4] == ["2026-01", "silver", "P2", "1"]
    assert lines[-1][:4] == ["total", "", "", "6"]
    text = (
        await api.get(
            f"/v1/contracts/{world.k}/service-levels",
            params={"format": "csv", "section": "breaches", "from": "2026-01", "to": "2026-03"},
        )
    ).text
    lines = list(csv.reader(io.StringIO(text)))
    assert [row[0] for row in lines[1:]] == ["SUP-T6", "SUP-T2", "SUP-T4"]

    assert (await api.get(f"/v1/contracts/{uuid.uuid4()}/service-levels")).status_code == 404
    bad = await api.get(f"/v1/contracts/{world.k}/service-levels", params={"grain": "week"})
    assert bad.status_code == 422
    bad = await api.get(f"/v1/customers/{world.acme}/review", params={"quarter": "2026-Q5"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "quarter"


async def test_statements_per_period_and_the_quarterly_review(world):
    api = world.api
    s = (
        await api.get(
            f"/v1/contracts/{world.k}/statements", params={"from": "2026-01", "to": "2026-03"}
        )
    ).json()
    periods = {p["period_start"]: p for p in s["periods"]}
    assert list(periods) == ["2026-01-01", "2026-02-01", "2026-03-01"]
    feb = periods["2026-02-01"]
    # approved: the newest version, though the older ones arrived after it
    assert feb["statement_status"] == "approved" and feb["sent_at"] and feb["approved_at"]
    assert (feb["planned_hours"], feb["executed_hours"], feb["overage_hours"]) == (40, 45, 5)
    assert feb["charged_hours"] == 5 and Decimal(feb["charged_amount"]) == 250
    assert Decimal(feb["billed_amount"]) == 300  # 350 invoiced, 50 credited
    assert feb["invoices"] == ["INV-2026-000002", "CN-2026-000001"]
    assert periods["2026-03-01"]["billed_amount"] is None
    assert periods["2026-03-01"]["statement_status"] == "draft"

    r = (await api.get(f"/v1/customers/{world.acme}/review", params={"quarter": "2026-Q1"})).json()
    assert (r["quarter"], r["first_day"], r["last_day"]) == ("2026-Q1", "2026-01-01", "2026-03-31")
    assert (r["previous_quarter"], r["next_quarter"]) == ("2025-Q4", "2026-Q2")
    h = r["hours"]
    assert (h["planned_hours"], h["executed_hours"], h["overage_hours"]) == (150, 95, 5)
    assert h["billed"] == [{"currency": "EUR", "amount": "400"}]
    assert h["not_yet_billed"] == [{"currency": "EUR", "amount": "100"}]
    contracts = {c["code"]: c for c in r["contracts"]}
    assert list(contracts) == ["K-GOLD", "K2-BRONZE"]
    k = contracts["K-GOLD"]
    assert k["levels"] == ["gold", "silver"] and k["breaches"] == 3
    assert k["service"]["tickets"] == 6 and k["service"]["resolution"]["percent_met"] == 66.6
    k2 = contracts["K2-BRONZE"]
    assert k2["levels"] == ["bronze"] and k2["service"]["tickets"] == 0
    assert k2["service"]["resolution"]["percent_met"] is None
    assert k2["hours"]["planned_hours"] == 30 and k2["hours"]["billed"] == []
    assert r["service"]["first_response"]["percent_met"] == 83.3

    text = (
        await api.get(
            f"/v1/customers/{world.acme}/review", params={"quarter": "2026-Q1", "format": "csv"}
        )
    ).text
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[1][:8] == [
        "K-GOLD",
        "K-GOLD support",
        "gold silver",
        "120.00",
        "95.00",
        "5.00",
        "400 EUR",
        "100 EUR",
    ]
    assert lines[-1][0] == "total"
    # a quarter without anything: zeros, no error
    empty = (
        await api.get(f"/v1/customers/{world.acme}/review", params={"quarter": "2025-Q1"})
    ).json()
    assert empty["hours"]["planned_hours"] == 0 and empty["service"]["tickets"] == 0


async def test_rebuild_equals_the_live_read_models(world, definition):
    result = await rebuild(definition)
    assert set(result["differences"].values()) == {0}, result
    assert result["differences"].keys() >= {"tickets", "sla_stages", "statements", "invoices"}


async def test_pages_and_the_customer_link(world):
    api = world.api
    async with browser(api) as web:
        page = await web.get(f"/ui/contracts/{world.k}/service-levels")
        assert page.status_code == 303  # staff pages need a login
    page = await api.get(
        f"/ui/contracts/{world.k}/service-levels", params={"from": "2026-01", "to": "2026-03"}
    )
    assert page.status_code == 200 and "SUP-T2" in page.text and "chart-met" in page.text
    assert "/static/app/sla.js" in page.text
    assert (await api.get("/static/app/sla.js")).status_code == 200
    review = await api.get(f"/ui/customers/{world.acme}/review", params={"quarter": "2026-Q1"})
    assert review.status_code == 200 and "K2-BRONZE" in review.text
    csv_page = await api.get(
        f"/ui/customers/{world.acme}/review.csv", params={"quarter": "2026-Q1"}
    )
    assert csv_page.headers["content-type"].startswith("text/csv")
    bad = await api.get(f"/ui/customers/{world.acme}/review", params={"quarter": "soon"})
    assert bad.status_code == 422 and "YYYY-Qn" in bad.text

    link = (await api.post(f"/v1/customers/{world.acme}/report-links")).json()
    base = f"/ui/c/{link['token']}"
    async with browser(api) as web:
        mine = await web.get(f"{base}/service-levels", params={"from": "2026-01", "to": "2026-03"})
        assert mine.status_code == 200
        # what they bought: the level, its targets per priority and category, the calendar
        assert "gold" in mine.text and "e-mail outage" in mine.text
        assert "Business hours NL" in mine.text and "Mon–Fri 08:00–18:00" in mine.text
        assert "public holidays of NL" in mine.text
        assert "L-OTHER" not in mine.text and "SUP-TL" not in mine.text
        assert "Log out" not in mine.text
        theirs = await web.get(f"{base}/contracts/{world.l}/service-levels")
        assert theirs.status_code == 404
        own = await web.get(f"{base}/contracts/{world.k}/service-levels")
        assert own.status_code == 200
        review = await web.get(f"{base}/review", params={"quarter": "2026-Q1"})
        assert review.status_code == 200 and "400.00 EUR" in review.text
        rows = await web.get(
            f"{base}/service-levels.csv", params={"section": "breaches", "from": "2026-01"}
        )
        assert rows.status_code == 200 and "SUP-T6" in rows.text
        forged = await web.get(f"/ui/c/{link['token'][:-3]}abc/review")
        assert forged.status_code == 403


async def test_the_pages_in_chromium(isolation, definition, chromium):
    w = World()
    async with (
        on_a_port(definition) as base,
        httpx.AsyncClient(base_url=base, headers={"Authorization": "Bearer test-admin-key"}) as api,
    ):
        await publish(isolation.amqp_url, isolation.amqp_prefix, *w.events())

        async def settled():
            answer = await api.get(f"/v1/customers/{w.acme}/review", params={"quarter": "2026-Q1"})
            assert answer.status_code == 200, answer.text  # retried while events are projected
            r = answer.json()
            assert r["service"]["tickets"] == 6 and r["hours"]["billed"]
            assert r["contracts"][0]["periods"][1]["statement_status"] == "approved"
            return True

        await eventually(settled, timeout=20)
        link = (await api.post(f"/v1/customers/{w.acme}/report-links")).json()
        url = link["url"].replace("https://reports.msp.example", base)

        await chromium.open(f"{url}/service-levels?from=2026-01&to=2026-03")
        await chromium.until("document.body.dataset.charts === 'ready'")
        rows = await chromium.evaluate(
            "[...document.querySelectorAll('#compliance tbody tr')].map(r => r.dataset.row)"
        )
        assert rows == [
            "2026-01|silver|P2",
            "2026-02|gold|P1",
            "2026-03|gold|P1",
            "2026-03|gold|P2",
        ]
        assert (
            await chromium.evaluate(
                "document.querySelector('[data-figure=resolution_percent_met]').textContent"
            )
            == "66.6 %"
        )
        charts = await chromium.evaluate(
            "['chart-met', 'chart-tickets'].map(id => Chart.getChart(id).data.datasets.length)"
        )
        assert charts == [2, 2]
        assert (
            await chromium.evaluate(
                "document.querySelector('.level-card [data-figure=level]').textContent"
            )
            == "gold"
        )
        await fits(chromium, "service-levels-customer")

        await chromium.open(f"{url}/review?quarter=2026-Q1")
        await chromium.until("document.body.dataset.charts === 'ready'")
        review = await chromium.evaluate(FIGURES_OF_ROWS % "'#review tbody tr'")
        assert [(r["code"], r["overage_hours"], r["breaches"]) for r in review] == [
            ("K-GOLD", "5.00", "3"),
            ("K2-BRONZE", "0.00", "0"),
        ]
        shot = await fits(chromium, "quarterly-review-customer")
        assert (await chromium.pdf("quarterly-review")).read_bytes()[:5] == b"%PDF-"

        await chromium.send("Network.clearBrowserCookies", session=True)
        await chromium.open(f"{base}/ui/login")
        await chromium.evaluate(
            "document.querySelector('input[name=api_key]').value = 'test-admin-key';"
            "window.__left = true; document.querySelector('main form').submit(); true"
        )
        await chromium.until("!window.__left && document.readyState === 'complete'")
        await chromium.open(f"{base}/ui/contracts/{w.k}/service-levels?from=2026-01&to=2026-03")
        await chromium.until("document.body.dataset.charts === 'ready'")
        await fits(chromium, "service-levels-staff")
    assert shot.stat().st_size > 10_000
    if view := os.environ.get("BURNRATE_SCREENSHOTS"):  # a copy to look at
        for png in chromium.shots.glob("*.png"):
            shutil.copy(png, Path(view) / png.name)
