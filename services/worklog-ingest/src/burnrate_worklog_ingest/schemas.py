"""Every request and response model of the worklog-ingest REST API.

:class:`WorklogIn` is what every way in validates a worklog into (REST, NDJSON, CSV, Tempo,
Jira); the Tempo and Jira models read those sources' own JSON.
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Annotated, Any, NotRequired

from burnrate_common.types import Hours
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    TypeAdapter,
    WithJsonSchema,
    with_config,
)
from typing_extensions import TypedDict

MAX_WORKLOG_SECONDS = 24 * 3600
MAX_BATCH_ITEMS = 10_000
# Far above 10,000 worklogs of honest size; stops a huge body before it is parsed.
MAX_BATCH_BYTES = 32 * 1024 * 1024


class Source(StrEnum):
    JIRA = "jira"
    TEMPO = "tempo"
    CSV = "csv"
    API = "api"
    HARVEST = "harvest"
    TOGGL = "toggl"


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Seconds = Annotated[int, Field(gt=0, le=MAX_WORKLOG_SECONDS, strict=True)]


# --- worklogs ------------------------------------------------------------------------------


@with_config(ConfigDict(extra="forbid"))
class WorklogIn(TypedDict):
    """One worklog as every way in validates it (REST, NDJSON, CSV, Tempo, Jira), with
    :data:`WORKLOG_IN`. A TypedDict, so it validates into a plain dict, not a model: a
    10,000-worklog batch in 1.6–1.8 instead of 2.1–2.3 µs per worklog. The optional fields
    may be absent: read them with ``.get``."""

    source: Source
    external_id: Annotated[
        str,
        Field(
            min_length=1,
            max_length=200,
            coerce_numbers_to_str=True,
            description="The worklog's id at its source; the same (source, external_id) is "
            "one worklog",
        ),
    ]
    contract_id: NotRequired[Annotated[uuid.UUID | None, Field(description="Explicit contract")]]
    work_account: NotRequired[
        Annotated[
            Text | None,
            Field(description="Routes to the contract holding this account on that date"),
        ]
    ]
    project_key: NotRequired[
        Annotated[
            Text | None,
            Field(description="Jira project key: routes to the contract listing it for this team"),
        ]
    ]
    author: Text
    team: Text
    activity: Text
    started_at: Annotated[
        AwareDatetime, Field(description="With a time zone or offset; naive is refused")
    ]
    seconds: Seconds
    ticket: NotRequired[Text | None]
    source_updated_at: NotRequired[
        Annotated[
            AwareDatetime | None,
            Field(
                description="When the source last changed this worklog; a newer one replaces "
                "the stored worklog, an older one is ignored"
            ),
        ]
    ]


WORKLOG_IN = TypeAdapter(WorklogIn)


class Outcome(StrEnum):
    CREATED = "created"
    DUPLICATE = "duplicate"
    UPDATED = "updated"
    STALE = "stale"


class WorklogUpdate(BaseModel):
    """A full replace of what may change about a worklog (not its source, id or contract)."""

    model_config = ConfigDict(extra="forbid")
    author: Text
    team: Text
    activity: Text
    started_at: AwareDatetime
    seconds: Seconds
    ticket: Text | None = None


@with_config(ConfigDict(extra="forbid"))
class BatchIn(TypedDict):
    worklogs: Annotated[list[WorklogIn], Field(max_length=MAX_BATCH_ITEMS)]


BATCH_IN = TypeAdapter(BatchIn)

#: The batch body in the OpenAPI document (the route reads its body by hand).
BATCH_SCHEMA: dict[str, Any] = BATCH_IN.json_schema(ref_template="#/components/schemas/{model}")
BATCH_SCHEMA.pop("$defs", None)


class AttributeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contract_id: uuid.UUID


class WorklogOut(BaseModel):
    id: uuid.UUID
    source: str
    external_id: str
    contract_id: uuid.UUID | None = Field(description="None: unattributed (matched no contract)")
    attributed: bool
    unattributed_reason: str | None = None
    work_account: str | None
    project_key: str | None = None
    period_start: dt.date | None
    period_end: dt.date | None
    outside_dates: bool
    author: str
    team: str
    activity: str
    started_at: dt.datetime
    seconds: int
    hours: Hours
    ticket: str | None
    source_updated_at: dt.datetime | None = None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    deleted_at: dt.datetime | None = None


class RecordedWorklog(WorklogOut):
    duplicate: bool = Field(
        description="True when this (source, external_id) was already stored; nothing changed"
    )
    outcome: Outcome = Field(
        description="created, duplicate, updated (a newer source_updated_at replaced it) or "
        "stale (an older one: ignored)"
    )


#: A worklog id written as its text: pydantic writes asyncpg's UUID type (a subclass of
#: ``uuid.UUID``, what stored ids are) on a slow path, 0.3 instead of 0.09 µs each, and a
#: batch answers with 10,000 of them.
WorklogId = Annotated[
    uuid.UUID,
    PlainSerializer(str, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "uuid"}),
]


class BatchOut(BaseModel):
    created: int
    duplicates: int
    updated: int = 0
    stale: int = 0
    unattributed: int = Field(0, description="Created but matching no contract (kept)")
    worklogs: list[WorklogId] = Field(description="The stored worklog of each item, in order")


# --- imports (CSV, NDJSON, Tempo) -----------------------------------------------------------


class Mode(StrEnum):
    ALL_OR_NOTHING = "all-or-nothing"
    SKIP_INVALID = "skip-invalid"


class CsvMapping(BaseModel):
    """A generic CSV's columns by worklog field: the query parameters ``map.<field>=<header>``
    (one per field of ``csv_rows.GENERIC_FIELDS``), declared so the API lists them."""

    model_config = ConfigDict(extra="ignore")
    external_id: str | None = Field(None, alias="map.external_id")
    contract_id: str | None = Field(None, alias="map.contract_id")
    work_account: str | None = Field(None, alias="map.work_account")
    project_key: str | None = Field(None, alias="map.project_key")
    author: str | None = Field(None, alias="map.author")
    team: str | None = Field(None, alias="map.team")
    activity: str | None = Field(None, alias="map.activity")
    started_at: str | None = Field(None, alias="map.started_at")
    date: str | None = Field(None, alias="map.date")
    time: str | None = Field(None, alias="map.time")
    seconds: str | None = Field(None, alias="map.seconds")
    hours: str | None = Field(None, alias="map.hours")
    duration: str | None = Field(None, alias="map.duration")
    ticket: str | None = Field(None, alias="map.ticket")
    description: str | None = Field(None, alias="map.description")

    def given(self) -> dict[str, str]:
        """Field → header, of the fields mapped."""
        return {name: header for name, header in self if header is not None}


class RejectedRow(BaseModel):
    line: int = Field(description="Line in the file (header = 1); for Tempo, index + 1")
    field: str
    reason: str


class ImportOut(BaseModel):
    imported: int = Field(description="New worklogs stored (attributed or not)")
    duplicates: int = Field(description="Already stored: skipped")
    updated: int = 0
    stale: int = 0
    unattributed: int = Field(description="Imported but matching no contract (kept)")
    rejected: list[RejectedRow]


class TempoRef(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: int | str | None = None
    key: str | None = None


class TempoAuthor(BaseModel):
    model_config = ConfigDict(extra="ignore")
    accountId: str


class TempoAttribute(BaseModel):
    model_config = ConfigDict(extra="ignore")
    key: str
    value: str | None = None


class TempoAttributes(BaseModel):
    model_config = ConfigDict(extra="ignore")
    values: list[TempoAttribute] = []


class TempoWorklog(BaseModel):
    """One worklog of a Tempo Cloud API v4 page (``results``)."""

    model_config = ConfigDict(extra="ignore")
    tempoWorklogId: int | str
    issue: TempoRef
    timeSpentSeconds: int
    startDate: dt.date
    startTime: dt.time = dt.time(0, 0)
    description: str | None = None
    author: TempoAuthor
    attributes: TempoAttributes = TempoAttributes()
    updatedAt: dt.datetime | None = None


# --- Jira Cloud webhooks --------------------------------------------------------------------


class JiraUser(BaseModel):
    model_config = ConfigDict(extra="ignore")
    accountId: str | None = None
    emailAddress: str | None = None
    displayName: str | None = None

    @property
    def name(self) -> str:
        return self.emailAddress or self.displayName or self.accountId or "unknown"


class JiraWorklog(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str = Field(coerce_numbers_to_str=True)
    issueId: str = Field(coerce_numbers_to_str=True)
    author: JiraUser | None = None
    timeSpentSeconds: int
    started: dt.datetime
    updated: dt.datetime | None = None


class JiraWebhook(BaseModel):
    model_config = ConfigDict(extra="ignore")
    timestamp: int | None = None
    webhookEvent: str
    worklog: JiraWorklog | None = None
    issue: dict[str, Any] | None = None


class JiraOut(BaseModel):
    event: str
    outcome: str = Field(description="created, duplicate, updated, stale, deleted, ignored")
    worklog_id: str | None = None
    attributed: bool | None = None
