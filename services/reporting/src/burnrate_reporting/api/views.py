"""Response models and helpers shared by the routers."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated

import asyncpg
from burnrate_common.deps import RuntimeDep
from burnrate_common.pagination import Page, encode_cursor
from burnrate_common.types import Hours, seconds_to_hours
from fastapi import Depends
from pydantic import BaseModel, PlainSerializer

from burnrate_reporting.domain.figures import Figures
from burnrate_reporting.domain.status import ContractStatus, derive_status

#: A percentage with one decimal, as a JSON number.
Percent = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]

Clock = Callable[[], dt.datetime]


def _now(runtime: RuntimeDep) -> dt.datetime:
    clock: Clock = runtime.extras["clock"]
    return clock()


#: The current instant, from the clock built in bootstrap (tests fix it).
NowDep = Annotated[dt.datetime, Depends(_now)]


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
    current_period: CurrentPeriod | None
    last_alert: LastAlert | None
    notifications: NotificationCounts


def summary(row: asyncpg.Record) -> ContractSummary:
    """One row of ``store.list_contracts`` as the contract screen shows it."""
    figures = (
        Figures(row["planned_seconds"], row["executed_seconds"])
        if row["period_start"] is not None
        else None
    )
    current = None
    if figures is not None:
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
        status=derive_status(row["start_date"], row["end_date"], row["local_today"], figures),
        current_period=current,
        last_alert=last_alert,
        notifications=NotificationCounts(
            sent=row["notifications_sent"], failed=row["notifications_failed"]
        ),
    )


def summary_page(rows: list[asyncpg.Record], limit: int) -> Page[ContractSummary]:
    next_cursor = (
        encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if len(rows) == limit else None
    )
    return Page(items=[summary(r) for r in rows], next_cursor=next_cursor)
