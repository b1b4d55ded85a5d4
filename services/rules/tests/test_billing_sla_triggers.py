"""The billing triggers (from billing's ``statement.*``) and the service-level triggers (from
the tickets service's ``sla.*``): the pure part, then through the real consumer."""

import asyncio
import datetime as dt
import uuid
from decimal import Decimal

import pytest
from burnrate_common.event_payloads import SlaStageReached, StatementChanged
from burnrate_common.events import EventType, Trigger, new_event
from burnrate_rules.domain import triggers as tr
from burnrate_rules.domain.evaluation import (
    RuleSpec,
    Situation,
    SlaAnnouncement,
    StatementFigures,
    due,
)
from burnrate_rules.domain.rules import default_stages, stages_problem
from burnrate_testing import eventually

from .conftest import FEB, JAN

H = 3600
UTC = dt.UTC


def situation(**overrides):
    values = dict(
        planned_seconds=5 * H,
        executed_seconds=0,
        period_start=dt.date(2026, 1, 1),
        period_end=dt.date(2026, 1, 31),
        contract_end=dt.date(2026, 12, 31),
        timezone="Europe/Amsterdam",
        now=dt.datetime(2026, 1, 15, 12, tzinfo=UTC),
    )
    return Situation(**(values | overrides))


def figures(**overrides):
    values = dict(
        currency="EUR",
        allowance_seconds=5 * H,
        in_allowance_seconds=5 * H,
        charged_seconds=H,
        charged_amount=Decimal("50.00"),
    )
    return StatementFigures(**(values | overrides))


def announcement(percent=75, *, breached=False, **overrides):
    values = dict(
        breached=breached,
        percent=percent,
        ticket_id=uuid.UUID(int=4711),
        reference="4711",
        metric="resolution",
        cycle=1,
        priority="P2",
        level="gold",
        target_minutes=240,
        due_at=dt.datetime(2026, 1, 15, 14, 30, tzinfo=UTC),
        expected_at=dt.datetime(2026, 1, 15, 15, 0, tzinfo=UTC),
    )
    return SlaAnnouncement(**(values | overrides))


# --- pure ------------------------------------------------------------------------------


def test_allowance_reached_needs_the_allowance_used_and_an_hour_charged():
    assert tr.allowance_reached(5 * H, 5 * H - 1, 0) == []
    assert tr.allowance_reached(5 * H, 5 * H, 0) == []  # used up exactly: nothing charged yet
    assert tr.allowance_reached(5 * H, 5 * H, 1) == ["allowance"]
    # a warn-only contract charges nothing beyond the allowance: no such warning
    assert tr.allowance_reached(5 * H, 5 * H, 0) == []
    # nothing planned: the first charged second is news
    assert tr.allowance_reached(0, 0, 60) == ["allowance"]


def test_budget_exceeded_forecast_is_strictly_above_the_budget():
    assert tr.budget_exceeded_forecast(Decimal("500.00"), Decimal("500")) == []
    assert tr.budget_exceeded_forecast(Decimal("500.01"), Decimal("500")) == ["budget"]
    assert tr.budget_exceeded_forecast(None, Decimal("500")) == []
    assert tr.budget_exceeded_forecast(Decimal("900"), None) == []


def test_billing_triggers_carry_the_statement_figures():
    rule = RuleSpec(Trigger.ALLOWANCE_REACHED, (0,))
    assert due(rule, situation(), set()) is None  # no statement known
    decision = due(rule, situation(statement=figures()), set())
    assert decision is not None
    assert (decision.stage, decision.trigger) == ("allowance", Trigger.ALLOWANCE_REACHED)
    facts = decision.facts
    assert (facts.currency, facts.charged_seconds, facts.charged_amount) == (
        "EUR",
        H,
        Decimal("50.00"),
    )
    assert facts.allowance_seconds == 5 * H
    assert due(rule, situation(statement=figures()), {"allowance"}) is None  # once per period

    budget = RuleSpec(Trigger.BUDGET_EXCEEDED_FORECAST, (0,))
    over = figures(forecast_amount=Decimal("750.00"), budget=Decimal("600.00"))
    decision = due(budget, situation(statement=over), set())
    assert decision is not None and decision.stage == "budget"
    assert (decision.facts.forecast_amount, decision.facts.budget) == (
        Decimal("750.00"),
        Decimal("600.00"),
    )
    assert due(budget, situation(statement=figures()), set()) is None


