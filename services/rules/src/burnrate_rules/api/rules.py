from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

import asyncpg
from burnrate_common.auth import require
from burnrate_common.deps import ConnectionDep, CursorQuery, LimitQuery
from burnrate_common.errors import Problem
from burnrate_common.pagination import Page, decode_cursor, encode_cursor
from fastapi import APIRouter, Depends, Query
from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StrictInt,
    field_validator,
    model_validator,
)

from burnrate_rules import store
from burnrate_rules.domain.rules import Trigger, stages_problem

router = APIRouter(prefix="/v1/rules", tags=["rules"])


class AudienceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    owner: bool = Field(default=True, description="The contract's owner")
    customer_contacts: bool = Field(default=False, description="The customer's contacts (e-mail)")
    emails: list[EmailStr] = Field(default_factory=list, max_length=50)

    @field_validator("emails")
    @classmethod
    def _dedupe(cls, emails: list[str]) -> list[str]:
        unique: dict[str, str] = {}
        for email in emails:
            unique.setdefault(email.lower(), email)
        return list(unique.values())

    @model_validator(mode="after")
    def _someone(self) -> AudienceIn:
        if not (self.owner or self.customer_contacts or self.emails):
            raise ValueError("the audience names nobody: set owner, customer_contacts or emails")
        return self


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    contract_id: uuid.UUID | None = Field(default=None, description="null: every contract")
    trigger: Trigger
    stages: list[StrictInt] = Field(
        min_length=1, max_length=20, description="Percent stages, 1–1000, strictly increasing"
    )
    overage: bool = Field(default=False, description="Also fire once executed exceeds planned")
    audience: AudienceIn = Field(default_factory=AudienceIn)
    enabled: bool = True

    @field_validator("stages")
    @classmethod
    def _valid_stages(cls, stages: list[int]) -> list[int]:
        problem = stages_problem(stages)
        if problem:
            raise ValueError(problem)
        return stages


class AudienceOut(BaseModel):
    owner: bool
    customer_contacts: bool
    emails: list[str]


class RuleOut(BaseModel):
    id: uuid.UUID
    name: str
    contract_id: uuid.UUID | None
    trigger: Trigger
    stages: list[int]
    overage: bool
    audience: AudienceOut
    enabled: bool
    created_at: dt.datetime
    updated_at: dt.datetime


def _out(row: asyncpg.Record) -> RuleOut:
    return RuleOut.model_validate(dict(row))


@router.post("", status_code=201, response_model=RuleOut, summary="Create a notification rule")
async def create_rule(
    body: RuleIn,
    conn: ConnectionDep,
    _: Annotated[object, Depends(require("rules:write"))],
) -> RuleOut:
    try:
        row = await store.insert_rule(
            conn,
            {"id": uuid.uuid4(), **body.model_dump(mode="json"), "contract_id": body.contract_id},
        )
    except asyncpg.ForeignKeyViolationError as exc:
        raise Problem(
            422, "Unknown contract", f"No contract {body.contract_id}.", field="contract_id"
        ) from exc
    return _out(row)


@router.get("", response_model=Page[RuleOut], summary="List notification rules")
async def list_rules(
    conn: ConnectionDep,
    _: Annotated[object, Depends(require("rules:read"))],
    contract_id: Annotated[
        uuid.UUID | None, Query(description="Only the rules set for this one contract")
    ] = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[RuleOut]:
    rows = await store.list_rules(conn, decode_cursor(cursor), limit, contract_id)
    next_cursor = (
        encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if len(rows) == limit else None
    )
    return Page(items=[_out(r) for r in rows], next_cursor=next_cursor)


@router.get("/{rule_id}", response_model=RuleOut, summary="One notification rule")
async def get_rule(
    rule_id: uuid.UUID,
    conn: ConnectionDep,
    _: Annotated[object, Depends(require("rules:read"))],
) -> RuleOut:
    row = await store.get_rule(conn, rule_id)
    if row is None:
        raise Problem(404, "Not found", f"No rule {rule_id}.", field="rule_id")
    return _out(row)
