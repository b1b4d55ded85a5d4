"""What an alert mail says: the figures of the period, in words and numbers per language.

Only these figures reach the mail. Internal facts (the rule's name, the customer's name, the
cost of extra hours) are filled in only for an internal reader (the contract owner) or when
the rule's audience says ``include_internal``; a customer's mail never carries them otherwise.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from burnrate_common.events import AlertFacts, AlertRaised
from burnrate_common.figures import Figures

from burnrate_notifier.domain.recipients import supported_language

MONTHS = {
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    "nl": (
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ),
}

_CENT = Decimal("0.01")
_TENTH = Decimal("0.1")


def whole_percent(figures: Figures) -> int | None:
    """The percent a mail shows: whole, rounded down like the shared one decimal (89.9 %
    never reads as 90 %); None without a plan."""
    percent = figures.percent
    return None if percent is None else int(percent)  # never negative: int() rounds down


def format_hours(seconds: int, language: str) -> str:
    """Hours with one decimal, or two when the hundredths matter: 4.0, 12.5, 0.25 (nl: 0,25)."""
    hours = (Decimal(seconds) / 3600).quantize(_CENT)
    if hours == hours.quantize(_TENTH):
        hours = hours.quantize(_TENTH)
    text = f"{hours:f}"
    return text.replace(".", ",") if supported_language(language) == "nl" else text


def period_label(start: dt.date, end: dt.date, language: str) -> str:
    """ "March 2026" for a calendar month, else the dates: "15 January – 14 February 2026"."""
    months = MONTHS[supported_language(language)]
    last_day = calendar.monthrange(start.year, start.month)[1]
    if start.day == 1 and end == start.replace(day=last_day):
        return f"{months[start.month - 1]} {start.year}"

    def day(d: dt.date) -> str:
        return f"{d.day} {months[d.month - 1]}"

    if start.year == end.year:
        return f"{day(start)} – {day(end)} {end.year}"
    return f"{day(start)} {start.year} – {day(end)} {end.year}"


def format_date(day: dt.date, language: str) -> str:
    """ "24 March 2026" (nl: "24 maart 2026")."""
    return f"{day.day} {MONTHS[supported_language(language)][day.month - 1]} {day.year}"


def format_money(amount: Decimal, currency: str, language: str) -> str:
    """ "EUR 1,234.50" (nl: "EUR 1.234,50")."""
    text = f"{amount.quantize(_CENT):,f}"
    if supported_language(language) == "nl":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return f"{currency} {text}"


#: Currencies written with their symbol; any other is written with its ISO 4217 code.
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}


def format_amount(amount: Decimal, currency: str, language: str) -> str:
    """An amount as a customer reads it: "€1,234.50" (nl: "€ 1.234,50"); "CHF 80.00" for a
    currency without a symbol here. Two decimals, the language's separators."""
    text = f"{amount.quantize(_CENT):,f}"
    nl = supported_language(language) == "nl"
    if nl:
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    symbol = CURRENCY_SYMBOLS.get(currency.upper())
    if symbol is None:
        return f"{currency} {text}"
    return f"{symbol} {text}" if nl else f"{symbol}{text}"


def count_hours(seconds: int, language: str) -> str:
    """Hours as a count: "1", "1.5", "0.25" (nl: "1,5"): no ".0" on whole hours."""
    text = format_hours(seconds, language)
    return text[:-2] if text.endswith((".0", ",0")) else text


def hours_phrase(seconds: int, language: str, *, additional: bool = False) -> str:
    """ "1 additional hour", "2.5 additional hours" (nl: "1 extra uur", "2,5 extra uur")."""
    count = count_hours(seconds, language)
    if supported_language(language) == "nl":
        return f"{count} extra uur" if additional else f"{count} uur"
    unit = "hour" if count == "1" else "hours"
    return f"{count} additional {unit}" if additional else f"{count} {unit}"


def duration_label(minutes: int, language: str) -> str:
    """A target: "4 hours", "1 hour", "90 minutes" (nl: "4 uur", "90 minuten")."""
    nl = supported_language(language) == "nl"
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} uur" if nl else f"{hours} {'hour' if hours == 1 else 'hours'}"
    unit = (
        ("minuut" if minutes == 1 else "minuten")
        if nl
        else ("minute" if minutes == 1 else "minutes")
    )
    return f"{minutes} {unit}"


def local_time(at: dt.datetime, zone: dt.tzinfo, language: str, today: dt.date | None) -> str:
    """An instant in the contract's zone: "15:30" on ``today``, else "15:30 on 16 January"
    (nl: "16 januari om 15:30")."""
    local = at.astimezone(zone)
    clock = f"{local:%H:%M}"
    if today is not None and local.date() == today:
        return clock
    months = MONTHS[supported_language(language)]
    day = f"{local.day} {months[local.month - 1]}"
    if today is None or local.year != today.year:
        day = f"{day} {local.year}"
    return f"{day} om {clock}" if supported_language(language) == "nl" else f"{clock} on {day}"


