"""Prometheus metrics of one serving process, per endpoint, model and version.

Label children are created when a version is loaded, so the request path only increments
pre-bound counters; queue depth and in-flight gauges are read at scrape time through
callbacks. Process CPU and memory come from prometheus_client's process collector, the
memory each model took when it loaded from :func:`rss_bytes` deltas (MN_3 alerts use both).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096)


class ServingMetrics:
    """The registry and metric families of one serving app."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, ProcessCollector

        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        labels = ("endpoint", "model", "version")
        self._request_families(labels)
        self._state_families(labels)

    def _request_families(self, labels: tuple[str, ...]) -> None:
        """What requests and predict calls count and time."""
        from prometheus_client import Counter, Histogram

        r = self.registry
        self.requests = Counter(
            "keel_requests", "Prediction requests answered.", (*labels, "code"), registry=r
        )
        self.errors = Counter(
            "keel_request_errors",
            "Requests that failed, by reason.",
            (*labels, "reason"),
            registry=r,
        )
        self.latency = Histogram(
            "keel_request_latency_seconds",
            "Time from request to answer.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "keel_batch_size", "Rows per predict call.", labels, buckets=BATCH_BUCKETS, registry=r
        )
        self.predict_seconds = Histogram(
            "keel_predict_seconds",
            "Time of one predict call.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.rows = Counter("keel_predicted_rows", "Rows predicted.", labels, registry=r)
        self.shadow = Counter(
            "keel_shadow_requests",
            "Copies sent to shadow versions, by outcome.",
            (*labels, "outcome"),
            registry=r,
        )

    def _state_families(self, labels: tuple[str, ...]) -> None:
        """Queues, memory, the prediction log and the loaded versions, as they stand."""
        from prometheus_client import Counter, Gauge

        r = self.registry
        self.queue_depth = Gauge("keel_queue_depth", "Requests waiting.", labels, registry=r)
        self.in_flight = Gauge("keel_in_flight", "Requests admitted.", labels, registry=r)
        self.model_memory = Gauge(
            "keel_model_memory_bytes",
            "Resident memory the version took when it loaded.",
            labels,
            registry=r,
        )
        self.memory_limit = Gauge(
            "keel_model_memory_limit_bytes",
            "Declared memory limit of the endpoint.",
            labels,
            registry=r,
        )
        self.log_rows = Counter(
            "keel_prediction_log_rows", "Rows written to the prediction log.", registry=r
        )
        self.log_dropped = Counter(
            "keel_prediction_log_dropped",
            "Rows dropped because the prediction log buffer was full.",
            registry=r,
        )
        self.version_info = Gauge(
            "keel_version_info",
            "Loaded versions (value 1) with their reference and weight.",
            ("endpoint", "model", "version", "ref", "role"),
            registry=r,
        )

    def bind(self, endpoint: str, model: str, version: str) -> BoundMetrics:
        lv = (endpoint, model, version)
        return BoundMetrics(
            ok=self.requests.labels(*lv, "200"),
            latency=self.latency.labels(*lv),
            batch=self.batch_size.labels(*lv),
            predict=self.predict_seconds.labels(*lv),
            rows=self.rows.labels(*lv),
            labels=lv,
            parent=self,
        )

    def refused(self, code: int, reason: str, endpoint: str = "") -> None:
        """A request refused before it reached a model version (bad body, unknown model,
        content type, size): counted with empty model and version labels."""
        self.requests.labels(endpoint, "", "", str(code)).inc()
        self.errors.labels(endpoint, "", "", reason).inc()

    def exposition(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


@dataclass(frozen=True)
class BoundMetrics:
    """Pre-bound children of one (endpoint, model, version)."""

    ok: Any
    latency: Any
    batch: Any
    predict: Any
    rows: Any
    labels: tuple[str, str, str]
    parent: ServingMetrics

    def on_batch(self, n: int, seconds: float) -> None:
        self.batch.observe(n)
        self.predict.observe(seconds)
        self.rows.inc(n)

    def failed(self, code: int, reason: str) -> None:
        self.parent.requests.labels(*self.labels, str(code)).inc()
        self.parent.errors.labels(*self.labels, reason).inc()

    def watch(self, depth: Callable[[], float], in_flight: Callable[[], float]) -> None:
        self.parent.queue_depth.labels(*self.labels).set_function(depth)
        self.parent.in_flight.labels(*self.labels).set_function(in_flight)

    def forget(self) -> None:
        """Drop the gauges of an unloaded version (counters stay, as Prometheus expects)."""
        for gauge in (self.parent.queue_depth, self.parent.in_flight):
            with contextlib.suppress(KeyError):
                gauge.remove(*self.labels)


def rss_bytes() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


__all__ = ["BoundMetrics", "ServingMetrics", "rss_bytes"]
