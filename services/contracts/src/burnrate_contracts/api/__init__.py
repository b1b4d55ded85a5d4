"""The REST API: one thin router per resource (parse, one use-case call, answer)."""

from typing import Annotated

from burnrate_common.deps import get_deps
from fastapi import Depends

from burnrate_contracts.service import Deps

DepsDep = Annotated[Deps, Depends(get_deps)]
