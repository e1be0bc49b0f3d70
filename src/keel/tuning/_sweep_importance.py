"""Cheap parameter importances for the sweep page: each parameter's main-effect share of
the objective's variance (the correlation ratio, eta squared), from binned trials.

fANOVA fits a random forest (seconds, and importing scikit-learn takes seconds more); a
page request cannot wait for it. Eta squared is the first-order part of what fANOVA
measures: the variance of the objective's mean per bin of the parameter (a choice, or one
of :data:`BINS` quantile bins of a number) over the objective's variance, normalised to
sum to 1. It misses interactions, which fANOVA (``keel sweep show``) reports.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

BINS = 10


def _bins(values: list[float], categorical: bool) -> list[Any]:
    if categorical:
        return values
    order = sorted(values)
    edges = [order[int(len(order) * i / BINS)] for i in range(1, BINS)]
    return [sum(1 for e in edges if v >= e) for v in values]


def main_effects(trials: list[Any]) -> dict[str, float]:
    """Each parameter's share of the variance of the trials' first value (sums to 1),
    largest first; ``{}`` when the values do not vary."""
    ys = [t.values[0] for t in trials]
    mean = sum(ys) / len(ys)
    total = sum((y - mean) ** 2 for y in ys)
    names = sorted({k for t in trials for k in t.params})
    if total <= 0 or not names:
        return {}
    found: dict[str, float] = {}
    for name in names:
        rows = [(t.params[name], t.values[0]) for t in trials if name in t.params]
        dist = next((t.distributions.get(name, "") for t in trials if name in t.params), "")
        keys = _bins([x for x, _ in rows], "Categorical" in dist)
        groups: dict[Any, list[float]] = defaultdict(list)
        for key, (_, y) in zip(keys, rows, strict=True):
            groups[key].append(y)
        between = sum(len(g) * (sum(g) / len(g) - mean) ** 2 for g in groups.values())
        found[name] = between / total
    norm = sum(found.values()) or 1.0
    return dict(sorted(((k, v / norm) for k, v in found.items()), key=lambda kv: -kv[1]))


__all__ = ["BINS", "main_effects"]
