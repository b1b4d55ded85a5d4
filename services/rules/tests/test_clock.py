"""The daily clock against the real PostgreSQL and RabbitMQ, with a FixedClock."""

import asyncio
import datetime as dt

import pytest
from burnrate_common.events import EventType
from burnrate_rules.bootstrap import build
from burnrate_rules.settings import RulesSettings
from burnrate_testing import eventually, serve

pytestmark = pytest.mark.integration

D = dt.date
FEB = (D(2026, 2, 1), D(2026, 2, 28))


def utc(text):
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


@pytest.fixture
def rules_settings(isolation):
    # Small batches, so two concurrent ticks interleave.
    return isolation.settings(RulesSettings, clock_interval_seconds=3600, clock_batch_size=4)


def summary(alerts):
    return [(a["stage"], a["trigger"], a["period_start"], a["days_before_end"]) for a in alerts]


async def test_days_before_end_fire_on_the_local_day_across_both_dst_changes(rig):
    spring = await rig.add_contract(end_date=D(2026, 4, 5))
    autumn = await rig.add_contract(end_date=D(2026, 11, 1))
    for contract_id in (spring, autumn):
        await rig.create_rule(
            name="end",
            contract_id=str(contract_id),
            trigger="days_before_end",
            stages=[30, 7],
            overage=False,
        )

    # 30 days before 5 April is 6 March: 23:00 UTC on 5 March in Amsterdam (CET, +1).
    assert await rig.tick(utc("2026-03-05T22:59:59")) == (2, 0)
    assert await rig.tick(utc("2026-03-05T23:00:00")) == (2, 1)
    assert await rig.tick(utc("2026-03-06T12:00:00")) == (0, 0)  # same local day: nothing to do
    # 7 days before is 29 March, the day clocks go forward: it starts at 23:00 UTC on the 28th.
    assert await rig.tick(utc("2026-03-28T22:59:59")) == (2, 0)
    assert await rig.tick(utc("2026-03-28T23:00:00")) == (2, 1)
    # The next local midnight is 22:00 UTC (CEST, +2); nothing more fires for this contract.
    assert await rig.tick(utc("2026-03-29T21:59:59")) == (0, 0)
    assert await rig.tick(utc("2026-03-29T22:00:00")) == (2, 0)
    assert summary(await rig.alerts(contract_id=spring)) == [
        ("30d", "days_before_end", "2026-03-01", 30),
        ("7d", "days_before_end", "2026-03-01", 7),
    ]

    # 1 November minus 7 days is 25 October, the day clocks go back: it starts at 22:00 UTC
    # on the 24th (CEST), the next day at 23:00 UTC (CET).
    await rig.tick(utc("2026-10-01T22:00:00"))  # 31 days before: nothing yet
    assert await rig.tick(utc("2026-10-01T22:00:01")) == (0, 0)
    await rig.tick(utc("2026-10-02T22:00:00"))  # 2 October local: 30 days before
    assert await rig.tick(utc("2026-10-24T21:59:59")) == (1, 0)
    assert await rig.tick(utc("2026-10-24T22:00:00")) == (1, 1)
    assert summary(await rig.alerts(contract_id=autumn)) == [
        ("30d", "days_before_end", "2026-10-01", 30),
        ("7d", "days_before_end", "2026-10-01", 7),
    ]
    events = await eventually(lambda: _alert_events(rig, 4))
    seven = next(
        e for e in events if e.data["contract_id"] == str(autumn) and e.data["stage"] == "7d"
    )
    assert seven.causation_id is None and seven.producer == "rules"
    assert {k: seven.data[k] for k in ("trigger", "days_before_end", "customer_id")} == {
        "trigger": "days_before_end",
        "days_before_end": 7,
        "customer_id": str(rig.customer_id),
    }
    # Ended contracts are no longer looked at once their catch-up window has passed.
    assert await rig.tick(utc("2026-12-01T12:00:00")) == (0, 0)


async def _alert_events(rig, count):
    events = rig.probe.of_type(EventType.ALERT_RAISED)
    return events if len(events) >= count else None


