"""Rules a contract must satisfy, as plain functions over plain data."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal


def is_valid_timezone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def hours_to_seconds(hours: Decimal) -> int:
    return int((hours * 3600).to_integral_value())


def derive_status(start_date: dt.date, end_date: dt.date, today: dt.date) -> str:
    """Status by dates alone (consumption-based statuses are the reporting service's)."""
    if today < start_date:
        return "not_started"
    if today > end_date:
        return "expired"
    return "active"
