"""Every request and response model of the contracts REST API."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from burnrate_common import auth
from burnrate_common.contract_status import ContractStatus
from burnrate_common.contract_terms import (
    TIME_OF_DAY_SCHEMA,
    RateRow,
    ServiceLevelTerms,
    ShiftWindow,
    Target,
    TimeOfDay,
)
from burnrate_common.timezones import is_valid_timezone
from burnrate_common.types import Hours
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    JsonValue,
    ValidationInfo,
    field_validator,
)

from burnrate_contracts.domain.contracts import Lifecycle
from burnrate_contracts.domain.periods import PeriodKind
from burnrate_contracts.domain.terms import holiday_country_error, is_currency, shift_errors

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


class CustomerBilling(BaseModel):
    """What an invoice needs to name the buyer (all optional; the UBL export of an invoice
    says which are missing when it needs them: Peppol needs the endpoint and the country)."""

    model_config = ConfigDict(extra="forbid")
    legal_name: str | None = Field(
        default=None, min_length=1, max_length=200, description="The registered name"
    )
    address_lines: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=3
    )
    city: str | None = Field(default=None, min_length=1, max_length=100)
    postcode: str | None = Field(default=None, min_length=1, max_length=20)
    country: str | None = Field(
        default=None, pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2", examples=["NL"]
    )
    vat_id: str | None = Field(
        default=None, pattern=r"^[A-Z]{2}[0-9A-Za-z+*.]{2,13}$", examples=["NL123456789B01"]
    )
    peppol_endpoint_id: str | None = Field(
        default=None, min_length=1, max_length=100, examples=["12345678"]
    )
    peppol_scheme: str | None = Field(
        default=None,
        pattern=r"^[0-9]{4}$",
        validate_default=True,
        description="ISO 6523 ICD of the endpoint (0106: KvK, 0190: OIN, 9944: NL VAT)",
        examples=["0106"],
    )

    @field_validator("peppol_scheme")
    @classmethod
    def _endpoint_with_scheme(cls, scheme: str | None, info: ValidationInfo) -> str | None:
        if (scheme is None) != (info.data.get("peppol_endpoint_id") is None):
            raise ValueError("peppol_endpoint_id and peppol_scheme go together")
        return scheme


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: CustomerName
    contacts: list[ContactIn] = Field(default_factory=list, max_length=100)
    billing: CustomerBilling | None = None

    @field_validator("contacts")
    @classmethod
    def _unique_emails(cls, contacts: list[ContactIn]) -> list[ContactIn]:
        emails = [c.email.lower() for c in contacts]
        if len(set(emails)) != len(emails):
            raise ValueError("two contacts share an e-mail address")
        return contacts


class CustomerPatch(BaseModel):
    """Contacts change through ``/v1/customers/{id}/contacts``. ``billing`` replaces the
    billing details as a whole (``null`` removes them); a field left out is kept."""

    model_config = ConfigDict(extra="forbid")
    name: CustomerName | None = None
    billing: CustomerBilling | None = None


class ContactOut(BaseModel):
    id: uuid.UUID
    name: str
    email: str
    language: str


class CustomerOut(BaseModel):
    id: uuid.UUID
    name: str
    contacts: list[ContactOut]
    billing: CustomerBilling | None = None
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

    @field_validator("currency", check_fields=False)
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        return _known_currency(value) if value is not None else None

    @field_validator("teams", "work_accounts", "jira_project_keys", check_fields=False)
    @classmethod
    def _unique(cls, values: list[str] | None) -> list[str] | None:
        if values is not None and len(set(values)) != len(values):
            raise ValueError("values must be unique")
        return values


#: A contract's dates lie in 1970-2199 (as worklogs' do): the periods between them are all
#: computed and carried in the contract's events.
ContractDate = Annotated[
    dt.date,
    Field(ge=dt.date(1970, 1, 1), le=dt.date(2199, 12, 31), description="1970-01-01 to 2199-12-31"),
]


class ContractIn(_ContractRules):
    customer_id: uuid.UUID
    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    title: str = Field(min_length=1, max_length=200)
    owner_email: EmailStr
    start_date: ContractDate
    end_date: ContractDate
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
    billing: BillingIn | None = Field(
        default=None, description="How billing prices the hours (null: not billed by Burnrate)"
    )
    service_levels: list[LevelAssignmentIn] = Field(
        default_factory=list,
        max_length=100,
        description="The levels from their dates on (on create; later: "
        "POST /v1/contracts/{id}/service-levels)",
    )

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
    start_date: ContractDate | None = None
    end_date: ContractDate | None = None
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
    billing: BillingIn | None = Field(default=None, description="Replaced whole; null removes it")


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
    billing: BillingOut | None
    service_levels: list[ServiceLevelTerms] = Field(description="Every version, oldest first")
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


# ---------------------------------------------------------------------------------------------
# rate cards and billing terms

RowId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="A stable reference to the row, named on every line it prices",
        examples=["night"],
    ),
]
Money = Annotated[Decimal, Field(max_digits=14, decimal_places=4)]
Selector = Annotated[str | None, Field(default=None, min_length=1, max_length=100)]


class RateRowIn(BaseModel):
    """One row of a rate card: which hours it prices (null: any) and how."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"id": "all", "mode": "price", "amount": "50.00"},
                {"id": "night", "shift": "night", "mode": "multiply", "amount": "1.5"},
                {
                    "id": "onsite-2027",
                    "activity": "on-site repair",
                    "location": "site B",
                    "mode": "add",
                    "amount": "10.00",
                    "effective_from": "2027-01-01",
                },
            ]
        },
    )
    id: RowId | None = Field(default=None, description="Left out: one is made up")
    activity: Selector = None
    location: Selector = None
    shift: Selector = Field(default=None, description="A shift name of the contract's terms")
    mode: Literal["price", "replace", "add", "multiply"] = Field(
        default="price",
        description="price: amount per hour; replace: the base price becomes amount; add: "
        "amount (may be negative) added to the base price; multiply: the base price × amount",
    )
    amount: Money
    effective_from: dt.date | None = None
    effective_to: dt.date | None = Field(default=None, description="Inclusive")

    @field_validator("amount")
    @classmethod
    def _not_negative(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        if value < 0 and info.data.get("mode") != "add":
            raise ValueError("a price or multiplier cannot be negative (only mode add may be)")
        return value

    @field_validator("effective_to")
    @classmethod
    def _after_from(cls, value: dt.date | None, info: ValidationInfo) -> dt.date | None:
        start = info.data.get("effective_from")
        if value is not None and start is not None and value < start:
            raise ValueError("effective_to is before effective_from")
        return value


class RateOverrideIn(RateRowIn):
    """A contract's own row, added to its card's rows or taking the place of one."""

    replaces: RowId | None = Field(
        default=None, description="The id of the card row this row takes the place of"
    )


class RateCardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, examples=["Standard 2026"])
    description: str = Field(default="", max_length=2000)
    rows: list[RateRowIn] = Field(default_factory=list, max_length=1000)


