"""Every request and response model of the rules service's REST API."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from burnrate_common.events import Trigger
from burnrate_common.types import Hours
from burnrate_common.webhook_urls import MAX_LENGTH as WEBHOOK_URL_MAX_LENGTH
from burnrate_common.webhook_urls import InvalidWebhookUrl, parse_webhook_url
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

from burnrate_rules.domain.rules import default_stages, stages_problem

# --- rules -----------------------------------------------------------------------------


class AudienceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    owner: bool = Field(default=True, description="The contract's owner")
    teams: bool = Field(default=False, description="The contract's teams (in-app feed)")
    customer_contacts: bool = Field(default=False, description="The customer's contacts (e-mail)")
    emails: list[EmailStr] = Field(default_factory=list, max_length=50)
    webhook_url: str | None = Field(
        default=None,
        max_length=WEBHOOK_URL_MAX_LENGTH,
        description="https (http only in development), read by the notifier's own URL parser: "
        "printable ASCII, a DNS host name, a plain IPv4 (four decimal numbers) or a bracketed "
        "IPv6 address, no credentials, no #fragment",
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
        """The parser the notifier sends with: a URL it could never call is refused now,
        while someone is there to read why."""
        if url is None:
            return None
        try:
            parse_webhook_url(url)
        except InvalidWebhookUrl as exc:
            raise ValueError(str(exc)) from None
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
        "forecast_over_plan (100), worklog_outside_dates (0), allowance_reached (0), "
        "budget_exceeded_forecast (0) and sla_breached (100); sla_at_risk: percents of a "
        "ticket's target elapsed (1-99), each reached when the tickets service announces "
        "that percent or a higher one",
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


class OptOutOut(BaseModel):
    rule_id: uuid.UUID
    contract_id: uuid.UUID
    created_at: dt.datetime


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
    currency: str | None = None
    charged_hours: Hours | None = None
    charged_amount: Decimal | None = None
    forecast_amount: Decimal | None = None
    budget: Decimal | None = None


class SkippedContractOut(BaseModel):
    contract_id: uuid.UUID
    reason: str = Field(description="Why it could not be evaluated (the daily clock sets it aside)")


class PreviewOut(BaseModel):
    rule_id: uuid.UUID
    evaluated_at: dt.datetime
    contracts_evaluated: int
    items: list[PreviewAlertOut]
    contracts_skipped: list[SkippedContractOut] = Field(
        default_factory=list,
        description="Contracts in the rule's scope whose evaluation raised, with the reason",
    )


# --- alerts ----------------------------------------------------------------------------


class AlertOut(BaseModel):
    alert_id: uuid.UUID
    rule_id: uuid.UUID
    rule_name: str
    contract_id: uuid.UUID
    customer_id: uuid.UUID | None
    period_start: dt.date
    period_end: dt.date
    stage: str
    trigger: str
    planned_hours: Hours
    executed_hours: Hours
    days_before_end: int | None
    forecast_hours: Hours | None
    forecast_exhaustion_date: dt.date | None
    unused_hours: Hours | None
    outside_dates_hours: Hours | None
    currency: str | None = Field(
        default=None, description="allowance_reached, budget_exceeded_forecast: the statement's"
    )
    allowance_hours: Hours | None = Field(
        default=None, description="allowance_reached: the period's allowance"
    )
    charged_hours: Hours | None = Field(
        default=None, description="allowance_reached: hours charged beyond the allowance"
    )
    charged_amount: Decimal | None = Field(
        default=None, description="allowance_reached: what they are charged, before VAT"
    )
    forecast_amount: Decimal | None = Field(
        default=None, description="budget_exceeded_forecast: the priced forecast of the period"
    )
    budget: Decimal | None = Field(
        default=None, description="budget_exceeded_forecast: the customer's budget"
    )
    ticket_id: uuid.UUID | None = Field(default=None, description="sla_*: the ticket")
    ticket_reference: str | None = None
    ticket_priority: str | None = None
    service_level: str | None = None
    sla_metric: str | None = Field(default=None, description="first_response or resolution")
    sla_cycle: int | None = None
    sla_target_minutes: int | None = None
    sla_due_at: dt.datetime | None = None
    sla_expected_at: dt.datetime | None = Field(
        default=None, description="When such tickets are usually resolved, if later than due"
    )
    raised_at: dt.datetime


# --- totals ----------------------------------------------------------------------------


class FiredStageOut(BaseModel):
    rule_id: uuid.UUID
    stage: str
    alert_id: uuid.UUID = Field(description="The alert raised for the highest stage crossed")
    fired_at: dt.datetime


class PeriodTotalsOut(BaseModel):
    start_date: dt.date
    end_date: dt.date
    planned_hours: Hours | None = Field(description="null while the contract is not known yet")
    executed_hours: Hours
    fired_stages: list[FiredStageOut]


class ContractTotalsOut(BaseModel):
    contract_id: uuid.UUID
    contract_known: bool
    periods: list[PeriodTotalsOut]
    clock_error: str | None = Field(
        default=None,
        description="Why the daily clock set this contract aside at its last evaluation "
        "(it raised); null when that evaluation succeeded. Tried again the next local day, "
        "or at once when the contract or a rule that applies to it changes",
    )
    clock_error_at: dt.datetime | None = None
