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


def encode_keys(*keys: str) -> str:
    """An opaque cursor holding the last row's sort keys (as text), in order."""
    return base64.urlsafe_b64encode(json.dumps(list(keys)).encode()).decode().rstrip("=")


def decode_keys(cursor: str | None, count: int) -> list[str] | None:
    """The ``count`` keys :func:`encode_keys` put in ``cursor``; None for the first page.

    Anything else (garbage, another API's cursor, a NUL byte) is a 400 naming ``cursor``.
    """
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        keys = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if (
            not isinstance(keys, list)
            or len(keys) != count
            or not all(isinstance(k, str) and "\x00" not in k for k in keys)
        ):
            raise ValueError("not a cursor of this API")
        return keys
    except (ValueError, TypeError, UnicodeError) as exc:
        raise Problem(
            400, "Invalid cursor", "The cursor is not one this API returned.", field="cursor"
        ) from exc


def encode_cursor(created_at: dt.datetime, row_id: uuid.UUID) -> str:
    return encode_keys(created_at.isoformat(), str(row_id))


def decode_cursor(cursor: str | None) -> tuple[dt.datetime, uuid.UUID] | None:
    """``(created_at, id)`` of the last row of the previous page, or None for the first page."""
    keys = decode_keys(cursor, 2)
    if keys is None:
        return None
    try:
        return dt.datetime.fromisoformat(keys[0]), uuid.UUID(keys[1])
    except ValueError as exc:
        raise Problem(
            400, "Invalid cursor", "The cursor is not one this API returned.", field="cursor"
        ) from exc
