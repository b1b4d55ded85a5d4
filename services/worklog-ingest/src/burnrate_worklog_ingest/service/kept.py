"""Deliveries kept as received because they could not be applied (issue 19: nothing a source
sends is dropped). Each way in hands what it could not apply to :func:`keep`, with the
reason; ``service.rejected`` lists them and replays them.

Kept are: a Jira webhook delivery that could not be applied (answered 200 ``rejected``, so
Jira neither retries it nor disables the webhook), and each bad item of an import answered
2xx (``mode=skip-invalid``: CSV rows, NDJSON lines, Tempo worklogs). An all-or-nothing
import that is refused (422) stores nothing at all: its sender has every row still.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from burnrate_common.db import Connection

from burnrate_worklog_ingest import store
from burnrate_worklog_ingest.schemas import WayIn
from burnrate_worklog_ingest.service.ingest import new_id

#: The longest detail kept (a validation can say a lot about a bad item).
MAX_DETAIL = 2000

#: Errors that mean "the database is away", not "this item is bad": never kept as a
#: rejection (there is nowhere to keep it); they answer 503 (``burnrate_common.errors``).
UNAVAILABLE = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    TimeoutError,
)


def text(value: str) -> str:
    """Text a column can hold: NUL written as ``\\u0000``, bounded."""
    return value.replace("\x00", "\\u0000")[:MAX_DETAIL]


@dataclass(frozen=True)
class Kept:
    """A delivery (or import item) to keep."""

    way_in: WayIn
    source: str
    reason: str
    field: str | None
    detail: str
    payload: bytes
    line: int | None = None
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    truncated: bool = False

    def digest(self) -> bytes:
        """What makes it the same delivery again: how it came, with what, as what."""
        what = json.dumps([self.way_in.value, self.params], sort_keys=True).encode()
        return hashlib.sha256(what + b"\x00" + self.payload).digest()

    def row(self) -> dict[str, Any]:
        return {
            "id": new_id(),
            "way_in": self.way_in.value,
            "source": text(self.source),
            "reason": self.reason,
            "field": text(self.field) if self.field is not None else None,
            "detail": text(self.detail),
            "line": self.line,
            "payload": self.payload,
            "truncated": self.truncated,
            "params": self.params,
            "digest": self.digest(),
        }


async def keep(conn: Connection, kept: Sequence[Kept]) -> list[Any]:
    """Keep them (the same delivery again is counted on its row); their ids, in order."""
    return await store.keep_rejected(conn, [k.row() for k in kept])
