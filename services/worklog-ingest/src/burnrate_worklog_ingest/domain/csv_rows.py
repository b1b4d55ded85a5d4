"""CSV exports (Toggl Track, Harvest, a generic mapping) to worklog fields. Pure: no I/O.

Columns are matched by header name (trimmed, case-insensitive), never by position. Each data
row becomes a dict of :class:`~burnrate_worklog_ingest.ingest.WorklogIn` fields, or a
rejection naming its line number in the file, the field and the reason.

A CSV row has no id of its own, so its ``external_id`` is a hash of what identifies it (date,
start, author, project, task, description: not the duration) plus the number of the rows
with that identity before it in the same request (``…-1``, ``…-2``): importing the same
export again, or a later export that contains the same rows, gives duplicates; a row whose
duration was edited at the source is the same worklog, corrected; two identical entries in
one export stay two worklogs. An edit of what identifies a row (its start, description...)
makes it another worklog: the export carries nothing else to know it by.

Rows imported before the duration left the identity were stored under a hash that includes
it (:attr:`Row.legacy_id`); the import looks those up, so an unchanged row stays a duplicate.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo


class Dialect(StrEnum):
    TOGGL = "toggl"
    HARVEST = "harvest"
    GENERIC = "generic"


# The worklog fields a generic mapping may name (``map.<field>=<header>``).
GENERIC_FIELDS = (
    "external_id",
    "contract_id",
    "work_account",
    "project_key",
    "author",
    "team",
    "activity",
    "started_at",
    "date",
    "time",
    "seconds",
    "hours",
    "duration",
    "ticket",
    "location",
    "description",
)

TOGGL_REQUIRED = ("Email", "Project", "Start date", "Start time", "Duration")
HARVEST_REQUIRED = ("Date", "Project Code", "Hours")


@dataclass(frozen=True)
class Rejection:
    line: int
    field: str
    reason: str
    #: why, as a code (the ``reason`` filter of the rejected list)
    code: str = "invalid_field"

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "reason": self.reason}


class HeaderError(ValueError):
    """The header lacks a column the dialect (or mapping) needs."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class RowError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Row:
    line: int
    fields: dict[str, Any]
    #: the ``external_id`` this row had before the duration left the identity (None: the
    #: id is not a hash)
    legacy_id: str | None = None


def _key(name: str) -> str:
    return name.strip().casefold()


def read_rows(
    text: str, first_line: int = 1
) -> tuple[dict[str, str], list[tuple[int, dict[str, str]]]]:
    """The header (normalised name → header as written) and each data row with the line it
    starts on (the header is line ``first_line``). A leading BOM is dropped."""
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise HeaderError("body", "The CSV is empty: a header line is required.") from None
    names = {_key(h): h for h in header}
    rows: list[tuple[int, dict[str, str]]] = []
    while True:
        start = first_line + reader.line_num  # the line after the previous record
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise HeaderError("body", f"line {start}: {exc}") from None
        if not any(v.strip() for v in values):
            continue  # a blank line
        rows.append((start, {_key(h): v.strip() for h, v in zip(header, values, strict=False)}))
    return names, rows


def raw_records(text: str, first_line: int = 1) -> tuple[str, dict[int, str]]:
    """The header line and each record's text as received, by the line it starts on (as
    :func:`read_rows` numbers them): what a rejected row is kept as."""
    text = text.removeprefix("\ufeff")
    lines = io.StringIO(text, newline="").readlines()
    if not lines:
        return "", {}
    reader = csv.reader(iter(lines[1:]))
    records: dict[int, str] = {}
    start = 0
    while True:
        try:
            next(reader)
        except (StopIteration, csv.Error):
            break
        end = reader.line_num
        records[first_line + 1 + start] = "".join(lines[1 + start : 1 + end])
        start = end
    return lines[0], records


