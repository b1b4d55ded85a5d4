"""Contracts: create, change, activate, close, delete a draft; one contract, the list.

Every write locks the row, checks If-Match, keeps the change in the history and publishes
``contract.*`` with the contract's whole state (periods computed) in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import asyncpg
from burnrate_common import outbox
from burnrate_common.contract_status import ContractStatus, derive_status
from burnrate_common.db import Connection
from burnrate_common.errors import Problem, invalid_input
from burnrate_common.events import (
    ContractChanged,
    ContractPeriod,
    Envelope,
    EventType,
    Rollover,
    new_event,
)
from burnrate_common.pagination import Page
from burnrate_common.types import seconds_to_hours
from pydantic import ValidationError

from burnrate_contracts import store
from burnrate_contracts.domain.calendars import assignment_error
from burnrate_contracts.domain.contracts import (
    Lifecycle,
    TransitionRefused,
    diff,
    hours_to_seconds,
    local_today,
    transition,
)
from burnrate_contracts.domain.listing import Sort, decode_cursor, encode_cursor, like_pattern
from burnrate_contracts.domain.periods import PeriodKind, compute_periods, override_errors
from burnrate_contracts.domain.terms import ResolutionError
from burnrate_contracts.schemas import (
    ContractIn,
    ContractOut,
    ContractPatch,
    ContractServiceLevel,
    LevelAssignmentIn,
    PeriodOut,
)
from burnrate_contracts.service import Deps
from burnrate_contracts.service.concurrency import check_if_match
from burnrate_contracts.service.terms import (
    ContractTerms,
    LevelVersion,
    billing_json,
    card_for,
    invalid,
    level_version,
    load_terms,
    resolve_billing,
)

CENT = Decimal("0.01")
#: Fields a PATCH may set to null.
NULLABLE = frozenset({"overage_rate", "billing"})
#: action → its name in the history
PAST = {"activate": "activated", "close": "closed"}

# ---------------------------------------------------------------------------------------------
# rows ↔ states ↔ events


def _periods(row: asyncpg.Record) -> list[ContractPeriod]:
    overrides = {
        dt.date.fromisoformat(o["start_date"]): hours_to_seconds(Decimal(o["planned_hours"]))
        for o in row["period_overrides"]
    }
    return [
        ContractPeriod(
            start_date=p.start_date, end_date=p.end_date, planned_seconds=p.planned_seconds
        )
        for p in compute_periods(
            row["start_date"],
            row["end_date"],
            PeriodKind(row["period"]),
            hours_to_seconds(row["planned_hours"]),
            prorate=row["prorate_partial_periods"],
            overrides=overrides,
        )
    ]


def _rollover(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "policy": row["rollover_policy"],
        "cap_hours": row["rollover_cap_hours"],
        "expires_after_periods": row["rollover_expires_after_periods"],
    }


def _out(row: asyncpg.Record, deps: Deps, now: dt.datetime, terms: ContractTerms) -> ContractOut:
    values = {k: row[k] for k in ContractOut.model_fields if k in set(row.keys())}
    status = derive_status(
        lifecycle=row["lifecycle"],
        start_date=row["start_date"],
        end_date=row["end_date"],
        today=local_today(now, row["timezone"]),
        expiring_within_days=deps.settings.expiring_within_days,
    )
    return ContractOut(
        **values
        | {
            "rollover": _rollover(row),
            "status": status,
            "billing": terms.billing,
            "service_levels": [v.terms for v in terms.levels],
            "periods": [
                PeriodOut(
                    start_date=p.start_date,
                    end_date=p.end_date,
                    planned_hours=seconds_to_hours(p.planned_seconds),
                )
                for p in _periods(row)
            ],
        }
    )


def _changed(row: asyncpg.Record, terms: ContractTerms) -> ContractChanged:
    fields = {k: row[k] for k in ContractChanged.model_fields if k in set(row.keys())}
    return ContractChanged(
        **fields
        | {
            "rollover": Rollover(**_rollover(row)),
            "periods": _periods(row),
            "billing": terms.event_billing,
            "service_levels": [v.terms for v in terms.levels],
        }
    )


def _state(row: asyncpg.Record) -> dict[str, Any]:
    """The contract as the API writes it, JSON-ready: what history diffs and PATCH merges."""

    def plain(value: Any) -> Any:
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, Decimal):
            return str(value)
        return value

    state = {
        f: plain(row[f])
        for f in store.CONTRACT_FIELDS
        if not f.startswith("rollover_") and f != "rate_card_id"
    }
    state["customer_id"] = str(row["customer_id"])
    state["rollover"] = {k: plain(v) for k, v in _rollover(row).items()}
    return state


def _columns(body: ContractIn) -> dict[str, Any]:
    """The stored columns of a validated contract."""
    values = body.model_dump(exclude={"rollover", "period_overrides", "billing", "service_levels"})
    values["billing"] = billing_json(body.billing) if body.billing is not None else None
    values["rate_card_id"] = body.billing.rate_card_id if body.billing is not None else None
    values["period"] = body.period.value
    values["rollover_policy"] = body.rollover.policy
    values["rollover_cap_hours"] = body.rollover.cap_hours
    values["rollover_expires_after_periods"] = body.rollover.expires_after_periods
    values["period_overrides"] = [
        {
            "start_date": o.start_date.isoformat(),
            "planned_hours": str(o.planned_hours.quantize(CENT)),
        }
        for o in sorted(body.period_overrides, key=lambda o: o.start_date)
    ]
    return values


def _event(
    deps: Deps, event_type: EventType, row: asyncpg.Record, terms: ContractTerms
) -> Envelope:
    return new_event(event_type, _changed(row, terms), key=row["id"], producer=deps.producer)


async def _terms(conn: Connection, row: asyncpg.Record) -> ContractTerms:
    return (await load_terms(conn, [row]))[row["id"]]


# ---------------------------------------------------------------------------------------------
# checks


def _check_overrides(body: ContractIn) -> None:
    errors = override_errors(
        body.start_date, body.end_date, body.period, [o.start_date for o in body.period_overrides]
    )
    if errors:
        # Every bad override at once, as for the body's other fields.
        bad = [(f"period_overrides.{index}.start_date", message) for index, message in errors]
        raise Problem(
            422,
            "Invalid input",
            "; ".join(f"{field}: {message}" for field, message in bad),
            errors=[{"field": field, "message": message} for field, message in bad],
        )


async def _check_billing(
    conn: Connection, billing: dict[str, Any] | None, overage_rate: Decimal | None
) -> None:
    """The card the terms name exists and the rows resolve (a 422 naming each field)."""
    if billing is None:
        return
    card = await card_for(conn, billing, "billing.rate_card_id")
    try:
        resolve_billing(billing, card, overage_rate)
    except ResolutionError as exc:
        raise invalid(exc.errors) from exc


async def _initial_levels(conn: Connection, body: ContractIn) -> list[LevelVersion]:
    """The levels a new contract starts with: distinct dates up to its end."""
    errors: list[tuple[str, str]] = []
    seen: set[dt.date] = set()
    for index, assignment in enumerate(body.service_levels):
        field = f"service_levels.{index}.effective_from"
        if assignment.effective_from in seen:
            errors.append((field, f"two levels from {assignment.effective_from}"))
        elif message := assignment_error(
            [], assignment.effective_from, body.start_date, body.end_date
        ):
            errors.append((field, message))
        seen.add(assignment.effective_from)
    if errors:
        raise invalid(errors)
    return [
        await level_version(conn, assignment, f"service_levels.{index}.")
        for index, assignment in sorted(
            enumerate(body.service_levels), key=lambda pair: pair[1].effective_from
        )
    ]


def _levels_summary(levels: Sequence[LevelVersion]) -> list[dict[str, str]]:
    """How the history shows a contract's levels."""
    return [
        {"effective_from": v.terms.effective_from.isoformat(), "level": v.terms.level}
        for v in levels
    ]


