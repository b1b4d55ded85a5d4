"""Lifecycle, periods with overrides and pro-rating, commercial terms, PATCH with ETags and the
audit history, against the real PostgreSQL and RabbitMQ."""

import datetime as dt

import pytest
from burnrate_common.clock import FixedClock
from burnrate_common.events import EventType
from burnrate_contracts.bootstrap import build
from burnrate_contracts.settings import ContractsSettings
from burnrate_testing import eventually, serve

pytestmark = pytest.mark.integration

# 22:30 UTC on 15 June is already 16 June in Amsterdam.
NOW = dt.datetime(2026, 6, 15, 22, 30, tzinfo=dt.UTC)


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
        "work_accounts": [],
    }
    return body | overrides


@pytest.fixture
async def api(isolation, probe):
    await probe.start("customer.*", "contract.*")
    settings = isolation.settings(ContractsSettings, expiring_within_days=30)
    async with serve(build(settings, clock=FixedClock(NOW))) as client:
        yield client


@pytest.fixture
async def customer(api):
    response = await api.post("/v1/customers", json={"name": "Acme"})
    return response.json()["id"]


def events(probe, event_type, contract_id):
    return [e for e in probe.of_type(event_type) if e.key == contract_id]


async def test_draft_activate_close_with_history_and_events(api, probe, customer):
    created = await api.post("/v1/contracts", json=contract_body(customer, lifecycle="draft"))
    assert created.status_code == 201, created.text
    contract = created.json()
    cid = contract["id"]
    assert (contract["lifecycle"], contract["status"], contract["version"]) == ("draft", "draft", 1)
    assert created.headers["etag"] == '"1"'

    activated = await api.post(f"/v1/contracts/{cid}/activate")
    assert activated.status_code == 200
    assert (activated.json()["lifecycle"], activated.json()["status"]) == ("active", "active")
    assert activated.headers["etag"] == '"2"'
    again = await api.post(f"/v1/contracts/{cid}/activate")
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "lifecycle"

    stale = await api.post(f"/v1/contracts/{cid}/close", headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    closed = await api.post(f"/v1/contracts/{cid}/close", headers={"If-Match": '"2"'})
    assert closed.status_code == 200
    body = closed.json()
    assert (body["lifecycle"], body["status"], body["version"]) == ("closed", "closed", 3)
    assert body["closed_at"] == "2026-06-15T22:30:00Z"
    assert len(body["periods"]) == 12  # closing keeps everything
    assert (await api.post(f"/v1/contracts/{cid}/close")).status_code == 409
    patch = await api.patch(
        f"/v1/contracts/{cid}", json={"title": "x"}, headers={"If-Match": '"3"'}
    )
    assert patch.status_code == 409 and patch.json()["errors"][0]["field"] == "lifecycle"

    history = (await api.get(f"/v1/contracts/{cid}/history")).json()["items"]
    assert [(h["version"], h["action"], h["actor"]) for h in history] == [
        (1, "created", "bootstrap"),
        (2, "activated", "bootstrap"),
        (3, "closed", "bootstrap"),
    ]
    assert history[0]["changes"]["lifecycle"] == {"from": None, "to": "draft"}
    assert history[1]["changes"] == {"lifecycle": {"from": "draft", "to": "active"}}
    assert history[2]["changes"] == {"lifecycle": {"from": "active", "to": "closed"}}

    await eventually(lambda: _count(probe, EventType.CONTRACT_UPDATED, cid, 2))
    assert events(probe, EventType.CONTRACT_CREATED, cid)[0].data["lifecycle"] == "draft"
    assert [e.data["lifecycle"] for e in events(probe, EventType.CONTRACT_UPDATED, cid)] == [
        "active",
        "closed",
    ]

    refused = await api.post(
        "/v1/contracts", json=contract_body(customer, code="X", lifecycle="closed")
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "lifecycle"


async def _count(probe, event_type, contract_id, n):
    return len(events(probe, event_type, contract_id)) >= n


async def test_overrides_prorating_and_terms_reach_the_event(api, probe, customer):
    body = contract_body(
        customer,
        start_date="2026-01-15",
        end_date="2026-12-31",
        prorate_partial_periods=True,
        period_overrides=[{"start_date": "2026-11-15", "planned_hours": 20}],
        currency="USD",
        overage_rate="95.50",
        allowance_policy="hard_stop",
        rollover={"policy": "capped", "cap_hours": 10, "expires_after_periods": 2},
        jira_project_keys=["ACME", "ACMEOPS"],
    )
    response = await api.post("/v1/contracts", json=body)
    assert response.status_code == 201, response.text
    contract = response.json()
    periods = contract["periods"]
    assert len(periods) == 12
    assert periods[10] == {
        "start_date": "2026-11-15",
        "end_date": "2026-12-14",
        "planned_hours": 20.0,
    }
    # 15 to 31 December is 17 of 31 days: 40 h × 17 / 31, rounded down to the second
    assert periods[11] == {
        "start_date": "2026-12-15",
        "end_date": "2026-12-31",
        "planned_hours": 21.94,
    }
    assert contract["overage_rate"] == "95.5000" and contract["currency"] == "USD"
    assert contract["rollover"] == {
        "policy": "capped",
        "cap_hours": 10.0,
        "expires_after_periods": 2,
    }
    assert contract["period_overrides"] == [{"start_date": "2026-11-15", "planned_hours": 20.0}]

    await eventually(lambda: _count(probe, EventType.CONTRACT_CREATED, contract["id"], 1))
    data = events(probe, EventType.CONTRACT_CREATED, contract["id"])[0].data
    assert [p["planned_seconds"] for p in data["periods"]] == [144_000] * 10 + [72_000, 78_967]
    assert data["prorate_partial_periods"] is True
    assert (data["currency"], data["overage_rate"], data["allowance_policy"]) == (
        "USD",
        "95.5000",
        "hard_stop",
    )
    assert data["rollover"] == {
        "policy": "capped",
        "cap_hours": "10.00",
        "expires_after_periods": 2,
    }
    assert data["jira_project_keys"] == ["ACME", "ACMEOPS"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (
            {"period_overrides": [{"start_date": "2026-03-02", "planned_hours": 1}]},
            "period_overrides.0.start_date",
        ),
        (
            {
                "period_overrides": [
                    {"start_date": "2026-03-01", "planned_hours": 1},
                    {"start_date": "2027-01-01", "planned_hours": 1},
                ]
            },
            "period_overrides.1.start_date",
        ),
        (
            {"period_overrides": [{"start_date": "2026-03-01", "planned_hours": -1}]},
            "period_overrides.0.planned_hours",
        ),
        ({"planned_hours": -5}, "planned_hours"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"currency": "usd"}, "currency"),
        ({"overage_rate": -1}, "overage_rate"),
        ({"allowance_policy": "maybe"}, "allowance_policy"),
        ({"rollover": {"policy": "capped"}}, "rollover.cap_hours"),
        (
            {"rollover": {"policy": "none", "expires_after_periods": 2}},
            "rollover.expires_after_periods",
        ),
        ({"jira_project_keys": ["acme"]}, "jira_project_keys.0"),
    ],
)
async def test_bad_terms_name_the_field_and_write_nothing(api, customer, overrides, field):
    response = await api.post("/v1/contracts", json=contract_body(customer) | overrides)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    assert (await api.get("/v1/contracts")).json()["items"] == []


