from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

import asyncpg
from burnrate_common import outbox
from burnrate_common.db import Connection
from burnrate_common.deps import ConnectionDep, CursorQuery, LimitQuery, RuntimeDep
from burnrate_common.errors import Problem, invalid_input
from burnrate_common.events import ContractChanged, ContractPeriod, EventType, Rollover, new_event
from burnrate_common.pagination import Page
from burnrate_common.runtime import Runtime
from burnrate_common.types import Hours, seconds_to_hours
from fastapi import APIRouter, Query, Response
from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from burnrate_contracts import store
from burnrate_contracts.api.concurrency import (
    IfMatch,
    Now,
    ReadPrincipal,
    WritePrincipal,
    check_if_match,
    set_etag,
)
from burnrate_contracts.domain.contracts import (
    Lifecycle,
    Status,
    TransitionRefused,
    derive_status,
    diff,
    hours_to_seconds,
    is_valid_timezone,
    local_today,
    transition,
)
from burnrate_contracts.domain.listing import (
    Sort,
    decode_cursor,
    encode_cursor,
    like_pattern,
)
from burnrate_contracts.domain.periods import PeriodKind, compute_periods, override_errors
from burnrate_contracts.settings import ContractsSettings

router = APIRouter(prefix="/v1/contracts", tags=["contracts"])

Name = Annotated[str, Field(min_length=1, max_length=100)]
JiraKey = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{0,49}$", examples=["ACME"])]
PlannedHours = Annotated[Decimal, Field(ge=0, max_digits=10, decimal_places=2)]
CENT = Decimal("0.01")


