"""The service-level catalogue: named levels with targets per priority and category, the
calendar they run on and a price per period — the MSP's catalogue page.

A contract copies a level when it is assigned (``contracts.assign_service_level``), so an
edit here never rewrites what a contract had.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from burnrate_common.contract_terms import Target
from burnrate_common.db import Connection
from burnrate_common.errors import Problem, invalid_input
from pydantic import ValidationError

from burnrate_contracts import store
from burnrate_contracts.schemas import ServiceLevelIn, ServiceLevelOut, ServiceLevelPatch
from burnrate_contracts.service.calendars import calendar_out
from burnrate_contracts.service.concurrency import check_if_match
from burnrate_contracts.service.terms import calendar_record, targets_of

NULLABLE = frozenset({"calendar_id", "price"})


def _out(record: asyncpg.Record, calendars: dict[uuid.UUID, Any]) -> ServiceLevelOut:
    calendar = calendars.get(record["calendar_id"])
    return ServiceLevelOut(
        **{k: record[k] for k in ServiceLevelOut.model_fields if k in set(record.keys())}
        | {
            "targets": [Target(**t) for t in record["targets"]],
            "at_risk_percents": list(record["at_risk_percents"]),
            "calendar": calendar_out(calendar) if calendar is not None else None,
        }
    )


async def _answer(conn: Connection, records: list[asyncpg.Record]) -> list[ServiceLevelOut]:
    calendars = await store.get_calendars(
        conn, [r["calendar_id"] for r in records if r["calendar_id"] is not None]
    )
    return [_out(r, calendars) for r in records]


async def _columns(conn: Connection, body: ServiceLevelIn) -> dict[str, Any]:
    targets = targets_of(body.targets, "")
    await calendar_record(conn, body.calendar_id, "calendar_id")
    values = body.model_dump(exclude={"targets"})
    values["targets"] = [t.model_dump(mode="json") for t in targets]
    return values


def _state(record: asyncpg.Record) -> dict[str, Any]:
    state = {k: record[k] for k in ServiceLevelIn.model_fields}
    state["at_risk_percents"] = list(state["at_risk_percents"])
    return state


def _name_in_use(name: str) -> Problem:
    return Problem(409, "Name in use", f"A service level named '{name}' exists.", field="name")


async def _existing(conn: Connection, level_id: uuid.UUID, *, lock: bool) -> asyncpg.Record:
    record = await store.get_service_level(conn, level_id, for_update=lock)
    if record is None:
        raise Problem(404, "Not found", f"No service level {level_id}.", field="level_id")
    return record


async def create_service_level(conn: Connection, body: ServiceLevelIn) -> ServiceLevelOut:
    level_id = uuid.uuid4()
    async with conn.transaction():
        values = await _columns(conn, body)
        if await store.name_taken(conn, "service_levels", body.name):
            raise _name_in_use(body.name)
        try:
            await store.insert_service_level(conn, level_id, values)
        except asyncpg.UniqueViolationError as exc:
            raise _name_in_use(body.name) from exc
        return (await _answer(conn, [await _existing(conn, level_id, lock=False)]))[0]


async def get_service_level(conn: Connection, level_id: uuid.UUID) -> ServiceLevelOut:
    return (await _answer(conn, [await _existing(conn, level_id, lock=False)]))[0]


async def list_service_levels(conn: Connection) -> list[ServiceLevelOut]:
    return await _answer(conn, await store.list_service_levels(conn))


async def patch_service_level(
    conn: Connection, level_id: uuid.UUID, body: ServiceLevelPatch, if_match: str | None
) -> ServiceLevelOut:
    sent = body.model_dump(include=body.model_fields_set)
    for name, value in sent.items():
        if value is None and name not in NULLABLE:
            raise Problem(422, "Invalid input", f"{name}: may not be null", field=name)
    async with conn.transaction():
        record = await _existing(conn, level_id, lock=True)
        check_if_match(if_match, record["version"], required=True)
        try:
            merged = ServiceLevelIn.model_validate(_state(record) | sent)
        except ValidationError as exc:
            raise invalid_input(exc) from exc
        current = _state(record)
        values = {k: v for k, v in (await _columns(conn, merged)).items() if v != current[k]}
        if not values:
            return (await _answer(conn, [record]))[0]
        if "name" in values and await store.name_taken(
            conn, "service_levels", merged.name, level_id
        ):
            raise _name_in_use(merged.name)
        await store.update_service_level(conn, level_id, values)
        return (await _answer(conn, [await _existing(conn, level_id, lock=False)]))[0]


async def delete_service_level(conn: Connection, level_id: uuid.UUID, if_match: str | None) -> None:
    """The level leaves the catalogue; contracts keep their copies."""
    async with conn.transaction():
        record = await _existing(conn, level_id, lock=True)
        check_if_match(if_match, record["version"], required=False)
        await store.delete_service_level(conn, level_id)
