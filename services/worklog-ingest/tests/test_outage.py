"""Issue 23: during a PostgreSQL outage every way in answers 503 with Retry-After (never
500), nothing is kept as a rejection (there is nowhere to keep it), and what was
acknowledged before is there after. On a PostgreSQL of the test's own, stopped and started
(the machine's shared server is never touched)."""

import asyncio
import json

import httpx
import pytest
from burnrate_testing import AUTH, eventually, serve
from burnrate_testing.servers import own_postgres
from burnrate_worklog_ingest.bootstrap import build
from burnrate_worklog_ingest.settings import WorklogIngestSettings

from .test_api import contract_event, replicate, worklog
from .test_sources import SECRET, clock, deliver, jira_hook  # noqa: F401

pytestmark = pytest.mark.integration


async def test_a_postgres_outage_answers_503_with_retry_after_and_loses_nothing(
    isolation,
    clock,  # noqa: F811
):
    with own_postgres() as postgres:
        settings = isolation.settings(
            WorklogIngestSettings, database_url=postgres.url, jira_webhook_secret=SECRET
        )
        async with serve(build(settings, clock=clock)) as served:
            # As a real server answers: an error the app's handler turned into a response is
            # not raised into the client (ServerErrorMiddleware re-raises it for servers).
            transport = httpx.ASGITransport(app=served.app, raise_app_exceptions=False)
            api = httpx.AsyncClient(transport=transport, base_url="http://service", headers=AUTH)
            api.app = served.app  # type: ignore[attr-defined]
            event = contract_event()
            await replicate(api, isolation, event)
            acknowledged = await api.post("/v1/worklogs", json=worklog(event.key))
            assert acknowledged.status_code == 201

            await asyncio.to_thread(postgres.stop, "fast")
            try:
                body = worklog(event.key)
                answers = {
                    "one": await api.post("/v1/worklogs", json=body),
                    "batch": await api.post("/v1/worklogs/batch", json={"worklogs": [body]}),
                    "stream": await api.post(
                        "/v1/worklogs/stream",
                        content=json.dumps(body),
                        headers={"content-type": "application/x-ndjson"},
                    ),
                    "jira": await deliver(api, jira_hook("worklog_created")),
                }
                for way_in, answer in answers.items():
                    assert answer.status_code == 503, (way_in, answer.text)
                    assert answer.headers["retry-after"] == "5", way_in
                    assert answer.json()["title"] == "Service unavailable", way_in
            finally:
                await asyncio.to_thread(postgres.start)

            async def stored_again():
                response = await api.post("/v1/worklogs", json=body)
                return response if response.status_code == 201 else None

            await eventually(stored_again, timeout=60)
            ids = {w["id"] for w in (await api.get("/v1/worklogs")).json()["items"]}
            assert acknowledged.json()["id"] in ids and len(ids) == 2
            assert (await api.get("/v1/worklogs/rejected")).json()["items"] == []
