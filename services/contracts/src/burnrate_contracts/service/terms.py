"""A contract's terms resolved for readers and events: the billing terms with the card's rows
and the contract's overrides in one list, and the service-level versions as they were copied.

Shared by the contract, rate card and service-level use cases; no transaction of its own.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import asyncpg
from burnrate_common.contract_terms import (
    BillingTerms,
    Calendar,
    RateRow,
    Rounding,
    ServiceCredit,
    ServiceLevelTerms,
    ShiftWindow,
    Target,
    WorkingHours,
)
from burnrate_common.db import Connection
from burnrate_common.errors import Problem

from burnrate_contracts import store
from burnrate_contracts.domain.calendars import target_errors
from burnrate_contracts.domain.terms import (
    Error,
    Override,
    ResolutionError,
    resolve_rows,
    unknown_shift_errors,
)
from burnrate_contracts.schemas import BillingIn, BillingOut, LevelAssignmentIn, TargetIn


def new_row_id() -> str:
    return uuid.uuid4().hex[:8]


def invalid(errors: Sequence[Error], status: int = 422, title: str = "Invalid input") -> Problem:
    """Every error at once, each naming its field."""
    return Problem(
        status,
        title,
        "; ".join(f"{f}: {m}" for f, m in errors),
        errors=[{"field": f, "message": m} for f, m in errors],
    )


# ---------------------------------------------------------------------------------------------
# billing


def billing_json(billing: BillingIn) -> dict[str, Any]:
    """The terms as stored: JSON, every override row with its id."""
    value = billing.model_dump(mode="json")
    for row in value["rate_overrides"]:
        row["id"] = row["id"] or new_row_id()
    return value


@dataclass(frozen=True)
class Card:
    id: uuid.UUID
    name: str
    rows: list[RateRow]

    @classmethod
    def of(cls, record: asyncpg.Record | Any) -> Card:
        return cls(record["id"], record["name"], [RateRow(**r) for r in record["rows"]])


def resolve_billing(
    stored: dict[str, Any], card: Card | None, overage_rate: Decimal | None
) -> tuple[BillingOut, BillingTerms]:
    """The terms as set and as carried; raises ResolutionError with fields from the
    contract's body (``billing.…``)."""
    billing = BillingIn.model_validate(stored)
    overrides = [
        Override(
            RateRow(**o.model_dump(exclude={"replaces", "id"}), id=o.id or new_row_id()),
            o.replaces,
        )
        for o in billing.rate_overrides
    ]
    shifts = [ShiftWindow(**s.model_dump()) for s in billing.shifts]
    card_rows = card.rows if card is not None else []
    try:
        rows = resolve_rows(card_rows, overrides)
    except ResolutionError as exc:
        raise ResolutionError([(f"billing.rate_overrides.{f}", m) for f, m in exc.errors]) from None
    errors = [
        (f"billing.rate_overrides.{f}", m)
        for f, m in unknown_shift_errors([o.row for o in overrides], shifts)
    ]
    replaced = {o.replaces for o in overrides}
    errors += [
        ("billing.shifts", f"card row '{r.id}' prices shift '{r.shift}': define that shift")
        for r in card_rows
        if r.id not in replaced and unknown_shift_errors([r], shifts)
    ]
    if errors:
        raise ResolutionError(errors)
    base_rate = (
        billing.base_rate
        if billing.base_rate is not None
        else (overage_rate if overage_rate is not None else Decimal(0))
    )
    credit = billing.service_credit
    terms = BillingTerms(
        base_rate=base_rate,
        rate_card=card.name if card is not None else None,
        rows=rows,
        shifts=shifts,
        holiday_country=billing.holiday_country,
        holiday_subdivision=billing.holiday_subdivision,
        extra_holidays=sorted(set(billing.extra_holidays)),
        rounding=Rounding(**billing.rounding.model_dump()),
        vat_rate=billing.vat_rate,
        period_fee=billing.period_fee,
        debt_cap=billing.debt_cap,
        budget=billing.budget,
        partial_invoicing=billing.partial_invoicing,
        ticket_confirmation_required=billing.ticket_confirmation_required,
        service_credit=ServiceCredit(**credit.model_dump()) if credit is not None else None,
    )
    out = BillingOut(
        **billing.model_dump(),
        rate_card=terms.rate_card,
        rows=rows,
        effective_base_rate=base_rate,
    )
    return out, terms


async def card_for(
    conn: Connection, billing: BillingIn | dict[str, Any] | None, field_name: str
) -> Card | None:
    """The card the terms name, read under a share lock; unknown: a 422 naming the field."""
    card_id = (
        billing.rate_card_id
        if isinstance(billing, BillingIn)
        else (billing or {}).get("rate_card_id")
    )
    if card_id is None:
        return None
    card_id = uuid.UUID(str(card_id))
    cards = await store.get_rate_cards(conn, [card_id])
    if card_id not in cards:
        raise Problem(422, "Unknown rate card", f"No rate card {card_id}.", field=field_name)
    return Card.of(cards[card_id])


# ---------------------------------------------------------------------------------------------
# service levels


