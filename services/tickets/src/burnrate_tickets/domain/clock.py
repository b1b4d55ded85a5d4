"""The service-level clock of a ticket, replayed from its events in the order they happened.

| # | rule | how |
|---|---|---|
| 1 | the clock starts when the ticket opens | both metrics (first response, resolution) of cycle 1 run from ``opened_at``; an event stamped before the opening counts at the opening |
| 2 | it pauses while the ticket waits on the customer | a status whose kind is ``waiting`` (which statuses are waiting is set per source) pauses both metrics until a non-waiting status; a public customer reply ends the wait too |
| 3 | first response stops at the first public agent reply | an internal note or a customer reply does not stop it; resolving before any reply stops it at the resolution; it is measured in cycle 1 only |
| 4 | resolution stops at resolved | a status of kind ``resolved`` or ``closed`` (closing an unresolved ticket resolves it) |
| 5 | a reopen resumes the resolution clock, or starts a new cycle | per contract (``reopen``): ``resume`` runs cycle 1 again from the reopen (the time resolved does not count); ``new_cycle`` starts cycle n+1 from zero at the reopen, with its own stages |
| 6 | a priority change re-measures against the new target | the target is the one of the priority in force now (or when the metric stopped); per contract (``priority_change``): ``from_opening`` measures all running time since the opening on the new target's calendar; ``carry_elapsed`` keeps the time elapsed so far as measured on the old target's calendar and runs on the new one from the change (the two differ only when the calendars differ) |
| 7 | paused time is never lost across a change | pauses are intervals of the replay, not a running sum: a priority change, a reopen or a late event replays them as they were |
| 8 | events count in the order they happened | the replay sorts by the instant each event happened (ties: arrival order), whatever order they arrived in |
| 9 | a closed ticket is final | events after the close do not move its clock |
| 10 | a category target wins | a target set for the ticket's category applies whatever the priority |

Business time comes from :mod:`burnrate_tickets.domain.calendar`: a target on the level's
calendar (``business``) or round the clock (``24x7``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from burnrate_common.contract_terms import Priority, ServiceLevelTerms, Target

from burnrate_tickets.domain import calendar as cal
from burnrate_tickets.domain.calendar import ZERO, BusinessCalendar

Metric = Literal["first_response", "resolution"]
METRICS: tuple[Metric, ...] = ("first_response", "resolution")
StatusKind = Literal["active", "waiting", "resolved", "closed"]
EventKind = Literal["status", "reply", "priority", "resolve", "reopen", "close"]
PhaseState = Literal["running", "paused", "stopped"]


@dataclass(frozen=True)
class Opening:
    at: dt.datetime
    priority: Priority
    category: str | None = None


@dataclass(frozen=True)
class TicketEvent:
    """One thing that happened to a ticket. ``seq``: arrival order, the tie-break."""

    at: dt.datetime
    kind: EventKind
    seq: int = 0
    #: ``status``: the kind of the status (the source's name is the caller's business)
    status_kind: StatusKind | None = None
    #: ``reply``
    by: Literal["agent", "customer"] | None = None
    public: bool = True
    #: ``priority``
    priority: Priority | None = None


@dataclass(frozen=True)
class Phase:
    """A stretch of one metric's cycle: ``end`` None means it goes on (the last one)."""

    start: dt.datetime
    end: dt.datetime | None
    state: PhaseState
    priority: Priority


@dataclass(frozen=True)
class Rule:
    """A target as it applies to a ticket: minutes on a calendar."""

    minutes: int
    calendar: BusinessCalendar
    calendar_kind: Literal["business", "24x7"]

    @property
    def amount(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.minutes)


