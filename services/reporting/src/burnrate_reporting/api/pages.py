"""Server-rendered pages: the contract screen and the delivery report, for staff (a login
session opened by the login form, its token in a cookie, or an ``Authorization: Bearer``
header) and for customers (a signed, expiring, revocable link that shows only that
customer's contracts).

Templates are Jinja2 with autoescaping (built in ``bootstrap``: :func:`templates`); the chart
and CSS libraries are npm packages served from this service (``/static/vendor/...``), no CDN.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote

from burnrate_common.auth import refuse_if_limited
from burnrate_common.deps import ConnectionDep
from burnrate_common.errors import Problem
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape

from burnrate_reporting import auth
from burnrate_reporting.api import DepsDep, exports
from burnrate_reporting.domain.forecast import Basis
from burnrate_reporting.schemas import DeliveryReport, ScreenStatus, Section
from burnrate_reporting.service import Deps, access, reports, screen
from burnrate_reporting.settings import ReportingSettings

router = APIRouter(prefix="/ui", tags=["pages"], include_in_schema=False)

PAGE_SIZE = 50

# The pages take their query parameters as text and answer a bad one with an error page,
# not the API's JSON problem.
Text = Annotated[str | None, Query()]
_SECURITY_HEADERS = {
    # Scripts and styles from this service only; the report data is a JSON block, not code.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _hours(value: Any) -> str:
    return "–" if value is None else f"{float(value):.2f}"


def _percent(value: Any) -> str:
    return "–" if value is None else f"{float(value):.1f} %"


def _minutes(value: Any) -> str:
    """Minutes (of business time) as ``1 h 05`` or ``45 min``; – for none."""
    if value is None:
        return "–"
    hours, minutes = divmod(round(float(value)), 60)
    return f"{hours} h {minutes:02d}" if hours else f"{minutes} min"


def _target(minutes: Any) -> str:
    """A target's minutes: whole hours as ``8 h``, else as :func:`_minutes`."""
    if minutes is None:
        return "–"
    return f"{minutes // 60} h" if minutes % 60 == 0 else _minutes(minutes)


def _basis_label(value: Any) -> str:
    return Basis(value).label if value else ""


