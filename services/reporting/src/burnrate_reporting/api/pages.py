"""Server-rendered pages: the contract screen and the delivery report, for staff (API key in
a cookie set by the login form, or an ``Authorization: Bearer`` header) and for customers
(a signed, expiring link that shows only that customer's contracts).

Templates are Jinja2 with autoescaping; the chart and CSS libraries are npm packages served
from this service (``/static/vendor/...``), no CDN.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote

from burnrate_common import report_links as links
from burnrate_common.auth import authenticate
from burnrate_common.deps import ConnectionDep
from burnrate_common.errors import Problem
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape

from burnrate_reporting import store
from burnrate_reporting.api import exports
from burnrate_reporting.api.report import DeliveryReport, delivery_report
from burnrate_reporting.api.views import NowDep, SettingsDep, contract_screen
from burnrate_reporting.domain.status import ContractStatus
from burnrate_reporting.settings import ReportingSettings

router = APIRouter(prefix="/ui", tags=["pages"], include_in_schema=False)

COOKIE = "burnrate_key"
PAGE_SIZE = 50
_SECURITY_HEADERS = {
    # Scripts and styles from this service only; the report data is a JSON block, not code.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

templates = Environment(
    loader=PackageLoader("burnrate_reporting", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _hours(value: Any) -> str:
    return "–" if value is None else f"{float(value):.2f}"


def _percent(value: Any) -> str:
    return "–" if value is None else f"{float(value):.1f} %"


templates.filters["hours"] = _hours
templates.filters["pct"] = _percent


def render(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = templates.get_template(name).render(**context)
    return HTMLResponse(html, status_code=status_code, headers=_SECURITY_HEADERS)


def error_page(status: int, title: str, detail: str, **context: Any) -> HTMLResponse:
    return render("error.html", status, title=title, detail=detail, **context)


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


# --- who is looking ----------------------------------------------------------------------


async def _staff(request: Request) -> bool:
    """A key with reports:read, from the header or else from the login cookie."""
    if "authorization" not in request.headers:
        key = request.cookies.get(COOKIE)
        if not key:
            return False
        headers = [(k, v) for k, v in request.scope["headers"] if k != b"authorization"]
        headers.append((b"authorization", f"Bearer {key}".encode()))
        request = Request({**request.scope, "headers": headers}, request.receive)
    try:
        principal = await authenticate(request)
    except Problem:
        return False
    return principal.allows("reports:read")


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/ui/login?next={quote(target)}", status_code=303)


def _grant(settings: ReportingSettings, token: str, now: dt.datetime) -> links.LinkGrant | None:
    try:
        return links.verify(settings.link_secret, token, now)
    except links.InvalidLink:
        return None


def _expired() -> HTMLResponse:
    return error_page(
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
async def login_form(next_page: Annotated[str | None, Query(alias="next")] = None) -> Response:
    return render("login.html", next_page=_safe_next(next_page), error=None)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, settings: SettingsDep) -> Response:
    form = parse_qs((await request.body()).decode(errors="replace")[:4096])
    key = (form.get("api_key") or [""])[0].strip()
    target = _safe_next((form.get("next") or [""])[0])
    probe = Request(
        {**request.scope, "headers": [(b"authorization", f"Bearer {key}".encode())]},
        request.receive,
    )
    allowed = False
    if key:
        try:
            allowed = (await authenticate(probe)).allows("reports:read")
        except Problem:
            allowed = False
    if not allowed:
        return render(
            "login.html",
            401,
            next_page=target,
            error="That key is unknown, revoked or lacks the scope reports:read.",
        )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        key,
        httponly=True,
        samesite="strict",
        secure=settings.environment == "production",
        path="/ui",
        max_age=12 * 3600,
    )
    return response


@router.post("/logout", response_class=RedirectResponse)
async def logout() -> RedirectResponse:
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/ui")
    return response


# --- the contract screen -----------------------------------------------------------------


async def _screen(
    request: Request,
    conn: ConnectionDep,
    now: dt.datetime,
    settings: ReportingSettings,
    *,
    base: str,
    customer_id: uuid.UUID | None,
    customer: bool,
) -> Response:
    params = request.query_params
    status_text = params.get("status") or None
    sort = params.get("sort") or "created"
    q = (params.get("q") or "")[:100] or None
    cursor = params.get("cursor") or None
    try:
        status = ContractStatus(status_text) if status_text else None
        if sort.lstrip("-") not in store.SORTS:
            raise Problem(422, "Invalid sort", f"No sort '{sort}'.", field="sort")
        page = await contract_screen(
            conn,
            now,
            settings,
            limit=PAGE_SIZE,
            cursor=cursor,
            sort=sort,
            status=status,
            customer_id=customer_id,
            search=q,
        )
    except ValueError:
        return error_page(422, "Invalid filter", f"No status '{status_text}'.", base=base)
    except Problem as problem:
        return error_page(problem.status, problem.title, problem.detail or "", base=base)
    name = await store.customer_name(conn, customer_id) if customer_id else None
    return render(
        "contracts.html",
        page=page,
        base=base,
        customer=customer,
        customer_name=name,
        statuses=[s.value for s in ContractStatus],
        status=status_text,
        sort=sort,
        q=q or "",
        expiring_within_days=settings.expiring_within_days,
        now=now,
    )


@router.get("/contracts", response_class=HTMLResponse)
async def contracts_page(
    request: Request, conn: ConnectionDep, now: NowDep, settings: SettingsDep
) -> Response:
    if not await _staff(request):
        return _to_login(request)
    return await _screen(request, conn, now, settings, base="/ui", customer_id=None, customer=False)


@router.get("/c/{token}", response_class=HTMLResponse)
async def customer_contracts_page(
    token: str, request: Request, conn: ConnectionDep, now: NowDep, settings: SettingsDep
) -> Response:
    grant = _grant(settings, token, now)
    if grant is None:
        return _expired()
    return await _screen(
        request,
        conn,
        now,
        settings,
        base=f"/ui/c/{token}",
        customer_id=grant.customer_id,
        customer=True,
    )


# --- the delivery report -----------------------------------------------------------------


async def _report(
    request: Request,
    conn: ConnectionDep,
    now: dt.datetime,
    settings: ReportingSettings,
    contract_id: uuid.UUID,
    *,
    base: str,
    customer_id: uuid.UUID | None,
) -> DeliveryReport | HTMLResponse:
    params = request.query_params
    try:
        return await delivery_report(
            conn,
            contract_id,
            now,
            params.get("from") or None,
            params.get("to") or None,
            expiring_within_days=settings.expiring_within_days,
            customer_id=customer_id,
        )
    except Problem as problem:
        return error_page(
            problem.status,
            problem.title,
            problem.detail or "",
            base=base,
            customer=customer_id is not None,
        )


def _chart_data(report: DeliveryReport) -> dict[str, Any]:
    teams = [s.name for s in report.by_team]
    return {
        "labels": [f"{p.start_date:%Y-%m-%d}" for p in report.periods],
        "planned": [float(p.planned_hours) for p in report.periods],
        "executed": [float(p.executed_hours) for p in report.periods],
        "cumulative_planned": [float(p.cumulative_planned_hours) for p in report.periods],
        "cumulative_executed": [float(p.cumulative_executed_hours) for p in report.periods],
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


def _render_report(report: DeliveryReport, *, base: str, customer: bool) -> HTMLResponse:
    return render(
        "report.html",
        r=report,
        base=base,
        customer=customer,
        chart=_chart_data(report),
        sections=[s.value for s in exports.Section],
    )


@router.get("/contracts/{contract_id}/report", response_class=HTMLResponse)
async def report_page(
    contract_id: uuid.UUID,
    request: Request,
    conn: ConnectionDep,
    now: NowDep,
    settings: SettingsDep,
) -> Response:
    if not await _staff(request):
        return _to_login(request)
    result = await _report(request, conn, now, settings, contract_id, base="/ui", customer_id=None)
    if isinstance(result, HTMLResponse):
        return result
    return _render_report(result, base="/ui", customer=False)


@router.get("/c/{token}/contracts/{contract_id}/report", response_class=HTMLResponse)
async def customer_report_page(
    token: str,
    contract_id: uuid.UUID,
    request: Request,
    conn: ConnectionDep,
    now: NowDep,
    settings: SettingsDep,
) -> Response:
    grant = _grant(settings, token, now)
    if grant is None:
        return _expired()
    base = f"/ui/c/{token}"
    result = await _report(
        request, conn, now, settings, contract_id, base=base, customer_id=grant.customer_id
    )
    if isinstance(result, HTMLResponse):
        return result
    return _render_report(result, base=base, customer=True)


async def _csv(
    request: Request,
    conn: ConnectionDep,
    now: dt.datetime,
    settings: ReportingSettings,
    contract_id: uuid.UUID,
    base: str,
    customer_id: uuid.UUID | None,
) -> Response:
    try:
        section = exports.Section(request.query_params.get("section") or "periods")
    except ValueError:
        return error_page(422, "Invalid section", "No such section.", base=base)
    result = await _report(
        request, conn, now, settings, contract_id, base=base, customer_id=customer_id
    )
    if isinstance(result, HTMLResponse):
        return result
    return exports.report_csv(result, section)


@router.get("/contracts/{contract_id}/report.csv")
async def report_page_csv(
    contract_id: uuid.UUID,
    request: Request,
    conn: ConnectionDep,
    now: NowDep,
    settings: SettingsDep,
) -> Response:
    if not await _staff(request):
        return _to_login(request)
    return await _csv(request, conn, now, settings, contract_id, "/ui", None)


@router.get("/c/{token}/contracts/{contract_id}/report.csv")
async def customer_report_csv(
    token: str,
    contract_id: uuid.UUID,
    request: Request,
    conn: ConnectionDep,
    now: NowDep,
    settings: SettingsDep,
) -> Response:
    grant = _grant(settings, token, now)
    if grant is None:
        return _expired()
    return await _csv(
        request, conn, now, settings, contract_id, f"/ui/c/{token}", grant.customer_id
    )
