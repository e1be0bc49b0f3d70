"""The sweeps repository contract on SQLite, PostgreSQL and the server (HTTP)."""

from __future__ import annotations

import math
import threading

import pytest

from keel.exceptions import ConflictError, InvalidArgumentError, NotFoundError
from keel.store import Store
from keel.store.sweeps import TrialPatch, TrialState


def _pid(store: Store) -> int:
    return store.projects.get_or_create("default").id


def test_generations_attrs_and_lookup(store: Store) -> None:
    pid = _pid(store)
    repo = store.sweeps
    first = repo.create(pid, "churn", directions=["maximize"], spec={"space": {"a": 1}})
    assert (first.generation, first.status, first.directions) == (1, "running", ["maximize"])
    second = repo.create(pid, "churn", directions=["maximize"], fingerprint="f2")
    assert second.generation == 2 and repo.get(pid, "churn").id == second.id
    assert repo.get(pid, "churn", generation=1).spec == {"space": {"a": 1}}
    changed = repo.update(pid, first.id, user_attrs={"k": [1, 2]}, system_attrs={"s": "x"})
    changed = repo.update(pid, first.id, user_attrs={"j": 1}, status="finished")
    assert changed.user_attrs == {"k": [1, 2], "j": 1} and changed.system_attrs == {"s": "x"}
    assert [s.generation for s in repo.list(pid, name="churn")] == [2, 1]
    assert repo.find(pid, "nope") is None
    with pytest.raises(NotFoundError, match="keel sweep list"):
        repo.get(pid, "nope")
    with pytest.raises(InvalidArgumentError, match="minimize, maximize"):
        repo.create(pid, "bad", directions=["up"])
    with pytest.raises(InvalidArgumentError, match="sweep status"):
        repo.update(pid, first.id, status="weird")
    other = store.projects.get_or_create("other").id
    with pytest.raises(NotFoundError):
        repo.get_by_id(other, first.id)  # another project's sweep does not exist there
    repo.delete(pid, second.id)
    assert repo.get(pid, "churn").id == first.id


def test_trials_number_merge_finish_and_stale(store: Store) -> None:
    pid = _pid(store)
    repo = store.sweeps
    sweep = repo.create(pid, "s", directions=["minimize"])
    t0 = repo.add_trial(pid, sweep.id)
    queued = repo.add_trial(pid, sweep.id, TrialPatch(state=TrialState.WAITING, params={"x": 0.5}))
    assert (t0.number, queued.number, t0.state, queued.state) == (
        0,
        1,
        TrialState.RUNNING,
        TrialState.WAITING,
    )
    assert queued.started_at is None and queued.params == {"x": 0.5}
    repo.update_trial(pid, t0.id, TrialPatch(params={"x": 1.0}, distributions={"x": "{}"}))
    repo.update_trial(pid, t0.id, TrialPatch(intermediate={0: 0.5, 1: math.nan}))
    done = repo.update_trial(
        pid,
        t0.id,
        TrialPatch(
            state=TrialState.COMPLETE,
            values=[0.25],
            params={"y": 2.0},
            intermediate={2: 0.3},
            user_attrs={"u": 1},
            run_id="r" * 32,
        ),
    )
    assert done.state is TrialState.COMPLETE and done.values == [0.25]
    assert done.params == {"x": 1.0, "y": 2.0} and done.run_id == "r" * 32
    assert done.intermediate[0] == 0.5 and math.isnan(done.intermediate[1])
    assert done.finished_at is not None and done.user_attrs == {"u": 1}
    with pytest.raises(ConflictError, match="already ended COMPLETE"):
        repo.update_trial(pid, t0.id, TrialPatch(state=TrialState.FAIL))
    assert [t.number for t in repo.trials(pid, sweep.id)] == [0, 1]
    assert [t.number for t in repo.trials(pid, sweep.id, states=[TrialState.WAITING])] == [1]
    assert [t.number for t in repo.trials(pid, sweep.id, after_id=queued.id)] == []
    assert [t.number for t in repo.trials(pid, sweep.id, after_id=queued.id, ids=[t0.id])] == [0]
    stale = repo.mark_stale(pid, sweep.id, reason="data changed")
    assert (stale.status, stale.reason) == ("stale", "data changed")
    assert all(t.stale for t in repo.trials(pid, sweep.id))
    with pytest.raises(NotFoundError, match="trial id"):
        repo.get_trial(store.projects.get_or_create("other").id, t0.id)


