"""``keel sweep`` end to end through the real command line, and promoting the best model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.dummy import DummyClassifier

import keel
from keel.store import Store
from keel.tracking import TrackingClient
from keel.tuning import promote_sweep

OBJECTIVE = """
import keel

def objective(params):
    keel.report(params["x"] ** 2 + 1, 0)
    if params["kind"] == "broken":
        raise ValueError("broken kind")
    return params["x"] ** 2 + params["n"]

def always_fails(params):
    raise RuntimeError("no data")
"""
SPACE = """
x: {type: float, low: -2.0, high: 2.0}
n: {type: int, low: 0, high: 3}
kind: {type: categorical, choices: [ok, broken]}
"""


def test_run_list_show_and_errors(run_keel: Any, tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(OBJECTIVE)
    (tmp_path / "space.yaml").write_text(SPACE)
    train, space = str(tmp_path / "train.py"), str(tmp_path / "space.yaml")
    # seeded: unseeded, all six trials draw "broken" one time in 64 (seed 1 does it every time)
    out = run_keel(
        "sweep", "run", f"{train}:objective", "--space", space, "--trials", "6", "--seed", "2",
        "--json",
    )  # fmt: skip
    data = json.loads(out.stdout)
    assert data["status"] == "finished" and data["ran"] == 6
    assert set(data["best_params"]) == {"x", "n", "kind"} and data["best_params"]["kind"] == "ok"
    listed = json.loads(run_keel("sweep", "list", "--json").stdout)
    assert [(s["sweep"]["name"], sum(s["counts"].values())) for s in listed] == [("objective", 6)]
    shown = run_keel("sweep", "show", "objective").stdout
    assert "6/6 trials finished (4 complete, 0 pruned, 2 failed" in shown and "Best trials" in shown
    bad = tmp_path / "bad.yaml"
    bad.write_text("x: {type: float, low: 3, high: 1}\n")
    proc = run_keel(
        "sweep", "run", f"{train}:objective", "--space", str(bad), "--trials", "2", check=False
    )
    assert proc.returncode == 2
    assert "space parameter 'x': low 3 is greater than high 1" in proc.stderr
    proc = run_keel(
        "sweep", "run", f"{train}:always_fails", "--space", space, "-n", "2", check=False
    )
    assert (
        proc.returncode == 1
        and "all 2 trials failed; the first: RuntimeError: no data" in proc.stderr
    )
    proc = run_keel("sweep", "promote", "objective", "--name", "churn", check=False)
    assert proc.returncode == 3 and "logged no model at 'model'" in proc.stderr
    proc = run_keel("sweep", "show", "nope", check=False)
    assert proc.returncode == 3 and "keel sweep list" in proc.stderr


def test_promote_registers_the_best_trials_model(sqlite_store: Store) -> None:
    client = TrackingClient(sqlite_store, "default")
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]})
    y = [0, 1, 0, 1]

    def fit(params: dict[str, Any]) -> float:
        model = DummyClassifier(strategy=params["strategy"]).fit(X, y)
        keel.log_model(model, "model", input_example=X.head(2), sign=False)
        return 1.0 if params["strategy"] == "most_frequent" else 0.5

    space = {"strategy": {"type": "categorical", "choices": ["most_frequent", "uniform"]}}
    result = keel.sweep(
        fit, space, trials=2, direction="maximize", client=client, sampler="random", seed=4
    )
    best = result.best
    assert best is not None
    trial, version = promote_sweep("fit", "churn", client=client)
    assert trial.number == best.number and version.version == 1
    assert version.run_id == best.run_id
