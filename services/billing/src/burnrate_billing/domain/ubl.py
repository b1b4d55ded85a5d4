"""Invoices as UBL 2.1 Peppol BIS Billing 3.0 (type 380) and credit notes as UBL 2.1
CreditNote (type 381), from an issued document. Pure: document in, XML bytes out.

Mapping: each charged line is an invoice line (quantity in hours, ``HUR``; the price the
line's rate; the item named by activity, date, person, ticket); the period fee is a line
of quantity 1; debt brought forward is a document-level charge; debt carried forward,
credits and service credits are document-level allowances; one VAT category (``S`` at the
contract's rate, ``Z`` when the rate is 0). The totals satisfy EN 16931's BR-CO-10..16.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from lxml import etree

INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CUSTOMIZATION = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PROFILE = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
CENT = Decimal("0.01")


def _amount(value: Decimal | str) -> str:
    return str(Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP))


class _Builder:
    def __init__(self, root_ns: str, root: str) -> None:
        self.root = etree.Element(
            f"{{{root_ns}}}{root}", nsmap={None: root_ns, "cac": CAC, "cbc": CBC}
        )

    @staticmethod
    def cbc(parent: Any, name: str, text: str | None = None, **attrs: str) -> Any:
        element = etree.SubElement(parent, f"{{{CBC}}}{name}", attrs)
        if text is not None:
            element.text = text
        return element

    @staticmethod
    def cac(parent: Any, name: str) -> Any:
        return etree.SubElement(parent, f"{{{CAC}}}{name}")


def _party(b: _Builder, parent: Any, role: str, party: dict[str, Any]) -> None:
    outer = b.cac(parent, role)
    p = b.cac(outer, "Party")
    scheme, _, endpoint = party["endpoint"].partition(":")
    b.cbc(p, "EndpointID", endpoint, schemeID=scheme)
    b.cbc(b.cac(p, "PartyName"), "Name", party["name"])
    address = b.cac(p, "PostalAddress")
    lines = list(party.get("address_lines") or [])
    if lines:
        b.cbc(address, "StreetName", lines[0])
    if len(lines) > 1:
        b.cbc(address, "AdditionalStreetName", lines[1])
    if party.get("city"):
        b.cbc(address, "CityName", party["city"])
    if party.get("postcode"):
        b.cbc(address, "PostalZone", party["postcode"])
    if len(lines) > 2:
        b.cbc(b.cac(address, "AddressLine"), "Line", ", ".join(lines[2:]))
    b.cbc(b.cac(address, "Country"), "IdentificationCode", party["country"])
    if party.get("vat_id"):
        tax = b.cac(p, "PartyTaxScheme")
        b.cbc(tax, "CompanyID", party["vat_id"])
        b.cbc(b.cac(tax, "TaxScheme"), "ID", "VAT")
    b.cbc(
        b.cac(p, "PartyLegalEntity"), "RegistrationName", party.get("legal_name") or party["name"]
    )


def _tax_category(b: _Builder, parent: Any, name: str, category: str, percent: Decimal) -> None:
    tc = b.cac(parent, name)
    b.cbc(tc, "ID", category)
    b.cbc(tc, "Percent", str(percent.normalize() if percent else Decimal(0)))
    b.cbc(b.cac(tc, "TaxScheme"), "ID", "VAT")


Row = tuple[str, Decimal, str, Decimal, Decimal]


def lines_of(document: dict[str, Any]) -> list[Row]:
    """(name, quantity, unit, price, amount) of every invoice line: UN/ECE rec 20 units,
    ``HUR`` hours, ``C62`` one (the period fee)."""
    out: list[Row] = []
    fee = Decimal(document["figures"]["period_fee"])
    if fee:
        out.append(("Period fee (allowance)", Decimal(1), "C62", fee, fee))
    for line in document["lines"]:
        hours = (Decimal(line["charged_seconds"]) / 3600).quantize(Decimal("0.0001"))
        name = f"{line['activity']} {line['date']} {line['person']}"
        if line.get("correction"):
            # a correcting line: one unit of its (signed) amount, so that quantity × price
            # is the line amount whatever rates the corrected hours had (the price is never
            # negative: BR-27)
            amount = Decimal(line["amount"])
            name = f"Correction of invoiced work: {name}"
            if line.get("ticket"):
                name += f" (ticket {line['ticket']})"
            name += f", {Decimal(line['charged_seconds']) / 3600:.2f} h"
            out.append((name, Decimal(1 if amount >= 0 else -1), "C62", abs(amount), amount))
            continue
        if line.get("ticket"):
            name += f" (ticket {line['ticket']})"
        if line.get("shift"):
            name += f", {line['shift']}"
        if line.get("late"):
            name += f", late line of the period from {line['period_start']}"
        out.append((name, hours, "HUR", Decimal(line["rate"]), Decimal(line["amount"])))
    return out


def adjustments_of(document: dict[str, Any]) -> list[tuple[bool, str, Decimal]]:
    """(is_charge, reason, amount) at document level."""
    fig = document["figures"]
    out = []
    if Decimal(fig["debt_brought_forward"]):
        out.append(
            (
                True,
                "Debt brought forward from the previous period",
                Decimal(fig["debt_brought_forward"]),
            )
        )
    if Decimal(fig["carried_forward"]):
        out.append((False, "Carried forward to the next period", Decimal(fig["carried_forward"])))
    if Decimal(fig["credits"]):
        out.append((False, "Credit granted", Decimal(fig["credits"])))
    if Decimal(fig.get("service_credits", "0")):
        out.append(
            (False, "Service credit (missed service level)", Decimal(fig["service_credits"]))
        )
    return out


def _document_body(
    b: _Builder,
    invoice: dict[str, Any],
    document: dict[str, Any],
    buyer: dict[str, Any],
    lines: Iterable[Row],
    adjustments: list[tuple[bool, str, Decimal]],
    *,
    line_tag: str,
    quantity_tag: str,
) -> None:
    root = b.root
    currency = invoice["currency"]
    rate = Decimal(invoice["vat_rate"])
    percent = (rate * 100).quantize(Decimal("0.01")).normalize()
    category = "S" if rate else "Z"
    _party(b, root, "AccountingSupplierParty", document["seller"])
    _party(b, root, "AccountingCustomerParty", buyer)
    for is_charge, reason, amount in adjustments:
        ac = b.cac(root, "AllowanceCharge")
        b.cbc(ac, "ChargeIndicator", "true" if is_charge else "false")
        b.cbc(ac, "AllowanceChargeReason", reason)
        b.cbc(ac, "Amount", _amount(amount), currencyID=currency)
        _tax_category(b, ac, "TaxCategory", category, percent)
    line_list = list(lines)
    line_total = sum((amount for *_, amount in line_list), Decimal(0))
    allowances = sum((a for c, _, a in adjustments if not c), Decimal(0))
    charges = sum((a for c, _, a in adjustments if c), Decimal(0))
    taxable = line_total - allowances + charges
    vat = Decimal(invoice["vat"])
    total = b.cac(root, "TaxTotal")
    b.cbc(total, "TaxAmount", _amount(vat), currencyID=currency)
    sub = b.cac(total, "TaxSubtotal")
    b.cbc(sub, "TaxableAmount", _amount(taxable), currencyID=currency)
    b.cbc(sub, "TaxAmount", _amount(vat), currencyID=currency)
    _tax_category(b, sub, "TaxCategory", category, percent)
    money = b.cac(root, "LegalMonetaryTotal")
    b.cbc(money, "LineExtensionAmount", _amount(line_total), currencyID=currency)
    b.cbc(money, "TaxExclusiveAmount", _amount(taxable), currencyID=currency)
    b.cbc(money, "TaxInclusiveAmount", _amount(taxable + vat), currencyID=currency)
    if allowances:
        b.cbc(money, "AllowanceTotalAmount", _amount(allowances), currencyID=currency)
    if charges:
        b.cbc(money, "ChargeTotalAmount", _amount(charges), currencyID=currency)
    b.cbc(money, "PayableAmount", _amount(taxable + vat), currencyID=currency)
    for n, (name, quantity, unit, price, amount) in enumerate(line_list, start=1):
        line = b.cac(root, line_tag)
        b.cbc(line, "ID", str(n))
        b.cbc(line, quantity_tag, str(quantity.normalize()), unitCode=unit)
        b.cbc(line, "LineExtensionAmount", _amount(amount), currencyID=currency)
        item = b.cac(line, "Item")
        b.cbc(item, "Name", name[:200])
        _tax_category(b, item, "ClassifiedTaxCategory", category, percent)
        b.cbc(
            b.cac(line, "Price"),
            "PriceAmount",
            _amount(price) if price == price.quantize(CENT) else str(price),
            currencyID=currency,
        )


class MissingBuyerDetails(ValueError):
    """The buyer lacks what a Peppol invoice must name (``fields``: the customer's billing
    detail fields that are missing)."""

    def __init__(self, fields: list[str]) -> None:
        super().__init__(", ".join(fields))
        self.fields = fields


def buyer_of(document: dict[str, Any]) -> dict[str, Any]:
    """The buyer as the document names it (the customer's billing details, as known when
    it was issued or filled in since); nothing is made up."""
    buyer = document.get("buyer", {})
    endpoint = ""
    if buyer.get("peppol_endpoint_id") and buyer.get("peppol_scheme"):
        endpoint = f"{buyer['peppol_scheme']}:{buyer['peppol_endpoint_id']}"
    return {
        "name": buyer.get("name") or document["contract"]["title"],
        "legal_name": buyer.get("legal_name"),
        "address_lines": buyer.get("address_lines") or [],
        "city": buyer.get("city"),
        "postcode": buyer.get("postcode"),
        "country": buyer.get("country") or "",
        "vat_id": buyer.get("vat_id") or "",
        "endpoint": endpoint,
    }


def missing_buyer_fields(buyer: dict[str, Any]) -> list[str]:
    """What Peppol BIS 3.0 requires of the buyer and is not known: the electronic address
    (PEPPOL-EN16931-R010, BT-49) and the country (BR-11, BT-55)."""
    missing = []
    if not buyer["endpoint"]:
        missing.append("peppol_endpoint_id")
    if not buyer["country"]:
        missing.append("country")
    return missing


def _buyer(document: dict[str, Any]) -> dict[str, Any]:
    buyer = buyer_of(document)
    missing = missing_buyer_fields(buyer)
    if missing:
        raise MissingBuyerDetails(missing)
    return buyer


def invoice_xml(invoice: dict[str, Any]) -> bytes:
    """An issued invoice (``InvoiceOut`` as a dict) as Peppol BIS Billing 3.0 UBL."""
    document = invoice["document"]
    b = _Builder(INVOICE_NS, "Invoice")
    root = b.root
    b.cbc(root, "CustomizationID", CUSTOMIZATION)
    b.cbc(root, "ProfileID", PROFILE)
    b.cbc(root, "ID", invoice["number"])
    b.cbc(root, "IssueDate", str(invoice["issue_date"]))
    b.cbc(root, "DueDate", str(invoice["due_date"]))
    b.cbc(root, "InvoiceTypeCode", "380")
    b.cbc(root, "DocumentCurrencyCode", invoice["currency"])
    b.cbc(root, "BuyerReference", document["contract"]["code"])
    period = b.cac(root, "InvoicePeriod")
    b.cbc(period, "StartDate", document["period"]["start"])
    b.cbc(period, "EndDate", document["period"]["end"])
    b.cbc(b.cac(root, "ContractDocumentReference"), "ID", document["contract"]["code"])
    _document_body(
        b,
        invoice,
        document,
        _buyer(document),
        lines_of(document),
        adjustments_of(document),
        line_tag="InvoiceLine",
        quantity_tag="InvoicedQuantity",
    )
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def credit_note_xml(note: dict[str, Any]) -> bytes:
    """A credit note (``InvoiceOut`` of kind credit_note) as UBL 2.1 CreditNote, type 381,
    one line for the amount credited, referencing the invoice it corrects."""
    document = note["document"]
    b = _Builder(CREDIT_NOTE_NS, "CreditNote")
    root = b.root
    b.cbc(root, "CustomizationID", CUSTOMIZATION)
    b.cbc(root, "ProfileID", PROFILE)
    b.cbc(root, "ID", note["number"])
    b.cbc(root, "IssueDate", str(note["issue_date"]))
    b.cbc(root, "CreditNoteTypeCode", "381")
    if note.get("reason"):
        b.cbc(root, "Note", note["reason"])
    b.cbc(root, "DocumentCurrencyCode", note["currency"])
    b.cbc(root, "BuyerReference", document["contract"]["code"])
    billing = b.cac(b.cac(root, "BillingReference"), "InvoiceDocumentReference")
    b.cbc(billing, "ID", document["corrects"]["number"])
    b.cbc(billing, "IssueDate", document["corrects"]["issue_date"])
    amount = Decimal(note["subtotal"])
    name = f"Credit on invoice {document['corrects']['number']}"
    _document_body(
        b,
        note,
        document,
        _buyer(document),
        [(name, Decimal(1), "C62", amount, amount)],
        [],
        line_tag="CreditNoteLine",
        quantity_tag="CreditedQuantity",
    )
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
