"""All SQL of the rules service."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
from burnrate_common.db import Connection
from burnrate_common.event_payloads import StatementChanged
from burnrate_common.events import ContractChanged

_EPOCH = (dt.datetime.min.replace(tzinfo=dt.UTC), uuid.UUID(int=0))

# --- the contract replica ---------------------------------------------------------------


async def zone_known(conn: Connection, timezone: str) -> bool:
    """Whether PostgreSQL can compute a local day in this zone (probed in a savepoint)."""
    try:
        async with conn.transaction():
            await conn.fetchval("SELECT now() AT TIME ZONE $1::text", timezone)
    except asyncpg.InvalidParameterValueError:
        return False
    return True


def unknown_zone_error(timezone: str) -> str:
    return (
        f'time zone "{timezone}" is not known to PostgreSQL: the daily clock leaves this '
        "contract out until its time zone changes"
    )


async def upsert_contract(
    conn: Connection, contract: ContractChanged, changed_at: dt.datetime
) -> bool:
    """Store the contract's state; False (and nothing written) if a newer state is held.

    A zone PostgreSQL does not know is stored as such (``zone_known``): the daily clock
    leaves the contract out, with the reason in ``clock_error``, instead of failing for
    every contract."""
    known = await zone_known(conn, contract.timezone)
    error = None if known else unknown_zone_error(contract.timezone)
    row = await conn.fetchval(
        """INSERT INTO contracts (id, customer_id, code, title, owner_email, timezone,
                                  start_date, end_date, changed_at, lifecycle, zone_known,
                                  clock_error, clock_error_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
                   CASE WHEN $12::text IS NULL THEN NULL ELSE now() END)
           ON CONFLICT (id) DO UPDATE SET
               customer_id = excluded.customer_id, code = excluded.code,
               title = excluded.title, owner_email = excluded.owner_email,
               timezone = excluded.timezone, start_date = excluded.start_date,
               end_date = excluded.end_date, changed_at = excluded.changed_at,
               lifecycle = excluded.lifecycle, zone_known = excluded.zone_known,
               clock_error = excluded.clock_error, clock_error_at = excluded.clock_error_at,
               clock_date = NULL  -- dates or plan may have moved: the clock looks again
           WHERE contracts.changed_at <= excluded.changed_at
           RETURNING 1""",
        contract.id,
        contract.customer_id,
        contract.code,
        contract.title,
        str(contract.owner_email),
        contract.timezone,
        contract.start_date,
        contract.end_date,
        changed_at,
        contract.lifecycle,
        known,
        error,
    )
    return row is not None


async def replace_periods(conn: Connection, contract: ContractChanged) -> None:
    starts = [p.start_date for p in contract.periods]
    await conn.execute(
        "DELETE FROM contract_periods WHERE contract_id = $1 AND start_date <> all($2::date[])",
        contract.id,
        starts,
    )
    await conn.execute(
        """INSERT INTO contract_periods (contract_id, start_date, end_date, planned_seconds)
           SELECT $1, s, e, p FROM unnest($2::date[], $3::date[], $4::bigint[]) AS u (s, e, p)
           ON CONFLICT (contract_id, start_date) DO UPDATE
           SET end_date = excluded.end_date, planned_seconds = excluded.planned_seconds""",
        contract.id,
        starts,
        [p.end_date for p in contract.periods],
        [p.planned_seconds for p in contract.periods],
    )


async def contract_exists(conn: Connection, contract_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval("SELECT true FROM contracts WHERE id = $1", contract_id))


# --- running totals and evaluation -----------------------------------------------------

#: A period's statement figures as evaluation reads them (all NULL: no statement known).
_STATEMENT_COLUMNS = """s.currency AS s_currency, s.allowance_seconds AS s_allowance_seconds,
    s.in_allowance_seconds AS s_in_allowance_seconds, s.charged_seconds AS s_charged_seconds,
    s.charged_amount AS s_charged_amount, s.forecast_amount AS s_forecast_amount,
    s.budget AS s_budget"""


async def add_consumption(
    conn: Connection,
    contract_id: uuid.UUID,
    period_start: dt.date,
    period_end: dt.date,
    delta_seconds: int,
    delta_outside_dates_seconds: int = 0,
) -> None:
    """Add a signed delta; the row lock taken here serializes concurrent replicas until commit."""
    await conn.execute(
        """INSERT INTO period_totals (contract_id, period_start, period_end, executed_seconds,
                                      outside_dates_seconds)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (contract_id, period_start) DO UPDATE
           SET executed_seconds = period_totals.executed_seconds + excluded.executed_seconds,
               outside_dates_seconds = period_totals.outside_dates_seconds
                                       + excluded.outside_dates_seconds,
               updated_at = now()""",
        contract_id,
        period_start,
        period_end,
        delta_seconds,
        delta_outside_dates_seconds,
    )


async def lock_periods(
    conn: Connection, contract_id: uuid.UUID, period_start: dt.date | None = None
) -> list[asyncpg.Record]:
    """Totals of the contract's known periods (one, or all), locked for evaluation.

    Periods without a matching replica period (contract not known yet) are left out: there is
    no plan to compare with until the contract arrives.
    """
    return await conn.fetch(
        f"""SELECT t.contract_id, t.period_start, p.end_date AS period_end,
                  p.planned_seconds, t.executed_seconds, t.outside_dates_seconds,
                  {_STATEMENT_COLUMNS}
           FROM period_totals t
           JOIN contract_periods p
             ON p.contract_id = t.contract_id AND p.start_date = t.period_start
           LEFT JOIN statement_figures s
             ON s.contract_id = t.contract_id AND s.period_start = t.period_start
           WHERE t.contract_id = $1 AND ($2::date IS NULL OR t.period_start = $2)
           ORDER BY t.period_start
           FOR UPDATE OF t""",
        contract_id,
        period_start,
    )


async def upsert_statement(
    conn: Connection, statement: StatementChanged, changed_at: dt.datetime
) -> bool:
    """Keep the period's newest statement figures; False (nothing written) if newer ones
    are held. The row lock taken here serializes the evaluation of one period's statement."""
    row = await conn.fetchval(
        """INSERT INTO statement_figures (contract_id, period_start, period_end, statement_id,
                                          status, currency, allowance_seconds,
                                          in_allowance_seconds, charged_seconds,
                                          charged_amount, forecast_amount, budget, changed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
           ON CONFLICT (contract_id, period_start) DO UPDATE SET
               period_end = excluded.period_end, statement_id = excluded.statement_id,
               status = excluded.status, currency = excluded.currency,
               allowance_seconds = excluded.allowance_seconds,
               in_allowance_seconds = excluded.in_allowance_seconds,
               charged_seconds = excluded.charged_seconds,
               charged_amount = excluded.charged_amount,
               forecast_amount = excluded.forecast_amount, budget = excluded.budget,
               changed_at = excluded.changed_at
           WHERE statement_figures.changed_at <= excluded.changed_at
           RETURNING 1""",
        statement.contract_id,
        statement.period_start,
        statement.period_end,
        statement.statement_id,
        statement.status,
        statement.currency,
        statement.allowance_seconds,
        statement.in_allowance_seconds,
        statement.charged_seconds,
        statement.charged_amount,
        statement.forecast_amount,
        statement.budget,
        changed_at,
    )
    return row is not None


