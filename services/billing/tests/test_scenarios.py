"""Scenarios 5 and 6 of the domain, through the events and the API."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from burnrate_billing.service.exports import schema_errors
from burnrate_common.events import EventType
from burnrate_testing import eventually

from .bis import bis_errors
from .conftest import AFTER_MARCH
from .terms import SCENARIO5

pytestmark = pytest.mark.integration


async def scenario5(rig):
    contract_id = await rig.add_contract(billing=SCENARIO5, planned_hours=5)
    w = rig.worklog
    logs = [
        w(contract_id, "2026-03-02T09:00", 3),
        w(contract_id, "2026-03-02T13:00", 3),
        w(
            contract_id,
            "2026-03-03T09:00",
            3,
            author="tech2",
            activity="on-site repair",
            location="site A",
            ticket="123",
        ),
        w(
            contract_id,
            "2026-03-03T14:00",
            2,
            author="tech2",
            activity="preventive maintenance",
            location="site A",
            ticket="123",
        ),
        w(
            contract_id,
            "2026-03-03T23:00",
            3,
            author="tech3",
            activity="on-site repair",
            location="site B",
            ticket="232",
        ),
    ]
    for log in logs:
        await rig.publish(rig.worklogs_event(contract_id, log))
        hours = sum(x["seconds"] for x in logs[: logs.index(log) + 1]) / 3600
        await rig.settle(contract_id, hours)
    return contract_id, logs


async def test_scenario5_the_5_hour_allowance(rig):
    contract_id, _ = await scenario5(rig)
    body = await rig.statement(contract_id)
    fig = body["figures"]
    assert (fig["allowance_hours"], fig["in_allowance_hours"], fig["charged_hours"]) == (5, 5, 9)
    assert fig["charged_amount"] == "525.00" and fig["subtotal"] == "525.00"
    assert (fig["vat"], fig["total"]) == ("110.25", "635.25")
    charged = [
        (
            line["person"],
            line["activity"],
            line["charged_hours"],
            line["rate"],
            line["rate_row"],
            line["amount"],
        )
        for line in body["lines"]
        if line["charged_hours"]
    ]
    assert charged == [
        ("tech1", "phone support", 1.0, "50.00", "all", "50.00"),
        ("tech2", "on-site repair", 3.0, "50.00", "all", "150.00"),
        ("tech2", "preventive maintenance", 2.0, "50.00", "all", "100.00"),
        ("tech3", "on-site repair", 3.0, "75.00", "night", "225.00"),
    ]
    night = body["lines"][-1]
    assert (night["shift"], night["location"], night["ticket"]) == ("night", "site B", "232")
    # the warning's facts: the first statement.updated with an hour charged is the second
    # phone-support worklog's, 1 h at €50.00
    updates = await eventually(lambda: _updates(rig, contract_id, 5))
    first_charged = next(e.data for e in updates if e.data["charged_seconds"] > 0)
    assert (first_charged["charged_seconds"], first_charged["charged_amount"]) == (3600, "50.00")
    assert first_charged["in_allowance_seconds"] == 5 * 3600


async def _updates(rig, contract_id, count):
    events = [
        e
        for e in rig.probe.of_type(EventType.STATEMENT_UPDATED)
        if e.data["contract_id"] == str(contract_id)
    ]
    return events if len(events) >= count else None


async def test_scenario6_what_ifs_approval_and_invoice(rig):
    await rig.add_customer()  # the buyer's billing details, for the UBL
    contract_id, logs = await scenario5(rig)
    march = await rig.statement(contract_id)
    sid = march["id"]
    # what-ifs are refused before... no: they work on a draft too; preview first
    preview = await rig.api.post(
        f"/v1/statements/{sid}/carry?preview=true",
        json={"amount": "225.00", "reason": "over budget"},
    )
    assert preview.status_code == 200, preview.text
    assert preview.json()["preview"] is True and preview.json()["figures"]["subtotal"] == "300.00"
    assert (await rig.statement(contract_id))["figures"]["subtotal"] == "525.00"  # nothing applied

    carried = await rig.api.post(
        f"/v1/statements/{sid}/carry", json={"amount": "225.00", "reason": "over budget"}
    )
    assert carried.status_code == 200, carried.text
    assert carried.json()["figures"]["carried_forward"] == "225.00"
    maintenance = logs[3]["id"]
    cancelled = await rig.api.post(
        f"/v1/statements/{sid}/cancel-line",
        json={
            "worklog_id": str(maintenance),
            "reason": "customer disputes the preventive maintenance",
        },
    )
    assert cancelled.status_code == 200, cancelled.text
    credited = await rig.api.post(
        f"/v1/statements/{sid}/credit", json={"amount": "25.00", "reason": "goodwill"}
    )
    assert credited.status_code == 200, credited.text
    fig = credited.json()["figures"]
    assert (fig["written_off"], fig["credits"], fig["subtotal"]) == ("100.00", "25.00", "175.00")

    # the period ends; review and send with a signed link
    rig.clock.set(AFTER_MARCH)
    early = await rig.api.post(f"/v1/statements/{sid}/invoice")
    assert early.status_code == 409 and early.json()["errors"][0]["field"] == "status"
    assert (
        await rig.api.post(f"/v1/statements/{sid}/review", json={"reason": "month closed"})
    ).status_code == 200
    sent = await rig.api.post(f"/v1/statements/{sid}/send")
    assert sent.status_code == 200, sent.text
    link = sent.json()["link"]
    token = link.rsplit("/", 1)[1]
    seen = await rig.api.get(f"/v1/customer/statements/{token}", headers={"Authorization": ""})
    assert seen.status_code == 200 and seen.json()["figures"]["subtotal"] == "175.00"
    approved = await rig.api.post(
        f"/v1/customer/statements/{token}/approve",
        json={"name": "Ada Customer"},
        headers={"Authorization": ""},
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["approved_by"] == "customer: Ada Customer"
    assert approved.json()["approved_at"] is not None

    invoiced = await rig.api.post(f"/v1/statements/{sid}/invoice")
    assert invoiced.status_code == 200, invoiced.text
    assert invoiced.json()["status"] == "invoiced"
    invoice = (await rig.api.get(f"/v1/invoices/{invoiced.json()['invoice_id']}")).json()
    assert (invoice["number"], invoice["subtotal"], invoice["vat"], invoice["total"]) == (
        "2026-000001",
        "175.00",
        "36.75",
        "211.75",
    )
    april = await rig.statement(contract_id, "2026-04")
    assert april["figures"]["debt_brought_forward"] == "225.00"
    assert april["figures"]["subtotal"] == "225.00"
    assert [a["kind"] for a in april["adjustments"]] == ["carry_in"]

    steps = [
        (h["action"], h["actor"])
        for h in (await rig.api.get(f"/v1/statements/{sid}/history")).json()
    ]
    assert steps == [
        ("carry_out", "bootstrap"),
        ("cancel_line", "bootstrap"),
        ("credit", "bootstrap"),
        ("review", "bootstrap"),
        ("send", "bootstrap"),
        ("approve", "customer: Ada Customer"),
        ("invoice", "bootstrap"),
        ("invoiced", "bootstrap"),
    ]
    issued = await eventually(lambda: _of(rig, EventType.INVOICE_ISSUED))
    assert issued[0].data["total"] == "211.75"
    assert await eventually(lambda: _of(rig, EventType.STATEMENT_SENT))
    assert await eventually(lambda: _of(rig, EventType.STATEMENT_APPROVED))

    # an action on an invoiced statement: a clear 409, nothing written
    refused = await rig.api.post(
        f"/v1/statements/{sid}/credit", json={"amount": "1.00", "reason": "x"}
    )
    assert refused.status_code == 409 and refused.json()["errors"][0]["field"] == "statement_id"
    # a worklog arriving late for March lands on April as a late line of March
    late = rig.worklog(contract_id, "2026-03-30T10:00", 1)
    await rig.publish(rig.worklogs_event(contract_id, late))
    april = await rig.settle(contract_id, 1, "2026-04")
    [line] = april["lines"]
    assert (line["late"], line["period_start"], line["amount"]) == (True, "2026-03-01", "50.00")
    assert (await rig.statement(contract_id))["figures"]["subtotal"] == "175.00"

    # a correction after the invoice is a credit note that references it
    too_much = await rig.api.post(
        f"/v1/invoices/{invoice['id']}/credit-notes", json={"amount": "175.01", "reason": "x"}
    )
    assert too_much.status_code == 422 and too_much.json()["errors"][0]["field"] == "amount"
    note = await rig.api.post(
        f"/v1/invoices/{invoice['id']}/credit-notes",
        json={"amount": "25.00", "reason": "late SLA credit"},
    )
    assert note.status_code == 201, note.text
    assert (note.json()["number"], note.json()["corrects"], note.json()["total"]) == (
        "CN-2026-000001",
        invoice["id"],
        "30.25",
    )
    # the exports: UBL (the UBL 2.1 schema, then the key EN 16931 / Peppol rules) and CSV
    for document_id, kind in ((invoice["id"], "invoice"), (note.json()["id"], "credit_note")):
        xml = await rig.api.get(f"/v1/invoices/{document_id}/ubl")
        assert xml.status_code == 200 and xml.headers["content-type"] == "application/xml"
        assert schema_errors(xml.content, kind) == []
        assert bis_errors(xml.content) == []
    assert (
        b'<cbc:PayableAmount currencyID="EUR">211.75</cbc:PayableAmount>'
        in (await rig.api.get(f"/v1/invoices/{invoice['id']}/ubl")).content
    )
    for layout, header in (
        ("xero", "*ContactName"),
        ("quickbooks", "Invoice no"),
        ("exact", "Journal"),
    ):
        sheet = await rig.api.get(f"/v1/invoices/{invoice['id']}/csv", params={"layout": layout})
        assert sheet.status_code == 200 and sheet.text.startswith(header)
        rows = list(csv.DictReader(io.StringIO(sheet.text)))
        amount = {"xero": None, "quickbooks": "Item Amount", "exact": "Amount"}[layout]
        if amount:
            assert sum(Decimal(r[amount]) for r in rows) == Decimal("175.00")
    bad_layout = await rig.api.get(f"/v1/invoices/{invoice['id']}/csv", params={"layout": "sap"})
    assert bad_layout.status_code == 422 and bad_layout.json()["errors"][0]["field"] == "layout"
    credited = await eventually(lambda: _of(rig, EventType.INVOICE_CREDITED))
    assert credited[0].data["corrects"] == "2026-000001"
    # issued documents are immutable, in the database too
    pool = rig.api.app.state.runtime.pool
    async with pool.acquire() as conn:
        with pytest.raises(Exception, match="immutable"):
            await conn.execute("UPDATE invoices SET total = 0")
    # the next invoice of the year takes the next number
    rig.clock.set(dt.datetime(2026, 5, 2, 9, tzinfo=dt.UTC))
    april_id = april["id"]
    for step in ("review", "approve", "invoice"):
        moved = await rig.api.post(f"/v1/statements/{april_id}/{step}")
        assert moved.status_code == 200, moved.text
    second = (await rig.api.get("/v1/invoices", params={"contract_id": str(contract_id)})).json()
    assert [i["number"] for i in second] == ["2026-000001", "CN-2026-000001", "2026-000002"]
    assert second[-1]["subtotal"] == "275.00"  # 225.00 brought forward + the late 50.00


async def _of(rig, event_type):
    return rig.probe.of_type(event_type) or None
