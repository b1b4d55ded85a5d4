"""Issues 19 and 20: real inputs are never refused or lost, one bad item never costs the
others, and what comes in re-sent is a correction; against the real PostgreSQL and RabbitMQ."""

import datetime as dt
import json
import time

import pytest
from burnrate_common.events import EventType
from burnrate_worklog_ingest.service.imports import Lines

from .test_api import consumption, contract_event, replicate, settled, worklog
from .test_sources import MARCH, SENT_MS, api, clock, deliver, jira_hook, ops  # noqa: F401

pytestmark = pytest.mark.integration

HOURS_40 = 40 * 3600
DAYS_32 = 32 * 86_400
NDJSON = {"content-type": "application/x-ndjson"}
CSV = {"content-type": "text/csv"}


@pytest.fixture
async def acme(api, isolation):  # noqa: F811
    event = contract_event()
    await replicate(api, isolation, event)
    return event.key


def ndjson_line(n, **extra):
    return json.dumps(
        {
            "source": "api",
            "external_id": f"nd-{n}",
            "work_account": "ACME-SUPPORT",
            "author": "tech1",
            "team": "servicedesk",
            "activity": "phone support",
            "started_at": "2026-03-10T09:00:00+01:00",
            "seconds": 60,
            **extra,
        }
    )


