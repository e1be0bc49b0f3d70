"""How good and how private synthetic data is, measured against the real rows.

- **Fidelity**: per-column KS statistic (numbers, times) or total-variation distance
  (categories); the mean absolute difference of the association matrices (the same
  |Spearman| / Cramér's V / correlation ratio as exploration reports); a discriminator's AUC
  (gradient boosting telling real from synthetic, 3-fold; 0.5 = indistinguishable).
- **Utility** (with a target): a model trained on synthetic rows and one trained on the real
  fit rows, both tested on the real holdout rows (AUC, accuracy or R²).
- **Privacy**: distance to closest record (DCR) from synthetic rows to the fit rows, compared
  with the same distance from unseen holdout rows (ratio < 1: synthetic rows sit closer to
  the training rows than new real rows do); the share of exact copies; the nearest-neighbour
  distance ratio (NNDR); a membership-inference attack that scores each real row by its
  distance to the nearest synthetic row and tries to tell fit rows from holdout rows (AUC
  0.5 = no better than chance).

Distances are Euclidean over standardised numbers and one-hot top categories (a differing
category counts 1), on samples of at most ``max_rows`` rows per side (stated in the report).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

TOP_LEVELS = 20


@dataclass(frozen=True)
class PrivacyGate:
    """Thresholds a synthetic version must meet to be written without ``allow_risky``."""

    max_membership_auc: float = 0.6
    max_copy_rate: float = 0.01
    min_dcr_ratio: float = 0.5

    def check(self, privacy: dict[str, Any]) -> list[str]:
        """The reasons the gate fails (empty: it passes)."""
        if privacy.get("membership_auc") is None:
            return ["privacy could not be measured (no holdout rows); fit with holdout > 0"]
        failures = []
        if privacy["membership_auc"] > self.max_membership_auc:
            failures.append(
                f"membership-inference AUC {privacy['membership_auc']:.3f} > "
                f"{self.max_membership_auc}"
            )
        if privacy["copy_rate"] > self.max_copy_rate:
            failures.append(
                f"{privacy['copy_rate']:.1%} of synthetic rows copy a real row "
                f"(limit {self.max_copy_rate:.1%})"
            )
        if privacy["dcr_ratio"] is not None and privacy["dcr_ratio"] < self.min_dcr_ratio:
            failures.append(
                f"synthetic rows sit {privacy['dcr_ratio']:.2f}x as far from real rows as "
                f"unseen real rows do (minimum {self.min_dcr_ratio})"
            )
        return failures


def synth_report(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synth: pd.DataFrame,
    kinds: dict[str, str],
    *,
    target: str | None = None,
    gate: PrivacyGate | None = None,
    max_rows: int = 5000,
    seed: int = 0,
) -> dict[str, Any]:
    """Fidelity, utility and privacy of ``synth`` against the real ``train``/``holdout`` rows."""
    import sklearn.ensemble  # noqa: F401  (loads OpenMP before its threads are limited)
    from threadpoolctl import threadpool_limits

    # One OpenMP thread: on a busy machine gradient boosting's thread pool spins for minutes.
    with threadpool_limits(limits=1):
        return _report(train, holdout, synth, kinds, target, gate or PrivacyGate(), max_rows, seed)


def _report(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synth: pd.DataFrame,
    kinds: dict[str, str],
    target: str | None,
    gate: PrivacyGate,
    max_rows: int,
    seed: int,
) -> dict[str, Any]:
    cols = [c for c, k in kinds.items() if k in ("numeric", "datetime", "categorical")]
    tr, ho, sy = (_cap(f, max_rows * 4, seed) for f in (train, holdout, synth))
    enc = _Encoder(tr, cols, kinds)
    privacy = _privacy(enc, tr, ho, sy, max_rows, seed)
    report: dict[str, Any] = {
        "rows": {
            "fit": len(train),
            "holdout": len(holdout),
            "synthetic": len(synth),
            "compared_at_most": max_rows,
        },
        "fidelity": _fidelity(enc, tr, sy, cols, kinds, max_rows, seed),
        "utility": _utility(tr, ho, sy, cols, kinds, target, seed) if target else None,
        "privacy": privacy,
        "gate": {**asdict(gate), "failures": gate.check(privacy)},
    }
    report["gate"]["passed"] = not report["gate"]["failures"]
    return report


def _cap(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    return frame.sample(rows, random_state=seed) if len(frame) > rows else frame


class _Encoder:
    """Numbers standardised by the fit rows; top categories one-hot scaled by 1/sqrt(2)."""

    def __init__(self, ref: pd.DataFrame, cols: list[str], kinds: dict[str, str]) -> None:
        self.cols, self.kinds = cols, kinds
        self.stats: dict[str, tuple[float, float]] = {}
        self.levels: dict[str, list[Any]] = {}
        for c in cols:
            if kinds[c] == "categorical":
                self.levels[c] = list(ref[c].value_counts().index[:TOP_LEVELS])
            else:
                x = _floats(ref[c])
                mean, std = float(_nanmean(x)), float(_nanstd(x))
                self.stats[c] = (mean, std if std > 0 else 1.0)

    def __call__(self, frame: pd.DataFrame) -> np.ndarray:
        import numpy as np

        parts = []
        for c in self.cols:
            if c in self.levels:
                values = frame[c].to_numpy(dtype=object)
                onehot = (
                    np.stack([values == lv for lv in self.levels[c]], axis=1)
                    if (self.levels[c])
                    else np.zeros((len(frame), 0))
                )
                parts.append(onehot.astype(np.float64) / np.sqrt(2))
            else:
                mean, std = self.stats[c]
                x = (_floats(frame[c]) - mean) / std
                parts.append(np.nan_to_num(x, nan=0.0)[:, None])
        return np.hstack(parts) if parts else np.zeros((len(frame), 0))


def _floats(col: pd.Series) -> np.ndarray:
    import numpy as np
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(col):
        if getattr(col.dt, "tz", None) is not None:
            col = col.dt.tz_convert(None)
        out = col.astype("int64").to_numpy(dtype=np.float64)
        out[col.isna().to_numpy()] = np.nan
        return out
    return col.to_numpy(dtype=np.float64, na_value=np.nan)


def _nanmean(x: np.ndarray) -> float:
    import numpy as np

    return float(np.nanmean(x)) if np.isfinite(x).any() else 0.0


def _nanstd(x: np.ndarray) -> float:
    import numpy as np

    return float(np.nanstd(x)) if np.isfinite(x).sum() > 1 else 1.0


def _ks(a: np.ndarray, b: np.ndarray) -> float | None:
    """Two-sample Kolmogorov-Smirnov statistic (no scipy.stats import)."""
    import numpy as np

    a, b = np.sort(a[np.isfinite(a)]), np.sort(b[np.isfinite(b)])
    if not len(a) or not len(b):
        return None
    grid = np.concatenate([a, b])
    fa = np.searchsorted(a, grid, side="right") / len(a)
    fb = np.searchsorted(b, grid, side="right") / len(b)
    return round(float(np.abs(fa - fb).max()), 4)


def _tv(a: pd.Series, b: pd.Series) -> float | None:
    pa_, pb_ = a.value_counts(normalize=True), b.value_counts(normalize=True)
    if not len(pa_) or not len(pb_):
        return None
    both = pa_.index.union(pb_.index)
    diff = (pa_.reindex(both, fill_value=0) - pb_.reindex(both, fill_value=0)).abs().sum()
    return round(float(diff) / 2, 4)


def _fidelity(
    enc: _Encoder,
    real: pd.DataFrame,
    synth: pd.DataFrame,
    cols: list[str],
    kinds: dict[str, str],
    max_rows: int,
    seed: int,
) -> dict[str, Any]:
    marginals: dict[str, dict[str, Any]] = {}
    for c in cols:
        if kinds[c] == "categorical":
            marginals[c] = {"stat": "tv", "value": _tv(real[c], synth[c])}
        else:
            marginals[c] = {"stat": "ks", "value": _ks(_floats(real[c]), _floats(synth[c]))}
    values = [m["value"] for m in marginals.values() if m["value"] is not None]
    r, s = _cap(real, max_rows, seed), _cap(synth, max_rows, seed)
    return {
        "marginals": marginals,
        "marginal_score": round(1 - sum(values) / len(values), 4) if values else None,
        "correlation_difference": _correlation_difference(real, r, s, cols, kinds),
        "discriminator_auc": _discriminator(enc, r, s, seed),
    }


def _correlation_difference(
    real: pd.DataFrame, r: pd.DataFrame, s: pd.DataFrame, cols: list[str], kinds: dict[str, str]
) -> float | None:
    """How far apart the pairwise associations of the capped samples ``r`` (real) and ``s``
    (synthetic) are; which columns qualify is judged on the whole of ``real``."""
    from keel.data._explore_assoc import associations

    usable = [c for c in cols if kinds[c] != "datetime"]
    variables = {
        c: {
            "kind": "numeric" if kinds[c] == "numeric" else "categorical",
            "count": int(real[c].notna().sum()),
            "distinct": int(real[c].nunique()),
        }
        for c in usable
    }
    a = associations(r[usable], usable, variables)
    b = associations(s[usable], usable, variables)
    diffs = []
    for i in range(len(a["columns"])):
        for j in range(i + 1, len(a["columns"])):
            x, y = a["association"][i][j], b["association"][i][j]
            if x is not None and y is not None:
                diffs.append(abs(x - y))
    return round(sum(diffs) / len(diffs), 4) if diffs else None


def _discriminator(enc: _Encoder, r: pd.DataFrame, s: pd.DataFrame, seed: int) -> float | None:
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import cross_val_score

    if min(len(r), len(s)) < 20:
        return None
    x = np.vstack([enc(r), enc(s)])
    y = np.r_[np.zeros(len(r)), np.ones(len(s))]
    model = HistGradientBoostingClassifier(max_iter=40, random_state=seed)
    return round(float(cross_val_score(model, x, y, cv=3, scoring="roc_auc").mean()), 4)


def _utility(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synth: pd.DataFrame,
    cols: list[str],
    kinds: dict[str, str],
    target: str,
    seed: int,
) -> dict[str, Any]:
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.metrics import accuracy_score, r2_score, roc_auc_score

    if target not in kinds or target not in cols:
        return {"note": f"target {target!r} is not a column the model generates"}
    if len(holdout) < 10:
        return {"note": "fewer than 10 holdout rows; fit with a larger holdout"}
    features = [c for c in cols if c != target]
    enc = _Encoder(train, features, kinds)
    y_tr, y_sy, y_ho = train[target], synth[target], holdout[target]
    classes = y_tr.dropna().unique()
    classify = kinds[target] == "categorical" or len(classes) <= 10
    keep = [f[target].notna().to_numpy() for f in (train, synth, holdout)]
    x_tr, x_sy, x_ho = (enc(f)[k] for f, k in zip((train, synth, holdout), keep, strict=True))
    y_tr, y_sy, y_ho = (
        y[k].astype(str if classify else float).to_numpy()
        for y, k in zip((y_tr, y_sy, y_ho), keep, strict=True)
    )
    scores: dict[str, float | None] = {}
    metric = "auc"
    for label, x, y in (("train_real", x_tr, y_tr), ("train_synthetic", x_sy, y_sy)):
        if classify:
            if len(np.unique(y)) < 2:
                scores[label] = None
                continue
            model = HistGradientBoostingClassifier(max_iter=60, random_state=seed).fit(x, y)
            if len(classes) == 2 and set(np.unique(y_ho)) <= set(model.classes_):
                proba = model.predict_proba(x_ho)[:, 1]
                scores[label] = round(float(roc_auc_score(y_ho == model.classes_[1], proba)), 4)
                metric = "auc"
            else:
                scores[label] = round(float(accuracy_score(y_ho, model.predict(x_ho))), 4)
                metric = "accuracy"
        else:
            model = HistGradientBoostingRegressor(max_iter=60, random_state=seed).fit(x, y)
            scores[label] = round(float(r2_score(y_ho, model.predict(x_ho))), 4)
            metric = "r2"
    real, syn = scores.get("train_real"), scores.get("train_synthetic")
    ratio = round(syn / real, 4) if real and syn is not None else None
    return {"target": target, "metric": metric, **scores, "ratio": ratio}


def _privacy(
    enc: _Encoder,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synth: pd.DataFrame,
    max_rows: int,
    seed: int,
) -> dict[str, Any]:
    import numpy as np
    from sklearn.metrics import roc_auc_score
    from sklearn.neighbors import NearestNeighbors

    x_tr = enc(train)
    s = enc(_cap(synth, max_rows, seed))
    nn_train = NearestNeighbors(n_neighbors=2).fit(x_tr)
    d, _ = nn_train.kneighbors(s)
    dcr, nndr = d[:, 0], d[:, 0] / np.maximum(d[:, 1], 1e-12)
    out: dict[str, Any] = {
        "dcr_median": round(float(np.median(dcr)), 4),
        "dcr_p5": round(float(np.percentile(dcr, 5)), 4),
        "copy_rate": round(float((dcr < 1e-8).mean()), 4),
        "nndr_median": round(float(np.median(nndr)), 4),
        "dcr_ratio": None,
        "membership_auc": None,
    }
    if len(holdout) < 10:
        return out
    h = enc(_cap(holdout, max_rows, seed))
    dh, _ = nn_train.kneighbors(h, n_neighbors=1)
    base = float(np.median(dh[:, 0]))
    out["dcr_holdout_median"] = round(base, 4)
    out["dcr_ratio"] = round(float(np.median(dcr)) / base, 4) if base > 0 else None
    members = enc(_cap(train, len(h), seed + 1))
    nn_syn = NearestNeighbors(n_neighbors=1).fit(enc(_cap(synth, max_rows * 4, seed)))
    dm, _ = nn_syn.kneighbors(members)
    dn, _ = nn_syn.kneighbors(h)
    labels = np.r_[np.ones(len(dm)), np.zeros(len(dn))]
    out["membership_auc"] = round(float(roc_auc_score(labels, -np.r_[dm[:, 0], dn[:, 0]])), 4)
    return out
