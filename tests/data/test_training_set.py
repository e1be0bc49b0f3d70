"""Point-in-time training sets: no value from the future, TTLs, lineage and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from keel.cli import cli
from keel.data import DatasetClient, FeatureTable, training_set
from keel.exceptions import InvalidArgumentError

DAY = pd.Timedelta("1D")


def _events(seed: int = 0, users: int = 40, rows: int = 400) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Labels and a feature table whose value *is* the time it was observed (days)."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01")
    f_days = rng.choice(np.arange(0, 100), size=rows)
    features = pd.DataFrame(
        {
            "user": rng.integers(0, users, rows),
            "event_time": start + f_days * DAY,
            "observed_day": f_days.astype(float),
        }
    ).drop_duplicates(["user", "event_time"])
    l_days = rng.integers(10, 90, 200)
    labels = pd.DataFrame(
        {
            "user": rng.integers(0, users, 200),
            "event_time": start + l_days * DAY,
            "label_day": l_days,
            "y": rng.integers(0, 2, 200),
        }
    )
    return labels, features


def test_naive_join_leaks_and_keel_does_not() -> None:
    labels, features = _events()
    # The naive join: the newest feature value per user, whatever its time.
    newest = features.sort_values("event_time").groupby("user").last().reset_index()
    naive = labels.merge(newest[["user", "observed_day"]], on="user", how="left")
    assert (naive["observed_day"] > naive["label_day"]).sum() > 50  # the future leaked in
    pit = training_set(labels, [features]).to_pandas()  # features: a filtered index
    assert len(pit) == len(labels) and "__index_level_0__" not in pit.columns
    assert list(pit["y"]) == list(labels["y"])  # one row per label, in order
    known = pit.dropna(subset=["observed_day"])
    assert (known["observed_day"] <= known["label_day"]).all()
    # ...and it is the *latest* value at or before the label time (checked by brute force).
    for row in pit.head(60).itertuples():
        past = features[(features.user == row.user) & (features.event_time <= row.event_time)]
        expected = past["observed_day"].max() if len(past) else np.nan
        assert (np.isnan(expected) and np.isnan(row.observed_day)) or expected == row.observed_day


def test_ttl_drops_stale_values_per_table() -> None:
    labels, features = _events()
    pit = training_set(labels, [FeatureTable(features, ttl="5d")]).to_pandas()
    known = pit.dropna(subset=["observed_day"])
    assert len(known) > 0 and len(known) < len(pit)
    assert ((known["label_day"] - known["observed_day"]) <= 5).all()
    loose = training_set(labels, [features], ttl=pd.Timedelta("30D")).to_pandas()
    assert loose["observed_day"].notna().sum() > known.shape[0]


def test_saved_version_names_every_source(datasets: DatasetClient, tmp_path: Path) -> None:
    labels, features = _events()
    f1 = datasets.log("activity", features)
    other = features.rename(columns={"observed_day": "score"}).assign(score=lambda d: d.score * 2)
    path = tmp_path / "scores.parquet"
    other.to_parquet(path)
    result = training_set(
        labels, ["activity@1", FeatureTable(str(path), prefix="s_")],
        datasets=datasets, name="train",
    )  # fmt: skip
    assert result.version is not None and result.version.ref == "train@1"
    src = datasets.get("train@1").source
    assert src["type"] == "training_set"
    roles = [(s["role"], s.get("dataset"), s.get("path")) for s in src["sources"]]
    assert roles[1] == ("features", "activity@1", None)
    assert roles[2][2] == str(path)
    assert src["sources"][1]["content_hash"] == f1.content_hash
    assert set(datasets.load("train@1").columns) >= {"observed_day", "s_score"}


def test_time_zones_aware_vs_naive_refused_aware_compared_as_instants() -> None:
    labels, features = _events()
    aware = features.assign(event_time=features.event_time.dt.tz_localize("UTC"))
    with pytest.raises(InvalidArgumentError, match="naive"):
        training_set(labels, [aware])
    # Both aware in different zones: compared as instants, so the answer equals the UTC one.
    la = labels.assign(
        event_time=labels.event_time.dt.tz_localize("UTC").dt.tz_convert("Asia/Tokyo")
    )
    got = training_set(la, [aware]).to_pandas()
    want = training_set(labels, [features]).to_pandas()
    assert got["observed_day"].equals(want["observed_day"])
    assert str(got["event_time"].dt.tz) == "Asia/Tokyo"  # types come back unchanged


def test_duplicate_keys_at_one_timestamp() -> None:
    t = pd.Timestamp("2024-01-02")
    labels = pd.DataFrame({"user": [1, 1], "event_time": [t, t]})  # repeated labels are kept
    feats = pd.DataFrame({"user": [1, 1], "event_time": [t, t], "v": [1.0, 2.0]})
    with pytest.raises(InvalidArgumentError, match="duplicates='last'"):
        training_set(labels, [feats])
    out = training_set(labels, [feats], duplicates="last").to_pandas()
    assert list(out["v"]) == [2.0, 2.0]


def test_bad_input_has_clear_errors() -> None:
    labels, features = _events()
    with pytest.raises(InvalidArgumentError, match="no rows"):
        training_set(labels.head(0), [features])
    with pytest.raises(InvalidArgumentError, match="no rows"):
        training_set(labels, [features.head(0)])
    with pytest.raises(InvalidArgumentError, match="not a timestamp"):
        training_set(labels.assign(event_time="x"), [features])
    with pytest.raises(InvalidArgumentError, match="already in the training set"):
        training_set(labels, [features, features])
    with pytest.raises(InvalidArgumentError, match="ttl"):
        training_set(labels, [features], ttl="soon")
    with pytest.raises(InvalidArgumentError, match="key 'user'"):
        training_set(labels, [features.assign(user=features.user.astype(str))])


def test_cli_training_set(cli_runner: CliRunner, tmp_path: Path) -> None:
    labels, features = _events()
    lp, fp = tmp_path / "labels.parquet", tmp_path / "f.parquet"
    labels.to_parquet(lp)
    features.to_parquet(fp)
    args = ["datasets", "training-set", "train", "-e", str(lp), "-f", str(fp), "--ttl", "7d"]
    result = cli_runner.invoke(cli, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["version"]["num_rows"] == len(labels)
    assert [s["role"] for s in out["sources"]] == ["entities", "features"]
    assert out["sources"][1]["ttl_us"] == 7 * 86400 * 1_000_000
