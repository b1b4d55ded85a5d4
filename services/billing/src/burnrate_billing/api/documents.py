"""Printable PDFs: ``GET /v1/statements/{id}.pdf`` and ``GET /v1/invoices/{id}.pdf``.

Registered before the statements' and invoices' own routers, whose ``/{id}`` would
otherwise take the ``.pdf`` path."""

from __future__ import annotations

import uuid
from typing import Any

from burnrate_common.deps import ConnectionDep
from fastapi import APIRouter, Response

from burnrate_billing.api import DepsDep, download
from burnrate_billing.auth import BillingReader
from burnrate_billing.service import documents

router = APIRouter(prefix="/v1", tags=["documents"])
PDF: dict[int | str, dict[str, Any]] = {200: {"content": {"application/pdf": {}}}}


def _pdf(name: str, body: bytes) -> Response:
    return download(body, "application/pdf", f"{name}.pdf", inline=True)


@router.get(
    "/statements/{statement_id}.pdf",
    summary="The statement, printable",
    response_class=Response,
    responses=PDF,
)
async def statement_pdf(
    statement_id: uuid.UUID, conn: ConnectionDep, deps: DepsDep, _: BillingReader
) -> Response:
    return _pdf(*await documents.statement_pdf(conn, deps, statement_id))


@router.get(
    "/invoices/{invoice_id}.pdf",
    summary="The invoice or credit note, printable",
    response_class=Response,
    responses=PDF,
)
async def invoice_pdf(invoice_id: uuid.UUID, conn: ConnectionDep, _: BillingReader) -> Response:
    return _pdf(*await documents.invoice_pdf(conn, invoice_id))
