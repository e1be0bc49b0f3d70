"""Two-sample statistics on binned counts, and multiple-testing corrections.

Every function takes counts over shared bins (a reference and a current sample) so the
cost is O(bins), whatever the number of rows. P-values come from closed forms (the
Kolmogorov distribution, the regularised incomplete gamma function) computed here, which
keeps SciPy (and its start-up time and memory) out of the monitoring path.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

_EPS_PSI = 1e-4


def kolmogorov_sf(lam: float) -> float:
    """P(K > lam) for the Kolmogorov distribution (the KS statistic's limit)."""
    if lam <= 0.0:
        return 1.0
    if lam < 1.18:
        # The theta-function form converges fast for small lambda.
        y = math.exp(-(math.pi**2) / (8.0 * lam * lam))
        total = sum(y ** ((2 * k - 1) ** 2) for k in range(1, 8))
        return min(1.0, max(0.0, 1.0 - math.sqrt(2.0 * math.pi) / lam * total))
    total = 0.0
    for k in range(1, 101):
        term = math.exp(-2.0 * k * k * lam * lam)
        total += term if k % 2 else -term
        if term < 1e-16:
            break
    return min(1.0, max(0.0, 2.0 * total))


def ks_pvalue(d: float, n: int, m: int) -> float:
    """Asymptotic two-sample KS p-value with Stephens' small-sample correction."""
    ne = n * m / (n + m)
    root = math.sqrt(ne)
    return kolmogorov_sf((root + 0.12 + 0.11 / root) * d)


def chi2_sf(x: float, dof: int) -> float:
    """P(X > x) for a chi-square variable with ``dof`` degrees of freedom."""
    if dof <= 0:
        return 1.0
    if x <= 0.0:
        return 1.0
    return _gammq(dof / 2.0, x / 2.0)


def _gammq(a: float, x: float) -> float:
    """Regularised upper incomplete gamma Q(a, x) (series below a+1, continued fraction above)."""
    gln = math.lgamma(a)
    if x < a + 1.0:
        ap, total, delta = a, 1.0 / a, 1.0 / a
        for _ in range(1000):
            ap += 1.0
            delta *= x / ap
            total += delta
            if abs(delta) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(-x + a * math.log(x) - gln))
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 1000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return min(1.0, math.exp(-x + a * math.log(x) - gln) * h)


def ks_statistic(ref: np.ndarray, cur: np.ndarray) -> float:
    """The largest gap between the two empirical CDFs, read at the bin edges."""
    import numpy as np

    f_ref = np.cumsum(ref) / ref.sum()
    f_cur = np.cumsum(cur) / cur.sum()
    return float(np.max(np.abs(f_ref - f_cur)))


def wasserstein(
    edges: np.ndarray,
    ref: np.ndarray,
    cur: np.ndarray,
    ref_tails: tuple[float, float],
    cur_tails: tuple[float, float],
) -> float:
    """Earth mover's distance between two binned samples.

    Inside the reference range the CDFs are interpolated linearly within a bin; outside it
    the area is exact, from the sums of the values that fell below and above (``tails``).
    """
    import numpy as np

    n, m = float(ref.sum()), float(cur.sum())
    gap = np.abs(np.cumsum(ref[:-1]) / n - np.cumsum(cur[:-1]) / m)  # at each edge
    widths = np.diff(edges)
    inner = float(np.sum((gap[:-1] + gap[1:]) * 0.5 * widths)) if len(edges) > 1 else 0.0
    lo, hi = float(edges[0]), float(edges[-1])
    below_ref = (ref[0] * lo - ref_tails[0]) / n
    below_cur = (cur[0] * lo - cur_tails[0]) / m
    above_ref = (ref_tails[1] - ref[-1] * hi) / n
    above_cur = (cur_tails[1] - cur[-1] * hi) / m
    return inner + abs(below_ref - below_cur) + abs(above_ref - above_cur)


def psi(ref: np.ndarray, cur: np.ndarray) -> float:
    """Population stability index over shared bins (empty bins floored at 1e-4)."""
    import numpy as np

    p = np.clip(ref / ref.sum(), _EPS_PSI, None)
    q = np.clip(cur / cur.sum(), _EPS_PSI, None)
    return float(np.sum((q - p) * np.log(q / p)))


def js_distance(ref: np.ndarray, cur: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2, between 0 and 1)."""
    import numpy as np

    p = ref / ref.sum()
    q = cur / cur.sum()
    mid = (p + q) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / mid), 0.0)
        kl_q = np.where(q > 0, q * np.log2(q / mid), 0.0)
    divergence = 0.5 * float(kl_p.sum() + kl_q.sum())
    return math.sqrt(min(1.0, max(0.0, divergence)))


def chi2_homogeneity(ref: np.ndarray, cur: np.ndarray) -> tuple[float, int]:
    """Pearson's chi-square statistic and degrees of freedom for two samples of categories."""
    import numpy as np

    keep = (ref + cur) > 0
    ref, cur = ref[keep].astype(np.float64), cur[keep].astype(np.float64)
    k = len(ref)
    if k < 2:
        return 0.0, 0
    n, m = ref.sum(), cur.sum()
    total = ref + cur
    exp_ref = total * n / (n + m)
    exp_cur = total * m / (n + m)
    stat = np.sum((ref - exp_ref) ** 2 / exp_ref) + np.sum((cur - exp_cur) ** 2 / exp_cur)
    return float(stat), k - 1


def coarsen(ref: np.ndarray, groups: int = 10) -> np.ndarray:
    """Group labels merging fine bins into ~``groups`` bins of equal reference mass.

    The two outer (out-of-range) bins keep groups of their own, so values beyond the
    reference range always count against stability.
    """
    import numpy as np

    inner = ref[1:-1]
    share = np.cumsum(inner) / max(inner.sum(), 1)
    labels = np.minimum((share * groups - 1e-9).astype(np.int64), groups - 1) + 1
    labels = np.maximum(labels, 1)
    return np.concatenate([[0], labels, [groups + 1]])


def adjust_pvalues(pvalues: list[float], method: str) -> list[float]:
    """P-values corrected for testing many features: ``bh``, ``bonferroni`` or ``none``."""
    n = len(pvalues)
    if n == 0 or method == "none":
        return list(pvalues)
    if method == "bonferroni":
        return [min(1.0, p * n) for p in pvalues]
    if method != "bh":
        raise ValueError(f"unknown correction {method!r}")
    order = sorted(range(n), key=lambda i: pvalues[i])
    adjusted = [0.0] * n
    running = 1.0
    for rank in range(n, 0, -1):
        i = order[rank - 1]
        running = min(running, pvalues[i] * n / rank)
        adjusted[i] = min(1.0, running)
    return adjusted
