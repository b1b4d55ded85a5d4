"""One thin router per resource: parse HTTP, call one use case, map the result."""

from __future__ import annotations

from typing import Annotated

from burnrate_common.deps import get_deps
from fastapi import Depends

from burnrate_tickets.service import Deps

DepsDep = Annotated[Deps, Depends(get_deps)]
