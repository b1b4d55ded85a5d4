"""CSV of every report: the contract screen, the delivery report (one section at a time), the
customer roll-up, the service levels (rows or breaches), the statements and the quarterly
review. Hours as decimals with two places, dates ISO 8601."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi.responses import Response

from burnrate_reporting.schemas import (
    ComplianceRow,
    ContractStatements,
    ContractSummary,
    CustomerReport,
    CustomerReview,
    DeliveryReport,
    MetricCompliance,
    Section,
    ServiceLevelReport,
    SlaSection,
    StatementPeriod,
)


def _text(value: Any) -> str:
    if value is None:
        return ""
    return str(value)


#: First characters that make a spreadsheet read a cell as a formula (OWASP's list, and LF).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
#: A plain decimal number (a negative figure) stays a number.
_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


def safe_cell(text: str) -> str:
    """A cell starting with = + - @ TAB CR or LF gets a single quote in front, so that a
    spreadsheet shows it as text instead of running it; a plain number such as ``-2.50``
    is left as it is."""
    if text.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def _filename(name: str) -> str:
    """A file name safe in a header: letters, digits, dot, dash and underscore."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:150] or "report.csv"


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(_text(v)) for v in row])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{_filename(filename)}"'},
    )


def screen_csv(items: Sequence[ContractSummary]) -> Response:
    header = [
        "id",
        "code",
        "title",
        "customer",
        "status",
        "start_date",
        "end_date",
        "days_left",
        "period_start",
        "period_end",
        "planned_hours",
        "executed_hours",
        "remaining_hours",
        "percent",
        "overage_hours",
        "forecast_hours",
        "last_alert_stage",
        "last_alert_at",
    ]
    rows = []
    for i in items:
        p = i.current_period
        rows.append(
            [
                i.id,
                i.code,
                i.title,
                i.customer_name,
                i.status.value,
                i.start_date,
                i.end_date,
                i.days_left,
                p.start_date if p else None,
                p.end_date if p else None,
                p.planned_hours if p else None,
                p.executed_hours if p else None,
                p.remaining_hours if p else None,
                p.percent if p else None,
                p.overage_hours if p else None,
                p.forecast_hours if p else None,
                i.last_alert.stage if i.last_alert else None,
                i.last_alert.raised_at.isoformat() if i.last_alert else None,
            ]
        )
    return csv_response("contracts.csv", header, rows)


def report_csv(report: DeliveryReport, section: Section) -> Response:
    name = f"{report.contract.code}-{report.range.first_period:%Y-%m}-{report.range.last_period:%Y-%m}-{section.value}.csv"
    if section is Section.PERIODS:
        header = [
            "period_start",
            "period_end",
            "state",
            "planned_hours",
            "executed_hours",
            "remaining_hours",
            "overage_hours",
            "unused_hours",
            "percent",
            "outside_dates_hours",
            "worklogs",
            "cumulative_planned_hours",
            "cumulative_executed_hours",
        ]
        rows: list[list[Any]] = [
            [
                p.start_date,
                p.end_date,
                p.state,
                p.planned_hours,
                p.executed_hours,
                p.remaining_hours,
                p.overage_hours,
                p.unused_hours,
                p.percent,
                p.outside_dates_hours,
                p.worklog_count,
                p.cumulative_planned_hours,
                p.cumulative_executed_hours,
            ]
            for p in report.periods
        ]
        t = report.totals
        rows.append(
            [
                "total",
                "",
                "",
                t.planned_hours,
                t.executed_hours,
                "",
                t.overage_hours,
                t.unused_hours,
                t.percent,
                t.outside_dates_hours,
                t.worklog_count,
                "",
                "",
            ]
        )
        return csv_response(name, header, rows)
    if section is Section.TEAM_PERIODS:
        return csv_response(
            name,
            ["period_start", "team", "executed_hours"],
            [[p.start_date, t.team, t.executed_hours] for p in report.periods for t in p.by_team],
        )
    if section in (Section.TEAMS, Section.ACTIVITIES, Section.PEOPLE):
        shares = {
            Section.TEAMS: report.by_team,
            Section.ACTIVITIES: report.by_activity,
            Section.PEOPLE: report.by_person,
        }[section]
        label = {Section.TEAMS: "team", Section.ACTIVITIES: "activity", Section.PEOPLE: "person"}
        return csv_response(
            name,
            [label[section], "executed_hours", "percent"],
            [[s.name, s.executed_hours, s.percent] for s in shares],
        )
    if section is Section.LOCATIONS:
        return csv_response(
            name,
            ["location", "executed_hours", "worklogs", "percent"],
            [
                [s.location or "", s.executed_hours, s.worklog_count, s.percent]
                for s in report.by_location
            ],
        )
    if section is Section.OUTSIDE_DATES:
        return csv_response(
            name,
            ["id", "period_start", "started_at", "author", "team", "activity", "hours", "ticket"],
            [
                [
                    w.id,
                    w.period_start,
                    w.started_at.isoformat(),
                    w.author,
                    w.team,
                    w.activity,
                    w.hours,
                    w.ticket,
                ]
                for w in report.outside_dates_worklogs
            ],
        )
    f = report.forecast
    return csv_response(
        name,
        [
            "period_start",
            "period_end",
            "current",
            "planned_hours",
            "executed_hours",
            "forecast_hours",
            "forecast_overage_hours",
            "basis",
        ],
        [
            [
                p.start_date,
                p.end_date,
                p.current,
                p.planned_hours,
                p.executed_hours,
                p.forecast_hours,
                p.forecast_overage_hours,
                f.description,
            ]
            for p in f.periods
        ],
    )


