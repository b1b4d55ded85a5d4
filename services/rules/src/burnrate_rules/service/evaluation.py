"""From rules and the totals of one contract's periods to alerts: what is due (pure), then
fired once by the unique key and raised through the outbox, in the calling use case's
transaction.

Not use cases themselves: the steps the event use cases, the daily clock and the preview
share, so all three agree.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import asyncpg
from burnrate_common import outbox
from burnrate_common.db import Connection
from burnrate_common.events import AlertRaised, Audience, Envelope, EventType, Trigger, new_event

from burnrate_rules import store
from burnrate_rules.domain import stages
from burnrate_rules.domain.evaluation import (
    BILLING_TRIGGERS,
    CONSUMPTION_TRIGGERS,
    CURRENT_PERIOD_TRIGGERS,
    ENDED_PERIOD_TRIGGERS,
    Due,
    RuleSpec,
    Situation,
    StatementFigures,
    due,
    key_period,
)

PRODUCER = "rules"

#: "consumption": a delta or a changed plan, in the periods it touched;
#: "statement": billing's figures of one period changed;
#: "clock": the daily evaluation, in the period containing today and recently ended ones.
Mode = Literal["consumption", "statement", "clock"]

#: (rule id, key period, stage, alert id) rows to claim → the (rule id, key period, stage)
#: among them that were not fired before: the unique key that makes a stage fire once.
Claim = Callable[
    [Sequence[tuple[uuid.UUID, dt.date, str, uuid.UUID]]],
    Awaitable[list[tuple[uuid.UUID, dt.date, str]]],
]

#: A row by column name; asyncpg.Record is no Mapping (it iterates over its values).
Row = Mapping[str, Any] | asyncpg.Record


@dataclass(frozen=True)
class Candidate:
    """One rule with stages due in one period of one contract."""

    rule: Row
    period: Row
    #: the period its stages are fired once in (see ``key_period``)
    key_start: dt.date
    due: Due


def triggers_for(mode: Mode, period: Row, today: dt.date) -> frozenset[Trigger]:
    if mode == "consumption":
        # the statement figures held for the period are evaluated with it: a statement
        # that arrived before its contract or its consumption is not left unheard
        return CONSUMPTION_TRIGGERS | BILLING_TRIGGERS
    if mode == "statement":
        return BILLING_TRIGGERS
    if period["period_start"] <= today <= period["period_end"]:
        return CURRENT_PERIOD_TRIGGERS
    if period["period_end"] < today:
        return ENDED_PERIOD_TRIGGERS
    return frozenset()


def situation(contract: Row, period: Row, now: dt.datetime, min_elapsed: int) -> Situation:
    return Situation(
        planned_seconds=period["planned_seconds"],
        executed_seconds=period["executed_seconds"],
        period_start=period["period_start"],
        period_end=period["period_end"],
        contract_end=contract["end_date"],
        timezone=contract["timezone"],
        now=now,
        outside_dates_seconds=period["outside_dates_seconds"],
        forecast_min_elapsed_percent=min_elapsed,
        statement=statement_figures(period),
    )


def statement_figures(period: Row) -> StatementFigures | None:
    """The statement figures joined into a period row (``s_*`` columns), if any."""
    if period.get("s_currency") is None:
        return None
    return StatementFigures(
        currency=period["s_currency"],
        allowance_seconds=period["s_allowance_seconds"],
        in_allowance_seconds=period["s_in_allowance_seconds"],
        charged_seconds=period["s_charged_seconds"],
        charged_amount=period["s_charged_amount"],
        forecast_amount=period["s_forecast_amount"],
        budget=period["s_budget"],
    )


def key_periods(contract: Row, periods: Sequence[Row]) -> list[dt.date]:
    keys = {p["period_start"] for p in periods}
    if contract["final_period_start"] is not None:
        keys.add(contract["final_period_start"])
    return sorted(keys)


def plan(
    mode: Mode,
    contract: Row,
    periods: Sequence[Row],
    rules: Sequence[Row],
    now: dt.datetime,
    fired: Mapping[tuple[uuid.UUID, dt.date], Collection[str]],
    min_elapsed_percent: int,
) -> list[Candidate]:
    """What is due, without I/O: every (rule, period) whose trigger applies in ``mode``."""
    if contract["lifecycle"] != "active" or not periods:
        return []
    candidates = []
    for period in periods:
        s = situation(contract, period, now, min_elapsed_percent)
        applies = triggers_for(mode, period, s.today)
        for rule in rules:
            trigger = Trigger(rule["trigger"])
            if trigger not in applies:
                continue
            key = key_period(trigger, period["period_start"], contract["final_period_start"])
            spec = RuleSpec(trigger, tuple(rule["stages"]), rule["overage"])
            decision = due(spec, s, fired.get((rule["id"], key), ()))
            if decision is not None:
                candidates.append(Candidate(rule, period, key, decision))
    return candidates


async def evaluate(
    conn: Connection,
    mode: Mode,
    contract: Row,
    periods: Sequence[Row],
    now: dt.datetime,
    min_elapsed_percent: int,
    causation_id: uuid.UUID | None = None,
) -> list[Envelope]:
    """Fire what is due and raise one alert per rule and period (for the highest stage won).

    The events are added to the outbox in the caller's transaction and returned.
    """
    if contract["lifecycle"] != "active" or not periods:
        return []
    rules = await store.applicable_rules(conn, contract["id"], contract["customer_id"])
    if not rules:
        return []
    fired = await store.fired_stages(
        conn, contract["id"], key_periods(contract, periods), [r["id"] for r in rules]
    )
    candidates = plan(mode, contract, periods, rules, now, fired, min_elapsed_percent)
    events = await raise_alerts(conn, contract, candidates, causation_id)
    await outbox.add(conn, events)
    return events


def period_claim(conn: Connection, contract_id: uuid.UUID) -> Claim:
    """Stages fired once per rule and contract period (``fired_stages``)."""

    async def claim(
        rows: Sequence[tuple[uuid.UUID, dt.date, str, uuid.UUID]],
    ) -> list[tuple[uuid.UUID, dt.date, str]]:
        inserted = await store.insert_fired_stages(conn, contract_id, rows)
        return [(r["rule_id"], r["period_start"], r["stage"]) for r in inserted]

    return claim


async def raise_alerts(
    conn: Connection,
    contract: Row,
    candidates: Sequence[Candidate],
    causation_id: uuid.UUID | None,
    claim: Claim | None = None,
) -> list[Envelope]:
    """One alert per (rule, key period) for the highest stage it won; ``claim``: the key
    the stages are fired once by (default: per rule and contract period)."""
    if not candidates:
        return []
    claim = claim or period_claim(conn, contract["id"])
    by_key = {(c.rule["id"], c.key_start): (c, uuid.uuid4()) for c in candidates}
    rows = [
        (rule_id, key, stage, alert_id)
        for (rule_id, key), (c, alert_id) in by_key.items()
        for stage in c.due.stages
    ]
    # The unique key decides what is new, whatever was read before: a racing replica or
    # tick that fired a stage first wins it, and this alert names only what this one won.
    won: dict[tuple[uuid.UUID, dt.date], list[str]] = {}
    for rule_id, key_start, stage in await claim(rows):
        won.setdefault((rule_id, key_start), []).append(stage)
    alerts, events = [], []
    for key, (c, alert_id) in by_key.items():
        if key not in won:
            continue
        stage = stages.highest(won[key])
        alert = AlertRaised(
            alert_id=alert_id,
            rule_id=c.rule["id"],
            rule_name=c.rule["name"],
            contract_id=contract["id"],
            period_start=c.period["period_start"],
            period_end=c.period["period_end"],
            trigger=stages.alert_trigger(Trigger(c.rule["trigger"]), stage),
            stage=stage,
            planned_seconds=c.period["planned_seconds"],
            executed_seconds=c.period["executed_seconds"],
            audience=Audience.model_validate(c.rule["audience"]),
            customer_id=contract["customer_id"],
            **c.due.facts.model_dump(),
        )
        alerts.append(alert.model_dump(exclude={"rule_name", "audience"}))
        events.append(
            new_event(
                EventType.ALERT_RAISED,
                alert,
                key=contract["id"],
                producer=PRODUCER,
                causation_id=causation_id,
            )
        )
    await store.insert_alerts(conn, alerts)
    return events
