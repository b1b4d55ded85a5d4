"""The precomputed contract screen across local midnights, period ends and DST changes, and
the event log's trimming and compaction — fed by events over the real broker, read back
through the API and from the real PostgreSQL tables."""

import calendar
import datetime as dt
import uuid

import pytest
from burnrate_common.clock import FixedClock
from burnrate_common.events import (
    ConsumptionRecorded,
    ContractChanged,
    ContractPeriod,
    CustomerChanged,
    EventType,
    Worklog,
    WorklogsChanged,
    new_event,
)
from burnrate_reporting.bootstrap import build
from burnrate_reporting.service import upkeep
from burnrate_reporting.service.rebuild import rebuild
from burnrate_reporting.settings import ReportingSettings
from burnrate_testing import eventually, publish, serve

pytestmark = pytest.mark.integration

H = 3600
D = dt.date
UTC = dt.UTC


def _add_months(anchor, months):
    year, month = divmod(anchor.month - 1 + months, 12)
    year, month = anchor.year + year, month + 1
    return D(year, month, min(anchor.day, calendar.monthrange(year, month)[1]))


def contract(
    contract_id,
    customer_id,
    code,
    *,
    start,
    end,
    timezone,
    hours=40,
    event_type=EventType.CONTRACT_CREATED,
):
    periods, n = [], 0
    while (first := _add_months(start, n)) <= end:
        last = min(_add_months(start, n + 1) - dt.timedelta(days=1), end)
        periods.append(ContractPeriod(start_date=first, end_date=last, planned_seconds=hours * H))
        n += 1
    payload = ContractChanged(
        id=contract_id,
        customer_id=customer_id,
        code=code,
        title=f"{code} support",
        owner_email="owner@msp.example",
        start_date=start,
        end_date=end,
        timezone=timezone,
        period="monthly",
        planned_hours=hours,
        teams=["servicedesk"],
        work_accounts=[],
        periods=periods,
    )
    return new_event(event_type, payload, key=contract_id, producer="contracts")


def delta(contract_id, period_start, seconds, *, author="tech1", worklogs=1):
    payload = ConsumptionRecorded(
        contract_id=contract_id,
        period_start=period_start,
        period_end=_add_months(period_start, 1) - dt.timedelta(days=1),
        team="servicedesk",
        activity="phone_support",
        delta_seconds=seconds,
        delta_worklogs=worklogs,
        author=author,
    )
    return new_event(
        EventType.CONSUMPTION_RECORDED, payload, key=contract_id, producer="worklog-ingest"
    )


@pytest.fixture
def clock():
    return FixedClock(dt.datetime(2026, 3, 15, 12, 0, tzinfo=UTC))


@pytest.fixture
def definition(isolation, clock):
    # The refresh loop runs once at start-up, then not during the test: the test runs it.
    settings = isolation.settings(ReportingSettings, reporting_screen_refresh_seconds=3600)
    return build(settings, clock=clock)


async def handled(api, count):
    async def check():
        async with api.app.state.runtime.pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM event_log") == count
        return True

    await eventually(check)


async def screen(api):
    """Every contract by code; the same items as the percent order gives (the two read the
    current periods at different points of the query)."""
    response = await api.get("/v1/contracts", params={"sort": "code"})
    assert response.status_code == 200, response.text
    by_code = {i["code"]: i for i in response.json()["items"]}
    by_percent = (await api.get("/v1/contracts", params={"sort": "-percent"})).json()["items"]
    assert {i["code"]: i for i in by_percent} == by_code
    return by_code


