"""A ticket's service-level stage announced by the tickets service (``sla.at_risk``,
``sla.breached``) becomes alerts: ``sla_at_risk`` and ``sla_breached`` rules, scoped and
addressed like every rule, each stage fired once per (rule, ticket, metric, cycle, stage)
by the key of ``sla_fired_stages`` — not once per contract period like the others.

The alert names the contract period the stage was reached in (by the contract's local
day), so its figures and the notifier's per-period bookkeeping have a period to refer to.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from burnrate_common import outbox
from burnrate_common.bus import RetryLater
from burnrate_common.db import Connection
from burnrate_common.event_payloads import SlaStageReached
from burnrate_common.events import Trigger

from burnrate_rules import store
from burnrate_rules.domain.evaluation import RuleSpec, Situation, SlaAnnouncement, due
from burnrate_rules.service import Deps
from burnrate_rules.service.evaluation import Candidate, Claim, Row, raise_alerts


class ContractNotKnown(RetryLater):
    """The ticket's contract is not replicated yet: the bus tries the event again later."""


async def record_sla_stage(
    conn: Connection,
    deps: Deps,
    stage: SlaStageReached,
    *,
    breached: bool,
    causation_id: uuid.UUID,
) -> None:
    """Raise the alerts of the rules that apply to the ticket's contract for this stage."""
    async with conn.transaction():
        contract = await store.contract_facts(conn, stage.contract_id)
        if contract is None:
            raise ContractNotKnown(f"contract {stage.contract_id} is not replicated yet")
        if contract["lifecycle"] != "active":
            return
        trigger = Trigger.SLA_BREACHED if breached else Trigger.SLA_AT_RISK
        rules = [
            r
            for r in await store.applicable_rules(conn, contract["id"], contract["customer_id"])
            if r["trigger"] == trigger.value
        ]
        if not rules:
            return
        day = _local_day(stage.reached_at, contract["timezone"])
        period: Row = await store.period_of_day(conn, contract["id"], day) or {
            "period_start": day,
            "period_end": day,
            "planned_seconds": 0,
            "executed_seconds": 0,
            "outside_dates_seconds": 0,
        }
        situation = Situation(
            planned_seconds=period["planned_seconds"],
            executed_seconds=period["executed_seconds"],
            period_start=period["period_start"],
            period_end=period["period_end"],
            contract_end=contract["end_date"],
            timezone=contract["timezone"],
            now=deps.clock.now(),
            sla=SlaAnnouncement(
                breached=breached,
                percent=stage.stage,
                ticket_id=stage.ticket_id,
                reference=stage.reference,
                metric=stage.metric,
                cycle=stage.cycle,
                priority=stage.priority,
                level=stage.level,
                target_minutes=stage.target_minutes,
                due_at=stage.due_at,
                expected_at=stage.expected_at,
            ),
        )
        fired = await store.sla_fired(
            conn, [r["id"] for r in rules], stage.ticket_id, stage.metric, stage.cycle
        )
        candidates = []
        for rule in rules:
            spec = RuleSpec(trigger, tuple(rule["stages"]))
            decision = due(spec, situation, fired.get(rule["id"], ()))
            if decision is not None:
                candidates.append(Candidate(rule, period, period["period_start"], decision))
        events = await raise_alerts(
            conn, contract, candidates, causation_id, _ticket_claim(conn, contract["id"], stage)
        )
        await outbox.add(conn, events)


def _local_day(at: dt.datetime, timezone: str) -> dt.date:
    """The day in the contract's zone; in UTC for a zone Python cannot load (the alert
    still goes out: its period is only its bookkeeping)."""
    try:
        zone: dt.tzinfo = ZoneInfo(timezone)
    except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
        zone = dt.UTC
    return at.astimezone(zone).date()


def _ticket_claim(conn: Connection, contract_id: uuid.UUID, stage: SlaStageReached) -> Claim:
    """Stages fired once per rule, ticket, metric and cycle (``sla_fired_stages``)."""

    async def claim(
        rows: Sequence[tuple[uuid.UUID, dt.date, str, uuid.UUID]],
    ) -> list[tuple[uuid.UUID, dt.date, str]]:
        keys = {rule_id: key for rule_id, key, _, _ in rows}
        inserted = await store.insert_sla_fired(
            conn,
            contract_id,
            stage.ticket_id,
            stage.metric,
            stage.cycle,
            [(rule_id, name, alert_id) for rule_id, _, name, alert_id in rows],
        )
        return [(r["rule_id"], keys[r["rule_id"]], r["stage"]) for r in inserted]

    return claim
