import datetime as dt

import pytest
from burnrate_common.figures import Figures
from burnrate_notifier.domain.alerts import (
    alert_mail_context,
    format_hours,
    period_label,
    whole_percent,
)

D = dt.date
H = 3600


def test_figures_under_plan():
    f = Figures(planned_seconds=40 * H, executed_seconds=36 * H)
    assert (whole_percent(f), f.remaining_seconds, f.overage_seconds) == (90, 4 * H, 0)


def test_figures_over_plan_have_no_remaining_hours():
    f = Figures(planned_seconds=40 * H, executed_seconds=44 * H)
    assert (whole_percent(f), f.remaining_seconds, f.overage_seconds) == (110, 0, 4 * H)


def test_percent_is_rounded_down_and_none_without_a_plan():
    # The mails show a whole percent of the shared figures (one decimal, rounded down).
    assert whole_percent(Figures(40 * H, 40 * H - 1)) == 99
    assert whole_percent(Figures(10_000, 8_999)) == 89
    assert whole_percent(Figures(0, 5 * H)) is None


@pytest.mark.parametrize(
    ("seconds", "en", "nl"),
    [(4 * H, "4.0", "4,0"), (45 * 60, "0.75", "0,75"), (45_000, "12.5", "12,5"), (0, "0.0", "0,0")],
)
def test_hours_are_formatted_per_language(seconds, en, nl):
    assert format_hours(seconds, "en") == en
    assert format_hours(seconds, "nl") == nl


def test_period_labels():
    assert period_label(D(2026, 3, 1), D(2026, 3, 31), "en") == "March 2026"
    assert period_label(D(2026, 3, 1), D(2026, 3, 31), "nl") == "maart 2026"
    assert period_label(D(2024, 2, 1), D(2024, 2, 29), "nl") == "februari 2024"
    assert period_label(D(2026, 1, 15), D(2026, 2, 14), "en") == "15 January – 14 February 2026"
    assert period_label(D(2026, 1, 1), D(2026, 3, 31), "nl") == "1 januari – 31 maart 2026"
    assert (
        period_label(D(2025, 12, 15), D(2026, 1, 14), "en") == "15 December 2025 – 14 January 2026"
    )
    # A month cut short by the contract's end date is not the whole month.
    assert period_label(D(2026, 2, 1), D(2026, 2, 10), "en") == "1 February – 10 February 2026"


def test_unknown_language_falls_back_to_english():
    context = alert_mail_context(
        language="de",
        recipient_name="",
        contract_code="C",
        contract_title="T",
        trigger="overage",
        stage="overage",
        period_start=D(2026, 3, 1),
        period_end=D(2026, 3, 31),
        planned_seconds=40 * H,
        executed_seconds=41 * H,
    )
    assert context == {
        "language": "en",
        "name": None,
        "code": "C",
        "title": "T",
        "trigger": "overage",
        "stage": "overage",
        "period": "March 2026",
        "planned": "40.0",
        "executed": "41.0",
        "percent": "102%",
        "remaining": "0.0",
        "over": "1.0",
        "is_over": True,
        "stage_label": "over plan",
        "days_left": None,
        "end_date": None,
        "forecast": None,
        "exhaustion_date": None,
        "unused": None,
        "unused_percent": None,
        "outside": None,
        "for_owner": False,
        "internal": False,
        "rule_name": None,
        "customer": None,
        "extra_cost": None,
        "report_url": None,
        "unsubscribe_url": None,
        # the billing and service-level facts: none for an hours trigger
        "allowance": None,
        "charged_hours": None,
        "charged_verb": "have",
        "charged_amount": None,
        "forecast_amount": None,
        "budget": None,
        "budget_excess": None,
        "ticket": None,
        "priority": None,
        "level": None,
        "metric": None,
        "metric_done": None,
        "target": None,
        "due_at": None,
        "expected_at": None,
    }