def _code_in_use(code: str) -> Problem:
    return Problem(409, "Code in use", f"A contract with code '{code}' exists.", field="code")


def _unknown_customer(customer_id: uuid.UUID) -> Problem:
    return Problem(422, "Unknown customer", f"No customer {customer_id}.", field="customer_id")


async def _check_unique(
    conn: Connection, body: ContractIn, except_id: uuid.UUID | None = None
) -> None:
    """The code is free; no work account or Jira key + team is routed to another contract
    whose term overlaps this one (worklog-ingest must route every worklog to one contract)."""
    await store.lock_routes(conn)
    if await store.code_taken(conn, body.code, except_id):
        raise _code_in_use(body.code)
    clashes = await store.work_accounts_in_use(
        conn, body.work_accounts, body.start_date, body.end_date, body.timezone, except_id
    )
    if clashes:
        raise Problem(
            409,
            "Work account in use",
            f"Already routed to a contract with overlapping dates: {', '.join(clashes)}.",
            field="work_accounts",
        )
    keys = await store.project_keys_in_use(
        conn,
        body.jira_project_keys,
        body.teams,
        body.start_date,
        body.end_date,
        body.timezone,
        except_id,
    )
    if keys:
        raise Problem(
            409,
            "Jira project key in use",
            f"Already routed, for one of these teams (or, without teams, for any team), to a "
            f"contract with overlapping dates: {', '.join(keys)}.",
            field="jira_project_keys",
        )


