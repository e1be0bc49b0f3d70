"""Drift between a reference and a current profile: one test per column, chosen by type.

Numbers: Kolmogorov-Smirnov (default), normalised Wasserstein or PSI. Categories:
chi-square (default), Jensen-Shannon or PSI. P-values are corrected for the number of
columns tested, and a p-value test also needs a minimum effect, so that a huge sample does
not flag a trivial shift. A column with too little data gets ``insufficient_data`` and no
score: a score is never NaN.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from keel.exceptions import InvalidArgumentError
from keel.monitoring._checks import SchemaIssue, schema_issues
from keel.monitoring._config import PVALUE_TESTS, DriftConfig
from keel.monitoring._profile import (
    CategoricalProfile,
    ColumnProfile,
    DatasetProfile,
    NumericProfile,
    profile,
)
from keel.monitoring._rebin import aligned_counts

if TYPE_CHECKING:
    import numpy as np

DRIFT, OK, INSUFFICIENT, SKIPPED = "drift", "ok", "insufficient_data", "skipped"


@dataclass(frozen=True, slots=True)
class FeatureDrift:
    """The verdict on one column. ``statistic`` is None unless the test could run."""

    column: str
    kind: str
    test: str
    status: str
    statistic: float | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    threshold: float | None = None
    effect: float | None = None
    min_effect: float | None = None
    n_reference: int = 0
    n_current: int = 0
    reason: str = ""

    @property
    def drifted(self) -> bool:
        return self.status == DRIFT


@dataclass(frozen=True)
class DriftReport:
    """Drift per column plus schema issues, for one reference and one current sample."""

    features: list[FeatureDrift]
    schema: list[SchemaIssue]
    n_reference: int
    n_current: int
    config: DriftConfig = field(default_factory=DriftConfig)

    @property
    def drifted(self) -> list[FeatureDrift]:
        return [f for f in self.features if f.drifted]

    @property
    def tested(self) -> list[FeatureDrift]:
        return [f for f in self.features if f.status in (DRIFT, OK)]

    @property
    def drift_share(self) -> float:
        tested = self.tested
        return len(self.drifted) / len(tested) if tested else 0.0

    @property
    def dataset_drift(self) -> bool:
        return bool(self.tested) and self.drift_share >= self.config.drift_share

    def worst(self) -> str | None:
        """``error`` (a schema error, or drift over the dataset share), ``warning`` (any
        other finding) or None when nothing was found."""
        if self.dataset_drift or any(s.severity == "error" for s in self.schema):
            return "error"
        if self.drifted or self.schema:
            return "warning"
        return None

    def fails(self, level: str) -> bool:
        """Whether a finding reaches ``level`` (error | warning): the CI gate's answer."""
        if level not in ("error", "warning"):
            raise InvalidArgumentError(f"fail level {level!r} is unknown; use error or warning")
        worst = self.worst()
        return worst == "error" or (level == "warning" and worst == "warning")

    def feature(self, column: str) -> FeatureDrift:
        for f in self.features:
            if f.column == column:
                return f
        raise KeyError(column)

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "drift_share": self.drift_share,
            "dataset_drift": self.dataset_drift,
            "drifted_columns": [f.column for f in self.drifted],
            "features": [asdict(f) for f in self.features],
            "schema": [asdict(s) for s in self.schema],
            "config": self.config.to_dict(),
        }


def compare(
    reference: Any,
    current: Any,
    config: DriftConfig | None = None,
    *,
    columns: list[str] | None = None,
) -> DriftReport:
    """Drift between two tables (DataFrames, Arrow tables, dicts of arrays) or profiles.

    This is the function ``keel datasets diff --drift`` calls with two dataset versions.
    """
    config = config or DriftConfig()
    ref = (
        reference if isinstance(reference, DatasetProfile) else profile(reference, columns=columns)
    )
    cur = (
        current
        if isinstance(current, DatasetProfile)
        else profile(current, like=ref, columns=columns)
    )
    return compare_profiles(ref, cur, config)


def compare_profiles(
    reference: DatasetProfile, current: DatasetProfile, config: DriftConfig | None = None
) -> DriftReport:
    """Drift and schema checks of ``current`` against ``reference``."""
    config = config or DriftConfig()
    ignored = set(config.ignore_columns)
    features: list[FeatureDrift] = []
    for name, ref_col in reference.columns.items():
        cur_col = current.columns.get(name)
        if name in ignored or cur_col is None:
            continue
        features.append(_test_column(ref_col, cur_col, config))
    features = _correct(features, config)
    issues = schema_issues(reference, current, config)
    return DriftReport(features, issues, reference.num_rows, current.num_rows, config)


