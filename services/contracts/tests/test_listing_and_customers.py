"""The contract list (derived statuses, filters, text search, sorting, cursors) and customer /
contact CRUD with ETags and history, against the real PostgreSQL and RabbitMQ."""

import datetime as dt

import asyncpg
import pytest
from burnrate_common.clock import FixedClock
from burnrate_common.events import EventType
from burnrate_contracts.bootstrap import build
from burnrate_contracts.settings import ContractsSettings
from burnrate_testing import eventually, serve

pytestmark = pytest.mark.integration

# 22:30 UTC on 15 June is already 16 June in Amsterdam.
NOW = dt.datetime(2026, 6, 15, 22, 30, tzinfo=dt.UTC)


@pytest.fixture
async def api(isolation, probe):
    await probe.start("customer.*", "contract.*")
    settings = isolation.settings(ContractsSettings, expiring_within_days=30)
    async with serve(build(settings, clock=FixedClock(NOW))) as client:
        client.settings = settings
        yield client


async def _contract(api, customer_id, code, title, start, end, **extra):
    body = {
        "customer_id": customer_id,
        "code": code,
        "title": title,
        "owner_email": "owner@msp.example",
        "start_date": start,
        "end_date": end,
        "timezone": "Europe/Amsterdam",
        "planned_hours": 10,
    } | extra
    response = await api.post("/v1/contracts", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def _book(api):
    acme = (await api.post("/v1/customers", json={"name": "Acme"})).json()["id"]
    globex = (await api.post("/v1/customers", json={"name": "Globex"})).json()["id"]
    c = {}
    c["running"] = await _contract(
        api,
        acme,
        "ACME-RUN",
        "Acme managed desk",
        "2026-01-01",
        "2026-12-31",
        teams=["servicedesk"],
    )
    c["later"] = await _contract(
        api,
        acme,
        "ACME-NEXT",
        "Acme next year",
        "2026-07-01",
        "2027-06-30",
        owner_email="Lead@MSP.example",
    )
    c["ending"] = await _contract(
        api,
        globex,
        "GLX-END",
        "Globex 50%_off desk",
        "2026-01-01",
        "2026-07-10",
        teams=["field", "servicedesk"],
    )
    # ends on 15 June: expired in Amsterdam (already 16 June) …
    c["gone"] = await _contract(api, globex, "GLX-OLD", "Globex old", "2025-06-16", "2026-06-15")
    # … but in New York it is still 15 June: the last day, so expiring
    c["ny"] = await _contract(
        api,
        globex,
        "GLX-NY",
        "Globex New York",
        "2025-06-16",
        "2026-06-15",
        timezone="America/New_York",
    )
    c["draft"] = await _contract(
        api, acme, "ACME-DRAFT", "Acme draft", "2026-01-01", "2026-12-31", lifecycle="draft"
    )
    c["closed"] = await _contract(
        api, acme, "ACME-CLOSED", "Acme closed", "2026-01-01", "2026-12-31"
    )
    closed = await api.post(f"/v1/contracts/{c['closed']['id']}/close")
    c["closed"] = closed.json()
    return acme, globex, c


async def _codes(api, **params):
    response = await api.get("/v1/contracts", params=params)
    assert response.status_code == 200, response.text
    return sorted(item["code"] for item in response.json()["items"])


async def test_status_filters_agree_with_the_status_of_each_contract(api):
    acme, globex, c = await _book(api)
    assert {k: v["status"] for k, v in c.items()} == {
        "running": "active",
        "later": "not_started",
        "ending": "expiring",
        "gone": "expired",
        "ny": "expiring",
        "draft": "draft",
        "closed": "closed",
    }
    everything = (await api.get("/v1/contracts")).json()["items"]
    by_status: dict[str, list[str]] = {}
    for item in everything:
        by_status.setdefault(item["status"], []).append(item["code"])
    for status in ("draft", "not_started", "active", "expiring", "expired", "closed"):
        assert await _codes(api, status=status) == sorted(by_status.get(status, [])), status
    assert await _codes(api, status=["expired", "draft"]) == ["ACME-DRAFT", "GLX-OLD"]
    bad = await api.get("/v1/contracts", params={"status": "exhausted"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"].startswith("status")

    assert await _codes(api, expiring_within_days=0) == ["GLX-NY"]
    assert await _codes(api, expiring_within_days=24) == ["GLX-END", "GLX-NY"]
    assert await _codes(api, expiring_within_days=23) == ["GLX-NY"]
    assert await _codes(api, customer_id=globex) == ["GLX-END", "GLX-NY", "GLX-OLD"]
    assert await _codes(api, owner="lead@msp.example") == ["ACME-NEXT"]
    assert await _codes(api, team="servicedesk") == ["ACME-RUN", "GLX-END"]
    assert await _codes(api, team="servicedesk", customer_id=acme) == ["ACME-RUN"]


async def test_text_search_sorting_and_cursors(api, isolation):
    await _book(api)
    assert await _codes(api, q="acme") == [
        "ACME-CLOSED",
        "ACME-DRAFT",
        "ACME-NEXT",
        "ACME-RUN",
    ]
    assert await _codes(api, q="MANAGED") == ["ACME-RUN"]
    assert await _codes(api, q="50%_") == ["GLX-END"]  # wildcards match literally
    assert await _codes(api, q="0%") == ["GLX-END"]
    assert await _codes(api, q="_") == ["GLX-END"]
    assert await _codes(api, q="%%") == []

    async def walk(sort, limit):
        seen, cursor = [], None
        while True:
            params = {"sort": sort, "limit": limit} | ({"cursor": cursor} if cursor else {})
            page = (await api.get("/v1/contracts", params=params)).json()
            seen += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                return seen

    codes = [i["code"] for i in await walk("code", 2)]
    assert codes == sorted(codes) and len(codes) == 7
    assert [i["code"] for i in await walk("-code", 3)] == sorted(codes, reverse=True)
    by_end = await walk("-end_date", 2)
    assert [i["end_date"] for i in by_end] == sorted((i["end_date"] for i in by_end), reverse=True)
    # ties on end_date are broken by id, so no row is lost or repeated across pages
    assert len({i["id"] for i in by_end}) == 7
    created = await walk("created_at", 4)
    assert [i["created_at"] for i in created] == sorted(i["created_at"] for i in created)
    assert len(created) == 7

    first = (await api.get("/v1/contracts", params={"sort": "code", "limit": 2})).json()
    foreign = await api.get(
        "/v1/contracts", params={"sort": "-end_date", "cursor": first["next_cursor"]}
    )
    assert foreign.status_code == 400 and foreign.json()["errors"][0]["field"] == "cursor"
    bad_sort = await api.get("/v1/contracts", params={"sort": "title"})
    assert bad_sort.status_code == 422 and bad_sort.json()["errors"][0]["field"] == "sort"

    # the text search has its trigram index (pg_trgm is available on this PostgreSQL)
    conn = await asyncpg.connect(isolation.database_url)
    try:
        index = await conn.fetchval(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = 'contracts_search'",
            api.settings.db_schema,
        )
    finally:
        await conn.close()
    assert "gin_trgm_ops" in index


async def test_customer_and_contacts_crud_with_etags_history_and_events(api, probe):
    created = await api.post(
        "/v1/customers",
        json={"name": "Acme", "contacts": [{"name": "Ann", "email": "ann@acme.example"}]},
    )
    assert created.headers["etag"] == '"1"'
    customer = created.json()
    url = f"/v1/customers/{customer['id']}"

    assert (await api.patch(url, json={"name": "Acme BV"})).status_code == 428
    assert (
        await api.patch(url, json={"name": "Acme BV"}, headers={"If-Match": '"0"'})
    ).status_code == 412
    renamed = await api.patch(url, json={"name": "Acme BV"}, headers={"If-Match": '"1"'})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Acme BV"
    assert renamed.headers["etag"] == '"2"'

    added = await api.post(
        f"{url}/contacts", json={"name": "Bob", "email": "bob@acme.example", "language": "nl"}
    )
    assert added.status_code == 201 and added.headers["etag"] == '"3"'
    bob = added.json()
    dup = await api.post(f"{url}/contacts", json={"name": "B2", "email": "BOB@acme.example"})
    assert dup.status_code == 409 and dup.json()["errors"][0]["field"] == "email"

    contact_url = f"{url}/contacts/{bob['id']}"
    assert (await api.patch(contact_url, json={"language": "en"})).status_code == 428
    stale = await api.patch(contact_url, json={"language": "en"}, headers={"If-Match": '"2"'})
    assert stale.status_code == 412
    changed = await api.patch(contact_url, json={"language": "en"}, headers={"If-Match": '"3"'})
    assert changed.status_code == 200 and changed.json()["language"] == "en"
    ann_id = customer["contacts"][0]["id"]
    removed = await api.delete(f"{url}/contacts/{ann_id}", headers={"If-Match": '"4"'})
    assert removed.status_code == 204 and removed.headers["etag"] == '"5"'
    assert (await api.delete(f"{url}/contacts/{ann_id}")).status_code == 404

    now = (await api.get(url)).json()
    assert now["version"] == 5 and now["name"] == "Acme BV"
    assert now["contacts"] == [
        {"id": bob["id"], "name": "Bob", "email": "bob@acme.example", "language": "en"}
    ]

    history = (await api.get(f"{url}/history")).json()["items"]
    assert [(h["version"], h["action"]) for h in history] == [
        (1, "created"),
        (2, "updated"),
        (3, "contact_added"),
        (4, "contact_updated"),
        (5, "contact_removed"),
    ]
    assert history[1]["changes"] == {"name": {"from": "Acme", "to": "Acme BV"}}
    assert history[3]["changes"] == {
        f"contacts.{bob['id']}": {
            "from": {"name": "Bob", "email": "bob@acme.example", "language": "nl"},
            "to": {"name": "Bob", "email": "bob@acme.example", "language": "en"},
        }
    }
    assert history[4]["changes"] == {
        f"contacts.{ann_id}": {
            "from": {"name": "Ann", "email": "ann@acme.example", "language": "en"},
            "to": None,
        }
    }

    async def four_updates():
        return len(probe.of_type(EventType.CUSTOMER_UPDATED)) >= 4

    await eventually(four_updates)
    updates = probe.of_type(EventType.CUSTOMER_UPDATED)
    assert [len(e.data["contacts"]) for e in updates] == [1, 2, 2, 1]
    assert updates[-1].data == {
        "id": customer["id"],
        "name": "Acme BV",
        "contacts": [
            {"id": bob["id"], "name": "Bob", "email": "bob@acme.example", "language": "en"}
        ],
        # no billing details given
        "legal_name": None,
        "address_lines": [],
        "city": None,
        "postcode": None,
        "country": None,
        "vat_id": None,
        "peppol_endpoint_id": None,
        "peppol_scheme": None,
    }
