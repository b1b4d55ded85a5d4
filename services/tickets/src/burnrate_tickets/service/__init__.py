"""The use cases of the tickets service, one module per resource, called by routes, event
handlers and the stage timer alike; each command owns its transaction (inside the
consumer's transaction with the inbox row, that is a savepoint).

:class:`Deps` are the service's typed dependencies, built once in ``bootstrap.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from burnrate_common.clock import Clock

from burnrate_tickets.settings import TicketsSettings


@dataclass(frozen=True)
class Deps:
    #: the one source of time: clocks, stages, links
    clock: Clock
    settings: TicketsSettings
