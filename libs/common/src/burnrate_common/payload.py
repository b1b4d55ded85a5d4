"""The base of every event payload model (``events`` re-exports it)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
