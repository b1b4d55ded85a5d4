"""A running rules service plus helpers to play other services' events at it."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import pytest
from burnrate_common.clock import FixedClock
from burnrate_common.events import (
    ConsumptionRecorded,
    ContractChanged,
    ContractPeriod,
    Envelope,
    EventType,
    new_event,
)
from burnrate_rules.bootstrap import build
from burnrate_rules.metrics import RulesMetrics
from burnrate_rules.service import clock
from burnrate_rules.settings import RulesSettings
from burnrate_testing import EventProbe, Isolation, eventually, publish, serve

H = 3600
JAN = (dt.date(2026, 1, 1), dt.date(2026, 1, 31))
FEB = (dt.date(2026, 2, 1), dt.date(2026, 2, 28))
MAR = (dt.date(2026, 3, 1), dt.date(2026, 3, 31))
#: where the rig's clock stands unless a test moves it (mid-January in Amsterdam)
START = dt.datetime(2026, 1, 15, 11, 0, tzinfo=dt.UTC)


def monthly(first: dt.date, last: dt.date) -> list[tuple[dt.date, dt.date]]:
    """Calendar months from the month of ``first`` to the month of ``last``."""
    periods, start = [], first.replace(day=1)
    while start <= last:
        following = (start + dt.timedelta(days=32)).replace(day=1)
        periods.append((start, min(following - dt.timedelta(days=1), last)))
        start = following
    return periods


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

    async def tick(self, at: dt.datetime | None = None) -> tuple[int, int]:
        """Move the clock (if given) and run the daily clock's tick once."""
        if at is not None:
            self.clock.set(at)
        metrics = RulesMetrics.of(self.runtime.metrics.registry)
        return await clock.tick(self.runtime.pool, self.runtime.deps, metrics)

    async def publish(self, *envelopes: Envelope) -> None:
        await publish(self.isolation.amqp_url, self.isolation.amqp_prefix, *envelopes)

    def contract_event(
        self,
        contract_id: uuid.UUID | None = None,
        *,
        planned_hours: int = 40,
        event_type: EventType = EventType.CONTRACT_CREATED,
        start_date: dt.date = JAN[0],
        end_date: dt.date = MAR[1],
        timezone: str = "Europe/Amsterdam",
        customer_id: uuid.UUID | None = None,
        lifecycle: str = "active",
    ) -> Envelope:
        contract_id = contract_id or uuid.uuid4()
        planned = planned_hours * H
        payload = ContractChanged(
            id=contract_id,
            customer_id=customer_id or self.customer_id,
            code=f"C-{contract_id.hex[:8]}",
            title="Acme support 2026",
            owner_email="owner@msp.example",
            start_date=start_date,
            end_date=end_date,
            timezone=timezone,
            period="monthly",
            planned_hours=Decimal(planned_hours),
            teams=["servicedesk", "field"],
            work_accounts=[],
            periods=[
                ContractPeriod(start_date=s, end_date=e, planned_seconds=planned)
                for s, e in monthly(start_date, end_date)
            ],
            lifecycle=lifecycle,  # type: ignore[arg-type]
        )
        return new_event(event_type, payload, key=contract_id, producer="contracts")

    async def add_contract(self, **kwargs: Any) -> uuid.UUID:
        event = self.contract_event(**kwargs)
        await self.publish(event)
        await eventually(lambda: self.known(event.data["id"]))
        return uuid.UUID(event.data["id"])

    async def known(self, contract_id: uuid.UUID | str) -> bool:
        response = await self.api.get(f"/v1/contracts/{contract_id}/totals")
        return response.status_code == 200 and response.json()["contract_known"]

    def consumption(
        self,
        contract_id: uuid.UUID,
        seconds: int,
        period: tuple[dt.date, dt.date] = JAN,
        team: str = "servicedesk",
        outside_seconds: int = 0,
    ) -> Envelope:
        payload = ConsumptionRecorded(
            delta_outside_dates_seconds=outside_seconds,
            contract_id=contract_id,
            period_start=period[0],
            period_end=period[1],
            team=team,
            activity="phone support",
            delta_seconds=seconds,
            delta_worklogs=1 if seconds > 0 else 0,
        )
        return new_event(
            EventType.CONSUMPTION_RECORDED, payload, key=contract_id, producer="worklog-ingest"
        )

    async def executed(
        self, contract_id: uuid.UUID, period: tuple[dt.date, dt.date] = JAN
    ) -> float:
        body = (await self.api.get(f"/v1/contracts/{contract_id}/totals")).json()
        return next(
            (
                p["executed_hours"]
                for p in body["periods"]
                if p["start_date"] == period[0].isoformat()
            ),
            0.0,
        )

    async def consume(
        self,
        contract_id: uuid.UUID,
        hours: float,
        period: tuple[dt.date, dt.date] = JAN,
        outside_hours: float = 0,
    ) -> Envelope:
        """Publish one delta and wait until the service has counted it."""
        before = await self.executed(contract_id, period)
        event = self.consumption(
            contract_id, round(hours * H), period, outside_seconds=round(outside_hours * H)
        )
        await self.publish(event)

        async def counted() -> bool:
            return await self.executed(contract_id, period) == pytest.approx(before + hours)

        await eventually(counted)
        return event

    async def create_rule(self, **overrides: Any) -> dict[str, Any]:
        body = {
            "name": "70/90 and overage",
            "contract_id": None,
            "trigger": "percent_consumed",
            "stages": [70, 90],
            "overage": overrides.get("trigger", "percent_consumed") == "percent_consumed",
            "audience": {"owner": True, "customer_contacts": True, "emails": []},
        } | overrides
        response = await self.api.post("/v1/rules", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    async def alerts(self, **params: Any) -> list[dict[str, Any]]:
        response = await self.api.get("/v1/alerts", params={k: str(v) for k, v in params.items()})
        assert response.status_code == 200, response.text
        return response.json()["items"]


@pytest.fixture
def rules_settings(isolation: Isolation) -> RulesSettings:
    # The background clock ticks once at start; tests tick it themselves (rig.tick). A
    # contract named but never sent is refused after half a second (5 s in production).
    return isolation.settings(RulesSettings, clock_interval_seconds=3600, contract_wait_seconds=0.5)


@pytest.fixture
async def rig(isolation: Isolation, probe: EventProbe, rules_settings: RulesSettings):
    await probe.start("alert.*")
    clock = FixedClock(START)
    async with serve(build(rules_settings, clock=clock)) as client:
        yield Rig(client, probe, isolation, clock)
