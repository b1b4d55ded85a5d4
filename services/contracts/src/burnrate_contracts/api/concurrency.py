"""Optimistic concurrency over HTTP: ``ETag: "<version>"`` on answers, ``If-Match`` on writes.

The check itself (428 / 412) is made by the use case, under the row lock:
``service.concurrency.check_if_match``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Response

from burnrate_contracts.service.concurrency import etag

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='The ETag of the version you read, e.g. "3"; required on PATCH',
    ),
]


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)
