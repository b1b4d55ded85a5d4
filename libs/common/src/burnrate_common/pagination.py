"""Keyset (cursor) pagination shared by every list endpoint."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from typing import Generic, TypeVar

from pydantic import BaseModel

from burnrate_common.errors import Problem

Item = TypeVar("Item")

MAX_PAGE_SIZE = 500


class Page(BaseModel, Generic[Item]):
    items: list[Item]
    next_cursor: str | None = None


def encode_cursor(created_at: dt.datetime, row_id: uuid.UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[dt.datetime, uuid.UUID] | None:
    """``(created_at, id)`` of the last row of the previous page, or None for the first page."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, row_id = json.loads(base64.urlsafe_b64decode(padded))
        return dt.datetime.fromisoformat(created_at), uuid.UUID(row_id)
    except (ValueError, TypeError) as exc:
        raise Problem(
            400, "Invalid cursor", "The cursor is not one this API returned.", field="cursor"
        ) from exc
