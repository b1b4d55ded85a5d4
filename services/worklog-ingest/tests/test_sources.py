"""Jira webhooks, unattributed worklogs and late attribution, against the real servers."""

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import uuid

import pytest
from burnrate_common.clock import FixedClock
from burnrate_common.events import EventType
from burnrate_testing import serve
from burnrate_worklog_ingest.bootstrap import build
from burnrate_worklog_ingest.settings import WorklogIngestSettings

from .test_api import consumption, contract_event, replicate, settled, settled_worklogs, worklog

pytestmark = pytest.mark.integration

SECRET = "jira-shared-secret"
MARCH = ("2026-03-01", "2026-03-31")
#: When the deliveries below were sent (their signed ``timestamp``): the service's clock.
SENT = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
SENT_MS = 1772442000000


@pytest.fixture
async def clock():
    return FixedClock(SENT + dt.timedelta(seconds=5))


@pytest.fixture
async def api(isolation, probe, clock):
    await probe.start("worklog.*", "consumption.recorded")
    settings = isolation.settings(WorklogIngestSettings, jira_webhook_secret=SECRET)
    async with serve(build(settings, clock=clock)) as client:
        yield client


@pytest.fixture
async def ops(api, isolation):
    """A 2026 contract for Jira project OPS, team servicedesk."""
    event = contract_event(work_accounts=())
    event = event.model_copy(
        update={"data": event.data | {"jira_project_keys": ["OPS"], "teams": ["servicedesk"]}}
    )
    await replicate(api, isolation, event)
    return event.key


def jira_hook(
    event,
    worklog_id="10042",
    *,
    seconds=10_800,
    updated="2026-03-02T10:00:00.000+0100",
    timestamp=SENT_MS,
):
    return {
        "timestamp": timestamp,
        "webhookEvent": event,
        "worklog": {
            "self": f"https://acme.atlassian.net/rest/api/2/issue/10001/worklog/{worklog_id}",
            "author": {
                "accountId": "5b10a2844c20165700ede21g",
                "displayName": "Tess Tech",
                "emailAddress": "tess@msp.example",
            },
            "comment": "Printer on fire",
            "created": "2026-03-02T10:00:00.000+0100",
            "updated": updated,
            "started": "2026-03-02T09:00:00.000+0100",
            "timeSpent": "3h",
            "timeSpentSeconds": seconds,
            "id": worklog_id,
            "issueId": "10001",
        },
    }


def sign_params(params, secret=SECRET):
    """``params`` with ``sig``: the signed string is documented in ``auth``."""
    signed = {k: v for k, v in params.items() if k in ("team", "activity", "location")}
    if not signed:
        return params
    text = "\n".join(["burnrate-jira-params-v1", *(f"{k}={signed[k]}" for k in sorted(signed))])
    sig = hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()
    return params | {"sig": sig}


async def deliver(api, payload, *, secret=SECRET, params=None, raw_params=None):
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return await api.post(
        "/v1/webhooks/jira",
        content=body,
        params=raw_params
        if raw_params is not None
        else sign_params(params or {"issue_key": "OPS-7", "team": "servicedesk"}),
        headers={"X-Hub-Signature": signature, "content-type": "application/json"},
    )


async def test_a_bad_signature_is_401_and_stores_nothing(api, ops, probe):
    bad = await deliver(api, jira_hook("worklog_created"), secret="wrong")
    assert bad.status_code == 401
    assert bad.json()["errors"][0]["field"] == "X-Hub-Signature"
    unsigned = await api.post("/v1/webhooks/jira", json=jira_hook("worklog_created"))
    assert unsigned.status_code == 401
    assert (await api.get("/v1/worklogs")).json()["items"] == []
    await asyncio.sleep(0.3)
    assert probe.events == []


async def test_create_three_times_is_one_worklog(api, ops, probe):
    answers = [await deliver(api, jira_hook("worklog_created")) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.json()["outcome"] for a in answers] == ["created", "duplicate", "duplicate"]
    [stored] = (await api.get("/v1/worklogs")).json()["items"]
    assert (stored["source"], stored["external_id"], stored["contract_id"]) == (
        "jira",
        "10042",
        ops,
    )
    assert (stored["ticket"], stored["project_key"], stored["team"]) == (
        "OPS-7",
        "OPS",
        "servicedesk",
    )
    assert (stored["author"], stored["seconds"], stored["period_start"]) == (
        "tess@msp.example",
        10_800,
        "2026-03-01",
    )
    assert await settled(probe, EventType.CONSUMPTION_RECORDED, 1) == [
        consumption(ops, *MARCH, 10_800, 1, author="tess@msp.example", activity="jira")
    ]


