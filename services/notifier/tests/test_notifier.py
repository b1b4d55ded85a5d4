"""The notifier against the real PostgreSQL, RabbitMQ and a real SMTP server (aiosmtpd)."""

import asyncio
import base64
import datetime as dt
import email
import json
import re
import socket
import uuid
from email import policy

import pytest
from aiosmtpd.controller import Controller
from burnrate_common import report_links
from burnrate_common.auth import hash_key
from burnrate_common.events import (
    AlertRaised,
    ApiKeyIssued,
    Audience,
    Contact,
    ContractChanged,
    ContractPeriod,
    CustomerChanged,
    EventType,
    new_event,
)
from burnrate_notifier.bootstrap import build
from burnrate_notifier.domain.unsubscribe import UnsubscribeLinks
from burnrate_notifier.settings import NotifierSettings
from burnrate_notifier.webhook import system_resolver
from burnrate_testing import eventually, publish, serve

pytestmark = pytest.mark.integration

H = 3600
OWNER = "owner@msp.example"
ANN = "ann@acme.example"
BOB = "bob@acme.example"


class Sink:
    """SMTP handler: keeps every message received, refuses the addresses it is told to."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.refuse: dict[str, str] = {}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        # Line endings as a mail reader shows them (SMTP carries CRLF).
        content = envelope.content.replace(b"\r\n", b"\n")
        self.messages.append(email.message_from_bytes(content, policy=policy.default))
        return "250 Message accepted"

    def to(self, address):
        return [m for m in self.messages if m["To"] == address]


class SmtpServer:
    def __init__(self) -> None:
        self.sink = Sink()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


def settings_for(isolation, smtp, **overrides):
    values = {
        "smtp_port": smtp.port,
        "mail_from": "Burnrate <burnrate@msp.example>",
        "sender_poll_seconds": 0.1,
        "send_retry_base_seconds": 0.05,
        "send_retry_max_seconds": 0.3,
        "send_max_attempts": 3,
    }
    return isolation.settings(NotifierSettings, **(values | overrides))


@pytest.fixture
async def notifier(isolation, smtp, probe):
    await probe.start("notification.*")
    async with serve(build(settings_for(isolation, smtp))) as client:
        yield client


# -- events as the contracts and rules services would publish them -------------------------


def customer_event(customer_id, contacts, *, event_type=EventType.CUSTOMER_CREATED):
    payload = CustomerChanged(
        id=customer_id,
        name="Acme",
        contacts=[
            Contact(id=uuid.uuid4(), name=name, email=address, language=language)
            for name, address, language in contacts
        ],
    )
    return new_event(event_type, payload, key=customer_id, producer="contracts")


def contract_event(contract_id, customer_id, *, event_type=EventType.CONTRACT_CREATED, **kw):
    fields = {
        "id": contract_id,
        "customer_id": customer_id,
        "code": "ACME-2026",
        "title": "Acme support 2026",
        "owner_email": OWNER,
        "start_date": dt.date(2026, 1, 1),
        "end_date": dt.date(2026, 12, 31),
        "timezone": "Europe/Amsterdam",
        "period": "monthly",
        "planned_hours": 40,
        "teams": ["servicedesk"],
        "work_accounts": ["ACME"],
        "periods": [
            ContractPeriod(
                start_date=dt.date(2026, 3, 1),
                end_date=dt.date(2026, 3, 31),
                planned_seconds=40 * H,
            )
        ],
    }
    payload = ContractChanged(**(fields | kw))
    return new_event(event_type, payload, key=contract_id, producer="contracts")


def alert_event(contract_id, *, stage="90", executed=36 * H, alert_id=None, **audience):
    trigger = "overage" if stage == "overage" else "percent_consumed"
    payload = AlertRaised(
        alert_id=alert_id or uuid.uuid4(),
        rule_id=uuid.UUID(int=7),
        rule_name="internal rule name",
        contract_id=contract_id,
        period_start=dt.date(2026, 3, 1),
        period_end=dt.date(2026, 3, 31),
        trigger=trigger,
        stage=stage,
        planned_seconds=40 * H,
        executed_seconds=executed,
        audience=Audience(**({"owner": True} | audience)),
    )
    return new_event(EventType.ALERT_RAISED, payload, key=contract_id, producer="rules")


async def setup_contract(isolation, contacts=(("Ann", ANN, "nl"), ("Bob", BOB, "en"))):
    customer_id, contract_id = uuid.uuid4(), uuid.uuid4()
    await publish(
        isolation.amqp_url,
        isolation.amqp_prefix,
        customer_event(customer_id, contacts),
        contract_event(contract_id, customer_id),
    )
    return customer_id, contract_id


async def deliveries(api, **params):
    response = await api.get("/v1/notifications", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def consumed(api, event_type, status):
    metrics = (await api.get("/metrics")).text
    line = re.search(
        rf'^burnrate_notifier_messages_consumed_total\{{status="{status}",type="{event_type}"\}} (\S+)$',
        metrics,
        re.M,
    )
    return float(line.group(1)) if line else 0.0


# -- tests -------------------------------------------------------------------------------


async def test_one_mail_per_recipient_in_their_language(notifier, smtp, probe, isolation):
    customer_id, contract_id = await setup_contract(isolation)
    alert = alert_event(
        contract_id,
        customer_contacts=True,
        emails=["BOB@acme.example", "finance@acme.example"],
    )
    await publish(isolation.amqp_url, isolation.amqp_prefix, alert)

    await eventually(lambda: _count(smtp.sink.messages, 4))
    received = {m["To"]: m for m in smtp.sink.messages}
    assert sorted(received) == sorted([OWNER, ANN, BOB, "finance@acme.example"])
    en_subject = (
        "[Burnrate] ACME-2026: 90% of the hours for March 2026 used - plan the remaining 4.0 h"
    )
    assert received[OWNER]["Subject"] == en_subject
    assert received[BOB]["Subject"] == en_subject
    assert received["finance@acme.example"]["Subject"] == en_subject
    assert (
        received[ANN]["Subject"]
        == "[Burnrate] ACME-2026: 90% van de uren voor maart 2026 verbruikt - plan de resterende 4,0 uur"
    )
    for message in received.values():
        assert message["From"] == "Burnrate <burnrate@msp.example>"
        assert message["X-Burnrate-Alert-Id"] == alert.data["alert_id"]
        assert message["X-Burnrate-Stage"] == "90"
        assert message.get_content_type() == "multipart/alternative"
        if message["To"] != OWNER:
            # Only the owner's mail names the rule; the others carry no internal names.
            assert "internal rule name" not in message.as_string()
            assert OWNER not in message.get_body(("plain",)).get_content()
    assert "Rule:       internal rule name\n" in received[OWNER].get_body(("plain",)).get_content()
    assert "Executed:   36.0 h\n" in received[BOB].get_body(("plain",)).get_content()
    assert "Beste Ann," in received[ANN].get_body(("plain",)).get_content()
    assert "<p>Beste Ann,</p>" in received[ANN].get_body(("html",)).get_content()
    # Customer contacts get a signed link to their own report; the owner and extra addresses don't.
    link = re.search(r"Uw rapportage: (\S+)", received[ANN].get_body(("plain",)).get_content())
    assert link and link[1].startswith("http://127.0.0.1:8005/ui/c/")
    grant = report_links.verify(
        NotifierSettings().link_secret, link[1].rsplit("/", 1)[1], dt.datetime.now(dt.UTC)
    )
    assert grant.customer_id == customer_id
    for address in (OWNER, "finance@acme.example"):
        assert "/ui/c/" not in received[address].as_string()

    # The SMTP server's "250" comes just before the commit that records it.
    async def all_sent():
        items = await deliveries(notifier, alert_id=alert.data["alert_id"])
        assert [d["state"] for d in items] == ["sent"] * 4
        return items

    items = await eventually(all_sent)
    by_recipient = {d["recipient"]: d for d in items}
    assert sorted(by_recipient) == sorted(received)
    for address, delivery in by_recipient.items():
        assert (delivery["state"], delivery["attempts"], delivery["channel"]) == (
            "sent",
            1,
            "email",
        )
        assert delivery["message_id"] == received[address]["Message-ID"]
        assert delivery["contract_id"] == str(contract_id)
        assert delivery["sent_at"] is not None and delivery["next_attempt_at"] is None
    assert (by_recipient[ANN]["language"], by_recipient[ANN]["role"]) == ("nl", "contact")
    assert (by_recipient[BOB]["language"], by_recipient[BOB]["role"]) == ("en", "contact")
    assert by_recipient[OWNER]["role"] == "owner"

    # The stored mail is the mail received.
    # The stored mail is the mail received, its signed links (the customer's report, the
    # unsubscribe link) shown redacted: a notifications:read key must not be able to open
    # a customer's reports or opt a contact out with them.
    detail = (await notifier.get(f"/v1/notifications/{by_recipient[ANN]['id']}")).json()
    sent_text = received[ANN].get_body(("plain",)).get_content()
    report_token = link[1].rsplit("/", 1)[1]
    unsubscribe_token = received[ANN]["List-Unsubscribe"][1:-1].rsplit("/", 1)[1]
    assert report_token in sent_text and unsubscribe_token in sent_text
    assert detail["body_text"] == sent_text.replace(report_token, "REDACTED").replace(
        unsubscribe_token, "REDACTED"
    )
    assert detail["subject"] == received[ANN]["Subject"]
    for token in (report_token, unsubscribe_token):
        assert token not in detail["body_html"]
        assert token in received[ANN].get_body(("html",)).get_content()
    reader = await issue_key(notifier, isolation, ["notifications:read"])
    for delivery in items:
        shown = await notifier.get(f"/v1/notifications/{delivery['id']}", headers=reader)
        assert shown.status_code == 200
        assert "/ui/c/REDACTED" in shown.text or "/ui/c/" not in shown.text
        assert "/unsubscribe/REDACTED" in shown.text or "/unsubscribe/" not in shown.text
        assert not re.search(r"/(ui/c|unsubscribe)/(?!REDACTED)", shown.text)
    listed = await notifier.get("/v1/notifications", headers=reader)
    assert report_token not in listed.text and unsubscribe_token not in listed.text

    await eventually(lambda: _count(probe.of_type(EventType.NOTIFICATION_SENT), 4))
    sent = {e.data["delivery_id"]: e for e in probe.of_type(EventType.NOTIFICATION_SENT)}
    assert sorted(sent) == sorted(d["id"] for d in items)
    event = sent[by_recipient[ANN]["id"]]
    assert event.key == str(contract_id) and event.causation_id == str(alert.id)
    assert event.correlation_id == alert.correlation_id
    assert event.data["attempts"] == 1 and event.data["error"] is None

    metrics = (await notifier.get("/metrics")).text
    assert 'burnrate_notifier_deliveries_total{channel="email",outcome="sent"} 4.0' in metrics


async def test_the_same_alert_twice_sends_no_second_mail(notifier, smtp, isolation):
    _, contract_id = await setup_contract(isolation)
    alert = alert_event(contract_id, stage="overage", executed=44 * H)
    await publish(isolation.amqp_url, isolation.amqp_prefix, alert)
    await eventually(lambda: _count(smtp.sink.messages, 1))
    assert smtp.sink.messages[0]["Subject"] == (
        "[Burnrate] ACME-2026: hours for March 2026 over plan by 4.0 h - review the extra hours"
    )

    # A redelivery of the same event, and the same alert in a new envelope.
    again = alert_event(
        contract_id, stage="overage", executed=44 * H, alert_id=uuid.UUID(alert.data["alert_id"])
    )
    await publish(isolation.amqp_url, isolation.amqp_prefix, alert, again)
    await eventually(lambda: _equals(consumed(notifier, "alert.raised", "duplicate"), 1.0))
    await eventually(lambda: _equals(consumed(notifier, "alert.raised", "success"), 2.0))
    await asyncio.sleep(0.5)  # five sender polls
    assert len(smtp.sink.messages) == 1
    assert len(await deliveries(notifier)) == 1


async def test_smtp_down_spends_no_attempts_then_sends_each_mail_once(isolation, smtp):
    # Two tries per mail at most, and an outage far longer than two connects: the outage
    # must not count, or the mail would end failed.
    settings = settings_for(
        isolation,
        smtp,
        send_max_attempts=2,
        smtp_outage_retry_base_seconds=0.05,
        smtp_outage_retry_max_seconds=0.2,
    )
    smtp.stop()
    async with serve(build(settings)) as api:
        _, contract_id = await setup_contract(isolation)
        await publish(isolation.amqp_url, isolation.amqp_prefix, alert_event(contract_id))

        async def waiting():
            items = await deliveries(api)
            assert len(items) == 1 and items[0]["state"] == "retrying"
            assert items[0]["attempts"] == 0
            assert items[0]["last_error"].startswith("SMTP server unreachable: ")
            assert items[0]["next_attempt_at"] is not None
            return items[0]

        before = await eventually(waiting)
        await eventually(lambda: _at_least(smtp_unreachable(api), 8), timeout=15)
        [still] = await deliveries(api)
        assert (still["state"], still["attempts"]) == ("retrying", 0)
        assert await deliveries(api, state="failed") == []
        assert "burnrate_notifier_smtp_up 0.0" in (await api.get("/metrics")).text

        smtp.start()
        await eventually(lambda: _count(smtp.sink.messages, 1))
        await asyncio.sleep(0.5)
        assert len(smtp.sink.messages) == 1

        async def sent():
            [delivery] = await deliveries(api)
            assert (delivery["state"], delivery["attempts"]) == ("sent", 1)
            return delivery

        delivery = await eventually(sent)
        assert smtp.sink.messages[0]["Message-ID"] == delivery["message_id"] == before["message_id"]
        assert "burnrate_notifier_smtp_up 1.0" in (await api.get("/metrics")).text


FORTY_HOUR_SUBJECTS = {
    "en": [
        "[Burnrate] ACME-2026: 70% of the hours for March 2026 used - plan the remaining 12.0 h",
        "[Burnrate] ACME-2026: 90% of the hours for March 2026 used - plan the remaining 4.0 h",
        "[Burnrate] ACME-2026: hours for March 2026 over plan by 4.0 h - review the extra hours",
    ],
    "nl": [
        "[Burnrate] ACME-2026: 70% van de uren voor maart 2026 verbruikt"
        " - plan de resterende 12,0 uur",
        "[Burnrate] ACME-2026: 90% van de uren voor maart 2026 verbruikt"
        " - plan de resterende 4,0 uur",
        "[Burnrate] ACME-2026: uren voor maart 2026 4,0 uur boven plan - controleer de extra uren",
    ],
}


@pytest.mark.parametrize("language", ["en", "nl"])
async def test_the_forty_hour_month_with_smtp_stopped_and_restarted(isolation, smtp, language):
    """The three alerts of the 40-hour month (28 h, 36 h, 44 h) to the owner and a customer
    contact; SMTP goes down after the first and comes back after the others are queued."""
    settings = settings_for(
        isolation,
        smtp,
        send_max_attempts=2,
        smtp_outage_retry_base_seconds=0.05,
        smtp_outage_retry_max_seconds=0.2,
    )
    async with serve(build(settings)) as api:
        _, contract_id = await setup_contract(isolation, contacts=(("Ann", ANN, language),))
        stages = [("70", 28 * H), ("90", 36 * H), ("overage", 44 * H)]
        alerts = [
            alert_event(contract_id, stage=stage, executed=executed, customer_contacts=True)
            for stage, executed in stages
        ]
        await publish(isolation.amqp_url, isolation.amqp_prefix, alerts[0])
        await eventually(lambda: _count(smtp.sink.messages, 2))

        smtp.stop()
        await publish(isolation.amqp_url, isolation.amqp_prefix, *alerts[1:])

        async def four_waiting():
            items = [d for d in await deliveries(api) if d["state"] != "sent"]
            assert [(d["state"], d["attempts"]) for d in items] == [("retrying", 0)] * 4
            return True

        await eventually(four_waiting)
        await eventually(lambda: _at_least(smtp_unreachable(api), 6), timeout=15)
        smtp.start()

        await eventually(lambda: _count(smtp.sink.messages, 6), timeout=15)
        await asyncio.sleep(0.5)  # a mail sent twice would arrive now
        assert len(smtp.sink.messages) == 6
        assert len({m["Message-ID"] for m in smtp.sink.messages}) == 6
        # The contact reads their language; the owner reads English.
        assert [m["Subject"] for m in smtp.sink.to(ANN)] == FORTY_HOUR_SUBJECTS[language]
        assert [m["Subject"] for m in smtp.sink.to(OWNER)] == FORTY_HOUR_SUBJECTS["en"]
        for message in smtp.sink.to(ANN):
            text = message.get_body(("plain",)).get_content()
            assert text.startswith("Beste Ann," if language == "nl" else "Hello Ann,")
            # The customer's mail carries no internal names.
            assert "internal rule name" not in message.as_string()
        for message in smtp.sink.to(OWNER):
            assert "Rule:       internal rule name\n" in message.get_body(("plain",)).get_content()

        async def all_sent_once():
            items = await deliveries(api)
            assert [(d["state"], d["attempts"]) for d in items] == [("sent", 1)] * 6
            return items

        items = await eventually(all_sent_once)
        assert sorted(d["message_id"] for d in items) == sorted(
            m["Message-ID"] for m in smtp.sink.messages
        )


async def test_two_replicas_send_each_mail_once(isolation, smtp):
    # 15 alerts of one rule to the owner: above the default limit of 10 mails per rule.
    settings = settings_for(isolation, smtp, max_mails_per_rule_period=100)
    async with serve(build(settings)) as one, serve(build(settings)) as two:
        _, contract_id = await setup_contract(isolation)
        alerts = [alert_event(contract_id, emails=[f"x{i}@acme.example"]) for i in range(15)]
        await publish(isolation.amqp_url, isolation.amqp_prefix, *alerts)

        await eventually(lambda: _count(smtp.sink.messages, 30))
        await asyncio.sleep(0.5)
        assert len(smtp.sink.messages) == 30
        assert len({m["Message-ID"] for m in smtp.sink.messages}) == 30
        assert len(smtp.sink.to(OWNER)) == 15
        items = await deliveries(two, limit=100)
        assert [(d["state"], d["attempts"]) for d in items] == [("sent", 1)] * 30

        async def sent_by(api):
            metrics = (await api.get("/metrics")).text
            found = re.search(r'deliveries_total\{channel="email",outcome="sent"\} (\S+)', metrics)
            return float(found.group(1)) if found else 0.0

        assert await sent_by(one) + await sent_by(two) == 30


async def test_refusals_end_failed_and_a_failed_mail_can_be_retried_by_hand(
    notifier, smtp, probe, isolation
):
    smtp.sink.refuse = {
        ANN: "550 5.1.1 No such user",
        "later@acme.example": "451 4.7.1 Try again later",
    }
    _, contract_id = await setup_contract(isolation)
    alert = alert_event(contract_id, customer_contacts=True, emails=["later@acme.example"])
    await publish(isolation.amqp_url, isolation.amqp_prefix, alert)

    async def settled():
        items = {d["recipient"]: d for d in await deliveries(notifier)}
        assert {a: d["state"] for a, d in items.items()} == {
            OWNER: "sent",
            BOB: "sent",
            ANN: "failed",
            "later@acme.example": "failed",
        }
        return items

    items = await eventually(settled)
    # A 5xx for the recipient fails at once; a 4xx is tried send_max_attempts times.
    assert (items[ANN]["attempts"], items[ANN]["last_error"]) == (1, "550 5.1.1 No such user")
    assert items["later@acme.example"]["attempts"] == 3
    assert items["later@acme.example"]["last_error"] == "451 4.7.1 Try again later"
    assert sorted(m["To"] for m in smtp.sink.messages) == [BOB, OWNER]
    failed = await deliveries(notifier, state="failed")
    assert sorted(d["recipient"] for d in failed) == [ANN, "later@acme.example"]

    await eventually(lambda: _count(probe.of_type(EventType.NOTIFICATION_FAILED), 2))
    errors = {
        e.data["recipient"]: e.data["error"] for e in probe.of_type(EventType.NOTIFICATION_FAILED)
    }
    assert errors[ANN] == "550 5.1.1 No such user"

    # Retrying by hand needs notifications:write; only a failed delivery can be retried.
    reader = await issue_key(notifier, isolation, ["notifications:read"])
    forbidden = await notifier.post(f"/v1/notifications/{items[ANN]['id']}/retry", headers=reader)
    assert forbidden.status_code == 403
    assert forbidden.json()["required_scope"] == "notifications:write"
    conflict = await notifier.post(f"/v1/notifications/{items[OWNER]['id']}/retry")
    assert conflict.status_code == 409
    assert conflict.json()["errors"] == [
        {
            "field": "state",
            "message": "Only a failed notification can be retried; this one is sent.",
        }
    ]
    missing = await notifier.post(f"/v1/notifications/{uuid.uuid4()}/retry")
    assert missing.status_code == 404 and missing.json()["errors"][0]["field"] == "notification_id"

    smtp.sink.refuse = {}
    writer = await issue_key(notifier, isolation, ["notifications:write"])
    retried = await notifier.post(f"/v1/notifications/{items[ANN]['id']}/retry", headers=writer)
    assert retried.status_code == 200, retried.text
    assert (retried.json()["state"], retried.json()["attempts"]) == ("queued", 1)

    await eventually(lambda: _count(smtp.sink.to(ANN), 1))

    async def resent():
        detail = (await notifier.get(f"/v1/notifications/{items[ANN]['id']}")).json()
        assert (detail["state"], detail["attempts"]) == ("sent", 2)
        return True

    await eventually(resent)
    assert smtp.sink.to(ANN)[0]["Message-ID"] == items[ANN]["message_id"]
    assert (await deliveries(notifier, state="failed"))[0]["recipient"] == "later@acme.example"


async def test_replica_applies_full_state_ignores_stale_and_waits_for_the_contract(
    notifier, smtp, isolation
):
    customer_id, contract_id = await setup_contract(isolation)
    hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    fresh_customer = customer_event(
        customer_id, [("Ann", ANN, "en")], event_type=EventType.CUSTOMER_UPDATED
    )
    stale_customer = customer_event(
        customer_id, [("Ann", ANN, "nl"), ("Bob", BOB, "en")], event_type=EventType.CUSTOMER_UPDATED
    ).model_copy(update={"occurred_at": hour_ago})
    fresh_contract = contract_event(
        contract_id, customer_id, event_type=EventType.CONTRACT_UPDATED, title="Renamed <support>"
    )
    stale_contract = contract_event(
        contract_id,
        customer_id,
        event_type=EventType.CONTRACT_UPDATED,
        owner_email="old@msp.example",
    ).model_copy(update={"occurred_at": hour_ago})
    await publish(
        isolation.amqp_url,
        isolation.amqp_prefix,
        fresh_customer,
        fresh_contract,
        stale_customer,
        stale_contract,
    )
    await eventually(lambda: _equals(consumed(notifier, "customer.updated", "success"), 2.0))
    await eventually(lambda: _equals(consumed(notifier, "contract.updated", "success"), 2.0))

    # An alert for a contract not replicated yet waits (bus retries) until it arrives.
    other_contract = uuid.uuid4()
    await publish(
        isolation.amqp_url,
        isolation.amqp_prefix,
        alert_event(contract_id, customer_contacts=True),
        alert_event(other_contract, stage="70", executed=28 * H),
    )
    await eventually(lambda: _count(smtp.sink.messages, 2))
    await publish(
        isolation.amqp_url,
        isolation.amqp_prefix,
        contract_event(other_contract, customer_id, code="LATE-1"),
    )
    await eventually(lambda: _count(smtp.sink.messages, 3))

    assert sorted(m["To"] for m in smtp.sink.messages) == [ANN, OWNER, OWNER]
    [ann] = smtp.sink.to(ANN)
    assert (
        ann["Subject"]
        == "[Burnrate] ACME-2026: 90% of the hours for March 2026 used - plan the remaining 4.0 h"
    )
    assert "Renamed &lt;support&gt;" in ann.get_body(("html",)).get_content()
    late = [m for m in smtp.sink.messages if "LATE-1" in m["Subject"]]
    assert [m["Subject"] for m in late] == [
        "[Burnrate] LATE-1: 70% of the hours for March 2026 used - plan the remaining 12.0 h"
    ]


async def test_api_input_and_auth(notifier, isolation):
    _, contract_id = await setup_contract(isolation)
    for _ in range(3):
        await publish(isolation.amqp_url, isolation.amqp_prefix, alert_event(contract_id))

    async def three():
        items = await deliveries(notifier, contract_id=str(contract_id))
        return len(items) == 3

    await eventually(three)
    first = (await notifier.get("/v1/notifications", params={"limit": 2})).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = (
        await notifier.get("/v1/notifications", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    ids = [d["id"] for d in first["items"] + rest["items"]]
    assert len(set(ids)) == 3
    assert await deliveries(notifier, contract_id=str(uuid.uuid4())) == []

    for params, field, status in [
        ({"state": "lost"}, "state", 422),
        ({"alert_id": "nope"}, "alert_id", 422),
        ({"limit": 0}, "limit", 422),
        ({"cursor": "not-a-cursor"}, "cursor", 400),
    ]:
        response = await notifier.get("/v1/notifications", params=params)
        assert response.status_code == status, params
        assert response.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in response.json()["errors"]] == [field]

    bad_id = await notifier.get("/v1/notifications/123")
    assert bad_id.status_code == 422 and bad_id.json()["errors"][0]["field"] == "notification_id"
    unknown = await notifier.get(f"/v1/notifications/{uuid.uuid4()}")
    assert unknown.status_code == 404
    assert (
        await notifier.get("/v1/notifications", headers={"Authorization": ""})
    ).status_code == 401

    reader = await issue_key(notifier, isolation, ["notifications:read"])
    assert (await notifier.get(f"/v1/notifications/{ids[0]}", headers=reader)).status_code == 200
    other = await issue_key(notifier, isolation, ["contracts:read"])
    assert (await notifier.get("/v1/notifications", headers=other)).status_code == 403


async def issue_key(api, isolation, scopes):
    """A key issued by the contracts service reaches the notifier as a hash."""
    key = f"br_{uuid.uuid4().hex}"
    key_id = uuid.uuid4()
    event = new_event(
        EventType.APIKEY_ISSUED,
        ApiKeyIssued(id=key_id, name="test", key_hash=hash_key(key), scopes=scopes),
        key=key_id,
        producer="contracts",
    )
    await publish(isolation.amqp_url, isolation.amqp_prefix, event)
    headers = {"Authorization": f"Bearer {key}"}

    async def known():
        return (await api.get("/v1/notifications", headers=headers)).status_code != 401

    await eventually(known)
    return headers


async def _count(items, n):
    assert len(items) <= n, f"{len(items)} > {n}"
    return len(items) == n


async def _at_least(value, expected):
    return await value >= expected


async def smtp_unreachable(api):
    metrics = (await api.get("/metrics")).text
    found = re.search(r"^burnrate_notifier_smtp_unreachable_total (\S+)$", metrics, re.M)
    return float(found.group(1)) if found else 0.0


async def _equals(value, expected):
    return await value == expected


# -- the in-app feed -----------------------------------------------------------------------


async def test_feed_for_teams_and_owner_with_read_and_unread(notifier, isolation):
    customer_id, contract_id = uuid.uuid4(), uuid.uuid4()
    await publish(
        isolation.amqp_url,
        isolation.amqp_prefix,
        customer_event(customer_id, [("Ann", ANN, "nl")]),
        contract_event(contract_id, customer_id, teams=["servicedesk", "field"]),
    )
    first = alert_event(contract_id, stage="70", executed=28 * H, teams=True)
    second = alert_event(contract_id, stage="90", executed=36 * H, teams=True, owner=False)
    await publish(isolation.amqp_url, isolation.amqp_prefix, first)
    await eventually(lambda: _count_feed(notifier, {"team": "servicedesk"}, 1))
    await publish(isolation.amqp_url, isolation.amqp_prefix, second, first)  # first again
    await eventually(lambda: _count_feed(notifier, {"team": "servicedesk"}, 2))

    page = (await notifier.get("/v1/feed", params={"team": "servicedesk"})).json()
    assert page["unread_count"] == 2 and page["next_cursor"] is None
    newest, oldest = page["items"]
    assert (newest["stage"], oldest["stage"]) == ("90", "70")
    assert newest["headline"] == (
        "ACME-2026: 90% of the hours for March 2026 used - plan the remaining 4.0 h"
    )
    assert newest["facts"] == {
        "alert_id": second.data["alert_id"],
        "rule_id": str(uuid.UUID(int=7)),
        "rule_name": "internal rule name",
        "contract": {"id": str(contract_id), "code": "ACME-2026", "title": "Acme support 2026"},
        "customer_id": None,
        "trigger": "percent_consumed",
        "stage": "90",
        "period": {"start": "2026-03-01", "end": "2026-03-31"},
        "planned_seconds": 40 * H,
        "executed_seconds": 36 * H,
        "remaining_seconds": 4 * H,
        "over_seconds": 0,
        "percent_used": 90,
    }
    assert (newest["audience"], newest["audience_key"], newest["read"]) == (
        "team",
        "servicedesk",
        False,
    )
    assert len((await notifier.get("/v1/feed", params={"team": "field"})).json()["items"]) == 2
    assert (await notifier.get("/v1/feed", params={"team": "nobody"})).json()["items"] == []

    # The owner's feed is keyed by their address (any case); the second alert skipped them.
    owner = (await notifier.get("/v1/feed", params={"owner": OWNER.upper()})).json()
    assert [e["stage"] for e in owner["items"]] == ["70"]

    # Marking read changes state: notifications:read alone is not enough.
    reader = await issue_key(notifier, isolation, ["notifications:read"])
    for action in ("read", "unread"):
        forbidden = await notifier.post(f"/v1/feed/{oldest['id']}/{action}", headers=reader)
        assert forbidden.status_code == 403, action
        assert forbidden.json()["required_scope"] == "notifications:write"
    assert (await notifier.get("/v1/feed", params={"team": "servicedesk"}, headers=reader)).json()[
        "unread_count"
    ] == 2
    writer = await issue_key(notifier, isolation, ["notifications:read", "notifications:write"])
    read = await notifier.post(f"/v1/feed/{oldest['id']}/read", headers=writer)
    assert read.status_code == 200 and read.json()["read"] is True
    again = await notifier.post(f"/v1/feed/{oldest['id']}/read")
    assert again.json()["read_at"] == read.json()["read_at"]
    unread = (
        await notifier.get("/v1/feed", params={"team": "servicedesk", "unread": "true"})
    ).json()
    assert [e["stage"] for e in unread["items"]] == ["90"] and unread["unread_count"] == 1
    # Read by the team: the other team's entry for the same alert is still unread.
    field = (await notifier.get("/v1/feed", params={"team": "field", "unread": "true"})).json()
    assert field["unread_count"] == 2
    back = await notifier.post(f"/v1/feed/{oldest['id']}/unread")
    assert back.json()["read"] is False and back.json()["read_at"] is None

    paged = (await notifier.get("/v1/feed", params={"team": "servicedesk", "limit": 1})).json()
    rest = (
        await notifier.get(
            "/v1/feed", params={"team": "servicedesk", "limit": 1, "cursor": paged["next_cursor"]}
        )
    ).json()
    assert [e["stage"] for e in paged["items"] + rest["items"]] == ["90", "70"]

    for params, field_name in [
        ({}, "team"),
        ({"team": "a", "owner": OWNER}, "owner"),
        ({"owner": "not-an-address"}, "owner"),
        ({"team": "a", "unread": "maybe"}, "unread"),
    ]:
        response = await notifier.get("/v1/feed", params=params)
        assert response.status_code == 422, params
        assert [e["field"] for e in response.json()["errors"]] == [field_name]
    missing = await notifier.post(f"/v1/feed/{uuid.uuid4()}/read")
    assert missing.status_code == 404 and missing.json()["errors"][0]["field"] == "entry_id"


async def _count_feed(api, params, n):
    items = (await api.get("/v1/feed", params=params)).json()["items"]
    return await _count(items, n)


# -- limits and opt-outs -------------------------------------------------------------------


async def test_mail_limit_per_rule_and_period_and_opt_outs(isolation, smtp):
    settings = settings_for(isolation, smtp, max_mails_per_rule_period=2)
    async with serve(build(settings)) as api:
        _, contract_id = await setup_contract(isolation)
        # A flood: twelve alerts of one rule at once; the owner gets two mails.
        flood = [alert_event(contract_id) for _ in range(12)]
        await publish(isolation.amqp_url, isolation.amqp_prefix, *flood)

        async def settled():
            items = await deliveries(api, limit=100)
            assert len(items) == 12
            states = sorted((d["state"], d["reason"]) for d in items)
            assert states == [("sent", None)] * 2 + [("suppressed", "mail_limit")] * 10
            return items

        await eventually(settled)
        assert len(smtp.sink.messages) == 2

        # Opt-outs: changed with notifications:write, the address compared case-insensitively.
        reader = await issue_key(api, isolation, ["notifications:read"])
        writer = await issue_key(api, isolation, ["notifications:write"])
        for method in ("put", "delete"):
            forbidden = await api.request(method.upper(), f"/v1/opt-outs/{ANN}", headers=reader)
            assert forbidden.status_code == 403, method
            assert forbidden.json()["required_scope"] == "notifications:write"
        created = await api.put("/v1/opt-outs/Ann@ACME.example", headers=writer)
        assert created.status_code == 201 and created.json()["email"] == ANN
        assert (await api.put(f"/v1/opt-outs/{ANN}")).status_code == 200
        listed = (await api.get("/v1/opt-outs", headers=reader)).json()
        assert [o["email"] for o in listed["items"]] == [ANN]
        bad = await api.put("/v1/opt-outs/not-an-address")
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "email"
        garbage = await api.get("/v1/opt-outs", params={"cursor": "not-a-cursor"})
        assert garbage.status_code == 400 and garbage.json()["errors"][0]["field"] == "cursor"

        other_rule = alert_event(contract_id, customer_contacts=True, owner=False)
        other_rule = other_rule.model_copy(
            update={"data": other_rule.data | {"rule_id": str(uuid.UUID(int=8))}}
        )
        await publish(isolation.amqp_url, isolation.amqp_prefix, other_rule)

        async def contacts_settled():
            items = await deliveries(api, alert_id=other_rule.data["alert_id"])
            assert {d["recipient"]: (d["state"], d["reason"]) for d in items} == {
                ANN: ("suppressed", "opted_out"),
                BOB: ("sent", None),
            }
            return True

        await eventually(contacts_settled)
        assert smtp.sink.to(ANN) == []
        assert (await api.delete(f"/v1/opt-outs/{ANN}")).status_code == 204
        gone = await api.delete(f"/v1/opt-outs/{ANN}")
        assert gone.status_code == 404 and gone.json()["errors"][0]["field"] == "email"
        assert (await api.get("/v1/opt-outs")).json()["items"] == []
        suppressed = await deliveries(api, state="suppressed")
        assert len(suppressed) == 11 and all(d["next_attempt_at"] is None for d in suppressed)


# -- outbound webhooks ---------------------------------------------------------------------

WEBHOOK_SECRET = "webhook-test-secret"


class WebhookReceiver:
    """A real HTTP server (uvicorn + starlette) that records each call; answers 503 to the
    first ``fail_first`` calls."""

    def __init__(self, fail_first=0):
        from starlette.applications import Starlette
        from starlette.responses import Response
        from starlette.routing import Route

        self.calls = []
        self.fail_first = fail_first

        async def hook(request):
            self.calls.append((dict(request.headers), await request.body()))
            status = 503 if len(self.calls) <= self.fail_first else 204
            return Response(status_code=status)

        self.app = Starlette(routes=[Route("/hooks/burnrate", hook, methods=["POST"])])
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]

    async def __aenter__(self):
        import uvicorn

        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())

        async def started():
            return self._server.started

        await eventually(started)
        return self

    async def __aexit__(self, *exc):
        self._server.should_exit = True
        await self._task

    def url(self, host="127.0.0.1"):
        return f"http://{host}:{self.port}/hooks/burnrate"


def webhook_alert(contract_id, url, **kw):
    alert = alert_event(contract_id, owner=False, webhook_url=url, **kw)
    data = alert.data | {
        "trigger": "forecast_over_plan",
        "stage": "100",
        "forecast_seconds": 52 * H,
        "forecast_exhaustion_date": "2026-03-24",
        "customer_id": str(uuid.UUID(int=9)),
    }
    return alert.model_copy(update={"data": data})


async def test_webhook_is_signed_and_retried_like_mail(isolation, smtp):
    from burnrate_notifier.domain.webhooks import verify

    settings = settings_for(
        isolation, smtp, webhook_allow_private=True, webhook_secret=WEBHOOK_SECRET
    )
    async with WebhookReceiver(fail_first=1) as receiver, serve(build(settings)) as api:
        _, contract_id = await setup_contract(isolation)
        alert = webhook_alert(contract_id, receiver.url())
        await publish(isolation.amqp_url, isolation.amqp_prefix, alert)

        async def sent():
            items = await deliveries(api, channel="webhook")
            assert [(d["state"], d["attempts"]) for d in items] == [("sent", 2)]
            return items[0]

        delivery = await eventually(sent)
        assert (delivery["recipient"], delivery["role"]) == (receiver.url(), "webhook")
        assert len(receiver.calls) == 2
        (headers, body), (headers2, body2) = receiver.calls
        # The retry is the same request: same bytes, same signature.
        assert body == body2 and headers["x-burnrate-signature"] == headers2["x-burnrate-signature"]
        assert verify(WEBHOOK_SECRET.encode(), body, headers["x-burnrate-signature"])
        assert not verify(b"wrong", body, headers["x-burnrate-signature"])
        assert headers["content-type"] == "application/json"
        assert headers["x-burnrate-delivery"] == delivery["id"]
        assert headers["x-burnrate-event"] == "alert.raised"
        payload = json.loads(body)
        assert payload.pop("raised_at") == alert.occurred_at.isoformat()
        assert payload == {
            "event": "alert.raised",
            "delivery_id": delivery["id"],
            "alert_id": alert.data["alert_id"],
            "rule_id": str(uuid.UUID(int=7)),
            "contract": {"id": str(contract_id), "code": "ACME-2026", "title": "Acme support 2026"},
            "customer_id": str(uuid.UUID(int=9)),
            "trigger": "forecast_over_plan",
            "stage": "100",
            "period": {"start": "2026-03-01", "end": "2026-03-31"},
            "planned_seconds": 40 * H,
            "executed_seconds": 36 * H,
            "remaining_seconds": 4 * H,
            "over_seconds": 0,
            "percent_used": 90,
            "forecast_seconds": 52 * H,
            "forecast_exhaustion_date": "2026-03-24",
        }
        # The detail shows the exact body sent.
        detail = (await api.get(f"/v1/notifications/{delivery['id']}")).json()
        assert detail["body_text"].encode() == body
        assert smtp.sink.messages == []  # owner=False: no mail


class Rebinding:
    """A resolver for names under ``.rebind.test`` (which no real DNS answers, RFC 6761):
    they resolve to 127.0.0.1, as a rebinding name does on its second lookup. Other names
    go to the system resolver. Counts the lookups."""

    def __init__(self):
        self.lookups = []

    async def __call__(self, host, port):
        self.lookups.append(host)
        if host.endswith(".rebind.test"):
            return ["127.0.0.1"]
        return await system_resolver(host, port)


async def test_webhooks_to_internal_addresses_are_refused(isolation, smtp):
    settings = settings_for(isolation, smtp, webhook_secret=WEBHOOK_SECRET)
    resolver = Rebinding()
    async with WebhookReceiver() as receiver, serve(build(settings, resolve=resolver)) as api:
        _, contract_id = await setup_contract(isolation)
        urls = [
            receiver.url(),
            receiver.url("localhost"),
            "ftp://files.example/x",
            receiver.url("hooks.rebind.test"),
        ]
        await publish(
            isolation.amqp_url,
            isolation.amqp_prefix,
            *[webhook_alert(contract_id, url) for url in urls],
        )

        async def failed():
            items = {d["recipient"]: d for d in await deliveries(api, state="failed")}
            assert len(items) == 4
            return items

        items = await eventually(failed)
        assert receiver.calls == []
        assert [items[u]["attempts"] for u in urls] == [1, 1, 1, 1]
        assert items[urls[3]]["last_error"] == (
            "refused: hooks.rebind.test resolves to 127.0.0.1 is a loopback address"
        )
        # One lookup per call; the ftp URL is refused before any.
        assert sorted(resolver.lookups) == ["127.0.0.1", "hooks.rebind.test", "localhost"]
        assert items[urls[0]]["last_error"] == (
            "refused: 127.0.0.1 resolves to 127.0.0.1 is a loopback address"
        )
        # localhost may resolve to ::1 first; either is loopback.
        assert items[urls[1]]["last_error"] in (
            "refused: localhost resolves to 127.0.0.1 is a loopback address",
            "refused: localhost resolves to ::1 is a loopback address",
        )
        assert items[urls[2]]["last_error"] == "the URL must be http or https"


async def test_a_webhook_connects_to_the_address_that_was_checked(isolation, smtp):
    """No second lookup at connect (DNS rebinding): ``hooks.rebind.test`` exists only in the
    notifier's one lookup, so the call can only arrive through the address that lookup gave,
    with the URL's host still in the Host header."""
    settings = settings_for(
        isolation, smtp, webhook_allow_private=True, webhook_secret=WEBHOOK_SECRET
    )
    resolver = Rebinding()
    async with WebhookReceiver() as receiver, serve(build(settings, resolve=resolver)) as api:
        _, contract_id = await setup_contract(isolation)
        url = receiver.url("hooks.rebind.test")
        await publish(isolation.amqp_url, isolation.amqp_prefix, webhook_alert(contract_id, url))

        async def sent():
            items = await deliveries(api, channel="webhook")
            assert [(d["state"], d["last_error"]) for d in items] == [("sent", None)]
            return items

        await eventually(sent)
        [(headers, _)] = receiver.calls
        assert headers["host"] == f"hooks.rebind.test:{receiver.port}"
        assert resolver.lookups == ["hooks.rebind.test"]


