"""The alert mails as rendered from the template files, and the MIME message built from them."""

import datetime as dt
import email
import uuid
from decimal import Decimal
from email import policy

import pytest
from burnrate_common.events import AlertFacts
from burnrate_notifier.domain.alerts import InternalFacts, alert_mail_context
from burnrate_notifier.mail import OutgoingMail, Templates, build_message, new_message_id

H = 3600
ALERT_ID = uuid.UUID("6f1c7a52-0000-4000-8000-000000000001")


@pytest.fixture(scope="module")
def templates():
    return Templates()


def render(
    templates, *, language="en", trigger="percent_consumed", stage="90", executed=36 * H, **kw
):
    args = {
        "language": language,
        "recipient_name": None,
        "contract_code": "ACME-2026",
        "contract_title": "Acme support 2026",
        "trigger": trigger,
        "stage": stage,
        "period_start": dt.date(2026, 3, 1),
        "period_end": dt.date(2026, 3, 31),
        "planned_seconds": 40 * H,
        "executed_seconds": executed,
    }
    return templates.render_alert(alert_mail_context(**(args | kw)))


def test_percent_consumed_in_english(templates):
    mail = render(templates)
    assert mail.subject == (
        "[Burnrate] ACME-2026: 90% of the hours for March 2026 used - plan the remaining 4.0 h"
    )
    assert mail.text == (
        "Hello,\n"
        "\n"
        "Contract ACME-2026 (Acme support 2026) has used 90% of its planned hours for March 2026:"
        " 36.0 h of 40.0 h, 4.0 h left.\n"
        "\n"
        "What to do: plan the remaining hours with your service manager, or ask for extra hours"
        " in time.\n"
        "\n"
        "Contract:   ACME-2026 – Acme support 2026\n"
        "Period:     March 2026\n"
        "Planned:    40.0 h\n"
        "Executed:   36.0 h\n"
        "Used:       90%\n"
        "Remaining:  4.0 h\n"
        "\n"
        "-- \n"
        "This message was sent automatically by Burnrate.\n"
    )
    assert '<html lang="en">' in mail.html
    assert '<tr><th align="left">Remaining</th><td>4.0&nbsp;h</td></tr>' in mail.html
    assert "Over plan" not in mail.html


def test_percent_consumed_in_dutch_greets_the_contact(templates):
    mail = render(templates, language="nl", stage="70", executed=28 * H, recipient_name="Ann")
    assert mail.subject == (
        "[Burnrate] ACME-2026: 70% van de uren voor maart 2026 verbruikt"
        " - plan de resterende 12,0 uur"
    )
    assert mail.text.startswith("Beste Ann,\n\nContract ACME-2026 (Acme support 2026) heeft 70%")
    assert "Resterend:   12,0 uur\n" in mail.text
    assert '<html lang="nl">' in mail.html
    assert "<p>Beste Ann,</p>" in mail.html
    assert '<tr><th align="left">Gepland</th><td>40,0&nbsp;uur</td></tr>' in mail.html


def test_overage_names_the_hours_over_plan(templates):
    en = render(templates, trigger="overage", stage="overage", executed=44 * H)
    assert en.subject == (
        "[Burnrate] ACME-2026: hours for March 2026 over plan by 4.0 h - review the extra hours"
    )
    assert (
        "is over plan for March 2026: 44.0 h executed against 40.0 h planned, 4.0 h over."
        in en.text
    )
    assert "Remaining:  0.0 h\nOver plan:  4.0 h\n" in en.text
    assert "Used:       110%\n" in en.text
    assert '<tr><th align="left">Over plan</th><td>4.0&nbsp;h</td></tr>' in en.html

    nl = render(templates, language="nl", trigger="overage", stage="overage", executed=44 * H)
    assert nl.subject == (
        "[Burnrate] ACME-2026: uren voor maart 2026 4,0 uur boven plan - controleer de extra uren"
    )
    assert "Resterend:   0,0 uur\nBoven plan:  4,0 uur\n" in nl.text


def test_an_unknown_trigger_gets_the_generic_mail(templates):
    mail = render(templates, trigger="../../etc/passwd", stage="5")
    assert mail.subject == "[Burnrate] ACME-2026: alert for March 2026"


HOSTILE_TITLE = "Evil\r\nBcc: victim@evil.example\r\n\r\n{{7*7}} <script>alert(1)</script>"