async def test_update_corrects_and_an_older_update_does_not_win(api, ops, probe):
    await deliver(api, jira_hook("worklog_created"))
    newer = jira_hook("worklog_updated", seconds=3600, updated="2026-03-02T12:00:00.000+0100")
    older = jira_hook("worklog_updated", seconds=7200, updated="2026-03-02T11:00:00.000+0100")
    assert (await deliver(api, newer)).json()["outcome"] == "updated"
    assert (await deliver(api, older)).json()["outcome"] == "stale"
    assert (await deliver(api, newer)).json()["outcome"] == "duplicate"
    [stored] = (await api.get("/v1/worklogs")).json()["items"]
    assert (stored["seconds"], stored["version"]) == (3600, 2)
    author = {"author": "tess@msp.example", "activity": "jira"}
    assert await settled(probe, EventType.CONSUMPTION_RECORDED, 2) == [
        consumption(ops, *MARCH, 10_800, 1, **author),
        consumption(ops, *MARCH, -7200, 0, **author),
    ]
    [corrected] = await settled_worklogs(probe, EventType.WORKLOG_CORRECTED, 1)
    assert corrected["seconds"] == 3600


async def test_delete_takes_the_time_back_and_replays_change_nothing(api, ops, probe):
    await deliver(api, jira_hook("worklog_created"))
    deleted = jira_hook("worklog_deleted", updated="2026-03-02T13:00:00.000+0100")
    assert (await deliver(api, deleted)).json()["outcome"] == "deleted"
    assert (await deliver(api, deleted)).json()["outcome"] == "duplicate"
    # The create, delivered late again, does not bring it back.
    assert (await deliver(api, jira_hook("worklog_created"))).json()["outcome"] == "duplicate"
    assert (await api.get("/v1/worklogs")).json()["items"] == []
    author = {"author": "tess@msp.example", "activity": "jira"}
    assert await settled(probe, EventType.CONSUMPTION_RECORDED, 2) == [
        consumption(ops, *MARCH, 10_800, 1, **author),
        consumption(ops, *MARCH, -10_800, -1, **author),
    ]
    await settled_worklogs(probe, EventType.WORKLOG_DELETED, 1)


async def test_a_delete_before_its_create_leaves_a_tombstone(api, ops, probe):
    assert (await deliver(api, jira_hook("worklog_deleted", "777"))).json()["outcome"] == "deleted"
    late = await deliver(api, jira_hook("worklog_created", "777"))
    assert late.json()["outcome"] == "duplicate"
    assert (await api.get("/v1/worklogs")).json()["items"] == []
    await asyncio.sleep(0.5)
    assert probe.events == []


async def test_an_issue_webhook_teaches_the_project_of_later_worklogs(api, ops):
    issue = {
        "timestamp": 1772442000000,
        "webhookEvent": "jira:issue_created",
        "issue": {"id": "10001", "key": "OPS-9", "fields": {"project": {"key": "OPS"}}},
    }
    assert (await deliver(api, issue)).json()["outcome"] == "issue_recorded"
    answer = await deliver(api, jira_hook("worklog_created"), params={"team": "servicedesk"})
    assert answer.json()["attributed"] is True
    [stored] = (await api.get("/v1/worklogs")).json()["items"]
    assert stored["ticket"] == "OPS-9"


