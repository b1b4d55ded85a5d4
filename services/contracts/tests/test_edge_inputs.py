"""Inputs that once gave a 500 or were wrongly accepted: each a 422 naming the field."""

import pytest
from burnrate_contracts.bootstrap import build
from burnrate_contracts.settings import ContractsSettings
from burnrate_testing import serve

pytestmark = pytest.mark.integration


@pytest.fixture
async def api(isolation):
    async with serve(build(isolation.settings(ContractsSettings))) as client:
        yield client


async def _contract(api, **changes):
    customer = (await api.post("/v1/customers", json={"name": "Edge"})).json()
    body = {
        "customer_id": customer["id"],
        "code": "EDGE",
        "title": "Edge",
        "owner_email": "owner@msp.example",
        "start_date": "2026-01-01",
        "end_date": "2026-12-31",
        "timezone": "Europe/Amsterdam",
        "planned_hours": 40,
    }
    return await api.post("/v1/contracts", json=body | changes)


@pytest.mark.parametrize("zone", ["localtime", "posixrules", "Factory", "right/UTC"])
async def test_files_that_are_no_time_zone_are_refused(api, zone):
    response = await _contract(api, timezone=zone)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["timezone"]


@pytest.mark.parametrize(
    ("field", "value"), [("end_date", "9999-12-31"), ("start_date", "0001-01-01")]
)
async def test_dates_far_out_are_refused_not_a_500(api, field, value):
    response = await _contract(api, **{field: value})
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]


async def test_api_keys_are_listed_in_pages(api):
    for n in range(5):
        issued = await api.post("/v1/api-keys", json={"name": f"key {n}", "scopes": ["admin"]})
        assert issued.status_code == 201
    seen, cursor = [], None
    while True:
        page = (
            await api.get(
                "/v1/api-keys", params={"limit": 2, **({"cursor": cursor} if cursor else {})}
            )
        ).json()
        assert len(page["items"]) <= 2
        seen += [k["name"] for k in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"key {n}" for n in range(5)]
    garbage = await api.get("/v1/api-keys", params={"cursor": "nonsense"})
    assert garbage.status_code == 400 and garbage.json()["errors"][0]["field"] == "cursor"
