"""All SQL of the reporting service, one module per part: the event-fed writes
(``projections``), the contract screen (``screen``), the report reads (``reports``), the
pages' sessions and the customers' report links (``access``), the business metrics
(``metrics``), the event log's compaction (``compaction``) and the rebuild (``rebuild``)."""

from burnrate_reporting.store import (
    access,
    compaction,
    metrics,
    projections,
    rebuild,
    reports,
    screen,
)

__all__ = ["access", "compaction", "metrics", "projections", "rebuild", "reports", "screen"]
