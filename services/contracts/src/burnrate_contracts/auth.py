"""The principals of the contracts service, once: routes declare one of these parameters."""

from typing import Annotated

from burnrate_common.auth import Principal, require
from fastapi import Depends

ContractsReader = Annotated[Principal, Depends(require("contracts:read"))]
ContractsWriter = Annotated[Principal, Depends(require("contracts:write"))]
#: API keys are issued and revoked by an admin key only.
Admin = Annotated[Principal, Depends(require("admin"))]