async def statement_periods(
    conn: Connection, contract_id: uuid.UUID, period_start: dt.date | None = None
) -> list[asyncpg.Record]:
    """The contract periods (one, or all) that have a statement, with their totals (0 when
    nothing was consumed yet) and the statement's figures; empty while the contract or the
    period is not known."""
    return await conn.fetch(
        f"""SELECT p.contract_id, p.start_date AS period_start, p.end_date AS period_end,
                   p.planned_seconds,
                   coalesce(t.executed_seconds, 0) AS executed_seconds,
                   coalesce(t.outside_dates_seconds, 0) AS outside_dates_seconds,
                   {_STATEMENT_COLUMNS}
            FROM contract_periods p
            JOIN statement_figures s
              ON s.contract_id = p.contract_id AND s.period_start = p.start_date
            LEFT JOIN period_totals t
              ON t.contract_id = p.contract_id AND t.period_start = p.start_date
            WHERE p.contract_id = $1 AND ($2::date IS NULL OR p.start_date = $2)
            ORDER BY p.start_date""",
        contract_id,
        period_start,
    )


async def period_of_day(
    conn: Connection, contract_id: uuid.UUID, day: dt.date
) -> asyncpg.Record | None:
    """The contract period a local day falls in (outside the contract's periods: the
    nearest one), with its totals; None when the contract has no periods."""
    return await conn.fetchrow(
        """SELECT p.contract_id, p.start_date AS period_start, p.end_date AS period_end,
                  p.planned_seconds,
                  coalesce(t.executed_seconds, 0) AS executed_seconds,
                  coalesce(t.outside_dates_seconds, 0) AS outside_dates_seconds
           FROM contract_periods p
           LEFT JOIN period_totals t
             ON t.contract_id = p.contract_id AND t.period_start = p.start_date
           WHERE p.contract_id = $1
           ORDER BY (p.start_date <= $2 AND $2 <= p.end_date) DESC,
                    least(abs(p.start_date - $2), abs(p.end_date - $2)), p.start_date
           LIMIT 1""",
        contract_id,
        day,
    )


