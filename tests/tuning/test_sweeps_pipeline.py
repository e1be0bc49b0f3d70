"""``keel.sweep_step``: a sweep around a training step inside ``@keel.pipeline``; upstream
steps run once and come from the cache, the sweep resumes or re-tunes when its input changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import keel
from keel.exceptions import InvalidArgumentError, StepFailedError
from keel.store import Store
from keel.store.entities import DatasetFile

SPACE = {
    "slope": {"type": "float", "low": 0.0, "high": 4.0},
    "intercept": {"type": "float", "low": -1.0, "high": 1.0},
}


@keel.step
def load(rows: int) -> list[tuple[float, float]]:
    return [(i / rows, 2.0 * i / rows + 0.5) for i in range(rows)]


@keel.step
def train(points: list[tuple[float, float]], slope: float, intercept: float) -> float:
    keel.log_metric("rows", len(points))
    return sum((slope * x + intercept - y) ** 2 for x, y in points) / len(points)


tune = keel.sweep_step(train, SPACE, trials=6, seed=0)


@keel.pipeline
def fit(rows: int = 20) -> Any:
    return tune(load(rows))


def _statuses(result: Any) -> dict[str, str]:
    return {n: s.status.value for n, s in result.steps.items()}


def test_a_sweep_step_runs_upstream_once_and_retunes_when_its_input_changes(
    sqlite_store: Store,
) -> None:
    first = fit.run(store=sqlite_store)
    assert _statuses(first) == {"load": "ran", "sweep_train": "ran"}
    best = first.value()
    assert best["sweep"] == "train" and best["generation"] == 1 and best["trials"] == 6
    assert set(best["best_params"]) == {"slope", "intercept"} and best["best_value"] >= 0
    run = sqlite_store.runs.get(best["best_run"])
    assert run.metrics["rows"] == 20 and run.metrics["objective"] == best["best_value"]

    again = fit.run(store=sqlite_store)  # same data: load from the cache, the sweep resumes
    assert _statuses(again) == {"load": "cached", "sweep_train": "ran"}
    assert again.value()["generation"] == 1 and again.value()["trials"] == 6

    changed = fit.run({"rows": 30}, store=sqlite_store)  # new data: re-tune, warm-started
    assert _statuses(changed) == {"load": "ran", "sweep_train": "ran"}
    retuned = changed.value()
    assert retuned["generation"] == 2 and retuned["warm_started"] >= 1
    pid = sqlite_store.projects.get("default").id
    old = sqlite_store.sweeps.get(pid, "train", generation=1)
    assert old.status == "stale" and "data changed" in old.reason


def broken(points: list[Any], slope: float) -> float:
    raise ValueError("no labels in these points")


@keel.pipeline
def broken_fit() -> Any:
    return keel.sweep_step(broken, {"slope": SPACE["slope"]}, trials=2)(load(5))


def test_a_sweep_step_whose_trials_all_fail_fails_the_pipeline_saying_why(
    sqlite_store: Store,
) -> None:
    with pytest.raises(StepFailedError, match="no labels in these points"):
        broken_fit.run(store=sqlite_store)


def test_a_space_naming_no_parameter_of_the_step_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="searches depth, which train does not take"):
        keel.sweep_step(train, {"depth": {"type": "int", "low": 1, "high": 3}}, trials=2)
    with pytest.raises(InvalidArgumentError, match="give a sweep step a budget"):
        keel.sweep_step(train, SPACE)


FLOW = """
import keel

@keel.step(cache=False)
def newest() -> int:
    return keel.get_dataset("customers").version

@keel.step
def load(version: int) -> list:
    return [(i / 10, 2.0 * i / 10 + version / 10) for i in range(10)]

@keel.step
def train(points: list, slope: float) -> float:
    return sum((slope * x - y) ** 2 for x, y in points) / len(points)

tune = keel.sweep_step(train, {"slope": {"type": "float", "low": 0.0, "high": 4.0}}, trials=4)

@keel.pipeline
def retune():
    return tune(load(newest()))
"""


def test_a_new_dataset_version_re_runs_a_sweep_through_a_schedule(
    sqlite_store: Store, tmp_path: Path
) -> None:
    from keel.pipelines import Scheduler, add_schedule

    flow = tmp_path / "flow.py"
    flow.write_text(FLOW)
    pid = sqlite_store.projects.get_or_create("default").id
    ds = sqlite_store.datasets.get_or_create(pid, "customers")

    def new_version(c: str) -> None:
        sqlite_store.datasets.add_version(
            ds, content_hash=c * 64, kind="table", source={}, schema=[], profile={},
            num_rows=1, files=[DatasetFile("a", c * 64, 1)],
        )  # fmt: skip

    new_version("a")
    add_schedule(sqlite_store, "default", "retune", target=f"{flow}:retune", on="dataset:customers")
    scheduler = Scheduler(sqlite_store.settings, store=sqlite_store)
    for version in ("b", "c"):  # each new version fires the pipeline, and so the sweep
        new_version(version)
        fired = scheduler.tick()
        assert len(fired) == 1
        scheduler.wait(timeout=120)
        fire = sqlite_store.schedules.get_fire(fired[0].id)
        assert fire.status == "finished", fire.error
    first, second = sorted(sqlite_store.sweeps.list(pid, name="train"), key=lambda g: g.generation)
    assert (first.generation, second.generation) == (1, 2)
    assert first.status == "stale" and "data changed" in first.reason  # version 2 -> 3
    assert second.status == "finished" and len(sqlite_store.sweeps.trials(pid, second.id)) == 4
    warm = [t for t in sqlite_store.sweeps.trials(pid, second.id) if t.user_attrs]
    assert warm and all("keel.warm_start_from" in t.user_attrs for t in warm)
