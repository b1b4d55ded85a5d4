"""The rules service's own metrics, registered next to the shared ones of its registry."""

from __future__ import annotations

import weakref

from prometheus_client import CollectorRegistry, Counter


class RulesMetrics:
    _by_registry: weakref.WeakKeyDictionary[CollectorRegistry, RulesMetrics] = (
        weakref.WeakKeyDictionary()
    )

    @classmethod
    def of(cls, registry: CollectorRegistry) -> RulesMetrics:
        """One set per registry."""
        metrics = cls._by_registry.get(registry)
        if metrics is None:
            metrics = cls._by_registry[registry] = cls(registry)
        return metrics

    def __init__(self, registry: CollectorRegistry) -> None:
        self.clock_set_aside = Counter(
            "burnrate_rules_clock_set_aside_total",
            "Contracts the daily clock set aside for the day: their evaluation raised (the "
            "reason is shown with the contract's totals); tried again the next local day, or "
            "at once when the contract or a rule that applies to it changes",
            registry=registry,
        )
