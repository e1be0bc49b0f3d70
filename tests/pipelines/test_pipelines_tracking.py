"""Steps are runs: inside a step the active run is the step's child run, on every runner;
models logged there carry the pipeline's lineage; cache hits keep the step metrics visible;
``isolated_store`` keeps all of it out of ``$KEEL_HOME``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import keel
from keel.pipelines.testing import isolated_store
from keel.store import RunStatus, Store


@keel.step
def prepare(rows: int) -> pd.DataFrame:
    keel.log_metric("rows", rows)
    keel.log_params({"source": "synthetic"})
    return pd.DataFrame({"x": list(range(rows)), "y": [i % 2 for i in range(rows)]})


@keel.step
def fit(frame: pd.DataFrame, c: float) -> float:
    run = keel.active_run()
    assert run is not None and run.name == "fit"
    for epoch in range(3):
        keel.log_metric("loss", 1.0 / (epoch + 1), step=epoch)
    keel.set_tag("worker_pid", os.getpid())
    keel.log_metric("accuracy", 0.5 + c / 10)
    return float(frame["y"].mean()) + c


@keel.pipeline
def training(rows: int = 10, c: float = 1.0) -> Any:
    return fit(prepare(rows), c)


def _children(store: Store, run_id: str) -> dict[str, Any]:
    return {info.name: store.runs.get(info.id) for info in store.runs.children(run_id)}


def _check_step_runs(store: Store, run_id: str, c: float, *, cached: bool = False) -> None:
    parent = store.runs.get(run_id)
    assert parent.metrics["fit.accuracy"] == pytest.approx(0.5 + c / 10)
    assert parent.metrics["prepare.rows"] == 10.0
    steps = _children(store, run_id)
    if cached:  # a cached step's run points at the run that computed its output
        steps = {name: store.runs.get(r.tags["keel.step.cached_from"]) for name, r in steps.items()}
    assert steps["prepare"].metrics == {"rows": 10.0}
    assert steps["prepare"].params["source"] == "synthetic"
    assert steps["fit"].metrics["accuracy"] == pytest.approx(0.5 + c / 10)
    assert [m.value for m in store.runs.metric_history(steps["fit"].id, "loss")] == [
        1.0,
        0.5,
        pytest.approx(1 / 3),
    ]
    assert all(r.status is RunStatus.FINISHED for r in steps.values())
    assert cached or steps["fit"].info.parent_id == run_id


def test_in_process_steps_log_into_their_runs_and_cache_hits_keep_metrics(
    sqlite_store: Store,
) -> None:
    first = training.run({"c": 1.0}, store=sqlite_store)
    _check_step_runs(sqlite_store, first.run_id, 1.0)
    assert keel.active_run() is None  # the step's run is not left active

    again = training.run({"c": 1.0}, store=sqlite_store)
    assert again.all_cached
    _check_step_runs(sqlite_store, again.run_id, 1.0, cached=True)  # metrics did not vanish
    reused = _children(sqlite_store, again.run_id)["fit"]
    assert reused.tags["keel.step.cached_from"] == _children(sqlite_store, first.run_id)["fit"].id
    found = sqlite_store.runs.search(
        [reused.info.experiment_id],
        "metrics.fit.accuracy > 0.55 and tags.keel.pipeline = 'training'",
    )
    assert {r.id for r in found.runs} == {first.run_id, again.run_id}


def test_process_runner_steps_log_from_their_own_processes(sqlite_store: Store) -> None:
    result = training.run({"c": 2.0}, store=sqlite_store, runner="processes", workers=2)
    _check_step_runs(sqlite_store, result.run_id, 2.0)
    fit_run = _children(sqlite_store, result.run_id)["fit"]
    assert fit_run.tags["worker_pid"] != str(os.getpid())


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_dask_steps_log_from_the_workers(sqlite_store: Store, dask_client: Any) -> None:
    from keel.pipelines._dask import DaskRunner

    result = training.run({"c": 3.0}, store=sqlite_store, runner=DaskRunner(client=dask_client))
    _check_step_runs(sqlite_store, result.run_id, 3.0)
    fit_run = _children(sqlite_store, result.run_id)["fit"]
    assert fit_run.tags["worker_pid"] != str(os.getpid())


@keel.step
def failing() -> int:
    keel.log_metric("progress", 0.5)
    raise ValueError("boom")


@keel.pipeline
def breaks() -> Any:
    return failing()


def test_a_failed_step_keeps_what_it_logged(sqlite_store: Store) -> None:
    from keel.exceptions import StepFailedError

    with pytest.raises(StepFailedError) as info:
        breaks.run(store=sqlite_store)
    run_id = info.value.result.run_id  # type: ignore[attr-defined]
    step = _children(sqlite_store, run_id)["failing"]
    assert step.status is RunStatus.FAILED and step.metrics == {"progress": 0.5}


@keel.step
def ends_its_run() -> int:
    keel.end_run()
    return 1


@keel.pipeline
def rude() -> Any:
    return ends_its_run()


def test_a_step_cannot_end_its_own_run(sqlite_store: Store) -> None:
    from keel.exceptions import StepFailedError

    with pytest.raises(StepFailedError, match="ends when the step returns"):
        rude.run(store=sqlite_store)


# -- models and datasets inside steps --------------------------------------------------------


@keel.step
def train_model(frame: pd.DataFrame) -> str:
    from sklearn.linear_model import LogisticRegression

    X, y = frame[["x"]], frame["y"]
    model = LogisticRegression().fit(X, y)
    keel.log_metric("train_accuracy", float(model.score(X, y)))
    info = keel.log_model(model, input_example=X.head(2), registered_model_name="churn")
    assert info.version is not None
    return f"{info.version.name}@{info.version.version}"


@keel.step
def load_data(version: Any) -> pd.DataFrame:
    return keel.load_dataset(f"{version.dataset_name}@{version.version}")


@keel.pipeline
def model_flow() -> Any:
    from keel.pipelines import dataset_version

    return train_model(load_data(dataset_version("customers")))


def test_a_model_registered_in_a_step_records_the_pipeline_lineage(tmp_path: Path) -> None:
    home = Path(os.environ["KEEL_HOME"])
    with isolated_store(tmp_path / "iso") as store:
        frame = pd.DataFrame({"x": list(range(20)), "y": [i % 2 for i in range(20)]})
        keel.log_dataset("customers", frame)
        result = model_flow.run()
        ref = result.value()
        pid = store.projects.get_or_create("default").id
        version = store.registry.get_version(pid, "churn", 1)
        assert ref == "churn@1"
    pipeline = version.lineage["pipeline"]
    assert pipeline["run_id"] == result.run_id and pipeline["step"] == "train_model"
    assert pipeline["name"] == "model_flow" and len(pipeline["cache_key"]) == 64
    assert [(d["name"], d["version"]) for d in version.lineage["datasets"]] == [("customers", 1)]
    assert version.metrics["train_accuracy"] > 0
    assert not home.exists() or not any(home.rglob("*.db")), "isolated_store leaked"


def test_isolated_store_isolates_runs_datasets_and_the_registry(tmp_path: Path) -> None:
    home = Path(os.environ["KEEL_HOME"])
    with isolated_store() as store:
        keel.log_dataset("d", pd.DataFrame({"a": [1, 2]}))
        result = training.run()
        with keel.start_run(capture_env=False) as run:
            keel.log_metric("m", 1.0)
        assert store.runs.get(run.id).metrics == {"m": 1.0}
        assert store.runs.get(result.run_id).status is RunStatus.FINISHED
    assert not home.exists(), "isolated_store wrote to $KEEL_HOME"


@keel.step
def autologged(frame: pd.DataFrame) -> float:
    from sklearn.linear_model import LogisticRegression

    keel.log_dataset("training_rows", frame)
    return float(
        LogisticRegression(C=0.5).fit(frame[["x"]], frame["y"]).score(frame[["x"]], frame["y"])
    )


@keel.pipeline
def autolog_flow() -> Any:
    return autologged(prepare(12))


def test_autolog_and_log_dataset_inside_a_step_land_in_the_step_run(sqlite_store: Store) -> None:
    keel.autolog()
    try:
        result = autolog_flow.run(store=sqlite_store)
    finally:
        keel.autolog(disable=True)
    step = _children(sqlite_store, result.run_id)["autologged"]
    assert step.params["C"] == "0.5" and "training_accuracy" in step.metrics
    assert step.tags["keel.autolog.estimator"].endswith("LogisticRegression")
    linked = [
        sqlite_store.datasets.get_version_by_id(v).dataset_name
        for v, d in sqlite_store.runs.dataset_links(step.id)
        if d == "input"
    ]
    assert linked == ["training_rows"]


@keel.step
def watched(settings: Any) -> str:
    """Waits until another connection sees this step's run RUNNING (its start is written by
    the driver's watcher while the step runs, although the step itself writes nothing)."""
    import time

    from keel.exceptions import NotFoundError
    from keel.store import open_store

    keel.log_metric("waiting", 1.0)  # buffered: no write of its own
    run_id = keel.active_run().id  # type: ignore[union-attr]
    reader = open_store(settings)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                found = reader.runs.get(run_id)
            except NotFoundError:  # not written yet
                time.sleep(0.05)
                continue
            if found.status is not RunStatus.RUNNING:
                return found.status.value
            rows = {
                s.node: s.status.value for s in reader.pipeline_runs.steps(found.info.parent_id)
            }
            return rows.get("watched", "no row")
        return "never seen running"
    finally:
        reader.close()


