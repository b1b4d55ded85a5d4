"""The billing and service-level mails: the alerts allowance_reached,
budget_exceeded_forecast, sla_at_risk and sla_breached, and the two mails that are not
alerts (``statement.sent``: the statement's link and total; ``ticket.resolved``: the link
to confirm the closure) — formatting, then against the real PostgreSQL, RabbitMQ and an
SMTP server (aiosmtpd)."""

import datetime as dt
import email
import socket
import uuid
from decimal import Decimal
from email import policy
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from burnrate_common.event_payloads import StatementChanged, TicketChanged
from burnrate_common.events import (
    AlertFacts,
    AlertRaised,
    Audience,
    Contact,
    ContractChanged,
    ContractPeriod,
    CustomerChanged,
    EventType,
    new_event,
)
from burnrate_notifier.bootstrap import build
from burnrate_notifier.domain.alerts import (
    alert_mail_context,
    count_hours,
    duration_label,
    format_amount,
    local_time,
)
from burnrate_notifier.domain.notices import statement_notice_id, ticket_notice_id
from burnrate_notifier.mail import Templates
from burnrate_notifier.settings import NotifierSettings
from burnrate_testing import eventually, publish, serve

H = 3600
UTC = dt.UTC
AMS = ZoneInfo("Europe/Amsterdam")
OWNER = "owner@msp.example"
ANN = "ann@acme.example"  # Dutch
BOB = "bob@acme.example"  # English


# --- formatting ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "en", "nl"),
    [
        ("50", "EUR", "€50.00", "€ 50,00"),
        ("1234.5", "EUR", "€1,234.50", "€ 1.234,50"),
        ("1234567.891", "USD", "$1,234,567.89", "$ 1.234.567,89"),
        ("80", "CHF", "CHF 80.00", "CHF 80,00"),
        ("-25", "GBP", "£-25.00", "£ -25,00"),
    ],
)
def test_amounts_are_formatted_for_the_language(amount, currency, en, nl):
    assert format_amount(Decimal(amount), currency, "en") == en
    assert format_amount(Decimal(amount), currency, "nl") == nl