def test_sla_stages_are_percents_reached_by_the_announcement():
    at_risk = RuleSpec(Trigger.SLA_AT_RISK, (50, 75))
    assert due(at_risk, situation(sla=announcement(40)), set()) is None
    decision = due(at_risk, situation(sla=announcement(50)), set())
    assert decision is not None and decision.stages == ("50",)
    # one passed over (a downtime announces only the highest): caught up, once
    decision = due(at_risk, situation(sla=announcement(80)), set())
    assert decision is not None and (decision.stages, decision.stage) == (("50", "75"), "75")
    facts = decision.facts
    assert (facts.ticket_reference, facts.ticket_priority, facts.service_level) == (
        "4711",
        "P2",
        "gold",
    )
    assert (facts.sla_metric, facts.sla_cycle, facts.sla_target_minutes) == ("resolution", 1, 240)
    assert facts.sla_expected_at == dt.datetime(2026, 1, 15, 15, 0, tzinfo=UTC)
    assert due(at_risk, situation(sla=announcement(80)), {"50", "75"}) is None


def test_a_breach_is_no_at_risk_warning_and_the_other_way_round():
    at_risk = RuleSpec(Trigger.SLA_AT_RISK, (50,))
    breached = RuleSpec(Trigger.SLA_BREACHED, (100,))
    assert due(at_risk, situation(sla=announcement(100, breached=True)), set()) is None
    assert due(breached, situation(sla=announcement(75)), set()) is None
    decision = due(breached, situation(sla=announcement(100, breached=True)), set())
    assert decision is not None and decision.stage == "100"


def test_stage_specs_of_the_new_triggers():
    assert default_stages(Trigger.ALLOWANCE_REACHED) == (0,)
    assert default_stages(Trigger.BUDGET_EXCEEDED_FORECAST) == (0,)
    assert default_stages(Trigger.SLA_BREACHED) == (100,)
    assert default_stages(Trigger.SLA_AT_RISK) is None  # the percents are the rule's choice
    assert stages_problem(Trigger.SLA_AT_RISK, [50, 75]) is None
    assert "between 1 and 99" in stages_problem(Trigger.SLA_AT_RISK, [50, 100])
    assert "between 100 and 100" in stages_problem(Trigger.SLA_BREACHED, [90])
    assert "between 0 and 0" in stages_problem(Trigger.ALLOWANCE_REACHED, [1])


# --- through the consumer --------------------------------------------------------------


def statement_event(contract_id, customer_id, period=JAN, **overrides):
    values = dict(
        statement_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{contract_id}/{period[0]}"),
        contract_id=contract_id,
        customer_id=customer_id,
        period_start=period[0],
        period_end=period[1],
        status="draft",
        currency="EUR",
        allowance_seconds=5 * H,
        in_allowance_seconds=4 * H,
        charged_seconds=0,
        charged_amount=Decimal("0.00"),
        subtotal=Decimal("0.00"),
        vat=Decimal("0.00"),
        total=Decimal("0.00"),
    )
    payload = StatementChanged(**(values | overrides))
    return new_event(EventType.STATEMENT_UPDATED, payload, key=contract_id, producer="billing")


def sla_event(contract_id, customer_id, stage, *, ticket_id, cycle=1, metric="resolution"):
    payload = SlaStageReached(
        ticket_id=ticket_id,
        reference="4711",
        contract_id=contract_id,
        customer_id=customer_id,
        metric=metric,
        cycle=cycle,
        stage=stage,
        priority="P2",
        level="gold",
        target_minutes=240,
        due_at=dt.datetime(2026, 1, 15, 14, 30, tzinfo=UTC),
        expected_at=dt.datetime(2026, 1, 15, 15, 0, tzinfo=UTC) if stage < 100 else None,
        reached_at=dt.datetime(2026, 1, 15, 12, 30, tzinfo=UTC),
        timezone="Europe/Amsterdam",
    )
    event_type = EventType.SLA_BREACHED if stage == 100 else EventType.SLA_AT_RISK
    return new_event(event_type, payload, key=contract_id, producer="tickets")


async def create_rule(rig, **fields):
    """A rule of these triggers takes its default stages unless it names some."""
    return await rig.create_rule(**({"stages": None} | fields))


async def settled(rig, count, **params):
    """Wait until ``count`` alerts are listed, give the consumer time for more, list them."""

    async def enough():
        return len(await rig.alerts(**params)) >= count

    await eventually(enough)
    await asyncio.sleep(0.5)
    return await rig.alerts(**params)


