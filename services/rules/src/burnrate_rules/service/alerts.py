"""The alerts raised, as the API lists them."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
from burnrate_common.db import Connection
from burnrate_common.events import Trigger
from burnrate_common.pagination import Page, decode_cursor, encode_cursor
from burnrate_common.types import Hours, seconds_to_hours

from burnrate_rules import store
from burnrate_rules.schemas import AlertOut


def optional_hours(seconds: int | None) -> Hours | None:
    return None if seconds is None else seconds_to_hours(seconds)


def _out(row: asyncpg.Record) -> AlertOut:
    values = dict(row)
    return AlertOut(
        **{k: v for k, v in values.items() if not k.endswith("_seconds")},
        planned_hours=seconds_to_hours(row["planned_seconds"]),
        executed_hours=seconds_to_hours(row["executed_seconds"]),
        forecast_hours=optional_hours(row["forecast_seconds"]),
        unused_hours=optional_hours(row["unused_seconds"]),
        outside_dates_hours=optional_hours(row["outside_dates_seconds"]),
        allowance_hours=optional_hours(row["allowance_seconds"]),
        charged_hours=optional_hours(row["charged_seconds"]),
    )


async def list_alerts(
    conn: Connection,
    *,
    contract_id: uuid.UUID | None,
    rule_id: uuid.UUID | None,
    trigger: Trigger | None,
    period: tuple[dt.date, dt.date] | None,
    limit: int,
    cursor: str | None,
) -> Page[AlertOut]:
    """Oldest first. ``period``: alerts whose period starts in [first, last]."""
    rows = await store.list_alerts(
        conn,
        decode_cursor(cursor),
        limit,
        contract_id,
        rule_id,
        trigger.value if trigger else None,
        period,
    )
    next_cursor = (
        encode_cursor(rows[-1]["raised_at"], rows[-1]["alert_id"]) if len(rows) == limit else None
    )
    return Page(items=[_out(r) for r in rows], next_cursor=next_cursor)
