"""The service-level pages (compliance with charts, and what the customer bought) and the
quarterly review, for staff (login session or key) and for customers (their signed link,
which shows only their own contracts). Rendered like the other pages (``api.pages``)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Annotated, Any

from burnrate_common.deps import ConnectionDep
from burnrate_common.errors import Problem
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from burnrate_reporting import auth
from burnrate_reporting.api import DepsDep, exports
from burnrate_reporting.api.pages import _expired, _problem_page, _to_login, render
from burnrate_reporting.domain.compliance import percent_met
from burnrate_reporting.schemas import CustomerReview, Grain, ServiceLevelReport, SlaSection
from burnrate_reporting.service import Deps, access, service_levels, statements

router = APIRouter(prefix="/ui", tags=["pages"], include_in_schema=False)

Text = Annotated[str | None, Query()]
FromText = Annotated[str | None, Query(alias="from")]
ToText = Annotated[str | None, Query(alias="to")]
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def _chart(report_rows: list[Any]) -> dict[str, Any]:
    """Per period (all levels and priorities together): % met of both metrics, tickets per
    priority, and the median and p90 time to resolve per priority over the whole range."""
    periods = sorted({r.period for r in report_rows})
    met: dict[str, dict[str, list[int]]] = {
        m: {p: [0, 0] for p in periods} for m in ("first_response", "resolution")
    }
    tickets: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(periods, 0))
    for r in report_rows:
        for m in ("first_response", "resolution"):
            figures = getattr(r, m)
            met[m][r.period][0] += figures.met
            met[m][r.period][1] += figures.breached
        tickets[r.priority][r.period] += r.tickets

    def percents(metric: str) -> list[float | None]:
        out = []
        for p in periods:
            value = percent_met(*met[metric][p])
            out.append(None if value is None else float(value))
        return out

    return {
        "labels": periods,
        "first_response": percents("first_response"),
        "resolution": percents("resolution"),
        "tickets": {
            priority: [tickets[priority][p] for p in periods] for priority in sorted(tickets)
        },
    }


def week_in_words(hours: dict[int, list[str]]) -> list[tuple[str, str]]:
    """Working hours per weekday as the page says them: consecutive days with the same hours
    in one run (``Mon–Fri``, ``08:00–18:00``)."""
    runs: list[tuple[int, int, str]] = []
    for day in sorted(hours):
        text = ", ".join(hours[day])
        if runs and runs[-1][1] == day - 1 and runs[-1][2] == text:
            runs[-1] = (runs[-1][0], day, text)
        else:
            runs.append((day, day, text))
    return [
        (WEEKDAYS[a - 1] if a == b else f"{WEEKDAYS[a - 1]}–{WEEKDAYS[b - 1]}", text)
        for a, b, text in runs
    ]


def _levels_context(report: ServiceLevelReport | CustomerReview) -> list[dict[str, Any]]:
    """Each contract's levels as the page lists them: per level version, the targets as a
    table (priority rows, a row per category) and the calendar in words."""
    out = []
    for contract in report.levels:
        versions = []
        for level in contract.levels:
            by_priority: dict[str, dict[str, Any]] = {}
            by_category: dict[str, dict[str, Any]] = {}
            for t in level.targets:
                if t.category is not None:
                    key = t.category + (f" ({t.priority})" if t.priority else "")
                    row = by_category.setdefault(key, {})
                else:
                    row = by_priority.setdefault(t.priority or "any", {})
                row[t.metric] = t
            cal = level.calendar
            hours: dict[int, list[str]] = defaultdict(list)
            for w in sorted(cal.hours, key=lambda w: (w.weekday, w.start)):
                end = "24:00" if w.end.hour == 0 and w.end.minute == 0 else f"{w.end:%H:%M}"
                hours[w.weekday].append(f"{w.start:%H:%M}–{end}")
            versions.append(
                {
                    "level": level,
                    "current": contract.in_force is not None
                    and level.effective_from == contract.in_force.effective_from,
                    "priorities": sorted(by_priority.items()),
                    "categories": sorted(by_category.items()),
                    "round_the_clock": not cal.hours,
                    "hours": week_in_words(hours),
                }
            )
        out.append({"contract": contract, "versions": versions})
    return out


def _grain(text: str | None) -> Grain:
    try:
        return Grain(text or "month")
    except ValueError:
        raise Problem(422, "Invalid grain", "grain is month, quarter or year.") from None


async def _service_levels_page(
    conn: ConnectionDep,
    deps: Deps,
    *,
    contract_id: uuid.UUID | None,
    customer_id: uuid.UUID | None,
    grain_text: str | None,
    first: str | None,
    last: str | None,
    base: str,
    customer: bool,
    restrict_to: uuid.UUID | None = None,
) -> Response:
    try:
        grain = _grain(grain_text)
        report = await service_levels.service_level_report(
            conn,
            deps,
            contract_id=contract_id,
            customer_id=customer_id,
            grain=grain,
            first=first or None,
            last=last or None,
            restrict_to=restrict_to,
        )
    except Problem as problem:
        return _problem_page(deps, problem, base=base, customer=customer, staff=not customer)
    here = (
        f"{base}/contracts/{contract_id}/service-levels"
        if contract_id
        else (
            f"{base}/service-levels"
            if customer
            else f"{base}/customers/{customer_id}/service-levels"
        )
    )
    return render(
        deps,
        "service_levels.html",
        r=report,
        base=base,
        here=here,
        customer=customer,
        staff=not customer,
        grains=[g.value for g in Grain],
        chart=_chart(report.rows),
        contracts=_levels_context(report),
        sections=[s.value for s in SlaSection],
    )


async def _sla_csv(
    conn: ConnectionDep,
    deps: Deps,
    *,
    contract_id: uuid.UUID | None,
    customer_id: uuid.UUID | None,
    grain_text: str | None,
    first: str | None,
    last: str | None,
    section_text: str | None,
    base: str,
    customer: bool,
    restrict_to: uuid.UUID | None = None,
) -> Response:
    try:
        grain = _grain(grain_text)
        try:
            section = SlaSection(section_text or "rows")
        except ValueError:
            raise Problem(422, "Invalid section", "section is rows or breaches.") from None
        report = await service_levels.service_level_report(
            conn,
            deps,
            contract_id=contract_id,
            customer_id=customer_id,
            grain=grain,
            first=first or None,
            last=last or None,
            restrict_to=restrict_to,
        )
    except Problem as problem:
        return _problem_page(deps, problem, base=base, customer=customer, staff=not customer)
    name = report.levels[0].code if contract_id and report.levels else "service-levels"
    return exports.sla_csv(report, section, name)


@router.get("/contracts/{contract_id}/service-levels", response_class=HTMLResponse)
async def contract_service_levels_page(
    contract_id: uuid.UUID,
    request: Request,
    conn: ConnectionDep,
    deps: DepsDep,
    grain: Text = None,
    first: FromText = None,
    last: ToText = None,
) -> Response:
    if not await auth.is_staff(request, conn, deps):
        return _to_login(request)
    return await _service_levels_page(
        conn,
        deps,
        contract_id=contract_id,
        customer_id=None,
        grain_text=grain,
        first=first,
        last=last,
        base="/ui",
        customer=False,
    )


@router.get("/contracts/{contract_id}/service-levels.csv")
async def contract_service_levels_csv(
    contract_id: uuid.UUID,
    request: Request,
    conn: ConnectionDep,
    deps: DepsDep,
    grain: Text = None,
    first: FromText = None,
    last: ToText = None,
    section: Text = None,
) -> Response:
    if not await auth.is_staff(request, conn, deps):
        return _to_login(request)
    return await _sla_csv(
        conn,
        deps,
        contract_id=contract_id,
        customer_id=None,
        grain_text=grain,
        first=first,
        last=last,
        section_text=section,
        base="/ui",
        customer=False,
    )


@router.get("/customers/{customer_id}/service-levels", response_class=HTMLResponse)
async def customer_service_levels_page(
    customer_id: uuid.UUID,
    request: Request,
    conn: ConnectionDep,
    deps: DepsDep,
    grain: Text = None,
    first: FromText = None,
    last: ToText = None,
) -> Response:
    if not await auth.is_staff(request, conn, deps):
        return _to_login(request)
    return await _service_levels_page(
        conn,
        deps,
        contract_id=None,
        customer_id=customer_id,
        grain_text=grain,
        first=first,
        last=last,
        base="/ui",
        customer=False,
    )


@router.get("/customers/{customer_id}/service-levels.csv")
async def customer_service_levels_csv(
    customer_id: uuid.UUID,
    request: Request,
    conn: ConnectionDep,
    deps: DepsDep,
    grain: Text = None,
    first: FromText = None,
    last: ToText = None,
    section: Text = None,
) -> Response:
    if not await auth.is_staff(request, conn, deps):
        return _to_login(request)
    return await _sla_csv(
        conn,
        deps,
        contract_id=None,
        customer_id=customer_id,
        grain_text=grain,
        first=first,
        last=last,
        section_text=section,
        base="/ui",
        customer=False,
    )


@router.get("/c/{token}/service-levels", response_class=HTMLResponse)
async def link_service_levels_page(
    token: str,
    conn: ConnectionDep,
    deps: DepsDep,
    grain: Text = None,
    first: FromText = None,
    last: ToText = None,
) -> Response:
    """The customer's own: their levels, targets and calendars, and how they were kept."""
    grant = await access.customer_grant(conn, deps, token)
    if grant is None:
        return _expired(deps)
    return await _service_levels_page(
        conn,
        deps,
        contract_id=None,
        customer_id=grant.customer_id,
        grain_text=grain,
        first=first,
        last=last,
        base=f"/ui/c/{token}",
        customer=True,
    )


