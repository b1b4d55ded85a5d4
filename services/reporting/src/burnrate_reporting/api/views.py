"""Response models and helpers shared by the routers."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated

import asyncpg
from burnrate_common.db import Connection
from burnrate_common.deps import RuntimeDep
from burnrate_common.errors import Problem
from burnrate_common.pagination import Page
from burnrate_common.types import Hours, seconds_to_hours
from fastapi import Depends, Query
from pydantic import BaseModel, PlainSerializer

from burnrate_reporting import store
from burnrate_reporting.domain.figures import Figures
from burnrate_reporting.domain.forecast import Actual, period_end_forecast
from burnrate_reporting.domain.status import ContractStatus, days_left, derive_status
from burnrate_reporting.settings import ReportingSettings

#: A percentage with one decimal, as a JSON number.
Percent = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]

Clock = Callable[[], dt.datetime]


def _now(runtime: RuntimeDep) -> dt.datetime:
    clock: Clock = runtime.extras["clock"]
    return clock()


#: The current instant, from the clock built in bootstrap (tests fix it).
NowDep = Annotated[dt.datetime, Depends(_now)]


def _settings(runtime: RuntimeDep) -> ReportingSettings:
    settings = runtime.settings
    assert isinstance(settings, ReportingSettings)
    return settings


SettingsDep = Annotated[ReportingSettings, Depends(_settings)]


class CurrentPeriod(BaseModel):
    start_date: dt.date
    end_date: dt.date
    planned_hours: Hours
    executed_hours: Hours
    remaining_hours: Hours
    percent: Percent | None
    overage_hours: Hours
    planned_seconds: int
    executed_seconds: int
    #: executed at the period's end if the pace so far holds (executed / days elapsed,
    #: today included, × days in the period)
    forecast_hours: Hours | None = None
    forecast_seconds: int | None = None


class LastAlert(BaseModel):
    stage: str
    trigger: str
    raised_at: dt.datetime


class NotificationCounts(BaseModel):
    sent: int
    failed: int


class ContractSummary(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    customer_name: str | None = None
    code: str
    title: str
    start_date: dt.date
    end_date: dt.date
    timezone: str
    status: ContractStatus
    #: days of the contract still to come, today (local) included; 0 once it ended
    days_left: int = 0
    current_period: CurrentPeriod | None
    last_alert: LastAlert | None
    notifications: NotificationCounts


def summary(row: asyncpg.Record, expiring_within_days: int = 0) -> ContractSummary:
    """One row of ``store.list_contracts`` as the contract screen shows it."""
    figures = (
        Figures(row["planned_seconds"], row["executed_seconds"])
        if row["period_start"] is not None
        else None
    )
    current = None
    if figures is not None:
        forecast = period_end_forecast(
            Actual(
                row["period_start"],
                row["period_end"],
                row["planned_seconds"],
                row["executed_seconds"],
            ),
            row["local_today"],
        )
        current = CurrentPeriod(
            start_date=row["period_start"],
            end_date=row["period_end"],
            planned_hours=seconds_to_hours(figures.planned_seconds),
            executed_hours=seconds_to_hours(figures.executed_seconds),
            remaining_hours=seconds_to_hours(figures.remaining_seconds),
            percent=figures.percent,
            overage_hours=seconds_to_hours(figures.overage_seconds),
            planned_seconds=figures.planned_seconds,
            executed_seconds=figures.executed_seconds,
            forecast_hours=seconds_to_hours(forecast) if forecast is not None else None,
            forecast_seconds=forecast,
        )
    last_alert = (
        LastAlert(
            stage=row["alert_stage"],
            trigger=row["alert_trigger"],
            raised_at=row["alert_raised_at"],
        )
        if row["alert_raised_at"] is not None
        else None
    )
    return ContractSummary(
        id=row["id"],
        customer_id=row["customer_id"],
        customer_name=row["customer_name"],
        code=row["code"],
        title=row["title"],
        start_date=row["start_date"],
        end_date=row["end_date"],
        timezone=row["timezone"],
        status=derive_status(
            row["start_date"], row["end_date"], row["local_today"], figures, expiring_within_days
        ),
        days_left=days_left(row["end_date"], row["local_today"]),
        current_period=current,
        last_alert=last_alert,
        notifications=NotificationCounts(
            sent=row["notifications_sent"], failed=row["notifications_failed"]
        ),
    )


def encode_cursor(sort: str, key: str, row_id: uuid.UUID) -> str:
    """The sort, the last row's sort key (as text) and its id."""
    raw = json.dumps([sort, key, str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, sort: str) -> tuple[str, uuid.UUID] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        cursor_sort, key, row_id = json.loads(base64.urlsafe_b64decode(padded))
        parsed = (str(key), uuid.UUID(row_id))
    except (ValueError, TypeError) as exc:
        raise Problem(
            400, "Invalid cursor", "The cursor is not one this API returned.", field="cursor"
        ) from exc
    if cursor_sort != sort:
        raise Problem(
            400,
            "Invalid cursor",
            f"The cursor belongs to sort '{cursor_sort}', not '{sort}'; start again without it.",
            field="cursor",
        )
    return parsed


def summary_page(
    rows: list[asyncpg.Record], limit: int, sort: str = "created", expiring_within_days: int = 0
) -> Page[ContractSummary]:
    """``rows`` may hold one row beyond the page: then there is a next page."""
    rows, more = rows[:limit], len(rows) > limit
    next_cursor = encode_cursor(sort, rows[-1]["cursor_key"], rows[-1]["id"]) if more else None
    return Page(items=[summary(r, expiring_within_days) for r in rows], next_cursor=next_cursor)


#: ``created`` (default), ``code``, ``customer``, ``end_date``, ``percent`` (of the current
#: period) or ``executed`` (hours in the current period); ``-`` first for descending.
SORT_PATTERN = r"^-?(created|code|customer|end_date|percent|executed)$"

SortQuery = Annotated[
    str,
    Query(
        pattern=SORT_PATTERN,
        description="created, code, customer, end_date, percent or "
        "executed; prefix with - for descending",
        examples=["-percent"],
    ),
]
SearchQuery = Annotated[
    str | None,
    Query(max_length=100, description="Part of the code, title or customer name"),
]


async def contract_screen(
    conn: Connection,
    now: dt.datetime,
    settings: ReportingSettings,
    *,
    limit: int,
    cursor: str | None = None,
    sort: str = "created",
    status: ContractStatus | None = None,
    customer_id: uuid.UUID | None = None,
    search: str | None = None,
) -> Page[ContractSummary]:
    """One page of the contract screen, filtered and sorted; the cursor carries the sort key."""
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    # One row more than asked tells whether there is a next page.
    rows = await store.list_contracts(
        conn,
        now,
        decode_cursor(cursor, sort),
        limit + 1,
        customer_id=customer_id,
        status=status.value if status else None,
        expiring_within_days=settings.expiring_within_days,
        sort=key,
        descending=descending,
        search=search.strip() or None if search else None,
    )
    return summary_page(rows, limit, sort, settings.expiring_within_days)
