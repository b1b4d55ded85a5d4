"""The alert mails as rendered from the template files, and the MIME message built from them."""

import datetime as dt
import email
import uuid
from email import policy

import pytest
from burnrate_notifier.domain.alerts import alert_mail_context
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
    assert mail.subject == "[Burnrate] ACME-2026: 90% of the hours for March 2026 used"
    assert mail.text == (
        "Hello,\n"
        "\n"
        "Contract ACME-2026 (Acme support 2026) has used 90% of its planned hours for March 2026.\n"
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
    assert mail.subject == "[Burnrate] ACME-2026: 70% van de uren voor maart 2026 verbruikt"
    assert mail.text.startswith("Beste Ann,\n\nContract ACME-2026 (Acme support 2026) heeft 70%")
    assert "Resterend:   12,0 uur\n" in mail.text
    assert '<html lang="nl">' in mail.html
    assert "<p>Beste Ann,</p>" in mail.html
    assert '<tr><th align="left">Gepland</th><td>40,0&nbsp;uur</td></tr>' in mail.html


def test_overage_names_the_hours_over_plan(templates):
    en = render(templates, trigger="overage", stage="overage", executed=44 * H)
    assert en.subject == "[Burnrate] ACME-2026: hours for March 2026 over plan by 4.0 h"
    assert (
        "is over plan for March 2026: 44.0 h executed against 40.0 h planned, 4.0 h over."
        in en.text
    )
    assert "Remaining:  0.0 h\nOver plan:  4.0 h\n" in en.text
    assert "Used:       110%\n" in en.text
    assert '<tr><th align="left">Over plan</th><td>4.0&nbsp;h</td></tr>' in en.html

    nl = render(templates, language="nl", trigger="overage", stage="overage", executed=44 * H)
    assert nl.subject == "[Burnrate] ACME-2026: uren voor maart 2026 4,0 uur boven plan"
    assert "Resterend:   0,0 uur\nBoven plan:  4,0 uur\n" in nl.text


def test_an_unknown_trigger_gets_the_generic_mail(templates):
    mail = render(templates, trigger="../../etc/passwd", stage="5")
    assert mail.subject == "[Burnrate] ACME-2026: alert for March 2026"


HOSTILE_TITLE = "Evil\r\nBcc: victim@evil.example\r\n\r\n{{7*7}} <script>alert(1)</script>"


def test_hostile_data_renders_literally_and_adds_no_header(templates):
    mail = render(
        templates, contract_title=HOSTILE_TITLE, recipient_name="Mallory\nX-Injected: yes"
    )
    assert mail.subject == "[Burnrate] ACME-2026: 90% of the hours for March 2026 used"
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
    assert (
        mail.subject == "[Burnrate] ACME Bcc: x@evil.example: 90% of the hours for March 2026 used"
    )


def test_message_ids_are_unique_rfc5322_ids():
    ids = {new_message_id("msp.example") for _ in range(1000)}
    assert len(ids) == 1000
    assert all(i.startswith("<") and i.endswith("@msp.example>") for i in ids)
