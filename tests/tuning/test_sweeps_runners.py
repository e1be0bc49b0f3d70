"""A sweep on the pipelines' runners: worker processes (SQLite, PostgreSQL, a keel server)
and a real Dask LocalCluster pull trials from one study; a queued trial runs exactly once."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import optuna
import pytest

import keel
from keel.exceptions import InvalidArgumentError
from keel.store import Store
from keel.store.sweeps import TrialState
from keel.tracking import TrackingClient
from keel.tuning._sweep_storage import KeelStorage
from keel.tuning._sweep_workers import shares

SPACE = {"x": {"type": "float", "low": -10.0, "high": 10.0}}


def square(p: dict[str, Any]) -> float:
    keel.log_metric("pid", os.getpid())
    return float(p["x"] ** 2)


def broken(p: dict[str, Any]) -> float:
    raise RuntimeError("no data here")


@pytest.fixture(params=["sqlite", "postgres", "remote"])
def any_store(request: pytest.FixtureRequest) -> Store:
    name = {"sqlite": "sqlite_store", "postgres": "pg_store", "remote": "remote_store"}
    return request.getfixturevalue(name[request.param])  # type: ignore[no-any-return]


def _queue(client: TrackingClient, xs: list[float]) -> Any:
    """A first trial here, then ``xs`` enqueued (WAITING) for the workers to race for."""
    first = keel.sweep(square, SPACE, trials=1, seed=0, client=client)
    study = optuna.load_study(
        study_name="square", storage=KeelStorage(client.store.sweeps, client.project.id)
    )
    for x in xs:
        study.enqueue_trial({"x": x})
    return first, study


def _check_once(client: TrackingClient, first: Any, study: Any, xs: list[float], n: int) -> None:
    trials = client.store.sweeps.trials(client.project.id, first.sweep.id)
    assert len(trials) == n and len({t.number for t in trials}) == n
    assert all(t.state is TrialState.COMPLETE for t in trials)
    seen = Counter(study.trials[t.number].params["x"] for t in trials)
    assert all(seen[x] == 1 for x in xs), seen  # each queued trial ran exactly once
    runs = client.store.runs.children(first.sweep.run_id or "")
    assert sorted(r.name for r in runs) == sorted(f"trial-{t.number}" for t in trials)


def test_worker_processes_pull_trials_and_never_run_one_twice(any_store: Store) -> None:
    client = TrackingClient(any_store, "default")
    xs = [float(i) - 2.5 for i in range(6)]
    first, study = _queue(client, xs)
    done: list[Any] = []
    result = keel.sweep(
        square, SPACE, trials=10, seed=1, parallel=3, runner="processes", client=client,
        on_trial=done.append,
    )  # fmt: skip
    assert result.status == "finished" and result.ran == 9
    assert result.sweep.id == first.sweep.id  # the same generation, resumed by the workers
    _check_once(client, first, study, xs, 10)
    pids = {
        int(client.get_run(t.run_id or "").metrics["pid"]) for t in result.trials if t.number > 0
    }
    assert os.getpid() not in pids and len(pids) >= 2, pids  # the workers ran the trials
    assert len(done) == 9  # progress: one call per trial the workers finished


def test_a_sweep_whose_workers_all_fail_ends_failed_saying_why(sqlite_store: Store) -> None:
    client = TrackingClient(sqlite_store, "default")
    result = keel.sweep(broken, SPACE, trials=4, parallel=2, runner="processes", client=client)
    assert result.status == "failed" and result.count(TrialState.FAIL) == 4
    assert "all 4 trials failed" in result.reason and "no data here" in result.reason
    assert client.get_run(result.sweep.run_id or "").info.status.name == "FAILED"


def test_an_unknown_runner_is_refused(sqlite_store: Store) -> None:
    client = TrackingClient(sqlite_store, "default")
    with pytest.raises(InvalidArgumentError, match="unknown runner 'bogus'"):
        keel.sweep(square, SPACE, trials=2, parallel=2, runner="bogus", client=client)
    assert client.store.sweeps.find(client.project.id, "square") is None  # nothing recorded


def test_the_budget_is_split_between_workers() -> None:
    assert shares(10, 3) == [4, 3, 3] and shares(2, 3) == [1, 1, 0]
    assert shares(None, 2) == [None, None]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    local = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    yield local
    local.close()


@pytest.mark.parametrize("backend", ["sqlite", "remote"])
def test_a_dask_cluster_pulls_trials_from_one_sweep(
    cluster: Any, backend: str, request: pytest.FixtureRequest
) -> None:
    store = request.getfixturevalue("sqlite_store" if backend == "sqlite" else "remote_store")
    client = TrackingClient(store, "default")
    xs = [1.5, -0.5, 3.0, -2.0]
    first, study = _queue(client, xs)
    result = keel.sweep(
        square, SPACE, trials=8, seed=2, parallel=2, runner="dask",
        address=cluster.scheduler_address, client=client,
    )  # fmt: skip
    assert result.status == "finished" and result.ran == 7, result.reason
    _check_once(client, first, study, xs, 8)
    pids = {int(client.get_run(t.run_id or "").metrics["pid"]) for t in result.trials[1:]}
    assert os.getpid() not in pids  # Dask's worker processes ran them
