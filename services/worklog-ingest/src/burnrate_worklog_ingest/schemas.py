"""Every request and response model of the worklog-ingest REST API.

:class:`WorklogIn` is what every way in validates a worklog into (REST, NDJSON, CSV, Tempo,
Jira); the Tempo and Jira models read those sources' own JSON.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
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

#: The longest worklog attributed to a contract on its own: 31 days. A source may send a
#: longer one (a Jira "5w" is 200 hours); it is stored, unattributed, with the reason
#: ``duration_above_limit``, for a person to look at (and attribute by hand if it is right).
MAX_ATTRIBUTABLE_SECONDS = 31 * 24 * 3600
#: The longest worklog stored at all (the column is a 32-bit integer: 68 years). Longer is
#: no duration any source sends: the item is rejected (and kept as received, see rejected).
MAX_WORKLOG_SECONDS = 2**31 - 1
#: The instants a worklog may start at. Outside them a date is a typo (year 1, year 9999),
#: and converting it to a contract's zone could leave the calendar: rejected, clearly.
EARLIEST_START = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST_START = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)
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


#: No NUL character: no text column can hold one (checked in pydantic-core, ~nothing per item).
NO_NUL = r"^[^\x00]*$"
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NO_NUL)
]
Seconds = Annotated[int, Field(gt=0, le=MAX_WORKLOG_SECONDS, strict=True)]
StartedAt = Annotated[
    AwareDatetime,
    Field(
        ge=EARLIEST_START,
        lt=LATEST_START,
        description="With a time zone or offset; naive is refused. From 1970 to 2199.",
    ),
]


def error_message(error: Mapping[str, Any]) -> str:
    """A validation error's message, saying plainly what the NUL pattern means."""
    if error.get("type") == "string_pattern_mismatch":
        return "contains a NUL character (\\u0000), which text cannot hold"
    return str(error["msg"])


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
            pattern=NO_NUL,
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
    started_at: StartedAt
    seconds: Annotated[
        Seconds,
        Field(
            description="Any positive duration; above 31 days the worklog is kept "
            "unattributed (reason duration_above_limit)"
        ),
    ]
    ticket: NotRequired[Text | None]
    location: NotRequired[
        Annotated[Text | None, Field(description="Where the work was done (on site, remote...)")]
    ]
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
    started_at: StartedAt
    seconds: Seconds
    ticket: Text | None = None
    location: Text | None = None


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
    location: str | None = None
    source_updated_at: dt.datetime | None = None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    deleted_at: dt.datetime | None = None


class RecordedWorklog(WorklogOut):
    duplicate: bool = Field(
        description="True when this (source, external_id) was already stored as it is sent "
        "(or deleted); nothing changed"
    )
    outcome: Outcome = Field(
        description="created; duplicate (stored already, unchanged); updated (a correction: a "
        "newer source_updated_at, or, without one, different content replaced the stored "
        "worklog); stale (an older source_updated_at: ignored)"
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
    location: str | None = Field(None, alias="map.location")
    description: str | None = Field(None, alias="map.description")

    def given(self) -> dict[str, str]:
        """Field → header, of the fields mapped."""
        return {name: header for name, header in self if header is not None}


class RejectedRow(BaseModel):
    line: int = Field(description="Line in the file (header = 1); for Tempo, index + 1")
    field: str
    reason: str


class ImportOut(BaseModel):
    imported: int = Field(description="Created: new worklogs stored (attributed or not)")
    duplicates: int = Field(description="Unchanged: stored already as sent; skipped")
    updated: int = Field(0, description="Corrections: a stored worklog replaced by this version")
    stale: int = Field(0, description="Older than the stored version (source_updated_at)")
    unattributed: int = Field(description="Created but matching no contract (kept)")
    rejected: list[RejectedRow] = Field(
        description="Items that could not be applied. With mode=skip-invalid each is also "
        "kept as received under /v1/worklogs/rejected, replayable."
    )


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
    outcome: str = Field(
        description="created, duplicate, updated, stale, deleted, ignored, issue_recorded; "
        "rejected: kept as received (see rejected_id), not applied"
    )
    worklog_id: str | None = None
    attributed: bool | None = None
    rejected_id: uuid.UUID | None = Field(
        None, description="The kept delivery under /v1/worklogs/rejected, when rejected"
    )


class JiraUrlIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    team: Text | None = None
    activity: Text | None = None
    location: Text | None = None


class JiraUrlOut(BaseModel):
    query: str = Field(
        description="The query string to append to the webhook URL (add "
        "`&issue_key=${issue.key}` if wanted), its `sig` included"
    )
    signed: str = Field(description="The exact string that was signed (HMAC-SHA256, hex)")


# --- rejected deliveries --------------------------------------------------------------------


class WayIn(StrEnum):
    JIRA = "jira"
    CSV = "csv"
    NDJSON = "ndjson"
    TEMPO = "tempo"


class RejectedState(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    ALL = "all"


class RejectedOut(BaseModel):
    """A delivery (or import item) kept as received because it could not be applied."""

    id: uuid.UUID
    way_in: WayIn
    source: str
    reason: str = Field(
        description="invalid_field, not_json, line_too_long, invalid_webhook, "
        "outside_replay_window, no_route_given, unknown_contract, internal_error"
    )
    field: str | None
    detail: str
    line: int | None
    payload: str = Field(description="As received (UTF-8; other bytes replaced)")
    truncated: bool = Field(description="Only the first bytes were kept (an oversized line)")
    params: dict[str, Any]
    received_at: dt.datetime
    last_received_at: dt.datetime
    times_received: int
    replays: int
    last_replayed_at: dt.datetime | None
    resolved_at: dt.datetime | None
    resolution: str | None = Field(description="What the replay that applied it did")
    worklog_id: uuid.UUID | None


class ReplayOut(BaseModel):
    id: uuid.UUID
    resolved: bool
    resolution: str | None = None
    worklog_id: uuid.UUID | None = None
    reason: str | None = Field(None, description="Why it is still rejected")
    detail: str | None = None


class BulkReplayIn(BaseModel):
    """Which open rejected deliveries to replay (all of them when nothing is given)."""

    model_config = ConfigDict(extra="forbid")
    source: str | None = None
    reason: str | None = None
    since: AwareDatetime | None = None
    limit: int = Field(1000, ge=1, le=1000)


class BulkReplayOut(BaseModel):
    replayed: int
    resolved: int
    still_rejected: int
    more: bool = Field(description="More open deliveries match: call again")