def zone_of(name: str | None) -> dt.tzinfo:
    """The contract's zone; UTC when it is unknown here (the time then says so)."""
    if name:
        try:
            return ZoneInfo(name)
        except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
            pass
    return dt.UTC


METRICS = {
    "en": {"resolution": "resolved", "first_response": "answered"},
    "nl": {"resolution": "opgelost", "first_response": "beantwoord"},
}


def _number(text: str, language: str) -> str:
    return text.replace(".", ",") if supported_language(language) == "nl" else text


def stage_label(trigger: str, stage: str, language: str) -> str:
    """The stage as a reader says it: "90%", "10 h", "30 days", "+10%" (nl: "10 uur", "30 dagen").

    Stage names come from the rules service ("90", "10h", "30d", "overage+10",
    "outside_dates"); anything unexpected is shown as it came.
    """
    nl = supported_language(language) == "nl"
    if trigger == "hours_remaining" and stage.endswith("h"):
        return f"{_number(stage[:-1], language)} {'uur' if nl else 'h'}"
    if trigger == "days_before_end" and stage.endswith("d"):
        days = stage[:-1]
        unit = ("dag" if days == "1" else "dagen") if nl else ("day" if days == "1" else "days")
        return f"{days} {unit}"
    if trigger == "overage":
        _, _, extra = stage.partition("+")
        return f"+{extra}%" if extra else ("boven plan" if nl else "over plan")
    if stage.isdigit():
        return f"{stage}%"
    return stage


@dataclass(frozen=True)
class InternalFacts:
    """What only the MSP sees, unless the rule includes it for everyone."""

    rule_name: str
    customer_name: str | None = None
    overage_rate: Decimal | None = None
    currency: str = "EUR"


def alert_mail_context(
    *,
    language: str,
    recipient_name: str | None,
    contract_code: str,
    contract_title: str,
    trigger: str,
    stage: str,
    period_start: dt.date,
    period_end: dt.date,
    planned_seconds: int,
    executed_seconds: int,
    facts: AlertFacts | None = None,
    contract_end: dt.date | None = None,
    internal: InternalFacts | None = None,
    for_owner: bool = False,
    report_url: str | None = None,
    unsubscribe_url: str | None = None,
    timezone: str | None = None,
    raised_at: dt.datetime | None = None,
) -> dict[str, object]:
    """The variables of the alert templates, every figure already formatted for ``language``.

    Instants (a ticket's due and expected times) are said in the contract's ``timezone``,
    as a time of day when they fall on the day the alert was raised (``raised_at``).

    ``internal`` is passed only when the reader may see internal facts; ``for_owner`` picks
    what the mail asks its reader to do (the MSP's owner, or the customer's side).
    """
    language = supported_language(language)
    figures = Figures(planned_seconds, executed_seconds)
    percent = whole_percent(figures)
    facts = facts or AlertFacts()

    def hours(seconds: int | None) -> str | None:
        return None if seconds is None else format_hours(seconds, language)

    def day(value: dt.date | None) -> str | None:
        return None if value is None else format_date(value, language)

    unused_percent = (
        None
        if facts.unused_seconds is None or planned_seconds <= 0
        else f"{facts.unused_seconds * 100 // planned_seconds}%"
    )
    extra_cost = None
    if internal is not None and internal.overage_rate is not None:
        over = figures.overage_seconds
        if trigger == "forecast_over_plan" and facts.forecast_seconds is not None:
            over = max(facts.forecast_seconds - planned_seconds, 0)
        if over > 0:
            amount = Decimal(over) / 3600 * internal.overage_rate
            extra_cost = format_money(amount, internal.currency, language)
    zone = zone_of(timezone)
    today = raised_at.astimezone(zone).date() if raised_at is not None else None
    currency = facts.currency or "EUR"

    def money(value: Decimal | None) -> str | None:
        return None if value is None else format_amount(value, currency, language)

    def instant(value: dt.datetime | None) -> str | None:
        return None if value is None else local_time(value, zone, language, today)

    return {
        # billing triggers
        "allowance": (
            None
            if facts.allowance_seconds is None
            else count_hours(facts.allowance_seconds, language)
        ),
        "charged_hours": (
            None
            if facts.charged_seconds is None
            else hours_phrase(facts.charged_seconds, language, additional=True)
        ),
        "charged_verb": (
            "has"
            if facts.charged_seconds is not None
            and count_hours(facts.charged_seconds, language) == "1"
            else "have"
        ),
        "charged_amount": money(facts.charged_amount),
        "forecast_amount": money(facts.forecast_amount),
        "budget": money(facts.budget),
        "budget_excess": (
            money(facts.forecast_amount - facts.budget)
            if facts.forecast_amount is not None and facts.budget is not None
            else None
        ),
        # service-level triggers
        "ticket": facts.ticket_reference,
        "priority": facts.ticket_priority,
        "level": facts.service_level,
        "metric": facts.sla_metric,
        "metric_done": METRICS[language].get(facts.sla_metric or "", facts.sla_metric),
        "target": (
            None
            if facts.sla_target_minutes is None
            else duration_label(facts.sla_target_minutes, language)
        ),
        "due_at": instant(facts.sla_due_at),
        "expected_at": instant(facts.sla_expected_at),
        "language": language,
        "name": recipient_name or None,
        "code": contract_code,
        "title": contract_title,
        "trigger": trigger,
        "stage": stage,
        "period": period_label(period_start, period_end, language),
        "planned": format_hours(figures.planned_seconds, language),
        "executed": format_hours(figures.executed_seconds, language),
        "percent": "–" if percent is None else f"{percent}%",
        "remaining": format_hours(figures.remaining_seconds, language),
        "over": format_hours(figures.overage_seconds, language),
        "is_over": figures.overage_seconds > 0,
        "stage_label": stage_label(trigger, stage, language),
        "days_left": (
            stage_label("days_before_end", f"{facts.days_before_end}d", language)
            if facts.days_before_end is not None
            else stage_label(trigger, stage, language)
            if trigger == "days_before_end"
            else None
        ),
        "end_date": day(contract_end),
        "forecast": hours(facts.forecast_seconds),
        "exhaustion_date": day(facts.forecast_exhaustion_date),
        "unused": hours(facts.unused_seconds),
        "unused_percent": unused_percent,
        "outside": hours(facts.outside_dates_seconds),
        "for_owner": for_owner,
        "internal": internal is not None,
        "rule_name": internal.rule_name if internal else None,
        "customer": internal.customer_name if internal else None,
        "extra_cost": extra_cost,
        "report_url": report_url,
        "unsubscribe_url": unsubscribe_url,
    }


