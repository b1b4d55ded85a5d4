"""Totals and alerts through the real consumer, PostgreSQL and RabbitMQ."""

import asyncio
import datetime as dt
import random
import uuid

import pytest
from burnrate_common.events import EventType
from burnrate_testing import eventually

H = 3600
FEB = (dt.date(2026, 2, 1), dt.date(2026, 2, 28))

pytestmark = pytest.mark.integration


def stages_of(alerts):
    return [(a["stage"], a["executed_hours"]) for a in alerts]


async def published_alerts(rig, count):
    """Wait for ``count`` alert.raised events from the outbox relay, then give it time for more."""
    await eventually(lambda: _at_least(rig, count))
    await asyncio.sleep(0.5)
    return rig.probe.of_type(EventType.ALERT_RAISED)


async def _at_least(rig, count):
    return len(rig.probe.of_type(EventType.ALERT_RAISED)) >= count


async def test_the_40_hour_month(rig):
    contract_id = await rig.add_contract(planned_hours=40)
    rule = await rig.create_rule(contract_id=str(contract_id))

    # (hours logged, total, alerts raised so far as (stage, executed hours))
    steps = [
        (8, 8, []),
        (8, 16, []),
        (8, 24, []),
        (4, 28, [("70", 28.0)]),
        (4, 32, [("70", 28.0)]),
        (4, 36, [("70", 28.0), ("90", 36.0)]),
        (3, 39, [("70", 28.0), ("90", 36.0)]),
        (1, 40, [("70", 28.0), ("90", 36.0)]),
        (2, 42, [("70", 28.0), ("90", 36.0), ("overage", 42.0)]),
        (18, 60, [("70", 28.0), ("90", 36.0), ("overage", 42.0)]),
    ]
    causes = {}
    for hours, total, expected in steps:
        event = await rig.consume(contract_id, hours)
        assert await rig.executed(contract_id) == total
        alerts = await rig.alerts(contract_id=contract_id)
        assert stages_of(alerts) == expected, f"after {total} h"
        causes.setdefault(len(alerts), event.id)

    events = await published_alerts(rig, 3)
    assert [(e.data["stage"], e.data["trigger"], e.data["executed_seconds"]) for e in events] == [
        ("70", "percent_consumed", 28 * H),
        ("90", "percent_consumed", 36 * H),
        ("overage", "overage", 42 * H),
    ]
    alerts = await rig.alerts(contract_id=contract_id)
    assert [e.data["alert_id"] for e in events] == [a["alert_id"] for a in alerts]
    first = events[0]
    assert first.key == str(contract_id) and first.producer == "rules"
    assert first.causation_id == str(causes[1])
    assert first.data | {"alert_id": None} == {
        "alert_id": None,
        "rule_id": rule["id"],
        "rule_name": "70/90 and overage",
        "contract_id": str(contract_id),
        "period_start": "2026-01-01",
        "period_end": "2026-01-31",
        "trigger": "percent_consumed",
        "stage": "70",
        "planned_seconds": 40 * H,
        "executed_seconds": 28 * H,
        "audience": {
            "owner": True,
            "teams": False,
            "customer_contacts": True,
            "emails": [],
            "webhook_url": None,
            "include_internal": False,
        },
        "customer_id": str(rig.customer_id),
        "days_before_end": None,
        "forecast_seconds": None,
        "forecast_exhaustion_date": None,
        "unused_seconds": None,
        "outside_dates_seconds": None,
        # the billing and service-level facts (events.AlertFacts): none for an hours trigger
        "currency": None,
        "allowance_seconds": None,
        "charged_seconds": None,
        "charged_amount": None,
        "forecast_amount": None,
        "budget": None,
        "ticket_id": None,
        "ticket_reference": None,
        "ticket_priority": None,
        "service_level": None,
        "sla_metric": None,
        "sla_target_minutes": None,
        "sla_due_at": None,
        "sla_expected_at": None,
        "sla_cycle": None,
    }
    assert alerts[2] | {"alert_id": None, "raised_at": None} == {
        "alert_id": None,
        "raised_at": None,
        "rule_id": rule["id"],
        "rule_name": "70/90 and overage",
        "contract_id": str(contract_id),
        "period_start": "2026-01-01",
        "period_end": "2026-01-31",
        "customer_id": str(rig.customer_id),
        "stage": "overage",
        "trigger": "overage",
        "planned_hours": 40.0,
        "executed_hours": 42.0,
        "days_before_end": None,
        "forecast_hours": None,
        "forecast_exhaustion_date": None,
        "unused_hours": None,
        "outside_dates_hours": None,
        # the billing and service-level facts: none for an hours trigger
        "currency": None,
        "allowance_hours": None,
        "charged_hours": None,
        "charged_amount": None,
        "forecast_amount": None,
        "budget": None,
        "ticket_id": None,
        "ticket_reference": None,
        "ticket_priority": None,
        "service_level": None,
        "sla_metric": None,
        "sla_cycle": None,
        "sla_target_minutes": None,
        "sla_due_at": None,
        "sla_expected_at": None,
    }

    totals = (await rig.api.get(f"/v1/contracts/{contract_id}/totals")).json()
    january = totals["periods"][0]
    assert {
        k: january[k] for k in ("start_date", "end_date", "planned_hours", "executed_hours")
    } == {
        "start_date": "2026-01-01",
        "end_date": "2026-01-31",
        "planned_hours": 40.0,
        "executed_hours": 60.0,
    }
    assert [f["stage"] for f in january["fired_stages"]] == ["70", "90", "overage"]
    assert [p["executed_hours"] for p in totals["periods"]] == [60.0, 0.0, 0.0]


