"""Invoices and credit notes (issued from statements: ``POST /v1/statements/{id}/invoice``)."""

from __future__ import annotations

import uuid
from typing import Annotated

from burnrate_common.deps import ConnectionDep
from fastapi import APIRouter, Query, Response

from burnrate_billing.api import DepsDep, download
from burnrate_billing.auth import BillingReader, BillingWriter
from burnrate_billing.schemas import CorrectionsOut, CreditNoteIn, InvoiceOut, ReasonRequiredIn
from burnrate_billing.service import exports
from burnrate_billing.service import invoices as service

router = APIRouter(prefix="/v1/invoices", tags=["invoices"])


@router.get("", response_model=list[InvoiceOut], summary="Invoices and credit notes")
async def list_invoices(
    conn: ConnectionDep,
    _: BillingReader,
    contract_id: Annotated[uuid.UUID | None, Query()] = None,
    customer_id: Annotated[uuid.UUID | None, Query()] = None,
) -> list[InvoiceOut]:
    return await service.list_invoices(conn, contract_id=contract_id, customer_id=customer_id)


@router.get("/{invoice_id}", response_model=InvoiceOut, summary="One invoice or credit note")
async def get_invoice(invoice_id: uuid.UUID, conn: ConnectionDep, _: BillingReader) -> InvoiceOut:
    return await service.get_invoice(conn, invoice_id)


@router.post(
    "/{invoice_id}/credit-notes",
    status_code=201,
    response_model=InvoiceOut,
    summary="Correct an invoice with a credit note",
)
async def credit_note(
    invoice_id: uuid.UUID,
    body: CreditNoteIn,
    conn: ConnectionDep,
    deps: DepsDep,
    who: BillingWriter,
) -> InvoiceOut:
    return await service.credit_note(conn, deps, invoice_id, body, actor=who.name)


@router.get(
    "/{invoice_id}/corrections",
    response_model=CorrectionsOut,
    summary="Worklogs the invoice settled, corrected or deleted since, and the credit proposed",
)
async def corrections(
    invoice_id: uuid.UUID, conn: ConnectionDep, _: BillingReader
) -> CorrectionsOut:
    return await service.corrections(conn, invoice_id)


@router.post(
    "/{invoice_id}/corrections/credit-note",
    status_code=201,
    response_model=InvoiceOut,
    summary="Credit the reduction the corrections make (they leave the next statement)",
)
async def credit_corrections(
    invoice_id: uuid.UUID,
    body: ReasonRequiredIn,
    conn: ConnectionDep,
    deps: DepsDep,
    who: BillingWriter,
) -> InvoiceOut:
    return await service.credit_corrections(conn, deps, invoice_id, body, actor=who.name)


@router.get(
    "/{invoice_id}/ubl",
    summary="UBL 2.1: Peppol BIS Billing 3.0 invoice (380) or credit note (381)",
    response_class=Response,
    responses={200: {"content": {"application/xml": {}}}},
)
async def ubl(invoice_id: uuid.UUID, conn: ConnectionDep, _: BillingReader) -> Response:
    number, xml = await exports.ubl_of(conn, invoice_id)
    return download(xml, "application/xml", f"{number}.xml", inline=False)


@router.get(
    "/{invoice_id}/csv",
    summary="CSV in the import layout of Exact Online, Xero or QuickBooks Online",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
async def csv(
    invoice_id: uuid.UUID,
    conn: ConnectionDep,
    _: BillingReader,
    layout: Annotated[str, Query(description="exact, xero or quickbooks")],
) -> Response:
    number, text = await exports.csv_of(conn, invoice_id, layout)
    return download(text, "text/csv; charset=utf-8", f"{number}-{layout}.csv", inline=False)
