"""All SQL of the billing service."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import asyncpg
from burnrate_common.db import Connection
from burnrate_common.events import ContractChanged, CustomerChanged, Worklog

# --- the contract replica -------------------------------------------------------------------


async def upsert_contract(
    conn: Connection, contract: ContractChanged, changed_at: dt.datetime
) -> bool:
    """Store the contract's state; False (nothing written) when a newer state is held or
    the contract was deleted (its tombstone keeps older events out)."""
    row = await conn.fetchval(
        """INSERT INTO contracts (id, customer_id, code, title, timezone, start_date, end_date,
                                  lifecycle, currency, allowance_policy, rollover, billing,
                                  changed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
           ON CONFLICT (id) DO UPDATE SET
               customer_id = excluded.customer_id, code = excluded.code,
               title = excluded.title, timezone = excluded.timezone,
               start_date = excluded.start_date, end_date = excluded.end_date,
               lifecycle = excluded.lifecycle, currency = excluded.currency,
               allowance_policy = excluded.allowance_policy, rollover = excluded.rollover,
               billing = excluded.billing, changed_at = excluded.changed_at
           WHERE contracts.changed_at <= excluded.changed_at
             AND contracts.lifecycle <> 'deleted'
           RETURNING 1""",
        contract.id,
        contract.customer_id,
        contract.code,
        contract.title,
        contract.timezone,
        contract.start_date,
        contract.end_date,
        contract.lifecycle,
        contract.currency,
        contract.allowance_policy,
        contract.rollover.model_dump(mode="json"),
        contract.billing.model_dump(mode="json") if contract.billing else None,
        changed_at,
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


async def get_contract(
    conn: Connection, contract_id: uuid.UUID, *, for_update: bool = False
) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT * FROM contracts WHERE id = $1{lock}", contract_id)


async def periods(conn: Connection, contract_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM contract_periods WHERE contract_id = $1 ORDER BY start_date", contract_id
    )


async def contracts_of_customer(conn: Connection, customer_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM contracts WHERE customer_id = $1 AND lifecycle <> 'deleted' ORDER BY code",
        customer_id,
    )


# --- the customer replica -------------------------------------------------------------------


async def upsert_customer(
    conn: Connection, customer: CustomerChanged, changed_at: dt.datetime, *, deleted: bool
) -> bool:
    """Keep the customer's newest state (a deletion keeps its last one, flagged)."""
    row = await conn.fetchval(
        """INSERT INTO customers (id, name, legal_name, address_lines, city, postcode, country,
                                  vat_id, peppol_endpoint_id, peppol_scheme, deleted, changed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
           ON CONFLICT (id) DO UPDATE SET
               name = excluded.name, legal_name = excluded.legal_name,
               address_lines = excluded.address_lines, city = excluded.city,
               postcode = excluded.postcode, country = excluded.country,
               vat_id = excluded.vat_id, peppol_endpoint_id = excluded.peppol_endpoint_id,
               peppol_scheme = excluded.peppol_scheme, deleted = excluded.deleted,
               changed_at = excluded.changed_at
           WHERE customers.changed_at <= excluded.changed_at
           RETURNING 1""",
        customer.id,
        customer.name,
        customer.legal_name,
        customer.address_lines,
        customer.city,
        customer.postcode,
        customer.country,
        customer.vat_id,
        customer.peppol_endpoint_id,
        customer.peppol_scheme,
        deleted,
        changed_at,
    )
    return row is not None


async def get_customer(conn: Connection, customer_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM customers WHERE id = $1", customer_id)


# --- the worklog replica --------------------------------------------------------------------


async def upsert_worklogs(
    conn: Connection, worklogs: Sequence[Worklog], *, deleted: bool
) -> list[uuid.UUID]:
    """Keep the newest version of each worklog (a deletion as a tombstone); return the
    contracts whose worklogs changed. A stale version (older or equal) changes nothing."""
    if not worklogs:
        return []
    rows = await conn.fetch(
        """INSERT INTO worklogs (id, contract_id, period_start, started_at, seconds, author,
                                 team, activity, location, ticket, version, deleted)
           SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::date[], $4::timestamptz[],
                                $5::bigint[], $6::text[], $7::text[], $8::text[], $9::text[],
                                $10::text[], $11::int[], $12::boolean[])
           ON CONFLICT (id) DO UPDATE SET
               contract_id = excluded.contract_id, period_start = excluded.period_start,
               started_at = excluded.started_at, seconds = excluded.seconds,
               author = excluded.author, team = excluded.team, activity = excluded.activity,
               location = excluded.location, ticket = excluded.ticket,
               version = excluded.version, deleted = excluded.deleted, updated_at = now()
           WHERE worklogs.version < excluded.version
           RETURNING contract_id""",
        [w.id for w in worklogs],
        [w.contract_id for w in worklogs],
        [w.period_start for w in worklogs],
        [w.started_at for w in worklogs],
        [w.seconds for w in worklogs],
        [w.author for w in worklogs],
        [w.team for w in worklogs],
        [w.activity for w in worklogs],
        [w.location for w in worklogs],
        [w.ticket for w in worklogs],
        [w.version for w in worklogs],
        [deleted] * len(worklogs),
    )
    return sorted({r["contract_id"] for r in rows})


WORKLOG_FIELDS = (
    "id, period_start, started_at, seconds, author, team, activity, location, ticket, version"
)


async def worklogs_of(conn: Connection, contract_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {WORKLOG_FIELDS} FROM worklogs WHERE contract_id = $1 AND NOT deleted",
        contract_id,
    )


async def worklogs_by_ids(conn: Connection, ids: Sequence[uuid.UUID]) -> list[asyncpg.Record]:
    """Their last state, deleted or moved to another contract included."""
    return await conn.fetch(
        f"SELECT {WORKLOG_FIELDS}, deleted, contract_id FROM worklogs WHERE id = any($1::uuid[])",
        list(ids),
    )


async def confirm_ticket(
    conn: Connection, contract_id: uuid.UUID, reference: str, at: dt.datetime, by: str
) -> bool:
    status: str = await conn.execute(
        """INSERT INTO ticket_confirmations (contract_id, reference, confirmed_at, confirmed_by)
           VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING""",
        contract_id,
        reference,
        at,
        by,
    )
    return status.endswith(" 1")


async def confirmed_tickets(conn: Connection, contract_id: uuid.UUID) -> frozenset[str]:
    rows = await conn.fetch(
        "SELECT reference FROM ticket_confirmations WHERE contract_id = $1", contract_id
    )
    return frozenset(r["reference"] for r in rows)


async def record_breach(conn: Connection, values: dict[str, Any]) -> bool:
    status: str = await conn.execute(
        """INSERT INTO sla_breaches (ticket_id, metric, cycle, contract_id, reference, level,
                                     reached_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING""",
        values["ticket_id"],
        values["metric"],
        values["cycle"],
        values["contract_id"],
        values["reference"],
        values["level"],
        values["reached_at"],
    )
    return status.endswith(" 1")


async def breaches_of(conn: Connection, contract_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT reached_at FROM sla_breaches
           WHERE contract_id = $1 AND metric = 'resolution'""",
        contract_id,
    )


# --- statements -----------------------------------------------------------------------------


async def create_statements(
    conn: Connection, contract_id: uuid.UUID, terms: dict[str, Any], at: dt.datetime
) -> list[uuid.UUID]:
    """A draft statement for every period of the contract that has none; their ids."""
    rows = await conn.fetch(
        """INSERT INTO statements (id, contract_id, period_start, period_end, terms, created_at,
                                   updated_at)
           SELECT gen_random_uuid(), p.contract_id, p.start_date, p.end_date, $2, $3, $3
           FROM contract_periods p WHERE p.contract_id = $1
           ON CONFLICT (contract_id, period_start) DO NOTHING
           RETURNING id""",
        contract_id,
        terms,
        at,
    )
    return [r["id"] for r in rows]


async def statements_of(
    conn: Connection, contract_id: uuid.UUID, *, for_update: bool = False
) -> list[asyncpg.Record]:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetch(
        f"SELECT * FROM statements WHERE contract_id = $1 ORDER BY period_start{lock}",
        contract_id,
    )


async def get_statement(
    conn: Connection, statement_id: uuid.UUID, *, for_update: bool = False
) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT * FROM statements WHERE id = $1{lock}", statement_id)


async def list_statements(
    conn: Connection,
    *,
    contract_id: uuid.UUID | None,
    customer_id: uuid.UUID | None,
    on: dt.date | None,
    limit: int,
    after: tuple[dt.date, uuid.UUID] | None,
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT s.*, c.customer_id, c.code, c.timezone FROM statements s
           JOIN contracts c ON c.id = s.contract_id
           WHERE ($1::uuid IS NULL OR s.contract_id = $1)
             AND ($2::uuid IS NULL OR c.customer_id = $2)
             AND ($3::date IS NULL OR $3 BETWEEN s.period_start AND s.period_end)
             AND ($4::date IS NULL OR (s.period_start, s.id) > ($4, $5))
           ORDER BY s.period_start, s.id
           LIMIT $6""",
        contract_id,
        customer_id,
        on,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def set_terms(conn: Connection, statement_id: uuid.UUID, terms: dict[str, Any]) -> None:
    await conn.execute(
        "UPDATE statements SET terms = $2, updated_at = now() WHERE id = $1", statement_id, terms
    )


async def write_figures(
    conn: Connection,
    statement_id: uuid.UUID,
    *,
    figures: dict[str, Any],
    digest: str,
    status: str,
    lines: Sequence[tuple[Any, ...]],
) -> None:
    await conn.execute(
        """UPDATE statements SET figures = $2, digest = $3, status = $4, updated_at = now()
           WHERE id = $1""",
        statement_id,
        figures,
        digest,
        status,
    )
    await conn.execute("DELETE FROM statement_lines WHERE statement_id = $1", statement_id)
    if lines:
        await conn.copy_records_to_table(
            "statement_lines",
            records=[(statement_id, *line) for line in lines],
            columns=LINE_COLUMNS,
        )


LINE_COLUMNS = (
    "statement_id",
    "position",
    "line_id",
    "worklog_id",
    "period_start",
    "late",
    "date",
    "person",
    "team",
    "ticket",
    "activity",
    "location",
    "shift",
    "actual_seconds",
    "billable_seconds",
    "in_allowance_seconds",
    "charged_seconds",
    "rate",
    "rate_row",
    "value",
    "amount",
    "status",
    "note",
    "worklog_version",
    "correction",
)

#: line statuses an invoice settles (the others go on to the next statement)
SETTLED = ("charged", "in_allowance", "cancelled", "not_charged")


async def lines_of(conn: Connection, statement_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM statement_lines WHERE statement_id = $1 ORDER BY position", statement_id
    )


async def billed_worklogs(conn: Connection, statement_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Worklogs an invoice settled (charged, in the allowance, written off or not charged):
    the others (disputed, held, awaiting confirmation) go on to the next statement."""
    rows = await conn.fetch(
        """SELECT DISTINCT worklog_id FROM statement_lines
           WHERE statement_id = any($1::uuid[])
             AND status = any($2::text[])""",
        list(statement_ids),
        list(SETTLED),
    )
    return {r["worklog_id"] for r in rows}


async def corrected_statements(conn: Connection, contract_id: uuid.UUID) -> set[uuid.UUID]:
    """Invoiced statements of the contract that settled a worklog which has changed since
    (its replica version is newer than every settled line or credited correction of it)."""
    rows = await conn.fetch(
        """WITH settled AS (
               SELECT l.statement_id, l.worklog_id, l.worklog_version, l.correction
               FROM statement_lines l JOIN statements s ON s.id = l.statement_id
               WHERE s.contract_id = $1 AND s.status = 'invoiced'
                 AND l.status = any($2::text[])
           ), latest AS (
               SELECT worklog_id, max(version) AS version FROM (
                   SELECT worklog_id, worklog_version AS version FROM settled
                   UNION ALL
                   SELECT worklog_id, worklog_version FROM settled_corrections
                   WHERE contract_id = $1
               ) v GROUP BY worklog_id
           )
           SELECT DISTINCT st.statement_id FROM settled st
           JOIN latest ON latest.worklog_id = st.worklog_id
           JOIN worklogs w ON w.id = st.worklog_id
           WHERE NOT st.correction AND w.version > latest.version""",
        contract_id,
        list(SETTLED),
    )
    return {r["statement_id"] for r in rows}


async def lines_of_statements(
    conn: Connection, statement_ids: Sequence[uuid.UUID]
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT * FROM statement_lines WHERE statement_id = any($1::uuid[])
           ORDER BY statement_id, position""",
        list(statement_ids),
    )


async def prior_corrections(
    conn: Connection, contract_id: uuid.UUID
) -> dict[uuid.UUID, tuple[int, Decimal]]:
    """Per worklog: the correcting seconds and amount settled so far (invoiced on a later
    statement, or credited by a credit note)."""
    rows = await conn.fetch(
        """SELECT worklog_id, sum(seconds) AS seconds, sum(amount) AS amount FROM (
               SELECT l.worklog_id, l.charged_seconds AS seconds, l.amount
               FROM statement_lines l JOIN statements s ON s.id = l.statement_id
               WHERE s.contract_id = $1 AND s.status = 'invoiced' AND l.correction
               UNION ALL
               SELECT worklog_id, seconds, amount FROM settled_corrections
               WHERE contract_id = $1
           ) c GROUP BY worklog_id""",
        contract_id,
    )
    return {r["worklog_id"]: (int(r["seconds"]), r["amount"]) for r in rows}


async def settle_corrections(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """(credit_note_id, contract_id, statement_id, worklog_id, worklog_version, seconds,
    amount) rows: corrections a credit note settled."""
    await conn.executemany(
        """INSERT INTO settled_corrections (credit_note_id, contract_id, statement_id, worklog_id,
                                            worklog_version, seconds, amount)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        rows,
    )


async def set_status(
    conn: Connection, statement_id: uuid.UUID, status: str, **fields: Any
) -> asyncpg.Record:
    names = ["status", *fields]
    sets = ", ".join(f"{name} = ${n + 2}" for n, name in enumerate(names))
    row = await conn.fetchrow(
        f"UPDATE statements SET {sets}, updated_at = now() WHERE id = $1 RETURNING *",
        statement_id,
        status,
        *fields.values(),
    )
    assert row is not None
    return row


# --- adjustments, marks, history ------------------------------------------------------------


async def add_adjustment(conn: Connection, values: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO adjustments (id, statement_id, kind, amount, reason, source_statement_id,
                                    pair_id, created_by, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        values["id"],
        values["statement_id"],
        values["kind"],
        values["amount"],
        values["reason"],
        values.get("source_statement_id"),
        values.get("pair_id"),
        values["created_by"],
        values["created_at"],
    )


async def adjustments_of(
    conn: Connection, statement_ids: Sequence[uuid.UUID]
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT a.*, s.period_start AS source_period_start FROM adjustments a
           LEFT JOIN statements s ON s.id = a.source_statement_id
           WHERE a.statement_id = any($1::uuid[]) ORDER BY a.created_at, a.id""",
        list(statement_ids),
    )


async def add_mark(conn: Connection, values: dict[str, Any]) -> bool:
    status: str = await conn.execute(
        """INSERT INTO line_marks (statement_id, worklog_id, mark, reason, created_by, created_at)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (statement_id, worklog_id, mark) DO UPDATE SET reason = excluded.reason""",
        values["statement_id"],
        values["worklog_id"],
        values["mark"],
        values["reason"],
        values["created_by"],
        values["created_at"],
    )
    return status.endswith(" 1")


async def marks_of(conn: Connection, statement_ids: Sequence[uuid.UUID]) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM line_marks WHERE statement_id = any($1::uuid[])", list(statement_ids)
    )


async def add_history(
    conn: Connection,
    statement_id: uuid.UUID,
    *,
    at: dt.datetime,
    actor: str,
    action: str,
    reason: str | None,
    details: dict[str, Any],
) -> None:
    await conn.execute(
        """INSERT INTO statement_history (statement_id, at, actor, action, reason, details)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        statement_id,
        at,
        actor,
        action,
        reason,
        json.loads(json.dumps(details, default=str)),
    )


async def history_of(conn: Connection, statement_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM statement_history WHERE statement_id = $1 ORDER BY id", statement_id
    )


# --- invoices -------------------------------------------------------------------------------


async def next_number(conn: Connection, series: str, year: int) -> int:
    """The next number of the series and year; the counter row stays locked until the
    issuing transaction ends, so numbers are gap-free and never given twice."""
    value: int = await conn.fetchval(
        """INSERT INTO invoice_counters (series, year, last) VALUES ($1, $2, 1)
           ON CONFLICT (series, year) DO UPDATE SET last = invoice_counters.last + 1
           RETURNING last""",
        series,
        year,
    )
    return value


async def insert_invoice(conn: Connection, values: dict[str, Any]) -> asyncpg.Record:
    row = await conn.fetchrow(
        """INSERT INTO invoices (id, number, kind, statement_id, contract_id, customer_id,
                                 currency, issued_at, issue_date, due_date, vat_rate, subtotal,
                                 vat, total, corrects, reason, issued_by, document)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                   $18)
           RETURNING *""",
        values["id"],
        values["number"],
        values["kind"],
        values["statement_id"],
        values["contract_id"],
        values["customer_id"],
        values["currency"],
        values["issued_at"],
        values["issue_date"],
        values["due_date"],
        values["vat_rate"],
        values["subtotal"],
        values["vat"],
        values["total"],
        values.get("corrects"),
        values.get("reason"),
        values["issued_by"],
        json.loads(json.dumps(values["document"], default=str)),
    )
    assert row is not None
    return row


async def get_invoice(conn: Connection, invoice_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM invoices WHERE id = $1", invoice_id)


async def list_invoices(
    conn: Connection, *, contract_id: uuid.UUID | None, customer_id: uuid.UUID | None
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT * FROM invoices
           WHERE ($1::uuid IS NULL OR contract_id = $1) AND ($2::uuid IS NULL OR customer_id = $2)
           ORDER BY issued_at, number""",
        contract_id,
        customer_id,
    )


async def credited_total(conn: Connection, invoice_id: uuid.UUID) -> Decimal:
    value: Decimal = await conn.fetchval(
        "SELECT coalesce(sum(subtotal), 0) FROM invoices WHERE corrects = $1", invoice_id
    )
    return value