# -- unsubscribe links -----------------------------------------------------------------------


def _unsubscribe_path(message):
    """The path of the List-Unsubscribe link (the test talks to the app, not to its port)."""
    header = message["List-Unsubscribe"]
    assert header.startswith("<http://127.0.0.1:8004/unsubscribe/") and header.endswith(">")
    return "/" + header[1:-1].split("/", 3)[3]


async def test_unsubscribe_link_opts_the_address_out_with_one_click(isolation, smtp):
    settings = settings_for(
        isolation,
        smtp,
        smtp_outage_retry_base_seconds=0.05,
        smtp_outage_retry_max_seconds=0.2,
    )
    async with serve(build(settings)) as api:
        customer_id, contract_id = await setup_contract(isolation)
        first = alert_event(contract_id, customer_contacts=True, emails=["finance@acme.example"])
        await publish(isolation.amqp_url, isolation.amqp_prefix, first)
        await eventually(lambda: _count(smtp.sink.messages, 4))
        received = {m["To"]: m for m in smtp.sink.messages}

        # Contacts and extra addresses get the link; the owner (inside the MSP) does not.
        assert "List-Unsubscribe" not in received[OWNER]
        for address in (ANN, BOB, "finance@acme.example"):
            assert received[address]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        ann_link = received[ANN]["List-Unsubscribe"][1:-1]
        assert f"Afmelden: {ann_link}\n" in received[ANN].get_body(("plain",)).get_content()
        assert (
            f'<a href="{ann_link}">Afmelden</a>' in received[ANN].get_body(("html",)).get_content()
        )
        bob_link = received[BOB]["List-Unsubscribe"][1:-1]
        assert f"Unsubscribe: {bob_link}\n" in received[BOB].get_body(("plain",)).get_content()
        ann, bob = _unsubscribe_path(received[ANN]), _unsubscribe_path(received[BOB])

        # Opening the link (a mail scanner does) only asks; nothing is changed yet.
        page = await api.get(ann, headers={"Authorization": ""})
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert '<form method="post">' in page.text and ANN in page.text
        assert page.headers["referrer-policy"] == "no-referrer"
        assert (await api.get("/v1/opt-outs")).json()["items"] == []

        # Tampered, expired, or a report link instead: 403, and nobody is opted out.
        payload, signature = ann.rsplit("/", 1)[1].split(".")
        other_address = (
            base64.urlsafe_b64encode(
                json.dumps({"a": "boss@acme.example", "l": "en", "e": 4102444800}).encode()
            )
            .decode()
            .rstrip("=")
        )
        expired = UnsubscribeLinks(settings.link_secret, "http://x", 1).url(
            BOB, "en", dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
        )
        report_token = report_links.sign(
            settings.link_secret, customer_id, dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        )
        for token in (
            f"{payload}.{signature[:-2]}xx",
            f"{other_address}.{signature}",
            expired.rsplit("/", 1)[1],
            report_token,
            "garbage",
        ):
            for method in ("GET", "POST"):
                refused = await api.request(method, f"/unsubscribe/{token}")
                assert refused.status_code == 403, (method, token)
                assert "not valid" in refused.text
        assert (await api.get("/v1/opt-outs")).json()["items"] == []

        # RFC 8058 one-click: a POST of "List-Unsubscribe=One-Click", no key, no cookie.
        done = await api.post(
            ann,
            content=b"List-Unsubscribe=One-Click",
            headers={"Authorization": "", "Content-Type": "application/x-www-form-urlencoded"},
        )
        assert done.status_code == 200 and "Afgemeld" in done.text
        assert (await api.post(ann)).status_code == 200  # twice is fine
        assert [o["email"] for o in (await api.get("/v1/opt-outs")).json()["items"]] == [ANN]

        # A mail still waiting (the SMTP server is away) for an address that unsubscribes
        # is not sent either.
        smtp.stop()
        second = alert_event(contract_id, stage="overage", executed=41 * H, customer_contacts=True)
        await publish(isolation.amqp_url, isolation.amqp_prefix, second)

        async def waiting():
            items = await deliveries(api, alert_id=second.data["alert_id"])
            states = {d["recipient"]: (d["state"], d["reason"]) for d in items}
            assert states == {
                OWNER: ("retrying", None),
                ANN: ("suppressed", "opted_out"),
                BOB: ("retrying", None),
            }
            return True

        await eventually(waiting)
        assert (await api.post(bob)).status_code == 200
        smtp.start()
        await eventually(lambda: _count(smtp.sink.messages, 5))
        await asyncio.sleep(0.5)
        assert [m["To"] for m in smtp.sink.messages[4:]] == [OWNER]
        items = await deliveries(api, alert_id=second.data["alert_id"])
        assert {d["recipient"]: (d["state"], d["reason"]) for d in items} == {
            OWNER: ("sent", None),
            ANN: ("suppressed", "opted_out"),
            BOB: ("suppressed", "opted_out"),
        }


