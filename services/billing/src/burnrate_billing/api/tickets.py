"""Confirming a ticket closed for billing (until tickets feeds ``ticket.confirmed``)."""

from __future__ import annotations

import uuid

from burnrate_common.deps import ConnectionDep
from fastapi import APIRouter

from burnrate_billing.api import DepsDep
from burnrate_billing.auth import BillingWriter
from burnrate_billing.schemas import TicketConfirmationOut
from burnrate_billing.service import replica

router = APIRouter(prefix="/v1/contracts", tags=["tickets"])


@router.post(
    "/{contract_id}/tickets/{reference}/confirm",
    response_model=TicketConfirmationOut,
    summary="The customer confirmed the ticket closed: its waiting lines may be charged",
)
async def confirm(
    contract_id: uuid.UUID, reference: str, conn: ConnectionDep, deps: DepsDep, who: BillingWriter
) -> TicketConfirmationOut:
    return await replica.confirm_ticket(conn, deps, contract_id, reference, who.name)
