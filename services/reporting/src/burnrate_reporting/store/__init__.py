"""All SQL of the reporting service, one module per part: the event-fed writes
(``projections``), the contract screen (``screen``), the report reads (``reports``), the
business metrics (``metrics``), the event log's compaction (``compaction``) and the
rebuild (``rebuild``)."""

from burnrate_reporting.store import compaction, metrics, projections, rebuild, reports, screen

__all__ = ["compaction", "metrics", "projections", "rebuild", "reports", "screen"]
