"""The drift engine on generated data with known shifts, and on data that did not move."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from keel.exceptions import InvalidArgumentError
from keel.monitoring import DriftConfig, compare, profile


def _frame(
    rng: np.random.Generator,
    n: int,
    *,
    mean: float = 0.0,
    scale: float = 1.0,
    cats: tuple[str, ...] = ("a", "b", "c"),
    p: tuple[float, ...] | None = None,
    label_p: float = 0.5,
) -> dict[str, np.ndarray]:
    return {
        "x": rng.normal(mean, scale, n),
        "y": rng.normal(0.0, 1.0, n),
        "z": rng.exponential(2.0, n),
        "n_items": rng.poisson(3, n).astype(np.int64),
        "city": rng.choice(list(cats), size=n, p=p),
        "label": (rng.random(n) < label_p).astype(np.int64).astype(str),
    }


def test_mean_shift_is_detected_and_only_there() -> None:
    rng = np.random.default_rng(1)
    report = compare(_frame(rng, 5000), _frame(rng, 2000, mean=0.4))
    assert [f.column for f in report.drifted] == ["x"]
    x = report.feature("x")
    assert x.test == "ks" and x.p_adjusted is not None and x.p_adjusted < 1e-6
    assert x.effect is not None and x.effect > 0.1


def test_variance_change_is_detected() -> None:
    rng = np.random.default_rng(2)
    report = compare(_frame(rng, 5000), _frame(rng, 3000, scale=1.6))
    assert report.feature("x").drifted
    assert not report.feature("y").drifted


def test_new_category_is_reported_as_schema_issue_and_drift() -> None:
    rng = np.random.default_rng(3)
    report = compare(
        _frame(rng, 4000),
        _frame(rng, 2000, cats=("a", "b", "c", "d"), p=(0.3, 0.3, 0.25, 0.15)),
    )
    unseen = [s for s in report.schema if s.kind == "unseen_categories"]
    assert len(unseen) == 1 and unseen[0].column == "city"
    assert unseen[0].evidence["values"].keys() == {"d"}
    assert report.feature("city").drifted and report.feature("city").test == "chi2"


def test_label_shift_is_detected() -> None:
    rng = np.random.default_rng(4)
    report = compare(_frame(rng, 4000), _frame(rng, 2000, label_p=0.7))
    assert report.feature("label").drifted
    assert [f.column for f in report.drifted] == ["label"]


@pytest.mark.parametrize("correction", ["bh", "bonferroni"])
def test_unshifted_data_keeps_the_false_alarm_rate(correction: str) -> None:
    """200 trials of same-distribution samples: alerts in at most alpha (+ noise) of them."""
    rng = np.random.default_rng(5)
    alpha, trials = 0.05, 200
    config = DriftConfig(alpha=alpha, correction=correction)
    alarms = 0
    for _ in range(trials):
        report = compare(_frame(rng, 600), _frame(rng, 600), config)
        alarms += bool(report.drifted)
    tolerance = 3 * np.sqrt(alpha * (1 - alpha) / trials)
    assert alarms / trials <= alpha + tolerance, alarms


def test_uncorrected_tests_would_alarm_more_often() -> None:
    """The correction matters: without it, many columns produce more false alarms."""
    rng = np.random.default_rng(6)
    columns = 40
    alarms = {"none": 0, "bh": 0}
    for _ in range(60):
        ref = {f"c{i}": rng.normal(size=400) for i in range(columns)}
        cur = {f"c{i}": rng.normal(size=400) for i in range(columns)}
        for method in alarms:
            cfg = DriftConfig(correction=method, min_effect={"ks": 0.0})
            alarms[method] += bool(compare(ref, cur, cfg).drifted)
    assert alarms["none"] > 2 * alarms["bh"]


def test_effect_floor_keeps_huge_samples_from_flagging_trivial_shifts() -> None:
    rng = np.random.default_rng(7)
    ref = {"x": rng.normal(0, 1, 400_000)}
    cur = {"x": rng.normal(0.03, 1, 400_000)}
    report = compare(ref, cur)
    x = report.feature("x")
    assert x.p_value is not None and x.p_value < 1e-6  # significant ...
    assert not x.drifted  # ... but too small to matter
    assert compare(ref, cur, DriftConfig(min_effect={"ks": 0.0})).feature("x").drifted


@pytest.mark.parametrize(
    ("numeric", "categorical"),
    [("wasserstein", "jensenshannon"), ("psi", "psi"), ("ks", "chi2")],
)
def test_every_test_detects_a_clear_shift(numeric: str, categorical: str) -> None:
    rng = np.random.default_rng(8)
    cfg = DriftConfig(numeric_test=numeric, categorical_test=categorical)
    shifted = compare(_frame(rng, 4000), _frame(rng, 2000, mean=1.0, p=(0.6, 0.3, 0.1)), cfg)
    assert shifted.feature("x").drifted and shifted.feature("x").test == numeric
    assert shifted.feature("city").drifted and shifted.feature("city").test == categorical
    same = compare(_frame(rng, 4000), _frame(rng, 4000), cfg)
    assert not same.feature("x").drifted and not same.feature("city").drifted


def test_statistics_agree_with_scipy() -> None:
    from scipy import stats

    from keel.monitoring import _stats

    for x, dof in [(0.5, 1), (12.3, 4), (300.0, 250), (3.0, 10)]:
        assert _stats.chi2_sf(x, dof) == pytest.approx(stats.chi2.sf(x, dof), rel=1e-9)
    for lam in [0.3, 0.8, 1.17, 1.19, 2.5]:
        assert _stats.kolmogorov_sf(lam) == pytest.approx(stats.kstwobign.sf(lam), rel=1e-9)
    rng = np.random.default_rng(9)
    a, b = rng.normal(size=20_000), rng.normal(0.5, 1.3, 10_000)
    ks = compare({"v": a}, {"v": b}).feature("v")
    assert ks.statistic == pytest.approx(stats.ks_2samp(a, b).statistic, abs=0.01)
    cfg = DriftConfig(numeric_test="wasserstein")
    w = compare({"v": a}, {"v": b}, cfg).feature("v").statistic
    assert w == pytest.approx(stats.wasserstein_distance(a, b) / a.std(ddof=1), rel=0.02)


def test_bad_input_gives_clear_results_never_nan() -> None:
    rng = np.random.default_rng(10)
    ref = _frame(rng, 2000)
    ref["constant"] = np.full(2000, 5.0)
    ref["all_null"] = np.full(2000, np.nan)
    empty = {k: v[:0] for k, v in ref.items()}
    one = {k: v[:1] for k, v in ref.items()}
    nulls = {**{k: v[:500] for k, v in ref.items()}, "x": np.full(500, np.nan)}
    for current in (empty, one, nulls):
        report = compare(ref, current)
        text = json.dumps(report.to_dict(), allow_nan=False)  # raises on NaN or inf
        assert "NaN" not in text
        assert not report.drifted
    assert compare(ref, empty).feature("x").reason == "the current data is empty"
    assert "too few values" in compare(ref, one).feature("x").reason
    assert compare(ref, nulls).feature("x").status == "insufficient_data"
    assert compare(ref, ref).feature("all_null").reason == "the reference has no non-missing values"
    null_jump = [s for s in compare(ref, nulls).schema if s.kind == "null_rate_jump"]
    assert [(s.column, s.severity) for s in null_jump] == [("x", "error")]


def test_constant_columns_compare_cleanly() -> None:
    ref = {"k": np.full(1000, 3.0)}
    same = compare(ref, {"k": np.full(500, 3.0)}).feature("k")
    assert same.status == "ok" and same.statistic == 0.0
    moved = compare(ref, {"k": np.full(500, 4.0)})
    assert moved.feature("k").drifted and moved.feature("k").statistic == 1.0
    assert [s.kind for s in moved.schema] == ["out_of_range"]
    w = compare(ref, {"k": np.full(500, 4.0)}, DriftConfig(numeric_test="wasserstein"))
    assert w.feature("k").statistic == pytest.approx(1.0)  # no std to divide by: raw distance


def test_schema_checks_from_the_first_row() -> None:
    rng = np.random.default_rng(11)
    ref = pd.DataFrame(_frame(rng, 3000))
    first = pd.DataFrame(
        {"x": [1e6], "y": ["oops"], "city": ["atlantis"], "label": ["1"], "extra": [1]}
    )
    report = compare(ref, first)
    kinds = {(s.kind, s.column) for s in report.schema}
    assert ("out_of_range", "x") in kinds
    assert ("retyped_column", "y") in kinds
    assert ("unseen_categories", "city") in kinds
    assert ("new_column", "extra") in kinds
    assert {("missing_column", "z"), ("missing_column", "n_items")} <= kinds
    retyped = next(s for s in report.schema if s.kind == "retyped_column")
    assert retyped.severity == "error" and report.feature("y").status == "skipped"


def test_string_storage_is_no_type_change() -> None:
    """pandas 3 profiles text as large_string; the prediction log reads back string."""
    cities = ["paris", "oslo", "rome"] * 400
    ref = pa.table({"city": pa.array(cities, pa.large_string()), "n": pa.array([1] * 1200)})
    for typ in (pa.string(), pa.string_view(), pa.dictionary(pa.int32(), pa.string())):
        cur = pa.table({"city": pa.array(cities).cast(typ), "n": pa.array([1] * 1200)})
        report = compare(ref, cur)
        assert report.schema == [], (typ, report.schema)
        assert report.worst() is None and not report.fails("warning")
    cur = pa.table({"city": pa.array([1, 2, 3] * 400), "n": pa.array([1] * 1200)})
    retyped = [s for s in compare(ref, cur).schema if s.kind == "retyped_column"]
    assert [(s.column, s.severity) for s in retyped] == [("city", "error")]


def test_fail_levels() -> None:
    rng = np.random.default_rng(13)
    ref = pd.DataFrame(_frame(rng, 3000))
    assert not compare(ref, ref).fails("warning")
    broken = compare(ref, ref.drop(columns=["z"]))
    assert broken.worst() == "error" and broken.fails("error") and broken.fails("warning")
    with pytest.raises(InvalidArgumentError, match="fail level 'fatal' is unknown"):
        broken.fails("fatal")


def test_inputs_pandas_arrow_and_dicts_agree() -> None:
    rng = np.random.default_rng(12)
    ref, cur = _frame(rng, 3000), _frame(rng, 1000, mean=0.3)
    from_dicts = compare(ref, cur).to_dict()
    from_pandas = compare(pd.DataFrame(ref), pd.DataFrame(cur)).to_dict()
    from_arrow = compare(pa.table(ref), pa.table(cur)).to_dict()
    assert from_dicts["features"] == from_pandas["features"] == from_arrow["features"]


def test_config_rejects_unknown_names() -> None:
    with pytest.raises(InvalidArgumentError, match="numeric_test='t-test'"):
        DriftConfig(numeric_test="t-test")
    with pytest.raises(InvalidArgumentError, match="unknown drift setting"):
        DriftConfig.from_dict({"alfa": 0.1})
    with pytest.raises(InvalidArgumentError, match="column 'city' is categorical"):
        compare(
            {"city": ["a"] * 50}, {"city": ["b"] * 50}, DriftConfig(column_tests={"city": "ks"})
        )


def test_unsupported_input_names_itself() -> None:
    with pytest.raises(InvalidArgumentError, match="cannot profile a list"):
        profile([1, 2, 3])
