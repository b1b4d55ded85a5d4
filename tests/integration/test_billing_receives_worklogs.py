"""Contracts, worklog-ingest and billing (with reporting) in one process: billing rates every
hour of a billed contract, so every worklog of such a contract reaches it, through the batch,
the single POST, a correction and a delete; a contract that is not billed keeps the speed
choice: its worklogs inside the contract's dates publish no ``worklog.recorded``.

Each worklog event carries the ``billed`` and ``outside_dates`` headers a consumer filters on
at the broker; reporting still takes only the worklogs outside the dates.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aio_pika
import httpx
import pytest
from burnrate_common.events import Envelope
from burnrate_testing import eventually
from test_across_services import Services, new_contract

pytestmark = pytest.mark.integration

BILLING = {"base_rate": "50.00", "vat_rate": "0.21"}
#: Inside the contracts of ``new_contract`` (2026), in March (Amsterdam).
MARCH = [dt.datetime(2026, 3, day, 9, 0, tzinfo=dt.UTC) for day in (2, 3, 4, 5, 6, 9)]
#: Before the contract starts: counted in its first period, outside its dates.
BEFORE = dt.datetime(2025, 12, 15, 9, 0, tzinfo=dt.UTC)

_numbers = itertools.count(1)


@dataclass(frozen=True)
class Published:
    routing_key: str
    headers: dict[str, Any]
    envelope: Envelope


class WorklogProbe:
    """Every ``worklog.*`` message on the test's exchange, with its AMQP headers."""

    def __init__(self) -> None:
        self.messages: list[Published] = []

    def of(self, contract_id: str, routing_key: str) -> list[Published]:
        return [
            m
            for m in self.messages
            if m.routing_key == routing_key and m.envelope.key == contract_id
        ]

    def worklogs(self, contract_id: str, routing_key: str) -> list[dict[str, Any]]:
        return [w for m in self.of(contract_id, routing_key) for w in m.envelope.data["worklogs"]]


@contextlib.asynccontextmanager
async def worklog_probe(isolation: Any) -> AsyncIterator[WorklogProbe]:
    probe = WorklogProbe()
    connection = await aio_pika.connect(isolation.amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            f"{isolation.amqp_prefix}.events", aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key="worklog.*")

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            async with message.process():
                probe.messages.append(
                    Published(
                        message.routing_key or "",
                        dict(message.headers),
                        Envelope.model_validate_json(message.body),
                    )
                )

        await queue.consume(on_message)
        yield probe


def worklog(contract: dict, started_at: dt.datetime, seconds: int) -> dict[str, Any]:
    return {
        "source": "api",
        "external_id": f"billed-{next(_numbers)}",
        "contract_id": contract["id"],
        "author": "tech1",
        "team": "servicedesk",
        "activity": "phone support",
        "location": "service desk",
        "started_at": started_at.isoformat(),
        "seconds": seconds,
    }


async def actual_hours(billing: httpx.AsyncClient, contract_id: str, month: str) -> Decimal:
    """The hours billing's statement of that month rates (0 while it has none)."""
    found = await billing.get(
        "/v1/statements", params={"contract_id": contract_id, "period": month}
    )
    assert found.status_code == 200, found.text
    items = found.json()["items"]
    if not items:
        return Decimal(0)
    body = (await billing.get(f"/v1/statements/{items[0]['id']}")).json()
    return Decimal(str(body["figures"]["actual_hours"])) if body["figures"] else Decimal(0)


