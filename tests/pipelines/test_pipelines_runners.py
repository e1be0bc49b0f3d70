"""Runners: local processes in parallel, timeouts, dying workers, resource requests;
and a real Dask LocalCluster (worker processes), including a worker killed mid-step."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import keel
from keel.exceptions import ResourceUnavailableError, StepFailedError
from keel.store import Store


@keel.step
def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@keel.step
def add_all(values: list[float]) -> float:
    return sum(values)


@keel.pipeline
def naps(n: int = 2, seconds: float = 0.6) -> Any:
    return add_all(nap.map([seconds + i / 1000 for i in range(n)]))


@keel.step
def span(seconds: float) -> list[float]:
    """When this step ran, by the wall clock, and in which process."""
    start = time.time()
    time.sleep(seconds)
    return [start, time.time(), float(os.getpid())]


@keel.step
def collect(spans: list[list[float]]) -> list[list[float]]:
    return spans


@keel.pipeline
def spans(n: int = 2, seconds: float = 0.5) -> Any:
    return collect(span.map([seconds + i / 1000 for i in range(n)]))


def test_processes_runner_runs_independent_steps_in_parallel(sqlite_store: Store) -> None:
    # Parallel means the two steps' lifetimes overlap in two processes (no wall-clock bound,
    # which a loaded machine would break).
    result = spans.run({"n": 2}, store=sqlite_store, runner="processes", workers=2)
    (s1, e1, pid1), (s2, e2, pid2) = result.value()
    assert pid1 != pid2 and pid1 != os.getpid()
    assert max(s1, s2) < min(e1, e2), "the two steps ran one after the other"
    result = naps.run({"n": 2, "seconds": 0.2}, store=sqlite_store, runner="processes", workers=2)
    assert result.value() == pytest.approx(0.401)
    assert naps.run({"n": 2, "seconds": 0.2}, store=sqlite_store, runner="processes").all_cached


@keel.step(timeout=0.3)
def hang() -> int:
    time.sleep(30)
    return 1


@keel.step
def die() -> int:
    os._exit(9)


@keel.pipeline
def hangs() -> Any:
    return hang()


@keel.pipeline
def dies() -> Any:
    return die()


def test_processes_runner_kills_a_step_past_its_timeout(sqlite_store: Store) -> None:
    start = time.perf_counter()
    with pytest.raises(
        StepFailedError, match=r"ran longer than its timeout of 0\.3s; its process was killed"
    ):
        hangs.run(store=sqlite_store, runner="processes")
    assert time.perf_counter() - start < 5


def test_processes_runner_reports_a_dead_worker(sqlite_store: Store) -> None:
    with pytest.raises(StepFailedError, match=r"step 'die'.*died \(exit code 9\)"):
        dies.run(store=sqlite_store, runner="processes")


@keel.step(resources=keel.Resources(gpus=64))
def train_on_gpus() -> int:
    return 1


@keel.pipeline
def gpu_pipeline() -> Any:
    return train_on_gpus()


def test_local_runners_refuse_resources_they_cannot_give_before_recording(
    sqlite_store: Store,
) -> None:
    for runner in ("inprocess", "processes"):
        with pytest.raises(
            ResourceUnavailableError, match=r"step 'train_on_gpus' requests gpus=64"
        ):
            gpu_pipeline.run(store=sqlite_store, runner=runner)
    project = sqlite_store.projects.get_or_create("default")
    assert sqlite_store.pipeline_runs.list(project.id) == []


# -- Dask ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    import dask

    # One death moves the task to another worker; a second one fails it (default is 3).
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            resources={"GPU": 0},
        )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def _dask(client: Any) -> Any:
    from keel.pipelines._dask import DaskRunner

    return DaskRunner(client=client)


@keel.step
def square(x: int) -> int:
    return x * x


@keel.pipeline
def squares(n: int = 4) -> Any:
    return add_all(square.map(list(range(n))))


def test_dask_runner_runs_fan_out_and_reuses_the_cache(
    sqlite_store: Store, dask_client: Any
) -> None:
    result = squares.run({"n": 4}, store=sqlite_store, runner=_dask(dask_client))
    assert result.value() == 14
    assert len(result.ran) == 5
    again = squares.run({"n": 5}, store=sqlite_store, runner=_dask(dask_client))
    assert again.value() == 30
    assert sorted(again.ran) == ["add_all", "square[4]"]


@keel.step(resources=keel.Resources(gpus=1))
def needs_gpu() -> int:
    return 1


@keel.pipeline
def gpu_flow() -> Any:
    return needs_gpu()


def test_dask_runner_refuses_resources_no_worker_offers(
    sqlite_store: Store, dask_client: Any
) -> None:
    with pytest.raises(
        ResourceUnavailableError, match=r"step 'needs_gpu' requests gpus=1.*no worker"
    ):
        gpu_flow.run(store=sqlite_store, runner=_dask(dask_client))
    assert sqlite_store.pipeline_runs.list(sqlite_store.projects.get_or_create("default").id) == []


@keel.step
def killer_once(marker: str) -> list[int]:
    path = Path(marker)
    if not path.exists():
        path.write_text("killed once")
        os._exit(1)  # the worker process dies in the middle of the step
    return list(range(1000))


@keel.step
def always_kills() -> int:
    os._exit(1)


@keel.pipeline
def killed_once(marker: str) -> Any:
    return add_all(killer_once(marker))


@keel.pipeline
def killed_always() -> Any:
    return always_kills()


def test_dask_worker_killed_mid_step_is_retried_and_no_partial_output_is_used(
    sqlite_store: Store, dask_client: Any, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    result = killed_once.run({"marker": str(marker)}, store=sqlite_store, runner=_dask(dask_client))
    assert marker.exists()  # the first attempt really died
    assert result.value() == sum(range(1000))
    project = sqlite_store.projects.get("default")
    entry = sqlite_store.step_cache.latest_for_step(project.id, "killer_once")
    assert entry is not None
    for sha in entry.blob_shas:
        sqlite_store.blobs.verify(sha)  # complete and intact


def test_dask_worker_that_always_dies_fails_clearly(sqlite_store: Store, dask_client: Any) -> None:
    with pytest.raises(StepFailedError, match=r"step 'always_kills'.*WorkerDied.*died"):
        killed_always.run(store=sqlite_store, runner=_dask(dask_client))
    project = sqlite_store.projects.get("default")
    assert sqlite_store.step_cache.latest_for_step(project.id, "always_kills") is None