async def test_unknown_issue_and_unmatched_worklogs_are_kept_and_attributable_later(
    api, ops, probe
):
    unknown_issue = await deliver(api, jira_hook("worklog_created"), params={"team": "x"})
    assert unknown_issue.json() | {"worklog_id": None} == {
        "event": "worklog_created",
        "outcome": "created",
        "worklog_id": None,
        "attributed": False,
        "rejected_id": None,
    }
    other_team = await api.post(
        "/v1/worklogs", json=worklog(project_key="OPS", team="field", seconds=1800)
    )
    assert other_team.status_code == 202
    assert other_team.json()["unattributed_reason"] == "no_project_contract_for_team_and_date"
    listed = (await api.get("/v1/worklogs/unattributed")).json()["items"]
    assert sorted(w["unattributed_reason"] for w in listed) == [
        "no_project_contract_for_team_and_date",
        "unknown_jira_issue",
    ]
    await asyncio.sleep(0.3)
    assert probe.events == []  # nothing counts until attributed

    worklog_id = other_team.json()["id"]
    done = await api.post(f"/v1/worklogs/{worklog_id}/attribute", json={"contract_id": ops})
    assert done.status_code == 200, done.text
    assert (done.json()["contract_id"], done.json()["period_start"], done.json()["version"]) == (
        ops,
        "2026-03-01",
        2,
    )
    again = await api.post(f"/v1/worklogs/{worklog_id}/attribute", json={"contract_id": ops})
    assert again.status_code == 409
    nowhere = await api.post(
        f"/v1/worklogs/{listed[0]['id']}/attribute", json={"contract_id": str(uuid.uuid4())}
    )
    assert nowhere.status_code == 422 and nowhere.json()["errors"][0]["field"] == "contract_id"
    assert len((await api.get("/v1/worklogs/unattributed")).json()["items"]) == 1
    assert await settled(probe, EventType.CONSUMPTION_RECORDED, 1) == [
        consumption(ops, *MARCH, 1800, 1, team="field")
    ]
    # Inside the contract's dates: announced by its consumption delta alone.
    assert probe.of_type(EventType.WORKLOG_RECORDED) == []


async def test_not_configured_is_503(isolation):
    async with serve(build(isolation.settings(WorklogIngestSettings))) as api:
        response = await deliver(api, jira_hook("worklog_created"))
        assert response.status_code == 503


async def test_a_worklog_sent_before_its_contract_is_attributed_when_the_contract_arrives(
    api, isolation, probe
):
    early = await api.post("/v1/worklogs", json=worklog(work_account="LATE-ACCOUNT"))
    assert early.status_code == 202
    assert early.json()["unattributed_reason"] == "unknown_work_account"
    contract = contract_event(work_accounts=["LATE-ACCOUNT"])
    await replicate(api, isolation, contract)

    stored = (await api.get(f"/v1/worklogs/{early.json()['id']}")).json()
    assert (stored["contract_id"], stored["period_start"], stored["version"]) == (
        contract.key,
        "2026-03-01",
        2,
    )
    assert (await api.get("/v1/worklogs/unattributed")).json()["items"] == []
    assert await settled(probe, EventType.CONSUMPTION_RECORDED, 1) == [
        consumption(contract.key, *MARCH, 10_800, 1)
    ]
    assert probe.of_type(EventType.WORKLOG_RECORDED) == []


async def test_a_tempo_worklog_routes_by_the_issue_a_jira_webhook_taught(api, ops):
    issue = {
        "timestamp": 1772442000000,
        "webhookEvent": "jira:issue_created",
        "issue": {"id": "10001", "key": "OPS-9", "fields": {"project": {"key": "OPS"}}},
    }
    assert (await deliver(api, issue)).json()["outcome"] == "issue_recorded"
    page = {
        "results": [
            {
                "tempoWorklogId": 7,
                "issue": {"id": 10001},
                "timeSpentSeconds": 600,
                "startDate": "2026-03-02",
                "startTime": "09:00:00",
                "author": {"accountId": "5b10"},
                "attributes": {"values": []},
                "updatedAt": "2026-03-02T10:00:00Z",
            },
            {
                "tempoWorklogId": 8,
                "issue": {"id": 99999},
                "timeSpentSeconds": 600,
                "startDate": "2026-03-02",
                "author": {"accountId": "5b10"},
            },
        ]
    }
    answer = await api.post(
        "/v1/imports/tempo", json=page, params={"team": "servicedesk", "mode": "skip-invalid"}
    )
    # Issue 19: the worklog of an issue not known yet is kept, unattributed, not refused.
    assert answer.json() == {
        "imported": 2,
        "duplicates": 0,
        "updated": 0,
        "stale": 0,
        "unattributed": 1,
        "rejected": [],
    }
    stored, unknown = (await api.get("/v1/worklogs")).json()["items"]
    assert (stored["contract_id"], stored["ticket"], stored["project_key"]) == (ops, "OPS-9", "OPS")
    assert (unknown["contract_id"], unknown["ticket"], unknown["unattributed_reason"]) == (
        None,
        "issue 99999",
        "unknown_jira_issue",
    )
