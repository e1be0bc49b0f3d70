"""CTGAN (the ``keel[ctgan]`` extra): exact transforms, a stored model, the same gate and report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from click.testing import CliRunner

from keel.cli import cli
from keel.data import SynthModel, synth_fit, synth_sample
from keel.data._ctgan import CtganModel, encode_table
from keel.data._ctgan_nets import _decode
from keel.exceptions import InvalidArgumentError


@pytest.fixture(scope="module")
def real() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 400
    plan = rng.choice(["gold", "silver", "bronze"], n, p=[0.2, 0.3, 0.5])
    base = {"gold": 100.0, "silver": 50.0, "bronze": 10.0}
    df = pd.DataFrame(
        {
            "plan": plan,
            "spend": [base[p] + rng.normal(0, 3) for p in plan],
            "age": rng.integers(20, 60, n),
            "when": pd.Timestamp("2024-01-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 300, n), "D"),
            "id": [f"person-{i:05d}" for i in range(n)],
            "rare": ["r1", "r2"] + ["common"] * (n - 2),
        }
    )
    df.loc[::8, "spend"] = np.nan
    return df


@pytest.fixture(scope="module")
def fitted(real: pd.DataFrame) -> SynthModel:
    return synth_fit(real, method="ctgan", epochs=3, holdout=0.25)


def test_the_encoding_is_exact_and_holds_no_rows(real: pd.DataFrame) -> None:
    """Mode-specific normalisation and one-hot slots decode back to the data (rare values and
    identifiers excepted: those are never reproduced)."""
    table = pa.Table.from_pandas(real, preserve_index=False)
    columns, spans, data, notes = encode_table(table, np.random.default_rng(0))
    assert [c.kind for c in columns] == [
        "categorical", "numeric", "numeric", "datetime", "token", "categorical",
    ]  # fmt: skip
    assert any("'id'" in n for n in notes) and any("2 rare values" in n for n in notes)
    raw = data.copy()
    off = 0
    for s in spans:  # the generator's alpha outputs go through tanh: invert it
        if s.alpha:
            raw[:, off] = np.arctanh(raw[:, off])
        off += s.width
    back = pa.table(_decode(columns, spans, raw, np.random.default_rng(0)), names=list(real))
    out = back.to_pandas()
    assert list(out.plan) == list(real.plan)
    assert np.allclose(out.spend, real.spend, equal_nan=True, atol=1e-3)
    assert list(out.age) == list(real.age) and out.age.dtype == np.int64
    # times go through float32: within two seconds of the real ones
    assert ((out.when - real.when).abs() < pd.Timedelta("2s")).all()
    assert set(out.rare) == {"common"} and out.id.str.startswith("id-").all()


def test_fit_sample_and_report(real: pd.DataFrame, fitted: SynthModel) -> None:
    model = fitted.model
    assert isinstance(model, CtganModel) and model.method == "ctgan" and model.rows_fit == 300
    sample = model.sample(500, seed=1).to_pandas()
    assert list(sample.columns) == list(real.columns) and len(sample) == 500
    assert set(sample.plan) <= {"gold", "silver", "bronze"} and set(sample.rare) == {"common"}
    assert sample.age.between(real.age.min(), real.age.max()).all()
    assert str(sample.when.dtype) == str(real.when.dtype)
    again = CtganModel.from_bytes(model.to_bytes()).sample(500, seed=1).to_pandas()
    pd.testing.assert_frame_equal(sample, again)  # the stored model is the model
    result = synth_sample(fitted, 300, real=real, allow_risky="test of a 3-epoch model")
    report = result.report
    assert 0 <= report["fidelity"]["marginal_score"] <= 1
    assert 0 <= report["privacy"]["membership_auc"] <= 1 and "passed" in report["gate"]


def test_ctgan_bad_input(real: pd.DataFrame) -> None:
    with pytest.raises(InvalidArgumentError, match="epochs >= 1"):
        synth_fit(real, method="ctgan", epochs=0)
    with pytest.raises(InvalidArgumentError, match="at least 20 rows"):
        synth_fit(real.head(12), method="ctgan", epochs=1)
    with pytest.raises(InvalidArgumentError, match="no column CTGAN can learn"):
        synth_fit(real[["id"]], method="ctgan", epochs=1)
    with pytest.raises(InvalidArgumentError, match="not a keel CTGAN model"):
        CtganModel.from_bytes(b"not an npz file")


def test_without_torch_the_error_names_the_extra(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import pandas as pd\n"
        "from keel.data import synth_fit\n"
        "from keel.exceptions import InvalidArgumentError\n"
        "try:\n"
        "    synth_fit(pd.DataFrame({'a': range(50)}), method='ctgan')\n"
        "except InvalidArgumentError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'keel[ctgan]'" in out.stdout


def test_cli_fit_and_sample_ctgan(
    cli_runner: CliRunner, real: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "people.parquet"
    real.to_parquet(path)
    assert cli_runner.invoke(cli, ["datasets", "add", "people", str(path)]).exit_code == 0
    args = ["synth", "fit", "people@1", "--method", "ctgan", "--epochs", "2", "--json"]
    fit = cli_runner.invoke(cli, args)
    assert fit.exit_code == 0, fit.output
    assert json.loads(fit.stdout)["model"] == "people-ctgan@1"
    args = ["synth", "sample", "people-ctgan@1", "-n", "200", "--allow-risky", "demo", "--json"]
    sample = cli_runner.invoke(cli, args)
    assert sample.exit_code == 0, sample.output
    body = json.loads(sample.stdout)
    version = body["version"]
    assert (version["dataset_name"], version["version"], version["num_rows"]) == (
        "people-synthetic", 1, 200,
    )  # fmt: skip
    assert version["source"]["method"] == "ctgan" and body["report"]["allow_risky"] == "demo"
