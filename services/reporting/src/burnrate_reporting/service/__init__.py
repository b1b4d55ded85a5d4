"""The use cases of the reporting service, one module per part: the event-fed read models
(``projections``), the contract screen (``screen``), the reports (``reports``), the staff
sessions and the customers' links (``access``), the business metrics' figures
(``metrics``), the upkeep loops' work (``upkeep``) and the rebuild from the event log
(``rebuild``). Routes, handlers, loops and the CLI call them; ``Deps`` is what they are
given."""

from burnrate_reporting.service.deps import Deps, HandledMark

__all__ = ["Deps", "HandledMark"]
