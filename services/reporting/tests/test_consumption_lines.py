"""``consumption.recorded`` version 2 into the read models: all lines of one event in one
statement, lines sharing a row summed first; version 1 still read the same way."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from burnrate_common import db
from burnrate_common.events import (
    ConsumptionLine,
    ConsumptionRecorded,
    EventType,
    PeriodConsumptionRecorded,
    new_event,
)
from burnrate_common.runtime import migrate
from burnrate_reporting import handlers
from burnrate_reporting.bootstrap import build
from burnrate_reporting.settings import ReportingSettings

pytestmark = pytest.mark.integration

MARCH = (dt.date(2026, 3, 1), dt.date(2026, 3, 31))


@pytest.fixture
def definition(isolation):
    return build(isolation.settings(ReportingSettings))


@pytest.fixture
async def pool(definition, isolation):
    await migrate(definition)
    pool = await db.create_pool(isolation.database_url, definition.settings.db_schema)
    yield pool
    await pool.close()


@pytest.fixture
def apply(definition, pool):
    async def apply(payload):
        event = new_event(
            EventType.CONSUMPTION_RECORDED, payload, key=payload.contract_id, producer="test"
        )
        async with pool.acquire() as conn, conn.transaction():
            await handlers.on_consumption_recorded(definition.deps, conn, event, event.payload())

    return apply


def line(team, activity, author, seconds, worklogs=1, outside=0):
    return ConsumptionLine(
        team=team,
        activity=activity,
        author=author,
        delta_seconds=seconds,
        delta_worklogs=worklogs,
        delta_outside_dates_seconds=outside,
    )


async def test_the_lines_of_one_event_land_in_the_three_sums(pool, apply):
    contract_id = uuid.uuid4()
    await apply(
        PeriodConsumptionRecorded(
            contract_id=contract_id,
            period_start=MARCH[0],
            period_end=MARCH[1],
            lines=[
                # two people on the same team and activity: one row of `consumption`
                line("servicedesk", "phone", "tech1", 3600, 2),
                line("servicedesk", "phone", "tech2", 1800),
                # one person on two teams: one row of `consumption_by_author`
                line("field", "repair", "tech1", 900, outside=900),
                line("field", "phone", None, 60),
            ],
        ),
    )
    # Version 1 (one line) adds to the same rows.
    await apply(
        ConsumptionRecorded(
            contract_id=contract_id,
            period_start=MARCH[0],
            period_end=MARCH[1],
            team="servicedesk",
            activity="phone",
            delta_seconds=-1800,
            delta_worklogs=-1,
            author="tech2",
        ),
    )
    async with pool.acquire() as conn:
        groups = await conn.fetch(
            """SELECT team, activity, executed_seconds, worklogs, outside_dates_seconds
               FROM consumption WHERE contract_id = $1 ORDER BY team, activity""",
            contract_id,
        )
        period = await conn.fetchrow(
            """SELECT executed_seconds, worklogs, outside_dates_seconds FROM period_totals
               WHERE contract_id = $1 AND period_start = $2""",
            contract_id,
            MARCH[0],
        )
        people = await conn.fetch(
            """SELECT author, executed_seconds, worklogs FROM consumption_by_author
               WHERE contract_id = $1 ORDER BY author""",
            contract_id,
        )
    assert [tuple(r) for r in groups] == [
        ("field", "phone", 60, 1, 0),
        ("field", "repair", 900, 1, 900),
        ("servicedesk", "phone", 3600, 2, 0),
    ]
    assert tuple(period) == (4560, 4, 900)
    assert [tuple(r) for r in people] == [
        ("tech1", 4500, 3),
        ("tech2", 0, 0),
        ("unknown", 60, 1),
    ]
