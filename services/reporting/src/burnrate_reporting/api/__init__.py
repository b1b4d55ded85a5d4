"""The routers of the reporting service: the contract screen and reports (``contracts``),
the customers' roll-up and links (``customers``), the pages (``pages``), and the query
parameters they share."""

from __future__ import annotations

from typing import Annotated, Literal

from burnrate_common.deps import get_deps
from fastapi import Depends, Query

from burnrate_reporting.schemas import ForecastFilter, Section
from burnrate_reporting.service import Deps

DepsDep = Annotated[Deps, Depends(get_deps)]

#: ``created`` (default), ``code``, ``customer``, ``end_date``, ``percent`` (of the current
#: period) or ``executed`` (hours in the current period); ``-`` first for descending.
SORT_PATTERN = r"^-?(created|code|customer|end_date|percent|executed)$"

SortQuery = Annotated[
    str,
    Query(
        pattern=SORT_PATTERN,
        description="created, code, customer, end_date, percent or "
        "executed; prefix with - for descending",
        examples=["-percent"],
    ),
]
SearchQuery = Annotated[
    str | None,
    Query(max_length=100, description="Part of the code, title or customer name"),
]
FormatQuery = Annotated[
    Literal["json", "csv"], Query(alias="format", description="json (default) or csv")
]
SectionQuery = Annotated[
    Section,
    Query(description="Which table of the report the CSV holds (default: periods)"),
]
FromQuery = Annotated[str | None, Query(alias="from", max_length=10)]
ToQuery = Annotated[str | None, Query(alias="to", max_length=10)]
ForecastQuery = Annotated[
    ForecastFilter | None,
    Query(description="over: only contracts whose current forecast exceeds the plan"),
]
