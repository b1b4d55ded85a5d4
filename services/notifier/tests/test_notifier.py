"""The notifier against the real PostgreSQL, RabbitMQ and a real SMTP server (aiosmtpd)."""

import asyncio
import datetime as dt
import email
import re
import socket
import uuid
from email import policy

import pytest
from aiosmtpd.controller import Controller
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
from burnrate_common.testing import eventually, publish, serve
from burnrate_notifier.bootstrap import build
from burnrate_notifier.settings import NotifierSettings

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
    _, contract_id = await setup_contract(isolation)
    alert = alert_event(
        contract_id,
        customer_contacts=True,
        emails=["BOB@acme.example", "finance@acme.example"],
    )
    await publish(isolation.amqp_url, isolation.amqp_prefix, alert)

    await eventually(lambda: _count(smtp.sink.messages, 4))
    received = {m["To"]: m for m in smtp.sink.messages}
    assert sorted(received) == sorted([OWNER, ANN, BOB, "finance@acme.example"])
    en_subject = "[Burnrate] ACME-2026: 90% of the hours for March 2026 used"
    assert received[OWNER]["Subject"] == en_subject
    assert received[BOB]["Subject"] == en_subject
    assert received["finance@acme.example"]["Subject"] == en_subject
    assert (
        received[ANN]["Subject"]
        == "[Burnrate] ACME-2026: 90% van de uren voor maart 2026 verbruikt"
    )
    for message in received.values():
        assert message["From"] == "Burnrate <burnrate@msp.example>"
        assert message["X-Burnrate-Alert-Id"] == alert.data["alert_id"]
        assert message["X-Burnrate-Stage"] == "90"
        assert message.get_content_type() == "multipart/alternative"
        assert "internal rule name" not in message.as_string()
        assert OWNER not in message.get_body(("plain",)).get_content()
    assert "Executed:   36.0 h\n" in received[BOB].get_body(("plain",)).get_content()
    assert "Beste Ann," in received[ANN].get_body(("plain",)).get_content()
    assert "<p>Beste Ann,</p>" in received[ANN].get_body(("html",)).get_content()

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
    detail = (await notifier.get(f"/v1/notifications/{by_recipient[ANN]['id']}")).json()
    assert detail["body_text"] == received[ANN].get_body(("plain",)).get_content()
    assert detail["subject"] == received[ANN]["Subject"]

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
        "[Burnrate] ACME-2026: hours for March 2026 over plan by 4.0 h"
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


async def test_smtp_down_then_back_sends_each_mail_once(isolation, smtp):
    settings = settings_for(isolation, smtp, send_max_attempts=100)
    smtp.stop()
    async with serve(build(settings)) as api:
        _, contract_id = await setup_contract(isolation)
        await publish(isolation.amqp_url, isolation.amqp_prefix, alert_event(contract_id))

        async def retrying():
            items = await deliveries(api)
            assert len(items) == 1 and items[0]["state"] == "retrying"
            assert items[0]["attempts"] >= 2
            assert items[0]["last_error"].startswith("SMTP server unreachable")
            assert items[0]["next_attempt_at"] is not None
            return items[0]

        waiting = await eventually(retrying)
        assert smtp.sink.messages == []

        smtp.start()
        await eventually(lambda: _count(smtp.sink.messages, 1))
        await asyncio.sleep(0.5)
        assert len(smtp.sink.messages) == 1
        [delivery] = await deliveries(api)
        assert delivery["state"] == "sent" and delivery["attempts"] > waiting["attempts"]
        assert (
            smtp.sink.messages[0]["Message-ID"] == delivery["message_id"] == waiting["message_id"]
        )


async def test_two_replicas_send_each_mail_once(isolation, smtp):
    settings = settings_for(isolation, smtp)
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

    # Retrying by hand needs admin; only a failed delivery can be retried.
    reader = await issue_key(notifier, isolation, ["notifications:read"])
    forbidden = await notifier.post(f"/v1/notifications/{items[ANN]['id']}/retry", headers=reader)
    assert forbidden.status_code == 403
    assert forbidden.json()["required_scope"] == "admin"
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
    retried = await notifier.post(f"/v1/notifications/{items[ANN]['id']}/retry")
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
    assert ann["Subject"] == "[Burnrate] ACME-2026: 90% of the hours for March 2026 used"
    assert "Renamed &lt;support&gt;" in ann.get_body(("html",)).get_content()
    late = [m for m in smtp.sink.messages if "LATE-1" in m["Subject"]]
    assert [m["Subject"] for m in late] == [
        "[Burnrate] LATE-1: 70% of the hours for March 2026 used"
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


async def _equals(value, expected):
    return await value == expected
