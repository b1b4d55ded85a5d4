"""CSV, the CLI, NDJSON and Tempo imports against the real PostgreSQL and RabbitMQ."""

import asyncio
import io
import json
import os
import socket
import sys
from pathlib import Path

import pytest
import uvicorn
from burnrate_common.app import create_app
from burnrate_common.events import EventType
from burnrate_testing import TEST_API_KEY, eventually
from burnrate_worklog_ingest.bootstrap import build
from burnrate_worklog_ingest.importer import chunks, main, upload
from burnrate_worklog_ingest.settings import WorklogIngestSettings

from .test_api import api, consumption, contract_event, replicate, settled  # noqa: F401

pytestmark = pytest.mark.integration

DATA = Path(__file__).parent / "data"
MARCH = ("2026-03-01", "2026-03-31")


@pytest.fixture
async def acme(api, isolation):  # noqa: F811
    event = contract_event()
    await replicate(api, isolation, event)
    return event.key


def csv_body(name):
    return (DATA / name).read_bytes()


async def post_csv(api, body, **params):  # noqa: F811
    return await api.post(
        "/v1/imports/csv", params=params, content=body, headers={"content-type": "text/csv"}
    )


async def test_toggl_sample_imports_then_reimport_is_all_duplicates(api, acme, probe):  # noqa: F811
    first = await post_csv(
        api, csv_body("toggl.csv"), format="toggl", team="servicedesk", timezone="Europe/Amsterdam"
    )
    assert first.status_code == 200, first.text
    assert first.json() == {
        "imported": 3,
        "duplicates": 0,
        "updated": 0,
        "stale": 0,
        "unattributed": 1,
        "rejected": [],
    }
    again = await post_csv(
        api, csv_body("toggl.csv"), format="toggl", team="servicedesk", timezone="Europe/Amsterdam"
    )
    assert again.json() == {
        "imported": 0,
        "duplicates": 3,
        "updated": 0,
        "stale": 0,
        "unattributed": 0,
        "rejected": [],
    }
    # 23:30 on 31 March in Amsterdam is March; GLOBEX-OPS matches no contract: kept.
    [unattributed] = (await api.get("/v1/worklogs/unattributed")).json()["items"]
    assert (unattributed["source"], unattributed["work_account"]) == ("toggl", "GLOBEX-OPS")
    assert await settled(probe, EventType.CONSUMPTION_RECORDED, 1) == [
        consumption(acme, *MARCH, 5400 + 2700, 2, author="tess@msp.example")
    ]


async def test_harvest_sample(api, acme, probe):  # noqa: F811
    answer = await post_csv(api, csv_body("harvest.csv"), format="harvest", team="servicedesk")
    assert answer.json()["imported"] == 3
    found = await settled(probe, EventType.CONSUMPTION_RECORDED, 2)
    assert sorted(found, key=lambda c: c["author"]) == [
        consumption(acme, *MARCH, 900, 1, author="Rob Remote", activity="On-site"),
        consumption(acme, *MARCH, 10_800, 2, author="Tess Tech", activity="Phone support"),
    ]


async def test_generic_sample_with_query_mapping(api, acme):  # noqa: F811
    params = {
        "format": "generic",
        "timezone": "Europe/Amsterdam",
        "team": "field",
        "map.started_at": "Start",
        "map.seconds": "Seconds",
        "map.author": "Who",
        "map.work_account": "Account",
        "map.activity": "Kind",
        "map.ticket": "Ticket",
    }
    answer = await post_csv(api, csv_body("generic.csv"), **params)
    assert answer.json()["imported"] == 2, answer.text
    items = (await api.get("/v1/worklogs", params={"contract_id": acme})).json()["items"]
    assert sorted((w["ticket"], w["seconds"], w["team"], w["source"]) for w in items) == [
        ("ACME-1", 3600, "field", "csv"),
        ("ACME-2", 1800, "field", "csv"),
    ]
    bad = await post_csv(api, csv_body("generic.csv"), format="generic", **{"map.nope": "X"})
    # Not a parameter of the route (the map.<field> parameters are declared): named as such.
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "map.nope")


BROKEN = (
    b"Date,Project Code,Task,Hours,First Name,Last Name\n"
    b"2026-03-02,ACME-SUPPORT,Phone,1,Tess,Tech\n"
    b"2026-03-02,ACME-SUPPORT,Phone,-1,Tess,Tech\n"
    b"2026-03-0x,ACME-SUPPORT,Phone,1,Tess,Tech\n"
    b"2026-03-03,ACME-SUPPORT,Phone,2,Tess,Tech\n"
)


async def test_all_or_nothing_refuses_every_bad_row_and_stores_nothing(api, acme):  # noqa: F811
    answer = await post_csv(api, BROKEN, format="harvest")
    assert answer.status_code == 422
    assert answer.json()["rejected"] == [
        {"line": 3, "field": "seconds", "reason": "Input should be greater than 0"},
        {"line": 4, "field": "started_at", "reason": "'2026-03-0x' is not a date (YYYY-MM-DD)"},
    ]
    assert (await api.get("/v1/worklogs")).json()["items"] == []