def test_hostile_data_renders_literally_and_adds_no_header(templates):
    mail = render(
        templates, contract_title=HOSTILE_TITLE, recipient_name="Mallory\nX-Injected: yes"
    )
    assert mail.subject == (
        "[Burnrate] ACME-2026: 90% of the hours for March 2026 used - plan the remaining 4.0 h"
    )
    assert "{{7*7}} <script>alert(1)</script>" in mail.text
    assert "{{7*7}} &lt;script&gt;alert(1)&lt;/script&gt;" in mail.html
    assert "<script>" not in mail.html
    assert "49" not in mail.text + mail.html

    message_id = new_message_id("msp.example")
    raw = build_message(
        OutgoingMail(
            recipient="ann@acme.example",
            subject=mail.subject,
            text=mail.text,
            html=mail.html,
            message_id=message_id,
            created_at=dt.datetime(2026, 3, 20, 9, 30, tzinfo=dt.UTC),
            alert_id=ALERT_ID,
            stage="90",
        ),
        "Burnrate <burnrate@msp.example>",
    ).as_bytes()
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert sorted(parsed.keys()) == sorted(
        [
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "Auto-Submitted",
            "X-Burnrate-Alert-Id",
            "X-Burnrate-Stage",
            "MIME-Version",
            "Content-Type",
        ]
    )
    assert parsed["To"] == "ann@acme.example"
    assert parsed["Message-ID"] == message_id
    assert parsed["Date"] == "Fri, 20 Mar 2026 09:30:00 +0000"
    assert parsed["X-Burnrate-Alert-Id"] == str(ALERT_ID)
    text = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert parsed.get_content_type() == "multipart/alternative"
    # The parts carry only their MIME headers, so nothing leaked into them either.
    assert sorted(text.keys()) == ["Content-Transfer-Encoding", "Content-Type"]
    assert sorted(html.keys()) == ["Content-Transfer-Encoding", "Content-Type", "MIME-Version"]
    assert "Bcc: victim@evil.example" in text.get_content()
    assert "X-Injected: yes" in text.get_content()
    assert "&lt;script&gt;" in html.get_content()


def test_a_subject_with_line_breaks_is_one_header_line(templates):
    mail = render(templates, contract_code="ACME\r\nBcc: x@evil.example")
    assert mail.subject == (
        "[Burnrate] ACME Bcc: x@evil.example: 90% of the hours for March 2026 used"
        " - plan the remaining 4.0 h"
    )


def test_message_ids_are_unique_rfc5322_ids():
    ids = {new_message_id("msp.example") for _ in range(1000)}
    assert len(ids) == 1000
    assert all(i.startswith("<") and i.endswith("@msp.example>") for i in ids)


# -- one scenario per trigger ------------------------------------------------------------

#: (trigger, stage, executed hours, facts) as the rules service raises them
SCENARIOS = {
    "percent_consumed": ("90", 36, AlertFacts()),
    "hours_remaining": ("10h", 32, AlertFacts()),
    "overage": ("overage+10", 45, AlertFacts()),
    "days_before_end": ("30d", 20, AlertFacts(days_before_end=30)),
    "forecast_over_plan": (
        "100",
        30,
        AlertFacts(forecast_seconds=52 * H, forecast_exhaustion_date=dt.date(2026, 3, 24)),
    ),
    "worklog_outside_dates": ("outside_dates", 12, AlertFacts(outside_dates_seconds=3 * H)),
    "period_unused": ("50", 18, AlertFacts(unused_seconds=22 * H)),
}

SUBJECTS = {
    ("percent_consumed", "en"): "ACME-2026: 90% of the hours for March 2026 used"
    " - plan the remaining 4.0 h",
    ("percent_consumed", "nl"): "ACME-2026: 90% van de uren voor maart 2026 verbruikt"
    " - plan de resterende 4,0 uur",
    ("hours_remaining", "en"): "ACME-2026: 10 h or less left for March 2026 (8.0 h)"
    " - plan the remaining work",
    ("hours_remaining", "nl"): "ACME-2026: nog 10 uur of minder voor maart 2026 (8,0 uur)"
    " - plan het resterende werk",
    ("overage", "en"): "ACME-2026: hours for March 2026 over plan by 5.0 h (+10%)"
    " - review the extra hours",
    ("overage", "nl"): "ACME-2026: uren voor maart 2026 5,0 uur boven plan (+10%)"
    " - controleer de extra uren",
    ("days_before_end", "en"): "ACME-2026: contract ends in 30 days (31 December 2026)"
    " - decide on renewal",
    ("days_before_end", "nl"): "ACME-2026: contract loopt af over 30 dagen (31 december 2026)"
    " - beslis over verlenging",
    ("forecast_over_plan", "en"): "ACME-2026: hours for March 2026 forecast over plan,"
    " used up on 24 March 2026 - review the planning",
    ("forecast_over_plan", "nl"): "ACME-2026: verwachting voor maart 2026 boven plan,"
    " uren op rond 24 maart 2026 - herzie de planning",
    ("worklog_outside_dates", "en"): "ACME-2026: 3.0 h logged outside the contract dates"
    " - check the worklogs",
    ("worklog_outside_dates", "nl"): "ACME-2026: 3,0 uur geboekt buiten de contractdata"
    " - controleer de urenregistratie",
    ("period_unused", "en"): "ACME-2026: 55% of the hours for March 2026 unused (22.0 h)"
    " - plan ahead",
    ("period_unused", "nl"): "ACME-2026: 55% van de uren voor maart 2026 ongebruikt (22,0 uur)"
    " - plan vooruit",
}

