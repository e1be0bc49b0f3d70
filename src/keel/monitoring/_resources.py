"""Resources a deployment uses against the budget in its spec: latency, memory, CPU.

Latency percentiles come from the prediction log (one value per request). Memory and CPU
come from the serving process's Prometheus endpoint (``process_resident_memory_bytes``,
``process_cpu_seconds_total``, ``keel_model_memory_bytes``), scraped twice so CPU is the
current rate, not the lifetime average. The budget defaults to the deployment spec:
memory and CPU limits summed over endpoints, and the smallest request timeout as the p99
latency a request may take before it fails.
"""

from __future__ import annotations

import math
import re
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from keel._units import parse_memory
from keel.exceptions import InvalidArgumentError
from keel.monitoring._config import check_known

if TYPE_CHECKING:
    import numpy as np

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


@dataclass(frozen=True)
class ResourceBudget:
    """Limits to alert on; None means "not watched"."""

    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    memory_bytes: int | None = None
    cpu: float | None = None
    metrics_url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ResourceBudget:
        check_known(cls, data, "resource budget key(s)")
        values = dict(data)
        if values.get("memory_bytes") is not None:
            values["memory_bytes"] = parse_memory(values["memory_bytes"])
        return cls(**values)


@dataclass(frozen=True)
class ResourceUsage:
    requests: int
    latency_ms: dict[str, float | None] = field(default_factory=dict)
    memory_bytes: float | None = None
    model_memory_bytes: float | None = None
    cpu: float | None = None
    scrape_error: str = ""


@dataclass(frozen=True, slots=True)
class ResourceFinding:
    name: str
    value: float
    budget: float
    message: str


def budget_from_spec(spec: Mapping[str, Any], **overrides: Any) -> ResourceBudget:
    """The budget a deployment spec declares (``overrides`` win when not None)."""
    memory = cpu = 0.0
    timeouts: list[float] = []
    has_memory = has_cpu = False
    for endpoint in spec.get("endpoints", []) or []:
        res = endpoint.get("resources") or {}
        workers = int(res.get("workers") or 1)
        if res.get("memory") is not None:
            memory += parse_memory(res["memory"]) * workers
            has_memory = True
        if res.get("cpu") is not None:
            cpu += float(res["cpu"]) * workers
            has_cpu = True
        if res.get("timeout_ms") is not None:
            timeouts.append(float(res["timeout_ms"]))
    derived = {
        "latency_p99_ms": min(timeouts) if timeouts else None,
        "memory_bytes": int(memory) if has_memory else None,
        "cpu": cpu if has_cpu else None,
    }
    derived.update({k: v for k, v in overrides.items() if v is not None})
    return ResourceBudget.from_dict(derived)


def latency_percentiles(latencies_ms: np.ndarray) -> dict[str, float | None]:
    import numpy as np

    values = latencies_ms[np.isfinite(latencies_ms)]
    if len(values) == 0:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    p50, p95, p99 = np.quantile(values, [0.5, 0.95, 0.99])
    return {"p50": float(p50), "p95": float(p95), "p99": float(p99), "max": float(values.max())}


def parse_prometheus(text: str) -> dict[str, float]:
    """Sum of every sample per metric name (labels summed over) from the text format."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if m is None:
            continue
        try:
            value = float(m.group(3))
        except ValueError:
            continue
        if math.isfinite(value):
            out[m.group(1)] = out.get(m.group(1), 0.0) + value
    return out


def scrape(url: str, *, timeout_s: float = 5.0) -> dict[str, float]:
    if not url.startswith(("http://", "https://")):
        raise InvalidArgumentError(f"metrics_url {url!r} must be an http(s) URL")
    with urllib.request.urlopen(url, timeout=timeout_s) as resp:
        return parse_prometheus(resp.read().decode("utf-8", "replace"))


def process_usage(
    url: str, *, interval_s: float = 1.0, timeout_s: float = 5.0
) -> dict[str, float | None]:
    """Resident memory now and CPU cores used over ``interval_s`` (two scrapes)."""
    first = scrape(url, timeout_s=timeout_s)
    start = time.monotonic()
    time.sleep(interval_s)
    second = scrape(url, timeout_s=timeout_s)
    elapsed = time.monotonic() - start
    cpu = None
    key = "process_cpu_seconds_total"
    if key in first and key in second and elapsed > 0:
        cpu = max(0.0, (second[key] - first[key]) / elapsed)
    return {
        "memory_bytes": second.get("process_resident_memory_bytes"),
        "model_memory_bytes": second.get("keel_model_memory_bytes"),
        "cpu": cpu,
    }


def check_budget(usage: ResourceUsage, budget: ResourceBudget) -> list[ResourceFinding]:
    """Every limit ``usage`` passes."""
    checks = [
        ("latency_p95_ms", usage.latency_ms.get("p95"), budget.latency_p95_ms, "p95 latency", "ms"),
        ("latency_p99_ms", usage.latency_ms.get("p99"), budget.latency_p99_ms, "p99 latency", "ms"),
        ("memory_bytes", usage.memory_bytes, budget.memory_bytes, "memory", "bytes"),
        ("cpu", usage.cpu, budget.cpu, "CPU", "cores"),
    ]
    out = []
    for name, value, limit, label, unit in checks:
        if value is None or limit is None or value <= limit:
            continue
        out.append(
            ResourceFinding(
                name,
                float(value),
                float(limit),
                f"{label} {_human(value, unit)} is over the budget of {_human(limit, unit)}",
            )
        )
    return out


def _human(value: float, unit: str) -> str:
    if unit == "bytes":
        return f"{value / 2**20:.0f} MiB"
    if unit == "ms":
        return f"{value:.1f} ms"
    return f"{value:.2f} {unit}"
