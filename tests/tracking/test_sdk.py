"""The fluent SDK as a user writes it: start_run, log, nested runs, capture, autolog."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import keel
from keel.exceptions import InvalidArgumentError, NotFoundError, UnsafePathError
from keel.store import RunStatus
from keel.tracking import TrackingClient


@pytest.fixture
def client(keel_home: Path) -> Iterator[TrackingClient]:
    client = keel.init(project="demo", home=keel_home)
    yield client
    keel.end_run()


def test_run_context_records_everything(client: TrackingClient, tmp_path: Path) -> None:
    f = tmp_path / "report.txt"
    f.write_text("hello")
    with keel.start_run("first", experiment="churn", capture_env=False) as run:
        run.log_params({"model": "rf", "depth": 6})
        for step in range(3):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        run.log_metrics({"auc": 0.91, "f1": 0.8})
        run.set_tag("team", "risk")
        run.set_note("**tried** depth 6")
        run.log_artifact(f, "reports/report.txt")
        run.log_text("a,b\n1,2\n", "data/sample.csv")
    got = keel.get_run(run.id)
    assert (run.name, repr(run)) == ("first", f"<ActiveRun first id={run.id}>")
    assert got.status is RunStatus.FINISHED and got.info.end_time
    assert got.params == {"model": "rf", "depth": "6"}
    assert got.metrics["auc"] == 0.91 and got.metrics["loss"] == pytest.approx(1 / 3)
    assert got.info.note == "**tried** depth 6"
    assert [m.value for m in keel.metric_history(run.id, "loss")] == pytest.approx([1, 0.5, 1 / 3])
    paths = [a.path for a in client.list_artifacts(run.id)]
    assert paths == ["data/sample.csv", "reports/report.txt"]
    assert client.read_artifact(run.id, "reports/report.txt") == b"hello"


def test_failed_block_marks_run_failed(client: TrackingClient) -> None:
    with pytest.raises(ZeroDivisionError), keel.start_run(capture_env=False) as run:
        1 / 0  # noqa: B018
    got = keel.get_run(run.id)
    assert got.status is RunStatus.FAILED
    assert "ZeroDivisionError" in got.tags["keel.error"]


def test_nested_runs_need_consent(client: TrackingClient) -> None:
    with keel.start_run("parent", capture_env=False) as parent:
        with pytest.raises(InvalidArgumentError, match="nested=True"):
            keel.start_run(capture_env=False)
        with keel.start_run("child", nested=True, capture_env=False) as child:
            keel.log_metric("fold_auc", 0.9)
    assert keel.get_run(child.id).info.parent_id == parent.id
    assert keel.get_run(child.id).metrics == {"fold_auc": 0.9}


def test_artifact_paths_cannot_escape(client: TrackingClient, tmp_path: Path) -> None:
    f = tmp_path / "x.txt"
    f.write_text("x")
    with keel.start_run(capture_env=False) as run:
        for bad in ["../x.txt", "/abs/x.txt", "a/../../x"]:
            with pytest.raises(UnsafePathError, match="x"):
                run.log_artifact(f, bad)
        with pytest.raises(NotFoundError, match=r"missing\.txt"):
            run.log_artifact(tmp_path / "missing.txt")


def test_metric_values_must_be_numbers(client: TrackingClient) -> None:
    with (
        keel.start_run(capture_env=False) as run,
        pytest.raises(InvalidArgumentError, match=r"'acc'.*'high'"),
    ):
        run.log_metric("acc", "high")  # type: ignore[arg-type]


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def test_capture_records_git_and_uncommitted_work(
    client: TrackingClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "t@example.com")
    _git(repo, "config", "user.name", "t")
    (repo / "train.py").write_text("print('v1')\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "init")
    _git(repo, "remote", "add", "origin", "https://user:secret@example.com/org/repo.git")
    (repo / "train.py").write_text("print('v2')\n")  # uncommitted change
    (repo / "new_feature.py").write_text("X = 1\n")  # untracked file
    monkeypatch.chdir(repo)
    with keel.start_run() as run:
        pass
    tags = keel.get_run(run.id).tags
    assert tags["keel.git.commit"] == _git(repo, "rev-parse", "HEAD").strip()
    assert tags["keel.git.dirty"] == "true"
    assert tags["keel.git.remote"] == "https://example.com/org/repo.git"  # no credentials
    assert "keel.python.version" in tags and "keel.host" in tags
    diff = client.read_artifact(run.id, "_keel/uncommitted.diff")
    assert b"requirements" not in diff and b"print('v2')" in diff
    assert (
        b"scikit-learn==" in client.read_artifact(run.id, "_keel/requirements.txt").lower()
        or b"scikit_learn==" in client.read_artifact(run.id, "_keel/requirements.txt").lower()
    )
    # the diff reproduces the uncommitted work on a clean checkout of the commit
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", str(repo), str(clone))
    (tmp_path / "u.diff").write_bytes(diff)
    _git(clone, "apply", str(tmp_path / "u.diff"))
    assert (clone / "train.py").read_text() == "print('v2')\n"
    assert (clone / "new_feature.py").read_text() == "X = 1\n"


def test_search_and_compare(client: TrackingClient) -> None:
    ids = []
    for model, auc in [("rf", 0.93), ("gbm", 0.95), ("rf", 0.80)]:
        with keel.start_run(experiment="cmp", capture_env=False) as run:
            run.log_params({"model": model, "seed": 1})
            run.log_metric("auc", auc)
            ids.append(run.id)
    page = keel.search_runs("metrics.auc > 0.9", order_by="metrics.auc DESC", experiments=["cmp"])
    assert [r.id for r in page.runs] == [ids[1], ids[0]]
    cmp = client.compare_runs(ids)
    assert cmp.differing_params == ["model"]
    assert cmp.best["auc"] == ids[1]
    assert cmp.metrics["auc"] == [0.93, 0.95, 0.80]


def test_projects_are_isolated(keel_home: Path) -> None:
    a = keel.init(project="a", home=keel_home)
    with keel.start_run(capture_env=False) as run:
        pass
    b = keel.init(project="b", home=keel_home)
    with pytest.raises(NotFoundError, match=run.id):
        b.get_run(run.id)
    assert a.get_run(run.id).id == run.id


def test_autolog_records_sklearn_fits(client: TrackingClient) -> None:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_iris(return_X_y=True)
    keel.autolog()
    try:
        DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)
        with keel.start_run("loop", capture_env=False) as outer:
            LogisticRegression(max_iter=300).fit(X, y)
            LogisticRegression(max_iter=300, C=0.5).fit(X, y)  # conflicting params -> child run
    finally:
        keel.autolog(disable=True)
    runs = keel.search_runs("tags.`keel.autolog.estimator` like '%DecisionTree%'").runs
    assert len(runs) == 1
    assert runs[0].params["max_depth"] == "2"
    assert runs[0].metrics["training_accuracy"] > 0.9
    got = keel.get_run(outer.id)
    assert got.params["C"] == "1.0" and "training_log_loss" in got.metrics
    children = client.store.runs.children(outer.id)
    assert len(children) == 1 and keel.get_run(children[0].id).params["C"] == "0.5"


def test_system_metrics_are_sampled(client: TrackingClient) -> None:
    import time

    with keel.start_run(
        capture_env=False, system_metrics=True, system_metrics_interval_s=0.05
    ) as run:
        time.sleep(0.4)
    metrics = keel.get_run(run.id).metrics
    assert metrics["system.memory_used_mb"] > 0
    assert len(keel.metric_history(run.id, "system.cpu_percent")) >= 2


def test_a_step_run_knows_its_id_and_name_without_reading_the_store() -> None:
    from keel.config import Settings
    from keel.tracking._steprun import StepRun, StepRunSpec

    run = StepRun(StepRunSpec("a" * 32, "train", Settings.from_env({}), "demo"))
    assert (run.id, run.name) == ("a" * 32, "train")
    assert repr(run) == f"<StepRun train id={'a' * 32}>" and run._cached_info is None
