"""The notifier's own metrics, registered next to the shared ones of its service registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

#: Closed set of delivery outcomes per try.
OUTCOMES = ("sent", "retrying", "failed")


class NotifierMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.deliveries = Counter(
            "burnrate_notifier_deliveries_total",
            "Delivery tries by channel and outcome (sent, retrying, failed)",
            ["channel", "outcome"],
            registry=registry,
        )
        self.send_seconds = Histogram(
            "burnrate_notifier_send_seconds",
            "Time to hand one message to the SMTP server",
            ["channel"],
            registry=registry,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.pending = Gauge(
            "burnrate_notifier_deliveries_pending",
            "Deliveries queued or waiting for a retry",
            registry=registry,
        )
