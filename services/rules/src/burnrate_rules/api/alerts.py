from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Annotated

import asyncpg
from burnrate_common.auth import require
from burnrate_common.deps import ConnectionDep, CursorQuery, LimitQuery
from burnrate_common.errors import Problem
from burnrate_common.events import Trigger
from burnrate_common.pagination import Page, decode_cursor, encode_cursor
from burnrate_common.types import Hours, seconds_to_hours
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from burnrate_rules import store

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])


class AlertOut(BaseModel):
    alert_id: uuid.UUID
    rule_id: uuid.UUID
    rule_name: str
    contract_id: uuid.UUID
    customer_id: uuid.UUID | None
    period_start: dt.date
    period_end: dt.date
    stage: str
    trigger: str
    planned_hours: Hours
    executed_hours: Hours
    days_before_end: int | None
    forecast_hours: Hours | None
    forecast_exhaustion_date: dt.date | None
    unused_hours: Hours | None
    outside_dates_hours: Hours | None
    raised_at: dt.datetime


def _hours(seconds: int | None) -> Hours | None:
    return None if seconds is None else seconds_to_hours(seconds)


def _out(row: asyncpg.Record) -> AlertOut:
    values = dict(row)
    return AlertOut(
        **{k: v for k, v in values.items() if not k.endswith("_seconds")},
        planned_hours=seconds_to_hours(row["planned_seconds"]),
        executed_hours=seconds_to_hours(row["executed_seconds"]),
        forecast_hours=_hours(row["forecast_seconds"]),
        unused_hours=_hours(row["unused_seconds"]),
        outside_dates_hours=_hours(row["outside_dates_seconds"]),
    )


def parse_period(text: str) -> tuple[dt.date, dt.date]:
    """``YYYY-MM``: periods starting in that month; ``YYYY-MM-DD``: the period starting then."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}", text):
            first = dt.date.fromisoformat(f"{text}-01")
            following = (first + dt.timedelta(days=32)).replace(day=1)
            return first, following - dt.timedelta(days=1)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = dt.date.fromisoformat(text)
            return day, day
    except ValueError:
        pass
    raise Problem(
        422,
        "Invalid input",
        f"period: give YYYY-MM or YYYY-MM-DD, not {text!r}",
        field="period",
    )


@router.get("", response_model=Page[AlertOut], summary="Alerts raised, oldest first")
async def list_alerts(
    conn: ConnectionDep,
    _: Annotated[object, Depends(require("rules:read"))],
    contract_id: Annotated[uuid.UUID | None, Query()] = None,
    rule_id: Annotated[uuid.UUID | None, Query()] = None,
    trigger: Annotated[
        Trigger | None, Query(description="The alert's kind (an overage stage is 'overage')")
    ] = None,
    period: Annotated[
        str | None,
        Query(
            description="YYYY-MM (periods starting in that month) or YYYY-MM-DD (the period "
            "starting that day)"
        ),
    ] = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[AlertOut]:
    window = parse_period(period) if period is not None else None
    rows = await store.list_alerts(
        conn,
        decode_cursor(cursor),
        limit,
        contract_id,
        rule_id,
        trigger.value if trigger else None,
        window,
    )
    next_cursor = (
        encode_cursor(rows[-1]["raised_at"], rows[-1]["alert_id"]) if len(rows) == limit else None
    )
    return Page(items=[_out(r) for r in rows], next_cursor=next_cursor)