# -- one bad delivery never blocks the others; lost connections -----------------------------


async def _backends(isolation, like):
    """PostgreSQL backends of this test's notifier whose last query matches ``like``."""
    import asyncpg

    admin = await asyncpg.connect(isolation.database_url)
    try:
        rows = await admin.fetch(
            """SELECT pid, state FROM pg_stat_activity
               WHERE datname = current_database() AND application_name = $1
                 AND query LIKE $2""",
            f"burnrate-notifier_{isolation.suffix}",
            like,
        )
        return rows
    finally:
        await admin.close()


async def _terminate(isolation, pids):
    import asyncpg

    admin = await asyncpg.connect(isolation.database_url)
    try:
        for pid in pids:
            await admin.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


#: the claim of the senders, while a delivery is being handed over
_CLAIMING = "%FROM deliveries WHERE state IN%FOR UPDATE SKIP LOCKED%"


async def test_a_poison_mail_among_many_is_set_aside_and_the_others_go_out(isolation, smtp):
    """The SMTP server's refusal of one address carries a NUL byte, which PostgreSQL cannot
    store: recording that failure used to abort the mail's transaction, the mail stayed
    first in the queue, and no mail went out after it, ever."""
    smtp.sink.refuse = {"poison@acme.example": "550 5.1.1 no such\x00user"}
    settings = settings_for(isolation, smtp, max_mails_per_rule_period=100)
    async with serve(build(settings)) as api:
        _, contract_id = await setup_contract(isolation)
        alerts = [
            alert_event(contract_id, owner=False, emails=[address])
            for address in ["poison@acme.example"] + [f"x{i}@acme.example" for i in range(12)]
        ]
        await publish(isolation.amqp_url, isolation.amqp_prefix, *alerts)

        async def settled():
            items = {d["recipient"]: d for d in await deliveries(api, limit=100)}
            assert len(items) == 13
            assert {a: d["state"] for a, d in items.items()} == {
                a: ("failed" if a == "poison@acme.example" else "sent") for a in items
            }
            return items

        items = await eventually(settled, timeout=15)
        assert sorted(m["To"] for m in smtp.sink.messages) == sorted(
            f"x{i}@acme.example" for i in range(12)
        )
        poison = items["poison@acme.example"]
        assert poison["attempts"] == 1 and "550 5.1.1 no such" in poison["last_error"]
        assert "\x00" not in poison["last_error"]