async def sla_fired(
    conn: Connection,
    rule_ids: Sequence[uuid.UUID],
    ticket_id: uuid.UUID,
    metric: str,
    cycle: int,
) -> dict[uuid.UUID, set[str]]:
    """Stages fired per rule for one ticket's metric and cycle."""
    rows = await conn.fetch(
        """SELECT rule_id, array_agg(stage) AS stages FROM sla_fired_stages
           WHERE rule_id = any($1::uuid[]) AND ticket_id = $2 AND metric = $3 AND cycle = $4
           GROUP BY rule_id""",
        list(rule_ids),
        ticket_id,
        metric,
        cycle,
    )
    return {r["rule_id"]: set(r["stages"]) for r in rows}


async def insert_sla_fired(
    conn: Connection,
    contract_id: uuid.UUID,
    ticket_id: uuid.UUID,
    metric: str,
    cycle: int,
    rows: Sequence[tuple[uuid.UUID, str, uuid.UUID]],
) -> list[asyncpg.Record]:
    """Insert (rule_id, stage, alert_id) rows of one ticket's metric and cycle; returns
    those not fired before."""
    return await conn.fetch(
        """INSERT INTO sla_fired_stages (rule_id, ticket_id, metric, cycle, stage, contract_id,
                                         alert_id)
           SELECT r, $2, $3, $4, s, $1, a
           FROM unnest($5::uuid[], $6::text[], $7::uuid[]) AS u (r, s, a)
           ON CONFLICT DO NOTHING
           RETURNING rule_id, stage, alert_id""",
        contract_id,
        ticket_id,
        metric,
        cycle,
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
    )


_CONTRACT_FACTS = """c.id, c.customer_id, c.timezone, c.end_date, c.lifecycle,
    (SELECT max(start_date) FROM contract_periods WHERE contract_id = c.id) AS final_period_start"""

_RULE_FOR_EVALUATION = "r.id, r.name, r.trigger, r.stages, r.overage, r.audience"


async def contract_facts(conn: Connection, contract_id: uuid.UUID) -> asyncpg.Record | None:
    """What evaluation needs of a contract: scope, zone, end date, lifecycle, final period."""
    return await conn.fetchrow(
        f"SELECT {_CONTRACT_FACTS} FROM contracts c WHERE c.id = $1", contract_id
    )


async def applicable_rules(
    conn: Connection, contract_id: uuid.UUID, customer_id: uuid.UUID | None = None
) -> list[asyncpg.Record]:
    """Enabled rules for every contract, this customer's or this one, minus opt-outs."""
    return await conn.fetch(
        f"""SELECT {_RULE_FOR_EVALUATION} FROM rules r
            WHERE r.enabled
              AND (r.contract_id = $1 OR r.customer_id = $2
                   OR (r.contract_id IS NULL AND r.customer_id IS NULL))
              AND NOT EXISTS (SELECT 1 FROM rule_opt_outs o
                              WHERE o.rule_id = r.id AND o.contract_id = $1)
            ORDER BY r.created_at, r.id""",
        contract_id,
        customer_id,
    )


