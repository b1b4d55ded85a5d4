"""Contracts, worklog-ingest, reporting (and rules) in one process against the real PostgreSQL
and RabbitMQ, spoken to through their HTTP APIs only (never an event's shape):

* a property (hypothesis): any sequence of creates, updates and deletes of worklogs, through
  the REST API and the Jira webhook, ends with reporting's totals per contract period, team
  and activity equal to the sums of the surviving worklogs, also when worklog-ingest and
  reporting are stopped and started again in the middle;
* deleting a draft contract withdraws what it counted: its worklogs are routed again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import itertools
import json
import zoneinfo
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from burnrate_billing.bootstrap import build as build_billing
from burnrate_billing.settings import BillingSettings
from burnrate_contracts.bootstrap import build as build_contracts
from burnrate_contracts.settings import ContractsSettings
from burnrate_reporting.bootstrap import build as build_reporting
from burnrate_reporting.settings import ReportingSettings
from burnrate_rules.bootstrap import build as build_rules
from burnrate_rules.settings import RulesSettings
from burnrate_testing import eventually, serve
from burnrate_worklog_ingest.bootstrap import build as build_ingest
from burnrate_worklog_ingest.settings import WorklogIngestSettings
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.integration

SECRET = "jira-shared-secret"
AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")
TEAMS = ("servicedesk", "field")
ACTIVITIES = ("phone support", "on-site repair")
#: Instants around month ends: 31 March 23:30 and 1 March 00:30 in Amsterdam are March.
INSTANTS = (
    dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC),
    dt.datetime(2026, 3, 31, 21, 30, tzinfo=dt.UTC),
    dt.datetime(2026, 3, 31, 22, 30, tzinfo=dt.UTC),
    dt.datetime(2026, 2, 28, 23, 30, tzinfo=dt.UTC),
    dt.datetime(2026, 4, 15, 12, 0, tzinfo=dt.UTC),
)


class Services:
    """The services in-process; each can be stopped and started again (same settings, so
    the same schema and durable queue: what arrived meanwhile waits there)."""

    def __init__(self, isolation: Any, names: tuple[str, ...]) -> None:
        self._settings = {
            "contracts": (build_contracts, isolation.settings(ContractsSettings)),
            "ingest": (
                build_ingest,
                isolation.settings(WorklogIngestSettings, jira_webhook_secret=SECRET),
            ),
            "reporting": (build_reporting, isolation.settings(ReportingSettings)),
            "rules": (build_rules, isolation.settings(RulesSettings)),
            "billing": (build_billing, isolation.settings(BillingSettings)),
        }
        self._names = names
        self._running: dict[str, contextlib.AsyncExitStack] = {}
        self.clients: dict[str, httpx.AsyncClient] = {}

    async def start(self, name: str) -> None:
        build, service_settings = self._settings[name]
        stack = contextlib.AsyncExitStack()
        self.clients[name] = await stack.enter_async_context(serve(build(service_settings)))
        self._running[name] = stack

    async def stop(self, name: str) -> None:
        await self._running.pop(name).aclose()
        del self.clients[name]

    async def restart(self, *names: str) -> None:
        for name in names:
            await self.stop(name)
        for name in names:
            await self.start(name)

    async def __aenter__(self) -> Services:
        for name in self._names:
            await self.start(name)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for name in reversed(list(self._running)):
            await self.stop(name)


@pytest.fixture
async def services(isolation) -> AsyncIterator[Services]:
    async with Services(isolation, ("contracts", "ingest", "reporting")) as running:
        yield running


_numbers = itertools.count(1)


async def new_contract(
    contracts: httpx.AsyncClient, *, lifecycle: str = "active", billing: dict | None = None
) -> dict:
    n = next(_numbers)
    customer = await contracts.post("/v1/customers", json={"name": f"Customer {n}"})
    body = {
        "customer_id": customer.json()["id"],
        "code": f"P-{n}",
        "title": "Property",
        "owner_email": "owner@msp.example",
        "start_date": "2026-01-01",
        "end_date": "2026-12-31",
        "timezone": "Europe/Amsterdam",
        "planned_hours": 40,
        "teams": list(TEAMS),
        "work_accounts": [f"ACC{n}"],
        "jira_project_keys": [f"PK{n}"],
        "lifecycle": lifecycle,
        "billing": billing,
    }
    response = await contracts.post("/v1/contracts", json=body)
    assert response.status_code == 201, response.text
    return response.json()


# --- the model and the operations -----------------------------------------------------------


@dataclass
class Kept:
    """What a surviving worklog should add to the totals."""

    team: str
    activity: str
    started_at: dt.datetime
    seconds: int

    @property
    def month(self) -> str:
        return self.started_at.astimezone(AMSTERDAM).strftime("%Y-%m")


@dataclass
class Model:
    worklogs: dict[str, Kept] = field(default_factory=dict)

    def totals(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for w in self.worklogs.values():
            month = out.setdefault(
                w.month, {"seconds": 0, "count": 0, "team": Counter(), "activity": Counter()}
            )
            month["seconds"] += w.seconds
            month["count"] += 1
            month["team"][w.team] += w.seconds
            month["activity"][w.activity] += w.seconds
        return out


def signed(body: dict) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return raw, {"X-Hub-Signature": signature, "content-type": "application/json"}


def signed_params(params: dict[str, str]) -> dict[str, str]:
    """The webhook URL's query with ``sig`` over team / activity / location (see
    burnrate_worklog_ingest.auth)."""
    covered = {k: v for k, v in params.items() if k in ("team", "activity", "location")}
    text = "\n".join(["burnrate-jira-params-v1", *(f"{k}={covered[k]}" for k in sorted(covered))])
    return params | {"sig": hmac.new(SECRET.encode(), text.encode(), hashlib.sha256).hexdigest()}


class Driver:
    """Applies operations through the APIs and keeps the model of what should survive."""

    def __init__(self, services: Services, contract: dict) -> None:
        self.services = services
        self.contract = contract
        self.model = Model()
        self.ids: list[str] = []  # every worklog created, as the key the model uses
        self.rest_ids: dict[str, str] = {}  # model key → worklog-ingest id (REST ones)
        self.jira_versions = itertools.count(1)
        self.jira_ids: dict[str, str] = {}  # model key → Jira worklog id, unique in the run

    @property
    def ingest(self) -> httpx.AsyncClient:
        return self.services.clients["ingest"]

    async def jira(self, event: str, key: str, w: Kept) -> None:
        version = next(self.jira_versions)  # Jira's "updated" only grows
        raw, headers = signed(
            {
                # Sent now (the replay window), each delivery a body of its own.
                "timestamp": int(dt.datetime.now(dt.UTC).timestamp() * 1000) + version,
                "webhookEvent": event,
                "worklog": {
                    "id": self.jira_ids.setdefault(key, str(next(_numbers))),
                    "issueId": "10001",
                    "author": {"accountId": "tech1"},
                    "timeSpentSeconds": w.seconds,
                    "started": w.started_at.isoformat(),
                    "updated": (
                        dt.datetime(2026, 5, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=version)
                    ).isoformat(),
                },
            }
        )
        project = self.contract["jira_project_keys"][0]
        response = await self.ingest.post(
            "/v1/webhooks/jira",
            params=signed_params(
                {"issue_key": f"{project}-7", "team": w.team, "activity": w.activity}
            ),
            content=raw,
            headers=headers,
        )
        assert response.status_code == 200, response.text
        assert response.json()["outcome"] != "rejected", response.text

    async def create(self, via_jira: bool, w: Kept) -> None:
        key = f"{'jira' if via_jira else 'api'}-{len(self.ids) + 1}"
        if via_jira:
            await self.jira("worklog_created", key, w)
        else:
            response = await self.ingest.post(
                "/v1/worklogs",
                json={
                    "source": "api",
                    "external_id": f"{self.contract['code']}-{key}",
                    "work_account": self.contract["work_accounts"][0],
                    "author": "tech1",
                    "team": w.team,
                    "activity": w.activity,
                    "started_at": w.started_at.isoformat(),
                    "seconds": w.seconds,
                },
            )
            assert response.status_code in (201, 202), response.text
            self.rest_ids[key] = response.json()["id"]
        self.ids.append(key)
        self.model.worklogs[key] = w

    async def update(self, index: int, w: Kept) -> None:
        if not self.ids:
            return
        key = self.ids[index % len(self.ids)]
        if key not in self.model.worklogs:
            return  # deleted: a delete is final
        if key.startswith("jira-"):
            await self.jira("worklog_updated", key, w)
        else:
            response = await self.ingest.put(
                f"/v1/worklogs/{self.rest_ids[key]}",
                json={
                    "author": "tech1",
                    "team": w.team,
                    "activity": w.activity,
                    "started_at": w.started_at.isoformat(),
                    "seconds": w.seconds,
                },
            )
            assert response.status_code == 200, response.text
        self.model.worklogs[key] = w

    async def delete(self, index: int) -> None:
        if not self.ids:
            return
        key = self.ids[index % len(self.ids)]
        if key not in self.model.worklogs:
            return
        if key.startswith("jira-"):
            await self.jira("worklog_deleted", key, self.model.worklogs[key])
        else:
            response = await self.ingest.delete(f"/v1/worklogs/{self.rest_ids[key]}")
            assert response.status_code == 204, response.text
        del self.model.worklogs[key]


async def reported(reporting: httpx.AsyncClient, contract_id: str, month: str) -> dict:
    response = await reporting.get(
        f"/v1/contracts/{contract_id}/consumption", params={"period": month}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return {
        "seconds": body["executed_seconds"],
        "count": body["worklog_count"],
        "team": {t["team"]: t["executed_seconds"] for t in body["by_team"]},
        "activity": {a["activity"]: a["executed_seconds"] for a in body["by_activity"]},
    }


async def totals_agree(services: Services, contract_id: str, model: Model) -> None:
    expected = model.totals()

    async def agree() -> bool:
        for month in ("2026-02", "2026-03", "2026-04"):
            want = expected.get(month, {"seconds": 0, "count": 0, "team": {}, "activity": {}})
            got = await reported(services.clients["reporting"], contract_id, month)
            # A team or activity back at zero may keep its row: compare what is not zero.
            got["team"] = {k: v for k, v in got["team"].items() if v}
            got["activity"] = {k: v for k, v in got["activity"].items() if v}
            want = want | {
                "team": {k: v for k, v in want["team"].items() if v},
                "activity": {k: v for k, v in want["activity"].items() if v},
            }
            assert got == want, (month, got, want)
        return True

    await eventually(agree, timeout=20)


# --- the property ---------------------------------------------------------------------------

worklog_values = st.builds(
    Kept,
    team=st.sampled_from(TEAMS),
    activity=st.sampled_from(ACTIVITIES),
    started_at=st.sampled_from(INSTANTS),
    seconds=st.integers(min_value=60, max_value=8 * 3600),
)
creates = st.tuples(st.just("create"), st.booleans(), worklog_values)
operation = st.one_of(
    creates,
    creates,  # twice as likely: something to update, delete and count
    st.tuples(st.just("update"), st.integers(0, 50), worklog_values),
    st.tuples(st.just("delete"), st.integers(0, 50)),
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    operations=st.lists(operation, min_size=1, max_size=15),
    restart_after=st.one_of(st.none(), st.integers(0, 14)),
)
async def test_totals_equal_the_sum_of_the_surviving_worklogs(services, operations, restart_after):
    """Each example has its own contract, so examples do not see each other's worklogs."""
    restarts = restart_after is not None and restart_after < len(operations)
    event(f"services restarted: {restarts}")
    contract = await new_contract(services.clients["contracts"])
    driver = Driver(services, contract)
    for n, op in enumerate(operations):
        if op[0] == "create":
            await driver.create(op[1], op[2])
        elif op[0] == "update":
            await driver.update(op[1], op[2])
        else:
            await driver.delete(op[1])
        if n == restart_after:
            # Consumers stop with work queued or in flight; the outbox and the durable
            # queues carry it over.
            await services.restart("ingest", "reporting")
    event(f"worklogs surviving: {min(len(driver.model.worklogs), 5)}+")
    await totals_agree(services, contract["id"], driver.model)


