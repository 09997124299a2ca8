"""What a webhooks process counts: attempts by the state they left their delivery in, how long
receivers took, how many attempts a delivery took to finish, and the backlog (how many wait,
and for how long the oldest has). Prometheus instruments in a registry of the process's own;
serving them is the operations work (``/metrics``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from projections.store.webhooks import Attempt

ATTEMPT_BUCKETS = (1, 2, 3, 4, 5, 6, 7, 8, 10, 20)
"""Attempts to finish: the default schedule allows 8 (the first and 7 retries)."""


class DeliveryMetrics:
    """The instruments of one webhooks process, registered in ``registry``."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.attempts = Counter(
            "laurel_webhook_attempts",
            "Delivery attempts, by the state they left the delivery in.",
            ["state"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "laurel_webhook_attempt_duration_seconds",
            "How long each attempt took, from connecting to the answer (or the error).",
            registry=self.registry,
        )
        self.finished_after = Histogram(
            "laurel_webhook_delivery_attempts",
            "Attempts each delivery took, counted once it is delivered or failed.",
            buckets=ATTEMPT_BUCKETS,
            registry=self.registry,
        )
        self.backlog = Gauge(
            "laurel_webhook_backlog",
            "Deliveries pending (due, leased or waiting for a retry).",
            registry=self.registry,
        )
        self.backlog_age = Gauge(
            "laurel_webhook_backlog_age_seconds",
            "How long the oldest pending delivery has waited since its message was stored.",
            registry=self.registry,
        )

    def attempted(self, attempt: Attempt, attempts: int) -> None:
        """One attempt recorded; ``attempts`` is the delivery's count including it."""
        state = attempt.state
        self.attempts.labels(state).inc()
        self.latency.observe(attempt.latency_ms / 1000)
        if state != "pending":
            self.finished_after.observe(attempts)

    def waiting(self, pending: int, oldest_age_s: float | None) -> None:
        """The backlog as the store counted it."""
        self.backlog.set(pending)
        self.backlog_age.set(oldest_age_s or 0.0)
