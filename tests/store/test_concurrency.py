"""Many writers on one embedded SQLite store: no "database is locked", nothing lost."""

from __future__ import annotations

import multiprocessing as mp
import threading
from pathlib import Path

from keel.config import Settings
from keel.store import Metric, open_store

PROCESSES = 4
THREADS = 2
TOTAL = 100_000
PER_THREAD = TOTAL // (PROCESSES * THREADS)
SINGLES = 200  # per thread, one durable call each; the rest in batches of 100


def _writer(home: str, run_id: str, worker: int, errors: mp.Queue) -> None:  # type: ignore[type-arg]
    store = open_store(Settings.for_home(home))  # every process migrates-or-waits on a new home

    def thread(t: int) -> None:
        key = f"w{worker}.t{t}"
        try:
            for step in range(SINGLES):
                store.runs.log_metric(run_id, Metric(key, float(step), step))
            for start in range(SINGLES, PER_THREAD, 100):
                batch = [
                    Metric(key, float(s), s) for s in range(start, min(start + 100, PER_THREAD))
                ]
                store.runs.log_batch(run_id, metrics=batch)
        except Exception as exc:  # reported to the parent, which fails the test
            errors.put(f"{key}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=thread, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()


def test_four_processes_two_threads_lose_nothing(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    store = open_store(Settings.for_home(home))
    project = store.projects.get_or_create("default")
    run = store.runs.create(store.experiments.create(project.id, "load").id)
    ctx = mp.get_context("spawn")
    errors = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(home, run.id, w, errors)) for w in range(PROCESSES)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=240)
    problems = []
    while not errors.empty():
        problems.append(errors.get())
    assert problems == []
    assert all(p.exitcode == 0 for p in procs)
    keys = store.runs.metric_keys(run.id)
    assert len(keys) == PROCESSES * THREADS
    total = sum(len(store.runs.metric_history(run.id, k)) for k in keys)
    assert total == TOTAL
    assert store.runs.get(run.id).metrics["w0.t0"] == float(PER_THREAD - 1)


def test_two_processes_opening_a_new_home_migrate_once(tmp_path: Path) -> None:
    home = str(tmp_path / "fresh")
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=open_store, args=(Settings.for_home(home),)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    from keel.store import HEAD_REVISIONS, current_revisions

    assert current_revisions(open_store(Settings.for_home(home)).db) == HEAD_REVISIONS