async def test_a_mail_whose_handling_raises_is_set_aside_counted_and_replayable(
    isolation, smtp, monkeypatch
):
    """Anything that goes wrong with one mail in a way no retry fixes (here: recording its
    outcome raises) marks that mail failed with the reason, counts it, and the rest flow on;
    the retry endpoint replays it."""
    from burnrate_notifier import sender

    original = sender.Settle.sent
    broken = {"poison@acme.example"}

    async def sent(self, conn, row, metrics):
        if row["recipient"] in broken:
            raise RuntimeError("a bug of ours, for this one mail")
        await original(self, conn, row, metrics)

    monkeypatch.setattr(sender.Settle, "sent", sent)
    settings = settings_for(isolation, smtp, max_mails_per_rule_period=100)
    async with serve(build(settings)) as api:
        _, contract_id = await setup_contract(isolation)
        addresses = ["poison@acme.example"] + [f"x{i}@acme.example" for i in range(8)]
        await publish(
            isolation.amqp_url,
            isolation.amqp_prefix,
            *[alert_event(contract_id, owner=False, emails=[a]) for a in addresses],
        )

        async def settled():
            items = {d["recipient"]: d for d in await deliveries(api, limit=100)}
            assert {a: d["state"] for a, d in items.items()} == {
                a: ("failed" if a == "poison@acme.example" else "sent") for a in addresses
            }
            return items

        items = await eventually(settled, timeout=15)
        poison = items["poison@acme.example"]
        assert poison["last_error"] == ("set aside: RuntimeError: a bug of ours, for this one mail")
        metrics = (await api.get("/metrics")).text
        assert 'burnrate_notifier_deliveries_set_aside_total{channel="email"} 1.0' in metrics
        assert [d["recipient"] for d in await deliveries(api, state="failed")] == [
            "poison@acme.example"
        ]

        broken.clear()
        retried = await api.post(f"/v1/notifications/{poison['id']}/retry")
        assert retried.status_code == 200, retried.text

        async def resent():
            detail = (await api.get(f"/v1/notifications/{poison['id']}")).json()
            return detail["state"] == "sent"

        await eventually(resent)
        # The poison mail was handed over on its first try too (the fault came after): at
        # most that one resend, with the same Message-ID.
        to_poison = smtp.sink.to("poison@acme.example")
        assert {m["Message-ID"] for m in to_poison} == {poison["message_id"]}
        assert len(smtp.sink.messages) == len(addresses) + 1


