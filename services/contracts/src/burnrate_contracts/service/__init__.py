"""The use cases of the contracts service, one module per resource; each ``async def`` owns
its transaction, makes the business decisions and is called by routes (and any CLI) alike.

``Deps`` are the service's typed dependencies, built once in ``bootstrap.build``.
"""

from __future__ import annotations

from dataclasses import dataclass

from burnrate_common.clock import Clock

from burnrate_contracts.settings import ContractsSettings


@dataclass(frozen=True)
class Deps:
    settings: ContractsSettings
    #: "Today" (for the derived status) is a day in each contract's zone, from this clock;
    #: it also stamps ``closed_at``.
    clock: Clock

    @property
    def producer(self) -> str:
        """The ``producer`` of the events this service publishes."""
        return self.settings.service_name
