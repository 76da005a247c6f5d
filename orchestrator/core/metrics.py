"""Prometheus metrics, one registry per app so tests and replicas never share state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self._served: dict[tuple[str, int], Any] = {}
        self.http_requests = Counter(
            "orchestrator_http_requests", "HTTP requests served", ["route", "status"], registry=r
        )
        self.http_latency = Histogram(
            "orchestrator_http_request_seconds", "HTTP request latency", ["route"], registry=r
        )
        self.outbox_delivered = Counter(
            "orchestrator_outbox_deliveries",
            "Outbox delivery attempts",
            ["kind", "result"],
            registry=r,
        )
        self.outbox_pending = Gauge(
            "orchestrator_outbox_pending", "Outbox messages waiting to go", ["kind"], registry=r
        )
        self.dependency_up = Gauge(
            "orchestrator_dependency_up",
            "1 when a dependency answered its last call",
            ["dependency"],
            registry=r,
        )

    def count_request(self, route: str, status: int) -> None:
        """One request served; the labelled child is looked up once per (route, status)."""
        child = self._served.get((route, status))
        if child is None:
            child = self._served[(route, status)] = self.http_requests.labels(route, str(status))
        child.inc()
