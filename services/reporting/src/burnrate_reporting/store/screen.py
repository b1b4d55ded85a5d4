"""The contract screen: its status rule and sorts in SQL, and the one-statement page reads."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from typing import Any

import asyncpg
from burnrate_common.db import Connection

from burnrate_reporting.domain.forecast import HISTORY_PERIODS

#: The rule of ``burnrate_common.contract_status.derive_status`` (lifecycle "active": the
#: screen has no drafts nor closed contracts) in SQL, so the list can filter and paginate;
#: tested against ``burnrate_testing.CONTRACT_STATUS_CASES``. {days}: the parameter holding
#: ``expiring_within_days`` (expiring: the end at most that many days after today).
STATUS_SQL = """CASE WHEN local_today < start_date THEN 'not_started'
                     WHEN local_today > end_date THEN 'expired'
                     WHEN planned_seconds IS NOT NULL AND executed_seconds >= planned_seconds
                         THEN 'exhausted'
                     WHEN end_date - local_today BETWEEN 0 AND {days} THEN 'expiring'
                     ELSE 'active' END"""

#: Sort name → (SQL expression over the screen's columns, its type in the cursor). The key is
#: never NULL, so (key, id) is a total order and the cursor carries the last row's key.
SORTS: dict[str, tuple[str, str]] = {
    "created": ("created_at", "timestamptz"),
    "code": ("code", "text"),
    "customer": ("coalesce(customer_name, '')", "text"),
    "end_date": ("end_date", "date"),
    "percent": (
        "coalesce(executed_seconds::numeric * 100 / nullif(planned_seconds, 0), -1)",
        "numeric",
    ),
    "executed": ("executed_seconds", "bigint"),
}


#: Joined to contracts ``c``: each one's local "today", current period and its executed
#: seconds. The precomputed row of ``contract_screen`` is used while $1 falls on the local
#: date it was computed for, where it equals what the per-contract computation gives (its
#: executed seconds are kept by the trigger on `period_totals`); otherwise (a local midnight
#: passed before the refresh task ran, a contract just changed, the clock was set back) that
#: one contract is computed here, with a probe of `period_totals`, so the read is right by
#: construction and only the rows not refreshed yet cost a zone conversion and a probe.
_CURRENT_PERIOD = """
    LEFT JOIN contract_screen s
           ON s.contract_id = c.id AND s.valid_from <= $1 AND $1 < s.valid_until
    LEFT JOIN LATERAL (
        SELECT t.local_today, lp.start_date, lp.end_date, lp.planned_seconds,
               coalesce((SELECT pt.executed_seconds FROM period_totals pt
                         WHERE pt.contract_id = c.id AND pt.period_start = lp.start_date),
                        0) AS executed_seconds
        FROM (SELECT ($1::timestamptz AT TIME ZONE c.timezone)::date AS local_today) t
        -- The last period starting on or before today, if today is in it: one index probe.
        LEFT JOIN LATERAL (
            SELECT p.start_date, p.end_date, p.planned_seconds FROM contract_periods p
            WHERE p.contract_id = c.id AND p.start_date <= t.local_today
            ORDER BY p.start_date DESC LIMIT 1) lp ON lp.end_date >= t.local_today
        WHERE s.contract_id IS NULL) late ON true
    CROSS JOIN LATERAL (
        SELECT coalesce(s.local_date, late.local_today) AS local_today,
               CASE WHEN s.contract_id IS NULL THEN late.start_date ELSE s.period_start END
                   AS period_start,
               CASE WHEN s.contract_id IS NULL THEN late.end_date ELSE s.period_end END
                   AS period_end,
               CASE WHEN s.contract_id IS NULL THEN late.planned_seconds
                    ELSE s.planned_seconds END AS planned_seconds,
               CASE WHEN s.contract_id IS NULL THEN late.executed_seconds
                    ELSE s.executed_seconds END AS executed_seconds) cp"""
_PERIOD_COLUMNS = """cp.local_today, cp.period_start, cp.period_end, cp.planned_seconds,
                     cp.executed_seconds"""
SCREEN_FROM = f"FROM contracts c {_CURRENT_PERIOD}"
_CONTRACT_COLUMNS = """c.id, c.customer_id, c.code, c.title, c.start_date, c.end_date,
                       c.timezone, c.created_at, c.lifecycle"""

#: The contracts (``c``, filtered by ``{where}``) whose current period's forecast exceeds
#: its plan: the rule of ``domain.forecast.current_period_forecast`` in SQL (executed so far
#: plus, for the days after today, the daily rate of the last three periods ended before
#: today, or without one the period's own pace), tested against it. $1: now.
OVER_FORECAST_IDS = f"""
    SELECT c.id FROM contracts c {_CURRENT_PERIOD}
    CROSS JOIN LATERAL (
        SELECT coalesce(sum(coalesce(pt.executed_seconds, 0)), 0)::numeric AS executed,
               coalesce(sum(h.end_date - h.start_date + 1), 0) AS days
        FROM (SELECT hp.start_date, hp.end_date FROM contract_periods hp
              WHERE hp.contract_id = c.id AND hp.end_date < cp.local_today
              ORDER BY hp.start_date DESC LIMIT {HISTORY_PERIODS}) h
        LEFT JOIN period_totals pt
               ON pt.contract_id = c.id AND pt.period_start = h.start_date) hist
    WHERE {{where}} AND cp.period_start IS NOT NULL
      AND cp.executed_seconds + round(
              CASE WHEN hist.days > 0
                   THEN hist.executed * (cp.period_end - cp.local_today) / hist.days
                   ELSE cp.executed_seconds::numeric * (cp.period_end - cp.local_today)
                        / (cp.local_today - cp.period_start + 1) END) > cp.planned_seconds"""

#: The statuses that follow from the dates alone (``STATUS_SQL`` decides them first).
DATE_STATUSES = ("not_started", "expired")
_DATE_STATUS_SQL = """CASE WHEN local_today < start_date THEN 'not_started'
                          WHEN local_today > end_date THEN 'expired' END"""


#: The statuses whose rows the screen table finds by index (few contracts have them).
INDEXED_STATUSES = ("exhausted", "expiring")


@functools.cache
def _screen_sql(
    sort: str,
    descending: bool,
    customer: bool,
    status: str | None,
    search: bool,
    after: bool,
    over_forecast: bool = False,
) -> str:
    """``status``: None, "dates" (a status of ``DATE_STATUSES``), one of
    ``INDEXED_STATUSES``, or "totals" (active). ``over_forecast``: only the contracts whose
    current period's forecast exceeds its plan (``OVER_FORECAST_IDS``)."""
    if sort in ("percent", "executed") or status in INDEXED_STATUSES:
        return _indexed_screen_sql(sort, descending, customer, status, search, after, over_forecast)
    return _computed_screen_sql(sort, descending, customer, status, search, after, over_forecast)


