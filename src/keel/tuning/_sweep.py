"""``keel.sweep()``: a hyper-parameter search on Optuna, recorded as keel runs.

A sweep is a parent run; each trial is a child run holding its params, its intermediate
values (``keel.report``) and its final metric, and is the active run while the objective
executes (so ``keel.log_metric`` and ``keel.log_model`` land in the trial). The study lives
in keel's store through :class:`~keel.tuning._sweep_storage.KeelStorage`.

The sweep records what it ran against: the objective's code version, the space, the
directions and, when given, the data's fingerprint. Running the same sweep again resumes
it (only the trials still missing from the budget run). When the code, the space or the
data changed, the old generation is marked stale and a new one starts with the best old
configurations enqueued first (warm start).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from keel.exceptions import ConfigError, InvalidArgumentError
from keel.pipelines import Runner, make_runner
from keel.store import RunStatus
from keel.store.sweeps import Sweep, Trial, TrialState
from keel.tracking import TrackingClient, get_client
from keel.tracking._lifecycle import forget, keep_alive, owner_tags
from keel.tuning._space import Space, load_space
from keel.tuning._sweep_generations import (
    current_generation,
    fail_lost_trials,
    fingerprints,
    generation_spec,
    warm_start,
)
from keel.tuning._sweep_trial import TrialRunner, open_study, optimize, report
from keel.tuning._sweep_workers import SweepWork, progress_reporter, run_workers


@dataclass(frozen=True)
class SweepResult:
    """What a sweep found: its stored sweep, its trials by number, the best one."""

    sweep: Sweep
    trials: list[Trial]
    best: Trial | None
    best_params: dict[str, Any]
    status: str
    reason: str
    ran: int
    warm_started: int = 0

    def count(self, state: TrialState) -> int:
        return sum(1 for t in self.trials if t.state is state)


def sweep(
    objective: Callable[..., Any],
    space: Space | Mapping[str, Any] | str | None = None,
    *,
    direction: str | Sequence[str] = "minimize",
    name: str | None = None,
    trials: int | None = None,
    timeout: float | None = None,
    sampler: Any = "tpe",
    pruner: Any = None,
    parallel: int = 1,
    runner: Any = None,
    address: str | None = None,
    metric: str = "objective",
    seed: int | None = None,
    data: Any = None,
    experiment: str | None = None,
    client: TrackingClient | None = None,
    on_trial: Callable[[Any], None] | None = None,
) -> SweepResult:
    """Search ``space`` for the params that optimise ``objective``; see the module doc.

    ``objective(params)`` gets one value per space entry (the Optuna trial when ``space`` is
    None) and returns a number (a sequence for several directions). A trial whose objective
    raises or returns NaN fails with the reason; a sweep whose every trial failed ends failed.
    ``trials`` is the total budget (a resumed sweep runs what is missing), ``timeout`` a
    limit in seconds for this call. ``parallel`` trials run at once: on threads here
    (``runner`` None), on worker processes (``"processes"``) or Dask (``"dask"``, ``address``).
    """
    _check(trials, timeout, parallel)
    engine = None if _in_process(runner) else make_runner(runner, workers=parallel, address=address)
    checked = None if space is None else load_space(space)
    directions = [direction] if isinstance(direction, str) else list(direction)
    client = client or get_client()
    name = str(name or getattr(objective, "__name__", None) or "sweep")
    engines = {"metric": metric, "sampler": sampler, "pruner": pruner, "trials": trials}
    exp_id, current, previous = _generation(
        client, objective, name, checked, directions, data, engines, experiment
    )
    study, storage = open_study(client, current, sampler, pruner, seed)
    warm = warm_start(client, study, previous, checked) if previous is not None else 0
    fail_lost_trials(client, current)
    before = _finished(client, current)
    remaining = None if trials is None else max(0, trials - before)
    work = SweepWork(
        objective, checked, current.id, client.store.settings, client.project.name, sampler,
        pruner, seed, metric, exp_id, remaining, trials, timeout,
    )  # fmt: skip
    errors = _run(client, current, study, storage, work, parallel, engine, on_trial)
    return _finish(client, current, _finished(client, current) - before, warm, errors)


def _generation(
    client: TrackingClient,
    objective: Callable[..., Any],
    name: str,
    space: Space | None,
    directions: list[str],
    data: Any,
    engines: dict[str, Any],
    experiment: str | None,
) -> tuple[int, Sweep, Sweep | None]:
    """The experiment of the sweep's runs, the generation to run and the one it replaces
    (None: a new sweep, or the same one resumed)."""
    parts = fingerprints(objective, space, directions, data)
    spec = generation_spec(objective, name, space, directions, parts, engines)
    exp = client.get_or_create_experiment(experiment or f"sweep-{name}")
    current, previous = current_generation(client, name, parts, directions, spec, exp.id)
    return exp.id, current, previous


def _check(trials: int | None, timeout: float | None, parallel: int) -> None:
    try:
        import optuna  # noqa: F401
    except ImportError as exc:
        raise ConfigError("keel.sweep needs Optuna: pip install 'keel[tuning]'") from exc
    if trials is None and timeout is None:
        raise InvalidArgumentError("give a sweep a budget: trials=N, timeout=seconds or both")
    if trials is not None and trials < 1:
        raise InvalidArgumentError(f"trials must be at least 1, got {trials}")
    if parallel < 1:
        raise InvalidArgumentError(f"parallel must be at least 1, got {parallel}")


def _finished(client: TrackingClient, current: Sweep) -> int:
    trials = client.store.sweeps.trials(client.project.id, current.id)
    return sum(1 for t in trials if t.state.is_finished)


def _in_process(runner: Any) -> bool:
    if runner is None:
        return True
    key = runner if isinstance(runner, str) else getattr(runner, "name", "")
    return key.lower().replace("-", "").replace("_", "") in ("inprocess", "local", "threads")


def _run(
    client: TrackingClient,
    current: Sweep,
    study: Any,
    storage: Any,
    work: SweepWork,
    parallel: int,
    engine: Runner | None,
    on_trial: Callable[[Any], None] | None,
) -> list[str]:
    """Run the trials (threads here, or workers of a runner) with the sweep's run alive."""
    parent = current.run_id or ""
    client.store.runs.update(parent, status=RunStatus.RUNNING)
    client.set_tags(parent, owner_tags())
    keep_alive(parent, functools.partial(client.set_tag, parent))
    try:
        if engine is None:
            trial_runner = TrialRunner(
                client, storage, current, work.objective, work.space, work.metric,
                work.experiment_id,
            )  # fmt: skip
            optimize(
                study, trial_runner, work.n_trials, work.budget, work.seconds, parallel, on_trial
            )
            return []
        poll = progress_reporter(client, current, on_trial)
        return run_workers(work, work.n_trials, workers=parallel, engine=engine, progress=poll)
    finally:
        forget(parent)


