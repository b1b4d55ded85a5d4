"""The customer's approval page API: opened by the signed link, no API key."""

from __future__ import annotations

from burnrate_common.deps import ConnectionDep
from fastapi import APIRouter

from burnrate_billing.api import DepsDep
from burnrate_billing.schemas import CustomerApproveIn, CustomerDisputeIn, StatementOut
from burnrate_billing.service import approval

router = APIRouter(prefix="/v1/customer/statements", tags=["customer"])


@router.get("/{token}", response_model=StatementOut, summary="The statement the link opens")
async def view(token: str, conn: ConnectionDep, deps: DepsDep) -> StatementOut:
    return await approval.customer_view(conn, deps, token)


@router.post("/{token}/approve", response_model=StatementOut, summary="Approve the balance")
async def approve(
    token: str, body: CustomerApproveIn, conn: ConnectionDep, deps: DepsDep
) -> StatementOut:
    return await approval.customer_approve(conn, deps, token, body)


@router.post("/{token}/dispute", response_model=StatementOut, summary="Dispute lines")
async def dispute(
    token: str, body: CustomerDisputeIn, conn: ConnectionDep, deps: DepsDep
) -> StatementOut:
    return await approval.customer_dispute(conn, deps, token, body)