async def test_a_day_missed_while_down_fires_once_at_start_and_both_missed_stages_as_one(
    rig, rules_settings
):
    late = await rig.add_contract(start_date=D(2026, 11, 1), end_date=D(2026, 12, 31))
    later = await rig.add_contract(start_date=D(2026, 11, 1), end_date=D(2026, 12, 31))
    await rig.create_rule(name="end", trigger="days_before_end", stages=[30, 7], overage=False)
    assert await rig.tick(utc("2026-11-20T12:00:00")) == (2, 0)

    # The service is down from 21 November to 10 December: no tick...
    rig.clock.set(utc("2026-12-10T08:00:00"))
    # ...then a replica starts: its first tick, at start, catches up the missed 1 December.
    async with serve(build(rules_settings, clock=rig.clock)):
        got = await eventually(lambda: _alerts_now(rig, 2))
    assert sorted((a["contract_id"], a["stage"], a["days_before_end"]) for a in got) == sorted(
        [(str(late), "30d", 21), (str(later), "30d", 21)]
    )
    assert await rig.tick() == (0, 0)
    assert await rig.tick(utc("2026-12-11T08:00:00")) == (2, 0)

    # Down over both stages: one alert, for the closest; 30d counts as fired.
    fresh = await rig.add_contract(start_date=D(2026, 11, 1), end_date=D(2027, 1, 31))
    # (the two contracts that ended on 31 December are past their catch-up window)
    assert await rig.tick(utc("2027-01-27T08:00:00")) == (1, 1)
    assert summary(await rig.alerts(contract_id=fresh)) == [
        ("7d", "days_before_end", "2027-01-01", 4)
    ]
    body = (await rig.api.get(f"/v1/contracts/{fresh}/totals")).json()
    january = next(p for p in body["periods"] if p["start_date"] == "2027-01-01")
    assert [f["stage"] for f in january["fired_stages"]] == ["30d", "7d"]


async def _alerts_now(rig, count):
    alerts = await rig.alerts()
    return alerts if len(alerts) >= count else None


async def test_period_unused_at_the_local_month_end_even_without_any_worklog(rig):
    contract_id = await rig.add_contract(planned_hours=40)
    await rig.create_rule(name="unused", trigger="period_unused", stages=[25, 50], overage=False)
    await rig.consume(contract_id, 10)  # January: 30 of 40 h unused (75 %)
    await rig.consume(contract_id, 35, FEB)  # February: 5 h unused (12.5 %)

    assert await rig.tick(utc("2026-01-31T22:59:59")) == (1, 0)
    assert await rig.tick(utc("2026-01-31T23:00:00")) == (1, 1)  # 1 February in Amsterdam
    assert await rig.tick(utc("2026-02-28T23:00:00")) == (1, 0)  # 1 March: February was used
    # March: nothing logged at all; the contract ended on 31 March, 1 April is CEST (+2).
    assert await rig.tick(utc("2026-03-31T21:59:59")) == (1, 0)
    assert await rig.tick(utc("2026-03-31T22:00:00")) == (1, 1)
    alerts = await rig.alerts(contract_id=contract_id)
    assert [
        (a["period_start"], a["stage"], a["unused_hours"], a["executed_hours"]) for a in alerts
    ] == [
        ("2026-01-01", "50", 30.0, 10.0),
        ("2026-03-01", "50", 40.0, 0.0),
    ]
    # The catch-up window (7 days) has passed: nothing looked at any more.
    assert await rig.tick(utc("2026-04-09T12:00:00")) == (0, 0)


async def test_forecast_over_plan_on_consumption_and_by_the_clock(rig):
    by_clock = await rig.add_contract(planned_hours=40)
    by_worklog = await rig.add_contract(planned_hours=40)
    await rig.create_rule(name="forecast", trigger="forecast_over_plan", stages=None, overage=False)

    # 3 February: too early in the month to call a trend (20 % of it must have passed).
    rig.clock.set(utc("2026-02-03T12:00:00"))
    await rig.consume(by_clock, 10, FEB)
    assert await rig.alerts() == []
    # 7 February 00:00 local: 6 of 28 days gone, 10 h → 46.67 h by the end of the month.
    assert await rig.tick(utc("2026-02-06T23:00:00")) == (2, 1)
    (alert,) = await rig.alerts()
    assert (alert["stage"], alert["trigger"], alert["forecast_hours"]) == (
        "100",
        "forecast_over_plan",
        46.67,
    )
    # 40 h at that rate are used up 24 days in: the last hour is spent on 24 February.
    assert alert["forecast_exhaustion_date"] == "2026-02-24"
    events = await eventually(lambda: _alert_events(rig, 1))
    assert (events[0].data["forecast_seconds"], events[0].data["forecast_exhaustion_date"]) == (
        168000,
        "2026-02-24",
    )

    # On consumption: 14 February 23:00 UTC (15 Feb 00:00 local): 14 days gone, 21 h logged.
    rig.clock.set(utc("2026-02-14T23:00:00"))
    await rig.consume(by_worklog, 20, FEB)  # 40 h by the end: on plan, not above it
    assert len(await rig.alerts()) == 1
    await rig.consume(by_worklog, 1, FEB)
    alerts = await rig.alerts(contract_id=by_worklog)
    assert [(a["stage"], a["forecast_hours"], a["forecast_exhaustion_date"]) for a in alerts] == [
        ("100", 42.0, "2026-02-27")
    ]


