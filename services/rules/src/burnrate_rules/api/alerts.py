"""The alerts raised, filtered and paged."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Annotated

from burnrate_common.deps import ConnectionDep, CursorQuery, LimitQuery
from burnrate_common.errors import Problem
from burnrate_common.events import Trigger
from burnrate_common.pagination import Page
from fastapi import APIRouter, Query

from burnrate_rules.auth import RulesReader
from burnrate_rules.schemas import AlertOut
from burnrate_rules.service import alerts as service

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])


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
    _: RulesReader,
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
    return await service.list_alerts(
        conn,
        contract_id=contract_id,
        rule_id=rule_id,
        trigger=trigger,
        period=parse_period(period) if period is not None else None,
        limit=limit,
        cursor=cursor,
    )