async def test_patch_needs_the_current_etag_and_recomputes_periods(api, probe, customer):
    contract = (await api.post("/v1/contracts", json=contract_body(customer))).json()
    cid = contract["id"]
    url = f"/v1/contracts/{cid}"

    missing = await api.patch(url, json={"title": "New"})
    assert missing.status_code == 428 and missing.json()["errors"][0]["field"] == "If-Match"
    stale = await api.patch(url, json={"title": "New"}, headers={"If-Match": '"7"'})
    assert stale.status_code == 412 and stale.json()["current_etag"] == '"1"'

    changed = await api.patch(
        url,
        json={"end_date": "2026-06-30", "period": "quarterly", "overage_rate": 80},
        headers={"If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] == '"2"'
    assert [(p["start_date"], p["end_date"]) for p in changed.json()["periods"]] == [
        ("2026-01-01", "2026-03-31"),
        ("2026-04-01", "2026-06-30"),
    ]
    # 16 June in Amsterdam, 14 days before the end: expiring
    assert changed.json()["status"] == "expiring"
    # the ETag just read is now the stale one for a second writer
    loser = await api.patch(url, json={"title": "Late"}, headers={"If-Match": '"1"'})
    assert loser.status_code == 412

    await eventually(lambda: _count(probe, EventType.CONTRACT_UPDATED, cid, 1))
    data = events(probe, EventType.CONTRACT_UPDATED, cid)[0].data
    assert [p["planned_seconds"] for p in data["periods"]] == [144_000, 144_000]
    assert data["overage_rate"] == "80.0000"

    history = (await api.get(f"{url}/history")).json()["items"]
    assert history[1]["changes"] == {
        "end_date": {"from": "2026-12-31", "to": "2026-06-30"},
        "overage_rate": {"from": None, "to": "80.0000"},
        "period": {"from": "monthly", "to": "quarterly"},
    }

    # an unchanged PATCH changes nothing: same version, no history, no event
    same = await api.patch(url, json={"title": "Acme support 2026"}, headers={"If-Match": '"2"'})
    assert same.status_code == 200 and same.headers["etag"] == '"2"'

    # a scoped key's name is the "who" of the history
    key = (
        await api.post("/v1/api-keys", json={"name": "psa-sync", "scopes": ["contracts:write"]})
    ).json()["key"]
    by_psa = await api.patch(
        url,
        json={"overage_rate": None, "jira_project_keys": ["ACME"]},
        headers={"If-Match": '"2"', "Authorization": f"Bearer {key}"},
    )
    assert by_psa.status_code == 200, by_psa.text
    last = (await api.get(f"{url}/history")).json()["items"][-1]
    assert (last["version"], last["actor"], last["action"]) == (3, "psa-sync", "updated")
    assert last["changes"] == {
        "jira_project_keys": {"from": [], "to": ["ACME"]},
        "overage_rate": {"from": "80.0000", "to": None},
    }
    page = (await api.get(f"{url}/history", params={"limit": 2})).json()
    assert [h["version"] for h in page["items"]] == [1, 2]
    rest = (await api.get(f"{url}/history", params={"cursor": page["next_cursor"]})).json()
    assert [h["version"] for h in rest["items"]] == [3] and rest["next_cursor"] is None


async def test_every_bad_period_override_is_listed_with_its_own_message(api, customer):
    overrides = [
        {"start_date": "2026-03-02", "planned_hours": 1},
        {"start_date": "2026-04-01", "planned_hours": 1},
        {"start_date": "2027-01-01", "planned_hours": 1},
    ]
    response = await api.post(
        "/v1/contracts", json=contract_body(customer, period_overrides=overrides)
    )
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == [
        "period_overrides.0.start_date",
        "period_overrides.2.start_date",
    ]
    assert all(not e["message"].startswith("period_overrides") for e in errors)
    assert "2027-01-01 is outside the contract" in errors[1]["message"]


@pytest.mark.parametrize(
    ("patch", "field", "status"),
    [
        ({"end_date": "2025-06-30"}, "end_date", 422),
        ({"timezone": "Nowhere/Town"}, "timezone", 422),
        ({"title": None}, "title", 422),
        ({"lifecycle": "closed"}, "lifecycle", 422),
        ({"customer_id": "00000000-0000-0000-0000-000000000001"}, "customer_id", 422),
        ({"start_date": "2026-01-02"}, "period_overrides.0.start_date", 422),
        (
            {"period_overrides": [{"start_date": "2026-12-01", "planned_hours": -2}]},
            "period_overrides.0.planned_hours",
            422,
        ),
        ({"code": "TAKEN"}, "code", 409),
    ],
)
async def test_bad_patch_names_the_field_and_changes_nothing(
    api, probe, customer, patch, field, status
):
    await api.post("/v1/contracts", json=contract_body(customer, code="TAKEN"))
    body = contract_body(
        customer, period_overrides=[{"start_date": "2026-12-01", "planned_hours": 20}]
    )
    contract = (await api.post("/v1/contracts", json=body)).json()
    url = f"/v1/contracts/{contract['id']}"
    response = await api.patch(url, json=patch, headers={"If-Match": '"1"'})
    assert response.status_code == status, response.text
    assert response.json()["errors"][0]["field"] == field
    after = await api.get(url)
    assert after.headers["etag"] == '"1"'
    assert after.json() == contract
    assert len((await api.get(f"{url}/history")).json()["items"]) == 1