def _test_column(ref: ColumnProfile, cur: ColumnProfile, config: DriftConfig) -> FeatureDrift:
    if ref.kind != cur.kind:
        reason = f"type changed from {ref.dtype} ({ref.kind}) to {cur.dtype} ({cur.kind})"
        return FeatureDrift(ref.name, ref.kind, "-", SKIPPED, reason=reason)
    if ref.kind == "other":
        return FeatureDrift(
            ref.name, ref.kind, "-", SKIPPED, reason=f"no drift test for type {ref.dtype}"
        )
    test = config.test_for(ref.name, ref.kind)
    base = FeatureDrift(
        ref.name, ref.kind, test, INSUFFICIENT, n_reference=ref.count, n_current=cur.count
    )
    short = _insufficient(ref, cur, config.min_count)
    if short:
        return _replace(base, reason=short)
    if isinstance(ref, NumericProfile) and isinstance(cur, NumericProfile):
        stat, p_value, effect = _numeric_test(test, ref, cur)
    else:
        assert isinstance(ref, CategoricalProfile) and isinstance(cur, CategoricalProfile)
        stat, p_value, effect = _categorical_test(test, ref, cur)
    if test in PVALUE_TESTS:
        return _replace(
            base,
            status=OK,
            statistic=stat,
            p_value=p_value,
            effect=effect,
            threshold=config.alpha,
            min_effect=config.effect_floor(test),
        )
    threshold = config.threshold(test)
    status = DRIFT if stat >= threshold else OK
    return _replace(base, status=status, statistic=stat, effect=stat, threshold=threshold)


def _insufficient(ref: ColumnProfile, cur: ColumnProfile, min_count: int) -> str:
    if ref.count == 0:
        return "the reference has no non-missing values"
    if cur.count == 0:
        what = "is empty" if cur.nulls == 0 else "has only missing values"
        return f"the current data {what}"
    if ref.count < min_count or cur.count < min_count:
        return (
            f"too few values to test: {ref.count} in the reference and {cur.count} now "
            f"(need {min_count} on each side)"
        )
    return ""


def _numeric_test(
    test: str, ref: NumericProfile, cur: NumericProfile
) -> tuple[float, float | None, float]:
    from keel.monitoring import _stats

    r, c, cur_tails = ref.counts, aligned_counts(ref, cur), cur.tail_sums
    if test == "ks":
        d = _stats.ks_statistic(r, c)
        return d, _stats.ks_pvalue(d, int(r.sum()), int(c.sum())), d
    if test == "wasserstein":
        distance = _stats.wasserstein(ref.edges, r, c, ref.tail_sums, cur_tails)
        scale = ref.std or cur.std or 1.0
        value = distance / scale
        return value, None, value
    groups = _stats.coarsen(r)
    value = _stats.psi(_group(r, groups), _group(c, groups))
    return value, None, value


def _group(counts: np.ndarray, groups: np.ndarray) -> np.ndarray:
    import numpy as np

    return np.bincount(groups, weights=counts, minlength=int(groups.max()) + 1)


def _categorical_test(
    test: str, ref: CategoricalProfile, cur: CategoricalProfile
) -> tuple[float, float | None, float]:
    from keel.monitoring import _stats

    r, c = category_vectors(ref, cur)
    if test == "chi2":
        stat, dof = _stats.chi2_homogeneity(r, c)
        return stat, _stats.chi2_sf(stat, dof), _stats.js_distance(r, c)
    if test == "jensenshannon":
        value = _stats.js_distance(r, c)
        return value, None, value
    value = _stats.psi(r, c)
    return value, None, value


def category_vectors(
    ref: CategoricalProfile, cur: CategoricalProfile
) -> tuple[np.ndarray, np.ndarray]:
    """Counts of both over the union of their categories, folded extras last."""
    import numpy as np

    keys = list(ref.categories) + [k for k in cur.categories if k not in ref.categories]
    r = np.array([ref.categories.get(k, 0) for k in keys] + [ref.other], dtype=np.float64)
    c = np.array([cur.categories.get(k, 0) for k in keys] + [cur.other], dtype=np.float64)
    return r, c


def _correct(features: list[FeatureDrift], config: DriftConfig) -> list[FeatureDrift]:
    """Adjust the p-values of the columns tested together, then decide drift."""
    from keel.monitoring._stats import adjust_pvalues

    tested = [i for i, f in enumerate(features) if f.p_value is not None]
    pvalues = [p if (p := features[i].p_value) is not None else 1.0 for i in tested]
    adjusted = adjust_pvalues(pvalues, config.correction)
    out = list(features)
    for i, p_adj in zip(tested, adjusted, strict=True):
        f = features[i]
        big_enough = (f.effect or 0.0) >= (f.min_effect or 0.0)
        status = DRIFT if p_adj < config.alpha and big_enough else OK
        out[i] = _replace(f, p_adjusted=p_adj, status=status)
    return out


def _replace(f: FeatureDrift, **changes: Any) -> FeatureDrift:
    from dataclasses import replace

    return replace(f, **changes)
