"""What an alert mail says: the figures of the period, in words and numbers per language.

Only these figures reach the mail, so a customer never sees internal data (rule names,
owners, teams, costs).
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

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


@dataclass(frozen=True)
class Figures:
    """Planned and executed seconds of one contract period, and what follows from them."""

    planned_seconds: int
    executed_seconds: int

    @property
    def remaining_seconds(self) -> int:
        return max(self.planned_seconds - self.executed_seconds, 0)

    @property
    def over_seconds(self) -> int:
        return max(self.executed_seconds - self.planned_seconds, 0)

    @property
    def percent_used(self) -> int | None:
        """Whole percent, rounded down so 89.9 % never reads as 90 %; None without a plan."""
        if self.planned_seconds <= 0:
            return None
        return max(self.executed_seconds, 0) * 100 // self.planned_seconds


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
) -> dict[str, object]:
    """The variables of the alert templates, every figure already formatted for ``language``."""
    language = supported_language(language)
    figures = Figures(planned_seconds, executed_seconds)
    percent = figures.percent_used
    return {
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
        "over": format_hours(figures.over_seconds, language),
        "is_over": figures.over_seconds > 0,
    }
