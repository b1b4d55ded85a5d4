""" "Diagnose an incoming call": a contract's level, targets and due instants."""

from __future__ import annotations

import uuid

from burnrate_common.contract_terms import Priority
from burnrate_common.deps import ConnectionDep
from fastapi import APIRouter
from pydantic import AwareDatetime

from burnrate_tickets.api import DepsDep
from burnrate_tickets.auth import TicketsReader
from burnrate_tickets.schemas import ServiceLevelDueOut
from burnrate_tickets.service import levels as service

router = APIRouter(prefix="/v1/service-levels", tags=["service levels"])


@router.get(
    "/due",
    response_model=ServiceLevelDueOut,
    summary="The level, targets and due instants of a call opened at `at` (default now)",
)
async def due(
    priority: Priority,
    conn: ConnectionDep,
    deps: DepsDep,
    _: TicketsReader,
    contract_id: uuid.UUID | None = None,
    customer_id: uuid.UUID | None = None,
    category: str | None = None,
    at: AwareDatetime | None = None,
) -> ServiceLevelDueOut:
    return await service.due(
        conn,
        deps,
        contract_id=contract_id,
        customer_id=customer_id,
        priority=priority,
        category=category,
        at=at,
    )
