"""Invoices and credit notes: gap-free numbers per year, immutable once issued.

An approved statement (or a disputed one, when the terms allow partial invoicing: the
disputed lines are held and go on to the next statement) becomes an invoice in one
transaction: the year's counter row is locked, the number taken, the document written, the
statement frozen. Later corrections are credit notes that reference the invoice; worklogs
arriving later for the invoiced period land on the next statement as late lines.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from burnrate_common import outbox
from burnrate_common.db import Connection
from burnrate_common.errors import Problem
from burnrate_common.event_payloads import InvoiceIssued
from burnrate_common.events import EventType, new_event
from burnrate_common.types import seconds_to_hours

from burnrate_billing import store
from burnrate_billing.domain.corrections import Correction
from burnrate_billing.domain.rating import money
from burnrate_billing.schemas import (
    CorrectionOut,
    CorrectionsOut,
    CreditNoteIn,
    InvoiceOut,
    ReasonRequiredIn,
    StatementOut,
)
from burnrate_billing.service import Deps
from burnrate_billing.service.compute import PRODUCER, as_dict, invoiced_corrections, refresh
from burnrate_billing.service.customers import buyer_of_customer
from burnrate_billing.service.statements import (
    locked,
    publish,
    statement_or_404,
    statement_out,
    transition,
)

SERIES = {
    "invoice": ("invoice", "{year}-{n:06d}"),
    "credit_note": ("credit_note", "CN-{year}-{n:06d}"),
}


def invoice_out(row: asyncpg.Record) -> InvoiceOut:
    return InvoiceOut.model_validate({**dict(row), "document": as_dict(row["document"])})


async def _number(conn: Connection, kind: str, year: int) -> str:
    series, pattern = SERIES[kind]
    return pattern.format(year=year, n=await store.next_number(conn, series, year))


def _issued(row: asyncpg.Record) -> InvoiceIssued:
    return InvoiceIssued(
        invoice_id=row["id"],
        number=row["number"],
        kind=row["kind"],
        statement_id=row["statement_id"],
        contract_id=row["contract_id"],
        customer_id=row["customer_id"],
        currency=row["currency"],
        subtotal=row["subtotal"],
        vat=row["vat"],
        total=row["total"],
        issued_at=row["issued_at"],
        corrects=None if row["corrects"] is None else str(row["corrects"]),
    )


async def invoice(
    conn: Connection, deps: Deps, statement_id: uuid.UUID, *, actor: str, reason: str | None
) -> StatementOut:
    async with conn.transaction():
        statement, contract = await locked(conn, statement_id)
        terms = as_dict(statement["terms"])
        if statement["status"] == "disputed" and not terms["billing"].get(
            "partial_invoicing", True
        ):
            raise Problem(
                409,
                "Disputed",
                "The contract does not allow invoicing while lines are disputed; settle the "
                "dispute (approve, or cancel the lines) first.",
                field="status",
            )
        # the figures as of now (worklogs may have arrived since the approval)
        await refresh(conn, deps, contract["id"], actor=actor, cause="before invoicing")
        statement = await statement_or_404(conn, statement_id, for_update=True)
        now = deps.clock.now()
        issue_date = _seller_date(deps, now)
        fig = as_dict(statement["figures"])
        lines = await store.lines_of(conn, statement_id)
        adjustments = await store.adjustments_of(conn, [statement_id])
        invoice_id = uuid.uuid4()
        number = await _number(conn, "invoice", issue_date.year)
        subtotal = Decimal(fig["subtotal"])
        row = await store.insert_invoice(
            conn,
            {
                "id": invoice_id,
                "number": number,
                "kind": "invoice",
                "statement_id": statement_id,
                "contract_id": contract["id"],
                "customer_id": contract["customer_id"],
                "currency": fig["currency"],
                "issued_at": now,
                "issue_date": issue_date,
                "due_date": issue_date
                + dt.timedelta(days=deps.settings.billing_payment_terms_days),
                "vat_rate": Decimal(fig["vat_rate"]),
                "subtotal": subtotal,
                "vat": Decimal(fig["vat"]),
                "total": Decimal(fig["total"]),
                "reason": reason,
                "issued_by": actor,
                "document": _document(
                    deps,
                    contract,
                    statement,
                    fig,
                    lines,
                    adjustments,
                    await buyer_of_customer(conn, contract["customer_id"]),
                ),
            },
        )
        statement, _ = await transition(
            conn, deps, statement_id, "invoice", actor=actor, reason=reason, invoice_id=invoice_id
        )
        await store.add_history(
            conn,
            statement_id,
            at=now,
            actor=actor,
            action="invoiced",
            reason=reason,
            details={"number": number, "subtotal": str(subtotal), "total": fig["total"]},
        )
        await outbox.add(
            conn,
            [
                new_event(
                    EventType.INVOICE_ISSUED, _issued(row), key=contract["id"], producer=PRODUCER
                )
            ],
        )
        # held and disputed lines, and late worklogs, move on to the next statement
        await refresh(conn, deps, contract["id"], actor=actor, cause=f"invoice {number} issued")
        await publish(conn, deps, EventType.STATEMENT_UPDATED, statement, contract)
    return await statement_out(conn, deps, statement, contract=contract)


def _document(
    deps: Deps,
    contract: asyncpg.Record,
    statement: asyncpg.Record,
    fig: dict[str, Any],
    lines: list[asyncpg.Record],
    adjustments: list[asyncpg.Record],
    buyer: dict[str, Any],
) -> dict[str, Any]:
    """What the invoice says, as issued: enough for every export without another read."""
    settings = deps.settings
    return {
        "seller": {
            "name": settings.billing_seller_name,
            "vat_id": settings.billing_seller_vat_id,
            "country": settings.billing_seller_country,
            "endpoint": settings.billing_seller_endpoint,
        },
        "buyer": buyer,
        "contract": {
            "id": str(contract["id"]),
            "code": contract["code"],
            "title": contract["title"],
        },
        "period": {
            "start": statement["period_start"].isoformat(),
            "end": statement["period_end"].isoformat(),
        },
        "figures": fig,
        "lines": [
            {
                "line_id": r["line_id"],
                "date": r["date"].isoformat(),
                "person": r["person"],
                "ticket": r["ticket"],
                "activity": r["activity"],
                "location": r["location"],
                "shift": r["shift"],
                "charged_seconds": r["charged_seconds"],
                "rate": str(r["rate"]),
                "rate_row": r["rate_row"],
                "amount": str(r["amount"]),
                "late": r["late"],
                "correction": r["correction"],
                "period_start": r["period_start"].isoformat(),
            }
            for r in lines
            if r["status"] == "charged" and r["amount"] != 0
        ],
        "adjustments": [
            {"kind": a["kind"], "amount": str(a["amount"]), "reason": a["reason"]}
            for a in adjustments
        ],
    }


async def credit_note(
    conn: Connection, deps: Deps, invoice_id: uuid.UUID, body: CreditNoteIn, *, actor: str
) -> InvoiceOut:
    """Correct an issued invoice: a credit note for all or part of it (before VAT)."""
    async with conn.transaction():
        original = await _creditable(conn, invoice_id)
        row = await _issue_credit_note(conn, deps, original, body.amount, body.reason, actor)
    return invoice_out(row)


async def _creditable(conn: Connection, invoice_id: uuid.UUID) -> asyncpg.Record:
    original = await store.get_invoice(conn, invoice_id)
    if original is None:
        raise Problem(404, "Not found", f"No invoice {invoice_id}.", field="invoice_id")
    if original["kind"] != "invoice":
        raise Problem(
            422,
            "Invalid input",
            "invoice_id: a credit note is not credited",
            field="invoice_id",
        )
    return original


async def _issue_credit_note(
    conn: Connection,
    deps: Deps,
    original: asyncpg.Record,
    amount: Decimal | None,
    reason: str,
    actor: str,
    corrections: list[dict[str, Any]] | None = None,
) -> asyncpg.Record:
    """In the caller's transaction; ``amount`` None: all that is left to credit."""
    # the counter row's lock serialises credit notes of one year; the sum is then exact
    now = deps.clock.now()
    number = await _number(conn, "credit_note", _seller_date(deps, now).year)
    left = original["subtotal"] - await store.credited_total(conn, original["id"])
    amount = left if amount is None else amount
    if amount <= 0 or amount > left:
        raise Problem(
            422,
            "Invalid input",
            f"amount: at most what is left to credit on {original['number']} ({left})",
            field="amount",
        )
    vat = money(amount * original["vat_rate"])
    document = {
        **as_dict(original["document"]),
        "corrects": {
            "number": original["number"],
            "issue_date": original["issue_date"].isoformat(),
        },
    }
    if corrections is not None:
        document["corrections"] = corrections
    row = await store.insert_invoice(
        conn,
        {
            "id": uuid.uuid4(),
            "number": number,
            "kind": "credit_note",
            "statement_id": original["statement_id"],
            "contract_id": original["contract_id"],
            "customer_id": original["customer_id"],
            "currency": original["currency"],
            "issued_at": now,
            "issue_date": _seller_date(deps, now),
            "due_date": _seller_date(deps, now),
            "vat_rate": original["vat_rate"],
            "subtotal": amount,
            "vat": vat,
            "total": amount + vat,
            "corrects": original["id"],
            "reason": reason,
            "issued_by": actor,
            "document": document,
        },
    )
    await store.add_history(
        conn,
        original["statement_id"],
        at=now,
        actor=actor,
        action="credit_note",
        reason=reason,
        details={"number": number, "corrects": original["number"], "amount": str(amount)},
    )
    await outbox.add(
        conn,
        [
            new_event(
                EventType.INVOICE_CREDITED,
                _issued(row).model_copy(update={"corrects": original["number"]}),
                key=original["contract_id"],
                producer=PRODUCER,
            )
        ],
    )
    return row


