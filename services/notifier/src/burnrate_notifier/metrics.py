"""The notifier's own metrics, registered next to the shared ones of its service registry."""

from __future__ import annotations

import weakref

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

#: Closed set of delivery outcomes per try.
OUTCOMES = ("sent", "retrying", "failed")


class NotifierMetrics:
    _by_registry: weakref.WeakKeyDictionary[CollectorRegistry, NotifierMetrics] = (
        weakref.WeakKeyDictionary()
    )

    @classmethod
    def of(cls, registry: CollectorRegistry) -> NotifierMetrics:
        """One set per registry: the e-mail and the webhook sender share it."""
        metrics = cls._by_registry.get(registry)
        if metrics is None:
            metrics = cls._by_registry[registry] = cls(registry)
        return metrics

    def __init__(self, registry: CollectorRegistry) -> None:
        self.deliveries = Counter(
            "burnrate_notifier_deliveries_total",
            "Delivery tries by channel and outcome (sent, retrying, failed)",
            ["channel", "outcome"],
            registry=registry,
        )
        self.send_seconds = Histogram(
            "burnrate_notifier_send_seconds",
            "Time to hand one message to the SMTP server or the webhook receiver",
            ["channel"],
            registry=registry,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.set_aside = Counter(
            "burnrate_notifier_deliveries_set_aside_total",
            "Deliveries set aside: their handling failed in a way a retry cannot fix; each is "
            "marked failed with the reason and can be replayed by its retry endpoint",
            ["channel"],
            registry=registry,
        )
        self.pending = Gauge(
            "burnrate_notifier_deliveries_pending",
            "Deliveries queued or waiting for a retry",
            registry=registry,
        )
        self.smtp_up = Gauge(
            "burnrate_notifier_smtp_up",
            "1 when the last connect to the SMTP server worked, 0 during an outage",
            registry=registry,
        )
        self.smtp_unreachable = Counter(
            "burnrate_notifier_smtp_unreachable_total",
            "Connects to the SMTP server that failed (no mail's attempts are spent on these)",
            registry=registry,
        )
