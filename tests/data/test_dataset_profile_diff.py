"""Profiles are right on data whose answers are known; diffs report real changes, not noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from keel.data import DatasetClient, DiffThresholds
from keel.data._profile import profile_of


def test_numeric_profile_matches_known_values() -> None:
    table = pa.table({"x": pa.array([1.0, 2.0, 3.0, 4.0, None, float("nan"), 5.0, 5.0, 5.0, 10.0])})
    p = profile_of(table)["columns"]["x"]
    values = np.array([1, 2, 3, 4, 5, 5, 5, 10], dtype=float)
    assert (p["count"], p["nulls"], p["null_rate"], p["distinct"]) == (8, 2, 0.2, 6)
    assert (p["min"], p["max"]) == (1.0, 10.0)
    assert p["mean"] == pytest.approx(values.mean())
    assert p["std"] == pytest.approx(values.std(ddof=1))
    expected = np.percentile(values, [5, 25, 50, 75, 95])
    assert [p["quantiles"][k] for k in ("p5", "p25", "p50", "p75", "p95")] == pytest.approx(
        expected
    )


def test_categorical_temporal_and_edge_profiles() -> None:
    table = pa.table(
        {
            "city": ["a", "b", "a", None, "a", "c"],
            "flag": [True, False, True, True, None, True],
            "day": pa.array([0, 1, 2, 3, 4, 5], pa.int32()).cast(pa.date32()),
            "ids": ["u1", "u2", "u3", "u4", "u5", "u6"],
            "cat": pd.Categorical(["x", "y", "x", "x", "y", "x"]),
            "n": pa.array([7, 7, 7, 7, 7, 7], pa.int64()),
        }
    )
    cols = profile_of(table)["columns"]
    assert cols["city"]["top"] == [
        {"value": "a", "count": 3},
        {"value": "b", "count": 1},
        {"value": "c", "count": 1},
    ]
    assert (cols["city"]["distinct"], cols["city"]["nulls"]) == (3, 1)
    assert cols["flag"]["top"][0] == {"value": True, "count": 4}
    assert (cols["day"]["min"], cols["day"]["max"]) == ("1970-01-01", "1970-01-06")
    assert cols["ids"]["top"] == [] and cols["ids"]["distinct"] == 6  # unique: no "top"
    assert cols["cat"]["top"][0] == {"value": "x", "count": 4}
    assert (cols["n"]["std"], cols["n"]["distinct"], cols["n"]["mean"]) == (0.0, 1, 7.0)


def test_empty_and_all_null_columns() -> None:
    p = profile_of(pa.table({"x": pa.array([None, None], pa.float64()), "s": [None, None]}))
    assert p["columns"]["x"]["mean"] is None and p["columns"]["x"]["null_rate"] == 1.0
    empty = profile_of(pa.table({"x": pa.array([], pa.int64())}))
    assert empty["num_rows"] == 0 and empty["columns"]["x"]["null_rate"] == 0.0


def test_profile_of_a_million_rows() -> None:
    # Correct at scale; its speed is measured in benchmarks/, not asserted here.
    n = 1_000_000
    rng = np.random.default_rng(0)
    table = pa.table(
        {
            "f": rng.normal(size=n),
            "i": rng.integers(0, 1000, n),
            "s": rng.choice([f"c{k}" for k in range(50)], n),
            "u": pa.array([f"id{k}" for k in range(n)]),
        }
    )
    cols = profile_of(table)["columns"]
    assert cols["u"]["distinct"] == n and cols["i"]["distinct"] == 1000
    assert cols["s"]["distinct"] == 50 and cols["f"]["null_rate"] == 0.0


def base(n: int = 5000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "plan": rng.choice(["free", "pro", "team"], n, p=[0.6, 0.3, 0.1]),
            "score": rng.integers(0, 100, n),
        }
    )


def test_diff_finds_schema_and_stat_changes(datasets: DatasetClient) -> None:
    before = base()
    datasets.log("users", before)
    after = before.drop(columns=["score"]).assign(
        age=before["age"] + 5,  # half a standard deviation
        plan=np.where(before["plan"] == "team", "pro", before["plan"]),
        country="fr",
    )
    after.loc[: len(after) // 10, "age"] = np.nan  # 10% missing now
    datasets.log("users", after)
    d = datasets.diff("users@1", "users@2")
    assert [c["name"] for c in d.added_columns] == ["country"]
    assert [c["name"] for c in d.removed_columns] == ["score"]
    stats = {(c.column, c.stat) for c in d.stat_changes}
    assert {("age", "mean"), ("age", "null_rate"), ("age", "quantiles.p50")} <= stats
    assert ("plan", "share[team]") in stats and ("plan", "distinct") in stats
    assert d.changed and d.schema_changed


def test_diff_ignores_sampling_noise(datasets: DatasetClient) -> None:
    datasets.log("users", base(seed=1))
    datasets.log("users", base(seed=2))  # another sample of the same population
    d = datasets.diff("users@1", "users@2")
    assert d.stat_changes == [] and not d.schema_changed
    strict = datasets.diff("users@1", "users@2", thresholds=DiffThresholds(mean_std=0.0))
    assert any(c.stat == "mean" for c in strict.stat_changes)


def test_diff_of_retyped_column_and_same_version(datasets: DatasetClient) -> None:
    df = pd.DataFrame({"x": np.arange(100)})
    datasets.log("t", df)
    datasets.log("t", df.astype({"x": "float64"}))
    d = datasets.diff("t@1", "t@2")
    assert [(r.column, r.before, r.after) for r in d.retyped_columns] == [("x", "int64", "double")]
    assert d.stat_changes == []  # same numbers, new type
    same = datasets.diff("t@2", "t")
    assert same.same_content and not same.changed


def test_diff_of_file_versions_lists_files(datasets: DatasetClient, folder: Path) -> None:
    datasets.log("imgs", folder)
    (folder / "a.txt").write_text("new alpha\n")
    (folder / "b.txt").unlink()
    (folder / "d.txt").write_text("delta\n")
    datasets.log("imgs", folder)
    d = datasets.diff("imgs@1", "imgs@2")
    assert (d.files_added, d.files_removed, d.files_modified) == (["d.txt"], ["b.txt"], ["a.txt"])
    assert d.changed and d.stat_changes == []


def test_a_numeric_column_with_few_values_keeps_every_value_count() -> None:
    table = pa.table({"target": [1] * 63 + [0] * 37, "x": [float(i) for i in range(100)]})
    cols = profile_of(table)["columns"]
    assert cols["target"]["top"] == [{"value": 1, "count": 63}, {"value": 0, "count": 37}]
    assert "top" not in cols["x"]  # many distinct values: quantiles only
    assert "top" not in profile_of(pa.table({"u": [3, 1, 2]}))["columns"]["u"]  # all unique