def _correction_out(correction: Correction) -> CorrectionOut:
    item = correction.worklog
    return CorrectionOut(
        worklog_id=item.id,
        period_start=item.period_start,
        started_at=item.started_at,
        person=item.author,
        ticket=item.ticket,
        activity=item.activity,
        hours=seconds_to_hours(correction.seconds),
        amount=correction.amount,
        deleted=correction.deleted,
    )


async def _pending(
    conn: Connection, original: asyncpg.Record, *, lock: bool
) -> tuple[asyncpg.Record, list[Correction]]:
    contract = await store.get_contract(conn, original["contract_id"], for_update=lock)
    assert contract is not None
    found = await invoiced_corrections(
        conn, contract["id"], contract["timezone"], {original["statement_id"]}
    )
    return contract, [c for c, _ in found]


async def corrections(conn: Connection, invoice_id: uuid.UUID) -> CorrectionsOut:
    """The worklogs this invoice settled that were corrected or deleted since, with what
    each changes; a net reduction is what a credit note would credit (until one is issued
    the correcting lines stand on the next open statement)."""
    original = await _creditable(conn, invoice_id)
    _, found = await _pending(conn, original, lock=False)
    net = sum((c.amount for c in found), Decimal(0))
    return CorrectionsOut(
        invoice_id=invoice_id,
        number=original["number"],
        lines=[_correction_out(c) for c in found],
        net_amount=net,
        proposed_credit_note=-net if net < 0 else Decimal("0.00"),
    )


