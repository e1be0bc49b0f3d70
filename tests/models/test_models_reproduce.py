"""Reproduce end to end: a real git repository, an uncommitted change, a real re-run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from keel.config import Settings
from keel.exceptions import InvalidArgumentError
from keel.models import Registry, reproduce
from keel.store import open_store

TRAIN = """\
import keel
from keel.models import reproduction_context
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

ctx = reproduction_context()
C = float(open("C.txt").read())
max_iter = int(ctx["params"].get("max_iter", 300))
X, y = load_iris(return_X_y=True, as_frame=True)
with keel.start_run(experiment="repro") as run:
    run.log_params({"C": C, "max_iter": max_iter})
    model = LogisticRegression(C=C, max_iter=max_iter).fit(X, y)
    run.log_metric("accuracy", model.score(X, y))
    keel.log_model(
        model, "model", input_example=X.head(5), onnx=False,
        registered_model_name=None if ctx["of"] else "iris",
    )
"""


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "t@example.com")
    _git(repo, "config", "user.name", "t")
    (repo / "train.py").write_text(TRAIN)
    (repo / "C.txt").write_text("1.0")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "train")
    (repo / "C.txt").write_text("0.25")  # uncommitted: only the recorded diff knows it
    return repo


def test_reproduce_reruns_commit_plus_diff_and_matches(repo: Path, keel_home: Path) -> None:
    env = {**os.environ, "KEEL_HOME": str(keel_home)}
    subprocess.run([sys.executable, "train.py"], cwd=repo, env=env, check=True, capture_output=True)
    store = open_store(Settings.for_home(keel_home))
    try:
        registry = Registry(store)
        original = registry.resolve("iris@1")
        assert original.lineage["git_commit"] and original.lineage["git_dirty"]
        report = reproduce(registry, "iris@1")
        assert report.diff_applied
        assert report.new_run_id and report.new_run_id != original.run_id
        assert report.matches, report
        old, new, ok = report.metrics["accuracy"]
        assert ok and old == new
        rerun = store.runs.get(report.new_run_id)
        assert rerun.params["C"] == "0.25"  # the uncommitted value came back through the diff
        assert rerun.params["max_iter"] == "300"
        # The user's checkout is untouched and the temporary worktree is gone.
        assert (repo / "C.txt").read_text() == "0.25"
        listed = subprocess.run(
            ["git", "worktree", "list"], cwd=repo, capture_output=True, text=True
        )
        assert len(listed.stdout.strip().splitlines()) == 1
    finally:
        store.close()


def test_reproduce_refuses_a_version_without_lineage(sqlite_store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import numpy as np
    import pandas as pd
    import skops.io as sio
    from sklearn.linear_model import LinearRegression

    from keel.models import import_model

    X = pd.DataFrame({"a": np.arange(10.0)})
    sio.dump(LinearRegression().fit(X, X["a"]), tmp_path / "m.skops")
    registry = Registry(sqlite_store)
    import_model(registry, tmp_path / "m.skops", "lin", onnx=False)
    with pytest.raises(InvalidArgumentError, match="lin@1 cannot be reproduced"):
        reproduce(registry, "lin@1")


FIT = """\
import sys
import keel
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

C = float(sys.argv[1])
X, y = load_iris(return_X_y=True, as_frame=True)
run = keel.start_run(experiment="argv")  # no `with`: it ends FINISHED at exit
model = LogisticRegression(C=C, max_iter=300).fit(X, y)
keel.log_metric("accuracy", model.score(X, y))
keel.log_model(model, "model", input_example=X.head(5), onnx=False, registered_model_name="iris")
"""


def test_a_script_reproduces_with_its_arguments_and_registers_only_when_asked(
    repo: Path, keel_home: Path
) -> None:
    (repo / "fit.py").write_text(FIT)
    _git(repo, "add", "fit.py")
    _git(repo, "commit", "-qm", "fit")
    env = {**os.environ, "KEEL_HOME": str(keel_home)}
    subprocess.run(
        [sys.executable, "fit.py", "0.1"], cwd=repo, env=env, check=True, capture_output=True
    )
    store = open_store(Settings.for_home(keel_home))
    try:
        registry = Registry(store)
        original = registry.resolve("iris@1")
        assert original.lineage["argv"] == ["0.1"]
        report = reproduce(registry, "iris@1")
        assert report.matches, report
        assert report.command[-1] == "0.1" and report.registered is None
        assert [v.version for v in registry.versions("iris")] == [1]  # nothing registered
        rerun = store.runs.get(str(report.new_run_id))
        assert rerun.tags["keel.reproduce.would_register"] == "iris"
        assert rerun.status.value == "FINISHED"

        again = reproduce(registry, "iris@1", register=True)
        assert again.matches and again.registered == "iris@2"
        assert registry.resolve("iris@2").tags["keel.reproduced_from"] == "iris@1"
    finally:
        store.close()
