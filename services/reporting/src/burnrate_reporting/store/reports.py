"""The reads of one contract period, of the delivery report over many, and of the customer
roll-up."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
from burnrate_common.db import Connection


async def customer_known(conn: Connection, customer_id: uuid.UUID) -> bool:
    """Known by its own event or, before that arrives, by one of its contracts; not once
    deleted."""
    return bool(
        await conn.fetchval(
            """SELECT (EXISTS (SELECT 1 FROM customers WHERE id = $1)
                       OR EXISTS (SELECT 1 FROM contracts WHERE customer_id = $1))
                  AND NOT EXISTS (SELECT 1 FROM deleted_customers WHERE id = $1)""",
            customer_id,
        )
    )


async def get_contract(
    conn: Connection, contract_id: uuid.UUID, now: dt.datetime
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT c.id, c.customer_id, cu.name AS customer_name, c.code, c.title, c.start_date,
                  c.end_date, c.timezone, ($2::timestamptz AT TIME ZONE c.timezone)::date AS local_today
           FROM contracts c LEFT JOIN customers cu ON cu.id = c.customer_id
           WHERE c.id = $1""",
        contract_id,
        now,
    )


async def get_periods(conn: Connection, contract_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT start_date, end_date, planned_seconds FROM contract_periods
           WHERE contract_id = $1 ORDER BY start_date""",
        contract_id,
    )


async def period_totals(
    conn: Connection, contract_id: uuid.UUID, period_start: dt.date
) -> asyncpg.Record:
    row = await conn.fetchrow(
        """SELECT coalesce(sum(executed_seconds), 0)::bigint AS executed_seconds,
                  coalesce(sum(worklogs), 0)::bigint AS worklogs,
                  coalesce(sum(outside_dates_seconds), 0)::bigint AS outside_dates_seconds
           FROM consumption WHERE contract_id = $1 AND period_start = $2""",
        contract_id,
        period_start,
    )
    assert row is not None  # an aggregate without GROUP BY always yields one row
    return row


# Groups whose worklogs were all corrected away (sum and count back to zero) are left out.
async def executed_by_team(
    conn: Connection, contract_id: uuid.UUID, period_start: dt.date
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT team, sum(executed_seconds)::bigint AS executed_seconds
           FROM consumption WHERE contract_id = $1 AND period_start = $2
           GROUP BY team HAVING sum(executed_seconds) <> 0 OR sum(worklogs) <> 0
           ORDER BY team""",
        contract_id,
        period_start,
    )


