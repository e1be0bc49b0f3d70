"""Numeric histograms on other edges: merging two profiles (exact on shared edges, re-binned
approximately otherwise) and reading one on a reference's edges."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from keel.monitoring._column_profiles import NumericProfile

if TYPE_CHECKING:
    import numpy as np


def merge_numeric(a: NumericProfile, b: NumericProfile, *, bins: int) -> NumericProfile:
    """Moments merge exactly (Chan et al.); histograms add, re-binned if edges differ."""
    import numpy as np

    if a.count == 0 or b.count == 0:
        keep = b if a.count == 0 and b.count > 0 else a
        return replace(keep, nulls=a.nulls + b.nulls)
    n = a.count + b.count
    assert a.mean is not None and b.mean is not None
    delta = b.mean - a.mean
    mean = a.mean + delta * b.count / n
    m2 = a.m2 + b.m2 + delta * delta * a.count * b.count / n
    lo = min(x for x in (a.min, b.min) if x is not None)
    hi = max(x for x in (a.max, b.max) if x is not None)
    if len(a.edges) == len(b.edges) and np.array_equal(a.edges, b.edges):
        counts = a.counts + b.counts
        tails = (a.tail_sums[0] + b.tail_sums[0], a.tail_sums[1] + b.tail_sums[1])
        edges = a.edges
    else:
        edges, counts = _rebin_union(a, b, lo, hi, bins)
        tails = (0.0, 0.0)  # the new edges span every value, so the tails are empty
    return NumericProfile(
        a.name, a.dtype, n, a.nulls + b.nulls, lo, hi, mean, m2, edges, counts, tails
    )


def cumulative_at(p: NumericProfile, points: np.ndarray) -> np.ndarray:
    """How many values of ``p`` are <= each point, interpolating linearly inside a bin.

    Out-of-range values are placed at the mean of their tail (known from ``tail_sums``).
    """
    import numpy as np

    cum_edges = np.cumsum(p.counts[:-1]).astype(np.float64)
    inner = np.interp(points, p.edges, cum_edges)
    low_n, high_n = float(p.counts[0]), float(p.counts[-1])
    low_at = p.tail_sums[0] / low_n if low_n else -np.inf
    high_at = p.tail_sums[1] / high_n if high_n else np.inf
    below = points < p.edges[0]
    inner = np.where(below, np.where(points >= low_at, low_n, 0.0), inner)
    above = points >= p.edges[-1]
    return np.where(above, cum_edges[-1] + np.where(points >= high_at, high_n, 0.0), inner)


def aligned_counts(ref: NumericProfile, cur: NumericProfile) -> np.ndarray:
    """``cur``'s histogram on ``ref``'s edges (re-binned when it was profiled otherwise)."""
    import numpy as np

    if len(ref.edges) == len(cur.edges) and np.array_equal(ref.edges, cur.edges):
        return cur.counts
    cum = cumulative_at(cur, ref.edges)
    cum = np.maximum.accumulate(np.clip(cum, 0, cur.count))
    full = np.concatenate([[0.0], cum, [float(cur.count)]])
    return np.maximum(np.diff(np.round(full)), 0).astype(np.int64)


def _rebin_union(
    a: NumericProfile, b: NumericProfile, lo: float, hi: float, bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """New quantile edges from the merged CDF, and both histograms re-counted on them."""
    import numpy as np

    grid = np.unique(np.concatenate([a.edges, b.edges, [lo, hi]]))
    grid = grid[(grid >= lo) & (grid <= hi)]
    merged = cumulative_at(a, grid) + cumulative_at(b, grid)
    total = float(a.count + b.count)
    targets = np.linspace(0.0, total, bins + 1)
    # invert the merged CDF (monotone, possibly flat) at equally spaced counts
    inner = np.interp(targets, merged, grid) if len(grid) > 1 else np.full(bins + 1, lo)
    inner[0], inner[-1] = lo, hi
    unique = np.unique(inner)
    edges = np.concatenate([[np.nextafter(unique[0], -np.inf)], unique])
    cum = cumulative_at(a, edges) + cumulative_at(b, edges)
    cum = np.maximum.accumulate(np.clip(cum, 0.0, total))
    cum[-1] = total  # every value is <= the merged maximum
    counts = np.diff(np.concatenate([[0.0], np.round(cum), [total]])).astype(np.int64)
    return edges, np.maximum(counts, 0)