class RateCardPatch(BaseModel):
    """Only the fields sent change; ``rows`` is replaced whole (send the ids to keep them)."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=2000)
    rows: list[RateRowIn] | None = Field(default=None, max_length=1000)


class RateCardOut(BaseModel):
    id: uuid.UUID
    name: str
    description: str
    rows: list[RateRow]
    contracts: int = Field(description="How many contracts use the card")
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class ShiftIn(BaseModel):
    """A named window of local time in the contract's zone that selects rate rows."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "night",
                    "kind": "window",
                    "weekdays": [1, 2, 3, 4, 5],
                    "start": "22:00",
                    "end": "06:00",
                },
                {"name": "weekend", "kind": "weekend"},
                {"name": "holiday", "kind": "holiday"},
            ]
        },
    )
    name: str = Field(min_length=1, max_length=100)
    kind: Literal["window", "weekend", "holiday"] = Field(
        default="window",
        description="window: from start to end on the weekdays (end ≤ start: into the next "
        "day); weekend: Saturday and Sunday; holiday: the public holidays of holiday_country "
        "and the extra_holidays",
    )
    weekdays: list[int] = Field(
        default_factory=lambda: [1, 2, 3, 4, 5], description="ISO weekdays, 1 = Monday"
    )
    start: TimeOfDayIn | None = None
    end: TimeOfDayIn | None = None


class RoundingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    increment_minutes: int = Field(default=0, ge=0, le=1440, examples=[15])
    minimum_minutes: int = Field(default=0, ge=0, le=1440, examples=[60])
    level: Literal["worklog", "ticket", "day"] = "worklog"


