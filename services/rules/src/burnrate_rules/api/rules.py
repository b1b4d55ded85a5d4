from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, cast
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import asyncpg
from burnrate_common.auth import require
from burnrate_common.db import Connection
from burnrate_common.deps import ConnectionDep, CursorQuery, LimitQuery, RuntimeDep
from burnrate_common.errors import Problem
from burnrate_common.events import Trigger
from burnrate_common.pagination import Page, decode_cursor, encode_cursor
from burnrate_common.types import Hours, seconds_to_hours
from fastapi import APIRouter, Depends, Query, Response
from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StrictInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

from burnrate_rules import alerting, store
from burnrate_rules.daily import clock_of
from burnrate_rules.domain.rules import default_stages, stages_problem
from burnrate_rules.settings import RulesSettings

router = APIRouter(prefix="/v1/rules", tags=["rules"])


class AudienceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    owner: bool = Field(default=True, description="The contract's owner")
    teams: bool = Field(default=False, description="The contract's teams (in-app feed)")
    customer_contacts: bool = Field(default=False, description="The customer's contacts (e-mail)")
    emails: list[EmailStr] = Field(default_factory=list, max_length=50)
    webhook_url: str | None = Field(
        default=None, max_length=2000, description="https (http only in development)"
    )
    include_internal: bool = Field(
        default=False, description="Customer mail may show internal names and costs"
    )

    @field_validator("emails")
    @classmethod
    def _dedupe(cls, emails: list[str]) -> list[str]:
        unique: dict[str, str] = {}
        for email in emails:
            unique.setdefault(email.lower(), email)
        return list(unique.values())

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("give an absolute http(s) URL with a host")
        if parts.username or parts.password:
            raise ValueError("credentials do not belong in the URL")
        return url

    @model_validator(mode="after")
    def _someone(self) -> AudienceIn:
        if not (
            self.owner or self.teams or self.customer_contacts or self.emails or self.webhook_url
        ):
            raise ValueError(
                "the audience names nobody: set owner, teams, customer_contacts, emails or "
                "webhook_url"
            )
        return self


def _check_stages(trigger: Trigger, stages: list[int] | None) -> list[int]:
    if stages is None:
        default = default_stages(trigger)
        if default is None:
            raise ValueError(f"{trigger.value} needs stages")
        return list(default)
    problem = stages_problem(trigger, stages)
    if problem:
        raise ValueError(problem)
    return stages


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    contract_id: uuid.UUID | None = Field(default=None, description="Only this contract")
    customer_id: uuid.UUID | None = Field(
        default=None, description="Only this customer's contracts (null with contract_id: all)"
    )
    trigger: Trigger
    stages: list[StrictInt] | None = Field(
        default=None,
        max_length=20,
        validate_default=True,
        description="In the trigger's unit and firing order; optional for overage (0), "
        "forecast_over_plan (100) and worklog_outside_dates (0)",
    )
    overage: bool = Field(
        default=False, description="percent_consumed only: also fire once executed exceeds plan"
    )
    audience: AudienceIn = Field(default_factory=AudienceIn)
    enabled: bool = True

    @field_validator("customer_id")
    @classmethod
    def _one_scope(cls, customer_id: uuid.UUID | None, info: ValidationInfo) -> uuid.UUID | None:
        if customer_id is not None and info.data.get("contract_id") is not None:
            raise ValueError("give contract_id or customer_id, not both")
        return customer_id

    @field_validator("stages")
    @classmethod
    def _valid_stages(cls, stages: list[int] | None, info: ValidationInfo) -> list[int] | None:
        trigger = info.data.get("trigger")
        if trigger is None:
            return stages  # the trigger's own error says it
        return _check_stages(trigger, stages)

    @field_validator("overage")
    @classmethod
    def _overage_is_percent_only(cls, overage: bool, info: ValidationInfo) -> bool:
        trigger = info.data.get("trigger")
        if overage and trigger is not None and trigger != Trigger.PERCENT_CONSUMED:
            raise ValueError("only percent_consumed rules take overage; use the overage trigger")
        return overage


