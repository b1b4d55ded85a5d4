"""Printable PDFs of statements, invoices and credit notes.

Laying out a PDF is CPU work that grows with the lines: it runs in a worker thread so the
service keeps answering meanwhile."""

from __future__ import annotations

import asyncio
import uuid

from burnrate_common.db import Connection

from burnrate_billing.domain import pdf
from burnrate_billing.service import Deps
from burnrate_billing.service.customers import buyer_details
from burnrate_billing.service.invoices import get_invoice
from burnrate_billing.service.statements import get_statement


async def statement_pdf(conn: Connection, deps: Deps, statement_id: uuid.UUID) -> tuple[str, bytes]:
    statement = (await get_statement(conn, deps, statement_id)).model_dump(mode="json")
    name = f"statement-{statement['contract_code']}-{statement['period_start']}"
    return name, await asyncio.to_thread(pdf.statement_pdf, statement)


async def invoice_pdf(conn: Connection, invoice_id: uuid.UUID) -> tuple[str, bytes]:
    invoice = (await get_invoice(conn, invoice_id)).model_dump(mode="json")
    buyer = await buyer_details(conn, invoice)
    return invoice["number"], await asyncio.to_thread(pdf.invoice_pdf, invoice, buyer)
