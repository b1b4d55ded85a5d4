from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated

import asyncpg
from burnrate_common import outbox
from burnrate_common.auth import require
from burnrate_common.deps import ConnectionDep, CursorQuery, LimitQuery, RuntimeDep
from burnrate_common.errors import Problem
from burnrate_common.events import ContractChanged, ContractPeriod, EventType, new_event
from burnrate_common.pagination import Page, decode_cursor, encode_cursor
from burnrate_common.types import Hours, seconds_to_hours
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationInfo, field_validator

from burnrate_contracts import store
from burnrate_contracts.domain.contracts import derive_status, hours_to_seconds, is_valid_timezone
from burnrate_contracts.domain.periods import PeriodKind, compute_periods

router = APIRouter(prefix="/v1/contracts", tags=["contracts"])

Name = Annotated[str, Field(min_length=1, max_length=100)]


class ContractIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: uuid.UUID
    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    title: str = Field(min_length=1, max_length=200)
    owner_email: EmailStr
    start_date: dt.date
    end_date: dt.date
    timezone: str = Field(examples=["Europe/Amsterdam"])
    period: PeriodKind = PeriodKind.MONTHLY
    planned_hours: Decimal = Field(gt=0, max_digits=10, decimal_places=2)
    teams: list[Name] = Field(default_factory=list, max_length=100)
    work_accounts: list[Name] = Field(default_factory=list, max_length=100)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if not is_valid_timezone(value):
            raise ValueError(f"unknown IANA time zone '{value}'")
        return value

    @field_validator("end_date")
    @classmethod
    def _after_start(cls, value: dt.date, info: ValidationInfo) -> dt.date:
        start = info.data.get("start_date")
        if start is not None and value < start:
            raise ValueError("end_date is before start_date")
        return value

    @field_validator("teams", "work_accounts")
    @classmethod
    def _unique(cls, values: list[str]) -> list[str]:
        if len(set(values)) != len(values):
            raise ValueError("values must be unique")
        return values


class PeriodOut(BaseModel):
    start_date: dt.date
    end_date: dt.date
    planned_hours: Hours


class ContractOut(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    code: str
    title: str
    owner_email: str
    start_date: dt.date
    end_date: dt.date
    timezone: str
    period: PeriodKind
    planned_hours: Hours
    teams: list[str]
    work_accounts: list[str]
    status: str
    periods: list[PeriodOut]
    created_at: dt.datetime
    updated_at: dt.datetime


def _periods(row: asyncpg.Record) -> list[ContractPeriod]:
    return [
        ContractPeriod(
            start_date=p.start_date, end_date=p.end_date, planned_seconds=p.planned_seconds
        )
        for p in compute_periods(
            row["start_date"],
            row["end_date"],
            PeriodKind(row["period"]),
            hours_to_seconds(row["planned_hours"]),
        )
    ]


def _out(row: asyncpg.Record) -> ContractOut:
    today = dt.datetime.now(dt.UTC).date()
    return ContractOut(
        **dict(row),
        status=derive_status(row["start_date"], row["end_date"], today),
        periods=[
            PeriodOut(
                start_date=p.start_date,
                end_date=p.end_date,
                planned_hours=seconds_to_hours(p.planned_seconds),
            )
            for p in _periods(row)
        ],
    )


def _changed(row: asyncpg.Record) -> ContractChanged:
    columns = set(row.keys())
    fields = {k: row[k] for k in ContractChanged.model_fields if k in columns}
    return ContractChanged(**fields, periods=_periods(row))


@router.post("", status_code=201, response_model=ContractOut, summary="Create a contract")
async def create_contract(
    body: ContractIn,
    runtime: RuntimeDep,
    _: Annotated[object, Depends(require("contracts:write"))],
) -> ContractOut:
    contract_id = uuid.uuid4()
    async with runtime.pool.acquire() as conn, conn.transaction():
        if not await store.customer_exists(conn, body.customer_id):
            raise Problem(
                422, "Unknown customer", f"No customer {body.customer_id}.", field="customer_id"
            )
        if await store.code_taken(conn, body.code):
            raise Problem(
                409, "Code in use", f"A contract with code '{body.code}' exists.", field="code"
            )
        clashes = await store.work_accounts_in_use(
            conn, body.work_accounts, body.start_date, body.end_date
        )
        if clashes:
            raise Problem(
                409,
                "Work account in use",
                f"Already routed to a contract with overlapping dates: {', '.join(clashes)}.",
                field="work_accounts",
            )
        try:
            await store.insert_contract(conn, {"id": contract_id, **body.model_dump()})
        except asyncpg.UniqueViolationError as exc:  # a concurrent create with the same code
            raise Problem(
                409, "Code in use", f"A contract with code '{body.code}' exists.", field="code"
            ) from exc
        row = await store.get_contract(conn, contract_id)
        await outbox.add(
            conn,
            [
                new_event(
                    EventType.CONTRACT_CREATED,
                    _changed(row),
                    key=contract_id,
                    producer=runtime.settings.service_name,
                )
            ],
        )
    return _out(row)


@router.get("", response_model=Page[ContractOut], summary="List contracts")
async def list_contracts(
    conn: ConnectionDep,
    _: Annotated[object, Depends(require("contracts:read"))],
    customer_id: Annotated[uuid.UUID | None, Query()] = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[ContractOut]:
    rows = await store.list_contracts(conn, decode_cursor(cursor), limit, customer_id)
    next_cursor = (
        encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if len(rows) == limit else None
    )
    return Page(items=[_out(r) for r in rows], next_cursor=next_cursor)


@router.get("/{contract_id}", response_model=ContractOut, summary="One contract with its periods")
async def get_contract(
    contract_id: uuid.UUID,
    conn: ConnectionDep,
    _: Annotated[object, Depends(require("contracts:read"))],
) -> ContractOut:
    row = await store.get_contract(conn, contract_id)
    if row is None:
        raise Problem(404, "Not found", f"No contract {contract_id}.", field="contract_id")
    return _out(row)