def _computed_screen_sql(
    sort: str,
    descending: bool,
    customer: bool,
    status: str | None,
    search: bool,
    after: bool,
    over_forecast: bool = False,
) -> str:
    """One statement per sort and set of filters present, none of the form "$n IS NULL OR
    …": asyncpg prepares statements, and after five runs PostgreSQL may switch to a generic
    plan, which cannot drop such a branch and sorted all contracts for the first page.
    $1: now, $2: limit, $3: expiring days; then the filters present, in this order.
    ``status``: None, "dates" (a status of ``DATE_STATUSES``) or "totals" (any other).

    What the page is cut by is joined before the cut, the rest for the page's rows only:
    the current period and its executed seconds (both in the screen row, computed only for
    contracts whose row is stale) when a status is filtered or the sort needs them.
    """
    key, key_type = SORTS[sort]
    direction, compare = ("DESC", "<") if descending else ("ASC", ">")
    totals_first = status == "totals" or sort in ("percent", "executed")
    period_first = totals_first or status is not None
    # The customer's name is read for every contract only when it sorts or filters.
    by_name = sort == "customer" or search
    n = iter(range(4, 10))
    where = ["true"]
    if over_forecast:
        where.append(f"c.id IN ({OVER_FORECAST_IDS.format(where='true')})")
    if customer:
        where.append(f"c.customer_id = ${next(n)}")
    if search:
        like = f"${next(n)}"
        # Two index-backed semi-joins (trigram indexes, migration 0004) rather than one OR
        # over two tables, which can only be checked contract by contract.
        where.append(
            f"""c.id IN (SELECT m.id FROM contracts m
                         WHERE m.code ILIKE {like} OR m.title ILIKE {like}
                         UNION ALL
                         SELECT m.id FROM contracts m
                         WHERE m.customer_id IN (SELECT k.id FROM customers k
                                                 WHERE k.name ILIKE {like}))"""
        )
    page_where = ["true"]
    if status is not None:
        page_where.append(f"{'status' if totals_first else 'date_status'} = ${next(n)}")
    if after:
        last_key, last_id = f"${next(n)}", f"${next(n)}"
        page_where.append(
            f"(sort_key, id) {compare} ({last_key}::text::{key_type}, {last_id}::uuid)"
        )
    status_sql = STATUS_SQL.format(days="$3")
    first_columns = [_CONTRACT_COLUMNS]
    first_joins = []
    if by_name:
        first_columns.append("cu.name AS customer_name")
        first_joins.append("LEFT JOIN customers cu ON cu.id = c.customer_id")
    if period_first:
        first_columns.append(_PERIOD_COLUMNS)
        first_joins.append(_CURRENT_PERIOD)
    then_columns, then_joins = ["c.*"], []
    if not period_first:
        then_columns.append(_PERIOD_COLUMNS)
        then_joins.append(_CURRENT_PERIOD)
    first_status = (
        f", {status_sql} AS status"
        if totals_first
        else f", {_DATE_STATUS_SQL} AS date_status"
        if period_first
        else ""
    )
    return f"""
    WITH screen AS (
        SELECT {", ".join(first_columns)}
        FROM contracts c {" ".join(first_joins)}
        WHERE {" AND ".join(where)}),
    rated AS (SELECT screen.*, {key} AS sort_key {first_status} FROM screen),
    cut AS (
        SELECT * FROM rated
        WHERE {" AND ".join(page_where)}
        ORDER BY sort_key {direction}, id {direction}
        LIMIT $2),
    periods AS (SELECT {", ".join(then_columns)} FROM cut c {" ".join(then_joins)}),
    page AS (
        SELECT periods.* {"" if totals_first else f", {status_sql} AS status"} FROM periods)
    SELECT p.*, p.sort_key::text AS cursor_key, la.stage AS alert_stage,
           la.trigger AS alert_trigger, la.raised_at AS alert_raised_at,
           n.sent AS notifications_sent, n.failed AS notifications_failed
           {"" if by_name else ", cu.name AS customer_name"}
    FROM page p
    {"" if by_name else "LEFT JOIN customers cu ON cu.id = p.customer_id"}
    LEFT JOIN LATERAL (
        SELECT a.stage, a.trigger, a.raised_at FROM alerts a WHERE a.contract_id = p.id
        ORDER BY a.raised_at DESC, a.alert_id DESC LIMIT 1) la ON true
    CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE o.status = 'sent') AS sent,
               count(*) FILTER (WHERE o.status = 'failed') AS failed
        FROM notifications o WHERE o.contract_id = p.id) n
    ORDER BY p.sort_key {direction}, p.id {direction}
    """


