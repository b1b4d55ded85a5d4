"""The printable PDFs of a statement and an invoice, and the buyer on the UBL: the
customer's billing details from contracts' customer.* events, or a 422 naming the missing
one."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from burnrate_billing.service.exports import schema_errors
from lxml import etree

from .bis import NS, bis_errors
from .conftest import AFTER_MARCH, BUYER
from .test_scenarios import scenario5

pytestmark = pytest.mark.integration

PDFTOTEXT = shutil.which("pdftotext")


def pdf_text(body: bytes) -> str:
    """The text of a PDF as poppler reads it (it fails on a PDF that does not parse)."""
    if PDFTOTEXT is None:
        if os.environ.get("CI"):
            pytest.fail("pdftotext is not installed (.ci/run installs Debian's poppler-utils)")
        pytest.skip("pdftotext (poppler-utils) is not installed")
    done = subprocess.run(
        [PDFTOTEXT, "-layout", "-", "-"], input=body, capture_output=True, check=True
    )
    return done.stdout.decode()


async def invoiced_march(rig) -> tuple[str, dict]:
    contract_id, _ = await scenario5(rig)
    sid = (await rig.statement(contract_id))["id"]
    rig.clock.set(AFTER_MARCH)
    for step in ("review", "approve", "invoice"):
        moved = await rig.api.post(f"/v1/statements/{sid}/{step}")
        assert moved.status_code == 200, moved.text
    invoice_id = moved.json()["invoice_id"]
    return sid, (await rig.api.get(f"/v1/invoices/{invoice_id}")).json()


async def test_statement_and_invoice_pdfs_hold_the_totals_and_the_buyer(rig):
    await rig.add_customer()
    sid, invoice = await invoiced_march(rig)
    statement = await rig.api.get(f"/v1/statements/{sid}.pdf")
    assert statement.status_code == 200, statement.text
    assert statement.headers["content-type"] == "application/pdf"
    assert statement.content.startswith(b"%PDF-")
    text = pdf_text(statement.content)
    for figure in ("525.00", "110.25", "635.25", "75.00", "tech3", "on-site repair", "site B"):
        assert figure in text, figure
    assert "night" in text and "Subtotal" in text

    document = await rig.api.get(f"/v1/invoices/{invoice['id']}.pdf")
    assert document.status_code == 200 and document.content.startswith(b"%PDF-")
    text = pdf_text(document.content)
    assert f"Invoice {invoice['number']}" in text
    for figure in ("525.00", "110.25", "635.25", "Acme Holding B.V.", "Keizersgracht 1"):
        assert figure in text, figure
    assert "NL123456789B01" in text and "Burnrate MSP" in text

    unknown = await rig.api.get(f"/v1/invoices/{invoice['number']}.pdf")
    assert unknown.status_code == 422  # not an id
    gone = await rig.api.get("/v1/statements/00000000-0000-0000-0000-000000000000.pdf")
    assert gone.status_code == 404 and gone.json()["errors"][0]["field"] == "statement_id"

    # the UBL names the buyer from its billing details, no placeholder
    xml = await rig.api.get(f"/v1/invoices/{invoice['id']}/ubl")
    assert xml.status_code == 200, xml.text
    assert schema_errors(xml.content, "invoice") == [] and bis_errors(xml.content) == []
    party = etree.fromstring(xml.content).find("cac:AccountingCustomerParty/cac:Party", NS)
    endpoint = party.find("cbc:EndpointID", NS)
    assert (endpoint.text, endpoint.get("schemeID")) == ("87654321", "0106")
    assert (
        party.findtext("cac:PartyLegalEntity/cbc:RegistrationName", namespaces=NS)
        == (BUYER["legal_name"])
    )
    address = party.find("cac:PostalAddress", NS)
    assert [address.findtext(f"cbc:{n}", namespaces=NS) for n in ("StreetName", "CityName")] == [
        "Keizersgracht 1",
        "Amsterdam",
    ]
    assert address.findtext("cbc:PostalZone", namespaces=NS) == "1015 AA"
    assert party.findtext("cac:PartyTaxScheme/cbc:CompanyID", namespaces=NS) == "NL123456789B01"


async def test_an_invoice_without_the_buyers_electronic_address_is_not_exported(rig):
    _, invoice = await invoiced_march(rig)  # billing knows nothing of the customer
    url = f"/v1/invoices/{invoice['id']}/ubl"
    missing = await rig.api.get(url)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "billing.peppol_endpoint_id"
    assert "billing.country" in missing.json()["detail"]
    # the PDF prints with what is known
    assert (await rig.api.get(f"/v1/invoices/{invoice['id']}.pdf")).status_code == 200

    await rig.add_customer(peppol_endpoint_id=None, peppol_scheme=None)
    still = await rig.api.get(url)
    assert still.status_code == 422
    assert still.json()["errors"][0]["field"] == "billing.peppol_endpoint_id"
    assert "billing.country" not in still.json()["detail"]

    # details given after the invoice was issued complete its export
    await rig.add_customer()
    done = await rig.api.get(url)
    assert done.status_code == 200, done.text
    assert b'schemeID="0106">87654321<' in done.content
