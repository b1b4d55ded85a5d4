"""Calendars: when service-level clocks run, minus holidays (country, own dates, iCalendar)."""

from __future__ import annotations

import uuid
from typing import Annotated

from burnrate_common.bodies import read_capped
from burnrate_common.deps import ConnectionDep
from fastapi import APIRouter, Query, Request, Response

from burnrate_contracts.api.concurrency import IfMatch, set_etag
from burnrate_contracts.auth import ContractsReader, ContractsWriter
from burnrate_contracts.schemas import (
    CalendarIn,
    CalendarOut,
    CalendarPatch,
    Holiday,
    IcalUploaded,
)
from burnrate_contracts.service import calendars

router = APIRouter(prefix="/v1/calendars", tags=["calendars"])

#: An iCalendar file of holidays is small; a year of a country's is a few KiB.
ICAL_LIMIT_BYTES = 2 * 2**20


def _answer(response: Response, calendar: CalendarOut) -> CalendarOut:
    set_etag(response, calendar.version)
    return calendar


@router.post(
    "",
    status_code=201,
    response_model=CalendarOut,
    summary="Create a calendar",
    description="kind 24x7 (no hours) or business: windows per ISO weekday (several split a "
    "day), in an IANA zone, minus the public holidays of holiday_country and the "
    "extra_holidays. A business calendar without hours, or overlapping windows, is refused.",
)
async def create_calendar(
    body: CalendarIn, conn: ConnectionDep, _: ContractsWriter, response: Response
) -> CalendarOut:
    return _answer(response, await calendars.create_calendar(conn, body))


@router.get("", response_model=list[CalendarOut], summary="List calendars, by name")
async def list_calendars(conn: ConnectionDep, _: ContractsReader) -> list[CalendarOut]:
    return await calendars.list_calendars(conn)


@router.get("/{calendar_id}", response_model=CalendarOut, summary="One calendar")
async def get_calendar(
    calendar_id: uuid.UUID, conn: ConnectionDep, _: ContractsReader, response: Response
) -> CalendarOut:
    return _answer(response, await calendars.get_calendar(conn, calendar_id))


@router.patch(
    "/{calendar_id}",
    response_model=CalendarOut,
    summary="Change a calendar (If-Match required)",
    description="Contracts keep the calendar their level was assigned with; the change "
    "reaches levels assigned after it.",
)
async def patch_calendar(
    calendar_id: uuid.UUID,
    body: CalendarPatch,
    conn: ConnectionDep,
    _: ContractsWriter,
    response: Response,
    if_match: IfMatch = None,
) -> CalendarOut:
    return _answer(response, await calendars.patch_calendar(conn, calendar_id, body, if_match))


@router.put(
    "/{calendar_id}/ical",
    response_model=IcalUploaded,
    summary="Upload an iCalendar file of holidays (body: text/calendar)",
    description="Every all-day event (multi-day and yearly recurring ones too) makes its days "
    "holidays, replacing the days of the file uploaded before; events with a time of day are "
    "counted and left out.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/calendar": {
                    "schema": {"type": "string"},
                    "example": "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//MSP//EN\r\n"
                    "BEGIN:VEVENT\r\nUID:1@msp\r\nDTSTART;VALUE=DATE:20261224\r\n"
                    "SUMMARY:Office closed\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
                }
            },
        }
    },
)
async def upload_ical(
    calendar_id: uuid.UUID,
    request: Request,
    conn: ConnectionDep,
    _: ContractsWriter,
    response: Response,
    if_match: IfMatch = None,
) -> IcalUploaded:
    data = await read_capped(request, ICAL_LIMIT_BYTES, what="iCalendar file")
    uploaded = await calendars.upload_ical(conn, calendar_id, data, if_match)
    set_etag(response, uploaded.calendar.version)
    return uploaded


@router.get(
    "/{calendar_id}/holidays",
    response_model=list[Holiday],
    summary="The calendar's days off in a year, with where each comes from",
)
async def calendar_holidays(
    calendar_id: uuid.UUID,
    conn: ConnectionDep,
    _: ContractsReader,
    year: Annotated[int, Query(ge=1970, le=2100)],
) -> list[Holiday]:
    return await calendars.calendar_holidays(conn, calendar_id, year)


@router.delete(
    "/{calendar_id}",
    status_code=204,
    summary="Delete a calendar no catalogue level runs on (If-Match optional)",
)
async def delete_calendar(
    calendar_id: uuid.UUID, conn: ConnectionDep, _: ContractsWriter, if_match: IfMatch = None
) -> Response:
    await calendars.delete_calendar(conn, calendar_id, if_match)
    return Response(status_code=204)
