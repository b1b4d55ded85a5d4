"""All SQL of the rules service."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
from burnrate_common.events import ContractChanged

_EPOCH = (dt.datetime.min.replace(tzinfo=dt.UTC), uuid.UUID(int=0))

# --- the contract replica ---------------------------------------------------------------


async def upsert_contract(
    conn: asyncpg.Connection, contract: ContractChanged, changed_at: dt.datetime
) -> bool:
    """Store the contract's state; False (and nothing written) if a newer state is held."""
    row = await conn.fetchval(
        """INSERT INTO contracts (id, customer_id, code, title, owner_email, timezone,
                                  start_date, end_date, changed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (id) DO UPDATE SET
               customer_id = excluded.customer_id, code = excluded.code,
               title = excluded.title, owner_email = excluded.owner_email,
               timezone = excluded.timezone, start_date = excluded.start_date,
               end_date = excluded.end_date, changed_at = excluded.changed_at
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
    )
    return row is not None


async def replace_periods(conn: asyncpg.Connection, contract: ContractChanged) -> None:
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


async def contract_exists(conn: asyncpg.Connection, contract_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval("SELECT true FROM contracts WHERE id = $1", contract_id))


# --- running totals and evaluation -----------------------------------------------------


async def add_consumption(
    conn: asyncpg.Connection,
    contract_id: uuid.UUID,
    period_start: dt.date,
    period_end: dt.date,
    delta_seconds: int,
) -> None:
    """Add a signed delta; the row lock taken here serializes concurrent replicas until commit."""
    await conn.execute(
        """INSERT INTO period_totals (contract_id, period_start, period_end, executed_seconds)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (contract_id, period_start) DO UPDATE
           SET executed_seconds = period_totals.executed_seconds + excluded.executed_seconds,
               updated_at = now()""",
        contract_id,
        period_start,
        period_end,
        delta_seconds,
    )


async def lock_periods(
    conn: asyncpg.Connection, contract_id: uuid.UUID, period_start: dt.date | None = None
) -> list[asyncpg.Record]:
    """Totals of the contract's known periods (one, or all), locked for evaluation.

    Periods without a matching replica period (contract not known yet) are left out: there is
    no plan to compare with until the contract arrives.
    """
    return await conn.fetch(
        """SELECT t.contract_id, t.period_start, p.end_date AS period_end,
                  p.planned_seconds, t.executed_seconds
           FROM period_totals t
           JOIN contract_periods p
             ON p.contract_id = t.contract_id AND p.start_date = t.period_start
           WHERE t.contract_id = $1 AND ($2::date IS NULL OR t.period_start = $2)
           ORDER BY t.period_start
           FOR UPDATE OF t""",
        contract_id,
        period_start,
    )


async def applicable_rules(
    conn: asyncpg.Connection, contract_id: uuid.UUID
) -> list[asyncpg.Record]:
    """Enabled rules for every contract or for this one."""
    return await conn.fetch(
        """SELECT id, name, trigger, stages, overage, audience FROM rules
           WHERE enabled AND (contract_id IS NULL OR contract_id = $1)
           ORDER BY created_at, id""",
        contract_id,
    )


async def fired_stages(
    conn: asyncpg.Connection,
    contract_id: uuid.UUID,
    period_start: dt.date,
    rule_ids: Sequence[uuid.UUID],
) -> dict[uuid.UUID, set[str]]:
    rows = await conn.fetch(
        """SELECT rule_id, array_agg(stage) AS stages FROM fired_stages
           WHERE contract_id = $1 AND period_start = $2 AND rule_id = any($3::uuid[])
           GROUP BY rule_id""",
        contract_id,
        period_start,
        list(rule_ids),
    )
    return {r["rule_id"]: set(r["stages"]) for r in rows}


async def insert_fired_stages(
    conn: asyncpg.Connection,
    contract_id: uuid.UUID,
    period_start: dt.date,
    rows: Sequence[tuple[uuid.UUID, str, uuid.UUID]],
) -> list[asyncpg.Record]:
    """Insert (rule_id, stage, alert_id) rows; returns those that were not fired before."""
    return await conn.fetch(
        """INSERT INTO fired_stages (rule_id, contract_id, period_start, stage, alert_id)
           SELECT r, $1, $2, s, a FROM unnest($3::uuid[], $4::text[], $5::uuid[]) AS u (r, s, a)
           ON CONFLICT DO NOTHING
           RETURNING rule_id, stage, alert_id""",
        contract_id,
        period_start,
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
    )


async def insert_alert(conn: asyncpg.Connection, alert: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO alerts (alert_id, rule_id, contract_id, period_start, period_end, stage,
                               trigger, planned_seconds, executed_seconds)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        alert["alert_id"],
        alert["rule_id"],
        alert["contract_id"],
        alert["period_start"],
        alert["period_end"],
        alert["stage"],
        alert["trigger"],
        alert["planned_seconds"],
        alert["executed_seconds"],
    )


# --- rules -----------------------------------------------------------------------------

_RULE_COLUMNS = """id, name, contract_id, trigger, stages, overage, audience, enabled,
                   created_at, updated_at"""


async def insert_rule(conn: asyncpg.Connection, rule: dict[str, Any]) -> asyncpg.Record:
    """Raises ``ForeignKeyViolationError`` when ``contract_id`` is not a known contract."""
    row = await conn.fetchrow(
        f"""INSERT INTO rules (id, name, contract_id, trigger, stages, overage, audience, enabled)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            RETURNING {_RULE_COLUMNS}""",
        rule["id"],
        rule["name"],
        rule["contract_id"],
        rule["trigger"],
        rule["stages"],
        rule["overage"],
        rule["audience"],
        rule["enabled"],
    )
    assert row is not None  # RETURNING always yields the inserted row
    return row


async def get_rule(conn: asyncpg.Connection, rule_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_RULE_COLUMNS} FROM rules WHERE id = $1", rule_id)


async def list_rules(
    conn: asyncpg.Connection,
    after: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
    contract_id: uuid.UUID | None,
) -> list[asyncpg.Record]:
    created_at, last_id = after or _EPOCH
    return await conn.fetch(
        f"""SELECT {_RULE_COLUMNS} FROM rules
            WHERE (created_at, id) > ($1, $2) AND ($4::uuid IS NULL OR contract_id = $4)
            ORDER BY created_at, id LIMIT $3""",
        created_at,
        last_id,
        limit,
        contract_id,
    )


# --- alerts and totals (read side) -----------------------------------------------------


async def list_alerts(
    conn: asyncpg.Connection,
    after: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
    contract_id: uuid.UUID | None,
    rule_id: uuid.UUID | None,
) -> list[asyncpg.Record]:
    raised_at, last_id = after or _EPOCH
    return await conn.fetch(
        """SELECT a.alert_id, a.rule_id, r.name AS rule_name, a.contract_id, a.period_start,
                  a.period_end, a.stage, a.trigger, a.planned_seconds, a.executed_seconds,
                  a.raised_at
           FROM alerts a JOIN rules r ON r.id = a.rule_id
           WHERE (a.raised_at, a.alert_id) > ($1, $2)
             AND ($4::uuid IS NULL OR a.contract_id = $4)
             AND ($5::uuid IS NULL OR a.rule_id = $5)
           ORDER BY a.raised_at, a.alert_id LIMIT $3""",
        raised_at,
        last_id,
        limit,
        contract_id,
        rule_id,
    )


async def contract_totals(conn: asyncpg.Connection, contract_id: uuid.UUID) -> list[asyncpg.Record]:
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