class RulePatch(BaseModel):
    """Only the fields sent change; ``audience`` is replaced as a whole."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    enabled: bool | None = None
    stages: list[StrictInt] | None = Field(default=None, max_length=20)
    overage: bool | None = None
    audience: AudienceIn | None = None


class AudienceOut(BaseModel):
    owner: bool
    teams: bool = False
    customer_contacts: bool
    emails: list[str]
    webhook_url: str | None = None
    include_internal: bool = False


class RuleOut(BaseModel):
    id: uuid.UUID
    name: str
    contract_id: uuid.UUID | None
    customer_id: uuid.UUID | None
    trigger: Trigger
    stages: list[int]
    overage: bool
    audience: AudienceOut
    enabled: bool
    created_at: dt.datetime
    updated_at: dt.datetime


def _out(row: asyncpg.Record) -> RuleOut:
    return RuleOut.model_validate(dict(row))


def _check_webhook(settings: RulesSettings, audience: AudienceIn | None) -> None:
    url = audience.webhook_url if audience else None
    if url and settings.environment != "development" and urlsplit(url).scheme != "https":
        raise Problem(
            422,
            "Invalid input",
            "audience.webhook_url: webhooks must use https outside development",
            field="audience.webhook_url",
        )


async def _rule_or_404(
    conn: Connection, rule_id: uuid.UUID, *, for_update: bool = False
) -> asyncpg.Record:
    row = await store.get_rule(conn, rule_id, for_update=for_update)
    if row is None:
        raise Problem(404, "Not found", f"No rule {rule_id}.", field="rule_id")
    return row


@router.post("", status_code=201, response_model=RuleOut, summary="Create a notification rule")
async def create_rule(
    body: RuleIn,
    conn: ConnectionDep,
    runtime: RuntimeDep,
    _: Annotated[object, Depends(require("rules:write"))],
) -> RuleOut:
    _check_webhook(cast(RulesSettings, runtime.settings), body.audience)
    try:
        async with conn.transaction():
            row = await store.insert_rule(
                conn,
                {
                    "id": uuid.uuid4(),
                    **body.model_dump(mode="json"),
                    "contract_id": body.contract_id,
                    "customer_id": body.customer_id,
                },
            )
            await store.rearm_clock(conn, body.contract_id, body.customer_id)
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
    customer_id: Annotated[
        uuid.UUID | None, Query(description="Only the rules set for this one customer")
    ] = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[RuleOut]:
    rows = await store.list_rules(conn, decode_cursor(cursor), limit, contract_id, customer_id)
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
    return _out(await _rule_or_404(conn, rule_id))


@router.patch(
    "/{rule_id}",
    response_model=RuleOut,
    summary="Change a rule: enable or disable it, its stages, its audience, its name",
)
async def patch_rule(
    rule_id: uuid.UUID,
    body: RulePatch,
    conn: ConnectionDep,
    runtime: RuntimeDep,
    _: Annotated[object, Depends(require("rules:write"))],
) -> RuleOut:
    for name in body.model_fields_set:
        if getattr(body, name) is None:
            raise Problem(422, "Invalid input", f"{name}: may not be null", field=name)
    _check_webhook(cast(RulesSettings, runtime.settings), body.audience)
    async with conn.transaction():
        rule = await _rule_or_404(conn, rule_id, for_update=True)
        trigger = Trigger(rule["trigger"])
        changes: dict[str, Any] = body.model_dump(mode="json", exclude_unset=True)
        if body.audience is not None:  # replaced as a whole, defaults included
            changes["audience"] = body.audience.model_dump(mode="json")
        if body.stages is not None:
            problem = stages_problem(trigger, body.stages)
            if problem:
                raise Problem(422, "Invalid input", f"stages: {problem}", field="stages")
        if body.overage and trigger != Trigger.PERCENT_CONSUMED:
            raise Problem(
                422,
                "Invalid input",
                "overage: only percent_consumed rules take overage; use the overage trigger",
                field="overage",
            )
        row = await store.update_rule(conn, rule_id, changes)
        # Stages already fired stay fired; a new or re-enabled stage fires at the next
        # consumption or clock tick, which looks at the rule's contracts again today.
        await store.rearm_clock(conn, rule["contract_id"], rule["customer_id"])
    return _out(row)


# --- opt-outs --------------------------------------------------------------------------


class OptOutOut(BaseModel):
    rule_id: uuid.UUID
    contract_id: uuid.UUID
    created_at: dt.datetime


@router.put(
    "/{rule_id}/opt-outs/{contract_id}",
    response_model=OptOutOut,
    summary="This contract opts out of a rule for every contract (or for its customer's)",
)
async def put_opt_out(
    rule_id: uuid.UUID,
    contract_id: uuid.UUID,
    conn: ConnectionDep,
    _: Annotated[object, Depends(require("rules:write"))],
) -> OptOutOut:
    rule = await _rule_or_404(conn, rule_id)
    if rule["contract_id"] is not None:
        raise Problem(
            422,
            "Not a shared rule",
            "This rule is set for one contract; disable it instead (PATCH enabled=false).",
            field="rule_id",
        )
    try:
        row = await store.put_opt_out(conn, rule_id, contract_id)
    except asyncpg.ForeignKeyViolationError as exc:
        raise Problem(404, "Not found", f"No contract {contract_id}.", field="contract_id") from exc
    return OptOutOut.model_validate(dict(row))


@router.delete(
    "/{rule_id}/opt-outs/{contract_id}",
    status_code=204,
    summary="The contract follows the rule again",
)
async def delete_opt_out(
    rule_id: uuid.UUID,
    contract_id: uuid.UUID,
    conn: ConnectionDep,
    _: Annotated[object, Depends(require("rules:write"))],
) -> Response:
    await _rule_or_404(conn, rule_id)
    async with conn.transaction():
        if await store.delete_opt_out(conn, rule_id, contract_id):
            await store.rearm_clock(conn, contract_id, None)
    return Response(status_code=204)


@router.get(
    "/{rule_id}/opt-outs",
    response_model=Page[OptOutOut],
    summary="The contracts that opted out of a rule",
)
async def list_opt_outs(
    rule_id: uuid.UUID,
    conn: ConnectionDep,
    _: Annotated[object, Depends(require("rules:read"))],
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[OptOutOut]:
    await _rule_or_404(conn, rule_id)
    rows = await store.list_opt_outs(conn, rule_id, decode_cursor(cursor), limit)
    next_cursor = (
        encode_cursor(rows[-1]["created_at"], rows[-1]["contract_id"])
        if len(rows) == limit
        else None
    )
    return Page(items=[OptOutOut.model_validate(dict(r)) for r in rows], next_cursor=next_cursor)


# --- preview ---------------------------------------------------------------------------


class PreviewAlertOut(BaseModel):
    contract_id: uuid.UUID
    customer_id: uuid.UUID
    period_start: dt.date
    period_end: dt.date
    trigger: Trigger
    stage: str = Field(description="The stage the alert would name (the highest due)")
    stages: list[str] = Field(description="Every stage it would mark fired, in firing order")
    planned_hours: Hours
    executed_hours: Hours
    days_before_end: int | None = None
    forecast_hours: Hours | None = None
    forecast_exhaustion_date: dt.date | None = None
    unused_hours: Hours | None = None
    outside_dates_hours: Hours | None = None


class PreviewOut(BaseModel):
    rule_id: uuid.UUID
    evaluated_at: dt.datetime
    contracts_evaluated: int
    items: list[PreviewAlertOut]


def _hours(seconds: int | None) -> Hours | None:
    return None if seconds is None else seconds_to_hours(seconds)


@router.post(
    "/{rule_id}/preview",
    response_model=PreviewOut,
    summary="The alerts this rule would raise on today's data, without raising them",
)
async def preview_rule(
    rule_id: uuid.UUID,
    conn: ConnectionDep,
    runtime: RuntimeDep,
    _: Annotated[object, Depends(require("rules:read"))],
) -> PreviewOut:
    settings = cast(RulesSettings, runtime.settings)
    now = clock_of(runtime).now()
    rule = await _rule_or_404(conn, rule_id)
    contracts = await store.contracts_in_scope(
        conn, rule_id, rule["contract_id"], rule["customer_id"]
    )
    ids = [c["id"] for c in contracts]
    days = [now.astimezone(ZoneInfo(c["timezone"])).date() for c in contracts]
    periods: dict[uuid.UUID, list[asyncpg.Record]] = {}
    for p in await store.periods_around(conn, ids, days, settings.clock_catch_up_days):
        periods.setdefault(p["contract_id"], []).append(p)
    fired: dict[uuid.UUID, dict[tuple[uuid.UUID, dt.date], set[str]]] = {}
    for (cid, start), stages in (await store.fired_stages_of_rule(conn, rule_id, ids)).items():
        fired.setdefault(cid, {})[(rule_id, start)] = stages
    items = []
    for contract in contracts:
        for c in alerting.plan(
            "clock",
            contract,
            periods.get(contract["id"], []),
            [rule],
            now,
            fired.get(contract["id"], {}),
            settings.forecast_min_elapsed_percent,
        ):
            facts = c.due.facts
            items.append(
                PreviewAlertOut(
                    contract_id=contract["id"],
                    customer_id=contract["customer_id"],
                    period_start=c.period["period_start"],
                    period_end=c.period["period_end"],
                    trigger=c.due.trigger,
                    stage=c.due.stage,
                    stages=list(c.due.stages),
                    planned_hours=seconds_to_hours(c.period["planned_seconds"]),
                    executed_hours=seconds_to_hours(c.period["executed_seconds"]),
                    days_before_end=facts.days_before_end,
                    forecast_hours=_hours(facts.forecast_seconds),
                    forecast_exhaustion_date=facts.forecast_exhaustion_date,
                    unused_hours=_hours(facts.unused_seconds),
                    outside_dates_hours=_hours(facts.outside_dates_seconds),
                )
            )
    return PreviewOut(
        rule_id=rule_id, evaluated_at=now, contracts_evaluated=len(contracts), items=items
    )