@router.get("/c/{token}/service-levels.csv")
async def link_service_levels_csv(
    token: str,
    conn: ConnectionDep,
    deps: DepsDep,
    grain: Text = None,
    first: FromText = None,
    last: ToText = None,
    section: Text = None,
) -> Response:
    grant = await access.customer_grant(conn, deps, token)
    if grant is None:
        return _expired(deps)
    return await _sla_csv(
        conn,
        deps,
        contract_id=None,
        customer_id=grant.customer_id,
        grain_text=grain,
        first=first,
        last=last,
        section_text=section,
        base=f"/ui/c/{token}",
        customer=True,
    )


@router.get("/c/{token}/contracts/{contract_id}/service-levels", response_class=HTMLResponse)
async def link_contract_service_levels_page(
    token: str,
    contract_id: uuid.UUID,
    conn: ConnectionDep,
    deps: DepsDep,
    grain: Text = None,
    first: FromText = None,
    last: ToText = None,
) -> Response:
    """One of the customer's contracts; another customer's is "not found"."""
    grant = await access.customer_grant(conn, deps, token)
    if grant is None:
        return _expired(deps)
    return await _service_levels_page(
        conn,
        deps,
        contract_id=contract_id,
        customer_id=None,
        grain_text=grain,
        first=first,
        last=last,
        base=f"/ui/c/{token}",
        customer=True,
        restrict_to=grant.customer_id,
    )