#: a fact particular to the trigger, as it reads in the plain-text body
BODY_FACTS = {
    ("percent_consumed", "en"): "36.0 h of 40.0 h, 4.0 h left.",
    ("percent_consumed", "nl"): "36,0 van 40,0 uur, nog 4,0 uur over.",
    ("hours_remaining", "en"): "has 8.0 h of its 40.0 h left for March 2026 (32.0 h used).",
    ("hours_remaining", "nl"): "heeft nog 8,0 van de 40,0 uur over voor maart 2026",
    ("overage", "en"): "45.0 h executed against 40.0 h planned, 5.0 h over.",
    ("overage", "nl"): "45,0 uur uitgevoerd tegen 40,0 uur gepland, 5,0 uur erboven.",
    ("days_before_end", "en"): "ends in 30 days, on 31 December 2026.",
    ("days_before_end", "nl"): "loopt af over 30 dagen, op 31 december 2026.",
    ("forecast_over_plan", "en"): "will use 52.0 h of its 40.0 h for March 2026",
    ("forecast_over_plan", "nl"): "verbruikt contract ACME-2026 (Acme support 2026) 52,0 uur",
    ("worklog_outside_dates", "en"): "3.0 h were logged on contract ACME-2026",
    ("worklog_outside_dates", "nl"): "Er is 3,0 uur geboekt op contract ACME-2026",
    ("period_unused", "en"): "ended March 2026 with 22.0 h of its 40.0 h unused",
    ("period_unused", "nl"): "sloot maart 2026 af met 22,0 van de 40,0 uur ongebruikt",
}

INTERNAL = InternalFacts(
    rule_name="Gold stages (internal)",
    customer_name="Acme BV",
    overage_rate=Decimal("95.00"),
    currency="EUR",
)


def scenario(templates, trigger, language, *, internal=None, for_owner=False, **kw):
    stage, executed, facts = SCENARIOS[trigger]
    return render(
        templates,
        language=language,
        trigger=trigger,
        stage=stage,
        executed=executed * H,
        facts=facts,
        contract_end=dt.date(2026, 12, 31),
        internal=internal,
        for_owner=for_owner,
        **kw,
    )


@pytest.mark.parametrize("language", ["en", "nl"])
@pytest.mark.parametrize("trigger", list(SCENARIOS))
def test_every_trigger_has_its_own_mail_for_the_customer(templates, trigger, language):
    mail = scenario(templates, trigger, language, recipient_name="Ann")
    assert mail.subject == "[Burnrate] " + SUBJECTS[(trigger, language)]
    assert BODY_FACTS[(trigger, language)] in mail.text
    assert mail.text.startswith("Beste Ann,\n\n" if language == "nl" else "Hello Ann,\n\n")
    # What to do, addressed to the customer's side.
    assert ("Wat te doen: " if language == "nl" else "What to do: ") in mail.text
    assert ("servicemanager" if language == "nl" else "service manager") in mail.text
    assert f'<html lang="{language}">' in mail.html
    # No internal facts in a customer's mail.
    for internal in ("Gold stages", "Acme BV", "EUR", "Rule", "Regel", "overage rate", "tarief"):
        assert internal not in mail.text + mail.html, internal


@pytest.mark.parametrize("trigger", list(SCENARIOS))
def test_the_owners_mail_carries_the_internal_facts_and_the_msps_next_step(templates, trigger):
    mail = scenario(templates, trigger, "en", internal=INTERNAL, for_owner=True)
    assert mail.subject == "[Burnrate] " + SUBJECTS[(trigger, "en")]
    assert "Rule:       Gold stages (internal)\n" in mail.text
    assert "Customer:   Acme BV\n" in mail.text
    assert "your service manager" not in mail.text
    assert '<tr><th align="left">Rule</th><td>Gold stages (internal)</td></tr>' in mail.html