@dataclass(frozen=True)
class LevelVersion:
    terms: ServiceLevelTerms
    service_level_id: uuid.UUID | None = None
    price: Decimal | None = None
    currency: str | None = None
    price_period: str | None = None

    def columns(self, actor: str) -> dict[str, Any]:
        return {
            "effective_from": self.terms.effective_from,
            "service_level_id": self.service_level_id,
            "terms": self.terms.model_dump(mode="json"),
            "price": self.price,
            "currency": self.currency,
            "price_period": self.price_period,
            "actor": actor,
        }

    @classmethod
    def of(cls, record: asyncpg.Record) -> LevelVersion:
        return cls(
            terms=ServiceLevelTerms.model_validate(record["terms"]),
            service_level_id=record["service_level_id"],
            price=record["price"],
            currency=record["currency"],
            price_period=record["price_period"],
        )


def calendar_terms(record: asyncpg.Record | None) -> Calendar:
    """A stored calendar as events carry it: its own and its iCalendar dates in one list."""
    if record is None:
        return Calendar()
    own = {dt.date.fromisoformat(d) for d in record["extra_holidays"]}
    ical = {dt.date.fromisoformat(d["date"]) for d in record["ical_holidays"]}
    return Calendar(
        name=record["name"],
        timezone=record["timezone"],
        hours=[WorkingHours(**h) for h in record["hours"]],
        holiday_country=record["holiday_country"],
        holiday_subdivision=record["holiday_subdivision"],
        extra_holidays=sorted(own | ical),
    )


def targets_of(targets: Sequence[TargetIn], prefix: str) -> list[Target]:
    result = [Target(**t.model_dump()) for t in targets]
    errors = target_errors(result)
    if errors:
        raise invalid([(f"{prefix}{f}", m) for f, m in errors])
    return result


async def calendar_record(
    conn: Connection, calendar_id: uuid.UUID | None, field_name: str
) -> asyncpg.Record | None:
    if calendar_id is None:
        return None
    record = await store.get_calendar(conn, calendar_id)
    if record is None:
        raise Problem(422, "Unknown calendar", f"No calendar {calendar_id}.", field=field_name)
    return record


async def level_version(
    conn: Connection, assignment: LevelAssignmentIn, prefix: str
) -> LevelVersion:
    """The level copied as it is now (catalogue level with its calendar, or bespoke)."""
    if assignment.service_level_id is not None:
        level = await store.get_service_level(conn, assignment.service_level_id)
        if level is None:
            raise Problem(
                422,
                "Unknown service level",
                f"No service level {assignment.service_level_id}.",
                field=f"{prefix}service_level_id",
            )
        calendar = await calendar_record(conn, level["calendar_id"], f"{prefix}service_level_id")
        return LevelVersion(
            terms=ServiceLevelTerms(
                level=level["name"],
                effective_from=assignment.effective_from,
                targets=[Target(**t) for t in level["targets"]],
                calendar=calendar_terms(calendar),
                at_risk_percents=list(level["at_risk_percents"]),
                reopen=level["reopen"],
                priority_change=level["priority_change"],
            ),
            service_level_id=level["id"],
            price=level["price"],
            currency=level["currency"],
            price_period=level["price_period"],
        )
    bespoke = assignment.bespoke
    assert bespoke is not None
    targets = targets_of(bespoke.targets, f"{prefix}bespoke.")
    calendar = await calendar_record(conn, bespoke.calendar_id, f"{prefix}bespoke.calendar_id")
    return LevelVersion(
        terms=ServiceLevelTerms(
            level=bespoke.name,
            effective_from=assignment.effective_from,
            targets=targets,
            calendar=calendar_terms(calendar),
            at_risk_percents=bespoke.at_risk_percents,
            reopen=bespoke.reopen,
            priority_change=bespoke.priority_change,
        )
    )


# ---------------------------------------------------------------------------------------------
# a contract's terms, for readers and events


@dataclass(frozen=True)
class ContractTerms:
    billing: BillingOut | None = None
    event_billing: BillingTerms | None = None
    levels: list[LevelVersion] = field(default_factory=list)


async def load_terms(
    conn: Connection, rows: Sequence[asyncpg.Record]
) -> dict[uuid.UUID, ContractTerms]:
    """The resolved terms of the contracts, read in two queries whatever their number."""
    cards = await store.get_rate_cards(
        conn, [r["rate_card_id"] for r in rows if r["rate_card_id"] is not None]
    )
    levels: dict[uuid.UUID, list[LevelVersion]] = {}
    for record in await store.list_contract_levels(conn, [r["id"] for r in rows]):
        levels.setdefault(record["contract_id"], []).append(LevelVersion.of(record))
    result: dict[uuid.UUID, ContractTerms] = {}
    for row in rows:
        out: BillingOut | None = None
        event: BillingTerms | None = None
        if row["billing"] is not None:
            card = cards.get(row["rate_card_id"])
            out, event = resolve_billing(
                row["billing"], Card.of(card) if card is not None else None, row["overage_rate"]
            )
        result[row["id"]] = ContractTerms(out, event, levels.get(row["id"], []))
    return result