async def fired_stages(
    conn: Connection,
    contract_id: uuid.UUID,
    period_starts: Sequence[dt.date],
    rule_ids: Sequence[uuid.UUID],
) -> dict[tuple[uuid.UUID, dt.date], set[str]]:
    """Stages fired per (rule, period) among these periods and rules of one contract."""
    rows = await conn.fetch(
        """SELECT rule_id, period_start, array_agg(stage) AS stages FROM fired_stages
           WHERE contract_id = $1 AND period_start = any($2::date[])
             AND rule_id = any($3::uuid[])
           GROUP BY rule_id, period_start""",
        contract_id,
        list(period_starts),
        list(rule_ids),
    )
    return {(r["rule_id"], r["period_start"]): set(r["stages"]) for r in rows}


async def insert_fired_stages(
    conn: Connection,
    contract_id: uuid.UUID,
    rows: Sequence[tuple[uuid.UUID, dt.date, str, uuid.UUID]],
) -> list[asyncpg.Record]:
    """Insert (rule_id, period_start, stage, alert_id) rows; returns those not fired before."""
    return await conn.fetch(
        """INSERT INTO fired_stages (rule_id, contract_id, period_start, stage, alert_id)
           SELECT r, $1, p, s, a
           FROM unnest($2::uuid[], $3::date[], $4::text[], $5::uuid[]) AS u (r, p, s, a)
           ON CONFLICT DO NOTHING
           RETURNING rule_id, period_start, stage, alert_id""",
        contract_id,
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
        [r[3] for r in rows],
    )


_ALERT_COLUMNS = (
    "alert_id",
    "rule_id",
    "contract_id",
    "customer_id",
    "period_start",
    "period_end",
    "stage",
    "trigger",
    "planned_seconds",
    "executed_seconds",
    "days_before_end",
    "forecast_seconds",
    "forecast_exhaustion_date",
    "unused_seconds",
    "outside_dates_seconds",
    "currency",
    "allowance_seconds",
    "charged_seconds",
    "charged_amount",
    "forecast_amount",
    "budget",
    "ticket_id",
    "ticket_reference",
    "ticket_priority",
    "service_level",
    "sla_metric",
    "sla_cycle",
    "sla_target_minutes",
    "sla_due_at",
    "sla_expected_at",
)


async def insert_alerts(conn: Connection, alerts: Sequence[dict[str, Any]]) -> None:
    # raised_at from the wall clock, not the transaction's start: one consumer transaction
    # handles several events, and /v1/alerts lists alerts in the order they were raised.
    await conn.executemany(
        f"""INSERT INTO alerts ({", ".join(_ALERT_COLUMNS)}, raised_at)
            VALUES ({", ".join(f"${n}" for n in range(1, len(_ALERT_COLUMNS) + 1))},
                    clock_timestamp())""",
        [tuple(a[c] for c in _ALERT_COLUMNS) for a in alerts],
    )


# --- the daily clock -------------------------------------------------------------------


async def claim_clock_batch(
    conn: Connection, now: dt.datetime, catch_up_days: int, limit: int
) -> list[asyncpg.Record]:
    """Active contracts whose local day moved on since the clock last evaluated them, locked.

    ``SKIP LOCKED``: a second replica's tick takes the next contracts instead of waiting.
    Contracts that ended more than ``catch_up_days`` ago are no longer looked at.
    """
    # CASE: the local day is computed only in a zone PostgreSQL knows (an unknown one
    # would fail the query for every contract); for the others it is NULL, never due.
    today = "(CASE WHEN c.zone_known THEN ($1::timestamptz AT TIME ZONE c.timezone)::date END)"
    return await conn.fetch(
        f"""SELECT {_CONTRACT_FACTS}, {today} AS today
            FROM contracts c
            WHERE c.lifecycle = 'active' AND c.zone_known
              AND (c.clock_date IS NULL OR c.clock_date < {today})
              AND c.end_date >= {today} - $2::int - 1
            ORDER BY c.id
            LIMIT $3
            FOR UPDATE OF c SKIP LOCKED""",
        now,
        catch_up_days,
        limit,
    )


