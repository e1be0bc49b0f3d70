"""Quality per cohort (any column or combination of columns) and the gaps between cohorts.

For each cohort: its size, accuracy, selection rate (share predicted positive), true and
false positive rates. Between the cohorts of one column set: the demographic parity
difference (largest minus smallest selection rate) and the equalized-odds difference (the
larger of the TPR and FPR ranges), as fairlearn defines them. A cohort is flagged when its
accuracy is below the rest by at least ``max_gap`` and the gap is significant (two-sided
two-proportion z-test, Bonferroni over the cohorts tested) -- so a small cohort's noise is
not an alert. Numeric cohort columns are cut at their quartiles.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

MISSING = "(missing)"


@dataclass(frozen=True, slots=True)
class CohortStats:
    columns: tuple[str, ...]
    values: tuple[str, ...]
    n: int
    accuracy: float | None
    selection_rate: float | None
    tpr: float | None
    fpr: float | None
    p_value: float | None = None
    flagged: bool = False

    @property
    def name(self) -> str:
        return ", ".join(f"{c}={v}" for c, v in zip(self.columns, self.values, strict=True))


@dataclass(frozen=True, slots=True)
class CohortGaps:
    columns: tuple[str, ...]
    cohorts: int
    accuracy_gap: float | None
    parity_difference: float | None
    equalized_odds_difference: float | None


@dataclass(frozen=True)
class CohortReport:
    overall_accuracy: float | None
    n: int
    cohorts: list[CohortStats] = field(default_factory=list)
    gaps: list[CohortGaps] = field(default_factory=list)

    @property
    def flagged(self) -> list[CohortStats]:
        return [c for c in self.cohorts if c.flagged]


def cohort_report(
    y_true: Sequence[str | None],
    y_pred: Sequence[str | None],
    columns: Mapping[str, Any],
    *,
    sets: Sequence[Sequence[str]] | None = None,
    positive: str | None = "1",
    max_gap: float = 0.1,
    alpha: float = 0.05,
    min_size: int = 30,
) -> CohortReport:
    """Accuracy and fairness gaps per cohort of each column set in ``sets`` (default: each
    column alone). Rows without a label are left out."""
    import numpy as np

    labelled = np.array(
        [t is not None and p is not None for t, p in zip(y_true, y_pred, strict=True)]
    )
    t = np.array(y_true, dtype=object)[labelled]
    p = np.array(y_pred, dtype=object)[labelled]
    correct = t == p
    keys = {
        name: _cohort_keys(
            np.asarray(values, dtype=object)[labelled]
            if not _is_numeric(values)
            else np.asarray(values, dtype=np.float64)[labelled]
        )
        for name, values in columns.items()
    }
    wanted = [tuple(s) for s in sets] if sets else [(c,) for c in columns]
    all_stats: list[CohortStats] = []
    gaps = []
    for combo in wanted:
        stats = _stats_for(combo, keys, correct, t, p, positive, min_size)
        all_stats.extend(stats)
        gaps.append(_gaps(combo, [s for s in stats if s.n >= min_size]))
    flagged = _flag(all_stats, correct, max_gap, alpha, min_size)
    overall = float(correct.mean()) if len(correct) else None
    return CohortReport(overall, len(correct), flagged, gaps)


def _is_numeric(values: Any) -> bool:
    import numpy as np

    arr = np.asarray(values)
    return arr.dtype.kind in "fiu"


def _cohort_keys(values: np.ndarray) -> np.ndarray:
    """Text keys per row: the value itself, or the quartile bin of a number."""
    import numpy as np

    if values.dtype.kind != "f":
        return np.array([MISSING if v is None else str(v) for v in values], dtype=object)
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return np.full(len(values), MISSING, dtype=object)
    edges = np.unique(np.quantile(finite, [0.25, 0.5, 0.75]))
    if len(np.unique(finite)) <= 4:
        return np.array(
            [MISSING if not math.isfinite(v) else f"{v:g}" for v in values], dtype=object
        )
    bounds = [-math.inf, *edges.tolist(), math.inf]
    labels = [f"[{_fmt(bounds[i])}, {_fmt(bounds[i + 1])})" for i in range(len(bounds) - 1)]
    idx = np.searchsorted(edges, values, side="right")
    return np.array(
        [MISSING if not math.isfinite(v) else labels[i] for v, i in zip(values, idx, strict=True)],
        dtype=object,
    )


def _fmt(x: float) -> str:
    return "-inf" if x == -math.inf else "inf" if x == math.inf else f"{x:.4g}"


def _stats_for(
    combo: tuple[str, ...],
    keys: Mapping[str, np.ndarray],
    correct: np.ndarray,
    t: np.ndarray,
    p: np.ndarray,
    positive: str | None,
    min_size: int,
) -> list[CohortStats]:
    import numpy as np

    missing = [c for c in combo if c not in keys]
    if missing:
        from keel.exceptions import InvalidArgumentError

        raise InvalidArgumentError(
            f"cohort column(s) {missing} are not in the data; have {sorted(keys)}"
        )
    n = len(correct)
    row_keys = [tuple(keys[c][i] for c in combo) for i in range(n)]
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, k in enumerate(row_keys):
        groups.setdefault(k, []).append(i)
    out = []
    for values, rows in sorted(groups.items()):
        idx = np.asarray(rows)
        out.append(_one(combo, values, idx, correct, t, p, positive))
    return out


def _one(
    combo: tuple[str, ...],
    values: tuple[str, ...],
    idx: np.ndarray,
    correct: np.ndarray,
    t: np.ndarray,
    p: np.ndarray,
    positive: str | None,
) -> CohortStats:
    n = len(idx)
    acc = float(correct[idx].mean()) if n else None
    sel = tpr = fpr = None
    if positive is not None and n:
        pred_pos = p[idx] == positive
        true_pos = t[idx] == positive
        sel = float(pred_pos.mean())
        tpr = float((pred_pos & true_pos).sum() / true_pos.sum()) if true_pos.any() else None
        neg = ~true_pos
        fpr = float((pred_pos & neg).sum() / neg.sum()) if neg.any() else None
    return CohortStats(combo, values, n, acc, sel, tpr, fpr)


def _gaps(combo: tuple[str, ...], stats: list[CohortStats]) -> CohortGaps:
    def spread(values: list[float | None]) -> float | None:
        present = [v for v in values if v is not None]
        return max(present) - min(present) if len(present) >= 2 else None

    tpr, fpr = spread([s.tpr for s in stats]), spread([s.fpr for s in stats])
    odds = (
        max(x for x in (tpr, fpr) if x is not None)
        if (tpr is not None or fpr is not None)
        else None
    )
    return CohortGaps(
        combo,
        len(stats),
        spread([s.accuracy for s in stats]),
        spread([s.selection_rate for s in stats]),
        odds,
    )


def _flag(
    stats: list[CohortStats], correct: np.ndarray, max_gap: float, alpha: float, min_size: int
) -> list[CohortStats]:
    """Mark cohorts significantly and materially worse than the rest of the data."""
    from dataclasses import replace

    total_n, total_ok = len(correct), float(correct.sum())
    tested = [s for s in stats if s.n >= min_size and total_n - s.n >= min_size]
    out = []
    for s in stats:
        if s not in tested or s.accuracy is None:
            out.append(s)
            continue
        rest_n = total_n - s.n
        rest_acc = (total_ok - s.accuracy * s.n) / rest_n
        p_value = _two_proportion_p(s.accuracy, s.n, rest_acc, rest_n)
        worse = rest_acc - s.accuracy >= max_gap and min(1.0, p_value * len(tested)) < alpha
        out.append(replace(s, p_value=p_value, flagged=worse))
    return out


def _two_proportion_p(p1: float, n1: int, p2: float, n2: int) -> float:
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0 if p1 == p2 else 0.0
    return math.erfc(abs(p1 - p2) / se / math.sqrt(2))