def row_id(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def parse_duration(value: str) -> int:
    """``HH:MM:SS`` (Toggl) or ``H:MM`` to seconds."""
    parts = value.split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        raise RowError("duration", f"{value!r} is not a duration (HH:MM:SS)")
    numbers = [int(p) for p in parts] + ([0] if len(parts) == 2 else [])
    hours, minutes, seconds = numbers
    if minutes > 59 or seconds > 59:
        raise RowError("duration", f"{value!r} is not a duration (HH:MM:SS)")
    return hours * 3600 + minutes * 60 + seconds


def parse_hours(value: str, field: str = "hours") -> int:
    try:
        hours = Decimal(value.replace(",", "."))
    except InvalidOperation:
        raise RowError(field, f"{value!r} is not a number of hours") from None
    if not hours.is_finite():
        raise RowError(field, f"{value!r} is not a number of hours")
    return int((hours * 3600).to_integral_value())


def parse_date(value: str, field: str = "date") -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise RowError(field, f"{value!r} is not a date (YYYY-MM-DD)") from None


def parse_time(value: str, field: str = "time") -> dt.time:
    try:
        return dt.time.fromisoformat(value)
    except ValueError:
        raise RowError(field, f"{value!r} is not a time (HH:MM[:SS])") from None


def local(date: dt.date, time: dt.time, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(date, time, tzinfo=zone)


NOON = dt.time(12, 0)


def _need(row: Mapping[str, str], header: str, field: str) -> str:
    value = row.get(_key(header), "")
    if not value:
        raise RowError(field, f"column {header!r} is empty")
    return value


def toggl(
    row: Mapping[str, str], team: str, zone: ZoneInfo
) -> tuple[dict[str, Any], tuple[str, ...]]:
    date = parse_date(_need(row, "Start date", "started_at"), "started_at")
    time = parse_time(_need(row, "Start time", "started_at"), "started_at")
    seconds = parse_duration(_need(row, "Duration", "seconds"))
    author = row.get("email") or row.get("user") or ""
    if not author:
        raise RowError("author", "columns 'Email' and 'User' are empty")
    project = _need(row, "Project", "work_account")
    task, description = row.get("task", ""), row.get("description", "")
    fields = {
        "work_account": project,
        "author": author,
        "team": team,
        "activity": task or description or project,
        "started_at": local(date, time, zone),
        "seconds": seconds,
        "ticket": None,
        "location": row.get("location") or None,
    }
    identity = (date.isoformat(), time.isoformat(), author, project, task, description)
    return fields, (*identity, str(seconds))


def harvest(
    row: Mapping[str, str], team: str, zone: ZoneInfo
) -> tuple[dict[str, Any], tuple[str, ...]]:
    date = parse_date(_need(row, "Date", "started_at"), "started_at")
    seconds = parse_hours(_need(row, "Hours", "seconds"), "seconds")
    author = " ".join(p for p in (row.get("first name", ""), row.get("last name", "")) if p)
    if not author:
        raise RowError("author", "columns 'First Name' and 'Last Name' are empty")
    code = _need(row, "Project Code", "work_account")
    task, notes = row.get("task", ""), row.get("notes", "")
    fields = {
        "work_account": code,
        "author": author,
        "team": team,
        "activity": task or row.get("project", "") or code,
        # Harvest has a date, no time: noon, so the date holds in any contract zone ±11 h.
        "started_at": local(date, NOON, zone),
        "seconds": seconds,
        "ticket": None,
        "location": row.get("location") or None,
    }
    return fields, (date.isoformat(), "", author, code, task, notes, str(seconds))


def generic(
    row: Mapping[str, str], team: str, zone: ZoneInfo, mapping: Mapping[str, str]
) -> tuple[dict[str, Any], tuple[str, ...]]:
    def get(field: str) -> str:
        return row.get(_key(mapping[field]), "") if field in mapping else ""

    if get("started_at"):
        raw = get("started_at")
        try:
            started = dt.datetime.fromisoformat(raw)
        except ValueError:
            raise RowError("started_at", f"{raw!r} is not a date-time (ISO 8601)") from None
        started = started if started.tzinfo else started.replace(tzinfo=zone)
    elif get("date"):
        date = parse_date(get("date"), "started_at")
        started = local(date, parse_time(get("time"), "started_at") if get("time") else NOON, zone)
    else:
        raise RowError("started_at", "no start: map 'started_at', or 'date' (and 'time')")
    if get("seconds"):
        try:
            seconds = int(get("seconds"))
        except ValueError:
            raise RowError("seconds", f"{get('seconds')!r} is not a whole number") from None
    elif get("hours"):
        seconds = parse_hours(get("hours"), "seconds")
    elif get("duration"):
        seconds = parse_duration(get("duration"))
    else:
        raise RowError("seconds", "no duration: map 'seconds', 'hours' or 'duration'")
    fields: dict[str, Any] = {
        name: get(name) or None
        for name in (
            "contract_id",
            "work_account",
            "project_key",
            "author",
            "activity",
            "ticket",
            "location",
        )
    }
    fields |= {"team": get("team") or team, "started_at": started, "seconds": seconds}
    project = get("work_account") or get("project_key") or get("contract_id")
    identity = (
        started.isoformat(),
        "",
        get("author"),
        project,
        get("activity"),
        get("description"),
        str(seconds),
    )
    if get("external_id"):
        fields["external_id"] = get("external_id")
    return fields, identity


def required_headers(dialect: Dialect, mapping: Mapping[str, str]) -> tuple[str, ...]:
    if dialect is Dialect.TOGGL:
        return TOGGL_REQUIRED
    if dialect is Dialect.HARVEST:
        return HARVEST_REQUIRED
    return tuple(mapping.values())


def parse(
    text: str,
    dialect: Dialect,
    *,
    team: str = "unassigned",
    timezone: str = "UTC",
    mapping: Mapping[str, str] | None = None,
    first_line: int = 1,
    occurrence: int | None = None,
) -> tuple[list[Row], list[Rejection]]:
    """The rows as worklog fields (``source`` included) and the rows rejected while reading.

    ``occurrence``: the number to give a hashed ``external_id`` instead of counting (a kept
    row replayed on its own is the occurrence it was in its import).

    Raises :class:`HeaderError` when a needed column is missing (the whole file is wrong).
    """
    mapping = dict(mapping or {})
    zone = ZoneInfo(timezone)
    names, raw_rows = read_rows(text, first_line)
    for header in required_headers(dialect, mapping):
        if _key(header) not in names:
            raise HeaderError(header, f"the header has no column {header!r}")
    source = {Dialect.TOGGL: "toggl", Dialect.HARVEST: "harvest"}.get(dialect, "csv")
    seen: Counter[str] = Counter()
    seen_legacy: Counter[str] = Counter()
    rows: list[Row] = []
    rejected: list[Rejection] = []
    for line, raw in raw_rows:
        try:
            if dialect is Dialect.TOGGL:
                fields, identity = toggl(raw, team, zone)
            elif dialect is Dialect.HARVEST:
                fields, identity = harvest(raw, team, zone)
            else:
                fields, identity = generic(raw, team, zone, mapping)
        except RowError as exc:
            rejected.append(Rejection(line, exc.field, str(exc)))
            continue
        legacy_id = None
        if "external_id" not in fields:
            # The identity ends with the duration: the id leaves it out (see above).
            digest, legacy = row_id(*identity[:-1]), row_id(*identity)
            seen[digest] += 1
            seen_legacy[legacy] += 1
            number = occurrence or seen[digest]
            fields["external_id"] = f"{digest}-{number}"
            legacy_id = f"{legacy}-{occurrence or seen_legacy[legacy]}"
        rows.append(Row(line, {"source": source, **fields}, legacy_id))
    return rows, rejected
