"""A customer's billing details: given on create or by PATCH, kept in the history, carried by
the customer.* events (what billing fills the invoice's buyer with); bad ones name the field."""

import datetime as dt

import pytest
from burnrate_common.clock import FixedClock
from burnrate_common.events import EventType
from burnrate_contracts.bootstrap import build
from burnrate_contracts.settings import ContractsSettings
from burnrate_testing import eventually, serve

pytestmark = pytest.mark.integration

BILLING = {
    "legal_name": "Acme Holding B.V.",
    "address_lines": ["Keizersgracht 1"],
    "city": "Amsterdam",
    "postcode": "1015 AA",
    "country": "NL",
    "vat_id": "NL123456789B01",
    "peppol_endpoint_id": "87654321",
    "peppol_scheme": "0106",
}


@pytest.fixture
async def api(isolation, probe):
    await probe.start("customer.*")
    settings = isolation.settings(ContractsSettings)
    async with serve(
        build(settings, clock=FixedClock(dt.datetime(2026, 3, 1, tzinfo=dt.UTC)))
    ) as c:
        yield c


async def test_billing_details_are_kept_versioned_and_published(api, probe):
    created = await api.post("/v1/customers", json={"name": "Acme", "billing": BILLING})
    assert created.status_code == 201, created.text
    customer = created.json()
    assert customer["billing"] == BILLING

    async def created_event():
        return probe.of_type(EventType.CUSTOMER_CREATED) or None

    [event] = await eventually(created_event)
    assert {k: event.data[k] for k in BILLING} == BILLING

    # a rename keeps the details; a PATCH of the details alone changes only them
    etag = created.headers["etag"]
    renamed = await api.patch(
        f"/v1/customers/{customer['id']}", json={"name": "Acme BV"}, headers={"If-Match": etag}
    )
    assert renamed.status_code == 200 and renamed.json()["billing"] == BILLING
    moved = {**BILLING, "address_lines": ["Damrak 2", "3rd floor"], "postcode": "1012 LG"}
    patched = await api.patch(
        f"/v1/customers/{customer['id']}",
        json={"billing": moved},
        headers={"If-Match": renamed.headers["etag"]},
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["name"], patched.json()["billing"]) == ("Acme BV", moved)
    assert patched.json()["version"] == 3
    same = await api.patch(
        f"/v1/customers/{customer['id']}",
        json={"billing": moved},
        headers={"If-Match": patched.headers["etag"]},
    )
    assert same.json()["version"] == 3  # nothing changed: no version, no event

    async def two_updates():
        updates = probe.of_type(EventType.CUSTOMER_UPDATED)
        return updates if len(updates) >= 2 else None

    updates = await eventually(two_updates)
    assert updates[-1].data["address_lines"] == ["Damrak 2", "3rd floor"]
    assert updates[-1].data["name"] == "Acme BV"
    history = (await api.get(f"/v1/customers/{customer['id']}/history")).json()["items"]
    assert "billing.postcode" in history[-1]["changes"]

    cleared = await api.patch(
        f"/v1/customers/{customer['id']}",
        json={"billing": None},
        headers={"If-Match": same.headers["etag"]},
    )
    assert cleared.status_code == 200 and cleared.json()["billing"] is None


async def test_bad_billing_details_name_the_field(api):
    for bad, field in (
        ({"country": "nl"}, "country"),
        ({"vat_id": "123"}, "vat_id"),
        ({"peppol_endpoint_id": "87654321"}, "peppol_scheme"),
        ({"peppol_endpoint_id": "1", "peppol_scheme": "KVK"}, "peppol_scheme"),
        ({"address_lines": ["a", "b", "c", "d"]}, "address_lines"),
    ):
        response = await api.post("/v1/customers", json={"name": "Bad", "billing": bad})
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["errors"][0]["field"].endswith(field), response.json()
