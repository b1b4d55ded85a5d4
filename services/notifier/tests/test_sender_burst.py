"""The mail sender under a backlog: several SMTP connections at once, kept between rounds,
and the exactly-once guarantees as they were — each mail recorded as sent was accepted, a
crash between the server's "250" and the commit resends at most the mails in flight, once,
with their Message-IDs, and a poison mail fails alone."""

import asyncio
import datetime as dt
import email
import socket
import uuid
from collections import Counter
from email import policy

import asyncpg
import pytest
from aiosmtpd.controller import Controller
from burnrate_common.events import (
    AlertRaised,
    Audience,
    ContractChanged,
    ContractPeriod,
    CustomerChanged,
    EventType,
    new_event,
)
from burnrate_notifier import sender
from burnrate_notifier.bootstrap import build
from burnrate_notifier.settings import NotifierSettings
from burnrate_testing import eventually, publish, serve

pytestmark = pytest.mark.integration

H = 3600
MAILS = 60
#: mails per claim round of one connection: 60 due mails call for all the connections
BATCH = 10


class Sink:
    """Accepts every mail, noting its Message-ID, recipient and the client's port (one per
    SMTP connection); refuses the addresses it is told to."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.ports: list[int] = []
        self.refuse: dict[str, str] = {}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        content = envelope.content.replace(b"\r\n", b"\n")
        self.messages.append(email.message_from_bytes(content, policy=policy.default))
        self.ports.append(session.peer[1])
        return "250 Message accepted"

    def message_ids(self) -> Counter[str]:
        return Counter(m["Message-ID"] for m in self.messages)


class SmtpServer:
    def __init__(self, sink: Sink) -> None:
        self.sink = sink
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
    server = SmtpServer(Sink())
    server.start()
    yield server
    server.stop()


def settings_for(isolation, smtp, **overrides):
    values = {
        "smtp_port": smtp.port,
        "smtp_timeout_seconds": 5,
        "mail_from": "Burnrate <burnrate@msp.example>",
        "sender_poll_seconds": 0.1,
        "send_retry_base_seconds": 0.05,
        "send_retry_max_seconds": 0.3,
        "send_max_attempts": 3,
        "send_batch_size": BATCH,
        "smtp_outage_retry_base_seconds": 0.05,
        "smtp_outage_retry_max_seconds": 0.2,
        "max_mails_per_rule_period": 1000,
    }
    return isolation.settings(NotifierSettings, **(values | overrides))


async def setup_contract(isolation):
    customer_id, contract_id = uuid.uuid4(), uuid.uuid4()
    customer = CustomerChanged(id=customer_id, name="Acme", contacts=[])
    contract = ContractChanged(
        id=contract_id,
        customer_id=customer_id,
        code="ACME-2026",
        title="Acme support 2026",
        owner_email="owner@msp.example",
        start_date=dt.date(2026, 1, 1),
        end_date=dt.date(2026, 12, 31),
        timezone="Europe/Amsterdam",
        period="monthly",
        planned_hours=40,
        teams=["servicedesk"],
        work_accounts=["ACME"],
        periods=[
            ContractPeriod(
                start_date=dt.date(2026, 3, 1),
                end_date=dt.date(2026, 3, 31),
                planned_seconds=40 * H,
            )
        ],
    )
    await publish(
        isolation.amqp_url,
        isolation.amqp_prefix,
        new_event(EventType.CUSTOMER_CREATED, customer, key=customer_id, producer="contracts"),
        new_event(EventType.CONTRACT_CREATED, contract, key=contract_id, producer="contracts"),
    )
    return contract_id


def alert_to(contract_id, address):
    payload = AlertRaised(
        alert_id=uuid.uuid4(),
        rule_id=uuid.UUID(int=7),
        rule_name="a rule",
        contract_id=contract_id,
        period_start=dt.date(2026, 3, 1),
        period_end=dt.date(2026, 3, 31),
        trigger="percent_consumed",
        stage="90",
        planned_seconds=40 * H,
        executed_seconds=36 * H,
        audience=Audience(owner=False, emails=[address]),
    )
    return new_event(EventType.ALERT_RAISED, payload, key=contract_id, producer="rules")


ADDRESSES = [f"x{i}@acme.example" for i in range(MAILS)]


async def deliveries(api):
    response = await api.get("/v1/notifications", params={"limit": 200})
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def backlog(api, isolation, smtp, addresses=ADDRESSES):
    """Queue a mail to each address while the SMTP server is away, then bring it back: the
    mails all fall due at once, a backlog for the sender."""
    smtp.stop()
    contract_id = await setup_contract(isolation)
    await publish(
        isolation.amqp_url,
        isolation.amqp_prefix,
        *[alert_to(contract_id, address) for address in addresses],
    )

    async def all_waiting():
        items = await deliveries(api)
        assert len(items) == len(addresses)
        assert {(d["state"], d["attempts"]) for d in items} == {("retrying", 0)}
        return True

    await eventually(all_waiting, timeout=20)
    smtp.start()


async def settled(api, count):
    async def done():
        items = await deliveries(api)
        assert len(items) == count
        assert all(d["state"] in ("sent", "failed") for d in items)
        return items

    return await eventually(done, timeout=30)


async def test_a_backlog_goes_out_over_several_connections_each_mail_once(isolation, smtp):
    async with serve(build(settings_for(isolation, smtp))) as api:
        await backlog(api, isolation, smtp)
        items = await settled(api, MAILS)
        await asyncio.sleep(0.5)  # a mail sent twice would arrive now

        assert [(d["state"], d["attempts"]) for d in items] == [("sent", 1)] * MAILS
        ids = smtp.sink.message_ids()
        assert set(ids.values()) == {1}
        assert set(ids) == {d["message_id"] for d in items}
        assert sorted(m["To"] for m in smtp.sink.messages) == sorted(ADDRESSES)
        assert 1 < len(set(smtp.sink.ports)) <= sender.SMTP_CONNECTIONS


#: the claim of the senders, while a delivery is being handed over
_CLAIMING = "%FROM deliveries WHERE state IN%FOR UPDATE SKIP LOCKED%"


async def _terminate_claims(isolation) -> list[int]:
    admin = await asyncpg.connect(isolation.database_url)
    try:
        pids = [
            r["pid"]
            for r in await admin.fetch(
                """SELECT pid FROM pg_stat_activity
                   WHERE datname = current_database() AND application_name = $1
                     AND query LIKE $2""",
                f"burnrate-notifier_{isolation.suffix}",
                _CLAIMING,
            )
        ]
        for pid in pids:
            await admin.execute("SELECT pg_terminate_backend($1)", pid)
        return pids
    finally:
        await admin.close()


async def test_a_crash_between_the_250_and_the_commit_resends_only_mails_in_flight_once(
    isolation, smtp
):
    """Every database connection holding a claim is cut at once — as a crash would — just
    before the server answers "250" to the 20th mail: the mails in flight were accepted and
    not recorded, so they go out again, each once, with their Message-IDs; the others
    never."""
    killed: list[int] = []

    class CrashingSink(Sink):
        async def handle_DATA(self, server, session, envelope):
            if len(self.messages) == 19 and not killed:
                killed.extend(await _terminate_claims(isolation))
                assert killed, "the sender holds its claims while it sends"
            return await super().handle_DATA(server, session, envelope)

    smtp.sink = CrashingSink()
    smtp.stop()
    smtp.start()
    async with serve(build(settings_for(isolation, smtp))) as api:
        await backlog(api, isolation, smtp)
        items = await settled(api, MAILS)
        await asyncio.sleep(0.5)

        assert killed
        assert [d["state"] for d in items] == ["sent"] * MAILS
        ids = smtp.sink.message_ids()
        # Every mail keeps its Message-ID; the resent ones were in flight at the crash.
        assert set(ids) == {d["message_id"] for d in items}
        resent = [m for m, n in ids.items() if n > 1]
        assert set(ids.values()) <= {1, 2}
        assert 1 <= len(resent) <= sender.SMTP_CONNECTIONS
        # The cut transactions never happened: each mail's attempts are those recorded.
        assert all(d["attempts"] == 1 for d in items)


async def test_poison_mails_in_a_backlog_fail_alone(isolation, smtp, monkeypatch):
    """One address the server refuses with a reason PostgreSQL cannot store, one mail whose
    recording raises: those two end failed, every other mail of the backlog is sent once."""
    refused, broken = "poison@acme.example", "broken@acme.example"
    smtp.sink.refuse = {refused: "550 5.1.1 no such\x00user"}
    original = sender.Settle.sent

    async def sent(self, conn, row, metrics):
        if row["recipient"] == broken:
            raise RuntimeError("a bug of ours, for this one mail")
        await original(self, conn, row, metrics)

    monkeypatch.setattr(sender.Settle, "sent", sent)
    addresses = [*ADDRESSES[:25], refused, *ADDRESSES[25:50], broken, *ADDRESSES[50:]]
    async with serve(build(settings_for(isolation, smtp))) as api:
        await backlog(api, isolation, smtp, addresses)
        items = {d["recipient"]: d for d in await settled(api, len(addresses))}
        await asyncio.sleep(0.5)

        assert {a: d["state"] for a, d in items.items()} == {
            a: "failed" if a in (refused, broken) else "sent" for a in addresses
        }
        assert all(d["attempts"] == 1 for d in items.values())
        assert "550 5.1.1 no such" in items[refused]["last_error"]
        assert items[broken]["last_error"] == (
            "set aside: RuntimeError: a bug of ours, for this one mail"
        )
        # The broken mail was handed over before its recording failed: accepted once.
        ids = smtp.sink.message_ids()
        assert set(ids.values()) == {1}
        assert sorted(m["To"] for m in smtp.sink.messages) == sorted([*ADDRESSES, broken])


async def accepted(smtp, count):
    return len(smtp.sink.messages) == count


async def test_a_kept_connection_is_used_again_and_a_dropped_one_costs_no_attempt(isolation, smtp):
    async with serve(build(settings_for(isolation, smtp))) as api:
        contract_id = await setup_contract(isolation)
        for n, address in enumerate(ADDRESSES[:3]):
            await publish(isolation.amqp_url, isolation.amqp_prefix, alert_to(contract_id, address))
            await eventually(lambda n=n: accepted(smtp, n + 1))
        # Three rounds, one connection.
        assert len(set(smtp.sink.ports)) == 1

        # The server goes away and comes back: the kept connection is dead.
        smtp.stop()
        smtp.start()
        await publish(
            isolation.amqp_url, isolation.amqp_prefix, alert_to(contract_id, "y@acme.example")
        )
        await eventually(lambda: accepted(smtp, 4))
        items = await settled(api, 4)
        assert [(d["state"], d["attempts"]) for d in items] == [("sent", 1)] * 4
        assert len(set(smtp.sink.ports)) == 2
