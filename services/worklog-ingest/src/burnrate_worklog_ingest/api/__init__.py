"""The REST API of worklog-ingest: one thin router per resource."""

from __future__ import annotations

from typing import Annotated

from burnrate_common.deps import get_deps
from fastapi import Depends

from burnrate_worklog_ingest.service import Deps

DepsDep = Annotated[Deps, Depends(get_deps)]