@dataclass(frozen=True)
class MetricClock:
    """One metric of one cycle, measured at ``now``."""

    metric: Metric
    cycle: int
    priority: Priority
    rule: Rule
    phases: tuple[Phase, ...]
    now: dt.datetime
    #: the calendar each running phase is measured on (``carry_elapsed``: its own priority's)
    phase_calendars: tuple[BusinessCalendar, ...] = field(default=())

    @property
    def started_at(self) -> dt.datetime:
        return self.phases[0].start

    @property
    def state(self) -> PhaseState:
        return self.phases[-1].state

    @property
    def stopped_at(self) -> dt.datetime | None:
        last = self.phases[-1]
        return last.start if last.state == "stopped" else None

    @property
    def target_minutes(self) -> int:
        return self.rule.minutes

    def _running(self) -> Iterable[tuple[dt.datetime, dt.datetime | None, BusinessCalendar]]:
        for phase, calendar in zip(self.phases, self.phase_calendars, strict=True):
            if phase.state == "running":
                yield phase.start, phase.end, calendar

    @property
    def elapsed(self) -> dt.timedelta:
        """Business time on the clock at ``now``."""
        total = ZERO
        for start, end, calendar in self._running():
            stop = self.now if end is None else min(end, self.now)
            total += cal.business_time_between(start, stop, calendar)
        return total

    @property
    def paused(self) -> dt.timedelta:
        """Wall-clock time the metric spent paused (waiting on the customer) up to ``now``."""
        total = ZERO
        for phase in self.phases:
            if phase.state == "paused" and phase.start < self.now:
                stop = self.now if phase.end is None else min(phase.end, self.now)
                total += stop - phase.start
        return total

    @property
    def remaining(self) -> dt.timedelta:
        return max(self.rule.amount - self.elapsed, ZERO)

    def reached_at(self, percent: int) -> dt.datetime | None:
        """The instant ``percent`` of the target is (or, running, will be) elapsed; None if
        the clock stopped or pauses before it."""
        return self.reaching(self.rule.amount * percent / 100)

    def projected(self, amount: dt.timedelta) -> dt.datetime | None:
        """When ``amount`` is (will be) elapsed; a paused clock is assumed to resume now.
        None once stopped short of it."""
        found = self.reaching(amount)
        if found is None and self.state == "paused":
            return cal.add_business_time(self.now, amount - self.elapsed, self.rule.calendar)
        return found

    def reaching(self, threshold: dt.timedelta) -> dt.datetime | None:
        """The instant ``threshold`` of business time is (or, running, will be) elapsed."""
        before = ZERO
        for start, end, calendar in self._running():
            if end is None:
                return cal.add_business_time(start, threshold - before, calendar)
            span = cal.business_time_between(start, end, calendar)
            if before + span >= threshold:
                return cal.add_business_time(start, threshold - before, calendar)
            before += span
        return None

    @property
    def due_at(self) -> dt.datetime | None:
        """When the target is (was) reached: a projection while running, the breach instant
        if it was missed, None while paused or once stopped in time."""
        return self.reached_at(100)

    @property
    def breached(self) -> bool:
        due = self.due_at
        stopped = self.stopped_at
        return due is not None and due <= self.now and (stopped is None or due < stopped)

    @property
    def met(self) -> bool | None:
        """Stopped within the target: True; breached: False; still open: None."""
        if self.breached:
            return False
        return True if self.state == "stopped" else None

    def timeline(self) -> list[tuple[dt.datetime, dt.datetime | None, str]]:
        """The phases up to ``now``, running time split into ``running`` (working time) and
        ``outside_hours``."""
        out: list[tuple[dt.datetime, dt.datetime | None, str]] = []
        for phase, calendar in zip(self.phases, self.phase_calendars, strict=True):
            if phase.start > self.now:
                break
            end = phase.end if phase.end is not None and phase.end <= self.now else None
            if phase.state != "running":
                out.append((phase.start, end, phase.state))
                continue
            cursor = phase.start
            stop = self.now if end is None else end
            if stop <= cursor:  # begins now
                tick = cursor + dt.timedelta(microseconds=1)
                inside = any(cal.open_intervals(cursor, tick, calendar))
                out.append((cursor, None, "running" if inside else "outside_hours"))
                continue
            for lo, hi in cal.open_intervals(phase.start, stop, calendar):
                if lo > cursor:
                    out.append((cursor, lo, "outside_hours"))
                out.append((lo, hi, "running"))
                cursor = hi
            if cursor < stop:
                out.append((cursor, stop, "outside_hours"))
            if end is None and out:
                last = out[-1]
                out[-1] = (last[0], None, last[2])
        merged: list[tuple[dt.datetime, dt.datetime | None, str]] = []
        for start, end, state in out:
            if merged and merged[-1][2] == state and merged[-1][1] == start:
                merged[-1] = (merged[-1][0], end, state)
            else:
                merged.append((start, end, state))
        return merged


@dataclass(frozen=True)
class TicketClock:
    """Every metric clock of a ticket at ``now`` (a metric without a target is absent)."""

    clocks: tuple[MetricClock, ...]
    priority: Priority
    status_kind: StatusKind
    resolved_at: dt.datetime | None
    closed_at: dt.datetime | None

    def current(self, metric: Metric) -> MetricClock | None:
        found = [c for c in self.clocks if c.metric == metric]
        return found[-1] if found else None


def level_in_force(levels: Sequence[ServiceLevelTerms], day: dt.date) -> ServiceLevelTerms | None:
    """The level in force for a ticket opened on ``day`` (the latest ``effective_from`` on
    or before it); changes are effective-dated, so older tickets keep theirs."""
    candidates = [level for level in levels if level.effective_from <= day]
    return max(candidates, key=lambda level: level.effective_from) if candidates else None


def target_for(
    level: ServiceLevelTerms, metric: Metric, priority: Priority, category: str | None
) -> Target | None:
    """The category's target wins over the priority's; a category target may also name a
    priority (then it applies to that priority of the category only)."""
    of_metric = [t for t in level.targets if t.metric == metric]
    if category is not None:
        for want_priority in (priority, None):
            for t in of_metric:
                if t.category == category and t.priority == want_priority:
                    return t
    for t in of_metric:
        if t.category is None and t.priority == priority:
            return t
    return None


def rule_for(
    level: ServiceLevelTerms, metric: Metric, priority: Priority, category: str | None
) -> Rule | None:
    target = target_for(level, metric, priority, category)
    if target is None:
        return None
    calendar = cal.build(level.calendar, round_the_clock=target.calendar == "24x7")
    return Rule(target.minutes, calendar, target.calendar)