# --- deleting a draft -----------------------------------------------------------------------


async def test_deleting_a_draft_routes_its_worklogs_again(isolation):
    async with Services(isolation, ("contracts", "ingest", "reporting", "rules")) as services:
        contracts = services.clients["contracts"]
        draft = await new_contract(contracts, lifecycle="draft")
        driver = Driver(services, draft)
        for seconds in (3600, 7200):
            await driver.create(False, Kept("servicedesk", "phone support", INSTANTS[0], seconds))
        await totals_agree(services, draft["id"], driver.model)
        rules = services.clients["rules"]

        async def rules_executed() -> float:
            response = await rules.get(f"/v1/contracts/{draft['id']}/totals")
            assert response.status_code == 200, response.text
            return sum(p["executed_hours"] for p in response.json()["periods"])

        async def rules_counted() -> bool:
            return await rules_executed() == 3

        await eventually(rules_counted)

        assert (await contracts.delete(f"/v1/contracts/{draft['id']}")).status_code == 204

        async def unattributed() -> list[dict]:
            page = (await driver.ingest.get("/v1/worklogs/unattributed")).json()["items"]
            return [w for w in page if w["work_account"] == draft["work_accounts"][0]]

        found = await eventually(unattributed)
        assert sorted(w["seconds"] for w in found) == [3600, 7200]

        async def gone() -> bool:
            response = await services.clients["reporting"].get(
                f"/v1/contracts/{draft['id']}/consumption", params={"period": "2026-03"}
            )
            return response.status_code == 404

        await eventually(gone)
        screen = (await services.clients["reporting"].get("/v1/contracts")).json()["items"]
        assert draft["id"] not in [c["id"] for c in screen]

        async def rules_withdrawn() -> bool:
            return await rules_executed() == 0

        await eventually(rules_withdrawn)

        # A new contract holding the same work account takes the worklogs over.
        customer = draft["customer_id"]
        body = {
            k: draft[k]
            for k in ("code", "title", "owner_email", "start_date", "end_date", "timezone")
        } | {
            "customer_id": customer,
            "planned_hours": 40,
            "teams": list(TEAMS),
            "work_accounts": draft["work_accounts"],
        }
        successor = await contracts.post("/v1/contracts", json=body)
        assert successor.status_code == 201, successor.text
        await totals_agree(services, successor.json()["id"], driver.model)
        assert await unattributed() == []


