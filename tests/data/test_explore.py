"""Exploration reports: the statistics are right, the HTML is small and holds no rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from keel.cli import cli
from keel.data import DatasetClient, Exploration, explore
from keel.exceptions import InvalidArgumentError, NotFoundError


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 600
    x = rng.normal(10, 2, n)
    df = pd.DataFrame(
        {
            "x": x,
            "x_twin": 3 * x + 1,  # perfectly correlated
            "noise": rng.normal(size=n),
            "city": rng.choice(["paris", "lyon", "nice"], n),
            "id": [f"secret-{i:05d}" for i in range(n)],
            "const": 7,
            "when": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 90, n), "D"),
        }
    )
    df["city_code"] = df["city"].map({"paris": 0, "lyon": 1, "nice": 2}).astype(float)
    df.loc[:59, "noise"] = np.nan  # 10% missing, always together with...
    df.loc[:59, "x_twin"] = np.nan
    df.loc[5, "x"] = 1_000.0  # one wild outlier
    df["y"] = (df["x"] > 10).astype(int)
    return pd.concat([df, df.iloc[:4]], ignore_index=True)  # four duplicate rows


@pytest.fixture(scope="module")
def report(frame: pd.DataFrame) -> Exploration:
    return explore(frame, target="y", compare=frame.assign(x=frame.x + 5).head(300))


def test_column_statistics_match_pandas(frame: pd.DataFrame, report: Exploration) -> None:
    s = report.summary
    assert (s["rows"], s["columns"], s["duplicate_rows"]) == (len(frame), frame.shape[1], 4)
    x = s["variables"]["x"]
    assert x["mean"] == pytest.approx(frame.x.mean())
    assert x["quantiles"]["p50"] == pytest.approx(frame.x.median())
    assert sum(x["hist"]["counts"]) == x["count"] == len(frame)
    q1, q3 = frame.x.quantile([0.25, 0.75])
    assert x["outliers"] == int(
        ((frame.x < q1 - 1.5 * (q3 - q1)) | (frame.x > q3 + 1.5 * (q3 - q1))).sum()
    )
    assert s["variables"]["noise"]["nulls"] == 64  # 60 + the 4 duplicated rows
    city = s["variables"]["city"]
    assert {t["value"]: t["count"] for t in city["top"]} == frame.city.value_counts().to_dict()
    assert s["variables"]["when"]["kind"] == "datetime" and sum(
        s["variables"]["when"]["hist"]["counts"]
    ) == len(frame)


def test_missing_patterns_correlations_and_alerts(report: Exploration) -> None:
    s = report.summary
    assert s["missing"]["patterns"][0] == {"missing": [], "count": s["rows"] - 64}
    assert {"missing": ["x_twin", "noise"], "count": 64} in s["missing"]["patterns"] or {
        "missing": ["noise", "x_twin"],
        "count": 60,
    } in s["missing"]["patterns"]
    c = s["correlations"]
    i, j = c["columns"].index("x"), c["columns"].index("x_twin")
    assert c["pearson"][i][j] == pytest.approx(1.0) and c["spearman"][i][j] == pytest.approx(1.0)
    k, m = c["columns"].index("city"), c["columns"].index("city_code")
    assert c["association"][k][m] == pytest.approx(1.0, abs=1e-3)  # eta: code fixes the city
    assert c["association"][k][c["columns"].index("noise")] < 0.2
    kinds = {(a["column"], a["kind"]) for a in s["alerts"]}
    assert {
        ("const", "constant"),
        ("id", "high-cardinality"),
        ("(rows)", "duplicates"),
    } <= kinds
    assert "id" not in c["columns"]  # identifiers are not correlated


def test_target_ranking_and_comparison(report: Exploration) -> None:
    t = report.summary["target"]
    assert t["ranking"][0]["column"] in ("x", "x_twin")
    assert t["ranking"][-1]["value"] is None or t["ranking"][-1]["value"] < 0.2
    cmp = report.summary["compare"]
    x = next(c for c in cmp["columns"] if c["name"] == "x")
    assert x["b"]["mean"] == pytest.approx(x["a"]["mean"] + 5, rel=0.1)
    assert x["psi"] > 0.5 and len(x["hist"]["a"]) == len(x["hist"]["b"])
    noise = next(c for c in cmp["columns"] if c["name"] == "noise")
    assert noise["psi"] < x["psi"]


def test_html_is_small_self_contained_and_holds_no_rows(
    report: Exploration, tmp_path: Path
) -> None:
    html = report.save(tmp_path / "r.html").read_text()
    assert len(html) < 500_000 and html.count("<svg") > 10
    assert "<script" not in html and "http://" not in html and "https://" not in html
    assert "secret-00042" not in html  # an identifier column's values are never written
    assert "Comparison" in html and "Target: y" in html


def test_bad_input() -> None:
    with pytest.raises(InvalidArgumentError, match="no rows"):
        explore(pd.DataFrame({"a": pd.Series([], dtype=float)}))
    with pytest.raises(InvalidArgumentError, match="target 'nope'"):
        explore(pd.DataFrame({"a": [1.0, 2.0]}), target="nope")
    one = explore(pd.DataFrame({"a": [1.0], "b": ["x"], "nothing": [None]})).summary
    assert (
        one["correlations"]["columns"] == []
        and "fewer than three rows" in one["correlations"]["notes"][0]
    )
    assert {(a["column"], a["kind"]) for a in one["alerts"]} == {("nothing", "empty")}
    assert one["variables"]["nothing"]["null_rate"] == 1.0
    mixed = explore(pd.DataFrame({"m": [1, "a", None, 2.5] * 5})).summary
    assert "mixes Python types" in mixed["notes"][0]
    assert (
        mixed["variables"]["m"]["kind"] == "categorical" and mixed["variables"]["m"]["nulls"] == 5
    )


def test_sampling_is_stated(frame: pd.DataFrame) -> None:
    s = explore(frame, sample_rows=100).summary
    assert s["sampled"] == {"rows": 100, "of": len(frame)}
    assert "uniform sample of 100" in Exploration(s).html()
    assert s["variables"]["x"]["count"] == len(frame)  # statistics still use all rows


def test_cli_explore_dataset_versions(
    cli_runner: CliRunner, frame: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "c.parquet"
    frame.to_parquet(path)
    for data in (frame, frame.head(200)):
        data.to_parquet(path)
        assert cli_runner.invoke(cli, ["datasets", "add", "customers", str(path)]).exit_code == 0
    out = tmp_path / "report.html"
    result = cli_runner.invoke(
        cli,
        [
            "datasets",
            "explore",
            "customers@1",
            "--out",
            str(out),
            "--target",
            "y",
            "--compare",
            "customers@2",
            "--json",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert (
        body["summary"]["title"] == "customers@1"
        and body["summary"]["compare"]["label"] == "customers@2"
    )
    assert out.stat().st_size == body["bytes"] and "customers@2" in out.read_text()
    bad = cli_runner.invoke(cli, ["datasets", "explore", "customers@9", "--out", str(out)])
    assert isinstance(bad.exception, NotFoundError) and "no version 9" in str(bad.exception)


def test_explore_stays_in_keel_data(datasets: DatasetClient, frame: pd.DataFrame) -> None:
    datasets.log("c", frame)
    assert explore("c@1", datasets=datasets).summary["rows"] == len(frame)


def test_correlated_alerts_are_capped() -> None:
    x = np.arange(50, dtype=float)
    s = explore(pd.DataFrame({f"c{i}": x * (i + 1) for i in range(8)})).summary  # 28 pairs
    correlated = [a for a in s["alerts"] if a["kind"] == "correlated"]
    assert len(correlated) == 11 and correlated[-1]["message"].startswith("18 more pairs")
