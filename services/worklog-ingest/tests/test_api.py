"""The worklog-ingest API against the real PostgreSQL and RabbitMQ.

The routing replica is fed the way the contracts service feeds it: ``contract.*`` events on
the test's exchange.
"""

import asyncio
import datetime as dt
import gc
import uuid
from decimal import Decimal

import pytest
from burnrate_common.auth import hash_key
from burnrate_common.events import (
    ApiKeyIssued,
    ContractChanged,
    ContractPeriod,
    EventType,
    new_event,
)
from burnrate_common.pagination import encode_cursor
from burnrate_testing import eventually, publish, serve
from burnrate_worklog_ingest.bootstrap import build
from burnrate_worklog_ingest.settings import WorklogIngestSettings

pytestmark = pytest.mark.integration

D = dt.date
PLANNED = 40 * 3600
START_2026, END_2026 = D(2026, 1, 1), D(2026, 12, 31)


def monthly_periods(start, end):
    periods, month = [], D(start.year, start.month, 1)
    while month <= end:
        following = D(month.year + month.month // 12, month.month % 12 + 1, 1)
        periods.append(
            ContractPeriod(
                start_date=max(month, start),
                end_date=min(following - dt.timedelta(days=1), end),
                planned_seconds=PLANNED,
            )
        )
        month = following
    return periods


def contract_event(
    contract_id=None,
    *,
    start=START_2026,
    end=END_2026,
    timezone="Europe/Amsterdam",
    work_accounts=("ACME-SUPPORT",),
    event_type=EventType.CONTRACT_CREATED,
):
    contract_id = contract_id or uuid.uuid4()
    payload = ContractChanged(
        id=contract_id,
        customer_id=uuid.UUID(int=7),
        code=f"C-{contract_id.hex[:8]}",
        title="Acme support",
        owner_email="owner@msp.example",
        start_date=start,
        end_date=end,
        timezone=timezone,
        period="monthly",
        planned_hours=Decimal(40),
        teams=["servicedesk", "field"],
        work_accounts=list(work_accounts),
        periods=monthly_periods(start, end),
    )
    return new_event(event_type, payload, key=contract_id, producer="contracts")


def worklog(contract_id=None, **overrides):
    body = {
        "source": "api",
        "external_id": uuid.uuid4().hex,
        "contract_id": str(contract_id) if contract_id else None,
        "author": "tech1",
        "team": "servicedesk",
        "activity": "phone support",
        "started_at": "2026-03-10T09:00:00+01:00",
        "seconds": 10_800,
        "ticket": "ACME-42",
    }
    return {k: v for k, v in (body | overrides).items() if v is not None}


def consumption(contract_id, period_start, period_end, seconds, worklogs, outside=0, **key):
    return {
        "contract_id": str(contract_id),
        "period_start": period_start,
        "period_end": period_end,
        "team": key.get("team", "servicedesk"),
        "activity": key.get("activity", "phone support"),
        "delta_seconds": seconds,
        "delta_worklogs": worklogs,
        "delta_outside_dates_seconds": outside,
        "author": key.get("author", "tech1"),
        "location": key.get("location"),
    }


def handled(api, event_type, status="success"):
    value = api.app.state.metrics.registry.get_sample_value(
        "burnrate_worklog_ingest_messages_consumed_total",
        {"type": event_type.value, "status": status},
    )
    return int(value or 0)


async def replicate(api, isolation, *events):
    """Publish contract events as the contracts service would, and wait until handled."""
    before = handled(api, EventType.CONTRACT_CREATED) + handled(api, EventType.CONTRACT_UPDATED)
    await publish(isolation.amqp_url, isolation.amqp_prefix, *events)

    async def done():
        now = handled(api, EventType.CONTRACT_CREATED) + handled(api, EventType.CONTRACT_UPDATED)
        return now >= before + len(events)

    await eventually(done)


def lines(event):
    """A ``consumption.recorded`` v2 event as one dict per line, with the period's fields."""
    period = {k: event.data[k] for k in ("contract_id", "period_start", "period_end")}
    return [period | line for line in event.data["lines"]]


def published(probe, event_type):
    """The payloads of that type; consumption flattened to one per (team, activity, author)."""
    if event_type is EventType.CONSUMPTION_RECORDED:
        return [line for e in probe.of_type(event_type) for line in lines(e)]
    return [e.data for e in probe.of_type(event_type)]


async def settled(probe, event_type, count):
    """Exactly ``count`` payloads of that type were published (waits for late extras too);
    for ``consumption.recorded``, ``count`` lines."""

    async def arrived():
        return len(published(probe, event_type)) >= count

    await eventually(arrived)
    await asyncio.sleep(0.3)
    found = published(probe, event_type)
    assert len(found) == count, found
    return found


async def settled_worklogs(probe, event_type, count):
    """Exactly ``count`` worklogs were published in events of that type (flattened)."""

    def worklogs():
        return [w for e in probe.of_type(event_type) for w in e.data["worklogs"]]

    async def arrived():
        return len(worklogs()) >= count

    await eventually(arrived)
    await asyncio.sleep(0.3)
    assert len(worklogs()) == count, worklogs()
    return worklogs()


@pytest.fixture
async def api(isolation, probe):
    await probe.start("worklog.*", "consumption.recorded")
    async with serve(build(isolation.settings(WorklogIngestSettings))) as client:
        yield client


async def test_the_service_collects_garbage_at_its_configured_threshold(isolation):
    settings = isolation.settings(WorklogIngestSettings, gc_gen0_threshold=123_456)
    threshold = gc.get_threshold()
    try:
        async with serve(build(settings)):
            assert gc.get_threshold() == (123_456, *threshold[1:])
    finally:
        gc.set_threshold(*threshold)


@pytest.fixture
async def contract_id(api, isolation):
    """A 2026 contract in Amsterdam with monthly periods, in the replica."""
    event = contract_event()
    await replicate(api, isolation, event)
    return uuid.UUID(event.key)


async def test_record_one_then_the_same_again_is_a_duplicate(api, isolation, probe):
    event = contract_event()
    cid = event.key
    await publish(isolation.amqp_url, isolation.amqp_prefix, event)
    body = worklog(cid)

    async def recorded():
        response = await api.post("/v1/worklogs", json=body)
        assert response.status_code == 201, response.text
        return response

    response = await eventually(recorded)
    created = response.json()
    assert response.headers["location"] == f"/v1/worklogs/{created['id']}"
    assert {k: created[k] for k in created if k not in ("id", "created_at", "updated_at")} == {
        "source": "api",
        "external_id": body["external_id"],
        "contract_id": cid,
        "work_account": None,
        "period_start": "2026-03-01",
        "period_end": "2026-03-31",
        "outside_dates": False,
        "author": "tech1",
        "team": "servicedesk",
        "activity": "phone support",
        "started_at": "2026-03-10T08:00:00Z",
        "seconds": 10_800,
        "hours": 3.0,
        "ticket": "ACME-42",
        "version": 1,
        "deleted_at": None,
        "duplicate": False,
        "attributed": True,
        "unattributed_reason": None,
        "project_key": None,
        "source_updated_at": None,
        "location": None,
        "outcome": "created",
    }

    again = await api.post("/v1/worklogs", json=body)
    assert again.status_code == 200
    assert again.json() == created | {"duplicate": True, "outcome": "duplicate"}

    stored = (await api.get(f"/v1/worklogs/{created['id']}")).json()
    assert stored["seconds"] == 10_800 and stored["version"] == 1

    assert await settled(probe, EventType.CONSUMPTION_RECORDED, 1) == [
        consumption(cid, "2026-03-01", "2026-03-31", 10_800, 1)
    ]
    assert probe.of_type(EventType.CONSUMPTION_RECORDED)[0].key == cid
    # Inside its contract's dates: announced by its consumption delta alone.
    assert probe.of_type(EventType.WORKLOG_RECORDED) == []


async def test_a_work_account_routes_by_the_local_date_in_the_contract_zone(api, isolation):
    c2025, c2026 = contract_event(start=D(2025, 1, 1), end=D(2025, 12, 31)), contract_event()
    await replicate(api, isolation, c2025, c2026)

    # 23:30 UTC on 31 December 2025 is already 1 January 2026 in Amsterdam.
    new_year = await api.post(
        "/v1/worklogs",
        json=worklog(work_account="ACME-SUPPORT", started_at="2025-12-31T23:30:00Z"),
    )
    assert new_year.status_code == 201, new_year.text
    assert (new_year.json()["contract_id"], new_year.json()["period_start"]) == (
        c2026.key,
        "2026-01-01",
    )
    old_year = await api.post(
        "/v1/worklogs",
        json=worklog(work_account="ACME-SUPPORT", started_at="2025-12-31T22:30:00Z"),
    )
    assert (old_year.json()["contract_id"], old_year.json()["period_start"]) == (
        c2025.key,
        "2025-12-01",
    )
    assert old_year.json()["work_account"] == "ACME-SUPPORT"

    # Issue 3: no contract on that date → kept, unattributed (was a 422 in issue 2).
    nowhere = await api.post(
        "/v1/worklogs",
        json=worklog(work_account="ACME-SUPPORT", started_at="2027-02-01T10:00:00Z"),
    )
    assert nowhere.status_code == 202, nowhere.text
    assert (nowhere.json()["attributed"], nowhere.json()["contract_id"]) == (False, None)
    assert nowhere.json()["unattributed_reason"] == "no_contract_for_date"


async def test_outside_the_dates_is_counted_and_flagged(api, contract_id, probe):
    response = await api.post(
        "/v1/worklogs", json=worklog(contract_id, started_at="2027-01-05T10:00:00+01:00")
    )
    assert response.status_code == 201
    assert response.json()["outside_dates"] is True
    assert response.json()["period_start"] == "2026-12-01"
    assert await settled(probe, EventType.CONSUMPTION_RECORDED, 1) == [
        consumption(contract_id, "2026-12-01", "2026-12-31", 10_800, 1, outside=10_800)
    ]
    assert probe.of_type(EventType.WORKLOG_RECORDED)[0].data["worklogs"][0]["outside_dates"] is True


async def test_only_worklogs_outside_their_contract_dates_are_published_one_by_one(
    api, contract_id, probe
):
    """Every new worklog counts in the consumption deltas; only those outside their
    contract's dates are also published in ``worklog.recorded`` (reporting lists them)."""
    inside = [worklog(contract_id, seconds=3600) for _ in range(3)]
    outside = [
        worklog(contract_id, started_at="2027-01-05T10:00:00+01:00", seconds=1800) for _ in range(2)
    ]
    response = await api.post("/v1/worklogs/batch", json={"worklogs": [*inside, *outside]})
    assert response.status_code == 201, response.text
    ids = response.json()["worklogs"]
    assert await settled(probe, EventType.CONSUMPTION_RECORDED, 2) == [
        consumption(contract_id, "2026-03-01", "2026-03-31", 10_800, 3),
        consumption(contract_id, "2026-12-01", "2026-12-31", 3600, 2, outside=3600),
    ]
    recorded = await settled_worklogs(probe, EventType.WORKLOG_RECORDED, 2)
    assert [w["id"] for w in recorded] == ids[3:]
    assert [(w["outside_dates"], w["seconds"]) for w in recorded] == [(True, 1800)] * 2

    # The same for a worklog attributed later: published once it counts, outside the dates.
    late = await api.post(
        "/v1/worklogs",
        json=worklog(work_account="NOBODY", started_at="2027-01-06T10:00:00+01:00"),
    )
    assert late.status_code == 202, late.text
    attributed = await api.post(
        f"/v1/worklogs/{late.json()['id']}/attribute", json={"contract_id": str(contract_id)}
    )
    assert attributed.status_code == 200, attributed.text
    recorded = await settled_worklogs(probe, EventType.WORKLOG_RECORDED, 3)
    assert (recorded[2]["id"], recorded[2]["outside_dates"]) == (late.json()["id"], True)


async def test_a_batch_with_bad_items_stores_nothing_and_names_every_one(api, contract_id, probe):
    items = [worklog(contract_id) for _ in range(5)]
    items[1]["contract_id"] = str(uuid.uuid4())
    items[3]["seconds"] = 0
    items[4]["started_at"] = "2026-03-10T09:00:00"
    response = await api.post("/v1/worklogs/batch", json={"worklogs": items})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == [
        "worklogs.1.contract_id",
        "worklogs.3.seconds",
        "worklogs.4.started_at",
    ]
    assert "eventual consistency" in response.json()["errors"][0]["message"]
    assert (await api.get("/v1/worklogs")).json()["items"] == []
    await asyncio.sleep(0.5)
    assert probe.events == []


async def test_a_batch_is_aggregated_and_idempotent(api, contract_id, probe):
    items = [worklog(contract_id, seconds=3600) for _ in range(3)]
    items.append(worklog(contract_id, team="field", seconds=1800))
    items.append(items[0] | {"seconds": 60})  # the same worklog twice in one batch
    response = await api.post("/v1/worklogs/batch", json={"worklogs": items})
    assert response.status_code == 201, response.text
    result = response.json()
    assert (result["created"], result["duplicates"]) == (4, 1)
    assert result["worklogs"][4] == result["worklogs"][0]
    assert len(set(result["worklogs"])) == 4

    assert await settled(probe, EventType.CONSUMPTION_RECORDED, 2) == [
        consumption(contract_id, "2026-03-01", "2026-03-31", 1800, 1, team="field"),
        consumption(contract_id, "2026-03-01", "2026-03-31", 10_800, 3),
    ]
    # One event for the contract period, its keys as lines (version 2).
    [event] = probe.of_type(EventType.CONSUMPTION_RECORDED)
    assert (event.version, event.key, len(event.data["lines"])) == (2, str(contract_id), 2)
    assert probe.of_type(EventType.WORKLOG_RECORDED) == []  # all inside the dates

    again = await api.post("/v1/worklogs/batch", json={"worklogs": items})
    assert again.status_code == 200
    assert again.json() == {
        "created": 0,
        "duplicates": 5,
        "updated": 0,
        "stale": 0,
        "unattributed": 0,
        "worklogs": result["worklogs"],
    }
    await settled(probe, EventType.CONSUMPTION_RECORDED, 2)


async def test_a_batch_mixing_stored_and_new_worklogs_creates_only_the_new(api, contract_id, probe):
    # A stored key makes the batch's straight COPY fail; the fallback must still create
    # the new worklogs around it, and only those.
    items = [worklog(contract_id, external_id=f"tempo-{n}", seconds=60) for n in range(6)]
    first = await api.post("/v1/worklogs/batch", json={"worklogs": items[2:4]})
    assert first.json()["created"] == 2
    mixed = await api.post("/v1/worklogs/batch", json={"worklogs": items})
    assert mixed.status_code == 201, mixed.text
    assert (mixed.json()["created"], mixed.json()["duplicates"]) == (4, 2)
    assert mixed.json()["worklogs"][2:4] == first.json()["worklogs"]
    deltas = await settled(probe, EventType.CONSUMPTION_RECORDED, 2)
    assert sorted(d["delta_worklogs"] for d in deltas) == [2, 4]


async def test_a_batch_yields_one_consumption_event_per_contract_period(api, contract_id, probe):
    items = [
        worklog(contract_id, author=f"tech{n % 3}", team=("field", "servicedesk")[n % 2])
        for n in range(12)
    ]
    items += [worklog(contract_id, started_at="2026-04-02T09:00:00+02:00") for _ in range(2)]
    response = await api.post("/v1/worklogs/batch", json={"worklogs": items})
    assert response.status_code == 201, response.text
    await settled(probe, EventType.CONSUMPTION_RECORDED, 6 + 1)
    events = probe.of_type(EventType.CONSUMPTION_RECORDED)
    assert sorted(e.data["period_start"] for e in events) == ["2026-03-01", "2026-04-01"]
    march = next(e for e in events if e.data["period_start"] == "2026-03-01")
    assert sum(line["delta_worklogs"] for line in march.data["lines"]) == 12
    assert {(line["team"], line["author"]) for line in march.data["lines"]} == {
        (team, f"tech{n}") for team in ("field", "servicedesk") for n in range(3)
    }


async def test_consumption_lines_split_by_location(api, contract_id, probe):
    """One line per (team, activity, author, location); a location not said is a line."""
    items = [
        worklog(contract_id, location=location, seconds=seconds)
        for location, seconds in (("site A", 600), ("site A", 900), ("service desk", 60))
    ]
    items.append(worklog(contract_id, seconds=30))
    response = await api.post("/v1/worklogs/batch", json={"worklogs": items})
    assert response.status_code == 201, response.text
    deltas = await settled(probe, EventType.CONSUMPTION_RECORDED, 3)
    assert deltas == [
        consumption(contract_id, "2026-03-01", "2026-03-31", 30, 1),
        consumption(contract_id, "2026-03-01", "2026-03-31", 60, 1, location="service desk"),
        consumption(contract_id, "2026-03-01", "2026-03-31", 1500, 2, location="site A"),
    ]
    # A correction moving a worklog to another location moves its seconds between lines.
    [first] = response.json()["worklogs"][:1]
    stored = (await api.get(f"/v1/worklogs/{first}")).json()
    moved = {k: stored[k] for k in ("author", "team", "activity", "started_at", "seconds")}
    corrected = await api.put(f"/v1/worklogs/{first}", json=moved | {"location": "site B"})
    assert corrected.status_code == 200, corrected.text
    deltas = await settled(probe, EventType.CONSUMPTION_RECORDED, 5)
    assert deltas[3:] == [
        consumption(contract_id, "2026-03-01", "2026-03-31", -600, -1, location="site A"),
        consumption(contract_id, "2026-03-01", "2026-03-31", 600, 1, location="site B"),
    ]


async def test_concurrent_batches_sharing_worklogs_store_each_once(api, contract_id, probe):
    items = [worklog(contract_id, external_id=f"jira-{n}", seconds=60) for n in range(300)]
    forward, backward = await asyncio.gather(
        api.post("/v1/worklogs/batch", json={"worklogs": items}),
        api.post("/v1/worklogs/batch", json={"worklogs": items[::-1]}),
    )
    assert {forward.status_code, backward.status_code} <= {200, 201}
    assert forward.json()["created"] + backward.json()["created"] == 300
    assert forward.json()["worklogs"] == backward.json()["worklogs"][::-1]
    # One aggregated event per request that created something.
    creators = sum(r.json()["created"] > 0 for r in (forward, backward))
    deltas = await settled(probe, EventType.CONSUMPTION_RECORDED, creators)
    assert sum(d["delta_seconds"] for d in deltas) == 300 * 60
    assert sum(d["delta_worklogs"] for d in deltas) == 300


async def test_ten_thousand_is_the_limit(api, contract_id):
    items = [worklog(contract_id, external_id=f"tempo-{n}", seconds=60) for n in range(10_000)]
    response = await api.post("/v1/worklogs/batch", json={"worklogs": items})
    assert response.status_code == 201, response.text
    assert response.json()["created"] == 10_000
    assert len(set(response.json()["worklogs"])) == 10_000

    too_many = await api.post("/v1/worklogs/batch", json={"worklogs": [*items, items[0]]})
    assert too_many.status_code == 413
    assert too_many.json()["errors"] == [
        {"field": "worklogs", "message": "10001 worklogs; at most 10000 per batch."}
    ]


async def test_a_correction_publishes_the_exact_deltas(api, contract_id, probe):
    created = (await api.post("/v1/worklogs", json=worklog(contract_id))).json()
    update = {
        "author": "tech1",
        "team": "servicedesk",
        "activity": "phone support",
        "started_at": "2026-03-10T09:00:00+01:00",
        "seconds": 3600,
        "ticket": "ACME-42",
    }
    response = await api.put(f"/v1/worklogs/{created['id']}", json=update)
    assert response.status_code == 200
    assert (response.json()["seconds"], response.json()["version"]) == (3600, 2)
    march = (contract_id, "2026-03-01", "2026-03-31")
    assert await settled(probe, EventType.CONSUMPTION_RECORDED, 2) == [
        consumption(*march, 10_800, 1),
        consumption(*march, -7200, 0),
    ]
    corrected = await settled_worklogs(probe, EventType.WORKLOG_CORRECTED, 1)
    assert corrected[0]["seconds"] == 3600

    # Unchanged: no new version, no event.
    same = await api.put(f"/v1/worklogs/{created['id']}", json=update)
    assert same.json()["version"] == 2

    # 23:30 UTC on 31 March is April in Amsterdam; and another team.
    moved = update | {"started_at": "2026-03-31T23:30:00Z", "team": "field", "seconds": 5400}
    response = await api.put(f"/v1/worklogs/{created['id']}", json=moved)
    assert (response.json()["period_start"], response.json()["version"]) == ("2026-04-01", 3)
    events = await settled(probe, EventType.CONSUMPTION_RECORDED, 4)
    assert events[2:] == [
        consumption(*march, -3600, -1),
        consumption(contract_id, "2026-04-01", "2026-04-30", 5400, 1, team="field"),
    ]
    await settled_worklogs(probe, EventType.WORKLOG_CORRECTED, 2)

    bad = await api.put(f"/v1/worklogs/{created['id']}", json=update | {"seconds": -5})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "seconds"
    frozen = await api.put(f"/v1/worklogs/{created['id']}", json=update | {"source": "jira"})
    assert frozen.status_code == 422 and frozen.json()["errors"][0]["field"] == "source"
    missing = await api.put(f"/v1/worklogs/{uuid.uuid4()}", json=update)
    assert missing.status_code == 404


async def test_a_delete_takes_the_time_back_once(api, contract_id, probe):
    body = worklog(contract_id, started_at="2025-12-20T10:00:00Z", seconds=5400)
    created = (await api.post("/v1/worklogs", json=body)).json()
    assert created["outside_dates"] is True

    assert (await api.delete(f"/v1/worklogs/{created['id']}")).status_code == 204
    assert await settled(probe, EventType.CONSUMPTION_RECORDED, 2) == [
        consumption(contract_id, "2026-01-01", "2026-01-31", 5400, 1, outside=5400),
        consumption(contract_id, "2026-01-01", "2026-01-31", -5400, -1, outside=-5400),
    ]
    [deleted] = await settled_worklogs(probe, EventType.WORKLOG_DELETED, 1)
    assert deleted["id"] == created["id"]

    second = await api.delete(f"/v1/worklogs/{created['id']}")
    assert second.status_code == 404 and second.json()["errors"][0]["field"] == "worklog_id"
    assert (await api.get(f"/v1/worklogs/{created['id']}")).status_code == 404
    assert (await api.get("/v1/worklogs")).json()["items"] == []
    # The same worklog sent again does not come back to life.
    replay = await api.post("/v1/worklogs", json=body)
    assert replay.status_code == 200
    assert replay.json()["duplicate"] is True and replay.json()["deleted_at"] is not None
    assert replay.json()["version"] == 2
    await settled(probe, EventType.CONSUMPTION_RECORDED, 2)


@pytest.mark.parametrize(
    ("change", "field", "title"),
    [
        (
            {"contract_id": "00000000-0000-0000-0000-000000000001"},
            "contract_id",
            "Unknown contract",
        ),
        ({"contract_id": None}, "contract_id", "Contract or work account required"),
        ({"started_at": "2026-03-10T09:00:00"}, "started_at", "Invalid input"),
        ({"seconds": 0}, "seconds", "Invalid input"),
        ({"seconds": 2**31}, "seconds", "Invalid input"),
        ({"seconds": "3600s"}, "seconds", "Invalid input"),
        ({"source": "excel"}, "source", "Invalid input"),
        ({"author": "  "}, "author", "Invalid input"),
    ],
)
async def test_bad_input_names_the_field_and_writes_nothing(
    api, contract_id, probe, change, field, title
):
    body = {k: v for k, v in (worklog(contract_id) | change).items() if v is not None}
    response = await api.post("/v1/worklogs", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (problem["title"], [e["field"] for e in problem["errors"]]) == (title, [field])
    if title.startswith("Unknown"):
        assert "eventual consistency" in problem["detail"]
    assert (await api.get("/v1/worklogs")).json()["items"] == []
    assert probe.events == []


async def test_malformed_json_is_a_400_for_one_and_for_a_batch(api):
    for path in ("/v1/worklogs", "/v1/worklogs/batch"):
        response = await api.post(
            path, content=b'{"source": "api",', headers={"content-type": "application/json"}
        )
        assert response.status_code == 400, path
        assert response.json()["title"] == "Malformed JSON"
        assert response.json()["errors"][0]["field"] == "body"
    shapeless = await api.post("/v1/worklogs/batch", json=[1, 2])
    assert shapeless.status_code == 422


async def test_keys_need_the_worklog_scopes(api, isolation, contract_id):
    assert (await api.get("/v1/worklogs", headers={"Authorization": ""})).status_code == 401
    unknown = await api.post(
        "/v1/worklogs", json=worklog(contract_id), headers={"Authorization": "Bearer nope"}
    )
    assert unknown.status_code == 401
    assert unknown.json()["errors"][0]["field"] == "Authorization"

    key = "br_reader_only_key"
    issued = ApiKeyIssued(
        id=uuid.uuid4(), name="reporting", key_hash=hash_key(key), scopes=["worklogs:read"]
    )
    await publish(
        isolation.amqp_url,
        isolation.amqp_prefix,
        new_event(EventType.APIKEY_ISSUED, issued, key=issued.id, producer="contracts"),
    )
    reader = {"Authorization": f"Bearer {key}"}

    async def accepted():
        return (await api.get("/v1/worklogs", headers=reader)).status_code == 200

    await eventually(accepted)
    forbidden = await api.post("/v1/worklogs", json=worklog(contract_id), headers=reader)
    assert forbidden.status_code == 403
    assert forbidden.json()["required_scope"] == "worklogs:write"
    batch = await api.post("/v1/worklogs/batch", json={"worklogs": []}, headers=reader)
    assert batch.status_code == 403
    assert (await api.get("/v1/worklogs")).json()["items"] == []


async def test_a_redelivered_or_stale_contract_event_changes_nothing(api, isolation):
    cid = uuid.uuid4()
    created = contract_event(cid, end=D(2026, 6, 30), work_accounts=["OLD"])
    updated = contract_event(
        cid, end=D(2026, 12, 31), work_accounts=["NEW"], event_type=EventType.CONTRACT_UPDATED
    )
    await replicate(api, isolation, created)
    await replicate(api, isolation, updated)

    # The same event again (inbox), and an older state under a new id (newer wins).
    stale = contract_event(cid, end=D(2026, 3, 31), work_accounts=["OLD"]).model_copy(
        update={"occurred_at": created.occurred_at - dt.timedelta(minutes=1)}
    )
    await publish(isolation.amqp_url, isolation.amqp_prefix, created)
    await replicate(api, isolation, stale)

    async def redelivery_dropped():
        return handled(api, EventType.CONTRACT_CREATED, "duplicate") == 1

    await eventually(redelivery_dropped)

    september = await api.post(
        "/v1/worklogs", json=worklog(work_account="NEW", started_at="2026-09-15T10:00:00Z")
    )
    assert september.status_code == 201, september.text
    assert september.json()["period_start"] == "2026-09-01"
    old_account = await api.post(
        "/v1/worklogs", json=worklog(work_account="OLD", started_at="2026-02-15T10:00:00Z")
    )
    assert old_account.status_code == 202
    assert old_account.json()["unattributed_reason"] == "unknown_work_account"


async def test_an_unroutable_contract_event_is_dead_lettered_and_the_consumer_goes_on(isolation):
    settings = isolation.settings(WorklogIngestSettings, consumer_max_attempts=2)
    async with serve(build(settings)) as api:
        broken = contract_event(timezone="Mars/Olympus")
        good = contract_event()
        await publish(isolation.amqp_url, isolation.amqp_prefix, broken, good)

        async def both_handled():
            return (
                handled(api, EventType.CONTRACT_CREATED, "dead_lettered") == 1
                and handled(api, EventType.CONTRACT_CREATED) == 1
            )

        await eventually(both_handled)
        refused = await api.post("/v1/worklogs", json=worklog(broken.key))
        assert refused.status_code == 422
        assert (await api.post("/v1/worklogs", json=worklog(good.key))).status_code == 201


async def test_list_with_cursor_and_filter(api, isolation, contract_id):
    other = contract_event(work_accounts=[])
    await replicate(api, isolation, other)
    items = [worklog(contract_id), worklog(other.key), worklog(contract_id), worklog(contract_id)]
    ids = (await api.post("/v1/worklogs/batch", json={"worklogs": items})).json()["worklogs"]
    # Two requests: the second's worklogs come after the first's in every list.
    later = [worklog(contract_id), worklog(work_account="NOT-YET"), worklog(work_account="NOT-2")]
    later_ids = (await api.post("/v1/worklogs/batch", json={"worklogs": later})).json()["worklogs"]

    async def pages(path, **params):
        seen, cursor = [], None
        while True:
            query = {"limit": 2, **params} | ({"cursor": cursor} if cursor else {})
            page = (await api.get(path, params=query)).json()
            seen.append([w["id"] for w in page["items"]])
            if not (cursor := page["next_cursor"]):
                return seen

    # In id order, which is the creation order (UUIDv7), page after page.
    of_contract = [ids[0], ids[2], ids[3], later_ids[0]]
    assert of_contract == sorted(of_contract)
    assert await pages("/v1/worklogs", contract_id=str(contract_id)) == [
        of_contract[:2],
        of_contract[2:],
        [],
    ]
    everything = [*ids, *later_ids]
    assert [i for page in await pages("/v1/worklogs") for i in page] == sorted(everything)
    assert await pages("/v1/worklogs/unattributed") == [later_ids[1:], []]
    # A cursor of before migration 0004 (its time no longer read) pages on the same.
    first = (await api.get("/v1/worklogs", params={"limit": 2})).json()
    old_form = encode_cursor(dt.datetime(2000, 1, 1, tzinfo=dt.UTC), first["items"][-1]["id"])
    for cursor in (first["next_cursor"], old_form):
        page = (await api.get("/v1/worklogs", params={"limit": 2, "cursor": cursor})).json()
        assert [w["id"] for w in page["items"]] == sorted(everything)[2:4]

    bad = await api.get("/v1/worklogs", params={"cursor": "garbage"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "cursor"
    too_big = await api.get("/v1/worklogs", params={"limit": 100_000})
    assert too_big.status_code == 422 and too_big.json()["errors"][0]["field"] == "limit"
    assert (await api.get("/openapi.json")).status_code == 200