async def test_one_worklog_from_65_to_95_percent_raises_one_alert_for_90(rig):
    contract_id = await rig.add_contract(planned_hours=40)
    await rig.create_rule(contract_id=str(contract_id))
    await rig.consume(contract_id, 26)
    assert await rig.alerts() == []

    await rig.consume(contract_id, 12)

    alerts = await rig.alerts()
    assert stages_of(alerts) == [("90", 38.0)]
    january = (await rig.api.get(f"/v1/contracts/{contract_id}/totals")).json()["periods"][0]
    fired = [(f["stage"], f["alert_id"]) for f in january["fired_stages"]]
    assert fired == [("70", alerts[0]["alert_id"]), ("90", alerts[0]["alert_id"])]
    events = await published_alerts(rig, 1)
    assert [(e.data["stage"], e.data["executed_seconds"]) for e in events] == [("90", 38 * H)]


async def test_a_correction_below_a_stage_and_back_does_not_fire_again_but_a_new_period_does(rig):
    contract_id = await rig.add_contract(planned_hours=40)
    await rig.create_rule(contract_id=str(contract_id), overage=False)
    await rig.consume(contract_id, 26)
    await rig.consume(contract_id, 3)  # a 3 h worklog: 29 h, 72.5 %
    assert stages_of(await rig.alerts()) == [("70", 29.0)]

    await rig.consume(contract_id, -2)  # edited to 1 h: 27 h, 67.5 %
    await rig.consume(contract_id, 2)  # and back to 3 h
    assert await rig.executed(contract_id) == 29.0
    assert stages_of(await rig.alerts()) == [("70", 29.0)]

    await rig.consume(contract_id, 30, FEB)
    alerts = await rig.alerts()
    assert [(a["period_start"], a["stage"]) for a in alerts] == [
        ("2026-01-01", "70"),
        ("2026-02-01", "70"),
    ]
    events = await published_alerts(rig, 2)
    assert [(e.data["period_start"], e.data["executed_seconds"]) for e in events] == [
        ("2026-01-01", 29 * H),
        ("2026-02-01", 30 * H),
    ]


async def test_the_same_event_delivered_twice_counts_once(rig):
    contract_id = await rig.add_contract(planned_hours=40)
    await rig.create_rule(contract_id=str(contract_id))
    event = rig.consumption(contract_id, 30 * H)
    await rig.publish(event, event)

    async def both_handled():
        metrics = (await rig.api.get("/metrics")).text
        return (
            'burnrate_rules_messages_consumed_total{status="duplicate",type="consumption.recorded"} 1.0'
            in metrics
        )

    await eventually(both_handled)
    assert await rig.executed(contract_id) == 30.0
    assert stages_of(await rig.alerts()) == [("70", 30.0)]


