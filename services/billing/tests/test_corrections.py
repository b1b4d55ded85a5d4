"""Corrections and deletions of invoiced worklogs: correcting late lines on the next open
statement (negative for a reduction), and the credit note an explicit action issues
instead; the invoiced statement never changes."""

from __future__ import annotations

import uuid

import pytest
from burnrate_common.events import EventType
from burnrate_testing import eventually

from .conftest import AFTER_MARCH
from .terms import SCENARIO5

pytestmark = pytest.mark.integration


async def test_a_correction_after_the_invoice_lands_on_the_next_statement_or_a_credit_note(rig):
    contract_id = await rig.add_contract(billing=SCENARIO5, planned_hours=5)
    ids = [uuid.uuid4() for _ in range(3)]
    w1 = rig.worklog(contract_id, "2026-03-02T09:00", 3, worklog_id=ids[0])
    w2 = rig.worklog(contract_id, "2026-03-02T13:00", 3, worklog_id=ids[1])
    w3 = rig.worklog(
        contract_id, "2026-03-03T09:00", 2, worklog_id=ids[2], author="tech2", ticket="123"
    )
    await rig.publish(rig.worklogs_event(contract_id, w1, w2, w3))
    march = await rig.settle(contract_id, 8)
    assert march["figures"]["subtotal"] == "150.00"  # 1 h of w2 and 2 h of w3 charged
    rig.clock.set(AFTER_MARCH)
    for step in ("review", "approve", "invoice"):
        moved = await rig.api.post(f"/v1/statements/{march['id']}/{step}")
        assert moved.status_code == 200, moved.text
    invoice_id = moved.json()["invoice_id"]
    nothing = (await rig.api.get(f"/v1/invoices/{invoice_id}/corrections")).json()
    assert (nothing["lines"], nothing["proposed_credit_note"]) == ([], "0.00")

    # w2 corrected from 3 h to 2 h: the hour it was charged for goes
    fewer = rig.worklog(contract_id, "2026-03-02T13:00", 2, worklog_id=ids[1])
    await rig.publish(
        rig.worklogs_event(contract_id, fewer, event_type=EventType.WORKLOG_CORRECTED)
    )

    async def april_subtotal(expected: str):
        async def check():
            body = await rig.statement(contract_id, "2026-04")
            fig = body["figures"]
            return body if fig and fig["subtotal"] == expected else None

        return await eventually(check)

    april = await april_subtotal("-50.00")
    [line] = april["lines"]
    assert (line["worklog_id"], line["correction"], line["late"]) == (str(ids[1]), True, True)
    assert (line["period_start"], line["charged_hours"], line["amount"]) == (
        "2026-03-01",
        -1.0,
        "-50.00",
    )
    assert "corrected" in line["note"]
    # the invoiced statement and its invoice stay as they were
    assert (await rig.statement(contract_id))["figures"]["subtotal"] == "150.00"
    assert (await rig.api.get(f"/v1/invoices/{invoice_id}")).json()["subtotal"] == "150.00"

    # proposed as a credit note; issued by an explicit action, the line leaves April
    proposal = (await rig.api.get(f"/v1/invoices/{invoice_id}/corrections")).json()
    assert (proposal["net_amount"], proposal["proposed_credit_note"]) == ("-50.00", "50.00")
    assert [(c["worklog_id"], c["hours"], c["deleted"]) for c in proposal["lines"]] == [
        (str(ids[1]), -1.0, False)
    ]
    no_reason = await rig.api.post(f"/v1/invoices/{invoice_id}/corrections/credit-note", json={})
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"
    note = await rig.api.post(
        f"/v1/invoices/{invoice_id}/corrections/credit-note",
        json={"reason": "worklog corrected after invoicing"},
    )
    assert note.status_code == 201, note.text
    assert (note.json()["number"], note.json()["subtotal"], note.json()["total"]) == (
        "CN-2026-000001",
        "50.00",
        "60.50",
    )
    assert note.json()["document"]["corrections"][0]["amount"] == "-50.00"
    april = await rig.statement(contract_id, "2026-04")
    assert (april["lines"], april["figures"]["subtotal"]) == ([], "0.00")
    again = await rig.api.post(
        f"/v1/invoices/{invoice_id}/corrections/credit-note", json={"reason": "twice"}
    )
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "invoice_id"

    # w3 deleted: its 2 h charged come off the next statement
    gone = rig.worklog(
        contract_id, "2026-03-03T09:00", 2, worklog_id=ids[2], author="tech2", ticket="123"
    )
    await rig.publish(rig.worklogs_event(contract_id, gone, event_type=EventType.WORKLOG_DELETED))
    april = await april_subtotal("-100.00")
    [line] = april["lines"]
    assert (line["worklog_id"], line["charged_hours"], line["amount"]) == (
        str(ids[2]),
        -2.0,
        "-100.00",
    )
    assert "deleted" in line["note"]
    # w1 corrected upwards: the allowance it now takes pushes w2's hour back into charge
    more = rig.worklog(contract_id, "2026-03-02T09:00", 4, worklog_id=ids[0])
    await rig.publish(rig.worklogs_event(contract_id, more, event_type=EventType.WORKLOG_CORRECTED))
    april = await april_subtotal("-50.00")
    assert sorted((x["worklog_id"], x["amount"]) for x in april["lines"]) == sorted(
        [(str(ids[1]), "50.00"), (str(ids[2]), "-100.00")]
    )

    # invoiced, the correcting lines are settled: nothing is proposed again
    rig.clock.set(AFTER_MARCH.replace(month=5))
    for step in ("review", "approve", "invoice"):
        moved = await rig.api.post(f"/v1/statements/{april['id']}/{step}")
        assert moved.status_code == 200, moved.text
    second = (await rig.api.get(f"/v1/invoices/{moved.json()['invoice_id']}")).json()
    assert second["subtotal"] == "-50.00"
    assert (await rig.api.get(f"/v1/invoices/{invoice_id}/corrections")).json()["lines"] == []
    may = await rig.statement(contract_id, "2026-05")
    assert may["lines"] == []
