"""A running tickets service, with helpers to play the contracts service's events at it."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import aio_pika
import httpx
import pytest
from burnrate_common.clock import FixedClock
from burnrate_common.contract_terms import Calendar, ServiceLevelTerms, Target, WorkingHours
from burnrate_common.events import ContractChanged, Envelope, EventType, new_event
from burnrate_testing import EventProbe, Isolation, eventually, publish, serve
from burnrate_tickets.bootstrap import build
from burnrate_tickets.service import stages
from burnrate_tickets.settings import TicketsSettings

AMS = ZoneInfo("Europe/Amsterdam")
H = 60
#: a Monday in March, 09:00 in Amsterdam
START = dt.datetime(2026, 3, 16, 9, 0, tzinfo=AMS).astimezone(dt.UTC)
JSM_SECRET = "jsm-test-secret"
ZENDESK_SECRET = "zendesk-test-secret"


def ams(*args: int, fold: int = 0) -> dt.datetime:
    return dt.datetime(*args, tzinfo=AMS, fold=fold).astimezone(dt.UTC)  # type: ignore[misc,arg-type]


OFFICE = Calendar(
    name="office hours",
    timezone="Europe/Amsterdam",
    hours=[WorkingHours(weekday=d, start=dt.time(8), end=dt.time(18)) for d in range(1, 6)],
    holiday_country="NL",
)


def gold(**kwargs: Any) -> ServiceLevelTerms:
    targets = [
        Target(metric="first_response", priority="P1", minutes=15, calendar="24x7"),
        Target(metric="resolution", priority="P1", minutes=60, calendar="24x7"),
        Target(metric="first_response", priority="P2", minutes=1 * H),
        Target(metric="resolution", priority="P2", minutes=4 * H),
        Target(metric="first_response", priority="P3", minutes=4 * H),
        Target(metric="resolution", priority="P3", minutes=30 * H),
        Target(metric="resolution", category="e-mail outage", minutes=4 * H, calendar="24x7"),
    ]
    data = {
        "level": "gold",
        "effective_from": dt.date(2026, 1, 1),
        "targets": targets,
        "calendar": OFFICE,
    } | kwargs
    return ServiceLevelTerms.model_validate(data)


@dataclass
class Rig:
    api: httpx.AsyncClient
    probe: EventProbe
    isolation: Isolation
    clock: FixedClock
    customer_id: uuid.UUID = field(default_factory=uuid.uuid4)

    @property
    def runtime(self) -> Any:
        return self.api.app.state.runtime  # type: ignore[attr-defined]

    async def tick(self, at: dt.datetime | None = None) -> int:
        """Move the clock (if given) and run one round of the stage timer."""
        if at is not None:
            self.clock.set(at)
        return await stages.tick(self.runtime.pool, self.runtime.deps)

    async def publish(self, *envelopes: Envelope) -> None:
        await publish(self.isolation.amqp_url, self.isolation.amqp_prefix, *envelopes)

    def contract_event(
        self,
        contract_id: uuid.UUID | None = None,
        *,
        levels: list[ServiceLevelTerms] | None = None,
        customer_id: uuid.UUID | None = None,
        jira_project_keys: list[str] | None = None,
        event_type: EventType = EventType.CONTRACT_CREATED,
    ) -> Envelope:
        contract_id = contract_id or uuid.uuid4()
        payload = ContractChanged(
            id=contract_id,
            customer_id=customer_id or self.customer_id,
            code=f"C-{contract_id.hex[:8]}",
            title="Acme support 2026",
            owner_email="owner@msp.example",
            start_date=dt.date(2026, 1, 1),
            end_date=dt.date(2026, 12, 31),
            timezone="Europe/Amsterdam",
            period="monthly",
            planned_hours=Decimal(40),
            teams=["servicedesk"],
            work_accounts=[],
            periods=[],
            jira_project_keys=jira_project_keys or [],
            service_levels=[gold()] if levels is None else levels,
        )
        return new_event(event_type, payload, key=contract_id, producer="contracts")

    async def add_contract(self, **kwargs: Any) -> uuid.UUID:
        event = self.contract_event(**kwargs)
        await self.publish(event)
        contract_id = uuid.UUID(event.data["id"])

        async def known() -> bool:
            response = await self.api.get(
                "/v1/service-levels/due", params={"contract_id": str(contract_id), "priority": "P1"}
            )
            return response.status_code == 200

        await eventually(known)
        return contract_id

    async def open(self, contract_id: uuid.UUID | None = None, **body: Any) -> dict[str, Any]:
        data = {
            "reference": f"T-{uuid.uuid4().hex[:6]}",
            "priority": "P2",
            "opened_at": self.clock.now().isoformat(),
        } | body
        if contract_id is not None:
            data["contract_id"] = str(contract_id)
        response = await self.api.post("/v1/tickets", json=data)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    async def post(self, ticket_id: str, what: str, **body: Any) -> dict[str, Any]:
        if "at" in body and isinstance(body["at"], dt.datetime):
            body["at"] = body["at"].isoformat()
        response = await self.api.post(f"/v1/tickets/{ticket_id}/{what}", json=body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def sla(self, ticket_id: str) -> dict[str, Any]:
        response = await self.api.get(f"/v1/tickets/{ticket_id}/sla")
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def stage_events(self, ticket_id: str) -> list[tuple[str, str, int, int]]:
        return sorted(
            (e.type.value, e.data["metric"], e.data["cycle"], e.data["stage"])
            for e in self.probe.events
            if e.type.value.startswith("sla.") and e.data["ticket_id"] == ticket_id
        )


@pytest.fixture
def tickets_settings(isolation: Isolation) -> TicketsSettings:
    # The background timer runs a round at start; tests run rounds themselves (rig.tick).
    settings: TicketsSettings = isolation.settings(
        TicketsSettings,
        timer_interval_seconds=3600,
        jsm_webhook_secret=JSM_SECRET,
        zendesk_webhook_secret=ZENDESK_SECRET,
        report_link_secret="test-link-secret",
    )
    return settings


async def _delete_queues(amqp_url: str, prefix: str) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        names = [f"{prefix}.tickets", f"{prefix}.tickets.dead"]
        names += [f"{prefix}.tickets.retry.{n}" for n in range(1, 21)]
        for name in names:
            channel = await connection.channel()
            with contextlib.suppress(Exception):
                await channel.queue_delete(name)
            with contextlib.suppress(Exception):
                await channel.close()


@pytest.fixture
async def rig(isolation: Isolation, probe: EventProbe, tickets_settings: TicketsSettings):  # type: ignore[no-untyped-def]
    await probe.start("sla.*", "ticket.*")
    clock = FixedClock(START)
    try:
        async with serve(build(tickets_settings, clock=clock)) as client:
            yield Rig(client, probe, isolation, clock)
    finally:
        await _delete_queues(isolation.amqp_url, isolation.amqp_prefix)
