"""The rules API against the real PostgreSQL and RabbitMQ."""

import uuid

import pytest
from burnrate_common.auth import hash_key
from burnrate_common.events import ApiKeyIssued, EventType, new_event
from burnrate_testing import eventually

pytestmark = pytest.mark.integration


def rule_body(contract_id=None, **overrides):
    body = {
        "name": "70/90 and overage",
        "contract_id": contract_id,
        "trigger": "percent_consumed",
        "stages": [70, 90],
        "overage": True,
        "audience": {"owner": True, "customer_contacts": True, "emails": ["ops@msp.example"]},
    }
    return body | overrides


async def test_create_get_and_list_rules(rig):
    contract_id = await rig.add_contract()
    response = await rig.api.post("/v1/rules", json=rule_body(str(contract_id)))
    assert response.status_code == 201, response.text
    rule = response.json()
    assert rule | {"id": None, "created_at": None, "updated_at": None} == {
        "id": None,
        "created_at": None,
        "updated_at": None,
        "name": "70/90 and overage",
        "contract_id": str(contract_id),
        "customer_id": None,
        "trigger": "percent_consumed",
        "stages": [70, 90],
        "overage": True,
        "audience": {
            "owner": True,
            "teams": False,
            "customer_contacts": True,
            "emails": ["ops@msp.example"],
            "webhook_url": None,
            "include_internal": False,
        },
        "enabled": True,
    }
    assert (await rig.api.get(f"/v1/rules/{rule['id']}")).json() == rule

    minimal = {"name": "all", "trigger": "percent_consumed", "stages": [100]}
    everywhere = (await rig.api.post("/v1/rules", json=minimal)).json()
    assert everywhere["contract_id"] is None and everywhere["overage"] is False
    assert everywhere["audience"] == {
        "owner": True,
        "teams": False,
        "customer_contacts": False,
        "emails": [],
        "webhook_url": None,
        "include_internal": False,
    }

    first = (await rig.api.get("/v1/rules", params={"limit": 1})).json()
    assert [r["id"] for r in first["items"]] == [rule["id"]]
    second = (
        await rig.api.get("/v1/rules", params={"limit": 1, "cursor": first["next_cursor"]})
    ).json()
    assert [r["id"] for r in second["items"]] == [everywhere["id"]]
    mine = (await rig.api.get("/v1/rules", params={"contract_id": str(contract_id)})).json()
    assert [r["id"] for r in mine["items"]] == [rule["id"]]


async def test_duplicate_addresses_are_merged(rig):
    audience = {"owner": False, "emails": ["a@x.example", "A@x.example", "b@x.example"]}
    rule = (await rig.api.post("/v1/rules", json=rule_body(audience=audience))).json()
    assert rule["audience"]["emails"] == ["a@x.example", "b@x.example"]


BAD_INPUT = [
    ({"stages": [90, 70]}, "stages"),
    ({"stages": [70, 70]}, "stages"),
    ({"stages": [0, 70]}, "stages"),
    ({"stages": [70, 1001]}, "stages"),
    ({"stages": []}, "stages"),
    ({"stages": [70.5]}, "stages.0"),
    ({"trigger": "moon_phase"}, "trigger"),
    ({"trigger": None}, "trigger"),
    ({"audience": {"emails": ["not-an-address"]}}, "audience.emails.0"),
    ({"audience": {"owner": False}}, "audience"),
    ({"contract_id": str(uuid.uuid4())}, "contract_id"),
    ({"contract_id": "nope"}, "contract_id"),
    ({"name": ""}, "name"),
    ({"colour": "red"}, "colour"),
]


async def test_bad_rule_input_names_the_field_and_writes_nothing(rig):
    # One service for every case: starting one per case would cost a second each.
    for overrides, field in BAD_INPUT:
        response = await rig.api.post("/v1/rules", json=rule_body(**overrides))
        assert response.status_code == 422, (overrides, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in response.json()["errors"]] == [field], overrides
    assert (await rig.api.get("/v1/rules")).json()["items"] == []


