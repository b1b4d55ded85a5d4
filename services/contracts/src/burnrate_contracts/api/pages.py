"""The service catalogue page (``/ui/catalogue``): the levels the MSP offers, with their
targets per priority and category, the calendar each runs on, and its price.

Public on purpose: it is the MSP's published offer ("make your services and service levels
transparent: which levels you offer and what each costs"), meant for customers and prospects
who hold no API key; it shows nothing of any customer or contract. The JSON catalogue
(``GET /v1/service-levels``) stays behind ``contracts:read``. A Jinja2 template, autoescaped,
its one stylesheet inline and allowed by its hash (no script, nothing from elsewhere).
"""

from __future__ import annotations

import base64
import hashlib
from collections import defaultdict
from functools import cache
from typing import Any

from burnrate_common.deps import ConnectionDep
from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from burnrate_contracts.schemas import ServiceLevelOut
from burnrate_contracts.service import service_levels

router = APIRouter(prefix="/ui", tags=["pages"], include_in_schema=False)

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
PRIORITIES = ["P1", "P2", "P3", "P4"]
PERIODS = {"monthly": "month", "quarterly": "quarter", "yearly": "year"}


def _duration(minutes: int | None) -> str:
    """``15 min``, ``8 h``, ``1 h 30 min``, ``3 days`` (of 24 h, for 24×7 targets only)."""
    if minutes is None:
        return "–"
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest} min" if rest else f"{hours} h"


@cache
def _environment() -> tuple[Environment, str]:
    """The templates and the CSP hash of the page's inline stylesheet."""
    environment = Environment(
        loader=PackageLoader("burnrate_contracts", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["duration"] = _duration
    css = environment.get_template("catalogue.css").render()
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    # the service's own file, not input: inserted as it is, so the hash is of what is sent
    environment.globals["stylesheet"] = Markup(css)  # noqa: S704
    return environment, f"'sha256-{digest}'"


def _round_the_clock(level: ServiceLevelOut) -> bool:
    calendar = level.calendar
    return calendar is None or calendar.kind == "24x7" or not calendar.hours


def _week(level: ServiceLevelOut) -> str:
    """The calendar's working hours in words, consecutive days with the same hours in one run
    (``Mon–Fri 08:00–18:00``)."""
    calendar = level.calendar
    if calendar is None or _round_the_clock(level):
        return "round the clock (24×7)"
    by_day: dict[int, list[str]] = defaultdict(list)
    for w in sorted(calendar.hours, key=lambda w: (w.weekday, w.start)):
        end = "24:00" if (w.end.hour, w.end.minute) == (0, 0) else f"{w.end:%H:%M}"
        by_day[w.weekday].append(f"{w.start:%H:%M}–{end}")
    runs: list[tuple[int, int, str]] = []
    for day in sorted(by_day):
        text = ", ".join(by_day[day])
        if runs and runs[-1][1] == day - 1 and runs[-1][2] == text:
            runs[-1] = (runs[-1][0], day, text)
        else:
            runs.append((day, day, text))
    return " · ".join(
        f"{WEEKDAYS[a - 1] if a == b else f'{WEEKDAYS[a - 1]}–{WEEKDAYS[b - 1]}'} {text}"
        for a, b, text in runs
    )


def _card(level: ServiceLevelOut) -> dict[str, Any]:
    """One level as the page shows it: a row per priority and per category."""
    rows: dict[str, dict[str, Any]] = {}
    for t in level.targets:
        key = t.category if t.category is not None else (t.priority or "every priority")
        if t.category is not None and t.priority is not None:
            key = f"{t.category} ({t.priority})"
        rows.setdefault(key, {"category": t.category is not None})[t.metric] = t
    ordered = sorted(
        rows.items(),
        key=lambda kv: (
            kv[1]["category"],
            PRIORITIES.index(kv[0]) if kv[0] in PRIORITIES else 9,
            kv[0],
        ),
    )
    return {
        "level": level,
        "rows": ordered,
        "week": _week(level),
        "round_the_clock": _round_the_clock(level),
        "per": PERIODS.get(level.price_period, level.price_period),
    }


@router.get("/catalogue", response_class=HTMLResponse)
async def catalogue_page(conn: ConnectionDep) -> HTMLResponse:
    """The published catalogue, cheapest level first (no key needed)."""
    levels = await service_levels.list_service_levels(conn)
    environment, style_hash = _environment()
    html = environment.get_template("catalogue.html").render(cards=[_card(lv) for lv in levels])
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": f"default-src 'none'; style-src {style_hash}; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache",
        },
    )
