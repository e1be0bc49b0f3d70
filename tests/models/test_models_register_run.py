"""Register a model from an earlier run: the SDK, the CLI, ``log_model(run=...)``, and the
refusals (a run without that model, another project's run)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

import keel
from keel.exceptions import NotFoundError
from keel.store import RunStatus


def test_register_from_a_finished_run_and_log_model_into_one(
    keel_home: Path, cancer: tuple[pd.DataFrame, pd.Series], pipeline: Pipeline
) -> None:
    X, _ = cancer
    client = keel.init(project="risk", home=keel_home)
    with keel.start_run(capture_env=False) as run:
        keel.log_metric("auc", 0.97)
        keel.log_model(pipeline, "model", input_example=X.head(2), onnx=False)
    assert keel.get_run(run.id).status is RunStatus.FINISHED

    version = keel.register_model(f"runs:/{run.id}/model", "churn")
    assert (version.name, version.version, version.run_id) == ("churn", 1, run.id)
    assert version.metrics["auc"] == 0.97

    later = keel.log_model(pipeline, "again", input_example=X.head(2), onnx=False, run=run.id)
    assert later.run_id == run.id and keel.active_run() is None
    full = client.get_run(run.id)
    by_run = keel.log_model(
        pipeline,
        "third",
        input_example=X.head(2),
        onnx=False,
        run=full,
        registered_model_name="churn",
    )
    assert by_run.version is not None and by_run.version.version == 2

    store_before = len(client.store.registry.versions(client.project.id, "churn"))
    with pytest.raises(
        NotFoundError, match=r"has no model at 'missing' \(its models: again, model, third\)"
    ):
        keel.register_model(f"runs:/{run.id}/missing", "churn")
    assert len(client.store.registry.versions(client.project.id, "churn")) == store_before

    keel.init(project="elsewhere", home=keel_home)
    with pytest.raises(NotFoundError, match="does not exist in project 'elsewhere'"):
        keel.register_model(f"runs:/{run.id}/model", "churn")
    with pytest.raises(NotFoundError, match="does not exist in project 'elsewhere'"):
        keel.log_model(pipeline, "x", input_example=X.head(2), onnx=False, run=run.id)


def test_cli_registers_from_a_run_and_says_in_one_line_when_there_is_no_model(
    keel_home: Path, cancer: tuple[pd.DataFrame, pd.Series], pipeline: Pipeline
) -> None:
    X, _ = cancer
    keel.init(home=keel_home)
    with keel.start_run(capture_env=False) as run:
        keel.log_model(pipeline, "model", input_example=X.head(2), onnx=False)
    with keel.start_run(capture_env=False) as empty:
        keel.log_metric("m", 1.0)
    env = {**os.environ, "KEEL_HOME": str(keel_home), "COLUMNS": "200"}
    cli = [sys.executable, "-m", "keel.cli", "models", "register"]
    ok = subprocess.run([*cli, run.id, "--name", "churn"], capture_output=True, text=True, env=env)
    assert ok.returncode == 0 and "Registered churn@1" in ok.stdout, ok.stderr
    bad = subprocess.run(
        [*cli, empty.id, "--name", "churn"], capture_output=True, text=True, env=env
    )
    lines = [line for line in (bad.stdout + bad.stderr).splitlines() if line.strip()]
    assert bad.returncode != 0 and len(lines) == 1, lines
    assert "has no model at 'model' (it logged no model); nothing was registered" in lines[0]
