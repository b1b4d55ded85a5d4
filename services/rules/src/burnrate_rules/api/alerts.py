from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

import asyncpg
from burnrate_common.auth import require
from burnrate_common.deps import ConnectionDep, CursorQuery, LimitQuery
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
    period_start: dt.date
    period_end: dt.date
    stage: str
    trigger: str
    planned_hours: Hours
    executed_hours: Hours
    raised_at: dt.datetime


def _out(row: asyncpg.Record) -> AlertOut:
    return AlertOut(
        **{k: v for k, v in dict(row).items() if not k.endswith("_seconds")},
        planned_hours=seconds_to_hours(row["planned_seconds"]),
        executed_hours=seconds_to_hours(row["executed_seconds"]),
    )


@router.get("", response_model=Page[AlertOut], summary="Alerts raised, oldest first")
async def list_alerts(
    conn: ConnectionDep,
    _: Annotated[object, Depends(require("rules:read"))],
    contract_id: Annotated[uuid.UUID | None, Query()] = None,
    rule_id: Annotated[uuid.UUID | None, Query()] = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[AlertOut]:
    rows = await store.list_alerts(conn, decode_cursor(cursor), limit, contract_id, rule_id)
    next_cursor = (
        encode_cursor(rows[-1]["raised_at"], rows[-1]["alert_id"]) if len(rows) == limit else None
    )
    return Page(items=[_out(r) for r in rows], next_cursor=next_cursor)