@keel.step
def quick(seen: str) -> str:
    return seen


@keel.pipeline
def watching(settings: Any = None) -> Any:
    return quick(watched(settings))


def test_a_long_step_shows_running_to_other_readers_and_a_short_one_is_written_ended(
    sqlite_store: Store,
) -> None:
    result = watching.run({"settings": sqlite_store.settings}, store=sqlite_store, cache=False)
    assert result.value() == "running"  # the step row too, not only the run
    steps = _children(sqlite_store, result.run_id)
    assert steps["watched"].status is RunStatus.FINISHED
    assert steps["watched"].metrics == {"waiting": 1.0}
    assert steps["quick"].status is RunStatus.FINISHED  # written once, already ended
    assert steps["quick"].info.end_time is not None
    assert steps["quick"].tags["keel.step.status"] == "ran"
    rows = {s.node: s for s in sqlite_store.pipeline_runs.steps(result.run_id)}
    assert rows["quick"].run_id == steps["quick"].id and rows["quick"].status.value == "ran"


# -- data as parameters ----------------------------------------------------------------------


@keel.step
def count_rows(frame: pd.DataFrame, reference: Any) -> int:
    return len(frame) + int(reference.num_rows)


@keel.pipeline
def data_params_flow(frame: Any, reference: Any) -> Any:
    return count_rows(frame, reference)


def test_data_params_are_recorded_as_lineage_not_as_their_text(tmp_path: Path) -> None:
    from keel.pipelines import fingerprint

    frame = pd.DataFrame({"x": list(range(50)), "y": [i % 2 for i in range(50)]})
    with isolated_store(tmp_path / "iso") as store:
        reference = keel.log_dataset("customers", frame.head(20))
        result = data_params_flow.run({"frame": frame, "reference": reference})
        assert result.value() == 70
        run = store.runs.get(result.run_id)
        step = _children(store, result.run_id)["count_rows"]
        row = store.pipeline_runs.get(result.run_id)
        links = {rid: store.runs.dataset_links(rid) for rid in (run.id, step.id)}
    shown = {
        "frame": f"DataFrame 50 rows x 2 columns · fingerprint {fingerprint(frame)[:12]}",
        "reference": f"dataset customers@1 · {reference.content_hash[:12]}",
    }
    assert run.params == shown and step.params == shown and row.params == shown
    assert links == {run.id: [(reference.id, "input")], step.id: [(reference.id, "input")]}