@pytest.mark.integration
async def test_allowance_reached_fires_once_per_period_with_the_charged_hour(rig):
    contract_id = await rig.add_contract(planned_hours=5)
    await create_rule(
        rig, name="allowance", contract_id=str(contract_id), trigger="allowance_reached"
    )
    await rig.publish(statement_event(contract_id, rig.customer_id))  # 4 h of 5: nothing
    await asyncio.sleep(0.5)
    assert await rig.alerts(contract_id=contract_id) == []
    used = {"in_allowance_seconds": 5 * H, "charged_seconds": H, "charged_amount": "50.00"}
    await rig.publish(statement_event(contract_id, rig.customer_id, **used))
    # more hours charged, the statement sent: the same period, no second warning
    more = used | {"charged_seconds": 3 * H, "charged_amount": "150.00"}
    await rig.publish(statement_event(contract_id, rig.customer_id, **more))
    alerts = await settled(rig, 1, contract_id=contract_id)
    assert [
        (
            a["trigger"],
            a["stage"],
            a["currency"],
            a["charged_hours"],
            a["charged_amount"],
            a["period_start"],
        )
        for a in alerts
    ] == [("allowance_reached", "allowance", "EUR", 1.0, "50.00", "2026-01-01")]
    assert alerts[0]["allowance_hours"] == 5.0
    # the next period has its own
    await rig.publish(statement_event(contract_id, rig.customer_id, period=FEB, **more))
    alerts = await settled(rig, 2, contract_id=contract_id)
    assert [(a["period_start"], a["charged_hours"]) for a in alerts] == [
        ("2026-01-01", 1.0),
        ("2026-02-01", 3.0),
    ]

    async def both_published():
        return len(rig.probe.of_type(EventType.ALERT_RAISED)) == 2

    await eventually(both_published)
    events = rig.probe.of_type(EventType.ALERT_RAISED)
    assert (events[0].data["charged_seconds"], events[0].data["charged_amount"]) == (H, "50.00")


@pytest.mark.integration
async def test_an_older_statement_never_overwrites_a_newer_one(rig):
    contract_id = await rig.add_contract(planned_hours=5)
    rule = await create_rule(
        rig,
        name="allowance",
        contract_id=str(contract_id),
        trigger="allowance_reached",
        enabled=False,
    )
    stale = statement_event(contract_id, rig.customer_id)  # made first: 4 h of 5 used
    used = statement_event(
        contract_id,
        rig.customer_id,
        in_allowance_seconds=5 * H,
        charged_seconds=H,
        charged_amount="50.00",
    )
    await rig.publish(used, stale)  # the older one arrives last and changes nothing

    async def replica_holds_the_newer():
        preview = (await rig.api.post(f"/v1/rules/{rule['id']}/preview")).json()
        return [i["charged_amount"] for i in preview["items"]] == ["50.00"]

    await eventually(replica_holds_the_newer)
    await asyncio.sleep(0.5)
    assert await replica_holds_the_newer()


@pytest.mark.integration
async def test_a_statement_before_its_contract_is_evaluated_when_it_arrives(rig):
    contract_id = uuid.uuid4()
    await create_rule(rig, name="everyone's allowance", trigger="allowance_reached")
    used = {"in_allowance_seconds": 5 * H, "charged_seconds": 2 * H, "charged_amount": "100.00"}
    await rig.publish(statement_event(contract_id, rig.customer_id, **used))
    await asyncio.sleep(0.5)
    assert await rig.alerts(contract_id=contract_id) == []
    await rig.add_contract(contract_id=contract_id, planned_hours=5)
    alerts = await settled(rig, 1, contract_id=contract_id, trigger="allowance_reached")
    assert [(a["stage"], a["charged_hours"]) for a in alerts] == [("allowance", 2.0)]


@pytest.mark.integration
async def test_budget_exceeded_forecast_names_both_amounts(rig):
    contract_id = await rig.add_contract(planned_hours=5)
    await create_rule(
        rig, name="budget", customer_id=str(rig.customer_id), trigger="budget_exceeded_forecast"
    )
    within = {"forecast_amount": "450.00", "budget": "500.00"}
    await rig.publish(statement_event(contract_id, rig.customer_id, **within))
    over = {"forecast_amount": "725.50", "budget": "500.00"}
    await rig.publish(statement_event(contract_id, rig.customer_id, **over))
    await rig.publish(
        statement_event(contract_id, rig.customer_id, **over | {"forecast_amount": "800"})
    )
    alerts = await settled(rig, 1, contract_id=contract_id)
    assert [(a["stage"], a["forecast_amount"], a["budget"]) for a in alerts] == [
        ("budget", "725.50", "500.00")
    ]


