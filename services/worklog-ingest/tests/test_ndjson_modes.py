"""The NDJSON stream's two modes against the real PostgreSQL and RabbitMQ: all-or-nothing
stores nothing (and publishes nothing) when any line is bad, however many chunks the body
spans; skip-invalid stores the rest; both name every bad line and its reason."""

import asyncio
import io
import json

import pytest
from burnrate_common.events import EventType
from burnrate_worklog_ingest.importer import upload_ndjson

from .test_api import api, contract_event, replicate  # noqa: F401

pytestmark = pytest.mark.integration

NDJSON = {"content-type": "application/x-ndjson"}


@pytest.fixture
async def acme(api, isolation):  # noqa: F811
    event = contract_event()
    await replicate(api, isolation, event)
    return event.key


def line(i, **extra):
    return json.dumps(
        {
            "source": "api",
            "external_id": f"nd-{i}",
            "work_account": "ACME-SUPPORT",
            "author": "tech1",
            "team": "servicedesk",
            "activity": "phone support",
            "started_at": "2026-03-10T09:00:00+01:00",
            "seconds": 60,
            **extra,
        }
    )


def body_of(lines):
    body = "\n".join(lines).encode()

    async def parts():  # odd-sized pieces: lines are cut across HTTP chunks
        for i in range(0, len(body), 7_777):
            yield body[i : i + 7_777]

    return parts()


async def stored(api):  # noqa: F811
    page = (await api.get("/v1/worklogs", params={"limit": 500})).json()
    return len(page["items"])


async def test_all_or_nothing_is_the_default_and_stores_nothing_past_the_first_chunk(
    api,  # noqa: F811
    acme,
    probe,
):
    lines = [line(i) for i in range(2600)]  # three chunks of 1,000 lines
    lines[1500] = "{not json"  # in the second chunk: the first one was already routed
    lines[2550] = line(2550, seconds=0)
    lines[2590] = line(2590, work_account=None)  # nothing to route by: refused when routed
    answer = await api.post("/v1/worklogs/stream", content=body_of(lines), headers=NDJSON)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["rejected"] == [
        {"line": 1501, "field": "row", "reason": "not valid JSON"},
        {"line": 2551, "field": "seconds", "reason": "Input should be greater than 0"},
        {
            "line": 2591,
            "field": "contract_id",
            "reason": "give contract_id, work_account or project_key",
        },
    ]
    assert [e["field"] for e in problem["errors"]] == [
        "line 1501",
        "line 2551.seconds",
        "line 2591.contract_id",
    ]
    assert await stored(api) == 0
    await asyncio.sleep(0.5)  # the relay polls every 0.2 s: nothing may have left the outbox
    assert probe.of_type(EventType.WORKLOG_RECORDED) == []
    assert probe.of_type(EventType.CONSUMPTION_RECORDED) == []

    # The same stream without its bad lines goes in whole.
    good = [x for n, x in enumerate(lines) if n not in (1500, 2550, 2590)]
    answer = await api.post(
        "/v1/worklogs/stream",
        params={"mode": "all-or-nothing"},
        content=body_of(good),
        headers=NDJSON,
    )
    assert answer.status_code == 200, answer.text
    assert (answer.json()["imported"], answer.json()["rejected"]) == (2597, [])


async def test_skip_invalid_stores_the_good_lines_and_lists_the_bad(api, acme):  # noqa: F811
    lines = [line(i) for i in range(1200)]
    lines[3] = "[1, 2"
    lines[1100] = line(1100, started_at="2026-03-10T09:00:00")  # no offset
    lines[1101] = ""  # blank lines are skipped, not rejected
    answer = await api.post(
        "/v1/worklogs/stream",
        params={"mode": "skip-invalid"},
        content=body_of(lines),
        headers=NDJSON,
    )
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["imported"] == 1197
    assert [(r["line"], r["field"]) for r in result["rejected"]] == [
        (4, "row"),
        (1101, "started_at"),
    ]
    assert all(r["reason"] for r in result["rejected"])


async def test_an_unknown_mode_names_the_parameter(api):  # noqa: F811
    answer = await api.post(
        "/v1/worklogs/stream", params={"mode": "some"}, content=b"", headers=NDJSON
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "mode"


async def test_the_cli_streams_ndjson_with_either_mode(api, acme):  # noqa: F811
    lines = [line(i, external_id=f"cli-{i}") for i in range(5)]
    lines[2] = line(2, external_id="cli-2", seconds=-5)
    data = ("\n".join(lines) + "\n").encode()
    err = io.StringIO()
    summary = await upload_ndjson(api, io.BytesIO(data), len(data), out=err, piece=100)
    assert (summary.imported, summary.failed) == (0, None)
    assert summary.lines()[3:] == [
        "rejected: 1",
        "  line 3: seconds: Input should be greater than 0",
    ]
    assert f"100 % of {len(data)} bytes" in err.getvalue()
    assert await stored(api) == 0
    skipped = await upload_ndjson(
        api, io.BytesIO(data), len(data), all_or_nothing=False, out=io.StringIO()
    )
    assert (skipped.imported, [r["line"] for r in skipped.rejected]) == (4, [3])
    assert await stored(api) == 4