# --- the quarterly review ------------------------------------------------------------------


def _review_chart(review: CustomerReview) -> dict[str, Any]:
    return {
        "labels": [c.code for c in review.contracts],
        "planned": [float(c.hours.planned_hours) for c in review.contracts],
        "executed": [float(c.hours.executed_hours) for c in review.contracts],
        "first_response": [
            None
            if c.service.first_response.percent_met is None
            else float(c.service.first_response.percent_met)
            for c in review.contracts
        ],
        "resolution": [
            None
            if c.service.resolution.percent_met is None
            else float(c.service.resolution.percent_met)
            for c in review.contracts
        ],
    }


async def _review_page(
    conn: ConnectionDep,
    deps: Deps,
    customer_id: uuid.UUID,
    quarter: str | None,
    *,
    base: str,
    customer: bool,
    output: str | None = None,
) -> Response:
    try:
        review = await statements.customer_review(conn, deps, customer_id, quarter or None)
    except Problem as problem:
        return _problem_page(deps, problem, base=base, customer=customer, staff=not customer)
    if output == "csv":
        return exports.review_csv(review)
    here = f"{base}/review" if customer else f"{base}/customers/{customer_id}/review"
    return render(
        deps,
        "review.html",
        r=review,
        base=base,
        here=here,
        customer=customer,
        staff=not customer,
        chart=_review_chart(review),
        contracts=_levels_context(review),
    )


@router.get("/customers/{customer_id}/review", response_class=HTMLResponse)
async def review_page(
    customer_id: uuid.UUID,
    request: Request,
    conn: ConnectionDep,
    deps: DepsDep,
    quarter: Text = None,
) -> Response:
    if not await auth.is_staff(request, conn, deps):
        return _to_login(request)
    return await _review_page(conn, deps, customer_id, quarter, base="/ui", customer=False)


@router.get("/customers/{customer_id}/review.csv")
async def review_csv(
    customer_id: uuid.UUID,
    request: Request,
    conn: ConnectionDep,
    deps: DepsDep,
    quarter: Text = None,
) -> Response:
    if not await auth.is_staff(request, conn, deps):
        return _to_login(request)
    return await _review_page(
        conn, deps, customer_id, quarter, base="/ui", customer=False, output="csv"
    )


@router.get("/c/{token}/review", response_class=HTMLResponse)
async def link_review_page(
    token: str, conn: ConnectionDep, deps: DepsDep, quarter: Text = None
) -> Response:
    grant = await access.customer_grant(conn, deps, token)
    if grant is None:
        return _expired(deps)
    return await _review_page(
        conn, deps, grant.customer_id, quarter, base=f"/ui/c/{token}", customer=True
    )


@router.get("/c/{token}/review.csv")
async def link_review_csv(
    token: str, conn: ConnectionDep, deps: DepsDep, quarter: Text = None
) -> Response:
    grant = await access.customer_grant(conn, deps, token)
    if grant is None:
        return _expired(deps)
    return await _review_page(
        conn,
        deps,
        grant.customer_id,
        quarter,
        base=f"/ui/c/{token}",
        customer=True,
        output="csv",
    )