def customer_csv(report: CustomerReport) -> Response:
    header = [
        "contract_id",
        "code",
        "title",
        "start_date",
        "end_date",
        "periods",
        "planned_hours",
        "executed_hours",
        "overage_hours",
        "unused_hours",
        "outside_dates_hours",
        "percent",
    ]
    rows: list[list[Any]] = [
        [
            c.id,
            c.code,
            c.title,
            c.start_date,
            c.end_date,
            c.periods,
            c.planned_hours,
            c.executed_hours,
            c.overage_hours,
            c.unused_hours,
            c.outside_dates_hours,
            c.percent,
        ]
        for c in report.contracts
    ]
    t = report.totals
    rows.append(
        [
            "total",
            "",
            "",
            "",
            "",
            "",
            t.planned_hours,
            t.executed_hours,
            t.overage_hours,
            t.unused_hours,
            t.outside_dates_hours,
            t.percent,
        ]
    )
    return csv_response(f"customer-{report.customer_id}.csv", header, rows)


_METRIC_COLUMNS = [
    "met",
    "breached",
    "percent_met",
    "median_minutes",
    "p90_minutes",
    "completed",
    "warned_at_risk",
]


def _metric(m: MetricCompliance) -> list[Any]:
    return [
        m.met,
        m.breached,
        m.percent_met,
        m.median_minutes,
        m.p90_minutes,
        m.completed,
        m.warned_at_risk,
    ]


def compliance_header() -> list[str]:
    return [
        "period",
        "level",
        "priority",
        "tickets",
        *(f"first_response_{c}" for c in _METRIC_COLUMNS),
        *(f"resolution_{c}" for c in _METRIC_COLUMNS),
        "paused_minutes",
    ]


def compliance_cells(r: ComplianceRow) -> list[Any]:
    return [
        r.period,
        r.level,
        r.priority,
        r.tickets,
        *_metric(r.first_response),
        *_metric(r.resolution),
        r.paused_minutes,
    ]


def sla_csv(report: ServiceLevelReport, section: SlaSection, name: str) -> Response:
    """``name``: the contract code or the customer's id, for the file name."""
    filename = f"{name}-service-levels-{report.first_day:%Y-%m}-{report.last_day:%Y-%m}-{section.value}.csv"
    if section is SlaSection.ROWS:
        t = report.totals
        total = ["total", "", "", t.tickets, *_metric(t.first_response), *_metric(t.resolution)]
        return csv_response(
            filename,
            compliance_header(),
            [*(compliance_cells(r) for r in report.rows), [*total, t.paused_minutes]],
        )
    return csv_response(
        filename,
        [
            "reference",
            "contract",
            "metric",
            "cycle",
            "level",
            "priority",
            "category",
            "target_minutes",
            "due_at",
            "breached_at",
            "stopped_at",
            "elapsed_minutes",
            "paused_minutes",
            "reason",
        ],
        [
            [
                b.reference,
                b.contract_code,
                b.metric,
                b.cycle,
                b.level,
                b.priority,
                b.category,
                b.target_minutes,
                b.due_at.isoformat() if b.due_at else None,
                b.breached_at.isoformat() if b.breached_at else None,
                b.stopped_at.isoformat() if b.stopped_at else None,
                b.elapsed_minutes,
                b.paused_minutes,
                b.reason,
            ]
            for b in report.breaches
        ],
    )


_STATEMENT_HEADER = [
    "contract",
    "period_start",
    "period_end",
    "planned_hours",
    "executed_hours",
    "overage_hours",
    "statement_status",
    "currency",
    "charged_hours",
    "charged_amount",
    "subtotal",
    "billed_amount",
    "invoices",
]


def _statement(p: StatementPeriod) -> list[Any]:
    return [
        p.contract_code,
        p.period_start,
        p.period_end,
        p.planned_hours,
        p.executed_hours,
        p.overage_hours,
        p.statement_status,
        p.currency,
        p.charged_hours,
        p.charged_amount,
        p.subtotal,
        p.billed_amount,
        " ".join(p.invoices),
    ]


def statements_csv(statements: ContractStatements) -> Response:
    return csv_response(
        f"{statements.code}-statements-{statements.first_day:%Y-%m}-{statements.last_day:%Y-%m}.csv",
        _STATEMENT_HEADER,
        [_statement(p) for p in statements.periods],
    )


def review_csv(review: CustomerReview) -> Response:
    """One row per contract: hours and billing beside the service levels; then the total."""
    header = [
        "contract",
        "title",
        "levels",
        "planned_hours",
        "executed_hours",
        "overage_hours",
        "billed",
        "not_yet_billed",
        "tickets",
        "first_response_percent_met",
        "resolution_percent_met",
        "breaches",
    ]

    def money(amounts: list[Any]) -> str:
        return " ".join(f"{a.amount} {a.currency}" for a in amounts)

    rows: list[list[Any]] = [
        [
            c.code,
            c.title,
            " ".join(c.levels),
            c.hours.planned_hours,
            c.hours.executed_hours,
            c.hours.overage_hours,
            money(c.hours.billed),
            money(c.hours.not_yet_billed),
            c.service.tickets,
            c.service.first_response.percent_met,
            c.service.resolution.percent_met,
            c.breaches,
        ]
        for c in review.contracts
    ]
    h, s = review.hours, review.service
    rows.append(
        [
            "total",
            "",
            "",
            h.planned_hours,
            h.executed_hours,
            h.overage_hours,
            money(h.billed),
            money(h.not_yet_billed),
            s.tickets,
            s.first_response.percent_met,
            s.resolution.percent_met,
            len(review.breaches),
        ]
    )
    return csv_response(f"review-{review.customer_id}-{review.quarter}.csv", header, rows)