async def mark_clocked(
    conn: Connection,
    contract_ids: Sequence[uuid.UUID],
    days: Sequence[dt.date],
    errors: Sequence[str | None],
) -> None:
    """The clock evaluated these contracts for these local days; ``errors``: why one was set
    aside instead (None: evaluated, and any earlier reason is cleared)."""
    await conn.execute(
        """UPDATE contracts c
           SET clock_date = u.day, clock_error = u.error,
               clock_error_at = CASE WHEN u.error IS NULL THEN NULL ELSE now() END
           FROM unnest($1::uuid[], $2::date[], $3::text[]) AS u (id, day, error)
           WHERE c.id = u.id""",
        list(contract_ids),
        list(days),
        list(errors),
    )


async def clock_error(conn: Connection, contract_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT clock_error, clock_error_at FROM contracts WHERE id = $1", contract_id
    )


async def periods_around(
    conn: Connection,
    contract_ids: Sequence[uuid.UUID],
    today: Sequence[dt.date],
    catch_up_days: int,
) -> list[asyncpg.Record]:
    """Per contract, the period containing its local ``today`` and those that ended at most
    ``catch_up_days`` days before it, with their totals (0 when nothing was consumed)."""
    return await conn.fetch(
        f"""SELECT p.contract_id, p.start_date AS period_start, p.end_date AS period_end,
                  p.planned_seconds,
                  coalesce(t.executed_seconds, 0) AS executed_seconds,
                  coalesce(t.outside_dates_seconds, 0) AS outside_dates_seconds,
                  {_STATEMENT_COLUMNS}
           FROM unnest($1::uuid[], $2::date[]) AS u (contract_id, today)
           JOIN contract_periods p ON p.contract_id = u.contract_id
           LEFT JOIN period_totals t
             ON t.contract_id = p.contract_id AND t.period_start = p.start_date
           LEFT JOIN statement_figures s
             ON s.contract_id = p.contract_id AND s.period_start = p.start_date
           WHERE p.start_date <= u.today AND p.end_date >= u.today - $3::int - 1
           ORDER BY p.contract_id, p.start_date""",
        list(contract_ids),
        list(today),
        catch_up_days,
    )


async def contracts_in_scope(
    conn: Connection,
    rule_id: uuid.UUID,
    contract_id: uuid.UUID | None,
    customer_id: uuid.UUID | None,
) -> list[asyncpg.Record]:
    """Active contracts a rule applies to (its scope, minus opt-outs), for a preview."""
    return await conn.fetch(
        f"""SELECT {_CONTRACT_FACTS} FROM contracts c
            WHERE c.lifecycle = 'active'
              AND ($2::uuid IS NULL OR c.id = $2)
              AND ($3::uuid IS NULL OR c.customer_id = $3)
              AND NOT EXISTS (SELECT 1 FROM rule_opt_outs o
                              WHERE o.rule_id = $1 AND o.contract_id = c.id)
            ORDER BY c.id""",
        rule_id,
        contract_id,
        customer_id,
    )


async def fired_stages_of_rule(
    conn: Connection, rule_id: uuid.UUID, contract_ids: Sequence[uuid.UUID]
) -> dict[tuple[uuid.UUID, dt.date], set[str]]:
    rows = await conn.fetch(
        """SELECT contract_id, period_start, array_agg(stage) AS stages FROM fired_stages
           WHERE rule_id = $1 AND contract_id = any($2::uuid[])
           GROUP BY contract_id, period_start""",
        rule_id,
        list(contract_ids),
    )
    return {(r["contract_id"], r["period_start"]): set(r["stages"]) for r in rows}


# --- rules -----------------------------------------------------------------------------

_RULE_COLUMNS = """id, name, contract_id, customer_id, trigger, stages, overage, audience, enabled,
                   created_at, updated_at"""


async def insert_rule(conn: Connection, rule: dict[str, Any]) -> asyncpg.Record:
    """Raises ``ForeignKeyViolationError`` when ``contract_id`` is not a known contract."""
    row = await conn.fetchrow(
        f"""INSERT INTO rules (id, name, contract_id, customer_id, trigger, stages, overage,
                               audience, enabled)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            RETURNING {_RULE_COLUMNS}""",
        rule["id"],
        rule["name"],
        rule["contract_id"],
        rule["customer_id"],
        rule["trigger"],
        rule["stages"],
        rule["overage"],
        rule["audience"],
        rule["enabled"],
    )
    assert row is not None  # RETURNING always yields the inserted row
    return row


