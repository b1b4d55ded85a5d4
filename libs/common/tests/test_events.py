import datetime as dt
import uuid
from decimal import Decimal

import pytest
from burnrate_common.bus import Topology, to_message
from burnrate_common.events import (
    CURRENT_VERSION,
    REGISTRY,
    ApiKeyRevoked,
    ContractChanged,
    ContractPeriod,
    Envelope,
    EventType,
    new_bulk_event,
    new_event,
    routing_headers_of_body,
)
from burnrate_common.logs import correlation_id
from burnrate_testing import worklogs_event
from pydantic import ValidationError


def test_every_event_type_has_a_payload_model():
    assert set(CURRENT_VERSION) == set(EventType)
    assert all((t, CURRENT_VERSION[t]) in REGISTRY for t in EventType)


def test_new_event_checks_the_payload_model():
    with pytest.raises(TypeError):
        new_event(EventType.CONTRACT_CREATED, ApiKeyRevoked(id=uuid.uuid4()), key="k", producer="t")


def test_envelope_round_trip_and_amqp_properties():
    key_id = uuid.uuid4()
    token = correlation_id.set("req-42")
    try:
        event = new_event(
            EventType.APIKEY_REVOKED, ApiKeyRevoked(id=key_id), key=key_id, producer="t"
        )
    finally:
        correlation_id.reset(token)
    assert event.correlation_id == "req-42"
    parsed = Envelope.model_validate_json(event.model_dump_json())
    assert parsed == event and parsed.payload() == ApiKeyRevoked(id=key_id)
    message = to_message(event)
    assert message.message_id == str(event.id)
    assert message.type == "apikey.revoked"
    assert message.correlation_id == "req-42"
    assert message.headers["version"] == 1


def test_a_payload_that_does_not_match_its_schema_is_rejected():
    event = new_event(
        EventType.APIKEY_REVOKED, ApiKeyRevoked(id=uuid.uuid4()), key="k", producer="t"
    )
    broken = event.model_copy(update={"data": {"id": "not-a-uuid"}})
    with pytest.raises(ValidationError):
        broken.payload()
    with pytest.raises(KeyError):
        event.model_copy(update={"version": 99}).payload()


def test_retry_delays_grow_exponentially():
    topology = Topology(prefix="p", service="rules", max_attempts=4, retry_base_seconds=0.5)
    assert [topology.retry_delay_ms(n) for n in (1, 2, 3)] == [500, 2000, 8000]
    assert topology.queue == "p.rules" and topology.dead_letter_queue == "p.rules.dead"


def test_worklog_events_say_in_a_header_whether_a_worklog_is_outside_the_dates():
    # A ticket may spell the field out: inside a JSON string its quotes are escaped.
    lookalike = '"outside_dates": true'
    for event_type in (EventType.WORKLOG_RECORDED, EventType.WORKLOG_DELETED):
        some_outside = worklogs_event(False, True, event_type=event_type)
        none_outside = worklogs_event(False, False, event_type=event_type, ticket=lookalike)
        assert to_message(some_outside).headers["outside_dates"] is True
        assert to_message(none_outside).headers["outside_dates"] is False
        # Outbox rows written before the headers were kept: the same, read off the body.
        for event in (some_outside, none_outside):
            for body in (event.to_json(), event.model_dump_json(indent=1).encode()):
                assert routing_headers_of_body(event_type, body) == event.routing_headers()
    other = new_event(
        EventType.APIKEY_REVOKED, ApiKeyRevoked(id=uuid.uuid4()), key="k", producer="t"
    )
    assert "outside_dates" not in to_message(other).headers
    assert other.routing_headers() == routing_headers_of_body(other.type, other.to_json()) == {}


def test_to_json_writes_the_json_pydantic_writes():
    """The outbox stores ``to_json`` (orjson); consumers and tests know pydantic's JSON."""
    contract = ContractChanged(
        id=uuid.uuid4(),
        customer_id=uuid.uuid4(),
        code="ACME-40",
        title='Support \u00e9 "gold"',
        owner_email="owner@example.com",
        start_date=dt.date(2026, 1, 15),
        end_date=dt.date(2026, 12, 14),
        timezone="Europe/Amsterdam",
        period="monthly",
        planned_hours=Decimal("40.5"),
        teams=["servicedesk"],
        work_accounts=[],
        periods=[
            ContractPeriod(
                start_date=dt.date(2026, 1, 15),
                end_date=dt.date(2026, 2, 14),
                planned_seconds=145_800,
            )
        ],
        overage_rate=Decimal("95.00"),
    )
    amsterdam = dt.timezone(dt.timedelta(hours=1))
    bulk_data = {
        "contract_id": uuid.uuid4(),
        "worklogs": [
            {
                "id": str(uuid.uuid4()),
                "period_start": dt.date(2026, 3, 1),
                # with and without microseconds, in UTC and at an offset
                "started_at": dt.datetime(2026, 3, 31, 23, 30, tzinfo=amsterdam),
                "updated": dt.datetime(2026, 3, 31, 22, 30, 0, 1500, tzinfo=dt.UTC),
                "seconds": 900,
                "outside_dates": True,
                "ticket": None,
            }
        ],
    }
    events = [
        new_event(EventType.CONTRACT_CREATED, contract, key=contract.id, producer="t"),
        worklogs_event(False, True),
        new_bulk_event(EventType.WORKLOG_RECORDED, bulk_data, key="k", producer="t"),
        # orjson writes no integer above 64 bits: pydantic writes that envelope
        new_bulk_event(EventType.WORKLOG_RECORDED, {"n": 2**70}, key="k", producer="t"),
    ]
    for event in events:
        assert event.to_json() == event.model_dump_json().encode()
