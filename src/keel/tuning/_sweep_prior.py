"""Warm start by prior knowledge: a new generation's sampler also sees the previous
generation's finished trials.

When a sweep's data or code changed, its best old configurations are enqueued first
(:func:`keel.tuning._sweep_generations.warm_start`), but those exact points may score
worse on the new data. What transfers better is where the good region lies: so the
sampler of the new generation (TPE or GP, single objective, same space) builds its model
from the old trials *and* the new ones. The old trials are never stored in the new
generation (its counts, budget and best trial are its own): :class:`PriorSampler` hands
the wrapped sampler a view of the study whose trial lists start with them (numbered below
zero, so they sort before every trial of the new generation).

Old values were measured on the old data: if the new data scores lower across the board,
raw old values would outrank every new trial and keep the sampler on the old best points
for ever. The enqueued old configurations calibrate them: once some have run again, every
old value is shifted by the median change those re-runs show (:func:`calibrated`).
"""

from __future__ import annotations

import copy
import statistics
from collections.abc import Container, Sequence
from typing import Any

from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial, TrialState

from keel.store.sweeps import Sweep
from keel.store.sweeps import TrialState as StoredState
from keel.tracking import TrackingClient

#: Samplers that learn from past trials' values (the others ignore a prior or keep
#: per-study state of their own, as NSGA-II's generations).
PRIOR_SAMPLERS = ("tpe", "gp")
#: The new generation's own completed trials after which its sampler stops reading the old
#: ones (None: never stops).
PRIOR_UNTIL: int | None = 10
#: The most old trials a sampler reads (an even sample of a bigger generation).
MAX_PRIOR = 1000


#: The user attribute an enqueued warm-start trial carries: the old trial's number.
FROM = "keel.warm_start_from"


def calibrated(prior: Sequence[FrozenTrial], own: Sequence[FrozenTrial]) -> list[FrozenTrial]:
    """``prior`` with each value shifted by the median of (new - old) over the old trials
    that ran again in ``own`` (the enqueued warm start); as they are while none has."""
    old = {t.user_attrs.get("keel.number", t.number): t for t in prior}
    shifts = [
        t.values[0] - old[t.user_attrs[FROM]].values[0]
        for t in own
        if t.state is TrialState.COMPLETE
        and t.values
        and t.user_attrs.get(FROM) in old
        and old[t.user_attrs[FROM]].values
    ]
    if not shifts:
        return list(prior)
    shift = statistics.median(shifts)
    out = []
    for t in prior:
        moved = copy.copy(t)
        if t.values:
            moved.values = [t.values[0] + shift]
        out.append(moved)
    return out


class _PriorView:
    """A study whose trial lists start with the prior trials (calibrated by the study's
    own re-runs of them); the rest is the study's."""

    def __init__(self, study: Any, prior: Sequence[FrozenTrial], own: list[FrozenTrial]) -> None:
        self._study = study
        self._prior = calibrated(prior, own)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    def _prior_in(self, states: Container[TrialState] | None) -> list[FrozenTrial]:
        return [t for t in self._prior if states is None or t.state in states]

    def _get_trials(
        self,
        deepcopy: bool = True,
        states: Container[TrialState] | None = None,
        use_cache: bool = False,
    ) -> list[FrozenTrial]:
        own = self._study._get_trials(deepcopy=deepcopy, states=states, use_cache=use_cache)
        return self._prior_in(states) + own

    def get_trials(
        self, deepcopy: bool = True, states: Container[TrialState] | None = None
    ) -> list[FrozenTrial]:
        return self._get_trials(deepcopy=deepcopy, states=states)

    @property
    def trials(self) -> list[FrozenTrial]:
        return self._get_trials()


class PriorSampler(BaseSampler):
    """``inner`` sampling as if ``prior`` (finished trials of an earlier generation) had
    run in this study first."""

    def __init__(self, inner: BaseSampler, prior: Sequence[FrozenTrial]) -> None:
        self._inner = inner
        self._prior = list(prior)

    def _view(self, study: Any) -> Any:
        own = study._get_trials(deepcopy=False, states=(TrialState.COMPLETE,), use_cache=True)
        if PRIOR_UNTIL is not None and len(own) >= PRIOR_UNTIL:
            return study  # enough of its own: the new data speaks for itself
        return _PriorView(study, self._prior, own)

    def infer_relative_search_space(self, study: Any, trial: FrozenTrial) -> dict[str, Any]:
        return self._inner.infer_relative_search_space(self._view(study), trial)

    def sample_relative(
        self, study: Any, trial: FrozenTrial, search_space: dict[str, Any]
    ) -> dict[str, Any]:
        return self._inner.sample_relative(self._view(study), trial, search_space)

    def sample_independent(
        self, study: Any, trial: FrozenTrial, param_name: str, param_distribution: Any
    ) -> Any:
        view = self._view(study)
        return self._inner.sample_independent(view, trial, param_name, param_distribution)

    def before_trial(self, study: Any, trial: FrozenTrial) -> None:
        self._inner.before_trial(study, trial)

    def after_trial(
        self,
        study: Any,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self._inner.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self._inner.reseed_rng()


def prior_trials(client: TrackingClient, current: Sweep) -> list[FrozenTrial]:
    """The finished trials of the generation ``current`` replaced, when it searched the
    same space in the same directions (else none), numbered below zero."""
    from keel.tuning._sweep_storage import frozen

    if current.generation < 2 or len(current.directions) != 1:
        return []
    repo, pid = client.store.sweeps, client.project.id
    before = [g for g in repo.list(pid, name=current.name) if g.generation < current.generation]
    if not before:
        return []
    previous = max(before, key=lambda g: g.generation)
    space = current.spec.get("fingerprints", {}).get("space")
    if previous.directions != current.directions or (
        space is None or previous.spec.get("fingerprints", {}).get("space") != space
    ):
        return []
    states = [StoredState.COMPLETE, StoredState.PRUNED]
    found = [t for t in repo.trials(pid, previous.id, states=states) if t.params]
    if len(found) > MAX_PRIOR:
        stride = len(found) / MAX_PRIOR
        found = [found[int(i * stride)] for i in range(MAX_PRIOR)]
    out = []
    for i, trial in enumerate(found):
        view = frozen(trial)
        view.set_user_attr("keel.number", trial.number)  # what a warm-start re-run names
        view.number = i - len(found)
        out.append(view)
    return out


def with_prior(chosen: Any, name: Any, client: TrackingClient, current: Sweep) -> Any:
    """``chosen`` (the sampler named ``name``) wrapped with the previous generation's
    trials as prior knowledge, when it is one of :data:`PRIOR_SAMPLERS` and there are any."""
    if not isinstance(name, str) or name not in PRIOR_SAMPLERS:
        return chosen
    prior = prior_trials(client, current)
    return PriorSampler(chosen, prior) if prior else chosen


__all__ = ["MAX_PRIOR", "PRIOR_SAMPLERS", "PriorSampler", "prior_trials", "with_prior"]