async def executed_by_activity(
    conn: Connection, contract_id: uuid.UUID, period_start: dt.date
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT activity, sum(executed_seconds)::bigint AS executed_seconds
           FROM consumption WHERE contract_id = $1 AND period_start = $2
           GROUP BY activity HAVING sum(executed_seconds) <> 0 OR sum(worklogs) <> 0
           ORDER BY activity""",
        contract_id,
        period_start,
    )


async def executed_by_location(
    conn: Connection, contract_id: uuid.UUID, period_start: dt.date
) -> list[asyncpg.Record]:
    """One period's sums per location (``''``: not said, first), most hours first."""
    return await conn.fetch(
        """SELECT location, executed_seconds, worklogs FROM consumption_by_location
           WHERE contract_id = $1 AND period_start = $2
             AND (executed_seconds <> 0 OR worklogs <> 0)
           ORDER BY executed_seconds DESC, location""",
        contract_id,
        period_start,
    )


async def outside_dates_worklogs(
    conn: Connection, contract_id: uuid.UUID, period_start: dt.date
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id, author, team, activity, started_at, seconds, ticket
           FROM outside_dates_worklogs
           WHERE contract_id = $1 AND period_start = $2 AND outside_dates AND NOT deleted
           ORDER BY started_at, id""",
        contract_id,
        period_start,
    )


async def period_alerts(
    conn: Connection, contract_id: uuid.UUID, period_start: dt.date
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT stage, trigger, rule_name, raised_at FROM alerts
           WHERE contract_id = $1 AND period_start = $2 ORDER BY raised_at, alert_id""",
        contract_id,
        period_start,
    )


# --- the delivery report over a range of periods ------------------------------------------


async def get_contract_terms(conn: Connection, contract_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT period, planned_hours, teams, lifecycle, currency, rollover_policy,
                  allowance_policy
           FROM contracts WHERE id = $1""",
        contract_id,
    )


async def periods_with_totals(conn: Connection, contract_id: uuid.UUID) -> list[asyncpg.Record]:
    """Every period of the contract with its executed totals (the forecast needs them all)."""
    return await conn.fetch(
        """SELECT cp.start_date, cp.end_date, cp.planned_seconds,
                  coalesce(pt.executed_seconds, 0) AS executed_seconds,
                  coalesce(pt.worklogs, 0) AS worklogs,
                  coalesce(pt.outside_dates_seconds, 0) AS outside_dates_seconds
           FROM contract_periods cp
           LEFT JOIN period_totals pt
                  ON pt.contract_id = cp.contract_id AND pt.period_start = cp.start_date
           WHERE cp.contract_id = $1 ORDER BY cp.start_date""",
        contract_id,
    )


async def team_by_period(
    conn: Connection, contract_id: uuid.UUID, first: dt.date, last: dt.date
) -> list[asyncpg.Record]:
    """Executed seconds per period start and team, for periods starting in [first, last]."""
    return await conn.fetch(
        """SELECT period_start, team, sum(executed_seconds)::bigint AS executed_seconds
           FROM consumption
           WHERE contract_id = $1 AND period_start BETWEEN $2 AND $3
           GROUP BY period_start, team
           HAVING sum(executed_seconds) <> 0 OR sum(worklogs) <> 0
           ORDER BY period_start, team""",
        contract_id,
        first,
        last,
    )


async def activity_totals(
    conn: Connection, contract_id: uuid.UUID, first: dt.date, last: dt.date
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT activity AS name, sum(executed_seconds)::bigint AS executed_seconds,
                  sum(worklogs)::bigint AS worklogs
           FROM consumption
           WHERE contract_id = $1 AND period_start BETWEEN $2 AND $3
           GROUP BY activity HAVING sum(executed_seconds) <> 0 OR sum(worklogs) <> 0
           ORDER BY executed_seconds DESC, activity""",
        contract_id,
        first,
        last,
    )


async def person_totals(
    conn: Connection, contract_id: uuid.UUID, first: dt.date, last: dt.date
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT author AS name, sum(executed_seconds)::bigint AS executed_seconds,
                  sum(worklogs)::bigint AS worklogs
           FROM consumption_by_author
           WHERE contract_id = $1 AND period_start BETWEEN $2 AND $3
           GROUP BY author HAVING sum(executed_seconds) <> 0 OR sum(worklogs) <> 0
           ORDER BY executed_seconds DESC, author""",
        contract_id,
        first,
        last,
    )


async def location_by_period(
    conn: Connection, contract_id: uuid.UUID, first: dt.date, last: dt.date
) -> list[asyncpg.Record]:
    """Sums per period start and location (``''``: not said), for periods starting in
    [first, last], most hours first within a period."""
    return await conn.fetch(
        """SELECT period_start, location, executed_seconds, worklogs
           FROM consumption_by_location
           WHERE contract_id = $1 AND period_start BETWEEN $2 AND $3
             AND (executed_seconds <> 0 OR worklogs <> 0)
           ORDER BY period_start, executed_seconds DESC, location""",
        contract_id,
        first,
        last,
    )


async def outside_dates_in_range(
    conn: Connection, contract_id: uuid.UUID, first: dt.date, last: dt.date
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id, period_start, author, team, activity, started_at, seconds, ticket
           FROM outside_dates_worklogs
           WHERE contract_id = $1 AND period_start BETWEEN $2 AND $3
             AND outside_dates AND NOT deleted
           ORDER BY started_at, id""",
        contract_id,
        first,
        last,
    )


async def alerts_in_range(
    conn: Connection, contract_id: uuid.UUID, first: dt.date, last: dt.date
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT period_start, stage, trigger, rule_name, raised_at FROM alerts
           WHERE contract_id = $1 AND period_start BETWEEN $2 AND $3
           ORDER BY raised_at, alert_id""",
        contract_id,
        first,
        last,
    )


async def customer_name(conn: Connection, customer_id: uuid.UUID) -> str | None:
    name: str | None = await conn.fetchval("SELECT name FROM customers WHERE id = $1", customer_id)
    return name


async def customer_roll_up(
    conn: Connection,
    customer_id: uuid.UUID,
    first: dt.date,
    last: dt.date,
    now: dt.datetime,
) -> list[asyncpg.Record]:
    """Per contract of the customer, the sums over its periods starting in [first, last]."""
    return await conn.fetch(
        """SELECT c.id, c.code, c.title, c.start_date, c.end_date,
                  count(cp.start_date)::int AS periods,
                  coalesce(sum(cp.planned_seconds), 0)::bigint AS planned_seconds,
                  coalesce(sum(pt.executed_seconds), 0)::bigint AS executed_seconds,
                  coalesce(sum(greatest(coalesce(pt.executed_seconds, 0)
                                        - cp.planned_seconds, 0)), 0)::bigint
                      AS overage_seconds,
                  coalesce(sum(greatest(cp.planned_seconds - coalesce(pt.executed_seconds, 0), 0))
                           FILTER (WHERE cp.end_date < ($4::timestamptz AT TIME ZONE c.timezone)::date),
                           0)::bigint AS unused_seconds,
                  coalesce(sum(pt.outside_dates_seconds), 0)::bigint AS outside_dates_seconds,
                  coalesce(sum(pt.worklogs), 0)::bigint AS worklogs
           FROM contracts c
           LEFT JOIN contract_periods cp
                  ON cp.contract_id = c.id AND cp.start_date BETWEEN $2 AND $3
           LEFT JOIN period_totals pt
                  ON pt.contract_id = c.id AND pt.period_start = cp.start_date
           WHERE c.customer_id = $1
           GROUP BY c.id ORDER BY c.created_at, c.id""",
        customer_id,
        first,
        last,
        now,
    )
