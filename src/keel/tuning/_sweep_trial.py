"""One trial of a sweep as a child run, and the Optuna engines a sweep runs on.

:class:`TrialRunner` runs one trial (the objective with the trial's run active, its end
written in one batch); :func:`optimize` drives Optuna's study with it on this process's
threads; :func:`open_study` binds a generation's study to keel's store. The in-process
sweep and every worker of a distributed one (:mod:`keel.tuning._sweep_workers`) share them.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from keel.exceptions import InvalidArgumentError
from keel.store import RunStatus
from keel.store.sweeps import Sweep
from keel.tracking import TrackingClient
from keel.tracking._lifecycle import forget, keep_alive, owner_tags
from keel.tuning._space import Space

SAMPLERS = ("tpe", "random", "qmc", "gp", "nsga2")
PRUNERS = ("none", "median", "percentile", "hyperband", "successive_halving")


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


def optimize(
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
class TrialRunner:
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


def open_study(client: TrackingClient, current: Sweep, sampler: Any, pruner: Any, seed: Any) -> Any:
    """The Optuna study of generation ``current``, stored in keel's store; and its storage.
    A TPE or GP sampler of a re-tuned generation also learns from the previous one's trials
    (:mod:`keel.tuning._sweep_prior`)."""
    import optuna

    from keel.tuning._sweep_prior import with_prior
    from keel.tuning._sweep_storage import KeelStorage, study_name

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # keel records each failure
    storage = KeelStorage(client.store.sweeps, client.project.id)
    study = optuna.Study(
        study_name=study_name(current),
        storage=storage,
        sampler=with_prior(make_sampler(sampler, seed), sampler, client, current),
        pruner=make_pruner(pruner),
    )
    return study, storage


__all__ = [
    "PRUNERS",
    "SAMPLERS",
    "TrialRunner",
    "make_pruner",
    "make_sampler",
    "open_study",
    "optimize",
    "report",
]
