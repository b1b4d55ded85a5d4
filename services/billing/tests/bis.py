"""The key EN 16931 / Peppol BIS Billing 3.0 rules the UBL exports are checked by in
tests (besides the UBL 2.1 schema): none of the PyPI validators ships the official
Schematron (they download it at run time), so these are implemented here."""

from __future__ import annotations

from decimal import Decimal

from burnrate_billing.domain.ubl import CAC, CBC, CUSTOMIZATION, PROFILE
from lxml import etree

NS = {"cac": CAC, "cbc": CBC}


def _d(node, path):
    found = node.find(path, NS)
    return Decimal(found.text) if found is not None else Decimal(0)


def bis_errors(xml: bytes) -> list[str]:
    root = etree.fromstring(xml)
    kind = etree.QName(root).localname
    line_tag = "cac:InvoiceLine" if kind == "Invoice" else "cac:CreditNoteLine"
    qty_tag = "cbc:InvoicedQuantity" if kind == "Invoice" else "cbc:CreditedQuantity"
    errors = []

    def rule(name, ok):
        if not ok:
            errors.append(name)

    text = lambda path: (root.findtext(path, namespaces=NS) or "").strip()  # noqa: E731
    rule("BR-01 CustomizationID", text("cbc:CustomizationID") == CUSTOMIZATION)
    rule("PEPPOL-R007 ProfileID", text("cbc:ProfileID") == PROFILE)
    rule("BR-02 ID", bool(text("cbc:ID")))
    rule("BR-03 IssueDate", bool(text("cbc:IssueDate")))
    rule(
        "BR-04 type code",
        text("cbc:InvoiceTypeCode" if kind == "Invoice" else "cbc:CreditNoteTypeCode")
        == ("380" if kind == "Invoice" else "381"),
    )
    rule("BR-05 currency", bool(text("cbc:DocumentCurrencyCode")))
    rule(
        "BR-06 seller name",
        bool(
            text("cac:AccountingSupplierParty/cac:Party/cac:PartyLegalEntity/cbc:RegistrationName")
        ),
    )
    rule(
        "BR-07 buyer name",
        bool(
            text("cac:AccountingCustomerParty/cac:Party/cac:PartyLegalEntity/cbc:RegistrationName")
        ),
    )
    rule("PEPPOL-R003 buyer reference", bool(text("cbc:BuyerReference")))
    rule(
        "PEPPOL-R020 seller endpoint",
        bool(text("cac:AccountingSupplierParty/cac:Party/cbc:EndpointID")),
    )
    rule(
        "PEPPOL-R010 buyer endpoint",
        bool(text("cac:AccountingCustomerParty/cac:Party/cbc:EndpointID")),
    )
    lines = root.findall(line_tag, NS)
    rule("BR-16 a line", bool(lines))
    total = root.find("cac:LegalMonetaryTotal", NS)
    line_sum = sum((_d(line, "cbc:LineExtensionAmount") for line in lines), Decimal(0))
    for line in lines:
        qty, price = _d(line, qty_tag), _d(line, "cac:Price/cbc:PriceAmount")
        rule(
            f"PEPPOL-R120 line {line.findtext('cbc:ID', namespaces=NS)}",
            abs(qty * price - _d(line, "cbc:LineExtensionAmount")) <= Decimal("0.02"),
        )
    allowances = sum(
        (
            _d(a, "cbc:Amount")
            for a in root.findall("cac:AllowanceCharge", NS)
            if a.findtext("cbc:ChargeIndicator", namespaces=NS) == "false"
        ),
        Decimal(0),
    )
    charges = sum(
        (
            _d(a, "cbc:Amount")
            for a in root.findall("cac:AllowanceCharge", NS)
            if a.findtext("cbc:ChargeIndicator", namespaces=NS) == "true"
        ),
        Decimal(0),
    )
    rule("BR-CO-10 line total", _d(total, "cbc:LineExtensionAmount") == line_sum)
    rule("BR-CO-11 allowances", _d(total, "cbc:AllowanceTotalAmount") == allowances)
    rule("BR-CO-12 charges", _d(total, "cbc:ChargeTotalAmount") == charges)
    exclusive = _d(total, "cbc:TaxExclusiveAmount")
    rule("BR-CO-13 tax exclusive", exclusive == line_sum - allowances + charges)
    tax = _d(root, "cac:TaxTotal/cbc:TaxAmount")
    rule("BR-CO-15 tax inclusive", _d(total, "cbc:TaxInclusiveAmount") == exclusive + tax)
    rule("BR-CO-16 payable", _d(total, "cbc:PayableAmount") == _d(total, "cbc:TaxInclusiveAmount"))
    for sub in root.findall("cac:TaxTotal/cac:TaxSubtotal", NS):
        percent = _d(sub, "cac:TaxCategory/cbc:Percent")
        taxable = _d(sub, "cbc:TaxableAmount")
        rule("BR-S-08 taxable", taxable == exclusive)
        expected = (taxable * percent / 100).quantize(Decimal("0.01"))
        rule("BR-S-09 tax per rate", _d(sub, "cbc:TaxAmount") == expected)
    rule(
        "BR-CO-14 tax total",
        tax
        == sum(
            (_d(s, "cbc:TaxAmount") for s in root.findall("cac:TaxTotal/cac:TaxSubtotal", NS)),
            Decimal(0),
        ),
    )
    return errors