# -- the end ---------------------------------------------------------------------------------
def _finish(
    client: TrackingClient, current: Sweep, ran: int, warm: int, errors: list[str]
) -> SweepResult:
    repo, pid = client.store.sweeps, client.project.id
    trials = repo.trials(pid, current.id)
    best = best_trial(current, trials)
    failed = [t for t in trials if t.state is TrialState.FAIL]
    finished = [t for t in trials if t.state.is_finished]
    if errors and best is None:
        status, reason = "failed", f"{len(errors)} worker(s) failed; the first: {errors[0]}"
    elif finished and best is None and len(failed) == len(finished):
        first = next((t.reason for t in failed if t.reason), "no reason was recorded")
        status, reason = "failed", f"all {len(failed)} trials failed; the first: {first}"
    elif best is None and finished:
        status, reason = "failed", f"no trial completed ({len(finished)} pruned or failed)"
    else:
        status, reason = "finished", ""
    sweep = repo.update(pid, current.id, status=status, reason=reason)
    run_id = current.run_id or ""
    tags = {"keel.sweep.status": status, "keel.sweep.trials": str(len(trials))}
    if best is not None:
        tags["keel.sweep.best_trial"] = str(best.number)
        tags["keel.sweep.best_run"] = best.run_id or ""
    if reason:
        tags["keel.error"] = reason
    from keel.store import Metric

    metrics = []
    if best is not None and best.values:
        now = int(time.time() * 1000)
        metrics.append(
            Metric(
                f"best_{current.spec.get('metric', 'objective')}", best.values[0], len(trials), now
            )
        )
    client.store.runs.log_batch(run_id, metrics=metrics, tags=tags)
    client.store.runs.update(
        run_id, status=RunStatus.FAILED if status == "failed" else RunStatus.FINISHED
    )
    best_params: dict[str, Any] = {}
    if best is not None:
        from keel.tuning._sweep_params import external_params

        best_params = external_params(best)
    return SweepResult(sweep, trials, best, best_params, status, reason, ran, warm)


def best_trial(sweep: Sweep, trials: Sequence[Trial]) -> Trial | None:
    """The COMPLETE trial with the best first value (None when none completed)."""
    done = [t for t in trials if t.state is TrialState.COMPLETE and t.values]
    if not done:
        return None
    sign = -1.0 if sweep.directions[0] == "maximize" else 1.0
    return min(done, key=lambda t: (sign * (t.values or [0.0])[0], t.number))


__all__ = ["SweepResult", "best_trial", "report", "sweep"]
