"""One thin router per resource: HTTP in, one use-case call, the response out."""

from typing import Annotated

from burnrate_common.deps import get_deps
from fastapi import Depends

from burnrate_notifier.service import Deps

DepsDep = Annotated[Deps, Depends(get_deps)]