async def test_two_replicas_ticking_at_once_evaluate_each_contract_once(rig):
    contracts = await asyncio.gather(
        *(rig.add_contract(start_date=D(2026, 1, 1), end_date=D(2026, 1, 20)) for _ in range(10))
    )
    await rig.create_rule(name="end", trigger="days_before_end", stages=[30], overage=False)
    rig.clock.set(utc("2026-01-10T12:00:00"))
    results = await asyncio.gather(rig.tick(), rig.tick(), rig.tick())
    assert sum(r[0] for r in results) == 10 and sum(r[1] for r in results) == 10
    alerts = await rig.alerts()
    assert sorted(a["contract_id"] for a in alerts) == sorted(str(c) for c in contracts)
    assert len(await eventually(lambda: _alert_events(rig, 10))) == 10


async def test_the_clock_evaluates_rules_made_today_and_skips_drafts(rig):
    active = await rig.add_contract(planned_hours=40)
    draft = await rig.add_contract(planned_hours=40, lifecycle="draft")
    await rig.consume(active, 30)
    await rig.consume(draft, 30)
    assert await rig.tick(utc("2026-01-20T08:00:00")) == (1, 0)  # drafts are not clocked
    # A rule created after today's tick: the clock looks at its contracts again today.
    await rig.create_rule(name="70", stages=[70], overage=False)
    assert await rig.tick() == (1, 1)
    assert [(a["contract_id"], a["stage"]) for a in await rig.alerts()] == [(str(active), "70")]


async def test_day_stages_fire_once_per_term_across_periods_and_rearm_when_the_end_moves(rig):
    contract_id = await rig.add_contract(start_date=D(2026, 10, 1), end_date=D(2026, 12, 15))
    await rig.create_rule(name="end", trigger="days_before_end", stages=[30], overage=False)
    assert await rig.tick(utc("2026-11-15T12:00:00")) == (1, 1)  # 30 days before, November
    assert await rig.tick(utc("2026-12-01T12:00:00")) == (1, 0)  # a new period: still once
    # The contract is extended to 15 January: the day stages are armed again.
    extended = rig.contract_event(
        contract_id,
        start_date=D(2026, 10, 1),
        end_date=D(2027, 1, 15),
        event_type=EventType.CONTRACT_UPDATED,
    )
    await rig.publish(extended)
    await eventually(lambda: _period_known(rig, contract_id, "2027-01-01"))
    assert await rig.tick(utc("2026-12-15T12:00:00")) == (1, 0)  # 31 days before
    assert await rig.tick(utc("2026-12-16T12:00:00")) == (1, 1)
    assert summary(await rig.alerts(contract_id=contract_id)) == [
        ("30d", "days_before_end", "2026-11-01", 30),
        ("30d", "days_before_end", "2026-12-01", 30),
    ]


async def _period_known(rig, contract_id, start):
    body = (await rig.api.get(f"/v1/contracts/{contract_id}/totals")).json()
    return any(p["start_date"] == start for p in body["periods"])


