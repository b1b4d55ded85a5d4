"""The clock table of ``burnrate_tickets.domain.clock``, a test per row, and the required
scenarios (bronze over a weekend and King's Day, gold P1 on the night the clocks go back)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from burnrate_common.contract_terms import ServiceLevelTerms, Target
from burnrate_tickets.domain.clock import (
    Opening,
    TicketEvent,
    due_on_opening,
    level_in_force,
    replay,
)

from .conftest import AMS, H, ams
from .conftest import gold as level  # the gold level; keywords override (bronze below)

GOLD = level()
MON = (2026, 3, 16)  # a Monday


def ev(at: dt.datetime, kind: str, seq: int = 0, **kw: Any) -> TicketEvent:
    return TicketEvent(at=at, kind=kind, seq=seq, **kw)  # type: ignore[arg-type]


def clock_of(events: list[TicketEvent], now: dt.datetime, priority: str = "P3", lvl=GOLD, **kw):  # type: ignore[no-untyped-def]
    return replay(Opening(ams(*MON, 9, 0), priority, kw.get("category")), events, lvl, now)  # type: ignore[arg-type]


# --- the required scenarios ----------------------------------------------------------


def bronze() -> ServiceLevelTerms:
    return level(
        level="bronze",
        targets=[Target(metric="resolution", priority="P3", minutes=30 * H)],
    )


def test_bronze_opened_friday_1755_is_due_wednesday_1755() -> None:
    [clock] = due_on_opening(bronze(), ams(2026, 3, 13, 17, 55), "P3", None)
    assert clock.due_at == ams(2026, 3, 18, 17, 55)


def test_bronze_over_kings_day_is_due_a_day_later() -> None:
    [clock] = due_on_opening(bronze(), ams(2026, 4, 24, 17, 55), "P3", None)
    assert clock.due_at == ams(2026, 4, 30, 17, 55)


def test_gold_p1_on_the_night_the_clocks_go_back() -> None:
    opened = ams(2026, 10, 25, 2, 15, fold=0)
    clocks = {c.metric: c for c in due_on_opening(GOLD, opened, "P1", None)}
    due = clocks["resolution"].due_at
    assert due == ams(2026, 10, 25, 2, 15, fold=1)
    assert due is not None and due - opened == dt.timedelta(hours=1)
    local = due.astimezone(AMS)
    assert (local.hour, local.minute, local.fold) == (2, 15, 1)


# --- the table, a test per row -------------------------------------------------------


def test_row1_starts_when_the_ticket_opens() -> None:
    t = clock_of([], ams(*MON, 10, 0))
    res = t.current("resolution")
    assert res is not None and res.started_at == ams(*MON, 9, 0)
    assert res.elapsed == dt.timedelta(hours=1) and res.state == "running"
    # an event stamped before the opening counts at the opening
    t = clock_of([ev(ams(*MON, 8, 0), "status", status_kind="waiting")], ams(*MON, 10, 0))
    assert t.current("resolution").elapsed == dt.timedelta(0)  # type: ignore[union-attr]


def test_row2_pauses_while_waiting_on_the_customer() -> None:
    events = [
        ev(ams(*MON, 10, 0), "status", status_kind="waiting"),
        ev(ams(*MON, 12, 0), "status", status_kind="active"),
    ]
    res = clock_of(events, ams(*MON, 13, 0)).current("resolution")
    assert res is not None
    assert res.elapsed == dt.timedelta(hours=2)
    assert res.due_at == ams(2026, 3, 19, 11, 0)  # 30 business hours + the 2 paused
    # while paused there is no due instant, and the elapsed time stands still
    paused = clock_of(events[:1], ams(*MON, 17, 0)).current("resolution")
    assert paused is not None and paused.state == "paused" and paused.due_at is None
    assert paused.elapsed == dt.timedelta(hours=1)
    # paused time is wall-clock time, up to now while still paused
    assert res.paused == dt.timedelta(hours=2) and paused.paused == dt.timedelta(hours=7)
    # a public reply of the customer ends the wait
    replied = [events[0], ev(ams(*MON, 11, 0), "reply", by="customer")]
    res = clock_of(replied, ams(*MON, 12, 0)).current("resolution")
    assert res is not None and res.elapsed == dt.timedelta(hours=2)


def test_row3_first_response_stops_at_the_first_public_agent_reply() -> None:
    events = [
        ev(ams(*MON, 9, 30), "reply", by="agent", public=False),
        ev(ams(*MON, 9, 45), "reply", by="customer"),
        ev(ams(*MON, 10, 0), "reply", by="agent"),
        ev(ams(*MON, 11, 0), "reply", by="agent"),
    ]
    t = clock_of(events, ams(*MON, 15, 0))
    fr = t.current("first_response")
    assert fr is not None and fr.state == "stopped" and fr.stopped_at == ams(*MON, 10, 0)
    assert fr.elapsed == dt.timedelta(hours=1) and fr.met is True
    # resolving before any reply stops it at the resolution, and a reopen does not restart it
    t = clock_of(
        [ev(ams(*MON, 9, 20), "resolve"), ev(ams(*MON, 9, 40), "reopen")], ams(*MON, 15, 0)
    )
    fr = t.current("first_response")
    assert fr is not None and fr.stopped_at == ams(*MON, 9, 20)


def test_row4_resolution_stops_at_resolved() -> None:
    t = clock_of([ev(ams(*MON, 12, 0), "resolve")], ams(*MON, 17, 0))
    res = t.current("resolution")
    assert res is not None and res.state == "stopped" and res.elapsed == dt.timedelta(hours=3)
    assert res.met is True and t.resolved_at == ams(*MON, 12, 0)
    # a status of kind "resolved" (Zendesk's solved) does the same
    t = clock_of([ev(ams(*MON, 12, 0), "status", status_kind="resolved")], ams(*MON, 17, 0))
    assert t.current("resolution").stopped_at == ams(*MON, 12, 0)  # type: ignore[union-attr]


def test_row5_a_reopen_resumes_or_starts_a_new_cycle() -> None:
    events = [ev(ams(*MON, 11, 0), "resolve"), ev(ams(*MON, 14, 0), "reopen")]
    resumed = clock_of(events, ams(*MON, 15, 0))
    [res] = [c for c in resumed.clocks if c.metric == "resolution"]
    assert res.cycle == 1 and res.elapsed == dt.timedelta(hours=3) and res.state == "running"
    cycles = clock_of(events, ams(*MON, 15, 0), lvl=level(reopen="new_cycle"))
    res1, res2 = [c for c in cycles.clocks if c.metric == "resolution"]
    assert (res1.cycle, res1.state, res1.elapsed, res1.met) == (
        1,
        "stopped",
        dt.timedelta(hours=2),
        True,
    )
    assert (res2.cycle, res2.started_at, res2.elapsed) == (
        2,
        ams(*MON, 14, 0),
        dt.timedelta(hours=1),
    )
    assert res2.due_at == ams(2026, 3, 19, 14, 0)


def test_row6_a_priority_change_measures_the_new_target_from_the_opening() -> None:
    # P3 opened 09:00, P2 from 10:00: 4 business hours from the opening → due 13:00
    events = [ev(ams(*MON, 10, 0), "priority", priority="P2")]
    res = clock_of(events, ams(*MON, 11, 0)).current("resolution")
    assert res is not None and res.priority == "P2" and res.due_at == ams(*MON, 13, 0)
    assert res.elapsed == dt.timedelta(hours=2) and res.remaining == dt.timedelta(hours=2)


def test_row6_carry_elapsed_differs_when_the_calendars_differ() -> None:
    # P3 (business hours) opened Monday 09:00, becomes P1 (24×7, 60 min) at 17:30 (8.5 h on
    # the office calendar). from_opening: measured 24×7 from 09:00, breached at 10:00.
    # carry_elapsed: 8.5 business hours already over the hour: breached already too; so
    # use the other way round: P1 (24×7) at night, to P3 (business hours).
    opened_night = Opening(ams(*MON, 20, 0), "P1")
    events = [ev(ams(*MON, 20, 30), "priority", priority="P3")]
    now = ams(2026, 3, 17, 9, 0)
    from_opening = replay(opened_night, events, GOLD, now).current("resolution")
    carried = replay(opened_night, events, level(priority_change="carry_elapsed"), now).current(
        "resolution"
    )
    assert from_opening is not None and carried is not None
    # from the opening on the office calendar: nothing before Tuesday 08:00 counts
    assert from_opening.elapsed == dt.timedelta(hours=1)
    # carried: the 30 minutes at night on 24×7, then office time from Tuesday 08:00
    assert carried.elapsed == dt.timedelta(hours=1, minutes=30)
    assert carried.due_at == from_opening.due_at - dt.timedelta(minutes=30)  # type: ignore[operator]


def test_row7_paused_time_is_never_lost_across_a_change() -> None:
    events = [
        ev(ams(*MON, 10, 0), "status", status_kind="waiting"),
        ev(ams(*MON, 11, 0), "priority", priority="P2"),
        ev(ams(*MON, 12, 0), "status", status_kind="active"),
    ]
    res = clock_of(events, ams(*MON, 13, 0)).current("resolution")
    assert res is not None and res.elapsed == dt.timedelta(hours=2)
    assert res.due_at == ams(*MON, 15, 0)  # P2: 4 h, with the 2 h pause excluded
    assert res.paused == dt.timedelta(hours=2)  # both paused phases, either priority
    carried = clock_of(events, ams(*MON, 13, 0), lvl=level(priority_change="carry_elapsed"))
    assert carried.current("resolution").elapsed == dt.timedelta(hours=2)  # type: ignore[union-attr]


def test_row8_events_count_in_the_order_they_happened() -> None:
    events = [
        ev(ams(*MON, 12, 0), "status", seq=1, status_kind="active"),
        ev(ams(*MON, 14, 0), "resolve", seq=2),
        ev(ams(*MON, 10, 0), "status", seq=3, status_kind="waiting"),
    ]
    ordered = sorted(events, key=lambda e: e.at)
    now = ams(*MON, 16, 0)
    a = clock_of(events, now).current("resolution")
    b = clock_of(ordered, now).current("resolution")
    assert a == b and a is not None and a.elapsed == dt.timedelta(hours=3)


def test_row9_a_closed_ticket_is_final() -> None:
    events = [ev(ams(*MON, 11, 0), "close"), ev(ams(*MON, 12, 0), "reopen")]
    t = clock_of(events, ams(*MON, 15, 0))
    res = t.current("resolution")
    assert t.status_kind == "closed" and res is not None and res.stopped_at == ams(*MON, 11, 0)


def test_row10_a_category_target_wins() -> None:
    t = clock_of([], ams(*MON, 10, 0), priority="P3", category="e-mail outage")
    res = t.current("resolution")
    assert res is not None and res.target_minutes == 4 * H and res.rule.calendar_kind == "24x7"


def test_stages_and_breach() -> None:
    res = clock_of([], ams(*MON, 12, 0), priority="P2").current("resolution")
    assert res is not None
    assert res.reached_at(50) == ams(*MON, 11, 0)
    assert res.reached_at(75) == ams(*MON, 12, 0)
    assert res.due_at == ams(*MON, 13, 0) and not res.breached
    late = clock_of([ev(ams(*MON, 14, 0), "resolve")], ams(*MON, 15, 0), priority="P2")
    res = late.current("resolution")
    assert (
        res is not None and res.breached and res.met is False and res.remaining == dt.timedelta(0)
    )
    # resolved exactly at the due instant is in time
    exact = clock_of([ev(ams(*MON, 13, 0), "resolve")], ams(*MON, 15, 0), priority="P2")
    assert exact.current("resolution").met is True  # type: ignore[union-attr]


def test_timeline_shows_running_paused_and_outside_hours() -> None:
    events = [
        ev(ams(*MON, 17, 0), "status", status_kind="waiting"),
        ev(ams(*MON, 17, 30), "status", status_kind="active"),
    ]
    res = clock_of(events, ams(2026, 3, 17, 9, 0)).current("resolution")
    assert res is not None
    states = [(a, b, s) for a, b, s in res.timeline()]
    assert states == [
        (ams(*MON, 9, 0), ams(*MON, 17, 0), "running"),
        (ams(*MON, 17, 0), ams(*MON, 17, 30), "paused"),
        (ams(*MON, 17, 30), ams(*MON, 18, 0), "running"),
        (ams(*MON, 18, 0), ams(2026, 3, 17, 8, 0), "outside_hours"),
        (ams(2026, 3, 17, 8, 0), None, "running"),
    ]


def test_level_in_force_is_effective_dated() -> None:
    old, new = level(level="silver"), level(level="gold", effective_from=dt.date(2026, 6, 1))
    assert level_in_force([old, new], dt.date(2026, 5, 31)) is old
    assert level_in_force([old, new], dt.date(2026, 6, 1)) is new
    assert level_in_force([new], dt.date(2026, 5, 1)) is None
