"""Running totals per contract period as this service sees them (for debugging and tests)."""

from __future__ import annotations

import uuid

from burnrate_common.deps import ConnectionDep
from fastapi import APIRouter

from burnrate_rules.auth import RulesReader
from burnrate_rules.schemas import ContractTotalsOut
from burnrate_rules.service import totals as service

router = APIRouter(prefix="/v1/contracts", tags=["totals"])


@router.get(
    "/{contract_id}/totals",
    response_model=ContractTotalsOut,
    summary="Planned and executed hours and fired stages per period",
)
async def contract_totals(
    contract_id: uuid.UUID, conn: ConnectionDep, _: RulesReader
) -> ContractTotalsOut:
    return await service.contract_totals(conn, contract_id)
