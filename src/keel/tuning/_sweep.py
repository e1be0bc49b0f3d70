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
import math
import time
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from keel.exceptions import ConfigError, InvalidArgumentError
from keel.store import RunStatus
from keel.store.sweeps import Sweep, Trial, TrialState
from keel.tracking import TrackingClient, get_client
from keel.tracking._lifecycle import forget, keep_alive, owner_tags
from keel.tuning._space import Space, load_space
from keel.tuning._sweep_generations import (
    current_generation,
    fail_lost_trials,
    fingerprints,
    warm_start,
)

SAMPLERS = ("tpe", "random", "qmc", "gp", "nsga2")
PRUNERS = ("none", "median", "percentile", "hyperband", "successive_halving")


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


@dataclass
class _TrialContext:
    trial: Any
    metric: str
    run: Any


_CURRENT: ContextVar[_TrialContext | None] = ContextVar("keel_sweep_trial", default=None)


def report(value: float, step: int) -> None:
    """Record an intermediate value of the running trial; prune it if the pruner says so.

    Call it inside a sweep's objective (``keel.report(val_loss, epoch)``): the value is
    logged on the trial's run under the sweep's metric name at ``step``, and when the
    pruner judges the trial hopeless this raises ``optuna.TrialPruned`` (let it propagate).
    """
    ctx = _CURRENT.get()
    if ctx is None:
        raise InvalidArgumentError(
            "keel.report() records a trial's progress; call it inside the objective of keel.sweep()"
        )
    value = float(value)
    ctx.trial.report(value, int(step))
    if math.isfinite(value):
        ctx.run.log_metric(ctx.metric, value, step=int(step))
    if ctx.trial.should_prune():
        import optuna

        raise optuna.TrialPruned(f"pruned at step {step} ({ctx.metric}={value:g})")


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
    metric: str = "objective",
    seed: int | None = None,
    data: Any = None,
    experiment: str | None = None,
    client: TrackingClient | None = None,
    on_trial: Callable[[Any], None] | None = None,
) -> SweepResult:
    """Search ``space`` for the params that optimise ``objective``; see the module doc.

    ``objective(params)`` gets a dict of one value per space entry (or the Optuna trial
    itself when ``space`` is None) and returns a number (a sequence for several
    directions). A trial whose objective raises or returns NaN is marked FAIL with the
    reason and the sweep goes on; a sweep whose every trial failed ends ``failed``.
    ``trials`` is the sweep's total budget (a resumed sweep runs only what is missing),
    ``timeout`` a limit in seconds for this call, ``parallel`` the number of worker threads.
    """
    try:
        import optuna
    except ImportError as exc:
        raise ConfigError("keel.sweep needs Optuna: pip install 'keel[tuning]'") from exc

    if trials is None and timeout is None:
        raise InvalidArgumentError("give a sweep a budget: trials=N, timeout=seconds or both")
    if trials is not None and trials < 1:
        raise InvalidArgumentError(f"trials must be at least 1, got {trials}")
    if parallel < 1:
        raise InvalidArgumentError(f"parallel must be at least 1, got {parallel}")
    checked = None if space is None else load_space(space)
    directions = [direction] if isinstance(direction, str) else list(direction)
    client = client or get_client()
    repo, pid = client.store.sweeps, client.project.id
    name = str(name or getattr(objective, "__name__", None) or "sweep")
    parts = fingerprints(objective, checked, directions, data)
    spec = {
        "objective": f"{getattr(objective, '__module__', '')}:{name}",
        "space": None if checked is None else checked.spec,
        "directions": directions,
        "metric": metric,
        "sampler": sampler if isinstance(sampler, str) else type(sampler).__name__,
        "pruner": pruner if pruner is None or isinstance(pruner, str) else type(pruner).__name__,
        "trials": trials,
        "fingerprints": parts,
    }
    exp = client.get_or_create_experiment(experiment or f"sweep-{name}")
    current, previous = current_generation(client, name, parts, directions, spec, exp.id)

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # keel records each failure
    from keel.tuning._sweep_storage import KeelStorage, study_name

    storage = KeelStorage(repo, pid)
    study = optuna.Study(
        study_name=study_name(current),
        storage=storage,
        sampler=make_sampler(sampler, seed),
        pruner=make_pruner(pruner),
    )
    warm = warm_start(client, study, previous, checked) if previous is not None else 0
    fail_lost_trials(client, current)
    finished = sum(1 for t in repo.trials(pid, current.id) if t.state.is_finished)
    remaining = None if trials is None else max(0, trials - finished)
    runner = _TrialRunner(client, storage, current, objective, checked, metric, exp.id)
    parent = current.run_id or ""
    client.store.runs.update(parent, status=RunStatus.RUNNING)
    client.set_tags(parent, owner_tags())
    keep_alive(parent, functools.partial(client.set_tag, parent))
    started = time.monotonic()
    try:
        _optimize(study, runner, remaining, trials, timeout, parallel, on_trial)
    finally:
        forget(parent)
    return _finish(client, current, runner.ran, warm, time.monotonic() - started)


