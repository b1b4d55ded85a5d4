"""Prometheus metrics every service has, named ``burnrate_<service>_<noun>_total|_seconds``.

Each service gets its own registry so several services (or tests) can share a process.
Labels come from closed sets only.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

CONSUME_STATUSES = ("success", "duplicate", "failed", "ignored", "trimmed", "dead_lettered")


class ServiceMetrics:
    def __init__(self, service: str) -> None:
        prefix = f"burnrate_{service.replace('-', '_')}"
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            f"{prefix}_http_requests_total",
            "HTTP requests by route template, method and status code",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.http_seconds = Histogram(
            f"{prefix}_http_request_seconds",
            "HTTP request latency by route template and method",
            ["route", "method"],
            registry=self.registry,
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.messages_consumed = Counter(
            f"{prefix}_messages_consumed_total",
            "Messages taken from the bus by event type and outcome",
            ["type", "status"],
            registry=self.registry,
        )
        self.messages_published = Counter(
            f"{prefix}_messages_published_total",
            "Events published with a broker confirm, by event type",
            ["type"],
            registry=self.registry,
        )
        self.handler_seconds = Histogram(
            f"{prefix}_handler_seconds",
            "Time to handle one event, transaction included",
            ["type"],
            registry=self.registry,
        )
        self.outbox_backlog = Gauge(
            f"{prefix}_outbox_backlog",
            "Events written to the outbox and not yet confirmed by the broker",
            registry=self.registry,
        )
        self.dead_letter_depth = Gauge(
            f"{prefix}_dead_letter_messages",
            "Messages waiting in this service's dead-letter queue",
            registry=self.registry,
        )
        self.loop_restarts = Counter(
            f"{prefix}_loop_restarts_total",
            "Long-running loops (consumer, outbox relay, senders, clocks) that ended or raised "
            "and were restarted, by loop",
            ["loop"],
            registry=self.registry,
        )
        self.outbox_set_aside = Counter(
            f"{prefix}_outbox_set_aside_total",
            "Outbox events that could not be published after every attempt and were set aside "
            "(listed at GET /v1/outbox/set-aside, replayable)",
            registry=self.registry,
        )