async def test_the_mail_sender_survives_losing_its_database_connection_mid_send(isolation, smtp):
    """The sender's connection is terminated while it holds a claimed mail (the server then
    answers 451, as a server that lost its own state might): the sender reconnects, and
    every mail is accepted exactly once."""
    killed = []

    class KillingSink(type(smtp.sink)):
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if address == "x3@acme.example" and not killed:
                pids = [r["pid"] for r in await _backends(isolation, _CLAIMING)]
                assert pids, "the sender holds its claim while it sends"
                await _terminate(isolation, pids)
                killed.extend(pids)
                return "451 4.3.0 try again"
            return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    smtp.stop()
    smtp.sink = KillingSink()
    smtp.start()
    settings = settings_for(isolation, smtp, max_mails_per_rule_period=100)
    async with serve(build(settings)) as api:
        _, contract_id = await setup_contract(isolation)
        addresses = [f"x{i}@acme.example" for i in range(8)]
        await publish(
            isolation.amqp_url,
            isolation.amqp_prefix,
            *[alert_event(contract_id, owner=False, emails=[a]) for a in addresses],
        )

        async def all_sent():
            items = await deliveries(api, limit=100)
            assert [d["state"] for d in items] == ["sent"] * 8
            return items

        items = await eventually(all_sent, timeout=20)
        assert killed
        await asyncio.sleep(0.5)
        assert sorted(m["To"] for m in smtp.sink.messages) == sorted(addresses)
        assert sorted(m["Message-ID"] for m in smtp.sink.messages) == sorted(
            d["message_id"] for d in items
        )
        # The terminated transaction never happened: the mail's attempts are those that
        # were recorded.
        assert all(d["attempts"] == 1 for d in items)


