"""FastAPI dependencies shared by every router."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from burnrate_common.db import Connection
from burnrate_common.pagination import MAX_PAGE_SIZE
from burnrate_common.runtime import Runtime


async def get_runtime(request: Request) -> Runtime[Any]:
    # async: a plain function would be run on a worker thread for every request.
    runtime: Runtime[Any] = request.app.state.runtime
    return runtime


async def get_deps(request: Request) -> Any:
    """The service's dependencies (``ServiceDefinition.deps``); each service's ``api``
    package types it: ``DepsDep = Annotated[Deps, Depends(get_deps)]``."""
    return request.app.state.runtime.deps


async def get_connection(request: Request) -> AsyncIterator[Connection]:
    runtime: Runtime[Any] = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        yield conn


RuntimeDep = Annotated[Runtime[Any], Depends(get_runtime)]
ConnectionDep = Annotated[Connection, Depends(get_connection)]
LimitQuery = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size")]
CursorQuery = Annotated[str | None, Query(description="next_cursor of the previous page")]
