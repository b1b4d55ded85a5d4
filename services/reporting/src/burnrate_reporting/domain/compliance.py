"""Service-level compliance: tickets, targets met and breached, times to respond and resolve
in business time, paused time and each breach with its reason — per level × priority × month,
quarter or year. Pure: the tickets (with their clocks) and the breaches in, figures out.

How each (ticket, metric, cycle) counts:

| the clock (``TicketChanged.clocks``) | a breach (``sla.breached``) | counts as |
|---|---|---|
| stopped, met | none | met |
| any | fired | breached (a breach is final, even if the ticket is still open) |
| met False (stopped late, or past due at publication) | none | breached |
| running or paused, within the target | none | neither (not completed) |
| none published (a producer without clocks), ticket resolved | none | resolution met |

% met is met / (met + breached): over the cycles whose outcome is known. Median and p90 are
of the completed (stopped) clocks' business time, interpolated linearly between ranks (as
PostgreSQL's ``percentile_cont``). A ticket counts in the month (quarter, year) it was opened,
in its contract's zone, under its current priority and the level it was opened under.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

Grain = Literal["month", "quarter", "year"]
Metric = Literal["first_response", "resolution"]
METRICS: tuple[Metric, ...] = ("first_response", "resolution")
#: The level of a ticket opened under none (no level in force).
NO_LEVEL = "none"


@dataclass(frozen=True)
class Clock:
    """One metric of one cycle as the ticket's last event measured it."""

    metric: Metric
    cycle: int
    target_minutes: int
    calendar: str
    state: str
    elapsed_seconds: int
    paused_seconds: int
    stopped_at: dt.datetime | None
    due_at: dt.datetime | None
    met: bool | None

    @staticmethod
    def of(raw: Mapping[str, Any]) -> Clock:
        stopped = raw.get("stopped_at")
        due = raw.get("due_at")
        return Clock(
            metric=raw["metric"],
            cycle=int(raw.get("cycle", 1)),
            target_minutes=int(raw["target_minutes"]),
            calendar=str(raw.get("calendar", "business")),
            state=str(raw["state"]),
            elapsed_seconds=int(raw["elapsed_seconds"]),
            paused_seconds=int(raw.get("paused_seconds") or 0),
            stopped_at=dt.datetime.fromisoformat(stopped) if isinstance(stopped, str) else stopped,
            due_at=dt.datetime.fromisoformat(due) if isinstance(due, str) else due,
            met=raw.get("met"),
        )


@dataclass(frozen=True)
class Breach:
    """A ``sla.breached`` of one ticket, metric and cycle."""

    metric: Metric
    cycle: int
    target_minutes: int
    due_at: dt.datetime
    reached_at: dt.datetime


@dataclass(frozen=True)
class Ticket:
    ticket_id: uuid.UUID
    reference: str
    contract_id: uuid.UUID
    contract_code: str | None
    priority: str
    category: str | None
    level: str | None
    opened_at: dt.datetime
    resolved_at: dt.datetime | None
    timezone: str
    clocks: tuple[Clock, ...] = ()
    breaches: tuple[Breach, ...] = ()
    #: (metric, cycle) warned at risk
    warned: frozenset[tuple[str, int]] = frozenset()


@dataclass(frozen=True)
class Outcome:
    """One metric of one cycle of a ticket, as it counts."""

    ticket: Ticket
    metric: Metric
    cycle: int
    target_minutes: int | None
    calendar: str | None
    met: bool
    breached: bool
    #: business seconds to respond / resolve, when the clock stopped
    elapsed_seconds: int | None
    paused_seconds: int
    stopped_at: dt.datetime | None
    breach: Breach | None
    warned: bool


