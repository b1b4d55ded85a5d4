"""The principals of billing's API: who may read statements and invoices, and who may
change them. The customer's own routes take a signed link instead (``service.approval``)."""

from __future__ import annotations

from typing import Annotated

from burnrate_common.auth import Principal, require
from fastapi import Depends

BillingReader = Annotated[Principal, Depends(require("billing:read"))]
BillingWriter = Annotated[Principal, Depends(require("billing:write"))]
