"""The contract screen: every contract (or one customer's) with its current period's
figures, filtered, sorted and paged by a cursor that carries the sort key."""

from __future__ import annotations

import uuid

import asyncpg
from burnrate_common.contract_status import days_left, derive_status
from burnrate_common.db import Connection
from burnrate_common.errors import Problem
from burnrate_common.figures import Figures
from burnrate_common.pagination import Page, decode_keys, encode_keys
from burnrate_common.types import seconds_to_hours

from burnrate_reporting.domain.forecast import Actual, period_end_forecast
from burnrate_reporting.schemas import (
    ContractSummary,
    CurrentPeriod,
    LastAlert,
    NotificationCounts,
    ScreenStatus,
)
from burnrate_reporting.service.deps import Deps
from burnrate_reporting.store import reports as report_store
from burnrate_reporting.store import screen as store


def summary(row: asyncpg.Record, expiring_within_days: int) -> ContractSummary:
    """One row of ``store.screen.list_contracts`` as the contract screen shows it."""
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
            start_date=row["start_date"],
            end_date=row["end_date"],
            today=row["local_today"],
            expiring_within_days=expiring_within_days,
            exhausted=figures is not None and figures.exhausted,
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
    return encode_keys(sort, key, str(row_id))


def decode_cursor(cursor: str | None, sort: str) -> tuple[str, uuid.UUID] | None:
    keys = decode_keys(cursor, 3)
    if keys is None:
        return None
    cursor_sort, key, row_id = keys
    try:
        parsed = (key, uuid.UUID(row_id))
    except ValueError as exc:
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
    rows: list[asyncpg.Record], limit: int, sort: str, expiring_within_days: int
) -> Page[ContractSummary]:
    """``rows`` may hold one row beyond the page: then there is a next page."""
    rows, more = rows[:limit], len(rows) > limit
    next_cursor = encode_cursor(sort, rows[-1]["cursor_key"], rows[-1]["id"]) if more else None
    return Page(items=[summary(r, expiring_within_days) for r in rows], next_cursor=next_cursor)


async def contract_screen(
    conn: Connection,
    deps: Deps,
    *,
    limit: int,
    cursor: str | None = None,
    sort: str = "created",
    status: ScreenStatus | None = None,
    customer_id: uuid.UUID | None = None,
    search: str | None = None,
) -> Page[ContractSummary]:
    """One page of the contract screen, filtered and sorted (``-`` first: descending)."""
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in store.SORTS:
        raise Problem(422, "Invalid sort", f"No sort '{sort}'.", field="sort")
    days = deps.settings.expiring_within_days
    # One row more than asked tells whether there is a next page.
    rows = await store.list_contracts(
        conn,
        deps.clock.now(),
        decode_cursor(cursor, sort),
        limit + 1,
        customer_id=customer_id,
        status=status.value if status else None,
        expiring_within_days=days,
        sort=key,
        descending=descending,
        search=search.strip() or None if search else None,
    )
    return summary_page(rows, limit, sort, days)


async def _known(conn: Connection, customer_id: uuid.UUID) -> None:
    if not await report_store.customer_known(conn, customer_id):
        raise Problem(404, "Not found", f"No customer {customer_id}.", field="customer_id")


async def customer_contracts(
    conn: Connection,
    deps: Deps,
    customer_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None = None,
    sort: str = "created",
    status: ScreenStatus | None = None,
    search: str | None = None,
) -> Page[ContractSummary]:
    """The screen of one known customer's contracts (404 for a customer never seen)."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        await _known(conn, customer_id)
        return await contract_screen(
            conn,
            deps,
            limit=limit,
            cursor=cursor,
            sort=sort,
            status=status,
            customer_id=customer_id,
            search=search,
        )


async def screen_page(
    conn: Connection,
    deps: Deps,
    *,
    limit: int,
    cursor: str | None,
    sort: str,
    status: ScreenStatus | None,
    customer_id: uuid.UUID | None,
    search: str | None,
) -> tuple[Page[ContractSummary], str | None]:
    """The screen as a page shows it: its contracts and, for a customer's link, the
    customer's name."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        page = await contract_screen(
            conn,
            deps,
            limit=limit,
            cursor=cursor,
            sort=sort,
            status=status,
            customer_id=customer_id,
            search=search,
        )
        name = await report_store.customer_name(conn, customer_id) if customer_id else None
    return page, name
