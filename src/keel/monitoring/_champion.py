"""Champion vs challenger on live traffic: agreement, quality difference, latency, verdict.

With shadow traffic both versions answered the *same* requests, so the comparison is
paired: agreement is the share of rows where they predicted the same, and the quality
difference is the mean of per-row differences (correct or not; absolute error for
regressors) with a normal 95% confidence interval. With a traffic split the requests
differ, so there is no agreement and the difference is unpaired.

The recommendation is ``promote`` only when enough labelled rows exist, the challenger is
not worse than the champion beyond ``margin`` at 95% confidence, it is not worse on
average, and its p95 latency is at most ``latency_tolerance`` times the champion's;
``keep_champion`` when it is significantly worse; otherwise ``inconclusive``.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from keel.config import Settings
from keel.exceptions import InvalidArgumentError
from keel.monitoring._feedback import read_feedback
from keel.monitoring._labels import canonical_array
from keel.monitoring._monitor_config import PerformanceSpec
from keel.monitoring._resources import latency_percentiles
from keel.store.eventlog import EventLog, Window
from keel.store.predlog import PREDICTIONS, read_window

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

Z95 = 1.959963984540054


@dataclass(frozen=True)
class VersionStats:
    version: str
    rows: int
    labelled: int
    metric: float | None
    latency_ms: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class ChampionChallenger:
    deployment: str
    window: str
    mode: str  # "shadow" (paired) or "split" (unpaired)
    metric: str
    champion: VersionStats
    challenger: VersionStats
    common_rows: int
    agreement: float | None
    difference: float | None  # challenger - champion, in "better" units (positive = better)
    ci_low: float | None
    ci_high: float | None
    recommendation: str
    reasons: list[str] = field(default_factory=list)

    @property
    def allows_promotion(self) -> bool:
        """What ``keel models promote`` gating checks."""
        return self.recommendation == "promote"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "allows_promotion": self.allows_promotion}


def compare_versions(
    settings: Settings,
    deployment: str,
    window: Window,
    *,
    champion: str | None = None,
    challenger: str | None = None,
    spec: PerformanceSpec | None = None,
    min_labels: int = 100,
    margin: float = 0.01,
    latency_tolerance: float = 1.25,
) -> ChampionChallenger:
    """Compare two versions serving ``deployment`` in ``window`` (detected when not given)."""
    spec = spec or PerformanceSpec()
    table = _window(settings, deployment, window, spec)
    champion, challenger = _pick(table, champion, challenger)
    labels = read_feedback(settings, deployment, columns=("request_id", "row", "label", "value"))
    a, b = _side(table, champion), _side(table, challenger)
    stats_a = _version_stats(champion, a, labels, spec)
    stats_b = _version_stats(challenger, b, labels, spec)
    if _shares_requests(a, b):
        mode = "shadow"
        common, agreement, diffs = _paired(a, b, labels, spec)
        diff, low, high = _mean_ci(diffs)
        labelled = len(diffs)
    else:
        mode, common, agreement = "split", 0, None
        diff, low, high = _unpaired(a, b, labels, spec)
        labelled = min(stats_a.labelled, stats_b.labelled)
    verdict, reasons = _recommend(
        labelled, diff, low, stats_a, stats_b, min_labels, margin, latency_tolerance
    )
    metric = "accuracy" if spec.task == "classification" else "mae"
    return ChampionChallenger(
        deployment,
        window.label,
        mode,
        metric,
        stats_a,
        stats_b,
        common,
        agreement,
        diff,
        low,
        high,
        verdict,
        reasons,
    )


def _window(settings: Settings, deployment: str, window: Window, spec: PerformanceSpec) -> pa.Table:
    log = EventLog(settings.artifacts_uri, PREDICTIONS)
    table = read_window(log, deployment, window, shadow=None)
    if table.num_rows == 0 or "version" not in table.column_names:
        raise InvalidArgumentError(
            f"no predictions of {deployment!r} in {window.label}; widen --window"
        )
    if spec.prediction not in table.column_names:
        raise InvalidArgumentError(
            f"output {spec.prediction!r} is not in the log of {deployment!r}; set the "
            f"monitor's prediction output (have {table.column_names})"
        )
    return table


def _pick(table: pa.Table, champion: str | None, challenger: str | None) -> tuple[str, str]:
    versions = table.column("version").cast("string").to_pylist()
    shadow = (
        table.column("shadow").to_pylist()
        if "shadow" in table.column_names
        else [False] * len(versions)
    )
    live = Counter(v for v, s in zip(versions, shadow, strict=True) if not s)
    shadows = Counter(v for v, s in zip(versions, shadow, strict=True) if s)
    known = set(versions)
    for name, value in (("champion", champion), ("challenger", challenger)):
        if value is not None and value not in known:
            raise InvalidArgumentError(
                f"{name} version {value!r} has no predictions here; have {sorted(known)}"
            )
    champion = champion or (live.most_common(1)[0][0] if live else None)
    if challenger is None:
        others = [v for v, _ in shadows.most_common() + live.most_common() if v != champion]
        challenger = others[0] if others else None
    if champion is None or challenger is None or champion == challenger:
        raise InvalidArgumentError(
            f"need two versions to compare; the log has {sorted(known)}. Run a challenger as a "
            "shadow or with a traffic split, or name both with --champion/--challenger"
        )
    return champion, challenger


def _side(table: pa.Table, version: str) -> pa.Table:
    import pyarrow.compute as pc

    return table.filter(pc.equal(table.column("version").cast("string"), version))


def _shares_requests(a: pa.Table, b: pa.Table) -> bool:
    ids = set(a.column("request_id").to_pylist())
    return any(r in ids for r in b.column("request_id").to_pylist())


def _version_stats(
    version: str, side: pa.Table, labels: pa.Table, spec: PerformanceSpec
) -> VersionStats:
    import numpy as np

    per_row = _per_row(side, labels, spec)
    first = (
        side.filter(side.column("row").to_numpy(zero_copy_only=False) == 0)
        if "row" in side.column_names
        else side
    )
    latency = latency_percentiles(
        first.column("latency_ms").to_numpy(zero_copy_only=False).astype(np.float64)
    )
    values = per_row[np.isfinite(per_row)]
    metric = float(values.mean()) if len(values) else None
    return VersionStats(version, side.num_rows, len(values), metric, latency)


def _per_row(side: pa.Table, labels: pa.Table, spec: PerformanceSpec) -> np.ndarray:
    """Per-row quality: 1/0 correct (classifiers) or absolute error (regressors); NaN unlabelled."""
    import numpy as np

    joined = side.select(["request_id", "row", spec.prediction]).join(
        labels, keys=["request_id", "row"], join_type="left outer"
    )
    joined = joined.sort_by([("request_id", "ascending"), ("row", "ascending")])
    truth = joined.column("label").to_pylist()
    pred = canonical_array(joined.column(spec.prediction))
    if spec.task == "classification":
        return np.array(
            [np.nan if t is None else float(t == p) for t, p in zip(truth, pred, strict=True)]
        )
    values = joined.column("value").to_numpy(zero_copy_only=False).astype(np.float64)
    guess = np.array([float(p) if p is not None else np.nan for p in pred])
    return np.abs(values - guess)


def _paired(
    a: pa.Table, b: pa.Table, labels: pa.Table, spec: PerformanceSpec
) -> tuple[int, float | None, np.ndarray]:
    import numpy as np

    keys = ["request_id", "row"]
    left = a.select([*keys, spec.prediction]).rename_columns([*keys, "pa"])
    right = b.select([*keys, spec.prediction]).rename_columns([*keys, "pb"])
    both = left.join(right, keys=keys, join_type="inner").join(
        labels, keys=keys, join_type="left outer"
    )
    pa_, pb_ = canonical_array(both.column("pa")), canonical_array(both.column("pb"))
    if spec.task == "classification":
        agreement = float(np.mean([x == y for x, y in zip(pa_, pb_, strict=True)])) if pa_ else None
        truth = both.column("label").to_pylist()
        diffs = np.array(
            [
                float(y == t) - float(x == t)
                for x, y, t in zip(pa_, pb_, truth, strict=True)
                if t is not None
            ]
        )
    else:
        xa = np.array([np.nan if x is None else float(x) for x in pa_], dtype=np.float64)
        xb = np.array([np.nan if y is None else float(y) for y in pb_], dtype=np.float64)
        scale = np.maximum(np.abs(xa), 1e-12)
        agreement = float(np.mean(np.abs(xa - xb) <= 0.01 * scale)) if len(xa) else None
        truth_v = both.column("value").to_numpy(zero_copy_only=False).astype(np.float64)
        ok = np.isfinite(truth_v)
        diffs = np.abs(truth_v - xa)[ok] - np.abs(truth_v - xb)[ok]  # positive = challenger better
    return both.num_rows, agreement, diffs


def _mean_ci(diffs: np.ndarray) -> tuple[float | None, float | None, float | None]:
    if len(diffs) < 2:
        return None, None, None
    mean = float(diffs.mean())
    se = float(diffs.std(ddof=1)) / math.sqrt(len(diffs))
    return mean, mean - Z95 * se, mean + Z95 * se


def _unpaired(
    a: pa.Table, b: pa.Table, labels: pa.Table, spec: PerformanceSpec
) -> tuple[float | None, float | None, float | None]:
    import numpy as np

    ra = _per_row(a, labels, spec)
    rb = _per_row(b, labels, spec)
    ra, rb = ra[np.isfinite(ra)], rb[np.isfinite(rb)]
    if len(ra) < 2 or len(rb) < 2:
        return None, None, None
    sign = 1.0 if spec.task == "classification" else -1.0  # lower error is better
    diff = sign * float(rb.mean() - ra.mean())
    se = math.sqrt(ra.var(ddof=1) / len(ra) + rb.var(ddof=1) / len(rb))
    return diff, diff - Z95 * se, diff + Z95 * se


def _recommend(
    labelled: int,
    diff: float | None,
    low: float | None,
    champion: VersionStats,
    challenger: VersionStats,
    min_labels: int,
    margin: float,
    latency_tolerance: float,
) -> tuple[str, list[str]]:
    reasons = []
    slow = _slower(champion, challenger, latency_tolerance)
    if slow:
        reasons.append(slow)
    if labelled < min_labels or diff is None or low is None:
        reasons.append(
            f"{labelled} labelled rows compared (need {min_labels}); feed back more labels"
        )
        return "inconclusive", reasons
    high = diff + (diff - low)
    if high < 0:
        reasons.append(
            f"the challenger is worse: difference {diff:+.4f} (95% CI {low:+.4f} .. {high:+.4f})"
        )
        return "keep_champion", reasons
    if low > -margin and diff >= 0 and not slow:
        reasons.append(
            f"the challenger is not worse: difference {diff:+.4f} "
            f"(95% CI {low:+.4f} .. {high:+.4f})"
        )
        return "promote", reasons
    reasons.append(f"difference {diff:+.4f} (95% CI {low:+.4f} .. {high:+.4f}) does not settle it")
    return "inconclusive", reasons


def _slower(champion: VersionStats, challenger: VersionStats, tolerance: float) -> str:
    a, b = champion.latency_ms.get("p95"), challenger.latency_ms.get("p95")
    if a is None or b is None or a <= 0 or b <= a * tolerance:
        return ""
    return (
        f"the challenger's p95 latency {b:.1f} ms is over {tolerance:g}x the champion's {a:.1f} ms"
    )


__all__ = ["ChampionChallenger", "VersionStats", "compare_versions"]
