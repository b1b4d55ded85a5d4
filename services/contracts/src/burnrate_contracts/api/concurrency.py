"""Optimistic concurrency: ``ETag: "<version>"`` on reads and writes, ``If-Match`` on writes."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from burnrate_common.auth import Principal, require
from burnrate_common.clock import Clock
from burnrate_common.deps import RuntimeDep
from burnrate_common.errors import Problem
from fastapi import Depends, Header, Response

ReadPrincipal = Annotated[Principal, Depends(require("contracts:read"))]
WritePrincipal = Annotated[Principal, Depends(require("contracts:write"))]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='The ETag of the version you read, e.g. "3"; required on PATCH',
    ),
]


def now(runtime: RuntimeDep) -> dt.datetime:
    clock: Clock = runtime.extras["clock"]
    return clock.now()


Now = Annotated[dt.datetime, Depends(now)]


def etag(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def check_if_match(if_match: str | None, version: int, *, required: bool) -> None:
    """428 when a required If-Match is missing, 412 when it names another version."""
    if if_match is None or not if_match.strip():
        if required:
            raise Problem(
                428,
                "Precondition required",
                "Send If-Match with the ETag of the version you read.",
                field="If-Match",
            )
        return
    tags = [t.strip().removeprefix("W/") for t in if_match.split(",")]
    if "*" in tags or etag(version) in tags:
        return
    raise Problem(
        412,
        "Precondition failed",
        f"The resource changed since you read it; it is at version {version} now.",
        field="If-Match",
        current_etag=etag(version),
    )