async def rejected_list(api, **params):  # noqa: F811
    response = await api.get("/v1/worklogs/rejected", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


# --- 1. every duration a source really sends ------------------------------------------------


async def test_a_40_hour_jira_worklog_its_update_and_an_unknown_delete_are_applied(
    api,  # noqa: F811
    ops,  # noqa: F811
    probe,
):
    created = await deliver(api, jira_hook("worklog_created", seconds=HOURS_40))
    assert created.status_code == 200, created.text
    assert (created.json()["outcome"], created.json()["attributed"]) == ("created", True)
    updated = jira_hook(
        "worklog_updated", seconds=32 * 3600, updated="2026-03-02T11:00:00.000+0100"
    )
    answer = await deliver(api, updated)
    assert (answer.status_code, answer.json()["outcome"]) == (200, "updated")
    [stored] = (await api.get("/v1/worklogs")).json()["items"]
    assert (stored["seconds"], stored["contract_id"]) == (32 * 3600, ops)
    author = {"author": "tess@msp.example", "activity": "jira"}
    assert await settled(probe, EventType.CONSUMPTION_RECORDED, 2) == [
        consumption(ops, *MARCH, HOURS_40, 1, **author),
        consumption(ops, *MARCH, -8 * 3600, 0, **author),
    ]
    # A delete of a worklog never seen (its payload carries the old duration): harmless.
    unknown = await deliver(api, jira_hook("worklog_deleted", "31337", seconds=HOURS_40))
    assert (unknown.status_code, unknown.json()["outcome"]) == (200, "deleted")
    late = await deliver(
        api, jira_hook("worklog_created", "31337", seconds=HOURS_40, timestamp=SENT_MS + 1)
    )
    assert late.json()["outcome"] == "duplicate"  # the tombstone keeps it deleted
    assert len((await api.get("/v1/worklogs")).json()["items"]) == 1


async def test_every_way_in_takes_any_duration_and_keeps_the_very_long_unattributed(
    api,  # noqa: F811
    acme,
):
    one = await api.post("/v1/worklogs", json=worklog(acme, seconds=HOURS_40))
    assert (one.status_code, one.json()["seconds"]) == (201, HOURS_40)
    long = await api.post("/v1/worklogs", json=worklog(acme, seconds=DAYS_32))
    assert long.status_code == 202, long.text
    assert (long.json()["attributed"], long.json()["unattributed_reason"]) == (
        False,
        "duration_above_limit",
    )
    batch = await api.post(
        "/v1/worklogs/batch",
        json={"worklogs": [worklog(acme, seconds=HOURS_40), worklog(acme, seconds=DAYS_32)]},
    )
    assert (batch.status_code, batch.json()["created"], batch.json()["unattributed"]) == (
        201,
        2,
        1,
    )
    stream = await api.post(
        "/v1/worklogs/stream",
        content="\n".join([ndjson_line(1, seconds=HOURS_40), ndjson_line(2, seconds=DAYS_32)]),
        headers=NDJSON,
    )
    assert (stream.status_code, stream.json()["imported"], stream.json()["unattributed"]) == (
        200,
        2,
        1,
    )
    harvest = (
        b"Date,Project Code,Task,Hours,First Name,Last Name\n"
        b"2026-03-02,ACME-SUPPORT,Phone,40,Tess,Tech\n"
    )
    csv = await api.post("/v1/imports/csv", params={"format": "harvest"}, content=harvest)
    assert (csv.status_code, csv.json()["imported"], csv.json()["rejected"]) == (200, 1, [])
    tempo = {
        "results": [
            {
                "tempoWorklogId": 5,
                "issue": {"id": 1},
                "timeSpentSeconds": HOURS_40,
                "startDate": "2026-03-02",
                "author": {"accountId": "5b10"},
                "attributes": {"values": [{"key": "_Account_", "value": "ACME-SUPPORT"}]},
            }
        ]
    }
    answer = await api.post("/v1/imports/tempo", json=tempo)
    assert (answer.status_code, answer.json()["imported"]) == (200, 1), answer.text
    waiting = (await api.get("/v1/worklogs/unattributed")).json()["items"]
    assert [w["seconds"] for w in waiting] == [DAYS_32] * 3
    # A person may judge it right: attributed by hand, it counts.
    attributed = await api.post(
        f"/v1/worklogs/{long.json()['id']}/attribute", json={"contract_id": acme}
    )
    assert attributed.status_code == 200


# --- 2. nothing a source delivers is dropped ------------------------------------------------


async def test_a_jira_delivery_that_cannot_be_applied_is_kept_answered_2xx_and_replayable(
    api,  # noqa: F811
    ops,  # noqa: F811
    clock,  # noqa: F811
):
    broken = jira_hook("worklog_created", "501")
    del broken["worklog"]["started"]
    answer = await deliver(api, broken)
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == "rejected"
    [kept] = await rejected_list(api, source="jira")
    assert kept["id"] == answer.json()["rejected_id"]
    assert (kept["way_in"], kept["reason"], kept["field"]) == (
        "jira",
        "invalid_webhook",
        "worklog.started",
    )
    assert json.loads(kept["payload"]) == broken
    assert kept["params"] == {"issue_key": "OPS-7", "team": "servicedesk"}
    # Jira sends it again: still one kept delivery, counted.
    await deliver(api, broken)
    [again] = await rejected_list(api)
    assert (again["id"], again["times_received"]) == (kept["id"], 2)
    still = await api.post(f"/v1/worklogs/rejected/{kept['id']}/replay")
    assert (still.status_code, still.json()["resolved"]) == (200, False)

    # Too old for the replay window: not applied by itself, kept for a person.
    clock.advance(dt.timedelta(hours=2))
    late = await deliver(api, jira_hook("worklog_created", "502"))
    assert (late.status_code, late.json()["outcome"]) == (200, "rejected")
    assert (await api.get("/v1/worklogs")).json()["items"] == []
    [old] = await rejected_list(api, reason="outside_replay_window")
    replayed = await api.post(f"/v1/worklogs/rejected/{old['id']}/replay")
    assert replayed.json()["resolved"] is True and replayed.json()["resolution"] == "created"
    [stored] = (await api.get("/v1/worklogs")).json()["items"]
    assert (stored["external_id"], stored["contract_id"]) == ("502", ops)
    assert (await api.post(f"/v1/worklogs/rejected/{old['id']}/replay")).status_code == 409
    assert [r["id"] for r in await rejected_list(api, state="resolved")] == [old["id"]]
    assert [r["id"] for r in await rejected_list(api)] == [kept["id"]]


async def test_skip_invalid_items_are_kept_listed_and_replayed_after_a_fix(api, isolation):  # noqa: F811
    later = contract_event(work_accounts=["LATER"])
    lines = [ndjson_line(n) for n in range(5)]
    lines[1] = ndjson_line(1, work_account=None, contract_id=later.key)  # not replicated yet
    lines[3] = "{not json"
    before = dt.datetime.now(dt.UTC)
    stream = await api.post(
        "/v1/worklogs/stream",
        params={"mode": "skip-invalid"},
        content="\n".join(lines),
        headers=NDJSON,
    )
    assert stream.status_code == 200, stream.text
    assert [r["line"] for r in stream.json()["rejected"]] == [2, 4]
    harvest = (
        b"Date,Project Code,Task,Hours,First Name,Last Name\n"
        b"2026-03-02,ACME-SUPPORT,Phone,1,Tess,Tech\n"
        b"2026-03-0x,ACME-SUPPORT,Phone,1,Tess,Tech\n"
    )
    csv = await api.post(
        "/v1/imports/csv", params={"format": "harvest", "mode": "skip-invalid"}, content=harvest
    )
    assert [r["line"] for r in csv.json()["rejected"]] == [3]
    tempo = {"results": [{"tempoWorklogId": 9, "timeSpentSeconds": 60}]}
    page = await api.post("/v1/imports/tempo", json=tempo, params={"mode": "skip-invalid"})
    assert page.status_code == 200

    kept = await rejected_list(api)
    assert [(k["way_in"], k["source"], k["reason"], k["line"]) for k in kept] == [
        ("ndjson", "api", "unknown_contract", 2),
        ("ndjson", "unknown", "not_json", 4),
        ("csv", "harvest", "invalid_field", 3),
        ("tempo", "tempo", "invalid_field", 1),
    ]
    assert kept[2]["payload"] == (
        "Date,Project Code,Task,Hours,First Name,Last Name\n"
        "2026-03-0x,ACME-SUPPORT,Phone,1,Tess,Tech\n"
    )
    assert [k["line"] for k in await rejected_list(api, source="harvest")] == [3]
    assert len(await rejected_list(api, since=before.isoformat())) == 4
    assert await rejected_list(api, since="2100-01-01T00:00:00Z") == []
    first = (await api.get("/v1/worklogs/rejected", params={"limit": 3})).json()
    rest = await rejected_list(api, limit=3, cursor=first["next_cursor"])
    assert [k["id"] for k in first["items"] + rest] == [k["id"] for k in kept]
    bad = await api.get("/v1/worklogs/rejected", params={"cursor": "garbage"})
    assert bad.status_code == 400

    # The contract arrives: a bulk replay by reason applies what it was waiting for.
    await replicate(api, isolation, later)
    bulk = await api.post("/v1/worklogs/rejected/replay", json={"reason": "unknown_contract"})
    assert bulk.json() == {"replayed": 1, "resolved": 1, "still_rejected": 0, "more": False}
    items = (await api.get("/v1/worklogs", params={"contract_id": later.key})).json()["items"]
    assert [w["external_id"] for w in items] == ["nd-1"]
    everything = await api.post("/v1/worklogs/rejected/replay", json={})
    assert everything.json() == {"replayed": 3, "resolved": 0, "still_rejected": 3, "more": False}
    assert len(await rejected_list(api)) == 3


# --- 3. re-sent with changed content: a correction ------------------------------------------


async def test_a_resent_worklog_with_new_content_is_a_correction(api, acme, probe):  # noqa: F811
    body = worklog(acme)
    created = await api.post("/v1/worklogs", json=body)
    assert created.status_code == 201
    corrected = await api.post("/v1/worklogs", json=body | {"seconds": 3600})
    assert (corrected.status_code, corrected.json()["outcome"]) == (200, "updated")
    assert (corrected.json()["seconds"], corrected.json()["version"]) == (3600, 2)
    same = await api.post("/v1/worklogs", json=body | {"seconds": 3600})
    assert (same.json()["outcome"], same.json()["version"]) == ("duplicate", 2)
    batch = await api.post(
        "/v1/worklogs/batch", json={"worklogs": [body | {"seconds": 1800}, worklog(acme)]}
    )
    assert (batch.json()["created"], batch.json()["updated"]) == (1, 1)
    march = (acme, "2026-03-01", "2026-03-31")
    found = await settled(probe, EventType.CONSUMPTION_RECORDED, 4)
    assert found[:2] == [consumption(*march, 10_800, 1), consumption(*march, -7200, 0)]
    # The batch: a new worklog, and the exact delta of the correction from 3600 to 1800 s.
    assert sorted(found[2:], key=lambda c: c["delta_seconds"]) == [
        consumption(*march, -1800, 0),
        consumption(*march, 10_800, 1),
    ]


async def test_an_edited_csv_row_imported_again_is_a_correction(api, acme):  # noqa: F811
    header = b"Email,Project,Task,Description,Start date,Start time,Duration\n"
    row = b"tess@msp.example,ACME-SUPPORT,Phone,Printer,2026-03-02,09:00:00,%s\n"
    first = await api.post(
        "/v1/imports/csv", params={"format": "toggl"}, content=header + row % b"01:00:00"
    )
    assert first.json()["imported"] == 1
    edited = await api.post(
        "/v1/imports/csv", params={"format": "toggl"}, content=header + row % b"01:30:00"
    )
    assert (edited.json()["imported"], edited.json()["updated"]) == (0, 1), edited.text
    [stored] = (await api.get("/v1/worklogs")).json()["items"]
    assert (stored["seconds"], stored["version"]) == (5400, 2)
    again = await api.post(
        "/v1/imports/csv", params={"format": "toggl"}, content=header + row % b"01:30:00"
    )
    assert (again.json()["duplicates"], again.json()["updated"]) == (1, 0)


# --- 6. one bad item never costs the others, never a 500 ------------------------------------


async def test_an_oversized_ndjson_line_is_rejected_alone(api, acme):  # noqa: F811
    huge = ndjson_line(2, activity="x" * (2 * 1024 * 1024))
    body = "\n".join([ndjson_line(1), huge, ndjson_line(3)]).encode()

    async def parts():
        for i in range(0, len(body), 65_536):
            yield body[i : i + 65_536]

    answer = await api.post(
        "/v1/worklogs/stream", params={"mode": "skip-invalid"}, content=parts(), headers=NDJSON
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["imported"] == 2
    [rejected] = answer.json()["rejected"]
    assert (rejected["line"], rejected["field"]) == (2, "row")
    assert "at most 1048576" in rejected["reason"]
    [kept] = await rejected_list(api, reason="line_too_long")
    assert kept["truncated"] is True and len(kept["payload"]) == 64 * 1024


def test_lines_are_split_in_linear_time_whatever_their_length():
    started = time.process_time()
    lines = Lines()
    found = []
    chunk = b"x" * 65_536
    for _ in range(512):  # one line of 32 MiB
        found += lines.feed(chunk)
    found += lines.feed(b"\n" + b"y\n" * 3)
    found.append(lines.rest())
    assert time.process_time() - started < 2
    assert [(len(line), size) for line, size in found] == [
        (64 * 1024, 32 * 1024 * 1024),
        (1, 1),
        (1, 1),
        (1, 1),
        (0, 0),
    ]


async def test_a_nul_in_a_csv_field_rejects_only_its_row(api, acme):  # noqa: F811
    harvest = (
        b"Date,Project Code,Task,Hours,First Name,Last Name\n"
        b"2026-03-02,ACME-SUPPORT,Phone,1,Tess,Tech\n"
        b"2026-03-02,ACME-SUPPORT,Ph\x00one,1,Tess,Tech\n"
        b"2026-03-03,ACME-SUPPORT,Phone,2,Tess,Tech\n"
    )
    answer = await api.post(
        "/v1/imports/csv", params={"format": "harvest", "mode": "skip-invalid"}, content=harvest
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["imported"] == 2
    assert answer.json()["rejected"] == [
        {
            "line": 3,
            "field": "activity",
            "reason": "contains a NUL character (\\u0000), which text cannot hold",
        }
    ]
    [kept] = await rejected_list(api)
    assert "\x00" in kept["payload"]


@pytest.mark.parametrize("started_at", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:00:00-05:00"])
async def test_a_start_near_year_1_or_9999_rejects_only_its_item(api, acme, started_at):  # noqa: F811
    batch = await api.post(
        "/v1/worklogs/batch",
        json={"worklogs": [worklog(acme), worklog(acme, started_at=started_at)]},
    )
    assert batch.status_code == 422, batch.text
    assert [e["field"] for e in batch.json()["errors"]] == ["worklogs.1.started_at"]
    one = await api.post("/v1/worklogs", json=worklog(acme, started_at=started_at))
    assert (one.status_code, one.json()["errors"][0]["field"]) == (422, "started_at")
    stream = await api.post(
        "/v1/worklogs/stream",
        params={"mode": "skip-invalid"},
        content="\n".join([ndjson_line(1), ndjson_line(2, started_at=started_at)]),
        headers=NDJSON,
    )
    assert stream.status_code == 200, stream.text
    assert stream.json()["imported"] == 1
    assert [(r["line"], r["field"]) for r in stream.json()["rejected"]] == [(2, "started_at")]
    jira = await deliver(api, jira_hook("worklog_created", "77") | {"timestamp": SENT_MS})
    assert jira.status_code == 200
    far = jira_hook("worklog_created", "78", timestamp=SENT_MS + 2)
    far["worklog"]["started"] = started_at
    answer = await deliver(api, far)
    assert (answer.status_code, answer.json()["outcome"]) == (200, "rejected")


# --- 6. Jira: what is used is signed, and a delivery is applied once -------------------------


async def test_unsigned_or_tampered_query_parameters_are_refused(api, ops):  # noqa: F811
    hook = jira_hook("worklog_created")
    unsigned = await deliver(api, hook, raw_params={"issue_key": "OPS-7", "team": "servicedesk"})
    assert (unsigned.status_code, unsigned.json()["errors"][0]["field"]) == (401, "team")
    assert "burnrate-jira-params-v1\\nteam=servicedesk" in unsigned.json()["detail"]
    signed = (
        await api.post("/v1/webhooks/jira/signed-parameters", json={"team": "servicedesk"})
    ).json()
    assert signed["signed"] == "burnrate-jira-params-v1\nteam=servicedesk"
    query = dict(pair.split("=") for pair in signed["query"].split("&"))
    tampered = await deliver(api, hook, raw_params=query | {"team": "field"})
    assert (tampered.status_code, tampered.json()["errors"][0]["field"]) == (401, "sig")
    assert (await api.get("/v1/worklogs")).json()["items"] == []
    ok = await deliver(api, hook, raw_params=query | {"issue_key": "OPS-7"})
    assert (ok.status_code, ok.json()["outcome"]) == (200, "created"), ok.text


async def test_a_signed_body_is_applied_once_whatever_its_parameters(api, ops, isolation):  # noqa: F811
    other = contract_event(work_accounts=())
    other = other.model_copy(
        update={"data": other.data | {"jira_project_keys": ["EVIL"], "teams": []}}
    )
    await replicate(api, isolation, other)

    def issue(event, key, timestamp):
        project = key.split("-")[0]
        fields = {"project": {"key": project}}
        return {
            "timestamp": timestamp,
            "webhookEvent": event,
            "issue": {"id": "10001", "key": key, "fields": fields},
        }

    first = issue("jira:issue_created", "EVIL-3", SENT_MS)
    assert (await deliver(api, first)).json()["outcome"] == "issue_recorded"
    moved = issue("jira:issue_updated", "OPS-9", SENT_MS + 1000)
    assert (await deliver(api, moved)).json()["outcome"] == "issue_recorded"
    # The first delivery, captured and sent again: it must not move the issue back.
    replayed = await deliver(api, first)
    assert (replayed.status_code, replayed.json()["outcome"]) == (200, "duplicate")
    hook = jira_hook("worklog_created")
    answer = await deliver(api, hook, params={"team": "servicedesk"})
    assert answer.json()["attributed"] is True
    again = await deliver(api, hook, params={"issue_key": "EVIL-1", "team": "field"})
    assert (again.status_code, again.json()["outcome"]) == (200, "duplicate")
    [stored] = (await api.get("/v1/worklogs")).json()["items"]
    assert (stored["contract_id"], stored["ticket"], stored["team"]) == (
        ops,
        "OPS-9",
        "servicedesk",
    )


# --- 7. location, in every way in ------------------------------------------------------------


async def test_location_in_every_way_in(api, acme, probe):  # noqa: F811
    outside = "2027-01-05T10:00:00+01:00"  # published one by one: the event carries it
    one = await api.post("/v1/worklogs", json=worklog(acme, location="site A", started_at=outside))
    assert one.json()["location"] == "site A"
    batch = await api.post(
        "/v1/worklogs/batch", json={"worklogs": [worklog(acme, location="remote")]}
    )
    assert batch.status_code == 201
    await api.post("/v1/worklogs/stream", content=ndjson_line(1, location="site B"), headers=NDJSON)
    generic = (
        b"When,Secs,Who,Account,Kind,Where\n2026-03-02T09:00:00Z,60,tess,ACME-SUPPORT,call,site C\n"
    )
    params = {
        "map.activity": "Kind",
        "format": "generic",
        "map.started_at": "When",
        "map.seconds": "Secs",
        "map.author": "Who",
        "map.work_account": "Account",
        "map.location": "Where",
    }
    imported = await api.post("/v1/imports/csv", params=params, content=generic)
    assert imported.json()["imported"] == 1, imported.text
    tempo = {
        "results": [
            {
                "tempoWorklogId": 5,
                "issue": {"id": 1},
                "timeSpentSeconds": 60,
                "startDate": "2026-03-02",
                "author": {"accountId": "5b10"},
                "attributes": {
                    "values": [
                        {"key": "_Account_", "value": "ACME-SUPPORT"},
                        {"key": "_Where_", "value": "site D"},
                    ]
                },
            }
        ]
    }
    answer = await api.post(
        "/v1/imports/tempo", json=tempo, params={"location_attribute": "_Where_"}
    )
    assert answer.json()["imported"] == 1
    jira = await deliver(
        api,
        jira_hook("worklog_created", "900"),
        params={"issue_key": "OPS-7", "team": "servicedesk", "location": "site E"},
    )
    assert jira.status_code == 200, jira.text
    items = (await api.get("/v1/worklogs")).json()["items"]
    assert sorted(w["location"] for w in items) == [
        "remote",
        "site A",
        "site B",
        "site C",
        "site D",
        "site E",
    ]
    [event] = await settled(probe, EventType.WORKLOG_RECORDED, 1)
    assert event["worklogs"][0]["location"] == "site A"
    moved = await api.put(
        f"/v1/worklogs/{one.json()['id']}",
        json={k: one.json()[k] for k in ("author", "team", "activity", "started_at", "seconds")}
        | {"location": "site Z"},
    )
    assert moved.json()["location"] == "site Z"
