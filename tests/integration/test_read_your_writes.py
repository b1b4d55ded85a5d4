"""Read your own writes across services (issue 19): a script creates a contract at the
contracts service and, at once, a rule for it at the rules service — which learns of the
contract only through ``contract.created`` on the bus, some milliseconds later. The rules
service waits a bounded time for a contract it does not know yet (documented on the
endpoint) instead of answering 422 "Unknown contract". Run back to back, in-process,
against the real PostgreSQL and RabbitMQ."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator

import httpx
import pytest
from burnrate_contracts.bootstrap import build as build_contracts
from burnrate_contracts.settings import ContractsSettings
from burnrate_rules.bootstrap import build as build_rules
from burnrate_rules.settings import RulesSettings
from burnrate_testing import serve

pytestmark = pytest.mark.integration

_numbers = itertools.count(1)


@pytest.fixture
async def services(isolation) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    async with contextlib.AsyncExitStack() as stack:
        contracts = await stack.enter_async_context(
            serve(build_contracts(isolation.settings(ContractsSettings)))
        )
        rules = await stack.enter_async_context(
            serve(build_rules(isolation.settings(RulesSettings)))
        )
        yield contracts, rules


async def create_contract(contracts: httpx.AsyncClient) -> dict:
    n = next(_numbers)
    customer = await contracts.post("/v1/customers", json={"name": f"Customer {n}"})
    assert customer.status_code == 201, customer.text
    response = await contracts.post(
        "/v1/contracts",
        json={
            "customer_id": customer.json()["id"],
            "code": f"RYW-{n}",
            "title": "Read your writes",
            "owner_email": "owner@msp.example",
            "start_date": "2026-01-01",
            "end_date": "2026-12-31",
            "timezone": "Europe/Amsterdam",
            "planned_hours": 40,
            "teams": ["servicedesk"],
            "work_accounts": [f"RYW{n}"],
            "lifecycle": "active",
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_contract_then_at_once_a_rule_for_it(services):
    contracts, rules = services
    for _ in range(5):
        contract = await create_contract(contracts)
        response = await rules.post(
            "/v1/rules",
            json={
                "name": "70/90",
                "contract_id": contract["id"],
                "trigger": "percent_consumed",
                "stages": [70, 90],
            },
        )
        assert response.status_code == 201, response.text
        assert response.json()["contract_id"] == contract["id"]


async def test_a_contract_then_at_once_its_opt_out_of_a_shared_rule(services):
    contracts, rules = services
    shared = await rules.post(
        "/v1/rules", json={"name": "all", "trigger": "percent_consumed", "stages": [90]}
    )
    assert shared.status_code == 201, shared.text
    for _ in range(5):
        contract = await create_contract(contracts)
        response = await rules.put(f"/v1/rules/{shared.json()['id']}/opt-outs/{contract['id']}")
        assert response.status_code in (200, 201), response.text


async def test_a_contract_that_never_comes_is_still_refused_after_the_wait(isolation):
    import time
    import uuid

    settings = isolation.settings(RulesSettings, contract_wait_seconds=0.5)
    async with serve(build_rules(settings)) as rules:
        started = time.monotonic()
        response = await rules.post(
            "/v1/rules",
            json={
                "name": "ghost",
                "contract_id": str(uuid.uuid4()),
                "trigger": "percent_consumed",
                "stages": [90],
            },
        )
        waited = time.monotonic() - started
    assert response.status_code == 422, response.text
    assert response.json()["title"] == "Unknown contract"
    assert response.json()["errors"][0]["field"] == "contract_id"
    assert 0.5 <= waited < 3
