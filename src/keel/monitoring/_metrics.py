"""Model quality from labels, and estimated from confidence before labels arrive (CBPE).

Metrics are plain NumPy over canonical labels (see :mod:`._labels`): accuracy, precision,
recall and F1 (of the positive class for two classes, macro-averaged for more) for
classifiers; MAE, RMSE and R² for regressors. A metric whose denominator is zero is None,
never NaN.

Confidence-based performance estimation (as NannyML's CBPE): with a calibrated
probability ``p`` that a row is positive, the expected confusion matrix of a window is
the sum of ``p`` and ``1 - p`` over the rows predicted positive and negative, and every
metric follows from it. Scores are calibrated on labelled reference data by histogram
binning made monotone (pool adjacent violators).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1")
REGRESSION_METRICS = ("mae", "rmse", "r2")


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def classification_metrics(
    y_true: Sequence[str | None], y_pred: Sequence[str | None], positive: str | None = None
) -> dict[str, float | None]:
    """Accuracy and positive-class (or macro) precision, recall and F1; rows with a missing
    label or prediction are left out."""
    import numpy as np

    pairs = [(t, p) for t, p in zip(y_true, y_pred, strict=True) if t is not None and p is not None]
    if not pairs:
        return {m: None for m in CLASSIFICATION_METRICS}
    t = np.array([a for a, _ in pairs], dtype=object)
    p = np.array([b for _, b in pairs], dtype=object)
    out: dict[str, float | None] = {"accuracy": float(np.mean(t == p))}
    classes = sorted(set(t.tolist()) | set(p.tolist()))
    if positive is not None or len(classes) <= 2:
        pos = positive if positive is not None else (classes[-1] if classes else "1")
        out.update(_prf(t == pos, p == pos))
        return out
    per_class = [_prf(t == c, p == c) for c in classes]
    for name in ("precision", "recall", "f1"):
        values = [v for m in per_class if (v := m[name]) is not None]
        out[name] = float(np.mean(values)) if values else None
    return out


def _prf(is_true: np.ndarray, is_pred: np.ndarray) -> dict[str, float | None]:
    tp = float((is_true & is_pred).sum())
    precision = _ratio(tp, float(is_pred.sum()))
    recall = _ratio(tp, float(is_true.sum()))
    f1 = None
    if precision is not None and recall is not None:
        f1 = _ratio(2 * precision * recall, precision + recall) or 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float | None]:
    import numpy as np

    ok = np.isfinite(y_true) & np.isfinite(y_pred)
    t, p = y_true[ok], y_pred[ok]
    if len(t) == 0:
        return {m: None for m in REGRESSION_METRICS}
    err = t - p
    ss_tot = float(np.sum((t - t.mean()) ** 2))
    r2 = 1.0 - float(np.sum(err**2)) / ss_tot if ss_tot > 0 else None
    return {"mae": float(np.mean(np.abs(err))), "rmse": math.sqrt(float(np.mean(err**2))), "r2": r2}


def higher_is_better(metric: str) -> bool:
    return metric not in ("mae", "rmse")


# -- confidence-based estimation ------------------------------------------------------------


@dataclass(frozen=True)
class Calibration:
    """A monotone map from score to P(positive): ``rates[i]`` for scores up to ``edges[i]``."""

    edges: list[float]
    rates: list[float]

    def apply(self, scores: np.ndarray) -> np.ndarray:
        import numpy as np

        idx = np.searchsorted(np.asarray(self.edges), scores, side="left")
        idx = np.minimum(idx, len(self.rates) - 1)
        return np.asarray(self.rates)[idx]

    def to_dict(self) -> dict[str, list[float]]:
        return {"edges": list(self.edges), "rates": list(self.rates)}


def fit_calibration(
    scores: np.ndarray, is_positive: np.ndarray, bins: int = 20
) -> Calibration | None:
    """Histogram binning on score quantiles, made monotone; None without both classes."""
    import numpy as np

    ok = np.isfinite(scores)
    s, y = scores[ok], is_positive[ok].astype(np.float64)
    if len(s) < 2 * bins or y.min() == y.max():
        return None
    edges = np.unique(np.quantile(s, np.linspace(0, 1, bins + 1)[1:]))
    idx = np.minimum(np.searchsorted(edges, s, side="left"), len(edges) - 1)
    counts = np.bincount(idx, minlength=len(edges)).astype(np.float64)
    sums = np.bincount(idx, weights=y, minlength=len(edges))
    keep = counts > 0
    rates = _pav(sums[keep] / counts[keep], counts[keep])
    return Calibration([float(e) for e in edges[keep]], [float(r) for r in rates])


def _pav(values: np.ndarray, weights: np.ndarray) -> list[float]:
    """Pool adjacent violators: the closest non-decreasing sequence (weighted)."""
    blocks: list[list[float]] = []  # [value, weight, length]
    for v, w in zip(values.tolist(), weights.tolist(), strict=True):
        blocks.append([v, w, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, n2 = blocks.pop()
            v1, w1, n1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    out: list[float] = []
    for v, _w, n in blocks:
        out.extend([v] * int(n))
    return out


def estimate_classification(
    predicted_positive: np.ndarray, p_positive: np.ndarray
) -> dict[str, float | None]:
    """Expected accuracy, precision, recall and F1 from probabilities (binary), plus the
    standard error of the accuracy estimate (``accuracy_se``)."""
    import numpy as np

    ok = np.isfinite(p_positive)
    pred, p = predicted_positive[ok], np.clip(p_positive[ok], 0.0, 1.0)
    n = len(p)
    if n == 0:
        return {**{m: None for m in CLASSIFICATION_METRICS}, "accuracy_se": None}
    tp = float(p[pred].sum())
    fp = float((1 - p[pred]).sum())
    fn = float(p[~pred].sum())
    tn = float((1 - p[~pred]).sum())
    correct = np.where(pred, p, 1 - p)
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    f1 = None
    if precision is not None and recall is not None:
        f1 = _ratio(2 * precision * recall, precision + recall) or 0.0
    return {
        "accuracy": (tp + tn) / n,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "accuracy_se": math.sqrt(float(np.sum(correct * (1 - correct)))) / n,
    }


def estimate_multiclass_accuracy(p_predicted: np.ndarray) -> dict[str, float | None]:
    """Expected accuracy when each row carries the probability of the class it predicted."""
    import numpy as np

    p = p_predicted[np.isfinite(p_predicted)]
    if len(p) == 0:
        return {"accuracy": None, "accuracy_se": None}
    n = len(p)
    return {"accuracy": float(p.mean()), "accuracy_se": math.sqrt(float(np.sum(p * (1 - p)))) / n}