def _optimize(
    study: Any,
    runner: Any,
    remaining: int | None,
    trials: int | None,
    timeout: float | None,
    parallel: int,
    on_trial: Callable[[Any], None] | None,
) -> None:
    if remaining != 0:
        callbacks: list[Callable[[Any, Any], None]] = []
        if trials is not None:
            from optuna.study import MaxTrialsCallback
            from optuna.trial import TrialState as OptunaState

            # the budget counts what ran or runs on any worker; queued trials wait their turn
            counted = (OptunaState.COMPLETE, OptunaState.PRUNED, OptunaState.FAIL)
            callbacks.append(MaxTrialsCallback(trials, states=(*counted, OptunaState.RUNNING)))
        if on_trial is not None:
            callbacks.append(lambda _study, finished: on_trial(finished))
        study.optimize(
            runner,
            n_trials=remaining,
            timeout=timeout,
            n_jobs=parallel,
            catch=(Exception,),
            callbacks=callbacks,
            gc_after_trial=False,
        )


def make_sampler(sampler: Any, seed: int | None) -> Any:
    """An Optuna sampler from its short name (or the sampler itself)."""
    import optuna

    if not isinstance(sampler, str):
        return sampler
    makers: dict[str, Callable[[], Any]] = {
        "tpe": lambda: optuna.samplers.TPESampler(seed=seed),
        "random": lambda: optuna.samplers.RandomSampler(seed=seed),
        "qmc": lambda: optuna.samplers.QMCSampler(seed=seed),
        "gp": lambda: optuna.samplers.GPSampler(seed=seed),
        "nsga2": lambda: optuna.samplers.NSGAIISampler(seed=seed),
    }
    if sampler not in makers:
        raise InvalidArgumentError(
            f"sampler {sampler!r} is not one of {', '.join(SAMPLERS)} (or pass an Optuna sampler)"
        )
    return makers[sampler]()


def make_pruner(pruner: Any) -> Any:
    """An Optuna pruner from its short name (None: no pruning)."""
    import optuna

    if pruner is not None and not isinstance(pruner, str):
        return pruner
    makers: dict[str, Callable[[], Any]] = {
        "none": optuna.pruners.NopPruner,
        "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=3),
        "percentile": lambda: optuna.pruners.PercentilePruner(25.0, n_startup_trials=3),
        "hyperband": optuna.pruners.HyperbandPruner,
        "successive_halving": optuna.pruners.SuccessiveHalvingPruner,
    }
    key = (pruner or "none").replace("-", "_")
    if key not in makers:
        raise InvalidArgumentError(
            f"pruner {pruner!r} is not one of {', '.join(PRUNERS)} (or pass an Optuna pruner)"
        )
    return makers[key]()


