"""keel.sweep on Optuna: trials as child runs, failures, pruning, resume, re-tune, races."""

from __future__ import annotations

import math
import socket
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import optuna
import pytest

import keel
from keel.exceptions import InvalidArgumentError
from keel.store import RunStatus, Store, open_store
from keel.store.sweeps import TrialPatch, TrialState
from keel.tracking import TrackingClient
from keel.tuning import load_space
from keel.tuning._sweep_generations import current_generation
from keel.tuning._sweep_storage import KeelStorage

SPACE = {
    "x": {"type": "float", "low": -4.0, "high": 4.0},
    "depth": {"type": "int", "low": 1, "high": 3},
    "kind": {"type": "categorical", "choices": ["a", "b", "boom", "nan"]},
}


def objective(p: dict[str, Any]) -> float:
    for step in range(3):
        keel.report((p["x"] - 1.0) ** 2 + 3 - step, step)
    if p["kind"] == "boom":
        raise ValueError("kind boom is not supported")
    if p["kind"] == "nan":
        return math.nan
    keel.log_metric("depth_seen", p["depth"])
    return (p["x"] - 1.0) ** 2 + p["depth"] / 10


@pytest.fixture
def client(sqlite_store: Store) -> TrackingClient:
    return TrackingClient(sqlite_store, "default")


@pytest.fixture(params=["sqlite", "postgres"])
def db_store(request: pytest.FixtureRequest) -> Store:
    return request.getfixturevalue(f"{'pg' if request.param == 'postgres' else 'sqlite'}_store")  # type: ignore[no-any-return]


# -- the space ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"type": "gauss", "low": 0, "high": 1}, "unknown distribution type 'gauss'"),
        ({"type": "float", "low": 2.0, "high": 1.0}, "low 2.0 is greater than high 1.0"),
        ({"type": "categorical", "choices": []}, "choices must be a non-empty list"),
        ({"type": "float", "low": 0.0, "high": 1.0, "log": True}, "a log range needs low > 0"),
        ({"type": "int", "low": 1.5, "high": 3}, "low must be an integer"),
        ({"type": "float", "low": 0, "high": 1, "lgo": True}, "unknown keys \\['lgo'\\]"),
    ],
)
def test_a_malformed_space_is_refused_naming_the_parameter(
    entry: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=f"space parameter 'p': {message}"):
        load_space({"p": entry})


def test_a_space_loads_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "space.yaml"
    path.write_text(
        "lr: {type: float, low: 1.0e-4, high: 0.1, log: true}\n"
        "depth: {type: int, low: 2, high: 8, step: 2}\n"
        "kind: {type: categorical, choices: [gini, entropy]}\n"
    )
    space = load_space(path)
    dists = space.distributions()
    assert (
        dists["lr"].log
        and dists["depth"].step == 2
        and dists["kind"].choices
        == (
            "gini",
            "entropy",
        )
    )
    with pytest.raises(InvalidArgumentError, match="does not exist"):
        load_space(tmp_path / "missing.yaml")


# -- a sweep --------------------------------------------------------------------------------
def test_a_sweep_records_runs_failures_and_pruning(client: TrackingClient) -> None:
    result = keel.sweep(
        objective, SPACE, trials=16, seed=3, pruner="median", client=client, name="s"
    )
    assert result.status == "finished" and result.best is not None
    counts = {s: result.count(s) for s in TrialState}
    assert counts[TrialState.COMPLETE] >= 1 and sum(counts.values()) == 16
    failed = [t for t in result.trials if t.state is TrialState.FAIL]
    assert failed, "the seeded sweep draws boom or nan at least once"
    assert {t.reason for t in failed} <= {
        "ValueError: kind boom is not supported",
        "the objective returned NaN",
    }
    parent = client.get_run(result.sweep.run_id or "")
    assert parent.status is RunStatus.FINISHED and parent.tags["keel.sweep"] == "s"
    children = client.store.runs.children(parent.info.id)
    assert len(children) == 16
    best_run = client.get_run(result.best.run_id or "")
    assert best_run.info.parent_id == parent.info.id
    assert best_run.params["kind"] in ("a", "b") and best_run.metrics["objective"] == pytest.approx(
        result.best.values[0]  # type: ignore[index]
    )
    assert best_run.metrics["depth_seen"] == float(result.best_params["depth"])
    history = client.metric_history(best_run.info.id, "objective")
    assert [m.step for m in history] == [0, 1, 2, 3]  # three keel.report points, then final
    assert len(result.best.intermediate) == 3
    for t in failed:
        run = client.get_run(t.run_id or "")
        assert run.status is RunStatus.FAILED and run.tags["keel.error"] == t.reason
    pruned = [t for t in result.trials if t.state is TrialState.PRUNED]
    for t in pruned:
        assert client.get_run(t.run_id or "").tags["keel.sweep.state"] == "PRUNED"


