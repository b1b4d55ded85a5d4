"""Which stages of a rule are due for one contract period: the one entry point per trigger."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import Decimal
from typing import assert_never
from zoneinfo import ZoneInfo

from burnrate_common.events import AlertFacts, Trigger

from burnrate_rules.domain import stages as st
from burnrate_rules.domain import triggers as tr

#: what a consumption delta (or a changed plan) can make due, in the period it touches
CONSUMPTION_TRIGGERS = frozenset(
    {
        Trigger.PERCENT_CONSUMED,
        Trigger.HOURS_REMAINING,
        Trigger.OVERAGE,
        Trigger.FORECAST_OVER_PLAN,
        Trigger.WORKLOG_OUTSIDE_DATES,
    }
)
#: what a period's statement (billing's figures, replicated from ``statement.*``) can make
#: due; evaluated whenever the period is, from the statement last received
BILLING_TRIGGERS = frozenset({Trigger.ALLOWANCE_REACHED, Trigger.BUDGET_EXCEEDED_FORECAST})
#: what a ticket's announced stage (``sla.at_risk`` / ``sla.breached``) can make due: fired
#: once per ticket, metric, cycle and stage, not per period
SLA_TRIGGERS = frozenset({Trigger.SLA_AT_RISK, Trigger.SLA_BREACHED})
#: what the daily clock evaluates in the period containing today
CURRENT_PERIOD_TRIGGERS = CONSUMPTION_TRIGGERS | BILLING_TRIGGERS | {Trigger.DAYS_BEFORE_END}
#: what the daily clock evaluates in periods that ended (within the catch-up window)
ENDED_PERIOD_TRIGGERS = frozenset({Trigger.PERIOD_UNUSED})


@dataclass(frozen=True)
class RuleSpec:
    trigger: Trigger
    stages: tuple[int, ...]
    overage: bool = False


@dataclass(frozen=True)
class StatementFigures:
    """The figures of a period's statement as billing last published them."""

    currency: str
    allowance_seconds: int
    in_allowance_seconds: int
    charged_seconds: int
    charged_amount: Decimal
    forecast_amount: Decimal | None = None
    budget: Decimal | None = None


@dataclass(frozen=True)
class SlaAnnouncement:
    """One stage of one ticket's target, as the tickets service announced it."""

    breached: bool
    #: percent of the target elapsed (100: breached)
    percent: int
    ticket_id: uuid.UUID
    reference: str
    metric: str
    cycle: int
    priority: str
    level: str
    target_minutes: int
    due_at: dt.datetime
    expected_at: dt.datetime | None = None


@dataclass(frozen=True)
class Situation:
    """What is known of one contract period at one instant."""

    planned_seconds: int
    executed_seconds: int
    period_start: dt.date
    period_end: dt.date
    contract_end: dt.date
    timezone: str
    now: dt.datetime
    outside_dates_seconds: int = 0
    forecast_min_elapsed_percent: int = 0
    #: the period's statement (None: billing published none, or the contract is not billed)
    statement: StatementFigures | None = None
    #: the ticket stage being evaluated (SLA triggers only)
    sla: SlaAnnouncement | None = None

    @property
    def today(self) -> dt.date:
        """The calendar day in the contract's time zone."""
        return self.now.astimezone(ZoneInfo(self.timezone)).date()


@dataclass(frozen=True)
class Due:
    #: every stage reached and not fired yet, in firing order
    stages: tuple[str, ...]
    #: the one the alert names: the highest of them
    stage: str
    trigger: Trigger
    #: what the alert says besides its stage (only the fields of its trigger are set)
    facts: AlertFacts = field(default_factory=AlertFacts)


