"""The whole loop a team walks, with real processes and the real command line:

dataset v1 -> pipeline (prepare / train with log_metric + log_model(registered_model_name) /
evaluate) -> promote champion -> [serving and monitoring join here] -> dataset v2 fires the
retraining schedule in ``keel scheduler --once`` -> a new version with lineage to v2 ->
``keel models reproduce`` of it matches (at v2, though v3 exists by then) and registers nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from keel.config import Settings
from keel.models import Registry
from keel.store import RunStatus, Store, open_store

FLOW = """\
import keel
import pandas as pd
from keel.pipelines import dataset_version
from sklearn.linear_model import LogisticRegression


@keel.step
def prepare(version) -> pd.DataFrame:
    frame = keel.load_dataset(f"{version.dataset_name}@{version.version}")
    keel.log_metric("rows", len(frame))
    return frame


@keel.step
def train(frame: pd.DataFrame, c: float) -> str:
    X, y = frame.drop(columns="target"), frame["target"]
    model = LogisticRegression(C=c, max_iter=2000).fit(X, y)
    keel.log_metric("train_accuracy", model.score(X, y))
    info = keel.log_model(
        model, input_example=X.head(3), registered_model_name="churn", onnx=False
    )
    return info.version.ref if info.version is not None else "not registered"


@keel.step
def evaluate(frame: pd.DataFrame, ref: str) -> float:
    keel.log_metric("eval_rows", len(frame))
    return float(len(frame))


@keel.pipeline
def training(c: float = 0.5):
    frame = prepare(dataset_version("customers"))
    return evaluate(frame, train(frame, c))
"""

LOG_DATA = """\
import sys
import keel
from sklearn.datasets import load_breast_cancer

raw = load_breast_cancer(as_frame=True)
frame = raw.data.iloc[:, :6].rename(columns=lambda c: c.replace(" ", "_"))
frame["target"] = raw.target
start, stop = int(sys.argv[1]), int(sys.argv[2])
keel.log_dataset("customers", frame.iloc[start:stop].reset_index(drop=True))
"""


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "project"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "t@example.com")
    _git(repo, "config", "user.name", "t")
    (repo / "flow.py").write_text(FLOW)
    (repo / "log_data.py").write_text(LOG_DATA)
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "training pipeline")
    return repo


def _sh(repo: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KEEL_HOME": str(home), "COLUMNS": "200"}
    out = subprocess.run(
        [sys.executable, *args], cwd=repo, env=env, capture_output=True, text=True, timeout=900
    )
    assert out.returncode == 0, f"{args}:\n{out.stdout}\n{out.stderr}"
    return out


def _keel(repo: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _sh(repo, home, "-m", "keel.cli", *args)


def _open(home: Path) -> Store:
    return open_store(Settings.for_home(home))


def test_the_lifecycle_from_data_to_a_reproduced_retrained_model(
    repo: Path, tmp_path: Path
) -> None:
    home = tmp_path / "keel-home"

    # 1. Dataset v1, the training pipeline, a champion.
    _sh(repo, home, "log_data.py", "0", "300")
    first = json.loads(_keel(repo, home, "pipeline", "run", "flow.py:training", "--json").stdout)
    assert first["status"] == "FINISHED"
    _keel(repo, home, "models", "promote", "churn@1", "champion")
    store = _open(home)
    try:
        registry = Registry(store)
        v1 = registry.resolve("churn@champion")
        assert v1.version == 1
        assert v1.lineage["pipeline"]["run_id"] == first["run_id"]
        assert v1.lineage["pipeline"]["step"] == "train"
        assert [(d["name"], d["version"]) for d in v1.lineage["datasets"]] == [("customers", 1)]
        pipeline_run = store.runs.get(first["run_id"])
        assert pipeline_run.metrics["prepare.rows"] == 300
        assert "train.train_accuracy" in pipeline_run.metrics
        assert pipeline_run.metrics["evaluate.eval_rows"] == 300
    finally:
        store.close()

    # 2. Serving and monitoring join here: `keel serve churn@champion` with a shadow
    #    challenger, drifted traffic and late labels, `keel monitor run` raising an alert
    #    (the schedule below would then use `--on alert:churn/drift`).

    # 3. A new dataset version fires the retraining schedule.
    _keel(
        repo, home, "schedule", "add", "retrain", "--pipeline", "flow.py:training",
        "--on", "dataset:customers",
    )  # fmt: skip
    _sh(repo, home, "log_data.py", "0", "569")
    fired = _keel(repo, home, "scheduler", "--once")
    assert "fired 'retrain' for dataset:customers#2" in fired.stdout, fired.stdout

    store = _open(home)
    try:
        registry = Registry(store)
        v2 = registry.resolve("churn@2")
        fire = store.schedules.fires(store.schedules.list()[0].id)[0]
        assert fire.status == "finished", fire.error
        assert v2.lineage["pipeline"]["run_id"] == fire.pipeline_run_id
        assert [(d["name"], d["version"]) for d in v2.lineage["datasets"]] == [("customers", 2)]
        retrain = store.runs.get(str(fire.pipeline_run_id))
        assert retrain.tags["keel.schedule"] == "retrain"
        assert retrain.status is RunStatus.FINISHED
        assert retrain.metrics["prepare.rows"] == 569
    finally:
        store.close()

    # 4. Champion vs challenger and the promotion join here (serving/monitoring).

    # 5. Reproduce the retrained model: at dataset v2, although v3 exists by now.
    _sh(repo, home, "log_data.py", "100", "400")
    reproduced = _keel(repo, home, "models", "reproduce", "churn@2")
    assert "churn@2: reproduced" in reproduced.stdout, reproduced.stdout
    assert "nothing registered" in reproduced.stdout
    store = _open(home)
    try:
        assert [v.version for v in Registry(store).versions("churn")] == [1, 2]
    finally:
        store.close()
