"""Accounting imports as CSV, from an issued invoice or credit note. Pure.

The column layouts (one row per invoice line; document-level adjustments as lines of
their own, negative for allowances, so the rows add up to the invoice's subtotal):

- **Xero** — Sales invoices import (Business → Invoices → Import): ``*ContactName``,
  ``EmailAddress``, ``POAddressLine1`` … ``POCountry``, ``*InvoiceNumber``, ``Reference``,
  ``*InvoiceDate``, ``*DueDate``, ``Total``, ``InventoryItemCode``, ``*Description``,
  ``*Quantity``, ``*UnitAmount``, ``Discount``, ``*AccountCode``, ``*TaxType``,
  ``TaxAmount``, ``TrackingName1``, ``TrackingOption1``, ``TrackingName2``,
  ``TrackingOption2``, ``Currency``, ``BrandingTheme`` (dates dd/mm/yyyy).
- **QuickBooks Online** — Invoices import (Gear → Import data → Invoices): ``Invoice no``,
  ``Customer``, ``Invoice Date``, ``Due Date``, ``Terms``, ``Location``, ``Memo``,
  ``Item(Product/Service)``, ``Item Description``, ``Item Quantity``, ``Item Rate``,
  ``Item Amount``, ``Item Tax Code``, ``Item Tax Amount``, ``Service Date``, ``Currency``
  (dates yyyy-mm-dd).
- **Exact Online** — Sales entries import (Financial → Import → Sales entries, the
  columns mapped by header): ``Journal``, ``Entry date``, ``Invoice number``,
  ``Customer``, ``Your ref``, ``Description``, ``GL account``, ``Quantity``, ``Amount``,
  ``VAT code``, ``VAT amount``, ``Currency``, ``Due date`` (dates dd-mm-yyyy).

Account and tax codes are placeholders the importer maps (``8000`` revenue; ``OUTPUT``
/ ``VH`` for the VAT rate), named once here.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any, Literal

from burnrate_billing.domain.rating import money
from burnrate_billing.domain.ubl import adjustments_of, buyer_of, lines_of

Layout = Literal["xero", "quickbooks", "exact"]
REVENUE_ACCOUNT = "8000"

XERO = [
    "*ContactName", "EmailAddress", "POAddressLine1", "POAddressLine2", "POAddressLine3",
    "POAddressLine4", "POCity", "PORegion", "POPostalCode", "POCountry", "*InvoiceNumber",
    "Reference", "*InvoiceDate", "*DueDate", "Total", "InventoryItemCode", "*Description",
    "*Quantity", "*UnitAmount", "Discount", "*AccountCode", "*TaxType", "TaxAmount",
    "TrackingName1", "TrackingOption1", "TrackingName2", "TrackingOption2", "Currency",
    "BrandingTheme",
]  # fmt: skip
QUICKBOOKS = [
    "Invoice no", "Customer", "Invoice Date", "Due Date", "Terms", "Location", "Memo",
    "Item(Product/Service)", "Item Description", "Item Quantity", "Item Rate", "Item Amount",
    "Item Tax Code", "Item Tax Amount", "Service Date", "Currency",
]  # fmt: skip
EXACT = [
    "Journal", "Entry date", "Invoice number", "Customer", "Your ref", "Description",
    "GL account", "Quantity", "Amount", "VAT code", "VAT amount", "Currency", "Due date",
]  # fmt: skip
COLUMNS: dict[str, list[str]] = {"xero": XERO, "quickbooks": QUICKBOOKS, "exact": EXACT}


def _rows(invoice: dict[str, Any]) -> list[tuple[str, Decimal, Decimal, Decimal]]:
    """(description, quantity, unit price, amount); a credit note's amounts negative."""
    document = invoice["document"]
    sign = Decimal(-1) if invoice["kind"] == "credit_note" else Decimal(1)
    if invoice["kind"] == "credit_note":
        amount = Decimal(invoice["subtotal"])
        return [
            (f"Credit on invoice {document['corrects']['number']}", Decimal(1), -amount, -amount)
        ]
    rows = [(name, qty, price, amount) for name, qty, _, price, amount in lines_of(document)]
    for is_charge, reason, amount in adjustments_of(document):
        value = amount if is_charge else -amount
        rows.append((reason, Decimal(1), value, value))
    return [(d, q, p * sign, a * sign) for d, q, p, a in rows]


def _cell(value: Any) -> str:
    text = str(value)
    # a cell a spreadsheet would run as a formula is quoted as text
    return (
        "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _number(text) else text
    )


def _number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return True


def invoice_csv(invoice: dict[str, Any], layout: Layout) -> str:
    document = invoice["document"]
    rate = Decimal(invoice["vat_rate"])
    issue = dt.date.fromisoformat(str(invoice["issue_date"]))
    due = dt.date.fromisoformat(str(invoice["due_date"]))
    customer = buyer_of(document)["name"]
    reference = document["contract"]["code"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS[layout])
    for description, quantity, price, amount in _rows(invoice):
        vat = money(amount * rate)
        if layout == "xero":
            row: list[Any] = [customer, "", "", "", "", "", "", "", "", "", invoice["number"],
                              reference, issue.strftime("%d/%m/%Y"), due.strftime("%d/%m/%Y"),
                              "", "", description, quantity.normalize(), price, "",
                              REVENUE_ACCOUNT, "OUTPUT" if rate else "NONE", vat, "", "", "", "",
                              invoice["currency"], ""]  # fmt: skip
        elif layout == "quickbooks":
            row = [invoice["number"], customer, issue.isoformat(), due.isoformat(), "", "",
                   reference, "Services", description, quantity.normalize(), price, amount,
                   "VAT" if rate else "Exempt", vat, document["period"]["end"],
                   invoice["currency"]]  # fmt: skip
        else:
            row = ["70", issue.strftime("%d-%m-%Y"), invoice["number"], customer, reference,
                   description, REVENUE_ACCOUNT, quantity.normalize(), amount,
                   "VH" if rate else "VN", vat, invoice["currency"], due.strftime("%d-%m-%Y")]  # fmt: skip
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()
