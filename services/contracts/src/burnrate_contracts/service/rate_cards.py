"""Rate cards: named, reusable rows that price hours by activity, location and shift.

Every write locks the card and checks If-Match; a change of the rows publishes
``contract.updated`` for every contract naming the card, in the same transaction, with its
rows resolved anew (a change a contract's terms do not fit is refused whole).
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from burnrate_common.contract_terms import RateRow
from burnrate_common.db import Connection
from burnrate_common.errors import Problem

from burnrate_contracts import store
from burnrate_contracts.domain.terms import row_errors
from burnrate_contracts.schemas import RateCardIn, RateCardOut, RateCardPatch, RateRowIn
from burnrate_contracts.service import Deps
from burnrate_contracts.service.concurrency import check_if_match
from burnrate_contracts.service.contracts import republish_using_card
from burnrate_contracts.service.terms import invalid, new_row_id


def _out(record: asyncpg.Record) -> RateCardOut:
    return RateCardOut(
        **{k: record[k] for k in RateCardOut.model_fields if k != "rows"},
        rows=[RateRow(**r) for r in record["rows"]],
    )


def _rows(rows: list[RateRowIn]) -> list[dict[str, Any]]:
    """The rows as stored, each with an id; two rows pricing the same hours are refused."""
    resolved = [RateRow(**r.model_dump(exclude={"id"}), id=r.id or new_row_id()) for r in rows]
    errors = row_errors(resolved)
    if errors:
        raise invalid([(f"rows.{f}", m) for f, m in errors])
    return [r.model_dump(mode="json") for r in resolved]


def _name_in_use(name: str) -> Problem:
    return Problem(409, "Name in use", f"A rate card named '{name}' exists.", field="name")


async def _existing(conn: Connection, card_id: uuid.UUID, *, lock: bool) -> asyncpg.Record:
    record = await store.get_rate_card(conn, card_id, for_update=lock)
    if record is None:
        raise Problem(404, "Not found", f"No rate card {card_id}.", field="card_id")
    return record


async def create_rate_card(conn: Connection, body: RateCardIn) -> RateCardOut:
    card_id = uuid.uuid4()
    values = {"name": body.name, "description": body.description, "rows": _rows(body.rows)}
    async with conn.transaction():
        if await store.name_taken(conn, "rate_cards", body.name):
            raise _name_in_use(body.name)
        try:
            await store.insert_rate_card(conn, card_id, values)
        except asyncpg.UniqueViolationError as exc:
            raise _name_in_use(body.name) from exc
        return _out(await _existing(conn, card_id, lock=False))


async def get_rate_card(conn: Connection, card_id: uuid.UUID) -> RateCardOut:
    return _out(await _existing(conn, card_id, lock=False))


async def list_rate_cards(conn: Connection) -> list[RateCardOut]:
    return [_out(r) for r in await store.list_rate_cards(conn)]


async def patch_rate_card(
    conn: Connection,
    deps: Deps,
    card_id: uuid.UUID,
    body: RateCardPatch,
    if_match: str | None,
) -> RateCardOut:
    """The fields sent; the contracts using the card are published again when its name or
    rows change. An unchanged PATCH writes nothing."""
    sent = body.model_dump(include=body.model_fields_set)
    for name, value in sent.items():
        if value is None:
            raise Problem(422, "Invalid input", f"{name}: may not be null", field=name)
    async with conn.transaction():
        record = await _existing(conn, card_id, lock=True)
        check_if_match(if_match, record["version"], required=True)
        values: dict[str, Any] = {}
        if body.name is not None and body.name != record["name"]:
            if await store.name_taken(conn, "rate_cards", body.name, card_id):
                raise _name_in_use(body.name)
            values["name"] = body.name
        if body.description is not None and body.description != record["description"]:
            values["description"] = body.description
        if body.rows is not None:
            rows = _rows(body.rows)
            if rows != record["rows"]:
                values["rows"] = rows
        if not values:
            return _out(record)
        try:
            await store.update_rate_card(conn, card_id, values)
        except asyncpg.UniqueViolationError as exc:
            raise _name_in_use(values["name"]) from exc
        if "rows" in values or "name" in values:
            await republish_using_card(conn, deps, card_id)
        return _out(await _existing(conn, card_id, lock=False))


async def delete_rate_card(conn: Connection, card_id: uuid.UUID, if_match: str | None) -> None:
    """Only a card no contract names goes."""
    async with conn.transaction():
        record = await _existing(conn, card_id, lock=True)
        check_if_match(if_match, record["version"], required=False)
        if record["contracts"]:
            raise Problem(
                409,
                "Rate card in use",
                f"{record['contracts']} contract(s) use the card: give them another first.",
                field="card_id",
            )
        await store.delete_rate_card(conn, card_id)
