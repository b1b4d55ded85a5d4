"""What reporting reads of a ``worklog.recorded`` event: the worklogs outside the contract
dates only; an event with none is not delivered at all (the broker matches its headers)."""

from __future__ import annotations

from burnrate_common import bus
from burnrate_common.events import Envelope, EventType
from burnrate_reporting.handlers import TRIMS
from burnrate_testing import worklogs_event

TRIM = TRIMS[EventType.WORKLOG_RECORDED]


def delivered(envelope: Envelope) -> bool:
    """Whether the broker hands the event to reporting: its headers match the trim's."""
    headers = bus.to_message(envelope).headers
    assert TRIM.where is not None
    return all(headers.get(name) == value for name, value in TRIM.where.items())


def test_an_event_with_no_worklog_outside_the_dates_is_not_delivered():
    event = worklogs_event(False, False)
    assert not delivered(event)
    assert TRIM.keep(event) is None  # what reading it would have come to


def test_an_event_with_a_worklog_outside_the_dates_is_delivered_and_trimmed_to_it():
    event = worklogs_event(False, True, False)
    assert delivered(event)
    kept = TRIM.keep(event)
    assert kept is not None
    assert [w["outside_dates"] for w in kept.data["worklogs"]] == [True]


def test_a_true_elsewhere_in_the_event_does_not_have_it_delivered():
    event = worklogs_event(False, ticket="true-up")
    assert not delivered(event)
    assert TRIM.keep(event) is None