async def _existing(conn: Connection, contract_id: uuid.UUID, *, lock: bool) -> asyncpg.Record:
    row = await store.get_contract(conn, contract_id, for_update=lock)
    if row is None:
        raise Problem(404, "Not found", f"No contract {contract_id}.", field="contract_id")
    return row


# ---------------------------------------------------------------------------------------------
# use cases


async def create_contract(
    conn: Connection, deps: Deps, body: ContractIn, actor: str
) -> ContractOut:
    _check_overrides(body)
    contract_id = uuid.uuid4()
    async with conn.transaction():
        if not await store.customer_exists(conn, body.customer_id):
            raise _unknown_customer(body.customer_id)
        await _check_unique(conn, body)
        columns = _columns(body)
        await _check_billing(conn, columns["billing"], body.overage_rate)
        levels = await _initial_levels(conn, body)
        try:
            await store.insert_contract(conn, contract_id, columns)
        except asyncpg.UniqueViolationError as exc:  # a concurrent create with the same code
            raise _code_in_use(body.code) from exc
        except asyncpg.ForeignKeyViolationError as exc:  # the customer deleted meanwhile
            raise _unknown_customer(body.customer_id) from exc
        for version in levels:
            await store.insert_contract_level(conn, contract_id, version.columns(actor))
        row = await store.get_contract(conn, contract_id)
        assert row is not None
        state = _state(row) | ({"service_levels": _levels_summary(levels)} if levels else {})
        await store.insert_history(
            conn, "contract", contract_id, 1, "created", actor, diff({}, state)
        )
        terms = await _terms(conn, row)
        await outbox.add(conn, [_event(deps, EventType.CONTRACT_CREATED, row, terms)])
    return _out(row, deps, deps.clock.now(), terms)


async def get_contract(conn: Connection, deps: Deps, contract_id: uuid.UUID) -> ContractOut:
    row = await _existing(conn, contract_id, lock=False)
    return _out(row, deps, deps.clock.now(), await _terms(conn, row))


async def list_contracts(
    conn: Connection,
    deps: Deps,
    *,
    statuses: Sequence[ContractStatus] = (),
    customer_id: uuid.UUID | None = None,
    owner: str | None = None,
    team: str | None = None,
    expiring_within_days: int | None = None,
    q: str | None = None,
    sort: str = "created_at",
    limit: int = 100,
    cursor: str | None = None,
) -> Page[ContractOut]:
    """One page in ``sort`` order (ties broken by id); ``q`` is text in the code or title."""
    if ContractStatus.EXHAUSTED in statuses:
        raise Problem(
            422,
            "Invalid input",
            "status: exhausted is derived by reporting, which knows the consumption",
            field="status",
        )
    try:
        order = Sort.parse(sort)
    except ValueError as exc:
        raise Problem(422, "Invalid input", str(exc), field="sort") from exc
    after = decode_cursor(cursor, order)
    now = deps.clock.now()
    rows = await store.list_contracts(
        conn,
        now=now,
        expiring_window_days=deps.settings.expiring_within_days,
        sort=order,
        after=after,
        limit=limit + 1,
        statuses=[s.value for s in statuses],
        customer_id=customer_id,
        owner=owner,
        team=team,
        expiring_within_days=expiring_within_days,
        like=like_pattern(q) if q is not None else None,
    )
    more, rows = len(rows) > limit, rows[:limit]
    next_cursor = (
        encode_cursor(order, rows[-1][order.key], rows[-1]["id"]) if more and rows else None
    )
    terms = await load_terms(conn, rows)
    return Page(items=[_out(r, deps, now, terms[r["id"]]) for r in rows], next_cursor=next_cursor)