def test_a_sweep_whose_every_trial_failed_ends_failed_saying_why(client: TrackingClient) -> None:
    def broken(p: dict[str, Any]) -> float:
        raise RuntimeError(f"no data for x={p['x']:.1f}")

    result = keel.sweep(broken, {"x": SPACE["x"]}, trials=3, client=client)
    assert result.status == "failed" and result.best is None
    assert result.reason.startswith("all 3 trials failed; the first: RuntimeError: no data for")
    stored = client.store.sweeps.get(client.project.id, "broken")
    assert (stored.status, stored.reason) == ("failed", result.reason)
    assert client.get_run(stored.run_id or "").status is RunStatus.FAILED


def test_keel_report_outside_a_sweep_says_where_it_belongs() -> None:
    with pytest.raises(InvalidArgumentError, match=r"inside the objective of keel\.sweep"):
        keel.report(1.0, 0)


def test_bad_budgets_and_engines_are_refused(client: TrackingClient) -> None:
    with pytest.raises(InvalidArgumentError, match="budget"):
        keel.sweep(objective, SPACE, client=client)
    with pytest.raises(InvalidArgumentError, match="sampler 'annealing'"):
        keel.sweep(objective, SPACE, trials=1, sampler="annealing", client=client)


def test_rerun_resumes_and_a_data_change_retunes_with_warm_start(client: TrackingClient) -> None:
    def quad(p: dict[str, Any]) -> float:
        return (p["x"] - 1.0) ** 2

    space = {"x": SPACE["x"]}
    first = keel.sweep(quad, space, trials=6, seed=0, data=[1, 2, 3], client=client)
    again = keel.sweep(quad, space, trials=8, seed=0, data=[1, 2, 3], client=client)
    assert again.sweep.id == first.sweep.id and again.ran == 2 and len(again.trials) == 8
    changed = keel.sweep(quad, space, trials=7, seed=0, data=[1, 2, 4], client=client)
    assert changed.sweep.generation == 2 and changed.warm_started == 5
    old = client.store.sweeps.get(client.project.id, "quad", generation=1)
    assert old.status == "stale" and old.reason == "data changed since this generation"
    assert all(t.stale for t in client.store.sweeps.trials(client.project.id, old.id))
    best_old = sorted(again.trials, key=lambda t: (t.values or [math.inf])[0])[:5]
    warm = changed.trials[:5]
    assert [t.params for t in warm] == [t.params for t in best_old]  # best old ones first
    assert changed.best is not None and changed.best.values == again.best.values  # type: ignore[union-attr]


def test_a_resumed_sweep_fails_the_trials_of_a_dead_worker(client: TrackingClient) -> None:
    def cube(p: dict[str, Any]) -> float:
        return float(p["x"] ** 3)

    space = {"x": SPACE["x"]}
    first = keel.sweep(cube, space, trials=2, seed=0, client=client)
    parent = client.store.runs.get_info(first.sweep.run_id or "")
    dead = {"keel.host": socket.gethostname(), "keel.pid": "999999", "keel.heartbeat": "0"}
    run = client.store.runs.create(
        parent.experiment_id, name="trial-2", parent_id=parent.id, tags=dead
    )
    orphan = client.store.sweeps.add_trial(
        client.project.id, first.sweep.id, TrialPatch(run_id=run.id)
    )
    again = keel.sweep(cube, space, trials=4, seed=0, client=client)
    stored = client.store.sweeps.get_trial(client.project.id, orphan.id)
    assert stored.state is TrialState.FAIL
    assert stored.reason.startswith("its worker (host ") and "pid 999999" in stored.reason
    assert client.get_run(run.id).status is RunStatus.FAILED
    assert again.ran == 1 and len(again.trials) == 4 and again.status == "finished"