async def test_skip_invalid_stores_the_good_rows(api, acme):  # noqa: F811
    answer = await post_csv(api, BROKEN, format="harvest", mode="skip-invalid")
    assert answer.status_code == 200
    body = answer.json()
    assert (body["imported"], [r["line"] for r in body["rejected"]]) == (2, [3, 4])
    assert len((await api.get("/v1/worklogs")).json()["items"]) == 2


async def test_bad_header_zone_and_encoding(api):  # noqa: F811
    missing = await post_csv(api, b"Date,Hours\n2026-03-02,1\n", format="harvest")
    assert (missing.status_code, missing.json()["errors"][0]["field"]) == (422, "Project Code")
    zone = await post_csv(api, csv_body("harvest.csv"), format="harvest", timezone="Mars/Olympus")
    assert (zone.status_code, zone.json()["errors"][0]["field"]) == (422, "timezone")
    latin = await post_csv(api, "Date\nDüsseldorf\n".encode("latin-1"), format="harvest")
    assert latin.status_code == 400


# --- the command line -----------------------------------------------------------------------


def test_chunks_keep_records_whole_and_know_their_offset():
    text = 'H\n"a\nb"\nc\nd\n'
    assert list(chunks(text, 2)) == [('H\n"a\nb"\nc\n', 0, 2), ("H\nd\n", 3, 1)]


async def test_cli_upload_in_chunks_then_duplicates(api, acme, probe):  # noqa: F811
    text = (DATA / "harvest.csv").read_text("utf-8")
    err = io.StringIO()
    summary = await upload(
        api, text, "harvest", chunk_rows=2, out=err, params={"team": "servicedesk"}
    )
    assert (summary.imported, summary.duplicates, summary.rejected) == (3, 0, [])
    assert "3/3 rows" in err.getvalue()
    again = await upload(
        api, text, "harvest", chunk_rows=2, out=io.StringIO(), params={"team": "servicedesk"}
    )
    assert (again.imported, again.duplicates) == (0, 3)
    assert again.lines()[:4] == [
        "created: 0 (0 unattributed)",
        "updated: 0",
        "unchanged: 3",
        "rejected: 0",
    ]


async def test_cli_all_or_nothing_checks_every_chunk_first(api, acme):  # noqa: F811
    summary = await upload(api, BROKEN.decode(), "harvest", chunk_rows=1, out=io.StringIO())
    assert [(r["line"], r["field"]) for r in summary.rejected] == [
        (3, "seconds"),
        (4, "started_at"),
    ]
    assert summary.imported == 0
    assert (await api.get("/v1/worklogs")).json()["items"] == []
    skipped = await upload(
        api, BROKEN.decode(), "harvest", chunk_rows=1, out=io.StringIO(), all_or_nothing=False
    )
    assert (skipped.imported, [r["line"] for r in skipped.rejected]) == (2, [3, 4])


# --- NDJSON ---------------------------------------------------------------------------------


async def test_ndjson_stream_in_chunks(api, acme, probe):  # noqa: F811
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

    lines = [line(i) for i in range(2500)]
    lines[10] = "{not json"
    lines[20] = line(20, seconds=0)
    body = ("\n".join(lines) + "\n" + line(0)).encode()  # the last line repeats the first

    async def parts():
        for i in range(0, len(body), 65_536):
            yield body[i : i + 65_536]

    answer = await api.post(
        "/v1/worklogs/stream",
        params={"mode": "skip-invalid"},
        content=parts(),
        headers={"content-type": "application/x-ndjson"},
    )
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert (result["imported"], result["duplicates"]) == (2498, 1)
    assert result["rejected"] == [
        {"line": 11, "field": "row", "reason": "not valid JSON"},
        {"line": 21, "field": "seconds", "reason": "Input should be greater than 0"},
    ]
    found = await settled(probe, EventType.CONSUMPTION_RECORDED, 3)  # one per chunk of 1,000
    assert sum(c["delta_seconds"] for c in found) == 2498 * 60


# --- Tempo ----------------------------------------------------------------------------------


def tempo(worklog_id, seconds=3600, updated="2026-03-02T10:00:00Z", account="ACME-SUPPORT"):
    return {
        "self": f"https://api.tempo.io/4/worklogs/{worklog_id}",
        "tempoWorklogId": worklog_id,
        "issue": {"self": "https://acme.atlassian.net/rest/api/2/issue/10001", "id": 10001},
        "timeSpentSeconds": seconds,
        "billableSeconds": seconds,
        "startDate": "2026-03-02",
        "startTime": "09:00:00",
        "description": "Printer",
        "createdAt": "2026-03-02T10:00:00Z",
        "updatedAt": updated,
        "author": {
            "self": "https://acme.atlassian.net/rest/api/2/user?accountId=5b10",
            "accountId": "5b10",
        },
        "attributes": {"self": "x", "values": [{"key": "_Account_", "value": account}]},
    }


