"""Printable PDFs of a statement and of an invoice or credit note (reportlab). Pure: the
API's answer as a dict in, PDF bytes out.

A statement is printed in landscape (its lines have thirteen columns), an invoice in
portrait. Long line lists are laid out in chunks of tables, so a statement of thousands of
lines costs time in proportion to its lines; the header row repeats on every page.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import (
    Flowable,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from burnrate_billing.domain.ubl import adjustments_of, buyer_of, lines_of

#: lines per laid-out table: reportlab splits a table across pages in time that grows
#: with its size, so a long statement is printed as a run of small tables
CHUNK = 40

_STYLES = getSampleStyleSheet()
TITLE = ParagraphStyle("title", parent=_STYLES["Title"], alignment=0, fontSize=16, spaceAfter=2)
BODY = ParagraphStyle("body", parent=_STYLES["BodyText"], fontSize=9, leading=11)
SMALL = ParagraphStyle("small", parent=BODY, fontSize=7.5, leading=9)
HEADER_BG = colors.HexColor("#e8ecf2")
RULE = colors.HexColor("#9aa5b1")


def _money(value: Any, currency: str = "") -> str:
    text = f"{Decimal(str(value)):,.2f}"
    return f"{currency} {text}".strip()


def _hours(value: Any) -> str:
    return f"{Decimal(str(value)):.2f}"


def _text(value: Any) -> str:
    """Safe in a Paragraph (its mini-markup)."""
    return ("" if value is None else str(value).replace("&", "&amp;").replace("<", "&lt;")).replace(
        ">", "&gt;"
    )


def _table(
    rows: Sequence[Sequence[Any]], widths: Sequence[float], numeric: tuple[int, int]
) -> Table:
    table = Table(list(rows), colWidths=list(widths), repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 7.5),
                ("FONT", (0, 1), (-1, -1), "Helvetica", 7.5),
                ("BACKGROUND", (0, 0), (-1, 0), HEADER_BG),
                ("LINEBELOW", (0, 0), (-1, 0), 0.6, RULE),
                ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.HexColor("#dde2e8")),
                ("ALIGN", (numeric[0], 0), (numeric[1], -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return table


def _chunked(
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    widths: Sequence[float],
    numeric: tuple[int, int],
) -> Iterable[Flowable]:
    if not rows:
        yield Paragraph("No lines.", BODY)
        return
    for start in range(0, len(rows), CHUNK):
        yield _table([header, *rows[start : start + CHUNK]], widths, numeric)


def _totals(rows: Sequence[tuple[str, str]], width: float) -> Table:
    """Label and amount, right-aligned, the last row (the total) bold over a rule."""
    table = Table(list(rows), colWidths=[width * 0.7, width * 0.3], hAlign="RIGHT")
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), "Helvetica", 9),
                ("FONT", (0, -1), (-1, -1), "Helvetica-Bold", 10),
                ("ALIGN", (1, 0), (1, -1), "RIGHT"),
                ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
            ]
        )
    )
    return table


def _facts(pairs: Sequence[tuple[str, str]]) -> Table:
    table = Table(
        [[Paragraph(f"<b>{k}</b>", BODY), Paragraph(v, BODY)] for k, v in pairs],
        colWidths=[34 * mm, 130 * mm],
        hAlign="LEFT",
    )
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 0.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 0.5),
            ]
        )
    )
    return table


def _build(story: list[Flowable], pagesize: tuple[float, float], title: str) -> bytes:
    out = io.BytesIO()

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.setFillColor(colors.HexColor("#5b6570"))
        canvas.drawString(doc.leftMargin, 8 * mm, title)
        canvas.drawRightString(
            pagesize[0] - doc.rightMargin, 8 * mm, f"page {canvas.getPageNumber()}"
        )
        canvas.restoreState()

    doc = SimpleDocTemplate(
        out,
        pagesize=pagesize,
        leftMargin=14 * mm,
        rightMargin=14 * mm,
        topMargin=14 * mm,
        bottomMargin=16 * mm,
        title=title,
        author="Burnrate",
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()


# --- the statement --------------------------------------------------------------------------

STATEMENT_COLUMNS = (
    "Date", "Person", "Ticket", "Activity", "Location", "Shift", "Actual h", "Billable h",
    "In allow. h", "Charged h", "Rate", "Amount", "Status",
)  # fmt: skip


def _line_status(line: dict[str, Any]) -> str:
    status = str(line["status"]).replace("_", " ")
    if line.get("late"):
        status += f" (late, {line['period_start']})"
    return status


def statement_pdf(statement: dict[str, Any]) -> bytes:
    """A statement (``StatementOut`` as JSON) with its lines and figures."""
    fig = statement.get("figures") or {}
    currency = fig.get("currency", "")
    page = landscape(A4)
    width = page[0] - 28 * mm
    title = (
        f"Statement {statement['contract_code']} "
        f"{statement['period_start']} – {statement['period_end']}"
    )
    story: list[Flowable] = [
        Paragraph(_text(title), TITLE),
        _facts(
            [
                ("Contract", _text(statement["contract_code"])),
                ("Period", f"{statement['period_start']} to {statement['period_end']}"),
                ("Status", _text(statement["status"]).replace("_", " ")),
                ("Allowance policy", _text(statement["allowance_policy"]).replace("_", " ")),
            ]
            + (
                [("Approved", f"{_text(statement['approved_by'])}, {statement['approved_at']}")]
                if statement.get("approved_by")
                else []
            )
        ),
        Spacer(1, 4 * mm),
    ]
    if fig:
        story.append(
            _facts(
                [
                    (
                        "Allowance",
                        f"{_hours(fig['allowance_hours'])} h (planned "
                        f"{_hours(fig['planned_hours'])} h, rolled in "
                        f"{_hours(fig['rollover_in_hours'])} h); used "
                        f"{_hours(fig['in_allowance_hours'])} h",
                    ),
                    (
                        "Hours",
                        f"actual {_hours(fig['actual_hours'])} h, billable "
                        f"{_hours(fig['billable_hours'])} h, charged "
                        f"{_hours(fig['charged_hours'])} h",
                    ),
                    ("Rollover out", f"{_hours(fig['rollover_out_hours'])} h"),
                ]
            )
        )
        story.append(Spacer(1, 4 * mm))
    rows = [
        [
            line["date"],
            Paragraph(_text(line["person"]), SMALL),
            _text(line.get("ticket") or ""),
            Paragraph(_text(line["activity"]), SMALL),
            Paragraph(_text(line.get("location") or ""), SMALL),
            _text(line.get("shift") or ""),
            _hours(line["actual_hours"]),
            _hours(line["billable_hours"]),
            _hours(line["in_allowance_hours"]),
            _hours(line["charged_hours"]),
            _money(line["rate"]),
            _money(line["amount"]),
            Paragraph(_text(_line_status(line)), SMALL),
        ]
        for line in statement.get("lines") or []
    ]
    fractions = (7, 8, 5, 12, 9, 5, 5.5, 5.5, 5.5, 5.5, 6, 7, 10)
    widths = [width * f / sum(fractions) for f in fractions]
    story.extend(_chunked(STATEMENT_COLUMNS, rows, widths, numeric=(6, -2)))
    story.append(Spacer(1, 5 * mm))
    if fig:
        totals = [("Period fee", _money(fig["period_fee"], currency))]
        totals.append(("Charged", _money(fig["charged_amount"], currency)))
        for label, name, sign in (
            ("Debt brought forward", "debt_brought_forward", ""),
            ("Carried forward to the next period", "carried_forward", "−"),
            ("Credits", "credits", "−"),
            ("Service credits", "service_credits", "−"),
            ("Written off (not in the subtotal)", "written_off", ""),
            ("Held (not in the subtotal)", "held_amount", ""),
        ):
            if Decimal(str(fig.get(name, "0"))):
                totals.append((label, sign + _money(fig[name], currency)))
        vat_percent = (Decimal(str(fig["vat_rate"])) * 100).normalize()
        totals += [
            ("Subtotal", _money(fig["subtotal"], currency)),
            (f"VAT {vat_percent:f} %", _money(fig["vat"], currency)),
            ("Total", _money(fig["total"], currency)),
        ]
        story.append(_totals(totals, width * 0.45))
    for adjustment in statement.get("adjustments") or []:
        story.append(
            Paragraph(
                f"{_text(adjustment['kind']).replace('_', ' ')} "
                f"{_money(adjustment['amount'], currency)}: {_text(adjustment['reason'])}",
                SMALL,
            )
        )
    return _build(story, page, title)


# --- the invoice ----------------------------------------------------------------------------


def _party_lines(party: dict[str, Any]) -> str:
    parts = [f"<b>{_text(party.get('legal_name') or party.get('name'))}</b>"]
    parts += [_text(line) for line in party.get("address_lines") or []]
    city = " ".join(p for p in (party.get("postcode"), party.get("city")) if p)
    if city:
        parts.append(_text(city))
    if party.get("country"):
        parts.append(_text(party["country"]))
    if party.get("vat_id"):
        parts.append(f"VAT {_text(party['vat_id'])}")
    return "<br/>".join(parts)


def invoice_pdf(invoice: dict[str, Any], buyer: dict[str, Any] | None = None) -> bytes:
    """An issued invoice or credit note (``InvoiceOut`` as JSON); ``buyer``: the customer's
    billing details when known (else the document's)."""
    document = invoice["document"]
    currency = invoice["currency"]
    page = A4
    width = page[0] - 28 * mm
    credit = invoice["kind"] == "credit_note"
    title = f"{'Credit note' if credit else 'Invoice'} {invoice['number']}"
    party = buyer or {**document.get("buyer", {}), "name": buyer_of(document)["name"]}
    header = Table(
        [
            [
                Paragraph(_party_lines(document["seller"]), BODY),
                Paragraph(_party_lines(party), BODY),
            ]
        ],
        colWidths=[width / 2, width / 2],
    )
    header.setStyle(
        TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)])
    )
    facts = [
        ("Number", _text(invoice["number"])),
        ("Issue date", str(invoice["issue_date"])),
    ]
    if not credit:
        facts.append(("Due date", str(invoice["due_date"])))
    facts += [
        (
            "Contract",
            f"{_text(document['contract']['code'])} — {_text(document['contract']['title'])}",
        ),
        ("Period", f"{document['period']['start']} to {document['period']['end']}"),
    ]
    if credit:
        facts.append(
            (
                "Corrects",
                f"invoice {_text(document['corrects']['number'])} of "
                f"{document['corrects']['issue_date']}",
            )
        )
        if invoice.get("reason"):
            facts.append(("Reason", _text(invoice["reason"])))
    story: list[Flowable] = [
        Paragraph(_text(title), TITLE),
        Spacer(1, 2 * mm),
        header,
        Spacer(1, 5 * mm),
        _facts(facts),
        Spacer(1, 5 * mm),
    ]
    if credit:
        amount = Decimal(str(invoice["subtotal"]))
        rows: list[list[Any]] = [
            [
                Paragraph(_text(f"Credit on invoice {document['corrects']['number']}"), SMALL),
                "1",
                _money(amount),
                _money(amount),
            ]
        ]
        adjustments: list[tuple[bool, str, Decimal]] = []
    else:
        rows = [
            [
                Paragraph(_text(name), SMALL),
                f"{quantity.normalize():f} {'h' if unit == 'HUR' else ''}".strip(),
                _money(price),
                _money(amount),
            ]
            for name, quantity, unit, price, amount in lines_of(document)
        ]
        adjustments = adjustments_of(document)
    widths = [width * f for f in (0.58, 0.12, 0.14, 0.16)]
    story.extend(_chunked(("Description", "Quantity", "Price", "Amount"), rows, widths, (1, -1)))
    story.append(Spacer(1, 5 * mm))
    vat_percent = (Decimal(str(invoice["vat_rate"])) * 100).normalize()
    totals = [
        (
            ("Charge: " if is_charge else "Allowance: ") + reason,
            ("" if is_charge else "−") + _money(amount, currency),
        )
        for is_charge, reason, amount in adjustments
    ]
    totals += [
        ("Subtotal", _money(invoice["subtotal"], currency)),
        (f"VAT {vat_percent:f} %", _money(invoice["vat"], currency)),
        ("Total" if not credit else "Total credited", _money(invoice["total"], currency)),
    ]
    story.append(_totals(totals, width * 0.6))
    return _build(story, page, title)