def test_a_sweep_runs_against_a_server(remote_store: Store) -> None:
    client = TrackingClient(remote_store, "default")
    result = keel.sweep(objective, SPACE, trials=4, seed=1, client=client, parallel=2)
    assert len(result.trials) == 4 and len({t.number for t in result.trials}) == 4
    assert all(t.run_id for t in result.trials)
    assert len(client.store.runs.children(result.sweep.run_id or "")) == 4


# -- racing workers -------------------------------------------------------------------------
def square(p: dict[str, Any]) -> float:
    return float(p["x"] ** 2)


def test_two_workers_never_run_one_trial_twice(db_store: Store) -> None:
    client = TrackingClient(db_store, "default")
    space = {"x": {"type": "float", "low": -10.0, "high": 10.0}}
    first = keel.sweep(square, space, trials=1, seed=0, client=client)
    study = optuna.load_study(
        study_name="square", storage=KeelStorage(db_store.sweeps, client.project.id)
    )
    queued = [float(i) - 4.5 for i in range(8)]
    for x in queued:
        study.enqueue_trial({"x": x})
    second = open_store(db_store.settings)
    workers = [client, TrackingClient(second, "default")]
    errors: list[BaseException] = []

    def work(c: TrackingClient) -> None:
        try:
            keel.sweep(square, space, trials=9, seed=1, client=c, parallel=2)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c,)) for c in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    second.close()
    assert not errors
    trials = db_store.sweeps.trials(client.project.id, first.sweep.id)
    assert db_store.sweeps.get(client.project.id, "square").id == first.sweep.id  # resumed
    assert not [t for t in trials if t.state is TrialState.WAITING]
    xs = Counter(study.trials[t.number].params["x"] for t in trials)
    assert all(xs[x] == 1 for x in queued), xs  # each queued trial ran exactly once
    runs = client.store.runs.children(first.sweep.run_id or "")
    assert sorted(r.name for r in runs) == sorted(f"trial-{t.number}" for t in trials)


def test_a_worker_resuming_while_a_twin_generation_is_still_there_takes_the_oldest(
    db_store: Store,
) -> None:
    # a racing worker created generation 2 with the same key and has not yet deleted it: a
    # third worker that finds the sweep now must join generation 1, not the twin about to go
    client = TrackingClient(db_store, "default")
    pid, exp = client.project.id, client.get_or_create_experiment("sweep-twins")
    parts = {"code": "c", "space": "s", "data": "d"}
    first, twin = (
        db_store.sweeps.create(pid, "twins", directions=["minimize"], fingerprint="c-s-d")
        for _ in range(2)
    )
    assert (first.generation, twin.generation) == (1, 2)
    current, previous = current_generation(client, "twins", parts, ["minimize"], {}, exp.id)
    assert (current.id, previous) == (first.id, None)


def test_workers_starting_one_new_sweep_together_share_one_generation(db_store: Store) -> None:
    space = {"x": {"type": "float", "low": -10.0, "high": 10.0}}
    stores = [db_store, open_store(db_store.settings), open_store(db_store.settings)]
    errors: list[BaseException] = []

    def work(store: Store) -> None:
        try:
            keel.sweep(square, space, trials=6, client=TrackingClient(store, "default"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for extra in stores[1:]:
        extra.close()
    assert not errors
    pid = db_store.projects.get("default").id
    live = [g for g in db_store.sweeps.list(pid, name="square") if g.status != "stale"]
    assert len(live) == 1 and live[0].generation == 1
    trials = db_store.sweeps.trials(pid, live[0].id)
    assert 6 <= len(trials) <= 8  # the budget, give or take one trial per racing worker