async def test_one_contract_whose_evaluation_raises_does_not_stop_the_others(rig):
    """A contract whose time zone PostgreSQL knows and Python does not ("UTC+3", a POSIX
    zone): its evaluation raises. It used to abort the whole batch, every tick, so no
    contract of that batch or after it was ever clocked again. It is set aside for the day
    (the reason shown with its totals, counted); the others are evaluated."""
    good = [await rig.add_contract(end_date=D(2026, 4, 5)) for _ in range(6)]
    poison = await rig.add_contract(end_date=D(2026, 4, 5), timezone="UTC+3")
    await rig.create_rule(name="end", trigger="days_before_end", stages=[30], overage=False)

    assert await rig.tick(utc("2026-03-06T12:00:00")) == (7, 6)
    assert sorted(a["contract_id"] for a in await rig.alerts()) == sorted(map(str, good))
    totals = (await rig.api.get(f"/v1/contracts/{poison}/totals")).json()
    assert totals["clock_error"].startswith("ZoneInfoNotFoundError: ")
    assert totals["clock_error_at"] is not None
    for contract_id in good:
        body = (await rig.api.get(f"/v1/contracts/{contract_id}/totals")).json()
        assert body["clock_error"] is None
    metrics = (await rig.api.get("/metrics")).text
    assert "burnrate_rules_clock_set_aside_total 1.0" in metrics
    # Set aside for the day: the next tick the same day does not try it again.
    assert await rig.tick(utc("2026-03-06T13:00:00")) == (0, 0)


async def test_the_clock_survives_losing_its_database_connection_mid_tick(rig, monkeypatch):
    """Its connection is terminated in the middle of a batch: that batch is rolled back and
    evaluated again at the next tick, each contract's alert raised once."""
    import asyncpg
    from burnrate_rules.service import evaluation

    contracts = [await rig.add_contract(end_date=D(2026, 4, 5)) for _ in range(6)]
    await rig.create_rule(name="end", trigger="days_before_end", stages=[30], overage=False)
    original = evaluation.evaluate
    calls = []

    async def evaluate(conn, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            admin = await asyncpg.connect(rig.isolation.database_url)
            try:
                await admin.execute("SELECT pg_terminate_backend($1)", conn.get_server_pid())
            finally:
                await admin.close()
        return await original(conn, *args, **kwargs)

    monkeypatch.setattr(evaluation, "evaluate", evaluate)
    with pytest.raises((asyncpg.PostgresConnectionError, asyncpg.InterfaceError)):
        await rig.tick(utc("2026-03-06T12:00:00"))
    assert await rig.tick() == (6, 6)
    alerts = await rig.alerts()
    assert sorted(a["contract_id"] for a in alerts) == sorted(map(str, contracts))
    assert await rig.tick() == (0, 0)
    assert len(await eventually(lambda: _alert_events(rig, 6))) == 6


async def test_the_daily_clock_loop_beats_its_heartbeat(rig):
    [health] = [h for name, h in rig.runtime.loops.health().items() if "daily_clock" in name]
    assert health.last_beat is not None and health.running
    ready = (await rig.api.get("/readyz")).json()
    assert ready["checks"][f"loop:{health.name}"] is True


async def test_a_time_zone_postgresql_does_not_know_stops_no_other_contract(rig):
    """The clock picks the contracts due today in SQL, by each one's time zone: one zone
    PostgreSQL does not know (its tz data older than the one the contracts service checked
    with, or a replica written by hand) made that query fail for every contract, at every
    tick. Such a contract is left out of the clock, with the reason shown."""
    good = [await rig.add_contract(end_date=D(2026, 4, 5)) for _ in range(3)]
    unknown = await rig.add_contract(end_date=D(2026, 4, 5), timezone="Mars/Olympus_Mons")
    await rig.create_rule(name="end", trigger="days_before_end", stages=[30], overage=False)

    assert await rig.tick(utc("2026-03-06T12:00:00")) == (3, 3)
    assert sorted(a["contract_id"] for a in await rig.alerts()) == sorted(map(str, good))
    totals = (await rig.api.get(f"/v1/contracts/{unknown}/totals")).json()
    assert totals["clock_error"] == (
        'time zone "Mars/Olympus_Mons" is not known to PostgreSQL: the daily clock leaves '
        "this contract out until its time zone changes"
    )
    # A correction of the zone brings it back.
    fixed = rig.contract_event(
        unknown, end_date=D(2026, 4, 5), event_type=EventType.CONTRACT_UPDATED
    )
    await rig.publish(fixed)

    async def corrected():
        body = (await rig.api.get(f"/v1/contracts/{unknown}/totals")).json()
        return body["clock_error"] is None

    await eventually(corrected)
    assert await rig.tick() == (1, 1)
