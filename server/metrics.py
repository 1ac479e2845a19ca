"""What operators watch, in Prometheus's text format at /metrics (prometheus_client does the
format and the histograms): requests and latency per Dojo capability and GraphQL operation,
orders by status, live subscribers, the Dojo outbox, unmatched payments, and which Dojo products'
new orders are paused.

Each process keeps its own counters (scrape every worker); the gauges read the shared store.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Enum, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "orderpass_requests", "HTTP requests, by what they did and how they ended",
            ["operation", "status"], registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "orderpass_request_seconds", "Time to answer, by what was asked", ["operation"],
            buckets=BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.graphql = Histogram(
            "orderpass_graphql_seconds", "GraphQL operations, by the root fields they select and type",
            ["operation", "type"],
            buckets=BUCKETS, registry=self.registry,
        )  # fmt: skip
        self._counted: dict[tuple[str, int], Any] = {}  # each label's child of `requests`
        self._timed: dict[str, Any] = {}  # and of `latency`

        self.socket_calls = Counter(
            "orderpass_dojo_socket_calls", "Calls Dojo made over the WebSocket, by method and outcome",
            ["method", "outcome"], registry=self.registry,
        )  # fmt: skip
        self.socket_reconnects = Counter(
            "orderpass_dojo_socket_reconnects", "Times this process's WebSocket to Dojo was lost",
            registry=self.registry,
        )  # fmt: skip
        self.socket_state = Enum(
            "orderpass_dojo_socket_state", "This process's WebSocket to Dojo",
            states=["off", "standby", "connecting", "connected", "reconnecting", "refused"],
            registry=self.registry,
        )  # fmt: skip

    def observe(self, operation: str, status: int, seconds: float) -> None:
        """Count and time one request. Each label's child is looked up once (`labels()` takes
        a lock and builds its key on every call, which is most of the cost of an observation);
        the labels are a fixed set (server/app.py), so these stay as small as the registry."""
        counted = self._counted.get((operation, status))
        if counted is None:
            counted = self._counted[operation, status] = self.requests.labels(operation, str(status))
        timed = self._timed.get(operation)
        if timed is None:
            timed = self._timed[operation] = self.latency.labels(operation)
        counted.inc()
        timed.observe(seconds)

    def render(self, snapshot: Mapping[str, Any]) -> bytes:
        collector = _Snapshot(snapshot)
        self.registry.register(collector)
        try:
            return generate_latest(self.registry)
        finally:
            self.registry.unregister(collector)


class _Snapshot(Collector):
    """Gauges from values read just now (the store is async; the collector must not be)."""

    HELP = {
        "orderpass_orders": ("Orders by status", "status"),
        "orderpass_subscribers": ("Live orderChanges subscriptions in this process", None),
        "orderpass_dojo_outbox_owed": ("POS events owed to Dojo", None),
        "orderpass_dojo_outbox_failing": ("POS events owed to Dojo that failed at least once", None),
        "orderpass_dojo_outbox_oldest_seconds": ("Age of the oldest undelivered POS event", None),
        "orderpass_unmatched_payments": ("Payment intents no order holds", None),
        "orderpass_ordering_paused": ("Dojo products whose new orders are paused (1) or not (0)", "product"),
    }

    def __init__(self, snapshot: Mapping[str, Any]) -> None:
        self.snapshot = snapshot

    def collect(self) -> Any:
        for name, value in self.snapshot.items():
            text, label = self.HELP.get(name, (name, None))
            family = GaugeMetricFamily(name, text, labels=[label] if label else None)
            if label:
                for key, count in value.items():
                    family.add_metric([key], count)
            else:
                family.add_metric([], value)
            yield family