async def credit_corrections(
    conn: Connection, deps: Deps, invoice_id: uuid.UUID, body: ReasonRequiredIn, *, actor: str
) -> InvoiceOut:
    """Issue the credit note for the net reduction the corrections make; the correcting
    lines are then settled by it and leave the open statement."""
    async with conn.transaction():
        original = await _creditable(conn, invoice_id)
        contract, found = await _pending(conn, original, lock=True)
        net = sum((c.amount for c in found), Decimal(0))
        if net >= 0:
            raise Problem(
                409,
                "Nothing to credit",
                f"invoice_id: the corrections of {original['number']} reduce nothing "
                f"(net {net}); they stand on the next open statement",
                field="invoice_id",
            )
        row = await _issue_credit_note(
            conn,
            deps,
            original,
            -net,
            body.reason,
            actor,
            [_correction_out(c).model_dump(mode="json") for c in found],
        )
        await store.settle_corrections(
            conn,
            [
                (
                    row["id"],
                    contract["id"],
                    original["statement_id"],
                    c.worklog.id,
                    c.worklog.version,
                    c.seconds,
                    c.amount,
                )
                for c in found
            ],
        )
        await refresh(
            conn, deps, contract["id"], actor=actor, cause=f"corrections credited ({row['number']})"
        )
    return invoice_out(row)


async def get_invoice(conn: Connection, invoice_id: uuid.UUID) -> InvoiceOut:
    row = await store.get_invoice(conn, invoice_id)
    if row is None:
        raise Problem(404, "Not found", f"No invoice {invoice_id}.", field="invoice_id")
    return invoice_out(row)


async def list_invoices(
    conn: Connection, *, contract_id: uuid.UUID | None, customer_id: uuid.UUID | None
) -> list[InvoiceOut]:
    rows = await store.list_invoices(conn, contract_id=contract_id, customer_id=customer_id)
    return [invoice_out(r) for r in rows]


def _seller_date(deps: Deps, now: dt.datetime) -> dt.date:
    """The seller's calendar day of ``now``: an invoice's date and numbering year."""
    return now.astimezone(ZoneInfo(deps.settings.billing_seller_timezone)).date()
