"""``keel.sweep_step``: a sweep around a training step inside ``@keel.pipeline``; upstream
steps run once and come from the cache, the sweep resumes or re-tunes when its input changed."""

from __future__ import annotations

from typing import Any

import pytest

import keel
from keel.exceptions import InvalidArgumentError, StepFailedError
from keel.store import Store

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
