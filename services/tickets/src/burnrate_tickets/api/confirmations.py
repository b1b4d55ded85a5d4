"""The customer's closing confirmation, through the signed link (no API key)."""

from __future__ import annotations

from burnrate_common.deps import ConnectionDep
from fastapi import APIRouter

from burnrate_tickets.api import DepsDep
from burnrate_tickets.schemas import ConfirmationPageOut, ConfirmIn
from burnrate_tickets.service import confirmations as service

router = APIRouter(prefix="/v1/confirmations", tags=["confirmations"])


@router.get("/{token}", response_model=ConfirmationPageOut, summary="The ticket to confirm")
async def show(token: str, conn: ConnectionDep, deps: DepsDep) -> ConfirmationPageOut:
    return await service.show(conn, deps, token)


@router.post(
    "/{token}",
    response_model=ConfirmationPageOut,
    summary="Confirm the closure (with a rating 1–5 and a comment) or reopen",
)
async def answer(
    token: str, body: ConfirmIn, conn: ConnectionDep, deps: DepsDep
) -> ConfirmationPageOut:
    return await service.answer(conn, deps, token, body)
