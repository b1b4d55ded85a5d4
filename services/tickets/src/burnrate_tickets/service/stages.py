"""At-risk and breached stages: fired once per ticket, metric, cycle and stage (the key of
``fired_stages``), by a ticket's own changes or by the timer when nothing happens to it.

After every change a ticket's running clocks get a ``due_stages`` row: the instant their
next stage falls due. The timer selects only the rows due now (an index on the instant), so
a round costs what falls due, not what is open; a pause removes the row (nothing falls due
while paused) and the resume schedules it again. After downtime the first round finds every
row in the past and catches up once: when several stages of one clock are due at once, the
highest is announced and the ones below it are kept as fired, unannounced.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from burnrate_common import outbox
from burnrate_common.contract_terms import ServiceLevelTerms
from burnrate_common.db import Connection
from burnrate_common.event_payloads import SlaStageReached
from burnrate_common.events import Envelope, EventType, new_event

from burnrate_tickets import store
from burnrate_tickets.domain.clock import MetricClock, TicketClock
from burnrate_tickets.service import Deps
from burnrate_tickets.service.clocks import level_of, measure

log = logging.getLogger(__name__)


def stages_of(level: ServiceLevelTerms) -> list[int]:
    return [*sorted({p for p in level.at_risk_percents if 0 < p < 100}), 100]


def _due_now(clock: MetricClock, stage: int, at: dt.datetime | None, now: dt.datetime) -> bool:
    if at is None or at > now:
        return False
    # at risk only while the clock can still be saved; a breach whenever it happened
    return clock.breached if stage == 100 else clock.state != "stopped"


async def sync(
    conn: Connection, deps: Deps, ticket: asyncpg.Record, clock: TicketClock, now: dt.datetime
) -> int:
    """Fire the stages of ``ticket`` due by ``now`` and schedule the next ones; returns the
    number of events published. Call with the ticket locked."""
    return await sync_many(conn, deps, [(ticket, clock)], now)


@dataclass
class _Fire:
    ticket: asyncpg.Record
    level: ServiceLevelTerms
    clock: MetricClock
    stage: int
    reached_at: dt.datetime
    announced: bool


async def sync_many(
    conn: Connection,
    deps: Deps,
    measured: Sequence[tuple[asyncpg.Record, TicketClock]],
    now: dt.datetime,
) -> int:
    """:func:`sync` for many tickets at once, in a fixed number of statements whatever
    their number (the timer's round). Call with the tickets locked."""
    if not measured:
        return 0
    ids = [ticket["id"] for ticket, _ in measured]
    fired: set[tuple[uuid.UUID, str, int, int]] = {
        (r["ticket_id"], r["metric"], r["cycle"], r["stage"])
        for r in await store.fired_of_many(conn, ids)
    }
    to_fire: list[_Fire] = []
    next_rows: list[tuple[uuid.UUID, str, int, int, dt.datetime]] = []
    for ticket, clock in measured:
        level = level_of(ticket)
        if level is None or ticket["contract_id"] is None:
            continue
        stages = stages_of(level)
        for c in clock.clocks:
            reached = {stage: c.reached_at(stage) for stage in stages}
            open_stages = [s for s in stages if (ticket["id"], c.metric, c.cycle, s) not in fired]
            due = [s for s in open_stages if _due_now(c, s, reached[s], now)]
            for stage in due:
                at = reached[stage]
                assert at is not None
                to_fire.append(_Fire(ticket, level, c, stage, at, stage == max(due)))
            if c.state == "running":
                upcoming = [
                    (at, s)
                    for s in open_stages
                    if s not in due and (at := reached[s]) is not None and at > now
                ]
                if upcoming:
                    at, stage = min(upcoming)
                    next_rows.append((ticket["id"], c.metric, c.cycle, stage, at))
    inserted = await store.insert_fired_many(
        conn,
        [
            (f.ticket["id"], f.clock.metric, f.clock.cycle, f.stage, f.reached_at, now, f.announced)
            for f in to_fire
        ],
    )
    announce = [
        f
        for f in to_fire
        if f.announced and (f.ticket["id"], f.clock.metric, f.clock.cycle, f.stage) in inserted
    ]
    medians = await store.median_resolution_seconds_many(
        conn,
        [
            (f.ticket["id"], f.ticket["contract_id"], f.clock.priority)
            for f in announce
            if f.clock.metric == "resolution"
        ],
    )
    events = [_stage_event(f, medians.get(f.ticket["id"])) for f in announce]
    await store.replace_due_many(conn, ids, next_rows)
    await outbox.add(conn, events)
    return len(events)


def _stage_event(fire: _Fire, median: float | None) -> Envelope:
    ticket, level, clock, stage, reached_at = (
        fire.ticket,
        fire.level,
        fire.clock,
        fire.stage,
        fire.reached_at,
    )
    due_at = clock.projected(clock.rule.amount) or reached_at
    expected_at = None
    if clock.metric == "resolution" and median is not None:
        usual = clock.projected(dt.timedelta(seconds=median))
        if usual is not None and usual > due_at:
            expected_at = usual
    payload = SlaStageReached(
        ticket_id=ticket["id"],
        reference=ticket["reference"],
        contract_id=ticket["contract_id"],
        customer_id=ticket["customer_id"],
        metric=clock.metric,
        cycle=clock.cycle,
        stage=stage,
        priority=clock.priority,
        level=level.level,
        target_minutes=clock.target_minutes,
        due_at=due_at,
        expected_at=expected_at,
        reached_at=reached_at,
        category=ticket["category"],
        timezone=level.calendar.timezone,
        remaining_minutes=int(clock.remaining.total_seconds() // 60),
    )
    event_type = EventType.SLA_BREACHED if stage == 100 else EventType.SLA_AT_RISK
    return new_event(event_type, payload, key=ticket["contract_id"], producer="tickets")


async def tick(pool: asyncpg.Pool, deps: Deps) -> int:
    """One round of the timer: every ticket with a stage due now, in batches (one
    transaction each, tickets locked ``SKIP LOCKED``: a ticket a writer holds is rescheduled
    by the writer); returns the number of events published."""
    published = 0
    batch_size = deps.settings.timer_batch_size
    while True:
        async with pool.acquire() as conn, conn.transaction():
            now = deps.clock.now()
            ids = await store.due_tickets(conn, now, batch_size)
            if not ids:
                break
            tickets = await store.lock_tickets(conn, ids)
            rows_of: dict[object, list[asyncpg.Record]] = {}
            for row in await store.events_of(conn, [t["id"] for t in tickets]):
                rows_of.setdefault(row["ticket_id"], []).append(row)
            measured = [(t, measure(t, rows_of.get(t["id"], []), now)) for t in tickets]
            published += await sync_many(conn, deps, measured, now)
        if len(ids) < batch_size or len(tickets) < len(ids):
            break
    if published:
        log.info("stage timer fired", extra={"events": published})
    return published


#: The shortest wait between rounds: a stage left due (its ticket held by a writer, which
#: reschedules it itself) does not make the timer spin.
MIN_WAIT_SECONDS = 0.05


async def seconds_to_next(pool: asyncpg.Pool, deps: Deps, longest: float) -> float:
    """How long the timer may sleep: until the next scheduled stage falls due, at most
    ``longest`` (one read of the index's first entry)."""
    async with pool.acquire() as conn:
        next_at = await store.next_due_at(conn)
    if next_at is None:
        return longest
    wait = (next_at - deps.clock.now()).total_seconds()
    return min(longest, max(MIN_WAIT_SECONDS, wait))
