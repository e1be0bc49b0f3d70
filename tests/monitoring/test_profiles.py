"""Reference profiles: compact, mergeable, serialisable."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from keel.exceptions import InvalidArgumentError
from keel.monitoring import (
    CategoricalProfile,
    DatasetProfile,
    NumericProfile,
    compare_profiles,
    merge_profiles,
    profile,
    profile_batches,
)


def _data(rng: np.random.Generator, n: int) -> pa.Table:
    x = rng.normal(10, 2, n)
    x[::50] = np.nan
    return pa.table(
        {
            "x": x,
            "count": rng.integers(0, 5, n),
            "flag": rng.random(n) < 0.3,
            "city": pa.array(rng.choice(["oslo", "rome", "lima"], n)).dictionary_encode(),
            "when": pa.array(np.arange(n).astype("datetime64[s]")),
        }
    )


def test_profile_contents() -> None:
    p = profile(_data(np.random.default_rng(0), 10_000))
    x = p["x"]
    assert isinstance(x, NumericProfile)
    assert (x.count, x.nulls) == (9800, 200)
    assert x.null_rate == pytest.approx(0.02)
    assert x.mean == pytest.approx(10, abs=0.1) and x.std == pytest.approx(2, abs=0.1)
    assert int(x.counts.sum()) == 9800 and x.counts[0] == 0 and x.counts[-1] == 0
    assert len(x.edges) <= 108  # 100 bins, 6 extra edges in the tails, 1 sentinel
    assert isinstance(p["flag"], CategoricalProfile) and set(p["flag"].categories) == {
        "true",
        "false",
    }
    assert p["city"].kind == "categorical" and p["city"].dtype.startswith("dictionary")
    assert p["when"].kind == "other"
    assert len(p["count"].edges) == 6  # few distinct values: one bin per value


def test_json_and_arrow_round_trip() -> None:
    p = profile(_data(np.random.default_rng(1), 5000))
    text = json.dumps(p.to_dict(), allow_nan=False)
    back = DatasetProfile.from_dict(json.loads(text))
    arrow = DatasetProfile.from_arrow(p.to_arrow())
    for other in (back, arrow):
        assert other.to_dict() == p.to_dict()
    assert len(text) < 20_000  # compact: a few kB per column


def test_windows_profiled_like_the_reference_merge_exactly() -> None:
    rng = np.random.default_rng(2)
    ref = profile(_data(rng, 5000))
    data = _data(rng, 9000)
    whole = profile(data, like=ref)
    parts = profile_batches(data.to_batches(max_chunksize=1000), like=ref)
    assert parts is not None
    _assert_close(parts.to_dict(), whole.to_dict())
    _same(parts, whole)
    report_whole = compare_profiles(ref, whole).to_dict()
    report_parts = compare_profiles(ref, parts).to_dict()
    assert report_whole["features"] == report_parts["features"]


def _assert_close(a: object, b: object, path: str = "profile") -> None:
    """Equal field by field, floats within a relative 1e-9 (pytest.approx takes no nesting)."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), f"{path}: keys {sorted(a)} != {sorted(b)}"
        for key in a:
            _assert_close(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list | tuple) and isinstance(b, list | tuple):
        assert len(a) == len(b), f"{path}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12, nan_ok=True), f"{path}: {a} != {b}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def _same(a: DatasetProfile, b: DatasetProfile) -> bool:
    for name, col in a.columns.items():
        other = b.columns[name]
        assert (col.count, col.nulls) == (other.count, other.nulls)
        if isinstance(col, NumericProfile):
            assert isinstance(other, NumericProfile)
            assert np.array_equal(col.counts, other.counts)
            assert col.mean == pytest.approx(other.mean)
            assert col.m2 == pytest.approx(other.m2)
    return True


def test_merging_differently_binned_profiles_is_close() -> None:
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(0, 1, 50_000), rng.normal(4, 0.5, 50_000)])
    rng.shuffle(x)
    whole = profile({"x": x})["x"]
    merged = profile_batches({"x": x[i : i + 10_000]} for i in range(0, len(x), 10_000))
    assert merged is not None
    part = merged["x"]
    assert isinstance(part, NumericProfile) and isinstance(whole, NumericProfile)
    assert part.count == whole.count and part.min == whole.min and part.max == whole.max
    assert part.std == pytest.approx(whole.std, rel=1e-9)
    quantiles = np.interp([0.1, 0.5, 0.9], np.cumsum(part.counts[:-1]) / part.count, part.edges)
    ranks = np.searchsorted(np.sort(x), quantiles) / len(x)  # true CDF at the merged quantiles
    assert ranks == pytest.approx([0.1, 0.5, 0.9], abs=0.01)
    # the merged profile still serves as a reference: unshifted data does not drift
    assert not compare_profiles(merged, profile({"x": x[:5000]}, like=merged)).drifted


def test_merge_handles_missing_columns_and_refuses_kind_conflicts() -> None:
    a = profile({"x": np.arange(10.0), "c": np.array(["u"] * 10)})
    b = profile({"x": np.arange(5.0)})
    merged = merge_profiles(a, b)
    assert merged.num_rows == 15 and merged["c"].nulls == 5 and merged["x"].count == 15
    with pytest.raises(InvalidArgumentError, match="column 'x'"):
        merge_profiles(a, profile({"x": np.array(["a"] * 3)}))


def test_high_cardinality_categories_are_capped() -> None:
    ids = np.array([f"id-{i}" for i in range(1000)])
    p = profile({"id": ids}, max_categories=50)["id"]
    assert isinstance(p, CategoricalProfile)
    assert len(p.categories) == 50 and p.other == 950
