"""Every request and response model of the contracts REST API."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from burnrate_common import auth
from burnrate_common.contract_status import ContractStatus
from burnrate_common.types import Hours
from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationInfo, field_validator

from burnrate_contracts.domain.contracts import Lifecycle, is_valid_timezone
from burnrate_contracts.domain.periods import PeriodKind

# ---------------------------------------------------------------------------------------------
# customers and contacts

CustomerName = Annotated[str, Field(min_length=1, max_length=200)]


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    language: Literal["en", "nl"] = "en"


class ContactPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: EmailStr | None = None
    language: Literal["en", "nl"] | None = None


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: CustomerName
    contacts: list[ContactIn] = Field(default_factory=list, max_length=100)

    @field_validator("contacts")
    @classmethod
    def _unique_emails(cls, contacts: list[ContactIn]) -> list[ContactIn]:
        emails = [c.email.lower() for c in contacts]
        if len(set(emails)) != len(emails):
            raise ValueError("two contacts share an e-mail address")
        return contacts


class CustomerPatch(BaseModel):
    """Contacts change through ``/v1/customers/{id}/contacts``."""

    model_config = ConfigDict(extra="forbid")
    name: CustomerName


class ContactOut(BaseModel):
    id: uuid.UUID
    name: str
    email: str
    language: str


class CustomerOut(BaseModel):
    id: uuid.UUID
    name: str
    contacts: list[ContactOut]
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


# ---------------------------------------------------------------------------------------------
# contracts

Name = Annotated[str, Field(min_length=1, max_length=100)]
JiraKey = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{0,49}$", examples=["ACME"])]
PlannedHours = Annotated[Decimal, Field(ge=0, max_digits=10, decimal_places=2)]


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
    status: ContractStatus = Field(
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
# API keys


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(min_length=1)

    @field_validator("scopes")
    @classmethod
    def _known(cls, scopes: list[str]) -> list[str]:
        unknown = sorted(set(scopes) - auth.SCOPES)
        if unknown:
            raise ValueError(f"unknown scopes {unknown}; known: {sorted(auth.SCOPES)}")
        return sorted(set(scopes))


class ApiKeyOut(BaseModel):
    id: uuid.UUID
    name: str
    scopes: list[str]
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None


class IssuedApiKey(ApiKeyOut):
    key: str = Field(description="Shown once; only its hash is stored")
