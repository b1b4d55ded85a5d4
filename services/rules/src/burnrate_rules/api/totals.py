"""Running totals per contract period as this service sees them (for debugging and tests)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from burnrate_common.auth import require
from burnrate_common.deps import ConnectionDep
from burnrate_common.errors import Problem
from burnrate_common.types import Hours, seconds_to_hours
from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from burnrate_rules import store
from burnrate_rules.domain.stages import rank

router = APIRouter(prefix="/v1/contracts", tags=["totals"])


class FiredStageOut(BaseModel):
    rule_id: uuid.UUID
    stage: str
    alert_id: uuid.UUID = Field(description="The alert raised for the highest stage crossed")
    fired_at: dt.datetime


class PeriodTotalsOut(BaseModel):
    start_date: dt.date
    end_date: dt.date
    planned_hours: Hours | None = Field(description="null while the contract is not known yet")
    executed_hours: Hours
    fired_stages: list[FiredStageOut]


class ContractTotalsOut(BaseModel):
    contract_id: uuid.UUID
    contract_known: bool
    periods: list[PeriodTotalsOut]


@router.get(
    "/{contract_id}/totals",
    response_model=ContractTotalsOut,
    summary="Planned and executed hours and fired stages per period",
)
async def contract_totals(
    contract_id: uuid.UUID,
    conn: ConnectionDep,
    _: Annotated[object, Depends(require("rules:read"))],
) -> ContractTotalsOut:
    known = await store.contract_exists(conn, contract_id)
    rows = await store.contract_totals(conn, contract_id)
    if not known and not rows:
        raise Problem(404, "Not found", f"No contract {contract_id}.", field="contract_id")
    periods = []
    for row in rows:
        fired = [FiredStageOut.model_validate(f) for f in row["fired_stages"]]
        fired.sort(key=lambda f: (str(f.rule_id), f.fired_at, rank(f.stage)))
        periods.append(
            PeriodTotalsOut(
                start_date=row["start_date"],
                end_date=row["end_date"],
                planned_hours=(
                    None
                    if row["planned_seconds"] is None
                    else seconds_to_hours(row["planned_seconds"])
                ),
                executed_hours=seconds_to_hours(row["executed_seconds"]),
                fired_stages=fired,
            )
        )
    return ContractTotalsOut(contract_id=contract_id, contract_known=known, periods=periods)
