"""Statements and invoices as billing publishes them: the event-fed writes and the reads of
the statements per contract period and of the quarterly review."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg
from burnrate_common.db import Connection


async def upsert_statement(
    conn: Connection,
    statement: dict[str, Any],
    version_at: dt.datetime,
    *,
    sent: bool,
    approved: bool,
) -> None:
    """The newest figures win; ``sent_at`` / ``approved_at`` keep the first such event's
    instant, whichever version carried it and in whatever order they came."""
    await conn.execute(
        """INSERT INTO statements (statement_id, contract_id, customer_id, period_start,
                                   period_end, status, currency, allowance_seconds,
                                   in_allowance_seconds, charged_seconds, charged_amount,
                                   subtotal, vat, total, forecast_amount, budget, sent_at,
                                   approved_at, version_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                   CASE WHEN $18 THEN $17::timestamptz END,
                   CASE WHEN $19 THEN $17::timestamptz END, $17)
           ON CONFLICT (statement_id) DO UPDATE
               SET sent_at = least(statements.sent_at, excluded.sent_at),
                   approved_at = least(statements.approved_at, excluded.approved_at),
                   contract_id = CASE WHEN statements.version_at < excluded.version_at
                                      THEN excluded.contract_id ELSE statements.contract_id END,
                   customer_id = CASE WHEN statements.version_at < excluded.version_at
                                      THEN excluded.customer_id ELSE statements.customer_id END,
                   period_start = CASE WHEN statements.version_at < excluded.version_at
                                       THEN excluded.period_start ELSE statements.period_start END,
                   period_end = CASE WHEN statements.version_at < excluded.version_at
                                     THEN excluded.period_end ELSE statements.period_end END,
                   status = CASE WHEN statements.version_at < excluded.version_at
                                 THEN excluded.status ELSE statements.status END,
                   currency = CASE WHEN statements.version_at < excluded.version_at
                                   THEN excluded.currency ELSE statements.currency END,
                   allowance_seconds = CASE WHEN statements.version_at < excluded.version_at
                       THEN excluded.allowance_seconds ELSE statements.allowance_seconds END,
                   in_allowance_seconds = CASE WHEN statements.version_at < excluded.version_at
                       THEN excluded.in_allowance_seconds
                       ELSE statements.in_allowance_seconds END,
                   charged_seconds = CASE WHEN statements.version_at < excluded.version_at
                       THEN excluded.charged_seconds ELSE statements.charged_seconds END,
                   charged_amount = CASE WHEN statements.version_at < excluded.version_at
                       THEN excluded.charged_amount ELSE statements.charged_amount END,
                   subtotal = CASE WHEN statements.version_at < excluded.version_at
                                   THEN excluded.subtotal ELSE statements.subtotal END,
                   vat = CASE WHEN statements.version_at < excluded.version_at
                              THEN excluded.vat ELSE statements.vat END,
                   total = CASE WHEN statements.version_at < excluded.version_at
                                THEN excluded.total ELSE statements.total END,
                   forecast_amount = CASE WHEN statements.version_at < excluded.version_at
                       THEN excluded.forecast_amount ELSE statements.forecast_amount END,
                   budget = CASE WHEN statements.version_at < excluded.version_at
                                 THEN excluded.budget ELSE statements.budget END,
                   version_at = greatest(statements.version_at, excluded.version_at)""",
        statement["statement_id"],
        statement["contract_id"],
        statement["customer_id"],
        statement["period_start"],
        statement["period_end"],
        statement["status"],
        statement["currency"],
        statement["allowance_seconds"],
        statement["in_allowance_seconds"],
        statement["charged_seconds"],
        statement["charged_amount"],
        statement["subtotal"],
        statement["vat"],
        statement["total"],
        statement["forecast_amount"],
        statement["budget"],
        version_at,
        sent,
        approved,
    )


async def insert_invoice(conn: Connection, invoice: dict[str, Any]) -> None:
    """Immutable once issued: a repeat changes nothing."""
    await conn.execute(
        """INSERT INTO invoices (invoice_id, number, kind, statement_id, contract_id,
                                 customer_id, currency, subtotal, vat, total, issued_at,
                                 corrects)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
           ON CONFLICT (invoice_id) DO NOTHING""",
        invoice["invoice_id"],
        invoice["number"],
        invoice["kind"],
        invoice["statement_id"],
        invoice["contract_id"],
        invoice["customer_id"],
        invoice["currency"],
        invoice["subtotal"],
        invoice["vat"],
        invoice["total"],
        invoice["issued_at"],
        invoice["corrects"],
    )


# --- reads ---------------------------------------------------------------------------------


async def contract_periods_billed(
    conn: Connection, contract_ids: list[uuid.UUID], first: dt.date, last: dt.date
) -> list[asyncpg.Record]:
    """Per contract period starting in [first, last]: planned and executed seconds, and the
    period's statement (if billing made one) with what its invoices billed net of credit
    notes (before VAT) and their numbers."""
    return await conn.fetch(
        """SELECT p.contract_id, p.start_date, p.end_date, p.planned_seconds,
                  coalesce(t.executed_seconds, 0)::bigint AS executed_seconds,
                  s.statement_id, s.status, s.currency, s.allowance_seconds,
                  s.charged_seconds, s.charged_amount, s.subtotal, s.total, s.sent_at,
                  s.approved_at, i.billed, i.numbers
           FROM contract_periods p
           LEFT JOIN period_totals t
               ON t.contract_id = p.contract_id AND t.period_start = p.start_date
           LEFT JOIN LATERAL (
               SELECT * FROM statements s
               WHERE s.contract_id = p.contract_id AND s.period_start = p.start_date
               ORDER BY s.version_at DESC LIMIT 1) s ON true
           LEFT JOIN LATERAL (
               SELECT sum(CASE WHEN kind = 'invoice' THEN subtotal ELSE -subtotal END) AS billed,
                      array_agg(number ORDER BY issued_at, number) AS numbers
               FROM invoices WHERE statement_id = s.statement_id
               HAVING count(*) > 0) i ON true
           WHERE p.contract_id = any($1::uuid[]) AND p.start_date BETWEEN $2 AND $3
           ORDER BY p.contract_id, p.start_date""",
        contract_ids,
        first,
        last,
    )


async def customer_contracts(conn: Connection, customer_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT c.id, c.code, c.title, c.timezone, c.start_date, c.end_date, c.currency,
                  c.service_levels
           FROM contracts c WHERE c.customer_id = $1 ORDER BY c.code, c.id""",
        customer_id,
    )
