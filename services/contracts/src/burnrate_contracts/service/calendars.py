"""Calendars: when service-level clocks run (24×7, or working hours in a zone minus
holidays). A contract's level copies its calendar when assigned, so an edit here reaches the
levels assigned after it."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import asyncpg
from burnrate_common.contract_terms import WorkingHours
from burnrate_common.db import Connection
from burnrate_common.errors import Problem, invalid_input
from pydantic import ValidationError

from burnrate_contracts import store
from burnrate_contracts.domain.calendars import (
    IcalInvalid,
    business_seconds_per_week,
    calendar_errors,
    parse_ical,
)
from burnrate_contracts.domain.terms import public_holidays
from burnrate_contracts.schemas import (
    CalendarIn,
    CalendarOut,
    CalendarPatch,
    Holiday,
    IcalDay,
    IcalUploaded,
    WorkingHoursOut,
)
from burnrate_contracts.service.concurrency import check_if_match
from burnrate_contracts.service.terms import invalid

#: Fields a PATCH may set to null.
NULLABLE = frozenset({"holiday_country", "holiday_subdivision"})


def calendar_out(record: asyncpg.Record) -> CalendarOut:
    hours = [WorkingHours(**h) for h in record["hours"]]
    per_week = (
        (Decimal(business_seconds_per_week(hours)) / 3600).quantize(Decimal("0.01"))
        if record["kind"] == "business"
        else None
    )
    return CalendarOut(
        **{k: record[k] for k in CalendarOut.model_fields if k in set(record.keys())}
        | {
            "hours": [WorkingHoursOut(**h.model_dump()) for h in hours],
            "ical_holidays": [IcalDay(**d) for d in record["ical_holidays"]],
            "business_hours_per_week": per_week,
        }
    )


def _columns(body: CalendarIn) -> dict[str, Any]:
    errors = calendar_errors(body.kind, [WorkingHours(**h.model_dump()) for h in body.hours])
    if errors:
        raise invalid(errors)
    values = body.model_dump(mode="json")
    values["hours"] = sorted(values["hours"], key=lambda h: (h["weekday"], h["start"]))
    values["extra_holidays"] = sorted(set(values["extra_holidays"]))
    return values


def _state(record: asyncpg.Record) -> dict[str, Any]:
    return {k: record[k] for k in CalendarIn.model_fields}


def _name_in_use(name: str) -> Problem:
    return Problem(409, "Name in use", f"A calendar named '{name}' exists.", field="name")


async def _existing(conn: Connection, calendar_id: uuid.UUID, *, lock: bool) -> asyncpg.Record:
    record = await store.get_calendar(conn, calendar_id, for_update=lock)
    if record is None:
        raise Problem(404, "Not found", f"No calendar {calendar_id}.", field="calendar_id")
    return record


async def create_calendar(conn: Connection, body: CalendarIn) -> CalendarOut:
    values = _columns(body)
    calendar_id = uuid.uuid4()
    async with conn.transaction():
        if await store.name_taken(conn, "calendars", body.name):
            raise _name_in_use(body.name)
        try:
            await store.insert_calendar(conn, calendar_id, values)
        except asyncpg.UniqueViolationError as exc:
            raise _name_in_use(body.name) from exc
        return calendar_out(await _existing(conn, calendar_id, lock=False))


async def get_calendar(conn: Connection, calendar_id: uuid.UUID) -> CalendarOut:
    return calendar_out(await _existing(conn, calendar_id, lock=False))


async def list_calendars(conn: Connection) -> list[CalendarOut]:
    return [calendar_out(r) for r in await store.list_calendars(conn)]


async def patch_calendar(
    conn: Connection, calendar_id: uuid.UUID, body: CalendarPatch, if_match: str | None
) -> CalendarOut:
    """The fields sent, merged and validated whole (a business calendar left without hours
    is refused)."""
    sent = body.model_dump(include=body.model_fields_set, mode="json")
    for name, value in sent.items():
        if value is None and name not in NULLABLE:
            raise Problem(422, "Invalid input", f"{name}: may not be null", field=name)
    async with conn.transaction():
        record = await _existing(conn, calendar_id, lock=True)
        check_if_match(if_match, record["version"], required=True)
        try:
            merged = CalendarIn.model_validate(_state(record) | sent)
        except ValidationError as exc:
            raise invalid_input(exc) from exc
        values = {k: v for k, v in _columns(merged).items() if v != record[k]}
        if not values:
            return calendar_out(record)
        if "name" in values and await store.name_taken(conn, "calendars", merged.name, calendar_id):
            raise _name_in_use(merged.name)
        await store.update_calendar(conn, calendar_id, values)
        return calendar_out(await _existing(conn, calendar_id, lock=False))


async def upload_ical(
    conn: Connection, calendar_id: uuid.UUID, data: bytes, if_match: str | None
) -> IcalUploaded:
    """The all-day events of an iCalendar file become the calendar's iCalendar holidays,
    replacing those of the file before."""
    try:
        parsed = parse_ical(data)
    except IcalInvalid as exc:
        raise Problem(422, "Invalid iCalendar file", str(exc), field="body") from exc
    days = [{"date": d.isoformat(), "summary": s} for d, s in parsed.days.items()]
    async with conn.transaction():
        record = await _existing(conn, calendar_id, lock=True)
        check_if_match(if_match, record["version"], required=False)
        await store.update_calendar(conn, calendar_id, {"ical_holidays": days})
        calendar = calendar_out(await _existing(conn, calendar_id, lock=False))
    return IcalUploaded(calendar=calendar, days=len(days), timed_events_ignored=parsed.timed_events)


async def calendar_holidays(conn: Connection, calendar_id: uuid.UUID, year: int) -> list[Holiday]:
    """The days off in a year: the country's public holidays, the own dates, the file's."""
    record = await _existing(conn, calendar_id, lock=False)
    days: dict[dt.date, Holiday] = {}
    for day, name in public_holidays(
        record["holiday_country"], record["holiday_subdivision"], [year]
    ).items():
        days[day] = Holiday(date=day, name=name, source="country")
    for text in record["extra_holidays"]:
        day = dt.date.fromisoformat(text)
        if day.year == year:
            days.setdefault(day, Holiday(date=day, name="own date", source="own"))
    for entry in record["ical_holidays"]:
        day = dt.date.fromisoformat(entry["date"])
        if day.year == year:
            days.setdefault(day, Holiday(date=day, name=entry["summary"], source="ical"))
    return [days[d] for d in sorted(days)]


async def delete_calendar(conn: Connection, calendar_id: uuid.UUID, if_match: str | None) -> None:
    """Only a calendar no catalogue level runs on goes (contracts keep their copies)."""
    async with conn.transaction():
        record = await _existing(conn, calendar_id, lock=True)
        check_if_match(if_match, record["version"], required=False)
        levels = await store.calendar_used_by(conn, calendar_id)
        if levels:
            raise Problem(
                409,
                "Calendar in use",
                f"Service levels run on it: {', '.join(levels)}.",
                field="calendar_id",
            )
        await store.delete_calendar(conn, calendar_id)
