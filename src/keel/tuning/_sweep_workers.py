"""A sweep on the pipelines' runners: worker processes or a Dask cluster pull its trials.

Each worker is one task of a :mod:`keel.pipelines` runner (``processes`` forks one process
per worker, ``dask`` submits one task per worker to the cluster): it opens its own store
from the sweep's settings (the same database, or the same keel server with the caller's
token), loads the generation's study and runs its share of the budget with its own
sampler. The store arbitrates between workers exactly as between machines: a new trial's
number is unique, an enqueued trial is claimed once. The driver only waits, reports
progress from the store, and ends the sweep when every worker is done.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from keel.config import Settings
from keel.pipelines import Graph, Node, Runner, Step
from keel.pipelines._task import Task
from keel.store.sweeps import Sweep
from keel.tracking import TrackingClient
from keel.tuning._space import Space
from keel.tuning._sweep_trial import TrialRunner, open_study, optimize

#: How often the driver reads the store for progress while its workers run (seconds).
POLL_S = 0.5


@dataclass(frozen=True)
class SweepWork:
    """One worker's part of a sweep: small and picklable (the objective travels by value)."""

    objective: Callable[..., Any]
    space: Space | None
    sweep_id: int
    settings: Settings
    project: str
    sampler: Any
    pruner: Any
    seed: int | None
    metric: str
    experiment_id: int
    n_trials: int | None
    budget: int | None
    seconds: float | None

    def __call__(self) -> int:
        """Run this worker's trials in this process; returns how many it ran."""
        from keel.store import open_store

        store = open_store(self.settings)
        try:
            client = TrackingClient(store, self.project)
            current = store.sweeps.get_by_id(client.project.id, self.sweep_id)
            study, storage = open_study(client, current, self.sampler, self.pruner, self.seed)
            runner = TrialRunner(
                client, storage, current, self.objective, self.space, self.metric,
                self.experiment_id,
            )  # fmt: skip
            optimize(study, runner, self.n_trials, self.budget, self.seconds, 1, None)
            return runner.ran
        finally:
            store.close()


def shares(remaining: int | None, workers: int) -> list[int | None]:
    """Split what is left of the budget between ``workers`` (None: no trial budget)."""
    if remaining is None:
        return [None] * workers
    return [remaining // workers + (1 if i < remaining % workers else 0) for i in range(workers)]


def run_workers(
    work: SweepWork,
    remaining: int | None,
    *,
    workers: int,
    engine: Runner,
    progress: Callable[[bool], None],
) -> list[str]:
    """Run ``work`` on ``workers`` tasks of ``engine``; the workers' errors (empty: none)."""
    graph = Graph(name=f"sweep-workers-{work.sweep_id}")
    for i, n in enumerate(shares(remaining, workers)):
        seed = None if work.seed is None else work.seed + i  # each worker samples its own way
        step = Step(replace(work, n_trials=n, seed=seed), name=f"sweep-worker-{i}", cache=False)
        graph.add(Node(step.name, step, {}))
    errors: list[str] = []
    try:
        engine.prepare(graph)
        engine.ship(work.objective)
        for node in graph.nodes.values():
            engine.submit(Task(node.id, node.step, {}, {}, "", store_output=False))
        pending = len(graph.nodes)
        while pending:
            for result in engine.wait(POLL_S):
                pending -= 1
                if not result.ok:
                    errors.append(f"{result.node}: {result.error_type}: {result.error}")
            progress(False)
    finally:
        engine.close()
    progress(True)
    return errors


def progress_reporter(
    client: TrackingClient, current: Sweep, on_trial: Callable[[Any], None] | None
) -> Callable[[bool], None]:
    """A poll that calls ``on_trial`` once for each trial finished since the last poll
    (at most every :data:`POLL_S` seconds unless ``final``)."""
    seen: set[int] = {t.id for t in _finished(client, current)}
    last = [0.0]

    def poll(final: bool) -> None:
        if on_trial is None or (not final and time.monotonic() - last[0] < POLL_S):
            return
        last[0] = time.monotonic()
        for trial in _finished(client, current):
            if trial.id not in seen:
                seen.add(trial.id)
                on_trial(trial)

    return poll


def _finished(client: TrackingClient, current: Sweep) -> list[Any]:
    trials = client.store.sweeps.trials(client.project.id, current.id)
    return [t for t in trials if t.state.is_finished]


__all__ = ["SweepWork", "progress_reporter", "run_workers", "shares"]
