"""``burnrate-dev asyncapi``: the AsyncAPI 3.0 document of every event, from the code.

What it reads, so the document cannot drift from the code (``--check`` fails when
``docs/asyncapi.yaml`` is not what the code says today):

- channels: the routing keys, :class:`burnrate_common.events.EventType`, on the topic
  exchange of :class:`burnrate_common.bus.Topology`;
- messages: one per registered (type, version) of ``events.REGISTRY``, its payload the
  :class:`~burnrate_common.events.Envelope` with ``data`` the version's payload model (JSON
  Schema as pydantic validates it, at both ends); its headers those ``bus.to_message`` sets;
- ``receive`` operations: the event types each service's consumer binds, as its
  ``bootstrap.build()`` declares them (``ServiceDefinition.all_handlers``: its handlers
  registry, plus the API-key replica), with the broker-side filter of its ``trims``;
- ``send`` operations: the event types each service builds envelopes of, read off its
  source (:mod:`burnrate_devstack.publishers`), at their current version.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import difflib
import importlib
import importlib.metadata
import importlib.util
import inspect
import json
import os
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from burnrate_common import bus
from burnrate_common.events import CURRENT_VERSION, REGISTRY, Envelope, EventType, Payload
from burnrate_common.runtime import ServiceDefinition
from burnrate_common.settings import ServiceSettings
from pydantic.json_schema import GenerateJsonSchema, models_json_schema

from burnrate_devstack import publishers

DEFAULT_PATH = Path("docs/asyncapi.yaml")
AMQP_BINDING_VERSION = "0.3.0"
SCHEMAS = "#/components/schemas/"


@dataclasses.dataclass(frozen=True)
class Service:
    name: str
    sends: frozenset[EventType]
    receives: frozenset[EventType]
    #: event type → the routing headers an event must carry to reach the service
    filters: Mapping[EventType, Mapping[str, Any]]
    topology: bus.Topology


class DocumentError(Exception):
    """The code does not say enough to write a faithful document."""


def service_modules() -> list[str]:
    """The package of every installed Burnrate service: a ``burnrate-*`` distribution whose
    package has a ``bootstrap`` module (the composition root every service has)."""
    modules = set()
    for distribution in importlib.metadata.distributions():
        name = distribution.metadata["Name"] or ""
        if not name.startswith("burnrate-"):
            continue
        module = name.replace("-", "_")
        if importlib.util.find_spec(module) and importlib.util.find_spec(f"{module}.bootstrap"):
            modules.add(module)
    return sorted(modules)


def read_service(module: str) -> Service:
    """What the service of package ``module`` sends and receives, from its bootstrap and its
    source."""
    bootstrap = importlib.import_module(f"{module}.bootstrap")
    definition: ServiceDefinition[Any] = bootstrap.build()
    package = importlib.import_module(module)
    found = publishers.published(Path(inspect.getfile(package)).parent)
    if found.unresolved:
        raise DocumentError(
            "\n".join(str(u) for u in found.unresolved)
            + "\npass an EventType member (or a parameter holding one) to the envelope builder"
        )
    filters = {
        event_type: trim.where for event_type, trim in definition.trims.items() if trim.where
    }
    return Service(
        name=definition.settings.service_name,
        sends=found.event_types,
        receives=frozenset(definition.all_handlers),
        filters=filters,
        topology=definition.topology,
    )


#: What a service needs to be built at all and has no default for; nothing of it reaches
#: the document.
_BUILD_ONLY = {"BURNRATE_REPORT_LINK_SECRET": "burnrate-dev-asyncapi-builds-only"}


@contextlib.contextmanager
def _default_settings() -> Iterator[None]:
    """Without the writer's ``BURNRATE_*`` variables, so every service builds with its
    defaults and the document does not depend on whoever writes it (an AMQP prefix,
    production checks)."""
    ours = {k: v for k, v in os.environ.items() if k.startswith("BURNRATE_")}
    for name in ours:
        del os.environ[name]
    os.environ.update(_BUILD_ONLY)
    try:
        yield
    finally:
        for name in _BUILD_ONLY:
            del os.environ[name]
        os.environ.update(ours)


def read_services() -> list[Service]:
    """Every service, by name."""
    with _default_settings():
        services = [read_service(module) for module in service_modules()]
    return sorted(services, key=lambda s: s.name)


class _Schemas(GenerateJsonSchema):
    """Pydantic's JSON Schema without a title on every field (the field's name says it)."""

    # ``schema``: pydantic's CoreSchemaOrField, which it defines for type checkers only.
    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def _schemas() -> dict[str, Any]:
    models: list[type[Any]] = [Envelope, *dict.fromkeys(REGISTRY.values())]
    _, top = models_json_schema(
        [(model, "validation") for model in models],
        ref_template=SCHEMAS + "{model}",
        schema_generator=_Schemas,
    )
    definitions: dict[str, Any] = top["$defs"]
    return definitions


def _json_type(value: Any) -> str:
    for python, name in ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string")):
        if isinstance(value, python):
            return name
    raise DocumentError(f"no JSON type for the header value {value!r}")


def _headers(event_type: EventType, version: int) -> dict[str, Any]:
    """The AMQP headers ``bus.to_message`` gives an event of this type, typed by example."""
    sample = bus.StoredEvent(
        id=uuid.UUID(int=0),
        type=event_type.value,
        body=b"{}",
        occurred_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
        correlation_id="",
        producer="",
        key="",
        version=version,
        headers=None,
    )
    headers = bus.to_message(sample).headers or {}
    properties: dict[str, Any] = {}
    for name, value in headers.items():
        properties[name] = {"type": _json_type(value)}
        if name == "version":
            properties[name]["const"] = version
    return {"type": "object", "properties": properties, "required": list(headers)}


def _summary(model: type[Payload]) -> str:
    return inspect.cleandoc(model.__doc__ or model.__name__).split("\n\n")[0].replace("\n", " ")


def _message_key(event_type: EventType, version: int) -> str:
    return f"{event_type.value}.v{version}"


def _channel_message(event_type: EventType, version: int) -> dict[str, str]:
    return {"$ref": f"#/channels/{event_type.value}/messages/v{version}"}


def _where(filters: Mapping[str, Any]) -> str:
    return ", ".join(f"{name}={json.dumps(value)}" for name, value in filters.items())


def build_document(services: list[Service]) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of ``services`` and of every registered event."""
    senders = {t: [s.name for s in services if t in s.sends] for t in EventType}
    receivers = {t: [s.name for s in services if t in s.receives] for t in EventType}
    # An event type may be registered before any service publishes it; one that a service
    # consumes is published somewhere, so not finding its producer means the source was not
    # understood, and the document would lie.
    missing = [t.value for t in EventType if receivers[t] and not senders[t]]
    if missing:
        raise DocumentError(
            f"no service is found to publish {', '.join(missing)}, which some consume: does "
            "its code call new_event(EventType.X, ...), or a function that passes its "
            "parameter on to it?"
        )
    settings = ServiceSettings.model_fields
    prefix = settings["amqp_prefix"].default
    amqp = urlsplit(settings["amqp_url"].default)
    exchange = bus.Topology(prefix=prefix, service="", max_attempts=1, retry_base_seconds=1.0)

    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for event_type in EventType:
        versions = sorted(v for (t, v) in REGISTRY if t == event_type)
        channel_messages = {}
        for version in versions:
            model = REGISTRY[(event_type, version)]
            key = _message_key(event_type, version)
            messages[key] = {
                "name": event_type.value,
                "title": f"{event_type.value} version {version}",
                "summary": _summary(model),
                "contentType": "application/json",
                "headers": _headers(event_type, version),
                "payload": {
                    "allOf": [
                        {"$ref": SCHEMAS + Envelope.__name__},
                        {
                            "type": "object",
                            "properties": {
                                "type": {"const": event_type.value},
                                "version": {"const": version},
                                "data": {"$ref": SCHEMAS + model.__name__},
                            },
                        },
                    ]
                },
                "bindings": {
                    "amqp": {
                        "messageType": event_type.value,
                        "bindingVersion": AMQP_BINDING_VERSION,
                    }
                },
            }
            channel_messages[f"v{version}"] = {"$ref": f"#/components/messages/{key}"}
        channels[event_type.value] = {
            "address": event_type.value,
            "description": (
                f"Routing key {event_type.value} on the topic exchange {exchange.exchange}. "
                f"Published by {', '.join(senders[event_type]) or 'no service yet'}; "
                f"consumed by {', '.join(receivers[event_type]) or 'no service'}."
            ),
            "messages": channel_messages,
            "bindings": {"$ref": "#/components/channelBindings/events"},
        }

    operations: dict[str, Any] = {}
    for service in services:
        for event_type in sorted(service.sends, key=list(EventType).index):
            version = CURRENT_VERSION[event_type]
            operations[f"{service.name}.send.{event_type.value}"] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{event_type.value}"},
                "title": f"{service.name} publishes {event_type.value}",
                "description": (
                    f"Through its outbox (the envelope's producer is {service.name}), at the "
                    f"current version, {version}."
                ),
                "messages": [_channel_message(event_type, version)],
            }
        queue = service.topology.queue
        for event_type in sorted(service.receives, key=list(EventType).index):
            versions = sorted(v for (t, v) in REGISTRY if t == event_type)
            where = service.filters.get(event_type)
            description = (
                f"From the queue {queue}; a failed event is retried with backoff, then "
                f"dead-lettered to {service.topology.dead_letter_queue}."
            )
            if len(versions) > 1:
                description += " Every registered version is accepted."
            if where:
                description += f" Only the events whose headers carry {_where(where)}."
            operations[f"{service.name}.receive.{event_type.value}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{event_type.value}"},
                "title": f"{service.name} consumes {event_type.value}",
                "description": description,
                "messages": [_channel_message(event_type, v) for v in versions],
                "bindings": {"$ref": "#/components/operationBindings/consume"},
            }

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Burnrate events",
            "version": importlib.metadata.version("burnrate-common"),
            "description": (
                "Every event the Burnrate services exchange on RabbitMQ. Written by "
                "`make asyncapi` (burnrate-dev asyncapi) from the code; `make lint` fails "
                "when it is stale. Each message is the JSON envelope (burnrate_common.events."
                "Envelope) whose `data` is the payload of its type and version, as pydantic "
                "validates it at both ends; the envelope's id, type, time, correlation id and "
                "producer are also the AMQP properties message_id, type, timestamp, "
                "correlation_id and app_id."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": amqp.netloc.rpartition("@")[2],
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "The local broker (make services); BURNRATE_AMQP_URL elsewhere.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": _schemas(),
            "channelBindings": {
                "events": {
                    "amqp": {
                        "is": "routingKey",
                        "exchange": {
                            "name": exchange.exchange,
                            "type": "topic",
                            "durable": True,
                            "autoDelete": False,
                            "vhost": amqp.path[1:] or "/",
                        },
                        "bindingVersion": AMQP_BINDING_VERSION,
                    }
                }
            },
            # Acked once handled (with its inbox row), never before.
            "operationBindings": {
                "consume": {"amqp": {"ack": True, "bindingVersion": AMQP_BINDING_VERSION}}
            },
        },
    }


class _Dumper(yaml.SafeDumper):
    pass


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def render(document: dict[str, Any]) -> str:
    header = "# Written by `make asyncapi` (burnrate-dev asyncapi) from the code: do not edit.\n"
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return header + body


def run(path: Path, *, check: bool) -> int:
    """Write the document to ``path``, or with ``check`` say whether it is up to date."""
    try:
        text = render(build_document(read_services()))
    except DocumentError as error:
        print(f"burnrate-dev asyncapi: {error}")
        return 1
    if not check:
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
        return 0
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    if current == text:
        return 0
    diff = difflib.unified_diff(
        current.splitlines(keepends=True),
        text.splitlines(keepends=True),
        fromfile=f"{path} (checked in)",
        tofile=f"{path} (from the code)",
    )
    lines = list(diff)
    print("".join(lines[:80]), end="")
    if len(lines) > 80:
        print(f"... ({len(lines) - 80} more lines)")
    print(f"\n{path} is stale: run `make asyncapi` and commit it.")
    return 1
