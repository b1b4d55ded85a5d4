"""Sorting and keyset cursors of the contract list: the cursor carries the sort it belongs to,
the last row's sort key and its id, so the next page continues exactly after that row."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

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


def _to_json(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.date | dt.datetime) else str(value)


def _from_json(key: str, text: str) -> Any:
    if key == "end_date":
        return dt.date.fromisoformat(text)
    if key == "created_at":
        return dt.datetime.fromisoformat(text)
    return text


def encode_cursor(sort: Sort, value: Any, row_id: uuid.UUID) -> str:
    raw = json.dumps([str(sort), _to_json(value), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: Sort) -> tuple[Any, uuid.UUID]:
    """The last row's sort key and id; ValueError if the cursor is foreign or for another sort."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        sort_text, value, row_id = json.loads(base64.urlsafe_b64decode(padded))
        if sort_text != str(sort):
            raise ValueError(f"the cursor belongs to sort={sort_text}, not sort={sort}")
        return _from_json(sort.key, value), uuid.UUID(row_id)
    except (TypeError, AttributeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError("the cursor is not one this API returned") from exc
    except ValueError as exc:
        if "cursor belongs" in str(exc):
            raise
        raise ValueError("the cursor is not one this API returned") from exc


def like_pattern(text: str) -> str:
    """``%text%`` for ILIKE, with LIKE's own wildcards in ``text`` matched literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