@pytest.mark.integration
async def test_a_rule_made_after_the_allowance_was_used_hears_it_at_the_next_tick(rig):
    contract_id = await rig.add_contract(planned_hours=5)
    await rig.consume(contract_id, 6)
    used = {"in_allowance_seconds": 5 * H, "charged_seconds": H, "charged_amount": "50.00"}
    await rig.publish(statement_event(contract_id, rig.customer_id, **used))
    await asyncio.sleep(0.5)
    rule = await create_rule(
        rig, name="late", contract_id=str(contract_id), trigger="allowance_reached", enabled=False
    )
    preview = (await rig.api.post(f"/v1/rules/{rule['id']}/preview")).json()
    assert [(i["stage"], i["charged_amount"]) for i in preview["items"]] == [("allowance", "50.00")]
    await rig.api.patch(f"/v1/rules/{rule['id']}", json={"enabled": True})
    await rig.tick()
    assert [a["stage"] for a in await rig.alerts(contract_id=contract_id)] == ["allowance"]


@pytest.mark.integration
async def test_sla_stages_fire_once_per_ticket_metric_cycle_and_stage(rig):
    contract_id = await rig.add_contract()
    await create_rule(
        rig,
        name="at risk",
        contract_id=str(contract_id),
        trigger="sla_at_risk",
        stages=[50, 75],
        audience={"owner": False, "customer_contacts": True},
    )
    await create_rule(rig, name="breached", contract_id=str(contract_id), trigger="sla_breached")
    ticket, other = uuid.uuid4(), uuid.uuid4()
    c, k = contract_id, rig.customer_id
    await rig.publish(
        sla_event(c, k, 50, ticket_id=ticket),
        sla_event(c, k, 50, ticket_id=ticket),  # announced twice: one alert
        sla_event(c, k, 75, ticket_id=ticket),
        sla_event(c, k, 100, ticket_id=ticket),
        sla_event(c, k, 75, ticket_id=other),  # 50 passed over: both fire, one alert
        sla_event(c, k, 50, ticket_id=ticket, cycle=2),  # a new cycle has its own
        sla_event(c, k, 50, ticket_id=ticket, metric="first_response"),
    )
    alerts = await settled(rig, 6, contract_id=contract_id)
    seen = sorted(
        (a["ticket_id"] == str(ticket), a["sla_metric"], a["sla_cycle"], a["trigger"], a["stage"])
        for a in alerts
    )
    assert seen == sorted(
        [
            (True, "resolution", 1, "sla_at_risk", "50"),
            (True, "resolution", 1, "sla_at_risk", "75"),
            (True, "resolution", 1, "sla_breached", "100"),
            (False, "resolution", 1, "sla_at_risk", "75"),
            (True, "resolution", 2, "sla_at_risk", "50"),
            (True, "first_response", 1, "sla_at_risk", "50"),
        ]
    )
    first = next(a for a in alerts if a["stage"] == "75" and a["ticket_id"] == str(ticket))
    assert (
        first["ticket_reference"],
        first["ticket_priority"],
        first["service_level"],
        first["sla_target_minutes"],
        first["sla_due_at"],
        first["sla_expected_at"],
        first["period_start"],
    ) == ("4711", "P2", "gold", 240, "2026-01-15T14:30:00Z", "2026-01-15T15:00:00Z", "2026-01-01")
    totals = (await rig.api.get(f"/v1/contracts/{contract_id}/totals")).json()
    # per-ticket stages are not period stages: the period key stays as it was
    assert all(p["fired_stages"] == [] for p in totals["periods"])


@pytest.mark.integration
async def test_sla_stage_of_a_contract_not_known_yet_waits_for_it(rig):
    contract_id = uuid.uuid4()
    await create_rule(rig, name="everyone's breaches", trigger="sla_breached")
    await rig.publish(sla_event(contract_id, rig.customer_id, 100, ticket_id=uuid.uuid4()))
    await asyncio.sleep(0.3)
    await rig.add_contract(contract_id=contract_id)
    alerts = await settled(rig, 1, contract_id=contract_id)
    assert [a["stage"] for a in alerts] == ["100"]
