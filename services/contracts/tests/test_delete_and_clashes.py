"""Deleting drafts and customers, and refusing routing clashes (work accounts, Jira project
keys + teams, overlap measured in instants across zones), against the real PostgreSQL and
RabbitMQ."""

import asyncio
import datetime as dt

import pytest
from burnrate_common.clock import FixedClock
from burnrate_common.events import EventType
from burnrate_contracts.bootstrap import build
from burnrate_contracts.settings import ContractsSettings
from burnrate_testing import eventually, serve

pytestmark = pytest.mark.integration

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)


def contract_body(customer_id, **overrides):
    body = {
        "customer_id": customer_id,
        "code": "ACME-2026",
        "title": "Acme support 2026",
        "owner_email": "owner@msp.example",
        "start_date": "2026-01-01",
        "end_date": "2026-12-31",
        "timezone": "Europe/Amsterdam",
        "period": "monthly",
        "planned_hours": 40,
        "teams": ["servicedesk"],
    }
    return body | overrides


@pytest.fixture
async def api(isolation, probe):
    await probe.start("customer.*", "contract.*")
    settings = isolation.settings(ContractsSettings)
    async with serve(build(settings, clock=FixedClock(NOW))) as client:
        yield client


@pytest.fixture
async def customer(api):
    response = await api.post(
        "/v1/customers",
        json={"name": "Acme", "contacts": [{"name": "Dana", "email": "dana@acme.example"}]},
    )
    return response.json()["id"]


def field_of(response):
    assert response.headers["content-type"] == "application/problem+json", response.text
    return response.json()["errors"][0]["field"]


async def test_a_draft_is_deleted_with_history_and_event_an_active_one_is_refused(
    api, probe, customer
):
    draft = await api.post("/v1/contracts", json=contract_body(customer, lifecycle="draft"))
    cid = draft.json()["id"]

    stale = await api.delete(f"/v1/contracts/{cid}", headers={"If-Match": '"7"'})
    assert stale.status_code == 412
    deleted = await api.delete(f"/v1/contracts/{cid}", headers={"If-Match": '"1"'})
    assert deleted.status_code == 204, deleted.text
    assert (await api.get(f"/v1/contracts/{cid}")).status_code == 404
    assert (await api.delete(f"/v1/contracts/{cid}")).status_code == 404
    history = (await api.get(f"/v1/contracts/{cid}/history")).json()["items"]
    assert [(h["version"], h["action"]) for h in history] == [(1, "created"), (2, "deleted")]
    assert history[1]["changes"] == {"lifecycle": {"from": "draft", "to": "deleted"}}

    async def published():
        return [e for e in probe.of_type(EventType.CONTRACT_DELETED) if e.key == cid]

    (event,) = await eventually(published)
    assert event.data["lifecycle"] == "deleted" and event.data["code"] == "ACME-2026"
    assert len(event.data["periods"]) == 12  # the last state, whole

    # The code is free again; an active contract (and a closed one) is closed, not deleted.
    active = (await api.post("/v1/contracts", json=contract_body(customer))).json()
    refused = await api.delete(f"/v1/contracts/{active['id']}")
    assert refused.status_code == 409 and field_of(refused) == "lifecycle"
    assert "close it" in refused.json()["detail"]
    await api.post(f"/v1/contracts/{active['id']}/close")
    refused = await api.delete(f"/v1/contracts/{active['id']}")
    assert refused.status_code == 409 and field_of(refused) == "lifecycle"
    assert (await api.get(f"/v1/contracts/{active['id']}")).json()["lifecycle"] == "closed"
    missing = await api.get("/v1/contracts/00000000-0000-0000-0000-000000000000/history")
    assert missing.status_code == 404


async def test_a_customer_is_deleted_only_without_contracts(api, probe, customer):
    draft = await api.post("/v1/contracts", json=contract_body(customer, lifecycle="draft"))
    refused = await api.delete(f"/v1/customers/{customer}")
    assert refused.status_code == 409 and field_of(refused) == "customer_id"
    assert (await api.get(f"/v1/customers/{customer}")).status_code == 200

    assert (await api.delete(f"/v1/contracts/{draft.json()['id']}")).status_code == 204
    stale = await api.delete(f"/v1/customers/{customer}", headers={"If-Match": '"9"'})
    assert stale.status_code == 412
    assert (await api.delete(f"/v1/customers/{customer}")).status_code == 204
    assert (await api.get(f"/v1/customers/{customer}")).status_code == 404
    history = (await api.get(f"/v1/customers/{customer}/history")).json()["items"]
    assert [h["action"] for h in history] == ["created", "deleted"]
    assert history[-1]["changes"]["name"] == {"from": "Acme", "to": None}

    async def published():
        return [e for e in probe.of_type(EventType.CUSTOMER_DELETED) if e.key == customer]

    (event,) = await eventually(published)
    assert event.data["name"] == "Acme" and len(event.data["contacts"]) == 1

    # A contract for the deleted customer names the field.
    orphan = await api.post("/v1/contracts", json=contract_body(customer, code="LATE"))
    assert orphan.status_code == 422 and field_of(orphan) == "customer_id"


