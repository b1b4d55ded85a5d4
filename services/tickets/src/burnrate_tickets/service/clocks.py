"""From stored rows to the domain's clock: a ticket's level, opening and events replayed."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any, cast

import asyncpg
from burnrate_common.contract_terms import Priority, ServiceLevelTerms

from burnrate_tickets.domain.calendar import CalendarError
from burnrate_tickets.domain.clock import (
    EventKind,
    Opening,
    StatusKind,
    TicketClock,
    TicketEvent,
    replay,
)
from burnrate_tickets.schemas import DueOut
from burnrate_tickets.settings import TicketsSettings

log = logging.getLogger(__name__)


def status_kind(settings: TicketsSettings, source: str, status: str) -> StatusKind:
    """What a source's status means to the clock (set per source in the settings)."""
    name = status.strip().lower()

    def among(table: dict[str, list[str]]) -> bool:
        return name in {s.lower() for s in table.get(source, table.get("api", []))}

    if among(settings.closed_statuses):
        return "closed"
    if among(settings.resolved_statuses):
        return "resolved"
    if among(settings.waiting_statuses):
        return "waiting"
    return "active"


def level_of(ticket: asyncpg.Record) -> ServiceLevelTerms | None:
    terms = ticket["level_terms"]
    return None if terms is None else ServiceLevelTerms.model_validate(terms)


def opening_of(ticket: asyncpg.Record) -> Opening:
    return Opening(ticket["opened_at"], ticket["opening_priority"], ticket["category"])


def domain_events(rows: Sequence[asyncpg.Record]) -> list[TicketEvent]:
    return [
        TicketEvent(
            at=row["occurred_at"],
            kind=cast(EventKind, row["kind"]),
            seq=row["seq"],
            status_kind=cast(StatusKind | None, row["status_kind"]),
            by=row["by_whom"],
            public=bool(row["public"]) if row["public"] is not None else True,
            priority=cast(Priority | None, row["priority"]),
        )
        for row in rows
    ]


def measure(
    ticket: asyncpg.Record, rows: Sequence[asyncpg.Record], now: dt.datetime
) -> TicketClock:
    """The ticket's clocks at ``now``; none when it has no level (or a level whose calendar
    cannot measure: logged, the ticket kept)."""
    level = level_of(ticket)
    try:
        return replay(opening_of(ticket), domain_events(rows), level, now)
    except CalendarError as exc:
        log.warning(
            "service level cannot measure", extra={"ticket": str(ticket["id"]), "error": str(exc)}
        )
        return replay(opening_of(ticket), domain_events(rows), None, now)


def status_name(ticket: asyncpg.Record, rows: Sequence[asyncpg.Record]) -> str:
    """The status the ticket shows: the last one that happened (a command names its own)."""
    name: str = ticket["status"]
    for row in sorted(rows, key=lambda r: (r["occurred_at"], r["seq"])):
        kind = row["kind"]
        if kind == "status":
            name = row["status"]
        elif kind in ("resolve", "reopen", "close"):
            name = {"resolve": "resolved", "reopen": "open", "close": "closed"}[kind]
        if name == "closed" or row["status_kind"] == "closed":
            break
    return name


def due_list(clock: TicketClock) -> list[DueOut]:
    return [
        DueOut(
            metric=c.metric,
            cycle=c.cycle,
            priority=c.priority,
            target_minutes=c.target_minutes,
            calendar=c.rule.calendar_kind,
            state=c.state,
            due_at=c.due_at,
            breached=c.breached,
        )
        for c in clock.clocks
    ]


def event_row(
    event_id: str,
    kind: EventKind,
    at: dt.datetime,
    **fields: Any,
) -> dict[str, Any]:
    return {"event_id": event_id, "kind": kind, "occurred_at": at} | fields