async def patch_contract(
    conn: Connection,
    deps: Deps,
    contract_id: uuid.UUID,
    body: ContractPatch,
    actor: str,
    if_match: str | None,
) -> ContractOut:
    """The fields sent, merged into the current contract and validated whole; dates or
    period kind recompute the periods. A closed contract no longer changes; an unchanged
    PATCH writes nothing (same version, no history, no event)."""
    sent = body.model_dump(include=body.model_fields_set)
    for name, value in sent.items():
        if value is None and name not in NULLABLE:
            raise Problem(422, "Invalid input", f"{name}: may not be null", field=name)
    async with conn.transaction():
        row = await _existing(conn, contract_id, lock=True)
        check_if_match(if_match, row["version"], required=True)
        if row["lifecycle"] == Lifecycle.CLOSED:
            raise Problem(
                409, "Contract closed", "A closed contract no longer changes.", field="lifecycle"
            )
        before = _state(row)
        try:
            merged = ContractIn.model_validate(before | sent)
        except ValidationError as exc:
            raise invalid_input(exc) from exc
        _check_overrides(merged)
        changed = {
            k: v
            for k, v in _columns(merged).items()
            if k in store.CONTRACT_FIELDS and k != "lifecycle" and v != row[k]
        }
        if not changed:
            return _out(row, deps, deps.clock.now(), await _terms(conn, row))
        await _check_unique(conn, merged, except_id=contract_id)
        await _check_billing(conn, _columns(merged)["billing"], merged.overage_rate)
        try:
            new = await store.update_contract(conn, contract_id, changed)
        except asyncpg.UniqueViolationError as exc:
            raise _code_in_use(merged.code) from exc
        await store.insert_history(
            conn,
            "contract",
            contract_id,
            new["version"],
            "updated",
            actor,
            diff(before, _state(new)),
        )
        terms = await _terms(conn, new)
        await outbox.add(conn, [_event(deps, EventType.CONTRACT_UPDATED, new, terms)])
    return _out(new, deps, deps.clock.now(), terms)


async def _transition(
    conn: Connection,
    deps: Deps,
    action: str,
    contract_id: uuid.UUID,
    actor: str,
    if_match: str | None,
) -> ContractOut:
    now = deps.clock.now()
    async with conn.transaction():
        row = await _existing(conn, contract_id, lock=True)
        check_if_match(if_match, row["version"], required=False)
        try:
            target = transition(Lifecycle(row["lifecycle"]), action)
        except TransitionRefused as exc:
            raise Problem(409, "Invalid transition", str(exc), field="lifecycle") from exc
        values: dict[str, Any] = {"lifecycle": target.value}
        if target is Lifecycle.CLOSED:
            values["closed_at"] = now
        new = await store.update_contract(conn, contract_id, values)
        await store.insert_history(
            conn,
            "contract",
            contract_id,
            new["version"],
            PAST[action],
            actor,
            diff(_state(row), _state(new)),
        )
        terms = await _terms(conn, new)
        await outbox.add(conn, [_event(deps, EventType.CONTRACT_UPDATED, new, terms)])
    return _out(new, deps, now, terms)


async def activate_contract(
    conn: Connection, deps: Deps, contract_id: uuid.UUID, actor: str, if_match: str | None
) -> ContractOut:
    """A draft becomes active."""
    return await _transition(conn, deps, "activate", contract_id, actor, if_match)


async def close_contract(
    conn: Connection, deps: Deps, contract_id: uuid.UUID, actor: str, if_match: str | None
) -> ContractOut:
    """A draft or active contract is closed for good; its history and periods are kept."""
    return await _transition(conn, deps, "close", contract_id, actor, if_match)