def test_hours_targets_and_local_times():
    assert [count_hours(s, "en") for s in (H, 3 * H // 2, 900)] == ["1", "1.5", "0.25"]
    assert count_hours(3 * H // 2, "nl") == "1,5"
    assert [duration_label(m, "en") for m in (240, 60, 90, 1)] == [
        "4 hours",
        "1 hour",
        "90 minutes",
        "1 minute",
    ]
    assert [duration_label(m, "nl") for m in (240, 60, 90)] == ["4 uur", "1 uur", "90 minuten"]
    at = dt.datetime(2026, 3, 16, 14, 30, tzinfo=UTC)  # 15:30 in Amsterdam
    assert local_time(at, AMS, "en", dt.date(2026, 3, 16)) == "15:30"
    assert local_time(at, AMS, "en", dt.date(2026, 3, 15)) == "15:30 on 16 March"
    assert local_time(at, AMS, "nl", dt.date(2026, 3, 15)) == "16 maart om 15:30"
    assert local_time(at, AMS, "en", None) == "15:30 on 16 March 2026"
    # summer time: the same UTC hour is 16:30 there
    assert local_time(at.replace(month=7), AMS, "nl", dt.date(2026, 7, 16)) == "16:30"


def render(trigger, stage, facts, language, *, for_owner=False):
    return Templates().render_alert(
        alert_mail_context(
            language=language,
            recipient_name="Ann",
            contract_code="ACME-2026",
            contract_title="Acme support",
            trigger=trigger,
            stage=stage,
            period_start=dt.date(2026, 3, 1),
            period_end=dt.date(2026, 3, 31),
            planned_seconds=5 * H,
            executed_seconds=6 * H,
            facts=facts,
            for_owner=for_owner,
            timezone="Europe/Amsterdam",
            raised_at=dt.datetime(2026, 3, 16, 10, 0, tzinfo=UTC),
        )
    )


ALLOWANCE = AlertFacts(
    currency="EUR", allowance_seconds=5 * H, charged_seconds=H, charged_amount=Decimal("50.00")
)
AT_RISK = AlertFacts(
    ticket_reference="4711",
    ticket_priority="P2",
    service_level="gold",
    sla_metric="resolution",
    sla_target_minutes=240,
    sla_due_at=dt.datetime(2026, 3, 16, 13, 0, tzinfo=UTC),
    sla_expected_at=dt.datetime(2026, 3, 16, 14, 30, tzinfo=UTC),
)


def test_the_allowance_mail_names_the_charged_hour_and_its_amount():
    mail = render("allowance_reached", "allowance", ALLOWANCE, "en")
    assert "The 5-hour allowance of contract ACME-2026" in mail.text
    assert "is used; 1 additional hour has been charged at €50.00" in mail.text
    assert "€50.00" in mail.subject and "1 additional hour" in mail.subject
    assert "<strong>ACME-2026</strong>" in mail.html and "€50.00" in mail.html
    more = AlertFacts(
        currency="EUR",
        allowance_seconds=5 * H,
        charged_seconds=9 * H,
        charged_amount=Decimal("1525"),
    )
    nl = render("allowance_reached", "allowance", more, "nl")
    assert "Het tegoed van 5 uur" in nl.text
    assert "9 extra uur is in rekening gebracht voor € 1.525,00" in nl.text


def test_the_budget_mail_names_both_amounts():
    facts = AlertFacts(currency="EUR", forecast_amount=Decimal("1725.5"), budget=Decimal("1500"))
    en = render("budget_exceeded_forecast", "budget", facts, "en")
    assert "will come to €1,725.50, above the budget of €1,500.00 by €225.50" in en.text
    nl = render("budget_exceeded_forecast", "budget", facts, "nl")
    assert "uit op € 1.725,50, boven het budget van € 1.500,00" in nl.text
    assert "€ 1.725,50" in nl.subject


def test_the_at_risk_mail_says_when_we_expect_it_in_local_time():
    en = render("sla_at_risk", "75", AT_RISK, "en")
    assert (
        "Ticket 4711 (P2, gold) will not be resolved within the agreed 4 hours; "
        "we expect it by 15:30." in en.text
    )
    assert "Here is what we are doing" in en.text
    assert "Due:           14:00" in en.text
    nl = render("sla_at_risk", "75", AT_RISK, "nl")
    assert (
        "Ticket 4711 (P2, gold) wordt niet binnen de afgesproken 4 uur opgelost; "
        "we verwachten het rond 15:30." in nl.text
    )
    assert "Dit is wat we doen" in nl.text
    owner = render("sla_at_risk", "75", AT_RISK, "en", for_owner=True)
    assert "What to do: tell the customer" in owner.text
    # no usual resolution time known: the share of the time passed and when it is due
    plain = AT_RISK.model_copy(update={"sla_expected_at": None})
    assert (
        "75% of that time has passed, and it is due by 14:00"
        in render("sla_at_risk", "75", plain, "en").text
    )


def test_the_breach_mail():
    facts = AT_RISK.model_copy(update={"sla_metric": "first_response", "sla_target_minutes": 60})
    en = render("sla_breached", "100", facts, "en")
    assert "Ticket 4711 (P2, gold) was not answered within the agreed 1 hour" in en.text
    assert "it was due by 14:00" in en.text
    nl = render("sla_breached", "100", facts, "nl")
    assert "is niet binnen de afgesproken 1 uur beantwoord" in nl.text


def test_notice_ids_are_one_per_statement_link_and_per_resolution():
    statement = uuid.uuid4()
    assert statement_notice_id(statement, "https://x/1") == statement_notice_id(
        statement, "https://x/1"
    )
    assert statement_notice_id(statement, "https://x/1") != statement_notice_id(
        statement, "https://x/2"
    )
    ticket, at = uuid.uuid4(), dt.datetime(2026, 3, 16, 14, tzinfo=UTC)
    assert ticket_notice_id(ticket, at) == ticket_notice_id(ticket, at.astimezone(AMS))
    assert ticket_notice_id(ticket, at) != ticket_notice_id(ticket, at + dt.timedelta(hours=1))


# --- through the consumer and the sender -------------------------------------------------


class Sink:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        content = envelope.content.replace(b"\r\n", b"\n")
        self.messages.append(email.message_from_bytes(content, policy=policy.default))
        return "250 Message accepted"

    def to(self, address):
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def smtp():
    sink = Sink()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    sink.port = port
    yield sink
    controller.stop()


def settings_for(isolation, smtp, **overrides):
    values = {
        "smtp_port": smtp.port,
        "mail_from": "Burnrate <burnrate@msp.example>",
        "sender_poll_seconds": 0.1,
        "send_retry_base_seconds": 0.05,
        "send_retry_max_seconds": 0.3,
    }
    return isolation.settings(NotifierSettings, **(values | overrides))


async def setup_contract(isolation):
    customer_id, contract_id = uuid.uuid4(), uuid.uuid4()
    customer = CustomerChanged(
        id=customer_id,
        name="Acme",
        contacts=[
            Contact(id=uuid.uuid4(), name="Ann", email=ANN, language="nl"),
            Contact(id=uuid.uuid4(), name="Bob", email=BOB, language="en"),
        ],
    )
    contract = ContractChanged(
        id=contract_id,
        customer_id=customer_id,
        code="ACME-2026",
        title="Acme support 2026",
        owner_email=OWNER,
        start_date=dt.date(2026, 1, 1),
        end_date=dt.date(2026, 12, 31),
        timezone="Europe/Amsterdam",
        period="monthly",
        planned_hours=Decimal(5),
        teams=["servicedesk"],
        work_accounts=[],
        periods=[
            ContractPeriod(
                start_date=dt.date(2026, 3, 1), end_date=dt.date(2026, 3, 31), planned_seconds=5 * H
            )
        ],
    )
    await publish(
        isolation.amqp_url,
        isolation.amqp_prefix,
        new_event(EventType.CUSTOMER_CREATED, customer, key=customer_id, producer="contracts"),
        new_event(EventType.CONTRACT_CREATED, contract, key=contract_id, producer="contracts"),
    )
    return customer_id, contract_id


def sla_alert(contract_id, customer_id, *, ticket, stage="75"):
    payload = AlertRaised(
        alert_id=uuid.uuid4(),
        rule_id=uuid.UUID(int=9),
        rule_name="at risk",
        contract_id=contract_id,
        customer_id=customer_id,
        period_start=dt.date(2026, 3, 1),
        period_end=dt.date(2026, 3, 31),
        trigger="sla_breached" if stage == "100" else "sla_at_risk",
        stage=stage,
        planned_seconds=5 * H,
        executed_seconds=2 * H,
        audience=Audience(owner=False, customer_contacts=True),
        **AT_RISK.model_copy(
            update={
                "ticket_id": uuid.uuid5(uuid.NAMESPACE_URL, ticket),
                "ticket_reference": ticket,
                # today, at 15:30 in the contract's zone: the mail says just "15:30"
                "sla_expected_at": dt.datetime.combine(
                    dt.datetime.now(AMS).date(), dt.time(15, 30), AMS
                ),
            }
        ).model_dump(),
    )
    return new_event(EventType.ALERT_RAISED, payload, key=contract_id, producer="rules")


async def test_at_risk_alerts_reach_each_contact_in_their_language(isolation, smtp):
    # One ticket's stage is one alert: a busy month's tickets do not use up the rule's
    # mails for the period (max 2 here); the address's daily cap still holds.
    settings = settings_for(isolation, smtp, max_mails_per_rule_period=2)
    async with serve(build(settings)) as api:
        customer_id, contract_id = await setup_contract(isolation)
        alerts = [sla_alert(contract_id, customer_id, ticket=str(4711 + n)) for n in range(4)]
        await publish(isolation.amqp_url, isolation.amqp_prefix, *alerts, alerts[0])

        async def all_sent():
            return len(smtp.messages) == 8 and smtp.messages

        await eventually(all_sent, timeout=20)
        dutch = sorted(m["Subject"] for m in smtp.to(ANN))
        assert dutch[0] == (
            "[Burnrate] ACME-2026: ticket 4711 wordt niet binnen 4 uur opgelost, "
            "verwacht rond 15:30"
        )
        body = smtp.to(ANN)[0].get_body(("plain",)).get_content()
        assert "we verwachten het rond 15:30" in body
        english = smtp.to(BOB)[0].get_body(("plain",)).get_content()
        assert "we expect it by 15:30" in english
        listed = await api.get("/v1/notifications", params={"contract_id": str(contract_id)})
        assert {n["state"] for n in listed.json()["items"]} == {"sent"}


def statement_sent(contract_id, customer_id, link):
    payload = StatementChanged(
        statement_id=uuid.UUID(int=21),
        contract_id=contract_id,
        customer_id=customer_id,
        period_start=dt.date(2026, 3, 1),
        period_end=dt.date(2026, 3, 31),
        status="sent",
        currency="EUR",
        allowance_seconds=5 * H,
        in_allowance_seconds=5 * H,
        charged_seconds=9 * H,
        charged_amount=Decimal("525.00"),
        subtotal=Decimal("525.00"),
        vat=Decimal("110.25"),
        total=Decimal("635.25"),
        link=link,
    )
    return new_event(EventType.STATEMENT_SENT, payload, key=contract_id, producer="billing")


def ticket_resolved(contract_id, customer_id, link, *, resolved_at):
    payload = TicketChanged(
        ticket_id=uuid.UUID(int=4711),
        reference="4711",
        contract_id=contract_id,
        customer_id=customer_id,
        source="api",
        priority="P2",
        status="resolved",
        level="gold",
        opened_at=resolved_at - dt.timedelta(hours=3),
        resolved_at=resolved_at,
        confirmation_link=link,
    )
    return new_event(EventType.TICKET_RESOLVED, payload, key=contract_id, producer="tickets")


async def test_the_statement_and_the_confirmation_link_go_to_the_contacts_once(isolation, smtp):
    async with serve(build(settings_for(isolation, smtp))) as api:
        customer_id, contract_id = await setup_contract(isolation)
        link = "https://billing.msp.example/v1/customer/statements/abc.def"
        sent = statement_sent(contract_id, customer_id, link)
        resolved_at = dt.datetime(2026, 3, 16, 14, 5, tzinfo=UTC)
        resolved = ticket_resolved(
            contract_id,
            customer_id,
            "https://tickets.msp.example/v1/confirmations/t.k",
            resolved_at=resolved_at,
        )
        no_link = ticket_resolved(contract_id, customer_id, None, resolved_at=resolved_at)
        # each heard twice (a redelivery, the same send published again): one mail each
        again = statement_sent(contract_id, customer_id, link)
        await publish(
            isolation.amqp_url, isolation.amqp_prefix, sent, resolved, no_link, again, resolved
        )

        async def four():
            return len(smtp.messages) >= 4

        await eventually(four, timeout=20)
        await eventually(lambda: _settled(api, contract_id), timeout=10)
        assert len(smtp.messages) == 4
        assert smtp.to(OWNER) == []
        ann = {m["Subject"]: m for m in smtp.to(ANN)}
        statement = ann[
            "[Burnrate] ACME-2026: uw overzicht voor maart 2026 (€ 635,25) staat klaar ter "
            "goedkeuring"
        ]
        text = statement.get_body(("plain",)).get_content()
        assert link in text and "€ 635,25 inclusief btw" in text and "€ 110,25" in text
        assert statement["List-Unsubscribe"] is None  # no alert: nothing to unsubscribe from
        confirmation = ann["[Burnrate] ACME-2026: ticket 4711 is opgelost - graag uw bevestiging"]
        text = confirmation.get_body(("plain",)).get_content()
        assert "https://tickets.msp.example/v1/confirmations/t.k" in text
        assert "16 maart 2026 om 15:05" in text
        bob = sorted(m["Subject"] for m in smtp.to(BOB))
        assert bob == [
            "[Burnrate] ACME-2026: ticket 4711 is resolved - please confirm",
            "[Burnrate] ACME-2026: your statement for March 2026 (€635.25) is ready for approval",
        ]
        items = (
            await api.get("/v1/notifications", params={"contract_id": str(contract_id)})
        ).json()["items"]
        assert sorted((n["trigger"], n["stage"], n["role"]) for n in items) == [
            ("statement_sent", "sent", "contact"),
            ("statement_sent", "sent", "contact"),
            ("ticket_resolved", "resolved", "contact"),
            ("ticket_resolved", "resolved", "contact"),
        ]
        assert {n["alert_id"] for n in items if n["trigger"] == "statement_sent"} == {
            str(statement_notice_id(uuid.UUID(int=21), link))
        }


async def _settled(api, contract_id):
    items = (await api.get("/v1/notifications", params={"contract_id": str(contract_id)})).json()[
        "items"
    ]
    return items and all(n["state"] == "sent" for n in items)


async def test_notices_count_towards_the_daily_cap_of_an_address(isolation, smtp):
    settings = settings_for(isolation, smtp, max_mails_per_address_per_day=1)
    async with serve(build(settings)) as api:
        customer_id, contract_id = await setup_contract(isolation)
        first = statement_sent(contract_id, customer_id, "https://b.example/s/1.x")
        second = statement_sent(contract_id, customer_id, "https://b.example/s/2.x")
        await publish(isolation.amqp_url, isolation.amqp_prefix, first, second)

        async def four():
            items = (
                await api.get("/v1/notifications", params={"contract_id": str(contract_id)})
            ).json()["items"]
            return len(items) == 4 and items

        items = await eventually(four, timeout=20)
        for address in (ANN, BOB):
            mine = [n for n in items if n["recipient"] == address]
            assert sorted(n["reason"] or "" for n in mine) == ["", "address_daily_limit"]
            assert sorted(n["state"] != "suppressed" for n in mine) == [False, True]