async def test_malformed_json_unknown_ids_and_bad_cursor(rig):
    response = await rig.api.post(
        "/v1/rules", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["title"] == "Malformed JSON"
    missing = uuid.uuid4()
    response = await rig.api.get(f"/v1/rules/{missing}")
    assert response.status_code == 404 and response.json()["errors"][0]["field"] == "rule_id"
    response = await rig.api.get(f"/v1/contracts/{missing}/totals")
    assert response.status_code == 404 and response.json()["errors"][0]["field"] == "contract_id"
    response = await rig.api.get("/v1/alerts", params={"cursor": "garbage"})
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "cursor"
    response = await rig.api.get("/v1/alerts", params={"contract_id": "x"})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "contract_id"


async def test_api_keys_replicated_from_the_bus_carry_scopes(rig):
    assert (await rig.api.get("/v1/rules", headers={"Authorization": ""})).status_code == 401
    key = "br_reader-key-for-tests"
    issued = ApiKeyIssued(
        id=uuid.uuid4(), name="reader", key_hash=hash_key(key), scopes=["rules:read"]
    )
    await rig.publish(
        new_event(EventType.APIKEY_ISSUED, issued, key=issued.id, producer="contracts")
    )
    reader = {"Authorization": f"Bearer {key}"}

    async def replicated():
        return (await rig.api.get("/v1/rules", headers=reader)).status_code == 200

    await eventually(replicated)
    assert (await rig.api.get("/v1/alerts", headers=reader)).status_code == 200
    forbidden = await rig.api.post("/v1/rules", json=rule_body(), headers=reader)
    assert forbidden.status_code == 403 and forbidden.json()["required_scope"] == "rules:write"


async def test_health_ready_and_metrics(rig):
    assert (await rig.api.get("/healthz")).json() == {"status": "ok"}
    ready = (await rig.api.get("/readyz")).json()
    assert ready["status"] == "ok"
    assert {"database", "broker", "loop:outbox-relay", "loop:consumer"} <= set(ready["checks"])
    assert all(ready["checks"].values())
    await rig.api.get("/v1/rules")
    metrics = (await rig.api.get("/metrics")).text
    assert (
        'burnrate_rules_http_requests_total{method="GET",route="/v1/rules",status="200"}' in metrics
    )


async def test_at_most_max_rules_per_contract_enabled_rules_apply_to_one_contract(rig):
    """25 rules sent 250 mails to one address in 14 s: the rules that apply to one contract
    (its own, its customer's, everyone's) are capped (BURNRATE_MAX_RULES_PER_CONTRACT, 20),
    counting the enabled ones; the refusal is a 409 naming the field to change."""
    crowded = await rig.add_contract()
    other = await rig.add_contract(customer_id=uuid.uuid4())
    for n in range(19):
        response = await rig.api.post("/v1/rules", json=rule_body(str(crowded), name=f"r{n}"))
        assert response.status_code == 201, response.text
    everyone = await rig.api.post("/v1/rules", json=rule_body(name="everyone"))
    assert everyone.status_code == 201  # the 20th rule that applies to `crowded`

    for body, field in [
        (rule_body(str(crowded), name="21st"), "contract_id"),
        (rule_body(customer_id=str(rig.customer_id), name="21st"), "customer_id"),
        (rule_body(name="21st for everyone"), "contract_id"),
    ]:
        refused = await rig.api.post("/v1/rules", json=body)
        assert refused.status_code == 409, refused.text
        problem = refused.json()
        assert problem["title"] == "Too many rules" and problem["limit"] == 20
        assert [e["field"] for e in problem["errors"]] == [field]
        assert str(crowded) in problem["detail"]

    # Another customer's contract has room; a disabled rule can always be kept.
    assert (await rig.api.post("/v1/rules", json=rule_body(str(other)))).status_code == 201
    parked = await rig.api.post("/v1/rules", json=rule_body(str(crowded), enabled=False))
    assert parked.status_code == 201
    enable = await rig.api.patch(f"/v1/rules/{parked.json()['id']}", json={"enabled": True})
    assert enable.status_code == 409 and enable.json()["errors"][0]["field"] == "enabled"
    # Room made by disabling another: now it can be enabled.
    first = (await rig.api.get("/v1/rules", params={"contract_id": str(crowded)})).json()
    off = await rig.api.patch(f"/v1/rules/{first['items'][0]['id']}", json={"enabled": False})
    assert off.status_code == 200
    enable = await rig.api.patch(f"/v1/rules/{parked.json()['id']}", json={"enabled": True})
    assert enable.status_code == 200, enable.text