@dataclass
class _Cycle:
    metric: Metric
    number: int
    phases: list[Phase]

    def move(self, at: dt.datetime, state: PhaseState, priority: Priority) -> None:
        last = self.phases[-1]
        if last.state == state and (last.priority == priority or state == "stopped"):
            return
        if at == last.start:
            self.phases[-1] = Phase(at, None, state, priority)
        else:
            self.phases[-1] = Phase(last.start, at, last.state, last.priority)
            self.phases.append(Phase(at, None, state, priority))
        # merge with the phase before when a zero-length change put it back as it was
        if len(self.phases) >= 2:
            a, b = self.phases[-2], self.phases[-1]
            if a.state == b.state and a.priority == b.priority:
                self.phases[-2:] = [Phase(a.start, None, a.state, a.priority)]


def replay(
    opening: Opening,
    events: Iterable[TicketEvent],
    level: ServiceLevelTerms | None,
    now: dt.datetime,
) -> TicketClock:
    """Replay a ticket's events (any order: they are sorted by when they happened) and
    measure every metric at ``now``."""
    priority: Priority = opening.priority
    waiting = resolved = closed = responded = False
    resolved_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    status_kind: StatusKind = "active"
    first = _Cycle("first_response", 1, [Phase(opening.at, None, "running", priority)])
    resolution = [_Cycle("resolution", 1, [Phase(opening.at, None, "running", priority)])]
    new_cycles = level is not None and level.reopen == "new_cycle"

    def settle(at: dt.datetime) -> None:
        nonlocal responded
        # once stopped (a reply, or resolved before any), the first response stays stopped
        responded = responded or resolved or closed
        first.move(at, "stopped" if responded else "paused" if waiting else "running", priority)
        cycle = resolution[-1]
        cycle.move(at, "stopped" if resolved else "paused" if waiting else "running", priority)

    def resolve(at: dt.datetime) -> None:
        nonlocal resolved, resolved_at, waiting
        if not resolved:
            resolved, resolved_at, waiting = True, at, False

    def reopen(at: dt.datetime) -> None:
        nonlocal resolved, resolved_at, waiting
        if resolved:
            resolved, resolved_at, waiting = False, None, False
            if new_cycles:
                number = resolution[-1].number + 1
                resolution.append(
                    _Cycle("resolution", number, [Phase(at, None, "running", priority)])
                )

    for event in sorted(events, key=lambda e: (e.at, e.seq)):
        if closed:
            break
        at = max(event.at, opening.at)
        if event.kind == "status":
            kind = event.status_kind or "active"
            if kind in ("active", "waiting"):
                reopen(at)
                waiting = kind == "waiting"
            elif kind == "resolved":
                resolve(at)
            else:
                resolve(at)
                closed, closed_at = True, at
            status_kind = kind
        elif event.kind == "reply":
            if event.public and event.by == "agent":
                responded = True
            elif event.public and event.by == "customer" and waiting:
                waiting = False
                status_kind = "active"
        elif event.kind == "priority" and event.priority is not None:
            priority = event.priority
        elif event.kind == "resolve":
            resolve(at)
            status_kind = "resolved"
        elif event.kind == "reopen":
            reopen(at)
            status_kind = "active"
        elif event.kind == "close":
            resolve(at)
            closed, closed_at = True, at
            status_kind = "closed"
        settle(at)

    clocks: list[MetricClock] = []
    if level is not None:
        for cycle in [first, *resolution]:
            clock = _measure(cycle, level, opening.category, now)
            if clock is not None:
                clocks.append(clock)
    return TicketClock(tuple(clocks), priority, status_kind, resolved_at, closed_at)


def _measure(
    cycle: _Cycle, level: ServiceLevelTerms, category: str | None, now: dt.datetime
) -> MetricClock | None:
    phases = tuple(cycle.phases)
    # the priority that sets the target: the one in force now, or when the metric stopped
    priority = phases[-1].priority
    rule = rule_for(level, cycle.metric, priority, category)
    if rule is None:
        return None
    if level.priority_change == "carry_elapsed":
        calendars = []
        for phase in phases:
            own = rule_for(level, cycle.metric, phase.priority, category)
            calendars.append((own or rule).calendar)
        phase_calendars = tuple(calendars)
    else:
        phase_calendars = tuple(rule.calendar for _ in phases)
    return MetricClock(
        metric=cycle.metric,
        cycle=cycle.number,
        priority=priority,
        rule=rule,
        phases=phases,
        now=now,
        phase_calendars=phase_calendars,
    )


def due_on_opening(
    level: ServiceLevelTerms, opened_at: dt.datetime, priority: Priority, category: str | None
) -> list[MetricClock]:
    """ "Diagnose an incoming call": the clocks of a ticket opened at ``opened_at`` with
    nothing else happening (their ``due_at`` are the instants the targets fall due)."""
    return list(replay(Opening(opened_at, priority, category), [], level, opened_at).clocks)
