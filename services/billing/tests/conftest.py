"""A running billing service plus helpers to play other services' events at it."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aio_pika
import httpx
import pytest
from burnrate_billing.bootstrap import build
from burnrate_billing.settings import BillingSettings
from burnrate_common.clock import FixedClock
from burnrate_common.contract_terms import BillingTerms
from burnrate_common.events import (
    ContractChanged,
    ContractPeriod,
    CustomerChanged,
    Envelope,
    EventType,
    Rollover,
    WorklogsChanged,
    new_event,
)
from burnrate_testing import EventProbe, Isolation, eventually, publish, serve

H = 3600
LINK_SECRET = "test-link-secret-0123456789abcdef"
MARCH = (dt.date(2026, 3, 1), dt.date(2026, 3, 31))
APRIL = (dt.date(2026, 4, 1), dt.date(2026, 4, 30))
MAY = (dt.date(2026, 5, 1), dt.date(2026, 5, 31))
#: the billing details of the rig's customer (as contracts' customer.* events carry them)
BUYER: dict[str, Any] = {
    "legal_name": "Acme Holding B.V.",
    "address_lines": ["Keizersgracht 1"],
    "city": "Amsterdam",
    "postcode": "1015 AA",
    "country": "NL",
    "vat_id": "NL123456789B01",
    "peppol_endpoint_id": "87654321",
    "peppol_scheme": "0106",
}
#: where the rig's clock stands unless a test moves it (mid-March in Amsterdam)
START = dt.datetime(2026, 3, 10, 11, 0, tzinfo=dt.UTC)
AFTER_MARCH = dt.datetime(2026, 4, 2, 9, 0, tzinfo=dt.UTC)


@dataclass
class Rig:
    api: httpx.AsyncClient
    probe: EventProbe
    isolation: Isolation
    clock: FixedClock
    customer_id: uuid.UUID = field(default_factory=uuid.uuid4)
    versions: dict[uuid.UUID, int] = field(default_factory=dict)

    async def publish(self, *envelopes: Envelope) -> None:
        await publish(self.isolation.amqp_url, self.isolation.amqp_prefix, *envelopes)

    async def add_customer(self, **billing: Any) -> None:
        """contracts' customer.created for the rig's customer, with these billing details
        (by default a Dutch buyer with a KvK Peppol endpoint); waits until billing has it."""
        details = BUYER | billing
        payload = CustomerChanged(id=self.customer_id, name="Acme", contacts=[], **details)
        await self.publish(
            new_event(
                EventType.CUSTOMER_CREATED, payload, key=self.customer_id, producer="contracts"
            )
        )
        pool = self.api.app.state.runtime.pool  # type: ignore[attr-defined]

        async def known() -> bool:
            async with pool.acquire() as conn:
                row = await conn.fetchrow(
                    "SELECT peppol_endpoint_id, country FROM customers WHERE id = $1",
                    self.customer_id,
                )
            return row is not None and tuple(row) == (
                details["peppol_endpoint_id"],
                details["country"],
            )

        await eventually(known)

    def contract_event(
        self,
        contract_id: uuid.UUID,
        *,
        billing: BillingTerms | None,
        planned_hours: int = 5,
        periods: tuple[tuple[dt.date, dt.date], ...] = (MARCH, APRIL, MAY),
        policy: str = "overage_allowed",
        rollover: Rollover | None = None,
        event_type: EventType = EventType.CONTRACT_CREATED,
    ) -> Envelope:
        payload = ContractChanged(
            id=contract_id,
            customer_id=self.customer_id,
            code=f"C-{contract_id.hex[:6]}",
            title="Acme support 2026",
            owner_email="owner@msp.example",
            start_date=periods[0][0],
            end_date=periods[-1][1],
            timezone="Europe/Amsterdam",
            period="monthly",
            planned_hours=Decimal(planned_hours),
            teams=["servicedesk", "field"],
            work_accounts=[],
            periods=[
                ContractPeriod(start_date=s, end_date=e, planned_seconds=planned_hours * H)
                for s, e in periods
            ],
            allowance_policy=policy,  # type: ignore[arg-type]
            rollover=rollover or Rollover(),
            billing=billing,
        )
        return new_event(event_type, payload, key=contract_id, producer="contracts")

    async def add_contract(self, **kwargs: Any) -> uuid.UUID:
        contract_id = uuid.uuid4()
        await self.publish(self.contract_event(contract_id, **kwargs))

        async def known() -> bool:
            return bool(await self.statements(contract_id))

        await eventually(known)
        return contract_id

    def worklog(
        self,
        contract_id: uuid.UUID,
        start: str,
        hours: float,
        *,
        worklog_id: uuid.UUID | None = None,
        author: str = "tech1",
        activity: str = "phone support",
        location: str | None = "service desk",
        ticket: str | None = "149",
        period_start: dt.date = MARCH[0],
    ) -> dict[str, Any]:
        worklog_id = worklog_id or uuid.uuid4()
        version = self.versions.get(worklog_id, 0) + 1
        self.versions[worklog_id] = version
        started = dt.datetime.fromisoformat(start)
        if started.tzinfo is None:
            from zoneinfo import ZoneInfo

            started = started.replace(tzinfo=ZoneInfo("Europe/Amsterdam"))
        return {
            "id": worklog_id,
            "source": "api",
            "external_id": worklog_id.hex,
            "contract_id": contract_id,
            "period_start": period_start,
            "author": author,
            "team": "servicedesk",
            "activity": activity,
            "location": location,
            "started_at": started,
            "seconds": round(hours * H),
            "outside_dates": False,
            "ticket": ticket,
            "version": version,
        }

    def worklogs_event(
        self,
        contract_id: uuid.UUID,
        *worklogs: dict[str, Any],
        event_type: EventType = EventType.WORKLOG_RECORDED,
    ) -> Envelope:
        payload = WorklogsChanged.model_validate(
            {"contract_id": contract_id, "worklogs": list(worklogs)}
        )
        return new_event(event_type, payload, key=contract_id, producer="worklog-ingest")

    async def statements(self, contract_id: uuid.UUID) -> list[dict[str, Any]]:
        response = await self.api.get("/v1/statements", params={"contract_id": str(contract_id)})
        assert response.status_code == 200, response.text
        return response.json()["items"]

    async def statement(self, contract_id: uuid.UUID, period: str = "2026-03") -> dict[str, Any]:
        response = await self.api.get(
            "/v1/statements", params={"contract_id": str(contract_id), "period": period}
        )
        [item] = response.json()["items"]
        full = await self.api.get(f"/v1/statements/{item['id']}")
        assert full.status_code == 200, full.text
        return full.json()

    async def settle(
        self, contract_id: uuid.UUID, hours: float, period: str = "2026-03"
    ) -> dict[str, Any]:
        """Wait until the statement's billable hours are ``hours``."""

        async def settled() -> dict[str, Any]:
            body = await self.statement(contract_id, period)
            fig = body["figures"]
            return body if fig and fig["billable_hours"] == pytest.approx(hours) else {}

        return await eventually(settled)


@pytest.fixture
def billing_settings(isolation: Isolation) -> BillingSettings:
    return isolation.settings(BillingSettings, report_link_secret=LINK_SECRET)


@pytest.fixture
async def rig(isolation: Isolation, probe: EventProbe, billing_settings: BillingSettings):
    await probe.start("statement.*", "invoice.*")
    clock = FixedClock(START)
    async with serve(build(billing_settings, clock=clock)) as client:
        yield Rig(client, probe, isolation, clock)
    # the shared plugin does not know billing's queues yet
    connection = await aio_pika.connect(isolation.amqp_url)
    async with connection:
        prefix = f"{isolation.amqp_prefix}.billing"
        for name in [prefix, f"{prefix}.dead", *(f"{prefix}.retry.{n}" for n in range(1, 21))]:
            channel = await connection.channel()
            with contextlib.suppress(Exception):
                await channel.queue_delete(name)
            with contextlib.suppress(Exception):
                await channel.close()
