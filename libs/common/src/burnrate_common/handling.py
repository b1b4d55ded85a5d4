"""How every service wires its event handlers: one registry per service, typed by payload.

A service's ``handlers.py`` creates one :class:`EventHandlers` and registers each handler
with :meth:`EventHandlers.on`; a handler is ``async (deps, conn, envelope, payload)``, its
``payload`` parameter annotated with the model(s) it accepts. Registration checks that
annotation against every registered version of the event type, so a handler never asserts
what it was given, and a mismatch fails when the service is built, not when the event
arrives. ``bootstrap.py`` hands the registry and the service's dependencies to its
``ServiceDefinition``; the runtime binds them (:meth:`EventHandlers.bind`).
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from burnrate_common.bus import Handler
from burnrate_common.events import REGISTRY, EventType

Deps = TypeVar("Deps")
F = TypeVar("F", bound=Callable[..., Awaitable[None]])


def _accepted_payloads(handler: Callable[..., Any]) -> tuple[type, ...]:
    hints = typing.get_type_hints(handler)
    if "payload" not in hints:
        raise TypeError(f"{handler.__qualname__}: annotate its 'payload' parameter")
    annotation = hints["payload"]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


class EventHandlers(Generic[Deps]):
    """Event type → the handler that turns it into one use-case call."""

    def __init__(self) -> None:
        self._by_type: dict[EventType, Callable[..., Awaitable[None]]] = {}

    def on(self, *event_types: EventType) -> Callable[[F], F]:
        """Register the decorated handler for ``event_types``."""

        def register(handler: F) -> F:
            accepted = _accepted_payloads(handler)
            for event_type in event_types:
                if event_type in self._by_type:
                    raise ValueError(f"{event_type} has a handler already")
                for (registered_type, version), model in REGISTRY.items():
                    if registered_type == event_type and not issubclass(model, accepted):
                        raise TypeError(
                            f"{handler.__qualname__} does not accept {model.__name__}, the "
                            f"payload of {event_type} version {version}"
                        )
                self._by_type[event_type] = handler
            return handler

        return register

    @property
    def event_types(self) -> frozenset[EventType]:
        return frozenset(self._by_type)

    def bind(
        self, deps: Deps, wrap: Callable[[Handler], Handler] | None = None
    ) -> dict[EventType, Handler]:
        """The consumer's handlers: each called with ``deps`` first; ``wrap`` (optional) is
        applied to every one (reporting keeps each handled envelope in its event log)."""
        bound: dict[EventType, Handler] = {}
        for event_type, handler in self._by_type.items():
            call: Handler = functools.partial(handler, deps)
            bound[event_type] = wrap(call) if wrap else call
        return bound
