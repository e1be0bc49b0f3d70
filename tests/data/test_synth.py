"""Synthetic data: a faithful copula, a report that catches copying, a gate that holds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from keel.cli import cli
from keel.data import (
    DatasetClient,
    PrivacyGate,
    PrivacyGateError,
    SynthModel,
    synth_fit,
    synth_sample,
)
from keel.data._synth_report import synth_report
from keel.exceptions import InvalidArgumentError, NotFoundError

KINDS = {
    "x": "numeric",
    "y2": "numeric",
    "age": "numeric",
    "city": "categorical",
    "when": "datetime",
    "y": "numeric",
}


@pytest.fixture(scope="module")
def real() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 1500
    x = rng.normal(size=n)
    df = pd.DataFrame(
        {
            "x": x,
            "y2": 2 * x + rng.normal(size=n) * 0.5,
            "age": rng.integers(18, 90, n),
            "city": rng.choice(["paris", "lyon", "nice"], n, p=[0.6, 0.3, 0.1]),
            "when": pd.Timestamp("2024-01-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 300, n), "D"),
            "id": [f"person-{i:05d}" for i in range(n)],
            "rare": ["r1", "r2", "r3"] + ["common"] * (n - 3),
        }
    )
    df["y"] = ((x + rng.normal(size=n) * 0.5) > 0).astype(int)
    df.loc[::10, "age"] = None
    return df


@pytest.fixture(scope="module")
def fitted(real: pd.DataFrame) -> SynthModel:
    return synth_fit(real, holdout=0.25)


def test_copula_keeps_marginals_types_and_dependence(
    real: pd.DataFrame, fitted: SynthModel
) -> None:
    out = fitted.model.sample(3000, seed=1).to_pandas()
    assert list(out.columns) == list(real.columns)
    assert str(out["when"].dt.tz) == "UTC" and out["age"].dropna().apply(float.is_integer).all()
    assert out["x"].mean() == pytest.approx(real["x"].mean(), abs=0.1)
    assert out["age"].isna().mean() == pytest.approx(0.1, abs=0.03)
    assert out["city"].value_counts(normalize=True)["paris"] == pytest.approx(0.6, abs=0.05)
    assert out[["x", "y2"]].corr().iloc[0, 1] == pytest.approx(
        real[["x", "y2"]].corr().iloc[0, 1], abs=0.05
    )
    assert set(out["rare"].dropna()) == {"common"}  # values seen < 5 times are not reproduced
    model_json = fitted.model.to_json().decode()
    assert "person-00042" not in model_json and "r1" not in model_json  # no row is stored
    assert not set(out["id"]) & set(real["id"])


def test_report_measures_fidelity_utility_privacy(real: pd.DataFrame, fitted: SynthModel) -> None:
    result = synth_sample(fitted, 1000, real=real, target="y")
    r = result.report
    assert r["gate"]["passed"] and r["rows"]["holdout"] == 375
    assert r["fidelity"]["marginal_score"] > 0.9 and r["fidelity"]["correlation_difference"] < 0.1
    assert r["fidelity"]["discriminator_auc"] < 0.75
    assert r["utility"]["metric"] == "auc" and r["utility"]["train_synthetic"] > 0.7
    assert r["privacy"]["copy_rate"] == 0.0 and r["privacy"]["membership_auc"] < 0.6
    assert result.version is None  # nothing saved without a dataset client


def test_report_catches_a_copying_synthesiser(real: pd.DataFrame) -> None:
    train, holdout = real.iloc[:1000], real.iloc[1000:]
    copied = synth_report(train, holdout, train.sample(800, random_state=0), KINDS)
    assert copied["privacy"]["copy_rate"] == 1.0
    assert copied["privacy"]["membership_auc"] > 0.8
    assert not copied["gate"]["passed"] and len(copied["gate"]["failures"]) == 3


def test_gate_blocks_unless_a_reason_is_recorded(
    datasets: DatasetClient, real: pd.DataFrame
) -> None:
    datasets.log("people", real)
    model = synth_fit("people@1", datasets=datasets)
    assert model.ref == "people-copula@1"
    assert datasets.get("people-copula@1").source["fit_on"]["dataset"] == "people@1"
    strict = PrivacyGate(max_membership_auc=0.0)
    with pytest.raises(PrivacyGateError, match="membership-inference AUC") as err:
        synth_sample("people-copula@1", 500, datasets=datasets, gate=strict)
    assert err.value.report["gate"]["passed"] is False
    assert [v.version for v in datasets.versions("people")] == [1]
    with pytest.raises(NotFoundError, match="people-synthetic"):
        datasets.get("people-synthetic")
    kept = synth_sample(
        "people-copula@1",
        500,
        datasets=datasets,
        gate=strict,
        allow_risky="load test of the staging API",
    )
    assert kept.version is not None and kept.version.ref == "people-synthetic@1"
    src = datasets.get("people-synthetic@1").source
    assert src["allow_risky"] == "load test of the staging API"
    assert src["model"] == "people-copula@1" and src["real"]["dataset"] == "people@1"
    assert src["report"]["gate"]["passed"] is False


def test_bad_input(real: pd.DataFrame, fitted: SynthModel) -> None:
    with pytest.raises(InvalidArgumentError, match="unknown method 'gan'"):
        synth_fit(real, method="gan")
    with pytest.raises(InvalidArgumentError, match="at least 10 rows"):
        synth_fit(real.head(5))
    with pytest.raises(InvalidArgumentError, match="at least 1"):
        fitted.model.sample(0)
    with pytest.raises(InvalidArgumentError, match="reason"):
        synth_sample(fitted, 10, real=real, allow_risky=" ")
    with pytest.raises(InvalidArgumentError, match="in-memory"):
        synth_sample(fitted, 10)


def test_cli_fit_and_sample(cli_runner: CliRunner, real: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "people.parquet"
    real.head(600).to_parquet(path)
    assert cli_runner.invoke(cli, ["datasets", "add", "people", str(path)]).exit_code == 0
    fit = cli_runner.invoke(cli, ["synth", "fit", "people@1", "--holdout", "0", "--json"])
    assert fit.exit_code == 0, fit.output
    assert json.loads(fit.stdout)["model"] == "people-copula@1"
    blocked = cli_runner.invoke(cli, ["synth", "sample", "people-copula@1", "-n", "300"])
    assert isinstance(blocked.exception, PrivacyGateError)
    assert "holdout" in str(blocked.exception)  # no holdout: privacy cannot be measured
    ok = cli_runner.invoke(
        cli, ["synth", "sample", "people-copula@1", "-n", "300", "--allow-risky", "demo", "--json"]
    )
    assert ok.exit_code == 0, ok.output
    body = json.loads(ok.stdout)
    assert body["version"]["num_rows"] == 300 and body["report"]["allow_risky"] == "demo"
