"""At-risk and breached stages: fired by the timer when nothing happens, once per ticket,
metric, cycle and stage; rescheduled by pauses; caught up once after downtime."""

from __future__ import annotations

import datetime as dt

import asyncpg
from burnrate_testing import eventually

from .conftest import Rig, ams


async def _due_rows(rig: Rig) -> list[asyncpg.Record]:
    async with rig.runtime.pool.acquire() as conn:
        rows: list[asyncpg.Record] = await conn.fetch("SELECT * FROM due_stages ORDER BY due_at")
        return rows


async def test_the_timer_fires_each_stage_once_when_nothing_happens(rig: Rig) -> None:
    contract_id = await rig.add_contract()
    ticket = await rig.open(contract_id, priority="P2", reference="4711")  # 09:00, 4 h
    tid = ticket["id"]
    await rig.post(tid, "replies", by="agent", at=ams(2026, 3, 16, 9, 5))
    assert await rig.tick(ams(2026, 3, 16, 10, 59)) == 0
    # 50 % of 4 business hours at 11:00, 75 % at 12:00, the breach at 13:00
    assert await rig.tick(ams(2026, 3, 16, 11, 0)) == 1
    assert await rig.tick(ams(2026, 3, 16, 11, 30)) == 0
    assert await rig.tick(ams(2026, 3, 16, 12, 0)) == 1
    assert await rig.tick(ams(2026, 3, 16, 13, 0)) == 1
    assert await rig.tick(ams(2026, 3, 16, 14, 0)) == 0
    expected = [
        ("sla.at_risk", "resolution", 1, 50),
        ("sla.at_risk", "resolution", 1, 75),
        ("sla.breached", "resolution", 1, 100),
    ]
    await eventually(lambda: _async(rig.stage_events(tid) == expected))
    breach = next(e for e in rig.probe.events if e.type.value == "sla.breached")
    assert breach.data["reference"] == "4711" and breach.data["level"] == "gold"
    assert breach.data["due_at"].replace("Z", "+00:00") == ams(2026, 3, 16, 13, 0).isoformat()
    assert breach.data["timezone"] == "Europe/Amsterdam"
    assert await _due_rows(rig) == []
    sla = await rig.sla(tid)
    resolution = next(m for m in sla["metrics"] if m["metric"] == "resolution")
    assert resolution["stages_fired"] == [50, 75, 100] and resolution["breached"] is True


async def _async(value: bool) -> bool:
    return value


async def test_a_pause_reschedules_and_downtime_is_caught_up_once(rig: Rig) -> None:
    contract_id = await rig.add_contract()
    ticket = await rig.open(contract_id, priority="P2")
    tid = ticket["id"]
    await rig.post(tid, "replies", by="agent", at=ams(2026, 3, 16, 9, 5))
    [row] = await _due_rows(rig)
    assert (row["stage"], row["due_at"]) == (50, ams(2026, 3, 16, 11, 0))
    rig.clock.set(ams(2026, 3, 16, 10, 0))
    await rig.post(tid, "status", status="pending")
    assert await _due_rows(rig) == []  # nothing falls due while paused
    assert await rig.tick(ams(2026, 3, 16, 12, 0)) == 0
    await rig.post(tid, "status", status="in_progress")  # resumes at 12:00, 1 h elapsed
    [row] = await _due_rows(rig)
    assert (row["stage"], row["due_at"]) == (50, ams(2026, 3, 16, 13, 0))
    # the service was down until the next day: one round fires only the breach
    assert await rig.tick(ams(2026, 3, 17, 9, 0)) == 1
    assert await rig.tick(ams(2026, 3, 17, 9, 1)) == 0
    await eventually(
        lambda: _async(rig.stage_events(tid) == [("sla.breached", "resolution", 1, 100)])
    )
    sla = await rig.sla(tid)
    resolution = next(m for m in sla["metrics"] if m["metric"] == "resolution")
    assert resolution["stages_fired"] == [50, 75, 100]


async def test_a_priority_change_can_breach_at_once_and_a_new_cycle_has_its_own(rig: Rig) -> None:
    from .conftest import gold

    contract_id = await rig.add_contract(levels=[gold(reopen="new_cycle")])
    ticket = await rig.open(contract_id, priority="P3")
    tid = ticket["id"]
    await rig.post(tid, "replies", by="agent", at=ams(2026, 3, 16, 9, 5))
    rig.clock.set(ams(2026, 3, 16, 14, 0))
    # P2 measured from the opening: 5 h elapsed of 4: breached (50 and 75 passed over)
    changed = await rig.post(tid, "priority", priority="P2")
    assert next(d for d in changed["due"] if d["metric"] == "resolution")["breached"] is True
    await rig.post(tid, "resolve")
    rig.clock.set(ams(2026, 3, 16, 15, 0))
    await rig.post(tid, "reopen")
    assert await rig.tick(ams(2026, 3, 16, 17, 0)) == 1  # cycle 2: 50 % of 4 h at 17:00
    await eventually(
        lambda: _async(
            rig.stage_events(tid)
            == [
                ("sla.at_risk", "resolution", 2, 50),
                ("sla.breached", "resolution", 1, 100),
            ]
        )
    )


async def test_expected_at_is_the_usual_resolution_time_when_later_than_due(rig: Rig) -> None:
    contract_id = await rig.add_contract()
    for n in range(3):  # P2 tickets of this contract took 6 business hours
        rig.clock.set(ams(2026, 3, 9 + n, 9, 0))
        done = await rig.open(contract_id, priority="P2", opened_at=rig.clock.now().isoformat())
        rig.clock.set(ams(2026, 3, 9 + n, 15, 0))
        await rig.post(done["id"], "resolve")
    rig.clock.set(ams(2026, 3, 16, 9, 0))
    ticket = await rig.open(contract_id, priority="P2")
    assert await rig.tick(ams(2026, 3, 16, 11, 0)) >= 1
    await eventually(lambda: _async(bool(rig.stage_events(ticket["id"]))))
    at_risk = next(
        e
        for e in rig.probe.events
        if e.type.value == "sla.at_risk"
        and e.data["ticket_id"] == ticket["id"]
        and e.data["metric"] == "resolution"
    )
    expected = dt.datetime.fromisoformat(at_risk.data["expected_at"].replace("Z", "+00:00"))
    assert expected == ams(2026, 3, 16, 15, 0)