async def test_tempo_page_newer_updated_at_wins(api, acme, probe):  # noqa: F811
    page = {"self": "x", "metadata": {"count": 2}, "results": [tempo(1), tempo(2, 1800)]}
    first = await api.post(
        "/v1/imports/tempo",
        json=page,
        params={"team": "servicedesk", "timezone": "Europe/Amsterdam"},
    )
    assert first.json()["imported"] == 2, first.text
    newer = {"results": [tempo(1, 7200, updated="2026-03-03T10:00:00Z")]}
    older = {"results": [tempo(2, 60, updated="2026-03-01T10:00:00Z")]}
    a = await api.post("/v1/imports/tempo", json=newer, params={"team": "servicedesk"})
    b = await api.post("/v1/imports/tempo", json=older, params={"team": "servicedesk"})
    assert (a.json()["updated"], b.json()["stale"]) == (1, 1)
    items = (await api.get("/v1/worklogs", params={"contract_id": acme})).json()["items"]
    assert sorted((w["external_id"], w["seconds"], w["author"], w["source"]) for w in items) == [
        ("1", 7200, "5b10", "tempo"),
        ("2", 1800, "5b10", "tempo"),
    ]
    found = await settled(probe, EventType.CONSUMPTION_RECORDED, 2)
    assert [c["delta_seconds"] for c in found] == [5400, 3600]
    bad = await api.post("/v1/imports/tempo", json={"results": [{"tempoWorklogId": 3}]})
    assert bad.status_code == 422
    assert {r["field"] for r in bad.json()["rejected"]} >= {"issue", "timeSpentSeconds"}


async def test_the_console_script_against_a_real_port(isolation, tmp_path):
    """`burnrate import` as a user runs it: the installed script, HTTP on a real port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(build(isolation.settings(WorklogIngestSettings)))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: asyncio.sleep(0, server.started))
        script = Path(sys.executable).with_name("burnrate")
        env = {**os.environ, "BURNRATE_API_KEY": TEST_API_KEY}
        args = [str(script), "import", str(DATA / "toggl.csv"), "--source", "toggl"]
        args += ["--url", f"http://127.0.0.1:{port}", "--timezone", "Europe/Amsterdam"]
        for _ in range(2):
            process = await asyncio.create_subprocess_exec(
                *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
            )
            out, err = await process.communicate()
            assert process.returncode == 0, err.decode()
        assert out.decode().splitlines() == [
            "created: 0 (0 unattributed)",
            "updated: 0",
            "unchanged: 3",
            "rejected: 0",
        ]
        assert "[##############################] 3/3 rows" in err.decode()
        bad = tmp_path / "bad.csv"
        bad.write_text(BROKEN.decode())
        args[2:5] = [str(bad), "--source", "harvest"]
        process = await asyncio.create_subprocess_exec(
            *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, _ = await process.communicate()
        assert process.returncode == 1
        assert out.decode().splitlines()[3:] == [
            "rejected: 2",
            "  line 3: seconds: Input should be greater than 0",
            "  line 4: started_at: '2026-03-0x' is not a date (YYYY-MM-DD)",
        ]
        # An HTTP error: one line on stderr, no summary, a non-zero exit.
        process = await asyncio.create_subprocess_exec(
            *args,
            env={**env, "BURNRATE_API_KEY": "not-a-key"},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        assert (process.returncode, out) == (1, b"")
        assert err.decode().splitlines()[-1:] == [
            "burnrate: worklog-ingest answered HTTP 401: The API key is unknown or revoked. "
            "(nothing was imported)"
        ]
        assert "Traceback" not in err.decode()
    finally:
        server.should_exit = True
        await serving


def test_the_cli_says_in_one_line_that_the_service_cannot_be_reached(capsys, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    export = tmp_path / "toggl.csv"
    export.write_bytes((DATA / "toggl.csv").read_bytes())
    code = main(
        [
            "import",
            str(export),
            "--source",
            "toggl",
            "--url",
            f"http://127.0.0.1:{port}",
            "--api-key",
            "k",
        ]
    )
    out, err = capsys.readouterr()
    assert (code, out) == (3, "")
    [line] = err.splitlines()
    assert line.startswith(f"burnrate: cannot reach worklog-ingest at http://127.0.0.1:{port}: ")


def test_the_cli_says_in_one_line_that_the_file_is_missing(capsys, tmp_path):
    for source in ("toggl", "ndjson"):
        code = main(["import", str(tmp_path / "nope.csv"), "--source", source, "--api-key", "k"])
        out, err = capsys.readouterr()
        assert (code, out) == (2, "")
        assert err.splitlines() == [f"burnrate: cannot read {tmp_path / 'nope.csv'}: no such file"]