def reached(rule: RuleSpec, s: Situation) -> tuple[list[str], AlertFacts]:
    """Every stage of the rule reached in this situation, in firing order, with its facts."""
    match rule.trigger:
        case Trigger.PERCENT_CONSUMED:
            keys = tr.percent_consumed(
                s.planned_seconds, s.executed_seconds, rule.stages, rule.overage
            )
            return keys, AlertFacts()
        case Trigger.HOURS_REMAINING:
            return tr.hours_remaining(
                s.planned_seconds, s.executed_seconds, rule.stages
            ), AlertFacts()
        case Trigger.OVERAGE:
            return tr.overage(s.planned_seconds, s.executed_seconds, rule.stages), AlertFacts()
        case Trigger.DAYS_BEFORE_END:
            keys = tr.days_before_end(s.contract_end, s.today, rule.stages)
            return keys, AlertFacts(days_before_end=(s.contract_end - s.today).days)
        case Trigger.FORECAST_OVER_PLAN:
            opens, closes = tr.period_bounds(s.period_start, s.period_end, s.timezone)
            projected = tr.forecast(
                s.planned_seconds,
                s.executed_seconds,
                opens,
                closes,
                s.now,
                s.timezone,
                s.forecast_min_elapsed_percent,
            )
            keys = tr.forecast_over_plan(s.planned_seconds, projected, rule.stages)
            if projected is None:
                return keys, AlertFacts()
            return keys, AlertFacts(
                forecast_seconds=projected.seconds,
                forecast_exhaustion_date=projected.exhaustion_date,
            )
        case Trigger.WORKLOG_OUTSIDE_DATES:
            keys = tr.worklog_outside_dates(s.outside_dates_seconds)
            return keys, AlertFacts(outside_dates_seconds=s.outside_dates_seconds)
        case Trigger.PERIOD_UNUSED:
            keys = tr.period_unused(
                s.planned_seconds, s.executed_seconds, s.period_end, s.today, rule.stages
            )
            unused = tr.unused_seconds(s.planned_seconds, s.executed_seconds)
            return keys, AlertFacts(unused_seconds=unused)
        case Trigger.ALLOWANCE_REACHED:
            if s.statement is None:
                return [], AlertFacts()
            f = s.statement
            keys = tr.allowance_reached(
                f.allowance_seconds, f.in_allowance_seconds, f.charged_seconds
            )
            return keys, AlertFacts(
                currency=f.currency,
                allowance_seconds=f.allowance_seconds,
                charged_seconds=f.charged_seconds,
                charged_amount=f.charged_amount,
            )
        case Trigger.BUDGET_EXCEEDED_FORECAST:
            if s.statement is None:
                return [], AlertFacts()
            f = s.statement
            keys = tr.budget_exceeded_forecast(f.forecast_amount, f.budget)
            return keys, AlertFacts(
                currency=f.currency, forecast_amount=f.forecast_amount, budget=f.budget
            )
        case Trigger.SLA_AT_RISK | Trigger.SLA_BREACHED:
            # An at-risk rule hears only at-risk announcements (a breach is no warning
            # any more), a breach rule only breaches.
            a = s.sla
            if a is None or a.breached != (rule.trigger is Trigger.SLA_BREACHED):
                return [], AlertFacts()
            return tr.sla_stages(rule.stages, a.percent), AlertFacts(
                ticket_id=a.ticket_id,
                ticket_reference=a.reference,
                ticket_priority=a.priority,
                service_level=a.level,
                sla_metric=a.metric,
                sla_cycle=a.cycle,
                sla_target_minutes=a.target_minutes,
                sla_due_at=a.due_at,
                sla_expected_at=a.expected_at,
            )
        case _:
            assert_never(rule.trigger)


def due(rule: RuleSpec, s: Situation, fired: Collection[str]) -> Due | None:
    """The stages reached and not fired yet in this period, or None.

    A stage once fired stays fired: a correction that drops below it and crosses it again
    gives nothing, because the caller passes it in ``fired``.
    """
    keys, facts = reached(rule, s)
    new = tuple(k for k in keys if k not in fired)
    if not new:
        return None
    stage = st.highest(new)
    return Due(new, stage, st.alert_trigger(rule.trigger, stage), facts)


def key_period(trigger: Trigger, period_start: dt.date, final_period_start: dt.date) -> dt.date:
    """The period a stage is fired once in. "Days before the end" belongs to the contract's
    term, so its stages are keyed on the final period (moving the end date re-arms them)."""
    return final_period_start if trigger is Trigger.DAYS_BEFORE_END else period_start