def test_costs_only_with_the_internal_facts(templates):
    # 5 h over at EUR 95.00; the forecast 12 h over plan.
    owner = scenario(templates, "overage", "en", internal=INTERNAL, for_owner=True)
    assert "Extra cost: EUR 475.00 at the overage rate\n" in owner.text
    assert "tell the customer before the invoice does (about EUR 475.00 at the overage rate)." in (
        owner.text
    )
    forecast = scenario(templates, "forecast_over_plan", "nl", internal=INTERNAL)
    assert "Meerkosten:  EUR 1.140,00 tegen het meerwerktarief\n" in forecast.text
    # A contact's mail shows them only when the rule includes internal facts.
    assert "EUR" not in scenario(templates, "overage", "nl").text


@pytest.mark.parametrize("language", ["en", "nl"])
@pytest.mark.parametrize("trigger", [*SCENARIOS, "no_such_trigger"])
def test_hostile_names_render_literally_in_every_template(templates, trigger, language):
    if trigger == "no_such_trigger":
        mail = render(
            templates,
            language=language,
            trigger=trigger,
            stage="1",
            contract_title=HOSTILE_TITLE,
            recipient_name="Mallory\r\nX-Injected: {{7*7}}",
            internal=InternalFacts(rule_name="<b>{{7*7}}</b>\r\nBcc: x@evil.example"),
            for_owner=True,
        )
    else:
        mail = scenario(
            templates,
            trigger,
            language,
            contract_title=HOSTILE_TITLE,
            recipient_name="Mallory\r\nX-Injected: {{7*7}}",
            internal=InternalFacts(
                rule_name="<b>{{7*7}}</b>\r\nBcc: x@evil.example",
                customer_name="<img src=x onerror=alert(1)>",
            ),
            for_owner=True,
        )
    assert "\n" not in mail.subject and "\r" not in mail.subject
    assert "{{7*7}} <script>alert(1)</script>" in mail.text
    assert "{{7*7}} &lt;script&gt;alert(1)&lt;/script&gt;" in mail.html
    assert "&lt;b&gt;{{7*7}}&lt;/b&gt;" in mail.html
    assert "<script>" not in mail.html and "<img" not in mail.html and "<b>" not in mail.html
    assert "49" not in mail.text + mail.html
    raw = build_message(
        OutgoingMail(
            recipient="ann@acme.example",
            subject=mail.subject,
            text=mail.text,
            html=mail.html,
            message_id=new_message_id("msp.example"),
            created_at=dt.datetime(2026, 3, 20, 9, 30, tzinfo=dt.UTC),
            alert_id=ALERT_ID,
            stage="90\r\nBcc: x@evil.example",
        ),
        "Burnrate <burnrate@msp.example>",
    ).as_bytes()
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert sorted(parsed.keys()) == sorted(
        [
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "Auto-Submitted",
            "X-Burnrate-Alert-Id",
            "X-Burnrate-Stage",
            "MIME-Version",
            "Content-Type",
        ]
    )
    assert parsed["Bcc"] is None and parsed["X-Injected"] is None


#: Every character a mail reader, a terminal or str.splitlines may take for a line break or
#: a control: none of them may add a line to a mail's text or subject.
LINE_BREAKS = "\r\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029\x00\x1b\x7f\x9b\t"


@pytest.mark.parametrize("language", ["en", "nl"])
@pytest.mark.parametrize("trigger", [*SCENARIOS, "no_such_trigger"])
def test_control_characters_in_any_value_add_no_line_to_the_text_or_subject(
    templates, trigger, language
):
    """CR/LF (or any line break or control) in a contract's code or title, a contact's or
    customer's name or a rule's name is folded into a space in every value the text and
    subject templates interpolate: the plain-text part keeps exactly its lines."""

    def mail(hostile):
        values = {
            "contract_code": f"ACME{hostile}Bcc: x@evil.example",
            "contract_title": f"Acme{hostile}Your report: https://evil.example/{hostile}",
            "recipient_name": f"Ann{hostile}Executed:   999 h",
            "internal": InternalFacts(
                rule_name=f"Gold{hostile}Rule:       forged",
                customer_name=f"Acme BV{hostile}Customer:   forged",
                overage_rate=Decimal("95.00"),
            ),
            "for_owner": True,
            "report_url": "https://reports.example/ui/c/token",
        }
        if trigger == "no_such_trigger":
            return render(templates, language=language, trigger=trigger, stage="1", **values)
        return scenario(templates, trigger, language, **values)

    plain = mail(" ")
    for char in LINE_BREAKS:
        hostile = mail(char * 2)
        assert hostile.text.splitlines() == plain.text.splitlines(), repr(char)
        assert hostile.subject == plain.subject, repr(char)
        assert not any(c in hostile.text for c in LINE_BREAKS.replace("\n", "")), repr(char)