async def test_concurrent_deltas_give_the_exact_total_and_fire_each_stage_once(rig):
    settings = rig.api.app.state.runtime.settings
    assert settings.consumer_prefetch >= 64 and settings.db_pool_max_size >= 4
    with_rule = await rig.add_contract(planned_hours=40)
    plain = await rig.add_contract(planned_hours=40)
    await rig.create_rule(contract_id=str(with_rule))
    # 100 half-hours at once: the row lock serializes them, so every stage fires exactly at
    # its crossing whatever order they are processed in.
    half_hours = [rig.consumption(with_rule, H // 2) for _ in range(100)]
    rng = random.Random(7)
    signed = [rng.choice([H, 2 * H, -H // 4, 90]) for _ in range(120)]
    mixed = [rig.consumption(plain, s, team=rng.choice(["a", "b"])) for s in signed]
    events = half_hours + mixed
    rng.shuffle(events)
    await rig.publish(*events)

    async def all_counted():
        return await rig.executed(with_rule) == 50.0 and await rig.executed(plain) == pytest.approx(
            sum(signed) / H, abs=0.005
        )

    await eventually(all_counted, timeout=30)
    async with rig.api.app.state.runtime.pool.acquire() as conn:
        exact = await conn.fetchval(
            "SELECT executed_seconds FROM period_totals WHERE contract_id = $1", plain
        )
    assert exact == sum(signed)
    assert stages_of(await rig.alerts(contract_id=with_rule)) == [
        ("70", 28.0),
        ("90", 36.0),
        ("overage", 40.5),
    ]
    assert await rig.alerts(contract_id=plain) == []
    assert len(await published_alerts(rig, 3)) == 3


async def test_consumption_before_its_contract_is_kept_and_evaluated_when_it_arrives(rig):
    rule = await rig.create_rule(overage=False)  # every contract
    contract_event = rig.contract_event(planned_hours=40)
    contract_id = uuid.UUID(contract_event.data["id"])
    await rig.publish(rig.consumption(contract_id, 30 * H))

    async def pending():
        body = (await rig.api.get(f"/v1/contracts/{contract_id}/totals")).json()
        return body.get("periods") and body

    body = await eventually(pending)
    assert body["contract_known"] is False
    assert body["periods"] == [
        {
            "start_date": "2026-01-01",
            "end_date": "2026-01-31",
            "planned_hours": None,
            "executed_hours": 30.0,
            "fired_stages": [],
        }
    ]
    assert await rig.alerts() == []

    await rig.publish(contract_event)
    await eventually(lambda: rig.alerts())
    assert stages_of(await rig.alerts()) == [("70", 30.0)]

    # The plan shrinks to 32 h: 30 h is now 93.75 %, so 90 fires on the contract update.
    updated = rig.contract_event(
        contract_id, planned_hours=32, event_type=EventType.CONTRACT_UPDATED
    )
    await rig.publish(updated)
    await eventually(lambda: _count(rig, 2))
    alerts = await rig.alerts(rule_id=rule["id"])
    assert [(a["stage"], a["planned_hours"], a["executed_hours"]) for a in alerts] == [
        ("70", 40.0, 30.0),
        ("90", 32.0, 30.0),
    ]

    # A stale update (older than the state held) is ignored: the plan stays 32 h.
    stale = rig.contract_event(contract_id, planned_hours=10, event_type=EventType.CONTRACT_UPDATED)
    stale = stale.model_copy(update={"occurred_at": stale.occurred_at - dt.timedelta(hours=1)})
    marker = rig.consumption(contract_id, H)
    await rig.publish(stale, marker)
    await eventually(lambda: _executed_is(rig, contract_id, 31.0))
    await asyncio.sleep(0.3)
    january = (await rig.api.get(f"/v1/contracts/{contract_id}/totals")).json()["periods"][0]
    assert january["planned_hours"] == 32.0
    assert len(await rig.alerts()) == 2


async def _count(rig, n):
    return len(await rig.alerts()) == n


async def _executed_is(rig, contract_id, hours):
    return await rig.executed(contract_id) == hours


async def test_global_and_contract_rules_apply_where_they_should_and_disabled_ones_never(rig):
    a = await rig.add_contract(planned_hours=40)
    b = await rig.add_contract(planned_hours=40)
    everywhere = await rig.create_rule(name="half", stages=[50], overage=False)
    only_a = await rig.create_rule(name="a-only", contract_id=str(a), stages=[70])
    await rig.create_rule(name="off", contract_id=str(a), stages=[10], enabled=False)

    await rig.consume(b, 30)
    assert [(x["rule_name"], x["contract_id"]) for x in await rig.alerts()] == [("half", str(b))]

    await rig.consume(a, 30)  # one event, two rules: one alert each
    on_a = await rig.alerts(contract_id=a)
    assert sorted((x["rule_name"], x["stage"]) for x in on_a) == [("a-only", "70"), ("half", "50")]
    assert len(await rig.alerts(rule_id=everywhere["id"])) == 2
    assert [x["contract_id"] for x in await rig.alerts(rule_id=only_a["id"])] == [str(a)]

    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await rig.api.get("/v1/alerts", params=params)).json()
        seen += [x["alert_id"] for x in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert len(seen) == len(set(seen)) == 3
    assert len(await published_alerts(rig, 3)) == 3