async def test_the_senders_listen_again_after_losing_their_listening_connection(isolation, smtp):
    """A NOTIFY wakes the senders at once; polling is the fallback (set long here). After
    their LISTEN connections are terminated they must listen again, or every mail waits a
    whole poll interval."""
    settings = settings_for(isolation, smtp, sender_poll_seconds=20)
    async with serve(build(settings)) as api:
        _, contract_id = await setup_contract(isolation)
        await publish(isolation.amqp_url, isolation.amqp_prefix, alert_event(contract_id))
        await eventually(lambda: _count(smtp.sink.messages, 1))

        listening = [
            r["pid"] for r in await _backends(isolation, "LISTEN %burnrate_notifier_deliveries%")
        ]
        assert len(listening) == 2  # the mail and the webhook sender
        await _terminate(isolation, listening)

        async def listening_again():
            pids = [
                r["pid"]
                for r in await _backends(isolation, "LISTEN %burnrate_notifier_deliveries%")
            ]
            return len(pids) == 2 and not set(pids) & set(listening)

        await eventually(listening_again)
        await publish(
            isolation.amqp_url,
            isolation.amqp_prefix,
            alert_event(contract_id, stage="overage", executed=41 * H),
        )
        await eventually(lambda: _count(smtp.sink.messages, 2), timeout=5)
        ready = (await api.get("/readyz")).json()
        assert ready["status"] == "ok", ready