async def test_a_contract_then_at_once_a_worklog_by_its_work_account(isolation):
    """Read your own writes (issue 19): a contract created through the contracts service,
    then at once a worklog naming its work account. worklog-ingest may not have the
    contract yet: the worklog is accepted (202, unattributed) and lands on the contract
    when ``contract.created`` arrives; the client needs to know nothing of replicas."""
    async with Services(isolation, ("contracts", "ingest", "reporting")) as services:
        contracts, ingest = services.clients["contracts"], services.clients["ingest"]
        for _ in range(3):  # back to back, several times: either order of arrival
            contract = await new_contract(contracts)
            response = await ingest.post(
                "/v1/worklogs",
                json={
                    "source": "api",
                    "external_id": f"ryow-{contract['code']}",
                    "work_account": contract["work_accounts"][0],
                    "author": "tech1",
                    "team": "servicedesk",
                    "activity": "phone support",
                    "started_at": "2026-03-10T09:00:00+01:00",
                    "seconds": 5400,
                },
            )
            assert response.status_code in (201, 202), response.text
            worklog_id = response.json()["id"]

            async def attributed(worklog_id: str = worklog_id) -> dict | None:
                stored = (await ingest.get(f"/v1/worklogs/{worklog_id}")).json()
                return stored if stored["contract_id"] else None

            stored = await eventually(attributed)
            assert (stored["contract_id"], stored["period_start"]) == (
                contract["id"],
                "2026-03-01",
            )
            model = Model()
            model.worklogs["one"] = Kept("servicedesk", "phone support", INSTANTS[0], 5400)
            await totals_agree(services, contract["id"], model)