#: Sort name → its key over the screen row ``s`` (the expressions of its indexes, migration
#: 0004), contract ``c`` and customer ``cu``: the same values as ``SORTS`` gives.
_FRESH_KEYS: dict[str, str] = {
    "created": "c.created_at",
    "code": "c.code",
    "customer": "coalesce(cu.name, '')",
    "end_date": "c.end_date",
    "percent": "coalesce(s.executed_seconds::numeric * 100 / nullif(s.planned_seconds, 0), -1)",
    "executed": "s.executed_seconds",
}
#: ``STATUS_SQL`` over the screen row alone (its copies of the contract's dates).
FRESH_STATUS_SQL = (
    STATUS_SQL.replace("local_today", "s.local_date")
    .replace("start_date", "s.start_date")
    .replace("end_date", "s.end_date")
    .replace("planned_seconds", "s.planned_seconds")
    .replace("executed_seconds", "s.executed_seconds")
)
#: Implied by the status, in the form of a partial or expression index of the screen table
#: ({days} as in ``STATUS_SQL``).
FRESH_PREFILTER = {
    "exhausted": "s.executed_seconds >= s.planned_seconds",
    "expiring": "(s.end_date - s.local_date) BETWEEN 0 AND {days}",
}


def _indexed_screen_sql(
    sort: str,
    descending: bool,
    customer: bool,
    status: str | None,
    search: bool,
    after: bool,
    over_forecast: bool = False,
) -> str:
    """The percent and executed sorts and the few-contract statuses, from the screen rows by
    index: the page is the first rows of two parts merged, (1) the contracts whose row holds
    $1, walked in key order (or found by the status's index) and cut at $2 rows, and (2) the
    others (row stale or missing), computed as ``_CURRENT_PERIOD`` does, cut at $2 too. The
    two parts give the same values as the per-contract computation, so the merge is the
    same page; part (2) is one anti-join over the contracts, and nothing per contract once
    the rows are fresh. Parameters as ``_computed_screen_sql``.
    """
    key, key_type = SORTS[sort]
    fresh_key = _FRESH_KEYS[sort]
    direction, compare = ("DESC", "<") if descending else ("ASC", ">")
    by_name = sort == "customer" or search
    n = iter(range(4, 10))
    where = ["true"]
    if over_forecast:
        where.append(f"c.id IN ({OVER_FORECAST_IDS.format(where='true')})")
    if customer:
        where.append(f"c.customer_id = ${next(n)}")
    if search:
        like = f"${next(n)}"
        where.append(
            f"""c.id IN (SELECT m.id FROM contracts m
                         WHERE m.code ILIKE {like} OR m.title ILIKE {like}
                         UNION ALL
                         SELECT m.id FROM contracts m
                         WHERE m.customer_id IN (SELECT k.id FROM customers k
                                                 WHERE k.name ILIKE {like}))"""
        )
    fresh_where, stale_where = list(where), ["true"]
    if status is not None:
        wanted = f"${next(n)}"
        fresh_where.append(f"{FRESH_STATUS_SQL.format(days='$3')} = {wanted}")
        if status in FRESH_PREFILTER:
            fresh_where.append(FRESH_PREFILTER[status].format(days="$3"))
        stale_where.append(f"{STATUS_SQL.format(days='$3')} = {wanted}")
    if after:
        last = f"(${next(n)}::text::{key_type}, ${next(n)}::uuid)"
        fresh_where.append(f"({fresh_key}, s.contract_id) {compare} {last}")
        stale_where.append(f"({key}, id) {compare} {last}")
    name_column = ", cu.name AS customer_name" if by_name else ""
    name_join = "LEFT JOIN customers cu ON cu.id = c.customer_id" if by_name else ""
    return f"""
    WITH fresh AS (
        SELECT {_CONTRACT_COLUMNS} {name_column}, s.local_date AS local_today,
               s.period_start, s.period_end, s.planned_seconds, s.executed_seconds,
               {fresh_key} AS sort_key
        FROM contract_screen s JOIN contracts c ON c.id = s.contract_id {name_join}
        WHERE s.valid_from <= $1 AND $1 < s.valid_until AND {" AND ".join(fresh_where)}
        ORDER BY {fresh_key} {direction}, s.contract_id {direction}
        LIMIT $2),
    stale AS (
        SELECT x.*, {key} AS sort_key
        FROM (SELECT {_CONTRACT_COLUMNS} {name_column}, {_PERIOD_COLUMNS}
              FROM contracts c {name_join} {_CURRENT_PERIOD}
              WHERE s.contract_id IS NULL AND {" AND ".join(where)}) x
        WHERE {" AND ".join(stale_where)}
        ORDER BY sort_key {direction}, id {direction}
        LIMIT $2),
    cut AS (
        SELECT * FROM (TABLE fresh UNION ALL TABLE stale) m
        ORDER BY sort_key {direction}, id {direction}
        LIMIT $2),
    page AS (SELECT cut.*, {STATUS_SQL.format(days="$3")} AS status FROM cut)
    SELECT p.*, p.sort_key::text AS cursor_key, la.stage AS alert_stage,
           la.trigger AS alert_trigger, la.raised_at AS alert_raised_at,
           n.sent AS notifications_sent, n.failed AS notifications_failed
           {"" if by_name else ", cu.name AS customer_name"}
    FROM page p
    {"" if by_name else "LEFT JOIN customers cu ON cu.id = p.customer_id"}
    LEFT JOIN LATERAL (
        SELECT a.stage, a.trigger, a.raised_at FROM alerts a WHERE a.contract_id = p.id
        ORDER BY a.raised_at DESC, a.alert_id DESC LIMIT 1) la ON true
    CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE o.status = 'sent') AS sent,
               count(*) FILTER (WHERE o.status = 'failed') AS failed
        FROM notifications o WHERE o.contract_id = p.id) n
    ORDER BY p.sort_key {direction}, p.id {direction}
    """


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_contracts(
    conn: Connection,
    now: dt.datetime,
    after: tuple[str, uuid.UUID] | None,
    limit: int,
    *,
    customer_id: uuid.UUID | None = None,
    status: str | None = None,
    expiring_within_days: int = 0,
    sort: str = "created",
    descending: bool = False,
    search: str | None = None,
    over_forecast: bool = False,
) -> list[asyncpg.Record]:
    """The contract screen: each contract with its current period's figures in its own zone.

    ``after`` is (sort key as text, id) of the previous page's last row; ``cursor_key`` of
    each row is that text for the next page.
    """
    args: list[Any] = [now, limit, expiring_within_days]
    for value in (customer_id, _like(search) if search else None, status):
        if value is not None:
            args.append(value)
    if after is not None:
        args.extend(after)
    status_kind = (
        None
        if status is None
        else "dates"
        if status in DATE_STATUSES
        else status
        if status in INDEXED_STATUSES
        else "totals"
    )
    sql = _screen_sql(
        sort,
        descending,
        customer_id is not None,
        status_kind,
        bool(search),
        after is not None,
        over_forecast,
    )
    async with conn.transaction():
        await no_jit(conn)
        return await conn.fetch(sql, *args)