def test_outline_pick_and_counts_read_a_sweep_without_its_payloads(store: Store) -> None:
    pid = _pid(store)
    repo = store.sweeps
    sweep = repo.create(pid, "o", directions=["minimize"])
    other = repo.create(pid, "p", directions=["maximize"])
    added = [
        repo.add_trial(pid, sweep.id, TrialPatch(state=TrialState.COMPLETE, values=[v]))
        for v in (0.5, 0.25)
    ]
    repo.add_trial(pid, sweep.id, TrialPatch(state=TrialState.FAIL, reason="boom"))
    repo.add_trial(pid, sweep.id)
    repo.add_trial(pid, other.id, TrialPatch(state=TrialState.COMPLETE, values=[2.0]))
    points = repo.outline(pid, sweep.id)
    assert [(p.number, p.state, p.value) for p in points] == [
        (0, TrialState.COMPLETE, 0.5),
        (1, TrialState.COMPLETE, 0.25),
        (2, TrialState.FAIL, None),
        (3, TrialState.RUNNING, None),
    ]
    assert points[1].id == added[1].id
    picked = repo.pick(pid, sweep.id, [added[1].id, added[0].id])
    assert [(t.number, t.values) for t in picked] == [(0, [0.5]), (1, [0.25])]
    assert repo.pick(pid, other.id, [added[0].id]) == []  # another sweep's trial is not picked
    assert repo.pick(pid, sweep.id, []) == []
    assert repo.counts(pid) == {
        sweep.id: {"COMPLETE": 2, "FAIL": 1, "RUNNING": 1},
        other.id: {"COMPLETE": 1},
    }
    elsewhere = store.projects.get_or_create("other").id
    assert repo.counts(elsewhere) == {}
    with pytest.raises(NotFoundError):
        repo.outline(elsewhere, sweep.id)
    with pytest.raises(NotFoundError):
        repo.pick(elsewhere, sweep.id, [added[0].id])


def test_a_waiting_trial_is_claimed_once_under_a_race(store: Store) -> None:
    pid = _pid(store)
    repo = store.sweeps
    sweep = repo.create(pid, "race", directions=["minimize"])
    queued = [repo.add_trial(pid, sweep.id, TrialPatch(state=TrialState.WAITING)) for _ in range(6)]
    wins: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for t in queued:
            if repo.claim_trial(pid, t.id):
                with lock:
                    wins.append(t.number)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(wins) == [0, 1, 2, 3, 4, 5]  # each queued trial won exactly once
    assert not repo.claim_trial(pid, queued[0].id)


def test_racing_inserts_never_share_a_number(store: Store) -> None:
    pid = _pid(store)
    repo = store.sweeps
    sweep = repo.create(pid, "numbers", directions=["minimize"])
    numbers: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(5):
            n = repo.add_trial(pid, sweep.id).number
            with lock:
                numbers.append(n)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(numbers) == list(range(15))


def test_sweep_reads_of_a_missing_project_create_nothing(sqlite_store: Store) -> None:
    """Listing, describing or promoting sweeps of a misspelt project is an error naming it."""
    from keel.tracking import TrackingClient
    from keel.tuning import describe_sweep, list_sweeps, promote_sweep

    client = TrackingClient(sqlite_store, "typo")
    reads = [
        lambda: list_sweeps(client),
        lambda: describe_sweep("tune", client=client),
        lambda: promote_sweep("tune", "churn", client=client),
    ]
    for read in reads:
        with pytest.raises(NotFoundError, match="project 'typo' does not exist"):
            read()
    assert "typo" not in [p.name for p in sqlite_store.projects.list()]
