"""Webhooks: JSM (issue created / updated with its changelog, comments) and Zendesk (signed
ticket events, out of order and twice); bad signatures; the closing confirmation."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlsplit

from burnrate_testing import eventually
from burnrate_tickets.auth import zendesk_signature

from .conftest import JSM_SECRET, ZENDESK_SECRET, Rig, ams


def iso(at: dt.datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


async def jsm(rig: Rig, payload: dict[str, Any], secret: str = JSM_SECRET) -> Any:
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return await rig.api.post(
        "/v1/webhooks/jsm",
        content=body,
        headers={"X-Hub-Signature": signature, "Content-Type": "application/json"},
    )


async def zendesk(
    rig: Rig, payload: dict[str, Any], *, secret: str = ZENDESK_SECRET, **params: str
) -> Any:
    body = json.dumps(payload).encode()
    timestamp = iso(rig.clock.now())
    return await rig.api.post(
        "/v1/webhooks/zendesk",
        content=body,
        params=params,
        headers={
            "X-Zendesk-Webhook-Signature": zendesk_signature(secret, timestamp, body),
            "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
            "Content-Type": "application/json",
        },
    )


def issue(fields: dict[str, Any]) -> dict[str, Any]:
    base = {
        "created": "2026-03-16T09:00:00.000+0100",
        "priority": {"name": "High"},
        "status": {"name": "Waiting for support"},
    }
    return {"id": "10042", "key": "SD-42", "fields": base | fields}


async def test_jsm_issue_created_updated_and_commented(rig: Rig) -> None:
    contract_id = await rig.add_contract(jira_project_keys=["SD"])
    created = await jsm(
        rig, {"webhookEvent": "jira:issue_created", "timestamp": 1773648000000, "issue": issue({})}
    )
    assert created.status_code == 200, created.text
    tid = created.json()["ticket_id"]
    ticket = (await rig.api.get(f"/v1/tickets/{tid}")).json()
    assert ticket["contract_id"] == str(contract_id) and ticket["priority"] == "P2"
    assert ticket["reference"] == "SD-42" and ticket["source"] == "jsm"
    rig.clock.set(ams(2026, 3, 16, 12, 0))
    update = {
        "webhookEvent": "jira:issue_updated",
        "timestamp": int(ams(2026, 3, 16, 10, 0).timestamp() * 1000),
        "issue": issue({"status": {"name": "Waiting for customer"}}),
        "changelog": {
            "id": "20001",
            "items": [
                {
                    "field": "status",
                    "fromString": "Waiting for support",
                    "toString": "Waiting for customer",
                },
                {"field": "priority", "fromString": "High", "toString": "Highest"},
            ],
        },
    }
    assert (await jsm(rig, update)).json()["recorded"] == 2
    assert (await jsm(rig, update)).json()["recorded"] == 0  # redelivered: nothing changes
    comment = {
        "webhookEvent": "comment_created",
        "timestamp": int(ams(2026, 3, 16, 9, 30).timestamp() * 1000),
        "issue": issue({}),
        "comment": {
            "id": "777",
            "created": "2026-03-16T09:30:00.000+0100",
            "jsdPublic": True,
            "author": {"accountType": "atlassian"},
        },
    }
    assert (await jsm(rig, comment)).json()["recorded"] == 1
    sla = await rig.sla(tid)
    by_metric = {m["metric"]: m for m in sla["metrics"]}
    assert by_metric["first_response"]["stopped_at"] == iso(ams(2026, 3, 16, 9, 30))
    # P1 since 10:00 (24×7, 60 min) measured from the opening; paused since 10:00
    assert by_metric["resolution"]["priority"] == "P1"
    assert by_metric["resolution"]["state"] == "paused"
    assert by_metric["resolution"]["elapsed_minutes"] == 60
    bad = await jsm(rig, update, secret="wrong")
    assert bad.status_code == 401 and bad.json()["errors"][0]["field"] == "X-Hub-Signature"
    unknown = await jsm(
        rig,
        {
            "webhookEvent": "jira:issue_created",
            "issue": issue({"priority": {"name": "Whenever"}}) | {"id": "1", "key": "SD-1"},
        },
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "issue.fields.priority.name"


def zd(
    kind: str, event_id: str, at: dt.datetime, event: dict[str, Any], **detail: Any
) -> dict[str, Any]:
    return {
        "type": f"zen:event-type:ticket.{kind}",
        "account_id": 1,
        "id": event_id,
        "time": iso(at),
        "zendesk_event_version": "2022-11-06",
        "subject": "zen:ticket:35436",
        "detail": {
            "id": "35436",
            "created_at": iso(ams(2026, 3, 16, 9, 0)),
            "priority": "HIGH",
            "status": "OPEN",
        }
        | detail,
        "event": event,
    }


async def test_zendesk_events_out_of_order_and_twice(rig: Rig) -> None:
    contract_id = await rig.add_contract()
    rig.clock.set(ams(2026, 3, 16, 13, 0))
    events = [
        zd(
            "created",
            "e1",
            ams(2026, 3, 16, 9, 0),
            {"current": {"status": "Open"}},
            priority="NORMAL",
        ),
        zd(
            "priority_changed",
            "e2",
            ams(2026, 3, 16, 9, 30),
            {"current": "HIGH", "previous": "NORMAL"},
        ),
        zd(
            "status_changed",
            "e3",
            ams(2026, 3, 16, 10, 0),
            {"current": "PENDING", "previous": "OPEN"},
        ),
        zd(
            "comment_added",
            "e4",
            ams(2026, 3, 16, 10, 0),
            {"comment": {"id": "c1", "is_public": True, "author": {"is_staff": True}}},
        ),
        zd(
            "status_changed",
            "e5",
            ams(2026, 3, 16, 11, 0),
            {"current": "OPEN", "previous": "PENDING"},
        ),
    ]
    order = [4, 2, 0, 3, 1, 2, 4]  # out of order, some twice
    ticket_ids = set()
    for n in order:
        response = await zendesk(rig, events[n], contract_id=str(contract_id))
        assert response.status_code == 200, response.text
        ticket_ids.add(response.json()["ticket_id"])
    [tid] = ticket_ids
    ticket = (await rig.api.get(f"/v1/tickets/{tid}")).json()
    assert ticket["reference"] == "ZD-35436" and ticket["priority"] == "P2"
    assert ticket["opened_at"] == iso(ams(2026, 3, 16, 9, 0))
    sla = await rig.sla(tid)
    resolution = next(m for m in sla["metrics"] if m["metric"] == "resolution")
    # 09:00–10:00 and 11:00–13:00 running: 3 h of P2's 4 h
    assert resolution["elapsed_minutes"] == 180 and resolution["state"] == "running"
    assert resolution["due_at"] == iso(ams(2026, 3, 16, 14, 0))
    first = next(m for m in sla["metrics"] if m["metric"] == "first_response")
    assert first["stopped_at"] == iso(ams(2026, 3, 16, 10, 0)) and first["met"] is True
    bad = await zendesk(rig, events[0], secret="wrong", contract_id=str(contract_id))
    assert bad.status_code == 401
    assert bad.json()["errors"][0]["field"] == "X-Zendesk-Webhook-Signature"


async def test_zendesk_ticket_without_a_contract_is_kept(rig: Rig) -> None:
    response = await zendesk(
        rig,
        zd("created", "u1", ams(2026, 3, 16, 9, 0), {}),
        customer_id="00000000-0000-0000-0000-000000000001",
    )
    assert response.status_code == 200, response.text
    listed = (await rig.api.get("/v1/tickets/unattributed")).json()["items"]
    assert [t["attribution"] for t in listed] == ["unknown_customer"]


async def test_the_customer_confirms_the_closure_and_rates_it(rig: Rig) -> None:
    contract_id = await rig.add_contract()
    ticket = await rig.open(contract_id, priority="P2")
    rig.clock.set(ams(2026, 3, 16, 11, 0))
    resolved = await rig.post(ticket["id"], "resolve")
    link = resolved["confirmation_link"]
    path = urlsplit(link).path
    page = await rig.api.get(path, headers={"Authorization": ""})
    assert page.status_code == 200 and page.json()["status_kind"] == "resolved"
    tampered = await rig.api.post(path[:-3] + "abc", json={"rating": 5})
    assert tampered.status_code == 404
    bad = await rig.api.post(path, json={"rating": 6})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "rating"
    done = await rig.api.post(path, json={"rating": 4, "comment": "quick, thanks"})
    assert done.status_code == 200, done.text
    assert done.json()["confirmation"]["rating"] == 4
    got = (await rig.api.get(f"/v1/tickets/{ticket['id']}")).json()
    assert got["status_kind"] == "closed" and got["confirmation"]["comment"] == "quick, thanks"

    async def confirmed() -> bool:
        return any(
            e.type.value == "ticket.confirmed" and e.data["rating"] == 4 for e in rig.probe.events
        )

    await eventually(confirmed)


async def test_the_customer_reopens_through_the_link(rig: Rig) -> None:
    contract_id = await rig.add_contract()
    ticket = await rig.open(contract_id, priority="P2")
    rig.clock.set(ams(2026, 3, 16, 11, 0))
    resolved = await rig.post(ticket["id"], "resolve")
    path = urlsplit(resolved["confirmation_link"]).path
    reopened = await rig.api.post(path, json={"action": "reopen"})
    assert reopened.status_code == 200 and reopened.json()["status_kind"] == "active"
    again = await rig.api.post(path, json={"action": "confirm"})
    assert again.status_code == 409


async def test_a_zendesk_organization_mapped_to_a_customer_attributes_its_tickets(
    rig: Rig,
) -> None:
    contract_id = await rig.add_contract()
    rig.clock.set(ams(2026, 3, 16, 9, 30))
    path = "/v1/mappings/zendesk-organizations"
    # a ticket of an organization not mapped yet: kept, and why
    early = await zendesk(
        rig, zd("created", "o1", ams(2026, 3, 16, 9, 0), {}, id="501", organization_id="9001")
    )
    assert early.status_code == 200, early.text
    kept = (await rig.api.get(f"/v1/tickets/{early.json()['ticket_id']}")).json()
    assert kept["contract_id"] is None and kept["attribution"] == "unknown_organization"
    created = await rig.api.put(f"{path}/9001", json={"customer_id": str(rig.customer_id)})
    assert created.status_code == 201, created.text
    assert created.json()["attributed"] == 1  # the ticket kept for it, attributed now
    kept = (await rig.api.get(f"/v1/tickets/{early.json()['ticket_id']}")).json()
    assert kept["contract_id"] == str(contract_id) and kept["level"] == "gold"
    # a later ticket of the organization: attributed without query parameters
    later = await zendesk(
        rig, zd("created", "o2", ams(2026, 3, 16, 9, 10), {}, id="502", organization_id=9001)
    )
    ticket = (await rig.api.get(f"/v1/tickets/{later.json()['ticket_id']}")).json()
    assert ticket["contract_id"] == str(contract_id) and ticket["attribution"] == "attributed"
    assert ticket["due"], "measured against the contract's level"
    # the same PUT again: 200, nothing changes; listing, reading, bad input, deleting
    again = await rig.api.put(f"{path}/9001", json={"customer_id": str(rig.customer_id)})
    assert again.status_code == 200 and again.json()["attributed"] == 0
    listed = (await rig.api.get(path)).json()["items"]
    assert [(m["org_id"], m["customer_id"]) for m in listed] == [("9001", str(rig.customer_id))]
    bad = await rig.api.put(f"{path}/9002", json={"customer_id": "not-a-uuid"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "customer_id"
    assert (await rig.api.get(f"{path}/9002")).status_code == 404
    assert (await rig.api.delete(f"{path}/9001")).status_code == 204
    assert (await rig.api.get(f"{path}/9001")).status_code == 404
    # once the mapping is gone, the organization's tickets are kept again
    other = await zendesk(
        rig, zd("created", "o3", ams(2026, 3, 16, 9, 20), {}, id="503", organization_id="9001")
    )
    assert (await rig.api.get(f"/v1/tickets/{other.json()['ticket_id']}")).json()[
        "attribution"
    ] == "unknown_organization"
