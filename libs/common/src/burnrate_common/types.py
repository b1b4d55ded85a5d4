"""Field types shared by the APIs of every service."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import PlainSerializer

#: Hours as a JSON number (stored and computed as Decimal / integer seconds).
Hours = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


def seconds_to_hours(seconds: int) -> Decimal:
    """Exact hours, rounded to 1/100 h for display."""
    return (Decimal(seconds) / 3600).quantize(Decimal("0.01"))