def alert_facts(
    alert: AlertRaised, *, contract_code: str, contract_title: str, include_internal: bool
) -> dict[str, object]:
    """The facts of an alert as JSON values: the body of a webhook, the facts of a feed entry.

    Trigger-specific fields appear only when the alert carries them; the rule's name only
    when internal facts are included.
    """
    figures = Figures(alert.planned_seconds, alert.executed_seconds)
    facts: dict[str, object] = {
        "alert_id": str(alert.alert_id),
        "rule_id": str(alert.rule_id),
        "contract": {"id": str(alert.contract_id), "code": contract_code, "title": contract_title},
        "customer_id": str(alert.customer_id) if alert.customer_id else None,
        "trigger": str(alert.trigger),
        "stage": alert.stage,
        "period": {"start": alert.period_start.isoformat(), "end": alert.period_end.isoformat()},
        "planned_seconds": alert.planned_seconds,
        "executed_seconds": alert.executed_seconds,
        "remaining_seconds": figures.remaining_seconds,
        "over_seconds": figures.overage_seconds,
        "percent_used": whole_percent(figures),
    }
    optional = {
        "days_before_end": alert.days_before_end,
        "forecast_seconds": alert.forecast_seconds,
        "forecast_exhaustion_date": (
            alert.forecast_exhaustion_date.isoformat() if alert.forecast_exhaustion_date else None
        ),
        "unused_seconds": alert.unused_seconds,
        "outside_dates_seconds": alert.outside_dates_seconds,
        "currency": alert.currency,
        "allowance_seconds": alert.allowance_seconds,
        "charged_seconds": alert.charged_seconds,
        "charged_amount": _decimal(alert.charged_amount),
        "forecast_amount": _decimal(alert.forecast_amount),
        "budget": _decimal(alert.budget),
        "ticket": (
            {
                "id": str(alert.ticket_id) if alert.ticket_id else None,
                "reference": alert.ticket_reference,
                "priority": alert.ticket_priority,
                "level": alert.service_level,
            }
            if alert.ticket_reference is not None
            else None
        ),
        "sla": (
            {
                "metric": alert.sla_metric,
                "cycle": alert.sla_cycle,
                "target_minutes": alert.sla_target_minutes,
                "due_at": alert.sla_due_at.isoformat() if alert.sla_due_at else None,
                "expected_at": (
                    alert.sla_expected_at.isoformat() if alert.sla_expected_at else None
                ),
            }
            if alert.sla_metric is not None
            else None
        ),
    }
    facts.update({k: v for k, v in optional.items() if v is not None})
    if include_internal:
        facts["rule_name"] = alert.rule_name
    return facts


def _decimal(value: Decimal | None) -> str | None:
    """Money as JSON: the exact decimal as a string (a float would round it)."""
    return None if value is None else str(value)
