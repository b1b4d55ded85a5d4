"""The use cases of worklog-ingest, one module per resource, and its dependencies (:class:`Deps`).

* :mod:`.worklogs`: record one worklog or a batch, list, correct, attribute, delete;
* :mod:`.imports`: CSV exports, NDJSON streams, Tempo pages;
* :mod:`.jira`: Jira Cloud webhooks;
* :mod:`.kept` and :mod:`.rejected`: what could not be applied, kept as received, listed and
  replayed;
* :mod:`.routing`: the routing replica, fed by ``contract.*`` events;
* :mod:`.ingest`: the one path every worklog takes in (routing, COPY, events), which the
  use cases call inside the transaction they own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from burnrate_common.clock import Clock, SystemClock

from burnrate_worklog_ingest.settings import WorklogIngestSettings


@dataclass(frozen=True)
class Deps:
    """What the use cases are given (built in ``bootstrap``)."""

    settings: WorklogIngestSettings
    #: the one source of time (the Jira replay window)
    clock: Clock = field(default_factory=SystemClock)

    @property
    def producer(self) -> str:
        """The ``producer`` of the events this service writes."""
        return self.settings.service_name
