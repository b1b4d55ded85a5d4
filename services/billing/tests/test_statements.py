"""Policies, rollover, corrections in any order, and bad input, through events and the API."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from decimal import Decimal

import pytest
from burnrate_billing.domain.rating import WorkItem, rate_period
from burnrate_common import report_links
from burnrate_common.contract_terms import BillingTerms
from burnrate_common.events import EventType, Rollover

from .conftest import AFTER_MARCH, LINK_SECRET
from .terms import SCENARIO5

pytestmark = pytest.mark.integration


async def test_warn_only_shows_the_lines_at_no_charge_and_hard_stop_holds_them(rig):
    warn = await rig.add_contract(billing=SCENARIO5, policy="warn_only")
    stop = await rig.add_contract(billing=SCENARIO5, policy="hard_stop")
    logs = {}
    for contract_id in (warn, stop):
        logs[contract_id] = rig.worklog(contract_id, "2026-03-02T09:00", 7)
        await rig.publish(rig.worklogs_event(contract_id, logs[contract_id]))
    w = await rig.settle(warn, 7)
    assert (w["figures"]["subtotal"], w["figures"]["overage_value"], w["figures"]["warn_only"]) == (
        "0.00",
        "100.00",
        True,
    )
    assert [line["status"] for line in w["lines"]] == ["not_charged"]
    s = await rig.settle(stop, 7)
    assert (s["figures"]["subtotal"], s["figures"]["held_amount"]) == ("0.00", "100.00")
    assert s["lines"][0]["note"] == "not billable without approval"
    released = await rig.api.post(
        f"/v1/statements/{s['id']}/release-line",
        json={"worklog_id": str(logs[stop]["id"]), "reason": "customer agreed by phone"},
    )
    assert released.status_code == 200, released.text
    assert released.json()["figures"]["subtotal"] == "100.00"


async def test_scenario7_unused_hours_roll_over_to_the_next_statement(rig):
    capped = Rollover(policy="capped", cap_hours=Decimal(3))
    contract_id = await rig.add_contract(billing=SCENARIO5, planned_hours=5, rollover=capped)
    await rig.publish(
        rig.worklogs_event(contract_id, rig.worklog(contract_id, "2026-03-02T09:00", 1))
    )
    await rig.settle(contract_id, 1)
    april = await rig.statement(contract_id, "2026-04")
    # 4 h unused in March; the cap banks 3
    assert (april["figures"]["rollover_in_hours"], april["figures"]["allowance_hours"]) == (3, 8)
    march = await rig.statement(contract_id)
    assert march["figures"]["rollover_out_hours"] == 3
    assert march["figures"]["paid_not_delivered_hours"] == 1
    # April's work uses March's lot first
    april_log = rig.worklog(contract_id, "2026-04-06T09:00", 7, period_start=dt.date(2026, 4, 1))
    await rig.publish(rig.worklogs_event(contract_id, april_log))
    april = await rig.settle(contract_id, 7, "2026-04")
    assert (april["figures"]["in_allowance_hours"], april["figures"]["charged_hours"]) == (7, 0)

    # the balance enquiry, in April: March's hour paid but not delivered, its banked lot used
    rig.clock.set(dt.datetime(2026, 4, 20, 9, tzinfo=dt.UTC))
    balance = (await rig.api.get(f"/v1/balances/contracts/{contract_id}")).json()
    assert balance["paid_not_delivered_hours"] == 1
    assert balance["rollover_banked"] == [
        {"earned_in": "2026-04-01", "hours": 1.0, "expires_after": None}
    ]
    by_customer = (await rig.api.get(f"/v1/balances/customers/{rig.customer_id}")).json()
    assert [c["contract_id"] for c in by_customer["contracts"]] == [str(contract_id)]
    assert by_customer["open_amount"] == {"EUR": "0.00"}
    unknown = await rig.api.get(f"/v1/balances/customers/{uuid.uuid4()}")
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["field"] == "customer_id"


async def test_any_arrival_order_and_corrections_give_the_surviving_worklogs_statement(rig):
    contract_id = await rig.add_contract(billing=SCENARIO5, planned_hours=5)
    rnd = random.Random(7)
    events, final = [], {}
    for n in range(8):
        worklog_id = uuid.uuid4()
        start = f"2026-03-{2 + n:02d}T{rnd.choice([9, 20, 23]):02d}:00"
        log = rig.worklog(contract_id, start, rnd.choice([1, 2, 3]), worklog_id=worklog_id)
        events.append(rig.worklogs_event(contract_id, log))
        final[worklog_id] = log
        if n % 3 == 0:  # corrected
            corrected = rig.worklog(contract_id, start, 0.5, worklog_id=worklog_id)
            events.append(
                rig.worklogs_event(contract_id, corrected, event_type=EventType.WORKLOG_CORRECTED)
            )
            final[worklog_id] = corrected
        if n % 4 == 1:  # deleted
            gone = rig.worklog(contract_id, start, 0.5, worklog_id=worklog_id)
            events.append(
                rig.worklogs_event(contract_id, gone, event_type=EventType.WORKLOG_DELETED)
            )
            final[worklog_id] = None
    rnd.shuffle(events)
    await rig.publish(*events)
    surviving = [log for log in final.values() if log is not None]
    expected = rate_period(
        [
            WorkItem(
                id=log["id"],
                started_at=log["started_at"],
                seconds=log["seconds"],
                author=log["author"],
                team=log["team"],
                activity=log["activity"],
                location=log["location"],
                ticket=log["ticket"],
            )
            for log in surviving
        ],
        timezone="Europe/Amsterdam",
        terms=SCENARIO5,
        allowance_seconds=5 * 3600,
    )
    body = await rig.settle(contract_id, sum(log["seconds"] for log in surviving) / 3600)
    assert [(line["line_id"], line["amount"]) for line in body["lines"]] == [
        (e.line_id, str(e.amount)) for e in expected
    ]


async def test_bad_input_is_a_clear_4xx_naming_the_field_and_nothing_is_written(rig):
    contract_id = await rig.add_contract(billing=SCENARIO5)  # debt cap 500.00
    await rig.publish(
        rig.worklogs_event(
            contract_id,
            rig.worklog(contract_id, "2026-03-02T09:00", 10),
            rig.worklog(contract_id, "2026-03-03T09:00", 10),
        )
    )
    body = await rig.settle(contract_id, 20)  # 15 h charged by day: 750.00
    sid = body["id"]

    def field_of(response):
        return response.json()["errors"][0]["field"]

    above = await rig.api.post(
        f"/v1/statements/{sid}/carry", json={"amount": "600.00", "reason": "x"}
    )
    assert above.status_code == 422 and field_of(above) == "amount"
    assert "debt cap" in above.json()["detail"]
    no_reason = await rig.api.post(f"/v1/statements/{sid}/carry", json={"amount": "10.00"})
    assert no_reason.status_code == 422 and field_of(no_reason) == "reason"
    blank = await rig.api.post(
        f"/v1/statements/{sid}/credit", json={"amount": "10.00", "reason": " "}
    )
    assert blank.status_code == 422 and field_of(blank) == "reason"
    unknown_line = await rig.api.post(
        f"/v1/statements/{sid}/cancel-line", json={"worklog_id": str(uuid.uuid4()), "reason": "x"}
    )
    assert unknown_line.status_code == 422 and field_of(unknown_line) == "worklog_id"
    unknown_row = await rig.api.get(f"/v1/statements/{sid}", params={"rate_row": "weekend"})
    assert unknown_row.status_code == 422 and field_of(unknown_row) == "rate_row"
    night = await rig.api.get(f"/v1/statements/{sid}", params={"rate_row": "night"})
    assert night.status_code == 200 and night.json()["lines"] == []
    after = await rig.statement(contract_id)
    assert (after["adjustments"], after["figures"]["subtotal"]) == ([], "750.00")
    assert (await rig.api.get(f"/v1/statements/{sid}/history")).json() == []

    rig.clock.set(AFTER_MARCH)
    await rig.api.post(f"/v1/statements/{sid}/review")
    token = (await rig.api.post(f"/v1/statements/{sid}/send")).json()["link"].rsplit("/", 1)[1]
    no_key = {"Authorization": ""}
    payload, _, signature = token.partition(".")
    tampered = f"{payload}.{signature[:-2]}{'A' if signature[-2] != 'A' else 'B'}{signature[-1]}"
    bad = await rig.api.post(
        f"/v1/customer/statements/{tampered}/approve", json={"name": "X"}, headers=no_key
    )
    assert bad.status_code == 403 and field_of(bad) == "token"
    # a customer report link (same secret, other purpose) does not open a statement
    report = report_links.sign(
        LINK_SECRET.encode(), uuid.UUID(sid), AFTER_MARCH + dt.timedelta(days=1)
    )
    other = await rig.api.get(f"/v1/customer/statements/{report}", headers=no_key)
    assert other.status_code == 403
    rig.clock.set(AFTER_MARCH + dt.timedelta(days=31))
    expired = await rig.api.post(
        f"/v1/customer/statements/{token}/approve", json={"name": "X"}, headers=no_key
    )
    assert expired.status_code == 410 and field_of(expired) == "token"
    still = await rig.statement(contract_id)
    assert (still["status"], still["approved_by"]) == ("sent", None)


async def test_a_rate_change_reaches_an_open_statement_only_by_the_audited_rerate(rig):
    contract_id = await rig.add_contract(billing=SCENARIO5)
    await rig.publish(
        rig.worklogs_event(contract_id, rig.worklog(contract_id, "2026-03-02T09:00", 6))
    )
    body = await rig.settle(contract_id, 6)
    assert body["figures"]["subtotal"] == "50.00"
    dearer = SCENARIO5.model_copy(
        update={
            "rows": [
                r.model_copy(update={"amount": Decimal(60)}) if r.id == "all" else r
                for r in SCENARIO5.rows
            ]
        }
    )
    assert isinstance(dearer, BillingTerms)
    await rig.publish(
        rig.contract_event(contract_id, billing=dearer, event_type=EventType.CONTRACT_UPDATED)
    )

    async def pending():
        return (await rig.statement(contract_id))["terms_pending"]

    from burnrate_testing import eventually

    await eventually(pending)
    assert (await rig.statement(contract_id))["figures"]["subtotal"] == "50.00"
    rerated = await rig.api.post(
        f"/v1/statements/{body['id']}/rerate", json={"reason": "new rate card"}
    )
    assert rerated.status_code == 200, rerated.text
    assert (rerated.json()["figures"]["subtotal"], rerated.json()["terms_pending"]) == (
        "60.00",
        False,
    )
    [entry] = (await rig.api.get(f"/v1/statements/{body['id']}/history")).json()
    assert (entry["action"], entry["reason"], entry["details"]["subtotal"]) == (
        "rerate",
        "new rate card",
        ["50.00", "60.00"],
    )
