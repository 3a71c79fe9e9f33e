"""Prometheus metrics for the hub.

Counters and the ingest histogram live in the app's own registry; under gunicorn with several
workers set ``PROMETHEUS_MULTIPROC_DIR`` (``hub web`` does) and /metrics aggregates every
worker's values. Event counts by status and queue depths are read from the store and Redis at
scrape time, so they are the truth rather than a per-process tally.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

INGEST_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.deliveries = Counter("hub_webhook_deliveries", "Webhook deliveries by channel and outcome",
                                  ["channel", "outcome"], registry=self.registry)
        self.verification_failures = Counter("hub_webhook_verification_failures",
                                             "Deliveries refused for a missing or bad signature",
                                             ["channel"], registry=self.registry)
        self.ingest_seconds = Histogram("hub_webhook_ingest_seconds", "Receive-to-answer time of a delivery",
                                        ["channel"], buckets=INGEST_BUCKETS_S, registry=self.registry)

    def render(self, live_collector: object) -> bytes:
        """Exposition text: this process (or all workers, in multiprocess mode) + live gauges."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess  # reads PROMETHEUS_MULTIPROC_DIR, set only under gunicorn

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        else:
            registry = self.registry
        return generate_latest(registry) + generate_latest(_Single(live_collector))


class _Single(CollectorRegistry):
    def __init__(self, collector: object) -> None:
        super().__init__(auto_describe=False)
        self._collector = collector

    def collect(self):  # noqa: ANN201
        yield from self._collector.collect()


def gauge(name: str, doc: str, labels: list[str], rows: list[tuple[list[str], float]]) -> GaugeMetricFamily:
    g = GaugeMetricFamily(name, doc, labels=labels)
    for label_values, value in rows:
        g.add_metric(label_values, value)
    return g
