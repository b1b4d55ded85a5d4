"""All SQL of the reporting service, one module per part: the event-fed writes
(``projections``), the contract screen (``screen``), the report reads (``reports``), the
pages' sessions and the customers' report links (``access``), the business metrics
(``metrics``), the event log's compaction (``compaction``), the rebuild (``rebuild``), the
tickets and their service levels (``sla``) and billing's statements and invoices
(``billing``)."""

from burnrate_reporting.store import (
    access,
    billing,
    compaction,
    metrics,
    projections,
    rebuild,
    reports,
    screen,
    sla,
)

__all__ = [
    "access",
    "billing",
    "compaction",
    "metrics",
    "projections",
    "rebuild",
    "reports",
    "screen",
    "sla",
]
