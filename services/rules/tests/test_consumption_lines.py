"""``consumption.recorded`` version 2: one event per contract period and request, its lines
(team, activity, author) added as one delta and the period evaluated once."""

from __future__ import annotations

import asyncio

import pytest
from burnrate_common.events import (
    ConsumptionLine,
    EventType,
    PeriodConsumptionRecorded,
    new_event,
)
from burnrate_testing import eventually

from .conftest import JAN, H

pytestmark = pytest.mark.integration


def batch(contract_id, *lines):
    """One v2 event of (team, author, hours) lines in January."""
    payload = PeriodConsumptionRecorded(
        contract_id=contract_id,
        period_start=JAN[0],
        period_end=JAN[1],
        lines=[
            ConsumptionLine(
                team=team,
                activity="phone support",
                author=author,
                delta_seconds=round(hours * H),
                delta_worklogs=1,
            )
            for team, author, hours in lines
        ],
    )
    return new_event(
        EventType.CONSUMPTION_RECORDED, payload, key=contract_id, producer="worklog-ingest"
    )


async def test_a_batch_crossing_two_stages_raises_one_alert_for_the_highest(rig):
    contract_id = await rig.add_contract(planned_hours=40)
    await rig.create_rule(contract_id=str(contract_id))
    await rig.consume(contract_id, 20)  # 50 %

    # 50 % → 95 % in one request, spread over teams and people: one alert, for 90 %.
    event = batch(
        contract_id,
        ("servicedesk", "tech1", 6),
        ("field", "tech2", 6),
        ("servicedesk", "tech3", 6),
    )
    await rig.publish(event)

    async def counted():
        return await rig.executed(contract_id) == pytest.approx(38)

    await eventually(counted)
    await eventually(lambda: _alerts_published(rig, 1))
    await asyncio.sleep(0.5)
    alerts = await rig.alerts()
    assert [(a["stage"], a["executed_hours"]) for a in alerts] == [("90", 38.0)]
    assert len(rig.probe.of_type(EventType.ALERT_RAISED)) == 1

    # The same event again (a redelivery) and a batch that nets out change nothing.
    await rig.publish(event, batch(contract_id, ("field", "tech2", 1), ("field", "tech4", -1)))
    await asyncio.sleep(1.0)
    assert await rig.executed(contract_id) == pytest.approx(38)
    assert len(await rig.alerts()) == 1


async def _alerts_published(rig, count):
    return len(rig.probe.of_type(EventType.ALERT_RAISED)) >= count
