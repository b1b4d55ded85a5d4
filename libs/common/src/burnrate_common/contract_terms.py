"""The terms a contract carries to billing and tickets in ``contract.*`` events.

The contracts service owns them (rate cards, shifts, rounding, money, service levels and
calendars) and resolves them per contract (a named rate card with the contract's own
overrides, the service level in force from each date), so a consumer needs no other replica.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, WithJsonSchema

from burnrate_common.payload import Payload

Priority = Literal["P1", "P2", "P3", "P4"]

#: A local time of day (the zone is the calendar's or the contract's), documented as what it
#: is: OpenAPI's ``format: time`` would demand an offset.
TIME_OF_DAY_SCHEMA = WithJsonSchema(
    {
        "type": "string",
        "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$",
        "description": "Local time of day, HH:MM or HH:MM:SS (no offset)",
    }
)
TimeOfDay = Annotated[dt.time, TIME_OF_DAY_SCHEMA]


class RateRow(Payload):
    """One row of a rate card: which hours it prices (None: any) and how. The most specific
    matching row in force on the hour's local date wins (billing documents the order)."""

    #: stable reference, named on every line the row priced
    id: str
    activity: str | None = None
    location: str | None = None
    #: a shift name of :attr:`BillingTerms.shifts`
    shift: str | None = None
    #: ``price``: ``amount`` per hour; ``replace`` / ``add`` / ``multiply``: applied to the
    #: price the less specific rows give (``add`` may be negative)
    mode: Literal["price", "replace", "add", "multiply"] = "price"
    amount: Decimal
    effective_from: dt.date | None = None
    #: inclusive
    effective_to: dt.date | None = None


class ShiftWindow(Payload):
    """A named window of local time that selects rate rows. ``window``: on ``weekdays`` (ISO,
    1 = Monday) from ``start`` to ``end`` (``end`` ≤ ``start``: past midnight into the next
    day); ``weekend``: Saturday and Sunday, all day; ``holiday``: the public holidays of the
    terms' country plus the MSP's own dates, all day."""

    name: str
    kind: Literal["window", "weekend", "holiday"] = "window"
    weekdays: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5])
    start: TimeOfDay | None = None
    end: TimeOfDay | None = None


class Rounding(Payload):
    """Applied to a billing copy of the hours (worklogs are never changed): each unit at
    ``level`` is rounded up to ``increment_minutes`` and to at least ``minimum_minutes``."""

    increment_minutes: int = 0
    minimum_minutes: int = 0
    level: Literal["worklog", "ticket", "day"] = "worklog"


class ServiceCredit(Payload):
    """What each breached resolution target credits the customer, capped per period."""

    percent_of_fee: Decimal | None = None
    fixed_amount: Decimal | None = None
    cap_per_period: Decimal | None = None


class BillingTerms(Payload):
    """How billing prices a contract's hours (currency, allowance policy and rollover are
    fields of the contract itself)."""

    #: price of an hour no rate row prices
    base_rate: Decimal = Decimal(0)
    #: the named card the rows come from (None: the contract's own rows only)
    rate_card: str | None = None
    rows: list[RateRow] = Field(default_factory=list)
    shifts: list[ShiftWindow] = Field(default_factory=list)
    #: ISO 3166 country (and subdivision) whose public holidays count (``holidays`` package)
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    extra_holidays: list[dt.date] = Field(default_factory=list)
    rounding: Rounding = Field(default_factory=Rounding)
    vat_rate: Decimal = Decimal(0)
    #: what the customer pays per period for the allowance
    period_fee: Decimal = Decimal(0)
    #: the most that may be carried forward as debt (None: no limit)
    debt_cap: Decimal | None = None
    #: the customer's budget per period, for ``budget_exceeded_forecast``
    budget: Decimal | None = None
    #: disputed lines are held while the rest of the statement is invoiced
    partial_invoicing: bool = True
    #: lines of a ticket wait until the customer confirmed it closed
    ticket_confirmation_required: bool = False
    service_credit: ServiceCredit | None = None


class WorkingHours(Payload):
    """One window of working time on an ISO weekday (1 = Monday); a day may have several."""

    weekday: int = Field(ge=1, le=7)
    start: TimeOfDay
    end: TimeOfDay


class Calendar(Payload):
    """When a service-level clock runs: 24×7 (no ``hours``) or the working hours, in the
    zone, minus the holidays."""

    name: str = "24x7"
    timezone: str = "UTC"
    hours: list[WorkingHours] = Field(default_factory=list)
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    extra_holidays: list[dt.date] = Field(default_factory=list)


class Target(Payload):
    """A target of a service level, in minutes of its calendar's time. ``category`` set: for
    tickets of that category whatever the priority (it wins over the priority's)."""

    metric: Literal["first_response", "resolution"]
    priority: Priority | None = None
    category: str | None = None
    minutes: int = Field(gt=0)
    #: ``business``: the level's calendar; ``24x7``: round the clock
    calendar: Literal["business", "24x7"] = "business"


class ServiceLevelTerms(Payload):
    """The service level in force for tickets opened from ``effective_from`` on."""

    level: str
    effective_from: dt.date
    targets: list[Target]
    calendar: Calendar = Field(default_factory=Calendar)
    #: percent of a target elapsed at which ``sla.at_risk`` fires (breach is 100)
    at_risk_percents: list[int] = Field(default_factory=lambda: [50, 75])
    #: a reopened ticket resumes its clock, or starts a new cycle
    reopen: Literal["resume", "new_cycle"] = "resume"
    #: after a priority change the new target is measured from the opening, or the elapsed
    #: time carries over against the new target (the same thing, said per contract)
    priority_change: Literal["from_opening", "carry_elapsed"] = "from_opening"