def outcomes(ticket: Ticket) -> list[Outcome]:
    """Each metric of each cycle of the ticket, per the table of this module."""
    breaches = {(b.metric, b.cycle): b for b in ticket.breaches}
    seen: set[tuple[str, int]] = set()
    out: list[Outcome] = []
    for c in ticket.clocks:
        key = (c.metric, c.cycle)
        seen.add(key)
        breach = breaches.get(key)
        breached = breach is not None or c.met is False
        stopped = c.state == "stopped"
        out.append(
            Outcome(
                ticket=ticket,
                metric=c.metric,
                cycle=c.cycle,
                target_minutes=c.target_minutes,
                calendar=c.calendar,
                met=not breached and c.met is True,
                breached=breached,
                elapsed_seconds=c.elapsed_seconds if stopped else None,
                paused_seconds=c.paused_seconds,
                stopped_at=c.stopped_at if stopped else None,
                breach=breach,
                warned=key in ticket.warned,
            )
        )
    if not ticket.clocks and ticket.resolved_at is not None and ("resolution", 1) not in breaches:
        # A producer that publishes no clocks: a resolved ticket without a breach met its
        # resolution target (no business time to show).
        out.append(
            Outcome(
                ticket=ticket,
                metric="resolution",
                cycle=1,
                target_minutes=None,
                calendar=None,
                met=True,
                breached=False,
                elapsed_seconds=None,
                paused_seconds=0,
                stopped_at=ticket.resolved_at,
                breach=None,
                warned=("resolution", 1) in ticket.warned,
            )
        )
    for key, breach in breaches.items():
        if key not in seen:
            out.append(
                Outcome(
                    ticket=ticket,
                    metric=breach.metric,
                    cycle=breach.cycle,
                    target_minutes=breach.target_minutes,
                    calendar=None,
                    met=False,
                    breached=True,
                    elapsed_seconds=None,
                    paused_seconds=0,
                    stopped_at=None,
                    breach=breach,
                    warned=key in ticket.warned,
                )
            )
    return out


# --- buckets -------------------------------------------------------------------------------


def bucket_start(day: dt.date, grain: Grain) -> dt.date:
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return dt.date(day.year, 1, 1)


def bucket_label(start: dt.date, grain: Grain) -> str:
    if grain == "month":
        return f"{start:%Y-%m}"
    if grain == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return str(start.year)


def next_bucket(start: dt.date, grain: Grain) -> dt.date:
    months = {"month": 1, "quarter": 3, "year": 12}[grain]
    year, month = divmod(start.month - 1 + months, 12)
    return dt.date(start.year + year, month + 1, 1)


def parse_quarter(text: str) -> dt.date:
    """``2026-Q1`` (or ``2026-q1``) → its first day; anything else raises ValueError."""
    year, _, quarter = text.strip().upper().partition("-Q")
    if not (year.isdigit() and len(year) == 4 and quarter in ("1", "2", "3", "4")):
        raise ValueError(f"'{text}' is not a quarter; expected YYYY-Qn (n = 1 to 4)")
    return dt.date(int(year), 3 * (int(quarter) - 1) + 1, 1)


def local_day(instant: dt.datetime, timezone: str) -> dt.date:
    return instant.astimezone(ZoneInfo(timezone)).date()


# --- figures -------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (``percentile_cont``); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def percent_met(met: int, breached: int) -> Decimal | None:
    """met / (met + breached) in percent, one decimal rounded down (as ``Figures.percent``:
    99.96 % is not shown as 100 % met); None when no cycle is completed."""
    if met + breached == 0:
        return None
    return (Decimal(met * 100) / Decimal(met + breached)).quantize(
        Decimal("0.1"), rounding=ROUND_DOWN
    )


def _minutes(seconds: float | None) -> Decimal | None:
    if seconds is None:
        return None
    return (Decimal(str(seconds)) / 60).quantize(Decimal("0.1"))


@dataclass
class MetricFigures:
    met: int = 0
    breached: int = 0
    warned: int = 0
    elapsed: list[int] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        self.met += outcome.met
        self.breached += outcome.breached
        self.warned += outcome.warned
        if outcome.elapsed_seconds is not None:
            self.elapsed.append(outcome.elapsed_seconds)

    def summary(self) -> dict[str, Any]:
        return {
            "met": self.met,
            "breached": self.breached,
            "percent_met": percent_met(self.met, self.breached),
            "median_minutes": _minutes(percentile(self.elapsed, 0.5)),
            "p90_minutes": _minutes(percentile(self.elapsed, 0.9)),
            "completed": len(self.elapsed),
            "warned_at_risk": self.warned,
        }


@dataclass
class Group:
    """The figures of one level × priority × bucket."""

    period_start: dt.date
    level: str
    priority: str
    tickets: set[uuid.UUID] = field(default_factory=set)
    metrics: dict[str, MetricFigures] = field(
        default_factory=lambda: {m: MetricFigures() for m in METRICS}
    )
    paused_seconds: int = 0


@dataclass(frozen=True)
class Compliance:
    groups: list[Group]
    #: every breached outcome, oldest first
    breaches: list[Outcome]