class ServiceCreditIn(BaseModel):
    """What each breached resolution target credits: a percentage of the period fee or a
    fixed amount, capped per period."""

    model_config = ConfigDict(extra="forbid")
    percent_of_fee: Decimal | None = Field(default=None, gt=0, le=100, decimal_places=2)
    fixed_amount: Money | None = Field(default=None, gt=0, validate_default=True)
    cap_per_period: Money | None = Field(default=None, ge=0)

    @field_validator("fixed_amount")
    @classmethod
    def _one_kind(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        percent = info.data.get("percent_of_fee")
        if (value is None) == (percent is None) and "percent_of_fee" in info.data:
            raise ValueError("give either percent_of_fee or fixed_amount")
        return value


def _check_country(cls: type, value: str | None) -> str | None:
    message = holiday_country_error(value, None)
    if message is not None:
        raise ValueError(message)
    return value


def _check_subdivision(cls: type, value: str | None, info: ValidationInfo) -> str | None:
    """Checked against the country when the country is valid (else that one is named)."""
    if value is None:
        return None
    if "holiday_country" not in info.data:
        return value
    message = holiday_country_error(info.data["holiday_country"], value)
    if message is not None:
        raise ValueError(message)
    return value


def _known_currency(value: str) -> str:
    if not is_currency(value):
        raise ValueError(f"'{value}' is not an ISO 4217 currency code")
    return value


class BillingIn(BaseModel):
    """How billing prices the contract's hours. Currency, allowance policy and rollover are
    fields of the contract itself."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "base_rate": "50.00",
                    "rate_card_id": "0b9f3c56-7c2e-4d0f-9a59-0d1b3c9e2f11",
                    "rate_overrides": [
                        {
                            "id": "night",
                            "replaces": "night",
                            "shift": "night",
                            "mode": "multiply",
                            "amount": "1.5",
                        }
                    ],
                    "shifts": [
                        {
                            "name": "night",
                            "weekdays": [1, 2, 3, 4, 5],
                            "start": "22:00",
                            "end": "06:00",
                        }
                    ],
                    "holiday_country": "NL",
                    "rounding": {
                        "increment_minutes": 15,
                        "minimum_minutes": 60,
                        "level": "worklog",
                    },
                    "vat_rate": "0.21",
                    "period_fee": "250.00",
                    "debt_cap": "500.00",
                }
            ]
        },
    )
    base_rate: Money | None = Field(
        default=None, ge=0, description="Price of an hour no row prices (left out: overage_rate)"
    )
    rate_card_id: uuid.UUID | None = Field(default=None, description="A rate card's id")
    rate_overrides: list[RateOverrideIn] = Field(default_factory=list, max_length=1000)
    shifts: list[ShiftIn] = Field(default_factory=list, max_length=50)
    holiday_country: str | None = Field(
        default=None,
        description="ISO 3166-1 alpha-2, as the holidays package knows it",
        examples=["NL"],
    )
    holiday_subdivision: str | None = Field(default=None, examples=["BY"])
    extra_holidays: list[dt.date] = Field(
        default_factory=list, max_length=1000, description="The MSP's own dates"
    )
    rounding: RoundingIn = Field(default_factory=RoundingIn)
    vat_rate: Decimal = Field(
        default=Decimal(0),
        ge=0,
        lt=1,
        decimal_places=4,
        description="A fraction: 0.21 is 21 %",
    )
    period_fee: Money = Field(default=Decimal(0), ge=0, description="Buys the allowance")
    debt_cap: Money | None = Field(
        default=None, ge=0, description="The most carried forward as debt (null: no limit)"
    )
    budget: Money | None = Field(default=None, ge=0, description="The customer's budget per period")
    partial_invoicing: bool = Field(
        default=True, description="Disputed lines are held while the rest is invoiced"
    )
    ticket_confirmation_required: bool = False
    service_credit: ServiceCreditIn | None = None

    @field_validator("shifts")
    @classmethod
    def _shifts(cls, shifts: list[ShiftIn]) -> list[ShiftIn]:
        errors = shift_errors([ShiftWindow(**s.model_dump()) for s in shifts])
        if errors:
            raise ValueError("; ".join(f"shift {f}: {m}" for f, m in errors))
        return shifts

    _country = field_validator("holiday_country")(_check_country)
    _subdivision = field_validator("holiday_subdivision")(_check_subdivision)


class BillingOut(BillingIn):
    """The terms as set, with the rows resolved (what ``contract.*`` events carry)."""

    rate_card: str | None = Field(description="The card's name")
    rows: list[RateRow] = Field(
        description="The card's rows (ids card:…) not replaced, then the contract's (contract:…)"
    )
    effective_base_rate: Decimal = Field(description="base_rate, else overage_rate, else 0")


# ---------------------------------------------------------------------------------------------
# calendars and service levels

Priority = Literal["P1", "P2", "P3", "P4"]


def _without_offset(value: dt.time) -> dt.time:
    if value.tzinfo is not None:
        raise ValueError("a local time of day, without an offset (the zone is the calendar's)")
    return value


#: A time of day the API takes: local, no offset.
TimeOfDayIn = Annotated[dt.time, AfterValidator(_without_offset), TIME_OF_DAY_SCHEMA]


class WorkingHoursIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    weekday: int = Field(ge=1, le=7, description="ISO weekday, 1 = Monday")
    start: TimeOfDayIn = Field(examples=["08:00"])
    end: TimeOfDayIn = Field(examples=["18:00"], description="00:00 is midnight, the day's end")


class WorkingHoursOut(BaseModel):
    """One window of working time on an ISO weekday (1 = Monday); a day may have several."""

    weekday: int = Field(ge=1, le=7)
    start: TimeOfDay
    end: TimeOfDay = Field(description="00:00 is midnight, the day's end")


def _business_week() -> list[JsonValue]:
    return [{"weekday": d, "start": "08:00", "end": "18:00"} for d in range(1, 6)]


class CalendarIn(BaseModel):
    """When a service-level clock runs: round the clock, or working hours in a zone minus
    holidays."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Business hours NL",
                    "kind": "business",
                    "timezone": "Europe/Amsterdam",
                    "hours": _business_week(),
                    "holiday_country": "NL",
                    "extra_holidays": ["2026-12-24"],
                }
            ]
        },
    )
    name: str = Field(min_length=1, max_length=100)
    kind: Literal["24x7", "business"] = "business"
    timezone: str = Field(examples=["Europe/Amsterdam"])
    hours: list[WorkingHoursIn] = Field(
        default_factory=list, max_length=100, description="Several per weekday split a day"
    )
    holiday_country: str | None = Field(default=None, examples=["NL"])
    holiday_subdivision: str | None = None
    extra_holidays: list[dt.date] = Field(default_factory=list, max_length=1000)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if not is_valid_timezone(value):
            raise ValueError(f"unknown IANA time zone '{value}'")
        return value

    _country = field_validator("holiday_country")(_check_country)
    _subdivision = field_validator("holiday_subdivision")(_check_subdivision)