# -- one trial ---------------------------------------------------------------------------------
class _TrialRunner:
    """Runs one trial as a child run of the sweep (thread-safe: one call per trial)."""

    def __init__(
        self,
        client: TrackingClient,
        storage: Any,
        sweep: Sweep,
        objective: Callable[..., Any],
        space: Space | None,
        metric: str,
        experiment_id: int,
    ) -> None:
        self.client, self.storage, self.sweep = client, storage, sweep
        self.objective, self.space, self.metric = objective, space, metric
        self.experiment_id = experiment_id
        self.ran = 0

    def __call__(self, trial: Any) -> Any:
        import optuna

        from keel.tracking._steprun import StepRunSpec, step_run

        runs = self.client.store.runs
        tags = {
            **owner_tags(),
            "keel.sweep": self.sweep.name,
            "keel.sweep.trial": str(trial.number),
        }
        info = runs.create(
            self.experiment_id, name=f"trial-{trial.number}", parent_id=self.sweep.run_id, tags=tags
        )
        self.storage.set_trial_note(trial._trial_id, run_id=info.id)
        keep_alive(info.id, functools.partial(self.client.set_tag, info.id))
        spec = StepRunSpec(info.id, f"trial-{trial.number}", self.client.store.settings, "")
        status, outcome, reason, value, logged = RunStatus.FAILED, "FAIL", "", None, None
        try:
            with step_run(spec, self.client) as run:
                token = _CURRENT.set(_TrialContext(trial, self.metric, run))
                try:
                    if self.space is None:
                        value = self.objective(trial)
                    else:
                        value = self.objective(self.space.suggest(trial))
                finally:
                    _CURRENT.reset(token)
                    logged = run.drain() if run is not None else None
            reason = _bad_value(value)
            if not reason:
                status, outcome = RunStatus.FINISHED, "COMPLETE"
            return value
        except optuna.TrialPruned:
            status, outcome = RunStatus.FINISHED, "PRUNED"
            raise
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"[:2000]
            raise
        finally:
            if reason:
                self.storage.set_trial_note(trial._trial_id, reason=reason)
            forget(info.id)
            self._end_run(info.id, trial, status, outcome, reason, value, logged)
            self.ran += 1

    def _end_run(
        self,
        run_id: str,
        trial: Any,
        status: RunStatus,
        outcome: str,
        reason: str,
        value: Any,
        logged: Any,
    ) -> None:
        from keel.store import Metric

        metrics = list(logged.metrics) if logged is not None else []
        tags = {**(logged.tags if logged is not None else {}), "keel.sweep.state": outcome}
        if reason:
            tags["keel.error"] = reason
        if outcome == "COMPLETE":
            values = [value] if not isinstance(value, Sequence) else list(value)
            # after the intermediate points, so the run's latest value is the final one
            step = max(
                (int(k) + 1 for k in trial.storage.get_trial(trial._trial_id).intermediate_values),
                default=0,
            )
            for i, v in enumerate(values):
                key = self.metric if i == 0 else f"{self.metric}_{i}"
                metrics.append(Metric(key, float(v), step, int(time.time() * 1000)))
        params = {k: _param_text(v) for k, v in trial.params.items()}
        runs = self.client.store.runs
        runs.log_batch(run_id, metrics=metrics, params=params, tags=tags)
        runs.update(run_id, status=status)


def _bad_value(value: Any) -> str:
    """Why an objective's return value cannot be a result ('' when it can)."""
    values = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value]
    for v in values:
        try:
            number = float(v)
        except (TypeError, ValueError):
            return f"the objective returned {v!r}, not a number"
        if math.isnan(number):
            return "the objective returned NaN"
    return ""


def _param_text(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


# -- the end ---------------------------------------------------------------------------------
def _finish(
    client: TrackingClient, current: Sweep, ran: int, warm: int, seconds: float
) -> SweepResult:
    repo, pid = client.store.sweeps, client.project.id
    trials = repo.trials(pid, current.id)
    best = best_trial(current, trials)
    failed = [t for t in trials if t.state is TrialState.FAIL]
    finished = [t for t in trials if t.state.is_finished]
    if finished and best is None and len(failed) == len(finished):
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
        from keel.tuning._sweep_storage import frozen

        best_params = frozen(best).params
    return SweepResult(sweep, trials, best, best_params, status, reason, ran, warm)


def best_trial(sweep: Sweep, trials: Sequence[Trial]) -> Trial | None:
    """The COMPLETE trial with the best first value (None when none completed)."""
    done = [t for t in trials if t.state is TrialState.COMPLETE and t.values]
    if not done:
        return None
    sign = -1.0 if sweep.directions[0] == "maximize" else 1.0
    return min(done, key=lambda t: (sign * (t.values or [0.0])[0], t.number))


__all__ = ["SweepResult", "best_trial", "make_pruner", "make_sampler", "report", "sweep"]