class PeriodOverride(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start_date: dt.date = Field(description="The first day of one of the contract's periods")
    planned_hours: PlannedHours


class RolloverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    policy: Literal["none", "next_period", "capped"] = "none"
    cap_hours: Decimal | None = Field(
        default=None, ge=0, max_digits=10, decimal_places=2, validate_default=True
    )
    expires_after_periods: int | None = Field(default=None, ge=1, le=120, validate_default=True)

    @field_validator("cap_hours")
    @classmethod
    def _cap_with_capped(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        policy = info.data.get("policy")
        if policy == "capped" and value is None:
            raise ValueError("a capped rollover needs cap_hours")
        if policy != "capped" and value is not None:
            raise ValueError("cap_hours applies to the capped policy only")
        return value

    @field_validator("expires_after_periods")
    @classmethod
    def _expiry_with_rollover(cls, value: int | None, info: ValidationInfo) -> int | None:
        if info.data.get("policy") == "none" and value is not None:
            raise ValueError("nothing rolls over under the policy none")
        return value


class _ContractRules(BaseModel):
    """Per-field rules shared by create and patch (None is a patch's "not given")."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("timezone", check_fields=False)
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None and not is_valid_timezone(value):
            raise ValueError(f"unknown IANA time zone '{value}'")
        return value

    @field_validator("teams", "work_accounts", "jira_project_keys", check_fields=False)
    @classmethod
    def _unique(cls, values: list[str] | None) -> list[str] | None:
        if values is not None and len(set(values)) != len(values):
            raise ValueError("values must be unique")
        return values


class ContractIn(_ContractRules):
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
    lifecycle: Literal["draft", "active"] = Field(
        default="active", description="Create as a draft, or active at once (the default)"
    )
    jira_project_keys: list[JiraKey] = Field(default_factory=list, max_length=100)
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$", description="ISO 4217 code")
    overage_rate: Decimal | None = Field(
        default=None, ge=0, max_digits=12, decimal_places=4, description="Price of an extra hour"
    )
    allowance_policy: Literal["overage_allowed", "warn_only", "hard_stop"] = "overage_allowed"
    rollover: RolloverIn = Field(default_factory=RolloverIn)
    prorate_partial_periods: bool = False
    period_overrides: list[PeriodOverride] = Field(default_factory=list, max_length=1000)

    @field_validator("end_date")
    @classmethod
    def _after_start(cls, value: dt.date, info: ValidationInfo) -> dt.date:
        start = info.data.get("start_date")
        if start is not None and value < start:
            raise ValueError("end_date is before start_date")
        return value


class ContractPatch(_ContractRules):
    """Only the fields sent change; ``rollover`` and the lists are replaced whole."""

    code: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
    )
    title: str | None = Field(default=None, min_length=1, max_length=200)
    owner_email: EmailStr | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    timezone: str | None = None
    period: PeriodKind | None = None
    planned_hours: Decimal | None = Field(default=None, gt=0, max_digits=10, decimal_places=2)
    teams: list[Name] | None = Field(default=None, max_length=100)
    work_accounts: list[Name] | None = Field(default=None, max_length=100)
    jira_project_keys: list[JiraKey] | None = Field(default=None, max_length=100)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    overage_rate: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=4)
    allowance_policy: Literal["overage_allowed", "warn_only", "hard_stop"] | None = None
    rollover: RolloverIn | None = None
    prorate_partial_periods: bool | None = None
    period_overrides: list[PeriodOverride] | None = Field(default=None, max_length=1000)


#: Fields a PATCH may set to null.
NULLABLE = frozenset({"overage_rate"})


class PeriodOut(BaseModel):
    start_date: dt.date
    end_date: dt.date
    planned_hours: Hours


class OverrideOut(BaseModel):
    start_date: dt.date
    planned_hours: Hours


class RolloverOut(BaseModel):
    policy: str
    cap_hours: Hours | None
    expires_after_periods: int | None


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
    lifecycle: Lifecycle
    status: Status = Field(
        description="draft, not_started, active, expiring, expired or closed; "
        "exhausted is derived by reporting, which knows the consumption"
    )
    jira_project_keys: list[str]
    currency: str
    overage_rate: Decimal | None
    allowance_policy: str
    rollover: RolloverOut
    prorate_partial_periods: bool
    period_overrides: list[OverrideOut]
    periods: list[PeriodOut]
    version: int
    closed_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


class HistoryEntry(BaseModel):
    version: int
    action: str
    actor: str = Field(description="The name of the API key that made the change")
    at: dt.datetime
    changes: dict[str, dict[str, Any]] = Field(description='{field: {"from": old, "to": new}}')


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


def _out(row: asyncpg.Record, now: dt.datetime, expiring_within_days: int) -> ContractOut:
    values = {k: row[k] for k in ContractOut.model_fields if k in set(row.keys())}
    today = local_today(now, row["timezone"])
    return ContractOut(
        **values
        | {
            "rollover": _rollover(row),
            "status": derive_status(
                row["lifecycle"], row["start_date"], row["end_date"], today, expiring_within_days
            ),
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


def _changed(row: asyncpg.Record) -> ContractChanged:
    fields = {k: row[k] for k in ContractChanged.model_fields if k in set(row.keys())}
    return ContractChanged(
        **fields | {"rollover": Rollover(**_rollover(row)), "periods": _periods(row)}
    )


def _state(row: asyncpg.Record) -> dict[str, Any]:
    """The contract as the API writes it, JSON-ready: what history diffs and PATCH merges."""

    def plain(value: Any) -> Any:
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, Decimal):
            return str(value)
        return value

    state = {f: plain(row[f]) for f in store.CONTRACT_FIELDS if not f.startswith("rollover_")}
    state["customer_id"] = str(row["customer_id"])
    state["rollover"] = {k: plain(v) for k, v in _rollover(row).items()}
    return state


def _columns(body: ContractIn) -> dict[str, Any]:
    """The stored columns of a validated contract."""
    values = body.model_dump(exclude={"rollover", "period_overrides"})
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


async def _check_unique(
    conn: Connection, body: ContractIn, except_id: uuid.UUID | None = None
) -> None:
    await store.lock_routes(conn)
    if await store.code_taken(conn, body.code, except_id):
        raise Problem(
            409, "Code in use", f"A contract with code '{body.code}' exists.", field="code"
        )
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


def _event(runtime: Runtime, event_type: EventType, row: asyncpg.Record) -> Any:
    return new_event(
        event_type, _changed(row), key=row["id"], producer=runtime.settings.service_name
    )


def _window(runtime: Runtime) -> int:
    settings = runtime.settings
    assert isinstance(settings, ContractsSettings)
    return settings.expiring_within_days


def _respond(
    response: Response, row: asyncpg.Record, now: dt.datetime, runtime: Runtime
) -> ContractOut:
    set_etag(response, row["version"])
    return _out(row, now, _window(runtime))


# ---------------------------------------------------------------------------------------------
# routes


@router.post("", status_code=201, response_model=ContractOut, summary="Create a contract")
async def create_contract(
    body: ContractIn, runtime: RuntimeDep, principal: WritePrincipal, now: Now, response: Response
) -> ContractOut:
    _check_overrides(body)
    contract_id = uuid.uuid4()
    async with runtime.pool.acquire() as conn, conn.transaction():
        if not await store.customer_exists(conn, body.customer_id):
            raise Problem(
                422, "Unknown customer", f"No customer {body.customer_id}.", field="customer_id"
            )
        await _check_unique(conn, body)
        try:
            await store.insert_contract(conn, contract_id, _columns(body))
        except asyncpg.UniqueViolationError as exc:  # a concurrent create with the same code
            raise Problem(
                409, "Code in use", f"A contract with code '{body.code}' exists.", field="code"
            ) from exc
        except asyncpg.ForeignKeyViolationError as exc:  # the customer deleted meanwhile
            raise Problem(
                422, "Unknown customer", f"No customer {body.customer_id}.", field="customer_id"
            ) from exc
        row = await store.get_contract(conn, contract_id)
        assert row is not None
        await store.insert_history(
            conn, "contract", contract_id, 1, "created", principal.name, diff({}, _state(row))
        )
        await outbox.add(conn, [_event(runtime, EventType.CONTRACT_CREATED, row)])
    return _respond(response, row, now, runtime)


StatusQuery = Annotated[
    list[Status] | None,
    Query(description="One or more derived statuses (repeat the parameter)"),
]


@router.get("", response_model=Page[ContractOut], summary="List contracts")
async def list_contracts(
    conn: ConnectionDep,
    runtime: RuntimeDep,
    _: ReadPrincipal,
    now: Now,
    status: StatusQuery = None,
    customer_id: Annotated[uuid.UUID | None, Query()] = None,
    owner: Annotated[str | None, Query(max_length=320, description="Owner e-mail")] = None,
    team: Annotated[str | None, Query(max_length=100)] = None,
    expiring_within_days: Annotated[
        int | None,
        Query(ge=0, le=3650, description="Active contracts whose end date is at most N days away"),
    ] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=100, description="Text in code or title")
    ] = None,
    sort: Annotated[
        str, Query(description="code, end_date or created_at; '-' first for descending")
    ] = "created_at",
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[ContractOut]:
    try:
        order = Sort.parse(sort)
    except ValueError as exc:
        raise Problem(422, "Invalid input", str(exc), field="sort") from exc
    try:
        after = decode_cursor(cursor, order) if cursor else None
    except ValueError as exc:
        raise Problem(400, "Invalid cursor", str(exc), field="cursor") from exc
    rows = await store.list_contracts(
        conn,
        now=now,
        expiring_window_days=_window(runtime),
        sort=order,
        after=after,
        limit=limit + 1,
        statuses=[s.value for s in status or []],
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
    return Page(items=[_out(r, now, _window(runtime)) for r in rows], next_cursor=next_cursor)


async def _existing(conn: Connection, contract_id: uuid.UUID, *, lock: bool) -> asyncpg.Record:
    row = await store.get_contract(conn, contract_id, for_update=lock)
    if row is None:
        raise Problem(404, "Not found", f"No contract {contract_id}.", field="contract_id")
    return row


@router.get("/{contract_id}", response_model=ContractOut, summary="One contract with its periods")
async def get_contract(
    contract_id: uuid.UUID,
    conn: ConnectionDep,
    runtime: RuntimeDep,
    _: ReadPrincipal,
    now: Now,
    response: Response,
) -> ContractOut:
    return _respond(response, await _existing(conn, contract_id, lock=False), now, runtime)


@router.patch(
    "/{contract_id}",
    response_model=ContractOut,
    summary="Change a contract (If-Match required; dates or period kind recompute the periods)",
)
async def patch_contract(
    contract_id: uuid.UUID,
    body: ContractPatch,
    runtime: RuntimeDep,
    principal: WritePrincipal,
    now: Now,
    response: Response,
    if_match: IfMatch = None,
) -> ContractOut:
    sent = body.model_dump(include=body.model_fields_set)
    for name, value in sent.items():
        if value is None and name not in NULLABLE:
            raise Problem(422, "Invalid input", f"{name}: may not be null", field=name)
    async with runtime.pool.acquire() as conn, conn.transaction():
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
        columns = _columns(merged)
        changed = {
            k: v
            for k, v in columns.items()
            if k in store.CONTRACT_FIELDS and k != "lifecycle" and v != row[k]
        }
        if not changed:
            return _respond(response, row, now, runtime)
        await _check_unique(conn, merged, except_id=contract_id)
        try:
            new = await store.update_contract(conn, contract_id, changed)
        except asyncpg.UniqueViolationError as exc:
            raise Problem(
                409, "Code in use", f"A contract with code '{merged.code}' exists.", field="code"
            ) from exc
        await store.insert_history(
            conn,
            "contract",
            contract_id,
            new["version"],
            "updated",
            principal.name,
            diff(before, _state(new)),
        )
        await outbox.add(conn, [_event(runtime, EventType.CONTRACT_UPDATED, new)])
    return _respond(response, new, now, runtime)


PAST = {"activate": "activated", "close": "closed"}


async def _transition(
    action: str,
    contract_id: uuid.UUID,
    runtime: Runtime,
    principal: Any,
    now: dt.datetime,
    response: Response,
    if_match: str | None,
) -> ContractOut:
    async with runtime.pool.acquire() as conn, conn.transaction():
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
            principal.name,
            diff(_state(row), _state(new)),
        )
        await outbox.add(conn, [_event(runtime, EventType.CONTRACT_UPDATED, new)])
    return _respond(response, new, now, runtime)


@router.post(
    "/{contract_id}/activate", response_model=ContractOut, summary="Activate a draft contract"
)
async def activate_contract(
    contract_id: uuid.UUID,
    runtime: RuntimeDep,
    principal: WritePrincipal,
    now: Now,
    response: Response,
    if_match: IfMatch = None,
) -> ContractOut:
    return await _transition("activate", contract_id, runtime, principal, now, response, if_match)


@router.post(
    "/{contract_id}/close",
    response_model=ContractOut,
    summary="Close a contract (final; its history and periods are kept)",
)
async def close_contract(
    contract_id: uuid.UUID,
    runtime: RuntimeDep,
    principal: WritePrincipal,
    now: Now,
    response: Response,
    if_match: IfMatch = None,
) -> ContractOut:
    return await _transition("close", contract_id, runtime, principal, now, response, if_match)


@router.delete(
    "/{contract_id}",
    status_code=204,
    summary="Delete a draft contract (If-Match optional); close an active one instead",
)
async def delete_contract(
    contract_id: uuid.UUID,
    runtime: RuntimeDep,
    principal: WritePrincipal,
    if_match: IfMatch = None,
) -> Response:
    async with runtime.pool.acquire() as conn, conn.transaction():
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
        await store.delete_contract(conn, contract_id)
        await store.insert_history(
            conn,
            "contract",
            contract_id,
            row["version"] + 1,
            "deleted",
            principal.name,
            diff({"lifecycle": row["lifecycle"]}, {"lifecycle": "deleted"}),
        )
        # The last state, marked deleted: replicas keep it as a tombstone.
        last = _changed(row).model_copy(update={"lifecycle": "deleted"})
        await outbox.add(
            conn,
            [
                new_event(
                    EventType.CONTRACT_DELETED,
                    last,
                    key=contract_id,
                    producer=runtime.settings.service_name,
                )
            ],
        )
    return Response(status_code=204)


@router.get(
    "/{contract_id}/history",
    response_model=Page[HistoryEntry],
    summary="Every change of a contract: who, when, what changed (oldest first)",
)
async def contract_history(
    contract_id: uuid.UUID,
    conn: ConnectionDep,
    _: ReadPrincipal,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[HistoryEntry]:
    # A deleted contract's history is still there: its last entry says "deleted".
    if not await store.has_history(conn, "contract", contract_id):
        await _existing(conn, contract_id, lock=False)
    return await history_page(conn, "contract", contract_id, limit, cursor)


async def history_page(
    conn: Connection, aggregate: str, aggregate_id: uuid.UUID, limit: int, cursor: str | None
) -> Page[HistoryEntry]:
    try:
        after = int(cursor) if cursor else 0
    except ValueError as exc:
        raise Problem(
            400, "Invalid cursor", "The cursor is not one this API returned.", field="cursor"
        ) from exc
    rows = await store.list_history(conn, aggregate, aggregate_id, after, limit + 1)
    more, rows = len(rows) > limit, rows[:limit]
    return Page(
        items=[HistoryEntry.model_validate(dict(r)) for r in rows],
        next_cursor=str(rows[-1]["version"]) if more else None,
    )