async def get_rule(
    conn: Connection, rule_id: uuid.UUID, *, for_update: bool = False
) -> asyncpg.Record | None:
    # NO KEY UPDATE: fired_stages' foreign key checks (KEY SHARE) by the consumer and the
    # clock do not wait for a rule being changed, so no lock cycle with rearm_clock.
    lock = " FOR NO KEY UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT {_RULE_COLUMNS} FROM rules WHERE id = $1{lock}", rule_id)


async def update_rule(
    conn: Connection, rule_id: uuid.UUID, changes: dict[str, Any]
) -> asyncpg.Record:
    """Set the given columns (a fixed set: name, stages, overage, audience, enabled)."""
    allowed = ("name", "stages", "overage", "audience", "enabled")
    names = [c for c in allowed if c in changes]
    sets = ", ".join(f"{c} = ${n}" for n, c in enumerate(names, start=2))
    row = await conn.fetchrow(
        f"""UPDATE rules SET {sets + ", " if sets else ""}updated_at = now() WHERE id = $1
            RETURNING {_RULE_COLUMNS}""",
        rule_id,
        *(changes[c] for c in names),
    )
    assert row is not None  # the caller holds the row lock
    return row


async def lock_rule_count(conn: Connection) -> None:
    """Serialize the changes that add an enabled rule, until commit, so two of them cannot
    both squeeze in under the cap on the rules that apply to one contract."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('burnrate-rules-cap', 0))")


async def most_rules_applying(
    conn: Connection, contract_id: uuid.UUID | None, customer_id: uuid.UUID | None
) -> tuple[uuid.UUID, int] | None:
    """Of the contracts in this scope (one contract, a customer's, or every contract), the
    one the most enabled rules apply to (its own, its customer's, everyone's, less those it
    opted out of), and how many; None when none applies to any."""
    row = await conn.fetchrow(
        """SELECT c.id, count(*) AS n
           FROM contracts c
           JOIN rules r
             ON r.enabled
            AND (r.contract_id = c.id OR r.customer_id = c.customer_id
                 OR (r.contract_id IS NULL AND r.customer_id IS NULL))
            AND NOT EXISTS (SELECT 1 FROM rule_opt_outs o
                            WHERE o.rule_id = r.id AND o.contract_id = c.id)
           WHERE c.lifecycle <> 'deleted'
             AND ($1::uuid IS NULL OR c.id = $1)
             AND ($2::uuid IS NULL OR c.customer_id = $2)
           GROUP BY c.id
           ORDER BY n DESC, c.id
           LIMIT 1""",
        contract_id,
        customer_id,
    )
    return None if row is None else (row["id"], row["n"])


async def rearm_clock(
    conn: Connection, contract_id: uuid.UUID | None, customer_id: uuid.UUID | None
) -> None:
    """Let the daily clock look again today at the contracts a changed rule applies to."""
    await conn.execute(
        """UPDATE contracts SET clock_date = NULL
           WHERE clock_date IS NOT NULL AND ($1::uuid IS NULL OR id = $1)
             AND ($2::uuid IS NULL OR customer_id = $2)""",
        contract_id,
        customer_id,
    )


async def list_rules(
    conn: Connection,
    after: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
    contract_id: uuid.UUID | None,
    customer_id: uuid.UUID | None = None,
) -> list[asyncpg.Record]:
    created_at, last_id = after or _EPOCH
    return await conn.fetch(
        f"""SELECT {_RULE_COLUMNS} FROM rules
            WHERE (created_at, id) > ($1, $2) AND ($4::uuid IS NULL OR contract_id = $4)
              AND ($5::uuid IS NULL OR customer_id = $5)
            ORDER BY created_at, id LIMIT $3""",
        created_at,
        last_id,
        limit,
        contract_id,
        customer_id,
    )


async def put_opt_out(
    conn: Connection, rule_id: uuid.UUID, contract_id: uuid.UUID
) -> asyncpg.Record:
    """Idempotent; raises ``ForeignKeyViolationError`` for an unknown contract."""
    row = await conn.fetchrow(
        """WITH new AS (
               INSERT INTO rule_opt_outs (rule_id, contract_id) VALUES ($1, $2)
               ON CONFLICT DO NOTHING RETURNING rule_id, contract_id, created_at)
           SELECT * FROM new
           UNION ALL
           SELECT rule_id, contract_id, created_at FROM rule_opt_outs
           WHERE rule_id = $1 AND contract_id = $2""",
        rule_id,
        contract_id,
    )
    assert row is not None
    return row


async def delete_opt_out(conn: Connection, rule_id: uuid.UUID, contract_id: uuid.UUID) -> bool:
    status: str = await conn.execute(
        "DELETE FROM rule_opt_outs WHERE rule_id = $1 AND contract_id = $2", rule_id, contract_id
    )
    return status.endswith(" 1")


async def list_opt_outs(
    conn: Connection,
    rule_id: uuid.UUID,
    after: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    created_at, last_id = after or _EPOCH
    return await conn.fetch(
        """SELECT rule_id, contract_id, created_at FROM rule_opt_outs
           WHERE rule_id = $1 AND (created_at, contract_id) > ($2, $3)
           ORDER BY created_at, contract_id LIMIT $4""",
        rule_id,
        created_at,
        last_id,
        limit,
    )


# --- alerts and totals (read side) -----------------------------------------------------


async def list_alerts(
    conn: Connection,
    after: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
    contract_id: uuid.UUID | None,
    rule_id: uuid.UUID | None,
    trigger: str | None = None,
    period: tuple[dt.date, dt.date] | None = None,
) -> list[asyncpg.Record]:
    """``period``: alerts whose period starts in [first, last]."""
    raised_at, last_id = after or _EPOCH
    first, last = period or (None, None)
    return await conn.fetch(
        """SELECT a.alert_id, a.rule_id, r.name AS rule_name, a.contract_id, a.customer_id,
                  a.period_start, a.period_end, a.stage, a.trigger, a.planned_seconds,
                  a.executed_seconds, a.days_before_end, a.forecast_seconds,
                  a.forecast_exhaustion_date, a.unused_seconds, a.outside_dates_seconds,
                  a.currency, a.allowance_seconds, a.charged_seconds, a.charged_amount, a.forecast_amount, a.budget,
                  a.ticket_id, a.ticket_reference, a.ticket_priority, a.service_level,
                  a.sla_metric, a.sla_cycle, a.sla_target_minutes, a.sla_due_at,
                  a.sla_expected_at, a.raised_at
           FROM alerts a JOIN rules r ON r.id = a.rule_id
           WHERE (a.raised_at, a.alert_id) > ($1, $2)
             AND ($4::uuid IS NULL OR a.contract_id = $4)
             AND ($5::uuid IS NULL OR a.rule_id = $5)
             AND ($6::text IS NULL OR a.trigger = $6)
             AND ($7::date IS NULL OR a.period_start BETWEEN $7 AND $8)
           ORDER BY a.raised_at, a.alert_id LIMIT $3""",
        raised_at,
        last_id,
        limit,
        contract_id,
        rule_id,
        trigger,
        first,
        last,
    )


async def contract_totals(conn: Connection, contract_id: uuid.UUID) -> list[asyncpg.Record]:
    """Every period known from the replica or from consumption, with the stages fired in it."""
    return await conn.fetch(
        """WITH periods AS (
               SELECT coalesce(p.start_date, t.period_start) AS start_date,
                      coalesce(p.end_date, t.period_end) AS end_date,
                      p.planned_seconds,
                      coalesce(t.executed_seconds, 0) AS executed_seconds
               FROM (SELECT * FROM contract_periods WHERE contract_id = $1) p
               FULL JOIN (SELECT * FROM period_totals WHERE contract_id = $1) t
                 ON t.period_start = p.start_date)
           SELECT periods.*,
                  coalesce((SELECT jsonb_agg(jsonb_build_object(
                                'rule_id', f.rule_id, 'stage', f.stage,
                                'alert_id', f.alert_id, 'fired_at', f.fired_at))
                            FROM fired_stages f
                            WHERE f.contract_id = $1 AND f.period_start = periods.start_date),
                           '[]') AS fired_stages
           FROM periods ORDER BY start_date""",
        contract_id,
    )