async def no_jit(conn: Connection) -> None:
    """Reads that visit every contract cost enough for PostgreSQL's JIT threshold, and
    compiling takes longer (~17 ms) than running them: off for this transaction."""
    await conn.execute("SET LOCAL jit = off")


async def forecast_history(
    conn: Connection, contracts: list[tuple[uuid.UUID, dt.date]]
) -> list[asyncpg.Record]:
    """For each (contract, its local today): its last ``domain.forecast.HISTORY_PERIODS``
    periods ended before today, with their executed seconds (the forecast's rate)."""
    if not contracts:
        return []
    return await conn.fetch(
        """SELECT x.contract_id, p.start_date, p.end_date, p.planned_seconds,
                  coalesce(pt.executed_seconds, 0) AS executed_seconds
           FROM unnest($1::uuid[], $2::date[]) AS x(contract_id, today)
           CROSS JOIN LATERAL (
               SELECT cp.start_date, cp.end_date, cp.planned_seconds FROM contract_periods cp
               WHERE cp.contract_id = x.contract_id AND cp.start_date < x.today
                 AND cp.end_date < x.today
               ORDER BY cp.start_date DESC LIMIT $3) p
           LEFT JOIN period_totals pt
                  ON pt.contract_id = x.contract_id AND pt.period_start = p.start_date""",
        [c for c, _ in contracts],
        [t for _, t in contracts],
        HISTORY_PERIODS,
    )


async def attention_counts(
    conn: Connection, now: dt.datetime, expiring_within_days: int, customer_id: uuid.UUID | None
) -> asyncpg.Record:
    """How many contracts (of one customer, or all) are exhausted, expiring, over forecast."""
    where = "c.customer_id = $3" if customer_id is not None else "true"
    args: list[Any] = [now, expiring_within_days]
    if customer_id is not None:
        args.append(customer_id)
    async with conn.transaction():
        await no_jit(conn)
        row = await conn.fetchrow(
            f"""WITH screen AS (
                    SELECT c.start_date, c.end_date, cp.local_today, cp.planned_seconds,
                           cp.executed_seconds
                    {SCREEN_FROM} WHERE {where}),
                statuses AS (SELECT {STATUS_SQL.format(days="$2")} AS status FROM screen)
                SELECT count(*) FILTER (WHERE status = 'exhausted')::int AS exhausted,
                       count(*) FILTER (WHERE status = 'expiring')::int AS expiring,
                       (SELECT count(*)::int FROM ({OVER_FORECAST_IDS.format(where=where)}) o)
                           AS over_forecast
                FROM statuses""",
            *args,
        )
    assert row is not None
    return row
