"""The contracts API against the real PostgreSQL and RabbitMQ."""

import pytest
from burnrate_common.events import EventType
from burnrate_contracts.bootstrap import build
from burnrate_contracts.settings import ContractsSettings
from burnrate_testing import eventually, serve

pytestmark = pytest.mark.integration

CUSTOMER = {
    "name": "Acme",
    "contacts": [{"name": "Ann", "email": "ann@acme.example", "language": "nl"}],
}


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
        "teams": ["servicedesk", "field"],
        "work_accounts": ["ACME-SUPPORT"],
    }
    return body | overrides


@pytest.fixture
async def api(isolation, probe):
    await probe.start("customer.*", "contract.*", "apikey.*")
    async with serve(build(isolation.settings(ContractsSettings))) as client:
        yield client


async def test_create_customer_and_contract_publish_events(api, probe):
    customer = (await api.post("/v1/customers", json=CUSTOMER)).json()
    assert customer["contacts"][0]["language"] == "nl"

    response = await api.post("/v1/contracts", json=contract_body(customer["id"]))
    assert response.status_code == 201, response.text
    contract = response.json()
    assert len(contract["periods"]) == 12
    assert contract["periods"][0] == {
        "start_date": "2026-01-01",
        "end_date": "2026-01-31",
        "planned_hours": 40.0,
    }

    await eventually(lambda: _has(probe, EventType.CONTRACT_CREATED))
    event = probe.of_type(EventType.CONTRACT_CREATED)[0]
    assert event.key == contract["id"] and event.producer == "contracts"
    assert event.data["periods"][2]["planned_seconds"] == 144_000
    assert (
        probe.of_type(EventType.CUSTOMER_CREATED)[0].data["contacts"][0]["email"]
        == "ann@acme.example"
    )

    listed = (await api.get("/v1/contracts", params={"customer_id": customer["id"]})).json()
    assert [c["id"] for c in listed["items"]] == [contract["id"]]
    assert (await api.get(f"/v1/contracts/{contract['id']}")).json()["code"] == "ACME-2026"


async def _has(probe, event_type):
    return probe.of_type(event_type)


@pytest.mark.parametrize(
    ("overrides", "field", "status"),
    [
        ({"end_date": "2025-12-31"}, "end_date", 422),
        ({"timezone": "Mars/Olympus"}, "timezone", 422),
        ({"owner_email": "not-an-address"}, "owner_email", 422),
        ({"planned_hours": -5}, "planned_hours", 422),
        ({"period": "weekly"}, "period", 422),
        ({"customer_id": "00000000-0000-0000-0000-000000000001"}, "customer_id", 422),
    ],
)
async def test_bad_contract_input_names_the_field_and_writes_nothing(api, overrides, field, status):
    customer = (await api.post("/v1/customers", json=CUSTOMER)).json()
    response = await api.post("/v1/contracts", json=contract_body(customer["id"]) | overrides)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in response.json()["errors"]]
    assert (await api.get("/v1/contracts")).json()["items"] == []


async def test_duplicate_code_and_clashing_work_account_are_conflicts(api):
    customer = (await api.post("/v1/customers", json=CUSTOMER)).json()
    assert (await api.post("/v1/contracts", json=contract_body(customer["id"]))).status_code == 201
    again = await api.post("/v1/contracts", json=contract_body(customer["id"]))
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "code"
    clash = await api.post("/v1/contracts", json=contract_body(customer["id"], code="OTHER"))
    assert clash.status_code == 409 and clash.json()["errors"][0]["field"] == "work_accounts"
    later = contract_body(
        customer["id"], code="ACME-2027", start_date="2027-01-01", end_date="2027-12-31"
    )
    assert (await api.post("/v1/contracts", json=later)).status_code == 201


async def test_malformed_json_and_bad_contact_email(api):
    response = await api.post(
        "/v1/customers", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["title"] == "Malformed JSON"
    bad = {"name": "X", "contacts": [{"name": "Y", "email": "nope"}]}
    response = await api.post("/v1/customers", json=bad)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "contacts.0.email"


async def test_api_keys_are_hashed_scoped_and_revocable(api, probe):
    assert (await api.get("/v1/contracts", headers={"Authorization": ""})).status_code == 401
    assert (
        await api.get("/v1/contracts", headers={"Authorization": "Bearer nope"})
    ).status_code == 401

    issued = (
        await api.post("/v1/api-keys", json={"name": "psa", "scopes": ["contracts:read"]})
    ).json()
    reader = {"Authorization": f"Bearer {issued['key']}"}
    assert (await api.get("/v1/contracts", headers=reader)).status_code == 200
    forbidden = await api.post("/v1/customers", json=CUSTOMER, headers=reader)
    assert forbidden.status_code == 403 and forbidden.json()["required_scope"] == "contracts:write"

    await eventually(lambda: _has(probe, EventType.APIKEY_ISSUED))
    assert issued["key"] not in str(probe.of_type(EventType.APIKEY_ISSUED)[0].data)

    listed = (await api.get("/v1/api-keys")).json()["items"]
    assert "key" not in listed[0]
    assert (await api.delete(f"/v1/api-keys/{issued['id']}")).status_code == 204
    assert (await api.get("/v1/contracts", headers=reader)).status_code == 401

    unknown_scope = await api.post("/v1/api-keys", json={"name": "x", "scopes": ["root"]})
    assert (
        unknown_scope.status_code == 422 and unknown_scope.json()["errors"][0]["field"] == "scopes"
    )


async def test_health_ready_and_metrics(api):
    assert (await api.get("/healthz")).json() == {"status": "ok"}
    ready = (await api.get("/readyz")).json()
    # The outbox relay runs supervised (burnrate_common.supervision): a check of its own.
    assert ready == {
        "status": "ok",
        "checks": {"database": True, "broker": True, "loop:outbox-relay": True},
    }
    await api.get("/v1/contracts")
    metrics = (await api.get("/metrics")).text
    assert (
        'burnrate_contracts_http_requests_total{method="GET",route="/v1/contracts",status="200"}'
        in metrics
    )
    assert "burnrate_contracts_outbox_backlog" in metrics
