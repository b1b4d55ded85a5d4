"""The AsyncAPI document: read from the services' bootstraps and sources, and self-consistent."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from burnrate_common.events import REGISTRY, EventType
from burnrate_devstack import asyncapi

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def services() -> list[asyncapi.Service]:
    return asyncapi.read_services()


@pytest.fixture(scope="module")
def document(services: list[asyncapi.Service]) -> dict[str, Any]:
    return asyncapi.build_document(services)


def by_name(services: list[asyncapi.Service]) -> dict[str, asyncapi.Service]:
    return {s.name: s for s in services}


def test_every_service_of_the_workspace_is_read(services: list[asyncapi.Service]) -> None:
    folders = {p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml")}
    assert folders
    assert [s.name for s in services] == sorted(folders)


def test_what_the_services_send_and_receive(services: list[asyncapi.Service]) -> None:
    named = by_name(services)
    assert EventType.CONTRACT_CREATED in named["contracts"].sends
    assert EventType.CONSUMPTION_RECORDED in named["worklog-ingest"].sends
    assert EventType.ALERT_RAISED in named["rules"].sends
    assert EventType.CONSUMPTION_RECORDED in named["rules"].receives
    assert EventType.ALERT_RAISED in named["notifier"].receives
    # Reporting only reads; contracts issues the API keys the others replicate.
    assert named["reporting"].sends == frozenset()
    assert EventType.APIKEY_ISSUED not in named["contracts"].receives
    assert EventType.APIKEY_ISSUED in named["rules"].receives


def test_a_channel_per_routing_key_and_a_message_per_registered_version(
    document: dict[str, Any],
) -> None:
    assert list(document["channels"]) == [t.value for t in EventType]
    assert set(document["components"]["messages"]) == {f"{t.value}.v{v}" for t, v in REGISTRY}
    consumption = document["components"]["messages"]["consumption.recorded.v2"]
    assert consumption["payload"]["allOf"][1]["properties"]["data"] == {
        "$ref": "#/components/schemas/PeriodConsumptionRecorded"
    }


def test_every_reference_resolves_and_every_operation_uses_its_channels_messages(
    document: dict[str, Any],
) -> None:
    def resolve(pointer: str) -> Any:
        assert pointer.startswith("#/"), pointer
        node: Any = document
        for part in pointer[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return own + [r for value in node.values() for r in refs(value)]
        if isinstance(node, list):
            return [r for value in node for r in refs(value)]
        return []

    for pointer in refs(document):
        resolve(pointer)
    for name, operation in document["operations"].items():
        channel = operation["channel"]["$ref"]
        for message in operation["messages"]:
            assert message["$ref"].startswith(channel + "/messages/"), name


def test_receive_operations_name_the_broker_side_filter(document: dict[str, Any]) -> None:
    operation = document["operations"]["reporting.receive.worklog.recorded"]
    assert "outside_dates=true" in operation["description"]


def test_an_event_consumed_but_published_by_no_service_stops_the_document(
    services: list[asyncapi.Service],
) -> None:
    # The notifier consumes alert.raised: not finding its producer means a misread source.
    without_rules = [s for s in services if s.name != "rules"]
    with pytest.raises(asyncapi.DocumentError, match=r"alert\.raised"):
        asyncapi.build_document(without_rules)


def test_an_event_nobody_publishes_or_consumes_yet_is_documented_as_such(
    services: list[asyncapi.Service],
) -> None:
    readers_of_alerts = {"notifier", "reporting"}
    without_alerts = [
        dataclasses.replace(s, receives=s.receives - {EventType.ALERT_RAISED})
        if s.name in readers_of_alerts
        else dataclasses.replace(s, sends=s.sends - {EventType.ALERT_RAISED})
        for s in services
    ]
    channel = asyncapi.build_document(without_alerts)["channels"]["alert.raised"]
    assert "Published by no service yet; consumed by no service." in channel["description"]


def test_check_fails_on_a_stale_file_and_passes_once_written(
    services: list[asyncapi.Service],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(asyncapi, "read_services", lambda: services)
    path = tmp_path / "asyncapi.yaml"
    path.write_text("asyncapi: 3.0.0\n")
    assert asyncapi.run(path, check=True) == 1
    assert "is stale: run `make asyncapi`" in capsys.readouterr().out
    assert asyncapi.run(path, check=False) == 0
    assert asyncapi.run(path, check=True) == 0
    assert yaml.safe_load(path.read_text())["asyncapi"] == "3.0.0"


def test_the_document_does_not_depend_on_the_writers_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BURNRATE_AMQP_PREFIX", "someone-elses")
    (rules,) = [s for s in asyncapi.read_services() if s.name == "rules"]
    assert rules.topology.queue == "burnrate.rules"
    assert os.environ["BURNRATE_AMQP_PREFIX"] == "someone-elses"
