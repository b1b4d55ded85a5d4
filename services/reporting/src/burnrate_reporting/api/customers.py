"""The customer roll-up: every contract of one customer, as on the contract screen."""

from __future__ import annotations

import uuid
from typing import Annotated

from burnrate_common.auth import require
from burnrate_common.deps import ConnectionDep, CursorQuery, LimitQuery
from burnrate_common.errors import Problem
from burnrate_common.pagination import Page, decode_cursor
from fastapi import APIRouter, Depends, Query

from burnrate_reporting import store
from burnrate_reporting.api.views import ContractSummary, NowDep, summary_page
from burnrate_reporting.domain.status import ContractStatus

router = APIRouter(prefix="/v1/customers", tags=["customers"])


@router.get(
    "/{customer_id}/contracts",
    response_model=Page[ContractSummary],
    summary="The contracts of one customer",
)
async def customer_contracts(
    customer_id: uuid.UUID,
    conn: ConnectionDep,
    now: NowDep,
    _: Annotated[object, Depends(require("reports:read"))],
    status: Annotated[ContractStatus | None, Query()] = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[ContractSummary]:
    after = decode_cursor(cursor)
    if not await store.customer_known(conn, customer_id):
        raise Problem(404, "Not found", f"No customer {customer_id}.", field="customer_id")
    rows = await store.list_contracts(
        conn,
        now,
        after,
        limit,
        customer_id=customer_id,
        status=status.value if status else None,
    )
    return summary_page(rows, limit)
