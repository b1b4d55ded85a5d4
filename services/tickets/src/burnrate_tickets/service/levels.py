""" "Diagnose an incoming call": the level of a contract (or a customer's), its targets for
a priority and category, and the instants they fall due for a ticket opened at ``at``."""

from __future__ import annotations

import datetime as dt
import uuid

from burnrate_common.contract_terms import Priority
from burnrate_common.db import Connection
from burnrate_common.errors import Problem

from burnrate_tickets import store
from burnrate_tickets.domain.calendar import CalendarError
from burnrate_tickets.domain.clock import due_on_opening
from burnrate_tickets.schemas import ServiceLevelDueOut, TargetDueOut
from burnrate_tickets.service import Deps
from burnrate_tickets.service.tickets import choose_contract, level_at


async def due(
    conn: Connection,
    deps: Deps,
    *,
    contract_id: uuid.UUID | None,
    customer_id: uuid.UUID | None,
    priority: Priority,
    category: str | None,
    at: dt.datetime | None,
) -> ServiceLevelDueOut:
    at = at or deps.clock.now()
    if contract_id is None and customer_id is None:
        raise Problem(
            422,
            "Invalid input",
            "contract_id: give contract_id or customer_id",
            field="contract_id",
        )
    if contract_id is not None:
        contract = await store.contract(conn, contract_id)
        if contract is None:
            raise Problem(404, "Not found", f"No contract {contract_id}.", field="contract_id")
    else:
        assert customer_id is not None
        contract = choose_contract(await store.contracts_of_customer(conn, customer_id), at)
        if contract is None:
            raise Problem(
                404,
                "Not found",
                f"No active contract of customer {customer_id}.",
                field="customer_id",
            )
    level = level_at(contract, at)
    targets: list[TargetDueOut] = []
    if level is not None:
        try:
            clocks = due_on_opening(level, at, priority, category)
        except CalendarError as exc:
            raise Problem(422, "Calendar cannot measure", str(exc), field="contract_id") from exc
        targets = [
            TargetDueOut(
                metric=c.metric,
                target_minutes=c.target_minutes,
                calendar=c.rule.calendar_kind,
                due_at=c.due_at or at,
            )
            for c in clocks
        ]
    return ServiceLevelDueOut(
        contract_id=contract["id"],
        customer_id=contract["customer_id"],
        level=level.level if level else None,
        calendar=level.calendar.name if level else None,
        timezone=level.calendar.timezone if level else None,
        priority=priority,
        category=category,
        at=at,
        targets=targets,
    )