async def test_a_jira_project_key_routes_to_one_contract_per_team_and_time(api, customer):
    async def create(code, **overrides):
        body = contract_body(customer, code=code, **{"jira_project_keys": ["ACME"]} | overrides)
        return await api.post("/v1/contracts", json=body)

    assert (await create("A", teams=["servicedesk", "field"])).status_code == 201
    clash = await create("B", teams=["field"], lifecycle="draft")
    assert clash.status_code == 409 and field_of(clash) == "jira_project_keys"
    assert "ACME" in clash.json()["detail"]
    # Another team, or another year, is another route.
    assert (await create("C", teams=["noc"])).status_code == 201
    assert (
        await create("D", teams=["field"], start_date="2027-01-01", end_date="2027-12-31")
    ).status_code == 201
    # Without teams a contract takes every team but yields to one naming the team: no clash
    # with a contract that names teams, a clash with another contract without teams.
    assert (await create("E", teams=[])).status_code == 201
    clash = await create("F", teams=[])
    assert clash.status_code == 409 and field_of(clash) == "jira_project_keys"
    # A PATCH into a clash is refused too, and writes nothing.
    other = (await create("G", teams=["noc"], jira_project_keys=["OPS"])).json()
    patch = await api.patch(
        f"/v1/contracts/{other['id']}",
        json={"jira_project_keys": ["OPS", "ACME"]},
        headers={"If-Match": '"1"'},
    )
    assert patch.status_code == 409 and field_of(patch) == "jira_project_keys"
    assert (await api.get(f"/v1/contracts/{other['id']}")).json()["version"] == 1
    # One shared day is enough.
    assert (await create("H", teams=["noc"], start_date="2026-12-31")).status_code == 409


@pytest.mark.parametrize(
    ("first", "second", "clash"),
    [
        # 30 June ends at 07:00 UTC on 1 July in Los Angeles; 1 July starts at 12:00 UTC on
        # 30 June in Auckland: the dates do not overlap, the hours do.
        (("America/Los_Angeles", "2026-06-30"), ("Pacific/Auckland", "2026-07-01"), True),
        # The same dates in one zone: back to back.
        (("Europe/Amsterdam", "2026-06-30"), ("Europe/Amsterdam", "2026-07-01"), False),
        # 30 June in Kiritimati (UTC+14) ends at 10:00 UTC, before 30 June begins in
        # Pago Pago (UTC-11, 11:00 UTC): the same date, yet no shared instant.
        (("Pacific/Kiritimati", "2026-06-30"), ("Pacific/Pago_Pago", "2026-06-30"), False),
    ],
)
async def test_overlap_is_measured_in_instants_across_zones(api, customer, first, second, clash):
    ends = await api.post(
        "/v1/contracts",
        json=contract_body(
            customer,
            code="ENDS",
            timezone=first[0],
            start_date="2026-01-01",
            end_date=first[1],
            work_accounts=["ACME"],
            jira_project_keys=["ACME"],
        ),
    )
    assert ends.status_code == 201, ends.text
    for field in ("work_accounts", "jira_project_keys"):
        body = contract_body(
            customer,
            code=f"STARTS-{field}",
            timezone=second[0],
            start_date=second[1],
            end_date="2026-12-31",
            lifecycle="draft",
            **{field: ["ACME"]},
        )
        response = await api.post("/v1/contracts", json=body)
        if clash:
            assert response.status_code == 409 and field_of(response) == field
        else:
            assert response.status_code == 201, response.text
            # Make room for the other field's check.
            assert (await api.delete(f"/v1/contracts/{response.json()['id']}")).status_code == 204


async def test_concurrent_creates_cannot_both_take_a_work_account(api, customer):
    bodies = [
        contract_body(customer, code=f"RACE-{n}", work_accounts=["SHARED"], jira_project_keys=[])
        for n in range(4)
    ]
    answers = await asyncio.gather(*(api.post("/v1/contracts", json=b) for b in bodies))
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409]
    assert {field_of(a) for a in answers if a.status_code == 409} == {"work_accounts"}
