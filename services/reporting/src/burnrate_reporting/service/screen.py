"""The contract screen: every contract (or one customer's) with its current period's
figures, filtered, sorted and paged by a cursor that carries the sort key."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

import asyncpg
from burnrate_common.contract_status import days_left, derive_status
from burnrate_common.db import Connection
from burnrate_common.errors import Problem
from burnrate_common.figures import Figures
from burnrate_common.pagination import Page, decode_keys, encode_keys
from burnrate_common.types import seconds_to_hours

from burnrate_reporting.domain.forecast import Actual, current_period_forecast
from burnrate_reporting.schemas import (
    Attention,
    ContractSummary,
    CurrentPeriod,
    LastAlert,
    NotificationCounts,
    ScreenStatus,
)
from burnrate_reporting.service.deps import Deps
from burnrate_reporting.store import reports as report_store
from burnrate_reporting.store import screen as store


def summary(
    row: asyncpg.Record, expiring_within_days: int, history: Sequence[Actual] = ()
) -> ContractSummary:
    """One row of ``store.screen.list_contracts`` as the contract screen shows it;
    ``history``: the contract's last full periods (``store.screen.forecast_history``)."""
    figures = (
        Figures(row["planned_seconds"], row["executed_seconds"])
        if row["period_start"] is not None
        else None
    )
    current = None
    if figures is not None:
        this = Actual(
            row["period_start"], row["period_end"], row["planned_seconds"], row["executed_seconds"]
        )
        found = current_period_forecast([*history, this], row["local_today"])
        forecast = found[0].forecast_seconds if found else None
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
            forecast_basis=found[1].basis.value if found else None,
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


async def summary_page(
    conn: Connection, rows: list[asyncpg.Record], limit: int, sort: str, expiring_within_days: int
) -> Page[ContractSummary]:
    """``rows`` may hold one row beyond the page: then there is a next page. The forecast's
    history is read for the page's contracts in a current period, in one statement."""
    rows, more = rows[:limit], len(rows) > limit
    next_cursor = encode_cursor(sort, rows[-1]["cursor_key"], rows[-1]["id"]) if more else None
    history: dict[uuid.UUID, list[Actual]] = defaultdict(list)
    for h in await store.forecast_history(
        conn, [(r["id"], r["local_today"]) for r in rows if r["period_start"] is not None]
    ):
        history[h["contract_id"]].append(
            Actual(h["start_date"], h["end_date"], h["planned_seconds"], h["executed_seconds"])
        )
    return Page(
        items=[summary(r, expiring_within_days, history.get(r["id"], ())) for r in rows],
        next_cursor=next_cursor,
    )


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
    over_forecast: bool = False,
) -> Page[ContractSummary]:
    """One page of the contract screen, filtered and sorted (``-`` first: descending);
    ``over_forecast``: only contracts whose current forecast exceeds the plan."""
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
        over_forecast=over_forecast,
    )
    return await summary_page(conn, rows, limit, sort, days)


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
    over_forecast: bool = False,
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
            over_forecast=over_forecast,
        )


async def attention(conn: Connection, deps: Deps, customer_id: uuid.UUID | None) -> Attention:
    """What needs attention today: how many contracts are exhausted, over forecast, expiring."""
    row = await store.attention_counts(
        conn, deps.clock.now(), deps.settings.expiring_within_days, customer_id
    )
    return Attention(
        exhausted=row["exhausted"], over_forecast=row["over_forecast"], expiring=row["expiring"]
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
    over_forecast: bool = False,
) -> tuple[Page[ContractSummary], str | None, Attention]:
    """The screen as a page shows it: its contracts, for a customer's link the customer's
    name, and the counts of what needs attention (one snapshot)."""
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
            over_forecast=over_forecast,
        )
        name = await report_store.customer_name(conn, customer_id) if customer_id else None
        counts = await attention(conn, deps, customer_id)
    return page, name, counts