async def test_the_mail_sender_survives_the_smtp_server_dropping_the_connection(isolation, smtp):
    """The server drops the connection in the middle of one mail's DATA: that mail is tried
    again over a new connection, the others go on, each is accepted once."""
    dropped = []

    class DroppingSink(type(smtp.sink)):
        async def handle_DATA(self, server, session, envelope):
            if "x2@acme.example" in envelope.rcpt_tos and not dropped:
                dropped.append(True)
                server.transport.close()
                return "451 4.3.0 gone"
            return await super().handle_DATA(server, session, envelope)

    smtp.stop()
    smtp.sink = DroppingSink()
    smtp.start()
    settings = settings_for(isolation, smtp, max_mails_per_rule_period=100)
    async with serve(build(settings)) as api:
        _, contract_id = await setup_contract(isolation)
        addresses = [f"x{i}@acme.example" for i in range(6)]
        await publish(
            isolation.amqp_url,
            isolation.amqp_prefix,
            *[alert_event(contract_id, owner=False, emails=[a]) for a in addresses],
        )

        async def all_sent():
            items = await deliveries(api, limit=100)
            assert [d["state"] for d in items] == ["sent"] * 6
            return items

        items = await eventually(all_sent, timeout=15)
        assert dropped
        await asyncio.sleep(0.5)
        assert sorted(m["To"] for m in smtp.sink.messages) == sorted(addresses)
        attempts = {d["recipient"]: d["attempts"] for d in items}
        assert attempts.pop("x2@acme.example") == 2
        assert set(attempts.values()) == {1}