async def delete_contract(
    conn: Connection, deps: Deps, contract_id: uuid.UUID, actor: str, if_match: str | None
) -> None:
    """Only a draft goes; its code is free again, its history stays."""
    async with conn.transaction():
        row = await _existing(conn, contract_id, lock=True)
        check_if_match(if_match, row["version"], required=False)
        if row["lifecycle"] != Lifecycle.DRAFT:
            # Active and closed contracts have counted time and sent alerts: they stay.
            raise Problem(
                409,
                "Not a draft",
                f"Only a draft can be deleted; this contract is {row['lifecycle']}: close it "
                "instead.",
                field="lifecycle",
            )
        terms = await _terms(conn, row)
        await store.delete_contract(conn, contract_id)
        await store.insert_history(
            conn,
            "contract",
            contract_id,
            row["version"] + 1,
            "deleted",
            actor,
            diff({"lifecycle": row["lifecycle"]}, {"lifecycle": "deleted"}),
        )
        # The last state, marked deleted: replicas keep it as a tombstone.
        last = _changed(row, terms).model_copy(update={"lifecycle": "deleted"})
        await outbox.add(
            conn,
            [new_event(EventType.CONTRACT_DELETED, last, key=contract_id, producer=deps.producer)],
        )


# ---------------------------------------------------------------------------------------------
# service levels of a contract


async def assign_service_level(
    conn: Connection,
    deps: Deps,
    contract_id: uuid.UUID,
    body: LevelAssignmentIn,
    actor: str,
    if_match: str | None,
) -> ContractOut:
    """A new level version from ``effective_from`` on, copied from the catalogue (or
    bespoke); earlier versions stay as they were."""
    async with conn.transaction():
        row = await _existing(conn, contract_id, lock=True)
        check_if_match(if_match, row["version"], required=False)
        if row["lifecycle"] == Lifecycle.CLOSED:
            raise Problem(
                409, "Contract closed", "A closed contract no longer changes.", field="lifecycle"
            )
        before = (await _terms(conn, row)).levels
        today = local_today(deps.clock.now(), row["timezone"])
        message = assignment_error(
            [v.terms.effective_from for v in before], body.effective_from, today, row["end_date"]
        )
        if message is not None:
            raise Problem(422, "Invalid input", message, field="effective_from")
        version = await level_version(conn, body, "")
        await store.insert_contract_level(conn, contract_id, version.columns(actor))
        new = await store.update_contract(conn, contract_id, {})
        await store.insert_history(
            conn,
            "contract",
            contract_id,
            new["version"],
            "service level assigned",
            actor,
            diff(
                {"service_levels": _levels_summary(before)},
                {"service_levels": _levels_summary([*before, version])},
            ),
        )
        terms = await _terms(conn, new)
        await outbox.add(conn, [_event(deps, EventType.CONTRACT_UPDATED, new, terms)])
    return _out(new, deps, deps.clock.now(), terms)


async def contract_service_level(
    conn: Connection, deps: Deps, contract_id: uuid.UUID, on: dt.date | None
) -> ContractServiceLevel:
    """The level in force on a local date (default today in the contract's zone) with its
    targets, calendar and price, and every version."""
    row = await _existing(conn, contract_id, lock=False)
    levels = (await _terms(conn, row)).levels
    day = on or local_today(deps.clock.now(), row["timezone"])
    current = next((v for v in reversed(levels) if v.terms.effective_from <= day), None)
    return ContractServiceLevel(
        contract_id=contract_id,
        on=day,
        current=current.terms if current is not None else None,
        service_level_id=current.service_level_id if current is not None else None,
        price=current.price if current is not None else None,
        currency=current.currency if current is not None else None,
        price_period=current.price_period if current is not None else None,
        versions=[v.terms for v in levels],
    )


async def republish_using_card(conn: Connection, deps: Deps, card_id: uuid.UUID) -> int:
    """Inside the card's transaction: every contract naming the card is published again with
    its rows resolved anew. A contract the new rows do not fit (an override replacing a row
    that went, a shift the contract lacks) refuses the change: a 409 naming the rows.
    Returns how many contracts were published."""
    rows = await store.contracts_using_card(conn, card_id)
    problems: list[tuple[str, str]] = []
    events: list[Envelope] = []
    for row in rows:
        try:
            terms = await _terms(conn, row)
        except ResolutionError as exc:
            problems += [("rows", f"contract {row['code']}: {f}: {m}") for f, m in exc.errors]
            continue
        events.append(_event(deps, EventType.CONTRACT_UPDATED, row, terms))
    if problems:
        raise invalid(problems, 409, "Rate card in use")
    await outbox.add(conn, events)
    return len(events)
