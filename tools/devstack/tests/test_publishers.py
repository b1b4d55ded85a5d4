"""What a service publishes, read off its source: the paths an event type takes to an envelope."""

from __future__ import annotations

import textwrap
from pathlib import Path

from burnrate_common.events import EventType
from burnrate_devstack.publishers import published


def package(tmp_path: Path, **modules: str) -> Path:
    root = tmp_path / "burnrate_probe"
    root.mkdir()
    for name, source in modules.items():
        path = root / f"{name.replace('__', '/')}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return root


def test_a_direct_call_names_its_event_type(tmp_path: Path) -> None:
    root = package(
        tmp_path,
        service="""
            from burnrate_common.events import EventType, new_bulk_event, new_event

            def one(deps, payload):
                return new_event(EventType.ALERT_RAISED, payload, key="k", producer="p")

            def bulk(data):
                return new_bulk_event(event_type=EventType.WORKLOG_DELETED, data=data, key="k", producer="p")
        """,
    )
    found = published(root)
    assert found.event_types == {EventType.ALERT_RAISED, EventType.WORKLOG_DELETED}
    assert found.unresolved == ()


def test_a_helper_passing_its_parameter_on_publishes_what_its_callers_give_it(
    tmp_path: Path,
) -> None:
    root = package(
        tmp_path,
        service__helpers="""
            from burnrate_common import events

            def _event(deps, event_type, row):
                return events.new_event(event_type, row, key="k", producer="p")

            def _twice_removed(kind):
                return _event(None, kind, {})
        """,
        service__customers="""
            from burnrate_common.events import EventType
            from burnrate_probe.service.helpers import _event, _twice_removed

            async def create(deps, row):
                return _event(deps, EventType.CUSTOMER_CREATED, row)

            async def delete():
                return _twice_removed(EventType.CUSTOMER_DELETED)

            def unrelated():
                return _event()  # another function of the same name, taking no event type
        """,
    )
    found = published(root)
    assert found.event_types == {EventType.CUSTOMER_CREATED, EventType.CUSTOMER_DELETED}
    assert found.unresolved == ()


def test_methods_and_local_names_are_followed(tmp_path: Path) -> None:
    root = package(
        tmp_path,
        sender="""
            from burnrate_common.events import EventType, new_event

            class Sender:
                def done(self, row, failed):
                    kind = EventType.NOTIFICATION_FAILED if failed else EventType.NOTIFICATION_SENT
                    return self._outcome(kind, row)

                def _outcome(self, event_type, row):
                    return new_event(event_type, row, key="k", producer="p")

            def each():
                return [new_event(t, {}, key="k", producer="p") for t in (EventType.APIKEY_ISSUED,)]
        """,
    )
    assert published(root).event_types == {
        EventType.NOTIFICATION_FAILED,
        EventType.NOTIFICATION_SENT,
        EventType.APIKEY_ISSUED,
    }


def test_a_type_it_cannot_follow_is_reported_not_guessed(tmp_path: Path) -> None:
    root = package(
        tmp_path,
        relay="""
            from burnrate_common.events import new_event

            def again(envelope):
                return new_event(envelope.type, envelope.payload(), key="k", producer="p")
        """,
    )
    found = published(root)
    assert found.event_types == frozenset()
    assert [(u.path.name, u.line, u.call) for u in found.unresolved] == [
        ("relay.py", 5, "new_event")
    ]
    assert "relay.py:5: the event type of new_event(...) is not followed" in str(
        found.unresolved[0]
    )
