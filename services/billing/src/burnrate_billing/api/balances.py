"""Balance enquiry per contract and per customer."""

from __future__ import annotations

import uuid

from burnrate_common.deps import ConnectionDep
from fastapi import APIRouter

from burnrate_billing.api import DepsDep
from burnrate_billing.auth import BillingReader
from burnrate_billing.schemas import ContractBalanceOut, CustomerBalanceOut
from burnrate_billing.service import balances as service

router = APIRouter(prefix="/v1/balances", tags=["balances"])


@router.get(
    "/contracts/{contract_id}",
    response_model=ContractBalanceOut,
    summary="Open amounts, debt, credits, rollover banked, paid but not delivered",
)
async def contract_balance(
    contract_id: uuid.UUID, conn: ConnectionDep, deps: DepsDep, _: BillingReader
) -> ContractBalanceOut:
    return await service.contract_balance(conn, deps, contract_id)


@router.get(
    "/customers/{customer_id}",
    response_model=CustomerBalanceOut,
    summary="The balances of every billed contract of a customer, summed per currency",
)
async def customer_balance(
    customer_id: uuid.UUID, conn: ConnectionDep, deps: DepsDep, _: BillingReader
) -> CustomerBalanceOut:
    return await service.customer_balance(conn, deps, customer_id)
