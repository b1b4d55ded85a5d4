"""Sorting and keyset cursors of the contract list: the cursor carries the sort it belongs to,
the last row's sort key and its id, so the next page continues exactly after that row."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from burnrate_common.errors import Problem
from burnrate_common.pagination import decode_keys, encode_keys

SORT_KEYS = ("code", "end_date", "created_at")


@dataclass(frozen=True)
class Sort:
    key: str
    descending: bool

    @classmethod
    def parse(cls, text: str) -> Sort:
        key = text.removeprefix("-")
        if key not in SORT_KEYS:
            raise ValueError(f"sort by one of {', '.join(SORT_KEYS)}, '-' first for descending")
        return cls(key, text.startswith("-"))

    def __str__(self) -> str:
        return ("-" if self.descending else "") + self.key


def _to_text(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.date | dt.datetime) else str(value)


def _from_text(key: str, text: str) -> Any:
    if key == "end_date":
        return dt.date.fromisoformat(text)
    if key == "created_at":
        return dt.datetime.fromisoformat(text)
    return text


def encode_cursor(sort: Sort, value: Any, row_id: uuid.UUID) -> str:
    return encode_keys(str(sort), _to_text(value), str(row_id))


def decode_cursor(cursor: str | None, sort: Sort) -> tuple[Any, uuid.UUID] | None:
    """The last row's sort key and id (None for the first page); a 400 naming ``cursor`` if
    the cursor is not one this API returned, or belongs to another sort (its keys would not
    continue this order)."""
    keys = decode_keys(cursor, 3)
    if keys is None:
        return None
    sort_text, value, row_id = keys
    if sort_text != str(sort):
        raise Problem(
            400,
            "Invalid cursor",
            f"The cursor belongs to sort={sort_text}, not sort={sort}.",
            field="cursor",
        )
    try:
        return _from_text(sort.key, value), uuid.UUID(row_id)
    except ValueError as exc:
        raise Problem(
            400, "Invalid cursor", "The cursor is not one this API returned.", field="cursor"
        ) from exc


def like_pattern(text: str) -> str:
    """``%text%`` for ILIKE, with LIKE's own wildcards in ``text`` matched literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