class CalendarPatch(BaseModel):
    """Only the fields sent change; ``hours`` and ``extra_holidays`` are replaced whole."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=100)
    kind: Literal["24x7", "business"] | None = None
    timezone: str | None = None
    hours: list[WorkingHoursIn] | None = Field(default=None, max_length=100)
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    extra_holidays: list[dt.date] | None = Field(default=None, max_length=1000)


class IcalDay(BaseModel):
    date: dt.date
    summary: str


class CalendarOut(BaseModel):
    id: uuid.UUID
    name: str
    kind: Literal["24x7", "business"]
    timezone: str
    hours: list[WorkingHoursOut]
    holiday_country: str | None
    holiday_subdivision: str | None
    extra_holidays: list[dt.date]
    ical_holidays: list[IcalDay] = Field(description="From the last iCalendar file uploaded")
    business_hours_per_week: Decimal | None = Field(description="null for 24x7")
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class IcalUploaded(BaseModel):
    calendar: CalendarOut
    days: int = Field(description="Holidays taken from the file (all-day events)")
    timed_events_ignored: int = Field(description="Events with a time of day, not used")


class Holiday(BaseModel):
    date: dt.date
    name: str
    source: Literal["country", "own", "ical"]


class TargetIn(BaseModel):
    """A target in minutes: per priority, or per category whatever the priority."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"metric": "resolution", "priority": "P1", "minutes": 60, "calendar": "24x7"},
                {"metric": "resolution", "category": "e-mail outage", "minutes": 240},
            ]
        },
    )
    metric: Literal["first_response", "resolution"]
    priority: Priority | None = Field(default=None, description="P1–P4; null: every priority")
    category: str | None = Field(default=None, min_length=1, max_length=100)
    minutes: int = Field(gt=0, le=525_600, description="More than zero")
    calendar: Literal["business", "24x7"] = Field(
        default="business", description="business: the level's calendar; 24x7: round the clock"
    )


def _check_percents(values: list[int]) -> list[int]:
    if any(not 0 < v < 100 for v in values) or len(set(values)) != len(values):
        raise ValueError("distinct percents between 1 and 99 (breach is 100)")
    return sorted(values)


class ServiceLevelIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "silver",
                    "description": "Resolution within 8 business hours",
                    "calendar_id": "5a0c3a38-8b8e-4c57-9a4e-2f8f9b8f0c11",
                    "targets": [
                        {"metric": "first_response", "priority": "P1", "minutes": 60},
                        {"metric": "resolution", "priority": "P1", "minutes": 480},
                    ],
                    "price": "750.00",
                    "currency": "EUR",
                    "price_period": "monthly",
                }
            ]
        },
    )
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)
    calendar_id: uuid.UUID | None = Field(
        default=None, description="The calendar business targets run on (null: 24x7 UTC)"
    )
    targets: list[TargetIn] = Field(max_length=200)
    price: Money | None = Field(default=None, ge=0, description="What the level costs per period")
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    price_period: Literal["monthly", "quarterly", "yearly"] = "monthly"
    at_risk_percents: list[int] = Field(default_factory=lambda: [50, 75], max_length=10)
    reopen: Literal["resume", "new_cycle"] = "resume"
    priority_change: Literal["from_opening", "carry_elapsed"] = "from_opening"

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return _known_currency(value)

    @field_validator("at_risk_percents")
    @classmethod
    def _percents(cls, values: list[int]) -> list[int]:
        return _check_percents(values)


class ServiceLevelPatch(BaseModel):
    """Only the fields sent change; ``targets`` is replaced whole. Contracts keep the level as
    it was when they got it: assign it again from a date to move them."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=2000)
    calendar_id: uuid.UUID | None = None
    targets: list[TargetIn] | None = Field(default=None, max_length=200)
    price: Money | None = Field(default=None, ge=0)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    price_period: Literal["monthly", "quarterly", "yearly"] | None = None
    at_risk_percents: list[int] | None = None
    reopen: Literal["resume", "new_cycle"] | None = None
    priority_change: Literal["from_opening", "carry_elapsed"] | None = None


class ServiceLevelOut(BaseModel):
    id: uuid.UUID
    name: str
    description: str
    calendar: CalendarOut | None = Field(description="null: 24x7 UTC")
    targets: list[Target]
    price: Decimal | None
    currency: str
    price_period: str
    at_risk_percents: list[int]
    reopen: str
    priority_change: str
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class BespokeLevelIn(BaseModel):
    """A level of this contract alone, on its own calendar."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, examples=["Acme custom"])
    targets: list[TargetIn] = Field(max_length=200)
    calendar_id: uuid.UUID | None = Field(default=None, description="null: 24x7 UTC")
    at_risk_percents: list[int] = Field(default_factory=lambda: [50, 75], max_length=10)
    reopen: Literal["resume", "new_cycle"] = "resume"
    priority_change: Literal["from_opening", "carry_elapsed"] = "from_opening"

    @field_validator("at_risk_percents")
    @classmethod
    def _percents(cls, values: list[int]) -> list[int]:
        return _check_percents(values)


class LevelAssignmentIn(BaseModel):
    """A contract's level from a date on: a catalogue level (by id) or a bespoke one. The
    level and its calendar are copied as they are now, so later edits of the catalogue do
    not rewrite what the contract had."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "effective_from": "2026-07-01",
                    "service_level_id": "7d4f6f8e-1c55-4a43-a3b8-0f7c2a9b6e21",
                }
            ]
        },
    )
    effective_from: dt.date = Field(
        description="Tickets opened on or after this local date get the level"
    )
    service_level_id: uuid.UUID | None = None
    bespoke: BespokeLevelIn | None = Field(default=None, validate_default=True)

    @field_validator("bespoke")
    @classmethod
    def _one(cls, value: BespokeLevelIn | None, info: ValidationInfo) -> BespokeLevelIn | None:
        if "service_level_id" in info.data and (value is None) == (
            info.data["service_level_id"] is None
        ):
            raise ValueError("give either service_level_id or bespoke")
        return value


class ContractServiceLevel(BaseModel):
    """What a customer bought: the level in force on a date, and every version."""

    contract_id: uuid.UUID
    on: dt.date = Field(description="The local date asked about (default: today)")
    current: ServiceLevelTerms | None = Field(description="In force on that date")
    service_level_id: uuid.UUID | None = Field(
        description="The catalogue level it was copied from (null: bespoke)"
    )
    price: Decimal | None
    currency: str | None
    price_period: str | None
    versions: list[ServiceLevelTerms] = Field(description="Oldest first")
