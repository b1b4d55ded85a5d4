"""The principals of the rules service's API: who may read and who may change rules, alerts
and totals."""

from __future__ import annotations

from typing import Annotated

from burnrate_common.auth import Principal, require
from fastapi import Depends

RulesReader = Annotated[Principal, Depends(require("rules:read"))]
RulesWriter = Annotated[Principal, Depends(require("rules:write"))]