async def test_every_worklog_of_a_billed_contract_reaches_billing(isolation):
    async with (
        worklog_probe(isolation) as probe,
        Services(isolation, ("contracts", "ingest", "billing", "reporting")) as services,
    ):
        contracts, ingest = services.clients["contracts"], services.clients["ingest"]
        billing, reporting = services.clients["billing"], services.clients["reporting"]
        contract = await new_contract(contracts, billing=BILLING)
        batch = [worklog(contract, at, 3600) for at in MARCH[:4]]
        batch.append(worklog(contract, BEFORE, 1800))  # outside: reporting lists it

        async def accepted() -> bool:  # 422 until contract.created reached worklog-ingest
            response = await ingest.post("/v1/worklogs/batch", json={"worklogs": batch})
            return response.status_code == 201

        await eventually(accepted)
        single = await ingest.post("/v1/worklogs", json=worklog(contract, MARCH[4], 7200))
        assert single.status_code == 201, single.text

        async def march_rated(hours: Decimal) -> bool:
            got = await actual_hours(billing, contract["id"], "2026-03")
            assert got == hours, f"billing rates {got} h of March, not {hours}"
            return True

        await eventually(lambda: march_rated(Decimal(6)), timeout=20)

        # A correction and a delete reach billing too.
        corrected = await ingest.put(
            f"/v1/worklogs/{single.json()['id']}",
            json={
                "author": "tech1",
                "team": "servicedesk",
                "activity": "phone support",
                "started_at": MARCH[4].isoformat(),
                "seconds": 3600,
            },
        )
        assert corrected.status_code == 200, corrected.text
        await eventually(lambda: march_rated(Decimal(5)), timeout=20)
        listed = (await ingest.get("/v1/worklogs", params={"contract_id": contract["id"]})).json()
        first = next(w for w in listed["items"] if w["external_id"] == batch[0]["external_id"])
        assert (await ingest.delete(f"/v1/worklogs/{first['id']}")).status_code == 204
        await eventually(lambda: march_rated(Decimal(4)), timeout=20)

        # Every event of the contract says it is billed; outside_dates only where one is.
        recorded = probe.of(contract["id"], "worklog.recorded")
        assert len(probe.worklogs(contract["id"], "worklog.recorded")) == 6
        assert all(m.headers["billed"] is True for m in recorded)
        assert all(m.envelope.data["billed"] is True for m in recorded)
        assert [m.headers["outside_dates"] for m in recorded] == [True, False]
        for key in ("worklog.corrected", "worklog.deleted"):
            [changed] = probe.of(contract["id"], key)
            assert (changed.headers["billed"], changed.headers["outside_dates"]) == (True, False)

        # Reporting lists the one outside the dates, and counts all of them.
        async def reported() -> dict[str, Any] | None:
            response = await reporting.get(
                f"/v1/contracts/{contract['id']}/consumption", params={"period": "2026-01"}
            )
            body: dict[str, Any] = response.json()
            return body if response.status_code == 200 and body["outside_dates_worklogs"] else None

        january = await eventually(reported, timeout=20)
        assert [w["seconds"] for w in january["outside_dates_worklogs"]] == [1800]


async def test_an_unbilled_contract_publishes_no_worklog_recorded_inside_its_dates(isolation):
    async with (
        worklog_probe(isolation) as probe,
        Services(isolation, ("contracts", "ingest", "reporting")) as services,
    ):
        contracts, ingest = services.clients["contracts"], services.clients["ingest"]
        contract = await new_contract(contracts)
        batch = [worklog(contract, at, 3600) for at in MARCH[:3]]

        async def accepted() -> bool:
            response = await ingest.post("/v1/worklogs/batch", json={"worklogs": batch})
            return response.status_code == 201

        await eventually(accepted)
        single = await ingest.post("/v1/worklogs", json=worklog(contract, MARCH[3], 3600))
        assert single.status_code == 201, single.text
        outside = await ingest.post("/v1/worklogs", json=worklog(contract, BEFORE, 600))
        assert outside.status_code == 201, outside.text

        async def outside_published() -> list[Published]:
            return probe.of(contract["id"], "worklog.recorded")

        # Only the worklog outside the dates is announced, and not as billed (the events of
        # the worklogs before it would have been relayed before it; a moment more for any).
        await eventually(outside_published)
        await asyncio.sleep(0.5)
        [recorded] = await outside_published()
        assert [w["seconds"] for w in recorded.envelope.data["worklogs"]] == [600]
        assert (recorded.headers["billed"], recorded.headers["outside_dates"]) == (False, True)
        assert recorded.envelope.data["billed"] is False


async def test_a_contract_turning_billed_announces_the_worklogs_it_holds(isolation):
    """Billing terms added to a contract later (or a replica row from before the replica
    knew): the worklogs it already holds inside its dates reach billing then."""
    async with Services(isolation, ("contracts", "ingest", "billing")) as services:
        contracts, ingest = services.clients["contracts"], services.clients["ingest"]
        billing = services.clients["billing"]
        contract = await new_contract(contracts)
        batch = [worklog(contract, at, 3600) for at in MARCH[:3]]

        async def accepted() -> bool:
            response = await ingest.post("/v1/worklogs/batch", json={"worklogs": batch})
            return response.status_code == 201

        await eventually(accepted)
        got = await contracts.get(f"/v1/contracts/{contract['id']}")
        changed = await contracts.patch(
            f"/v1/contracts/{contract['id']}",
            json={"billing": BILLING},
            headers={"If-Match": got.headers["ETag"]},
        )
        assert changed.status_code == 200, changed.text

        # One more while the change travels: announced either way, by itself or as held.
        async def single() -> bool:
            response = await ingest.post("/v1/worklogs", json=worklog(contract, MARCH[3], 1800))
            return response.status_code == 201

        await eventually(single)

        async def march_rated() -> bool:
            got = await actual_hours(billing, contract["id"], "2026-03")
            assert got == Decimal("3.5"), f"billing rates {got} h of March"
            return True

        await eventually(march_rated, timeout=20)