def templates() -> Environment:
    """The pages' templates (the service's package), autoescaped, with their filters."""
    environment = Environment(
        loader=PackageLoader("burnrate_reporting", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["hours"] = _hours
    environment.filters["pct"] = _percent
    environment.filters["basis_label"] = _basis_label
    environment.filters["minutes"] = _minutes
    environment.filters["target"] = _target
    return environment


def render(
    deps: Deps,
    name: str,
    status_code: int = 200,
    *,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    html = deps.templates.get_template(name).render(**context)
    return HTMLResponse(html, status_code=status_code, headers=_SECURITY_HEADERS | (headers or {}))


def error_page(deps: Deps, status: int, title: str, detail: str, **context: Any) -> HTMLResponse:
    return render(deps, "error.html", status, title=title, detail=detail, **context)


def _problem_page(deps: Deps, problem: Problem, **context: Any) -> HTMLResponse:
    return error_page(deps, problem.status, problem.title, problem.detail or "", **context)


def assets_router(settings: ReportingSettings) -> APIRouter:
    """The service's own CSS and script, and the npm packages installed by `make install`."""
    assets = Path(settings.reporting_assets_dir)
    static = APIRouter(include_in_schema=False)
    static.mount(
        "/static/app",
        StaticFiles(packages=[("burnrate_reporting", "static")]),
        name="app-static",
    )
    static.mount(
        "/static/vendor/chart.js",
        StaticFiles(directory=assets / "chart.js" / "dist", check_dir=False),
        name="chartjs",
    )
    static.mount(
        "/static/vendor/pico",
        StaticFiles(directory=assets / "@picocss" / "pico" / "css", check_dir=False),
        name="pico",
    )
    return static


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/ui/login?next={quote(target)}", status_code=303)


def _expired(deps: Deps) -> HTMLResponse:
    return error_page(
        deps,
        403,
        "This link has expired",
        "The report link has expired or is not valid. Ask your service manager for a new one.",
        customer=True,
    )


# --- login -------------------------------------------------------------------------------


@router.get("", response_class=RedirectResponse)
async def home() -> RedirectResponse:
    return RedirectResponse("/ui/contracts", status_code=303)


def _safe_next(target: str | None) -> str:
    # Only pages of this service: no open redirect to another site.
    if target and target.startswith("/ui/") and not target.startswith("//"):
        return target
    return "/ui/contracts"


@router.get("/login", response_class=HTMLResponse)
async def login_form(
    deps: DepsDep, next_page: Annotated[str | None, Query(alias="next")] = None
) -> Response:
    return render(deps, "login.html", next_page=_safe_next(next_page), error=None)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, conn: ConnectionDep, deps: DepsDep) -> Response:
    """A good key opens a session (its token in the cookie, never the key); failures count
    against the client's address like the API's, and past the limit the form answers 429."""
    try:
        refuse_if_limited(request)
    except Problem as problem:
        return render(
            deps,
            "login.html",
            429,
            headers=dict(problem.headers or {}),
            next_page="/ui/contracts",
            error=problem.detail,
        )
    form = parse_qs((await request.body()).decode(errors="replace")[:4096])
    key = (form.get("api_key") or [""])[0].strip()
    target = _safe_next((form.get("next") or [""])[0])
    principal = await auth.login_principal(request, key)
    if principal is None:
        return render(
            deps,
            "login.html",
            401,
            next_page=target,
            error="That key is unknown, revoked or lacks the scope reports:read.",
        )
    token = await access.start_session(conn, deps, principal)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        auth.COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=deps.settings.environment == "production",
        path="/ui",
        max_age=access.SESSION_HOURS * 3600,
    )
    return response


@router.post("/logout", response_class=RedirectResponse)
async def logout(request: Request, conn: ConnectionDep, deps: DepsDep) -> RedirectResponse:
    """The session ends on the server (its token no longer opens anything), then the cookie."""
    await access.end_session(conn, deps, request.cookies.get(auth.COOKIE) or "")
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(auth.COOKIE, path="/ui")
    return response


# --- the contract screen -----------------------------------------------------------------


async def _screen(
    conn: ConnectionDep,
    deps: Deps,
    *,
    base: str,
    customer_id: uuid.UUID | None,
    status_text: str | None,
    sort: str | None,
    search: str | None,
    cursor: str | None,
    forecast: str | None,
) -> Response:
    status_text = status_text or None
    sort = sort or "created"
    q = (search or "")[:100] or None
    staff = customer_id is None
    try:
        status = ScreenStatus(status_text) if status_text else None
    except ValueError:
        return error_page(
            deps, 422, "Invalid filter", f"No status '{status_text}'.", base=base, staff=staff
        )
    if forecast not in (None, "", "over"):
        return error_page(
            deps, 422, "Invalid filter", "forecast is 'over' or nothing.", base=base, staff=staff
        )
    try:
        page, name, attention = await screen.screen_page(
            conn,
            deps,
            limit=PAGE_SIZE,
            cursor=cursor or None,
            sort=sort,
            status=status,
            customer_id=customer_id,
            search=q,
            over_forecast=forecast == "over",
        )
    except Problem as problem:
        return _problem_page(deps, problem, base=base, staff=staff)
    return render(
        deps,
        "contracts.html",
        page=page,
        base=base,
        staff=staff,
        customer=not staff,
        customer_name=name,
        attention=attention,
        statuses=[s.value for s in ScreenStatus],
        status=status_text,
        forecast="over" if forecast == "over" else "",
        sort=sort,
        q=q or "",
        expiring_within_days=deps.settings.expiring_within_days,
        now=deps.clock.now(),
    )


@router.get("/contracts", response_class=HTMLResponse)
async def contracts_page(
    request: Request,
    conn: ConnectionDep,
    deps: DepsDep,
    status: Text = None,
    sort: Text = None,
    q: Text = None,
    cursor: Text = None,
    forecast: Text = None,
) -> Response:
    if not await auth.is_staff(request, conn, deps):
        return _to_login(request)
    return await _screen(
        conn,
        deps,
        base="/ui",
        customer_id=None,
        status_text=status,
        sort=sort,
        search=q,
        cursor=cursor,
        forecast=forecast,
    )


@router.get("/c/{token}", response_class=HTMLResponse)
async def customer_contracts_page(
    token: str,
    conn: ConnectionDep,
    deps: DepsDep,
    status: Text = None,
    sort: Text = None,
    q: Text = None,
    cursor: Text = None,
    forecast: Text = None,
    # Accepted and ignored: a link shows its own customer's contracts, whatever is asked.
    customer_id: Text = None,
) -> Response:
    grant = await access.customer_grant(conn, deps, token)
    if grant is None:
        return _expired(deps)
    return await _screen(
        conn,
        deps,
        base=f"/ui/c/{token}",
        customer_id=grant.customer_id,
        status_text=status,
        sort=sort,
        search=q,
        cursor=cursor,
        forecast=forecast,
    )


# --- the delivery report -----------------------------------------------------------------


#: The page's range choices (``?periods=``): how many periods up to today's it shows (None:
#: the whole term); the page opens on the current period alone, the others are one click
#: away.
SPANS: dict[str, int | None] = {"1": 1, "3": 3, "12": 12, "all": None}


async def _report(
    conn: ConnectionDep,
    deps: Deps,
    contract_id: uuid.UUID,
    first: str | None,
    last: str | None,
    *,
    base: str,
    customer_id: uuid.UUID | None,
    default_periods: int | None = reports.DEFAULT_PERIODS,
) -> DeliveryReport | HTMLResponse:
    try:
        return await reports.delivery_report(
            conn,
            deps,
            contract_id,
            first or None,
            last or None,
            customer_id=customer_id,
            default_periods=default_periods,
        )
    except Problem as problem:
        customer = customer_id is not None
        return _problem_page(deps, problem, base=base, customer=customer, staff=not customer)


def _chart_data(report: DeliveryReport) -> dict[str, Any]:
    teams = [s.name for s in report.by_team]
    return {
        "labels": [f"{p.start_date:%Y-%m-%d}" for p in report.periods],
        "planned": [float(p.planned_hours) for p in report.periods],
        "executed": [float(p.executed_hours) for p in report.periods],
        "cumulative_planned": [float(p.cumulative_planned_hours) for p in report.periods],
        # Nothing is executed yet in a period to come: no point (the forecast goes on).
        "cumulative_executed": [
            None if p.state == "future" else float(p.cumulative_executed_hours)
            for p in report.periods
        ],
        "teams": {
            team: [
                float(next((t.executed_hours for t in p.by_team if t.team == team), 0))
                for p in report.periods
            ]
            for team in teams
        },
        "forecast": [
            {
                "label": f"{f.start_date:%Y-%m-%d}",
                "planned": float(f.planned_hours),
                "forecast": float(f.forecast_hours),
            }
            for f in report.forecast.periods
        ],
    }


def _render_report(
    deps: Deps, report: DeliveryReport, *, base: str, customer: bool, span: str | None
) -> Response:
    return render(
        deps,
        "report.html",
        r=report,
        base=base,
        customer=customer,
        staff=not customer,
        span=span,
        chart=_chart_data(report),
        sections=[s.value for s in Section],
    )


async def _report_page(
    conn: ConnectionDep,
    deps: Deps,
    contract_id: uuid.UUID,
    first: str | None,
    last: str | None,
    span: str | None,
    *,
    base: str,
    customer_id: uuid.UUID | None,
) -> Response:
    """``from``/``to`` when given, else ``periods`` (default: the current period)."""
    customer = customer_id is not None
    if first or last:
        span = None
    elif (span or "1") not in SPANS:
        return error_page(
            deps,
            422,
            "Invalid range",
            f"periods is one of {', '.join(SPANS)}.",
            base=base,
            customer=customer,
            staff=not customer,
        )
    else:
        span = span or "1"
    result = await _report(
        conn,
        deps,
        contract_id,
        first,
        last,
        base=base,
        customer_id=customer_id,
        default_periods=SPANS[span] if span else reports.DEFAULT_PERIODS,
    )
    if isinstance(result, HTMLResponse):
        return result
    return _render_report(deps, result, base=base, customer=customer, span=span)


FromText = Annotated[str | None, Query(alias="from")]
ToText = Annotated[str | None, Query(alias="to")]
SpanText = Annotated[str | None, Query(alias="periods")]


@router.get("/contracts/{contract_id}/report", response_class=HTMLResponse)
async def report_page(
    contract_id: uuid.UUID,
    request: Request,
    conn: ConnectionDep,
    deps: DepsDep,
    first: FromText = None,
    last: ToText = None,
    span: SpanText = None,
) -> Response:
    if not await auth.is_staff(request, conn, deps):
        return _to_login(request)
    return await _report_page(
        conn, deps, contract_id, first, last, span, base="/ui", customer_id=None
    )


@router.get("/c/{token}/contracts/{contract_id}/report", response_class=HTMLResponse)
async def customer_report_page(
    token: str,
    contract_id: uuid.UUID,
    conn: ConnectionDep,
    deps: DepsDep,
    first: FromText = None,
    last: ToText = None,
    span: SpanText = None,
) -> Response:
    grant = await access.customer_grant(conn, deps, token)
    if grant is None:
        return _expired(deps)
    return await _report_page(
        conn,
        deps,
        contract_id,
        first,
        last,
        span,
        base=f"/ui/c/{token}",
        customer_id=grant.customer_id,
    )


async def _csv(
    conn: ConnectionDep,
    deps: Deps,
    contract_id: uuid.UUID,
    first: str | None,
    last: str | None,
    section_text: str | None,
    base: str,
    customer_id: uuid.UUID | None,
) -> Response:
    try:
        section = Section(section_text or "periods")
    except ValueError:
        customer = customer_id is not None
        return error_page(
            deps,
            422,
            "Invalid section",
            "No such section.",
            base=base,
            customer=customer,
            staff=not customer,
        )
    result = await _report(conn, deps, contract_id, first, last, base=base, customer_id=customer_id)
    if isinstance(result, HTMLResponse):
        return result
    return exports.report_csv(result, section)


@router.get("/contracts/{contract_id}/report.csv")
async def report_page_csv(
    contract_id: uuid.UUID,
    request: Request,
    conn: ConnectionDep,
    deps: DepsDep,
    first: FromText = None,
    last: ToText = None,
    section: Text = None,
) -> Response:
    if not await auth.is_staff(request, conn, deps):
        return _to_login(request)
    return await _csv(conn, deps, contract_id, first, last, section, "/ui", None)


@router.get("/c/{token}/contracts/{contract_id}/report.csv")
async def customer_report_csv(
    token: str,
    contract_id: uuid.UUID,
    conn: ConnectionDep,
    deps: DepsDep,
    first: FromText = None,
    last: ToText = None,
    section: Text = None,
) -> Response:
    grant = await access.customer_grant(conn, deps, token)
    if grant is None:
        return _expired(deps)
    return await _csv(
        conn, deps, contract_id, first, last, section, f"/ui/c/{token}", grant.customer_id
    )