def compliance(
    tickets: Iterable[Ticket], grain: Grain, first: dt.date, last: dt.date
) -> Compliance:
    """Group the tickets opened on local days in [first, last] (their contract's zone)."""
    groups: dict[tuple[dt.date, str, str], Group] = {}
    breaches: list[Outcome] = []
    for ticket in tickets:
        day = local_day(ticket.opened_at, ticket.timezone)
        if not first <= day <= last:
            continue
        start = bucket_start(day, grain)
        level = ticket.level or NO_LEVEL
        key = (start, level, ticket.priority)
        group = groups.get(key)
        if group is None:
            group = groups[key] = Group(start, level, ticket.priority)
        group.tickets.add(ticket.ticket_id)
        for outcome in outcomes(ticket):
            group.metrics[outcome.metric].add(outcome)
            if outcome.metric == "resolution":
                group.paused_seconds += outcome.paused_seconds
            if outcome.breached:
                breaches.append(outcome)
    ordered = sorted(groups.values(), key=lambda g: (g.period_start, g.level, g.priority))
    breaches.sort(key=lambda o: (_breached_at(o), o.ticket.reference, o.metric, o.cycle))
    return Compliance(ordered, breaches)


def totals(groups: Iterable[Group]) -> dict[str, Any]:
    """Every group together (the met and breached summed, the times pooled)."""
    tickets: set[uuid.UUID] = set()
    pooled = {m: MetricFigures() for m in METRICS}
    paused = 0
    for g in groups:
        tickets |= g.tickets
        paused += g.paused_seconds
        for m in METRICS:
            f = g.metrics[m]
            pooled[m].met += f.met
            pooled[m].breached += f.breached
            pooled[m].warned += f.warned
            pooled[m].elapsed.extend(f.elapsed)
    return {
        "tickets": len(tickets),
        "first_response": pooled["first_response"].summary(),
        "resolution": pooled["resolution"].summary(),
        "paused_minutes": _minutes(paused) or Decimal(0),
    }


def _breached_at(outcome: Outcome) -> dt.datetime:
    if outcome.breach is not None:
        return outcome.breach.reached_at
    return outcome.stopped_at or outcome.ticket.opened_at


# --- the reason of a breach ----------------------------------------------------------------


def duration(minutes: float) -> str:
    """``1 h 30 min``, ``45 min``, ``8 h``."""
    total = round(minutes)
    hours, rest = divmod(total, 60)
    if hours and rest:
        return f"{hours} h {rest} min"
    return f"{hours} h" if hours else f"{rest} min"


def reason(outcome: Outcome) -> str:
    """What happened, in one sentence: the target, how long it took (or that it still runs)
    and the time waiting on the customer, which did not count."""
    target = outcome.target_minutes
    kind = {"business": " (business time)", "24x7": " (round the clock)"}.get(
        outcome.calendar or "", ""
    )
    what = "first response" if outcome.metric == "first_response" else "resolution"
    if target is None:
        text = f"The {what} target was missed"
    else:
        text = f"The {what} target of {duration(target)}{kind} was missed"
    if outcome.elapsed_seconds is not None:
        took = outcome.elapsed_seconds / 60
        done = "answered" if outcome.metric == "first_response" else "resolved"
        text += f": {done} after {duration(took)}"
        if target is not None and took > target:
            text += f", {duration(took - target)} late"
    elif outcome.breach is not None:
        text += f": still {'unanswered' if outcome.metric == 'first_response' else 'open'} "
        text += f"when it fell due at {outcome.breach.due_at:%Y-%m-%d %H:%M} UTC"
    if outcome.cycle > 1:
        text += f" (after reopening, cycle {outcome.cycle})"
    if outcome.ticket.category:
        text += f"; category {outcome.ticket.category}"
    if outcome.paused_seconds:
        text += f"; {duration(outcome.paused_seconds / 60)} waiting on the customer not counted"
    if outcome.warned:
        text += "; warned at risk before the breach"
    return text + "."


def group_rows(compliance_: Compliance, grain: Grain) -> list[dict[str, Any]]:
    """The groups as rows (what the API and the CSV show)."""
    rows = []
    for g in compliance_.groups:
        rows.append(
            {
                "period": bucket_label(g.period_start, grain),
                "period_start": g.period_start,
                "level": g.level,
                "priority": g.priority,
                "tickets": len(g.tickets),
                "first_response": g.metrics["first_response"].summary(),
                "resolution": g.metrics["resolution"].summary(),
                "paused_minutes": _minutes(g.paused_seconds) or Decimal(0),
            }
        )
    return rows