async def test_a_poison_webhook_among_many_is_set_aside_and_the_others_are_called(isolation, smtp):
    """``http://0177.0.0.1/`` made the HTTP client raise an error the sender did not catch:
    the call stayed queued and every later webhook waited behind it, across restarts. A URL
    no retry can fix is failed at once; anything else that raises while one call is made
    (here the resolver, for one host) sets that call aside. The rest are called."""

    class Resolver:
        async def __call__(self, host, port):
            if host == "poison.rebind.test":
                raise RuntimeError("resolver bug for this one host")
            return ["127.0.0.1"]

    settings = settings_for(
        isolation, smtp, webhook_allow_private=True, webhook_secret=WEBHOOK_SECRET
    )
    async with WebhookReceiver() as receiver:
        good = [receiver.url(f"h{i}.rebind.test") for i in range(6)]
        bad = ["http://0177.0.0.1/", receiver.url("poison.rebind.test")]
        async with serve(build(settings, resolve=Resolver())) as api:
            _, contract_id = await setup_contract(isolation)
            await publish(
                isolation.amqp_url,
                isolation.amqp_prefix,
                *[webhook_alert(contract_id, url) for url in bad + good],
            )

            async def settled():
                items = {d["recipient"]: d for d in await deliveries(api, channel="webhook")}
                assert {u: d["state"] for u, d in items.items()} == {
                    u: ("failed" if u in bad else "sent") for u in bad + good
                }
                return items

            items = await eventually(settled, timeout=15)
        assert len(receiver.calls) == len(good)
        assert items[bad[0]]["attempts"] == 1
        assert items[bad[0]]["last_error"].startswith(
            "0177.0.0.1 is not an IPv4 address in its plain form"
        )
        assert items[bad[1]]["last_error"] == (
            "set aside: RuntimeError: resolver bug for this one host"
        )
        # Failed, so the retry endpoint takes it (it answered 409 to a queued one).
        async with serve(build(settings, resolve=Resolver())) as api:
            retried = await api.post(f"/v1/notifications/{items[bad[1]]['id']}/retry")
            assert retried.status_code == 200, retried.text

            async def set_aside_again():
                detail = (await api.get(f"/v1/notifications/{items[bad[1]]['id']}")).json()
                assert (detail["state"], detail["attempts"]) == ("failed", 2)
                return True

            await eventually(set_aside_again)
            metrics = (await api.get("/metrics")).text
            assert 'burnrate_notifier_deliveries_set_aside_total{channel="webhook"} 1.0' in metrics


async def test_the_webhook_sender_survives_losing_its_database_connection_mid_call(isolation, smtp):
    """The sender's connection is terminated while it holds a claimed call (the receiver
    then answers 503): it reconnects, and every call is accepted (2xx) exactly once."""
    settings = settings_for(
        isolation, smtp, webhook_allow_private=True, webhook_secret=WEBHOOK_SECRET
    )
    killed = []

    class KillingReceiver(WebhookReceiver):
        def __init__(self):
            super().__init__()
            from starlette.responses import Response
            from starlette.routing import Route

            self.accepted = []

            async def hook(request):
                delivery = request.headers["x-burnrate-delivery"]
                self.calls.append((dict(request.headers), await request.body()))
                if len(self.calls) == 3 and not killed:
                    pids = [r["pid"] for r in await _backends(isolation, _CLAIMING)]
                    await _terminate(isolation, pids)
                    killed.extend(pids)
                    return Response(status_code=503)
                self.accepted.append(delivery)
                return Response(status_code=204)

            self.app.router.routes[:] = [Route("/hooks/burnrate", hook, methods=["POST"])]

    async with KillingReceiver() as receiver, serve(build(settings)) as api:
        _, contract_id = await setup_contract(isolation)
        await publish(
            isolation.amqp_url,
            isolation.amqp_prefix,
            *[webhook_alert(contract_id, receiver.url()) for _ in range(6)],
        )

        async def all_sent():
            items = await deliveries(api, channel="webhook")
            assert [d["state"] for d in items] == ["sent"] * 6
            return items

        items = await eventually(all_sent, timeout=20)
        assert killed
        await asyncio.sleep(0.5)
        assert sorted(receiver.accepted) == sorted(d["id"] for d in items)


async def test_both_sender_loops_beat_their_heartbeat(notifier):
    loops = notifier.app.state.runtime.loops.health()
    senders = {name: h for name, h in loops.items() if name.endswith("Sender.run")}
    assert sorted(senders) == ["Sender.run", "WebhookSender.run"]

    async def beating():
        return all(h.running and h.last_beat is not None for h in senders.values())

    await eventually(beating)
    first = {name: h.last_beat for name, h in senders.items()}
    await asyncio.sleep(0.3)  # a few idle passes (polling every 0.1 s here)
    assert all(h.last_beat > first[name] for name, h in senders.items())


async def test_mails_to_one_address_are_capped_per_day_across_all_rules(isolation, smtp):
    """The per-rule limit held, yet 25 rules sent 250 mails to one external address: the
    daily cap per address counts every rule's mails. What it suppresses is recorded with
    the reason and listed by it."""
    settings = settings_for(isolation, smtp, max_mails_per_address_per_day=5)
    async with serve(build(settings)) as api:
        _, contract_id = await setup_contract(isolation)
        alerts = []
        for rule in range(25):
            alert = alert_event(contract_id, owner=False, emails=["victim@external.example"])
            alerts.append(
                alert.model_copy(
                    update={"data": alert.data | {"rule_id": str(uuid.UUID(int=100 + rule))}}
                )
            )
        await publish(isolation.amqp_url, isolation.amqp_prefix, *alerts)

        async def settled():
            items = await deliveries(api, limit=100)
            assert len(items) == 25
            states = sorted((d["state"], d["reason"]) for d in items)
            assert states == [("sent", None)] * 5 + [("suppressed", "address_daily_limit")] * 20
            return items

        await eventually(settled, timeout=15)
        assert len(smtp.sink.to("victim@external.example")) == 5
        suppressed = await deliveries(api, reason="address_daily_limit", limit=100)
        assert len(suppressed) == 20
        assert all(d["state"] == "suppressed" for d in suppressed)
        assert await deliveries(api, reason="opted_out") == []
        bad = await api.get("/v1/notifications", params={"reason": "bored"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "reason"
        # Another address is not held back by this one's day.
        other = alert_event(contract_id, owner=False, emails=["ann@acme.example"])
        await publish(isolation.amqp_url, isolation.amqp_prefix, other)
        await eventually(lambda: _count(smtp.sink.to("ann@acme.example"), 1))
