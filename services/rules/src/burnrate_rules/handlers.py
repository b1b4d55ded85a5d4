"""Events in → effects. Each handler runs in the consumer's transaction with the inbox row.

A consumption delta for a contract not in the replica yet is kept (its total is stored) and
evaluated when the contract arrives, so nothing waits in retry queues or dead-letters because
two producers' events crossed on the bus.
"""

from __future__ import annotations

import uuid

import asyncpg
from burnrate_common import outbox
from burnrate_common.events import (
    AlertRaised,
    Audience,
    ConsumptionRecorded,
    ContractChanged,
    Envelope,
    EventType,
    Payload,
    new_event,
)

from burnrate_rules import store
from burnrate_rules.domain import stages
from burnrate_rules.domain.evaluation import PeriodState, RuleSpec, due_stages
from burnrate_rules.domain.rules import Trigger

PRODUCER = "rules"


async def on_contract_changed(
    conn: asyncpg.Connection, envelope: Envelope, payload: Payload
) -> None:
    assert isinstance(payload, ContractChanged)
    if not await store.upsert_contract(conn, payload, envelope.occurred_at):
        return  # an older state than the one held: a newer event already passed
    await store.replace_periods(conn, payload)
    # Totals that arrived before the contract, or a plan that changed: evaluate them now.
    await _evaluate(conn, envelope, payload.id, await store.lock_periods(conn, payload.id))


async def on_consumption_recorded(
    conn: asyncpg.Connection, envelope: Envelope, payload: Payload
) -> None:
    assert isinstance(payload, ConsumptionRecorded)
    await store.add_consumption(
        conn, payload.contract_id, payload.period_start, payload.period_end, payload.delta_seconds
    )
    periods = await store.lock_periods(conn, payload.contract_id, payload.period_start)
    await _evaluate(conn, envelope, payload.contract_id, periods)


async def _evaluate(
    conn: asyncpg.Connection,
    envelope: Envelope,
    contract_id: uuid.UUID,
    periods: list[asyncpg.Record],
) -> None:
    """Fire the due stages of every applicable rule; one alert per rule for the highest."""
    if not periods:
        return
    rules = await store.applicable_rules(conn, contract_id)
    if not rules:
        return
    events = []
    for period in periods:
        state = PeriodState(period["planned_seconds"], period["executed_seconds"])
        fired = await store.fired_stages(
            conn, contract_id, period["period_start"], [r["id"] for r in rules]
        )
        candidates: list[tuple[uuid.UUID, str, uuid.UUID]] = []
        for rule in rules:
            spec = RuleSpec(Trigger(rule["trigger"]), tuple(rule["stages"]), rule["overage"])
            alert_id = uuid.uuid4()
            for stage in due_stages(spec, state, fired.get(rule["id"], set())):
                candidates.append((rule["id"], stage, alert_id))
        if not candidates:
            continue
        # The unique key decides what is new, whatever was read above.
        inserted = await store.insert_fired_stages(
            conn, contract_id, period["period_start"], candidates
        )
        for rule in rules:
            won = [r for r in inserted if r["rule_id"] == rule["id"]]
            if not won:
                continue
            stage = stages.highest(r["stage"] for r in won)
            alert = AlertRaised(
                alert_id=won[0]["alert_id"],
                rule_id=rule["id"],
                rule_name=rule["name"],
                contract_id=contract_id,
                period_start=period["period_start"],
                period_end=period["period_end"],
                trigger=stages.alert_trigger(Trigger(rule["trigger"]), stage),
                stage=stage,
                planned_seconds=state.planned_seconds,
                executed_seconds=state.executed_seconds,
                audience=Audience.model_validate(rule["audience"]),
            )
            await store.insert_alert(conn, alert.model_dump(exclude={"rule_name", "audience"}))
            events.append(
                new_event(
                    EventType.ALERT_RAISED,
                    alert,
                    key=contract_id,
                    producer=PRODUCER,
                    causation_id=envelope.id,
                )
            )
    await outbox.add(conn, events)
