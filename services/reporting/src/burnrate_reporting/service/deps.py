"""The reporting service's typed dependencies, built once in ``bootstrap``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from burnrate_common.clock import Clock
from jinja2 import Environment

from burnrate_reporting.settings import ReportingSettings


@dataclass
class HandledMark:
    """occurred_at of the last event this process handled: the read-model lag's reference."""

    occurred_at: dt.datetime | None = None


@dataclass(frozen=True)
class Deps:
    settings: ReportingSettings
    #: "today" (a date in each contract's zone); tests fix it.
    clock: Clock
    #: the real time the read-model lag is measured against.
    wall_clock: Clock
    handled: HandledMark
    #: the pages' Jinja environment (autoescaping, the hours and percent filters).
    templates: Environment