async def screen_rows(api):
    async with api.app.state.runtime.pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT c.code, s.local_date, s.valid_from, s.valid_until, s.period_start
               FROM contract_screen s JOIN contracts c ON c.id = s.contract_id"""
        )
    return {r["code"]: r for r in rows}


async def refresh(api, clock):
    async with api.app.state.runtime.pool.acquire() as conn:
        return await upkeep.refresh_screen(conn, clock.now())


async def same_screen_every_way(api, clock):
    """The screen with the rows as they are (maybe stale), refreshed, and without any row
    (every contract computed at read time): one and the same answer."""
    as_is = await screen(api)
    by_status = {
        status: [
            i["code"]
            for i in (
                await api.get("/v1/contracts", params={"status": status, "sort": "code"})
            ).json()["items"]
        ]
        for status in ("active", "expiring", "expired", "exhausted", "not_started")
    }
    await refresh(api, clock)
    assert await screen(api) == as_is
    async with api.app.state.runtime.pool.acquire() as conn:
        saved = await conn.fetch("SELECT * FROM contract_screen")
        await conn.execute("DELETE FROM contract_screen")
        try:
            assert await screen(api) == as_is
        finally:
            await conn.copy_records_to_table("contract_screen", records=saved)
    for status, codes in by_status.items():
        page = (await api.get("/v1/contracts", params={"status": status, "sort": "code"})).json()
        assert [i["code"] for i in page["items"]] == codes
    return as_is, by_status


async def test_the_screen_across_local_midnights_period_ends_and_dst(isolation, definition, clock):
    acme = uuid.uuid4()
    ams_end, month, akl_end = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    events = [
        new_event(
            EventType.CUSTOMER_CREATED,
            CustomerChanged(id=acme, name="Acme", contacts=[]),
            key=acme,
            producer="contracts",
        ),
        # Ends on 29 March, the day Amsterdam moves to summer time (23 hours long).
        contract(
            ams_end,
            acme,
            "AMS-END",
            start=D(2026, 1, 1),
            end=D(2026, 3, 29),
            timezone="Europe/Amsterdam",
        ),
        # Monthly, all year: its period changes at Amsterdam's midnight on 1 April.
        contract(
            month,
            acme,
            "AMS-MONTH",
            start=D(2026, 1, 1),
            end=D(2026, 12, 31),
            timezone="Europe/Amsterdam",
        ),
        # Ends on 5 April, the day Auckland leaves summer time (25 hours long).
        contract(
            akl_end,
            acme,
            "AKL-END",
            start=D(2026, 1, 1),
            end=D(2026, 4, 5),
            timezone="Pacific/Auckland",
        ),
        delta(month, D(2026, 3, 1), 10 * H),
        delta(month, D(2026, 4, 1), 5 * H, worklogs=2),
        delta(akl_end, D(2026, 4, 1), 40 * H),
    ]
    async with serve(definition) as api:
        await publish(isolation.amqp_url, isolation.amqp_prefix, *events)
        await handled(api, len(events))

        # 23:59:59 on 29 March in Amsterdam (summer time since 01:00 UTC).
        clock.set(dt.datetime(2026, 3, 29, 21, 59, 59, tzinfo=UTC))
        before, statuses = await same_screen_every_way(api, clock)
        assert (before["AMS-END"]["status"], before["AMS-END"]["days_left"]) == ("expiring", 1)
        assert before["AMS-END"]["current_period"]["end_date"] == "2026-03-29"
        assert before["AMS-MONTH"]["current_period"]["start_date"] == "2026-03-01"
        assert before["AMS-MONTH"]["current_period"]["executed_seconds"] == 10 * H
        rows = await screen_rows(api)
        # The 29th began at 23:00 UTC the day before (winter time) and ends at 22:00 UTC.
        assert (rows["AMS-END"]["valid_from"], rows["AMS-END"]["valid_until"]) == (
            dt.datetime(2026, 3, 28, 23, 0, tzinfo=UTC),
            dt.datetime(2026, 3, 29, 22, 0, tzinfo=UTC),
        )

        # Local midnight: expired at once, before the refresh task has run.
        clock.set(dt.datetime(2026, 3, 29, 22, 0, tzinfo=UTC))
        stale = await screen(api)
        assert (await screen_rows(api))["AMS-END"]["local_date"] == D(2026, 3, 29)
        assert stale["AMS-END"] | {"days_left": None} == before["AMS-END"] | {
            "status": "expired",
            "days_left": None,
            "current_period": None,
        }
        assert stale["AMS-END"]["days_left"] == 0
        after, statuses = await same_screen_every_way(api, clock)
        assert after == stale and statuses["expired"] == ["AMS-END"]
        assert (await screen_rows(api))["AMS-END"]["local_date"] == D(2026, 3, 30)
        assert await refresh(api, clock) == 0  # nothing left to do until the next midnight

        # The month ends at 22:00 UTC on 31 March (summer time): April's period and figures.
        clock.set(dt.datetime(2026, 3, 31, 21, 59, 59, tzinfo=UTC))
        await same_screen_every_way(api, clock)
        clock.set(dt.datetime(2026, 3, 31, 22, 0, tzinfo=UTC))
        april = (await screen(api))["AMS-MONTH"]
        assert april["current_period"] | {"forecast_hours": None} == {
            "start_date": "2026-04-01",
            "end_date": "2026-04-30",
            "planned_hours": 40.0,
            "executed_hours": 5.0,
            "remaining_hours": 35.0,
            "percent": 12.5,
            "overage_hours": 0.0,
            "planned_seconds": 40 * H,
            "executed_seconds": 5 * H,
            "forecast_hours": None,
            # 5 h on the first of 30 days, plus 29 days at the rate of January to March (10 h
            # in 90 days): the delivery report's forecast of April.
            "forecast_seconds": 5 * H + 29 * 10 * H // 90,
            "forecast_basis": "mean_daily_rate_of_last_full_periods",
        }
        assert (april["status"], april["days_left"]) == ("active", 275)
        assert (await same_screen_every_way(api, clock))[0]["AMS-MONTH"] == april

        # Auckland's 5 April has 25 hours (summer time ends at 03:00): 23:30 local is still
        # the 5th, although 24 hours have passed since its midnight.
        clock.set(dt.datetime(2026, 4, 5, 11, 30, tzinfo=UTC))
        last_day, statuses = await same_screen_every_way(api, clock)
        assert (last_day["AKL-END"]["status"], last_day["AKL-END"]["days_left"]) == (
            "exhausted",
            1,
        )
        assert statuses["exhausted"] == ["AKL-END"]
        rows = await screen_rows(api)
        assert rows["AKL-END"]["valid_until"] - rows["AKL-END"]["valid_from"] == dt.timedelta(
            hours=25
        )
        clock.set(dt.datetime(2026, 4, 5, 12, 0, tzinfo=UTC))
        ended, statuses = await same_screen_every_way(api, clock)
        assert (ended["AKL-END"]["status"], ended["AKL-END"]["current_period"]) == (
            "expired",
            None,
        )
        assert statuses["expired"] == ["AKL-END", "AMS-END"]

        # A clock set back (a test, a bad NTP step) is caught the same way.
        clock.set(dt.datetime(2026, 3, 15, 12, 0, tzinfo=UTC))
        back, statuses = await same_screen_every_way(api, clock)
        assert back["AMS-END"]["status"] == "expiring" and statuses["expired"] == []


async def test_a_contract_change_shows_at_once_and_its_row_follows(isolation, definition, clock):
    customer, contract_id = uuid.uuid4(), uuid.uuid4()
    created = contract(
        contract_id,
        customer,
        "CHG",
        start=D(2026, 1, 1),
        end=D(2026, 12, 31),
        timezone="Europe/Amsterdam",
    )
    shortened = contract(
        contract_id,
        customer,
        "CHG",
        start=D(2026, 1, 1),
        end=D(2026, 3, 10),
        timezone="Europe/Amsterdam",
        event_type=EventType.CONTRACT_UPDATED,
    )
    async with serve(definition) as api:
        await publish(isolation.amqp_url, isolation.amqp_prefix, created)
        await handled(api, 1)
        await refresh(api, clock)
        assert (await screen(api))["CHG"]["status"] == "active"
        await publish(isolation.amqp_url, isolation.amqp_prefix, shortened)
        await handled(api, 2)
        # The handler wrote the row at the database's clock, not the service's: the read
        # computes this contract itself until the task refreshes it.
        assert (await screen(api))["CHG"]["status"] == "expired"
        assert await refresh(api, clock) == 1
        assert (await screen(api))["CHG"]["status"] == "expired"
        assert (await screen_rows(api))["CHG"]["local_date"] == D(2026, 3, 15)


# --- the event log: trimmed worklog events, compacted consumption ------------------------


def worklogs_event(contract_id, outside_flags):
    worklogs = [
        Worklog(
            id=uuid.uuid4(),
            source="jira",
            external_id=f"WL-{n}",
            contract_id=contract_id,
            period_start=D(2026, 3, 1),
            author="tech1",
            team="servicedesk",
            activity="phone_support",
            started_at=dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
            seconds=H,
            outside_dates=outside,
        )
        for n, outside in enumerate(outside_flags)
    ]
    return new_event(
        EventType.WORKLOG_RECORDED,
        WorklogsChanged(contract_id=contract_id, worklogs=worklogs),
        key=contract_id,
        producer="worklog-ingest",
    )


async def test_compacted_event_log_rebuilds_the_same_read_models(isolation, definition):
    customer, k, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    march, april = D(2026, 3, 1), D(2026, 4, 1)
    events = [
        contract(
            k, customer, "K", start=D(2026, 1, 1), end=D(2026, 12, 31), timezone="Europe/Amsterdam"
        ),
        worklogs_event(k, [False] * 50 + [True]),
        *(delta(k, march, H, author=f"tech{n % 3}") for n in range(12)),
        delta(k, march, -H, author="tech0", worklogs=-1),
        delta(k, april, 2 * H, author=None),
        # Corrected back to zero: the rows exist in the live tables, so they must come back.
        delta(other, march, 3 * H),
        delta(other, march, -3 * H, worklogs=-1),
    ]
    async with serve(definition) as api:
        await publish(isolation.amqp_url, isolation.amqp_prefix, *events)
        await handled(api, len(events))
        report = (await api.get(f"/v1/contracts/{k}/report")).json()
        async with api.app.state.runtime.pool.acquire() as conn:
            logged = await conn.fetchval(
                """SELECT jsonb_array_length(envelope -> 'data' -> 'worklogs') FROM event_log
                   WHERE type = 'worklog.recorded'"""
            )
            assert logged == 1  # only the worklog outside the dates is kept

            # The events occurred just now: a horizon in the future takes them all.
            removed, written = await upkeep.compact_event_log(
                conn, dt.datetime.now(UTC) + dt.timedelta(days=1), after_days=1
            )
            assert (removed, written) == (16, 3)  # one per contract period
            assert await conn.fetchval("SELECT count(*) FROM event_log") == 1 + 1 + 3
            # Compacting again changes nothing but the ids.
            assert await upkeep.compact_event_log(
                conn, dt.datetime.now(UTC) + dt.timedelta(days=1), after_days=1
            ) == (3, 3)

        result = await rebuild(definition)
        assert result["unlogged_events"] == 0
        assert set(result["differences"].values()) == {0}, result
        applied = await rebuild(definition, apply=True)
        assert applied["events"] == 5
        assert (await api.get(f"/v1/contracts/{k}/report")).json() == report
        assert set((await rebuild(definition))["differences"].values()) == {0}
