"""Best and worst cells of the UI's tables, by which way is better for each metric.

The rule (lower for losses and errors unless a ``keel.metric_direction.<metric>`` tag says
otherwise) lives in :mod:`keel.tracking`, where comparison reports read it too. Every "best"/"worst"
colour in the UI (runs table, compare table, parallel coordinates) reads :func:`directions`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from keel.tracking import lower_is_better
from keel.tracking import metric_directions as directions


@dataclass(frozen=True)
class Extremes:
    """The best and worst value of one metric across the runs shown."""

    best: float
    worst: float
    lower: bool


def extremes(
    values_by_metric: Mapping[str, Iterable[float | None]], lower: Mapping[str, bool]
) -> dict[str, Extremes]:
    """Best and worst of each metric with at least two distinct finite values."""
    out = {}
    for key, values in values_by_metric.items():
        finite = {v for v in values if v is not None and math.isfinite(v)}
        if len(finite) < 2:
            continue
        low, high = min(finite), max(finite)
        is_lower = lower.get(key, False)
        out[key] = Extremes(low if is_lower else high, high if is_lower else low, is_lower)
    return out


def cell_class(ext: Extremes | None, value: float | None) -> str:
    """``best``/``worst`` and ``max``/``min`` (which end of the range) for a table cell."""
    if ext is None or value is None:
        return ""
    end = "max" if value == max(ext.best, ext.worst) else "min"
    if value == ext.best:
        return f"best {end}"
    if value == ext.worst:
        return f"worst {end}"
    return ""


__all__ = [
    "Extremes",
    "cell_class",
    "directions",
    "extremes",
    "lower_is_better",
]
