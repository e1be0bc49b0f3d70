"""An Optuna storage over keel's :class:`~keel.store.protocols.Sweeps` protocol.

Optuna's samplers, pruners and study run unchanged; the trials live in keel's own store
(SQLite, PostgreSQL or a ``keel server``), so there is no second database. One storage is
bound to one project and is thread-safe (``n_jobs`` threads share it).

What it guarantees, like Optuna's own cached RDB storage: every write of a study attribute
and of a trial's *state* is durable when the call returns, and everything a trial recorded
before (params, intermediate values, attributes) is written in the same transaction as
its final state. Until then the worker that runs the trial keeps those writes in memory
and answers its own reads from there: a trial costs two writes (create, finish) and one
incremental read per sampling, instead of one transaction per param.

Racing workers: a new trial's number is unique in its sweep (the store retries a taken
number), and a WAITING trial (enqueued) moves to RUNNING only through the store's
conditional claim, so it runs once.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Container, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    check_distribution_compatibility,
    distribution_to_json,
    json_to_distribution,
)
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import BaseStorage
from optuna.study import StudyDirection
from optuna.study._frozen import FrozenStudy
from optuna.trial import FrozenTrial
from optuna.trial import TrialState as OptunaState

from keel.exceptions import ConflictError, NotFoundError
from keel.store.protocols import Sweeps
from keel.store.sweeps import Trial, TrialPatch, TrialState

#: Between a sweep's name and a generation in an Optuna study name: a control character, which
#: no keel name may hold, so the form is never ambiguous.
GENERATION_SEP = "\x1f"


def study_name(sweep: Any) -> str:
    """The Optuna study name of exactly this generation of ``sweep``."""
    return f"{sweep.name}{GENERATION_SEP}{sweep.generation}"


@functools.lru_cache(maxsize=4096)
def _dist(text: str) -> BaseDistribution:
    return json_to_distribution(text)


def _when(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000)


def frozen(trial: Trial) -> FrozenTrial:
    """The Optuna view of a stored trial (params back in their external form)."""
    dists = {name: _dist(text) for name, text in trial.distributions.items()}
    params = {
        name: dists[name].to_external_repr(value)
        for name, value in trial.params.items()
        if name in dists
    }
    return FrozenTrial(
        number=trial.number,
        state=OptunaState[trial.state.value],
        value=None,
        values=trial.values,
        datetime_start=_when(trial.started_at),
        datetime_complete=_when(trial.finished_at),
        params=params,
        distributions={k: v for k, v in dists.items() if k in params},
        user_attrs=dict(trial.user_attrs),
        system_attrs=dict(trial.system_attrs),
        intermediate_values=dict(trial.intermediate),
        trial_id=trial.id,
    )


@dataclass
class _Owned:
    """A RUNNING trial this process runs: what it wrote since it was stored."""

    trial: Trial
    patch: TrialPatch = field(default_factory=TrialPatch)


class KeelStorage(BaseStorage):
    """Optuna's :class:`~optuna.storages.BaseStorage` over keel's sweeps repository."""

    def __init__(self, sweeps: Sweeps, project_id: int) -> None:
        self._repo = sweeps
        self._pid = project_id
        self._lock = threading.RLock()
        self._owned: dict[int, _Owned] = {}
        self._done: dict[int, dict[int, FrozenTrial]] = {}  # study -> number -> finished
        self._open: dict[int, dict[int, FrozenTrial]] = {}  # study -> number -> unfinished
        self._seen: dict[int, int] = {}  # study -> highest trial id read
        self._study_of: dict[int, int] = {}  # trial id -> study id
        self._finished: dict[int, FrozenTrial] = {}  # trial id -> finished trial
        self._directions: dict[int, list[StudyDirection]] = {}
        self._dists: dict[int, dict[str, BaseDistribution]] = {}

    # -- studies ---------------------------------------------------------------------------
    def create_new_study(
        self, directions: Sequence[StudyDirection], study_name: str | None = None
    ) -> int:
        name = study_name or f"study-{datetime.now():%Y%m%d-%H%M%S-%f}"
        if self._repo.find(self._pid, name) is not None:
            raise optuna.exceptions.DuplicatedStudyError(f"sweep {name!r} exists")
        dirs = [d.name.lower() for d in directions]
        return self._repo.create(self._pid, name, directions=dirs).id

    def delete_study(self, study_id: int) -> None:
        self._repo.delete(self._pid, study_id)

    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        self._repo.update(self._pid, study_id, user_attrs={key: value})

    def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
        self._repo.update(self._pid, study_id, system_attrs={key: value})

    def get_study_id_from_name(self, study_name: str) -> int:
        """The newest generation of sweep ``study_name``, or the one :func:`study_name` names."""
        name, sep, generation = study_name.rpartition(GENERATION_SEP)
        if sep and generation.isdigit():
            try:
                return self._repo.get(self._pid, name, generation=int(generation)).id
            except NotFoundError as exc:
                raise KeyError(str(exc)) from exc
        found = self._repo.find(self._pid, study_name)
        if found is None:
            raise KeyError(f"sweep {study_name!r} does not exist")
        return found.id

    def get_study_name_from_id(self, study_id: int) -> str:
        return self._sweep(study_id).name

    def get_study_directions(self, study_id: int) -> list[StudyDirection]:
        with self._lock:
            known = self._directions.get(study_id)
        if known is None:
            known = [StudyDirection[d.upper()] for d in self._sweep(study_id).directions]
            with self._lock:
                self._directions[study_id] = known
        return list(known)

    def get_study_user_attrs(self, study_id: int) -> dict[str, Any]:
        return dict(self._sweep(study_id).user_attrs)

    def get_study_system_attrs(self, study_id: int) -> dict[str, Any]:
        return dict(self._sweep(study_id).system_attrs)

    def get_all_studies(self) -> list[FrozenStudy]:
        return [
            FrozenStudy(
                study_name=s.name,
                direction=None,
                directions=[StudyDirection[d.upper()] for d in s.directions],
                user_attrs=s.user_attrs,
                system_attrs=s.system_attrs,
                study_id=s.id,
            )
            for s in self._repo.list(self._pid)
        ]

    def _sweep(self, study_id: int) -> Any:
        try:
            return self._repo.get_by_id(self._pid, study_id)
        except NotFoundError as exc:
            raise KeyError(str(exc)) from exc

    # -- trials ----------------------------------------------------------------------------
    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        patch = TrialPatch()
        if template_trial is not None:
            t = template_trial
            patch = TrialPatch(
                state=TrialState(t.state.name),
                values=None if t.values is None else [float(v) for v in t.values],
                params={k: t.distributions[k].to_internal_repr(v) for k, v in t.params.items()},
                distributions={k: distribution_to_json(d) for k, d in t.distributions.items()},
                intermediate=dict(t.intermediate_values),
                user_attrs=dict(t.user_attrs),
                system_attrs=dict(t.system_attrs),
            )
        trial = self._repo.add_trial(self._pid, study_id, patch)
        with self._lock:
            self._study_of[trial.id] = study_id
            if trial.state is TrialState.RUNNING:
                self._owned[trial.id] = _Owned(trial)
        return trial.id

    def set_trial_param(
        self,
        trial_id: int,
        param_name: str,
        param_value_internal: float,
        distribution: BaseDistribution,
    ) -> None:
        with self._lock:
            owned = self._mine(trial_id)
            study_dists = self._dists.setdefault(self._study_of[trial_id], {})
            known = study_dists.get(param_name)
            if known is not None:
                check_distribution_compatibility(known, distribution)
            else:
                study_dists[param_name] = distribution
            owned.patch.params[param_name] = float(param_value_internal)
            owned.patch.distributions[param_name] = distribution_to_json(distribution)

    def set_trial_intermediate_value(
        self, trial_id: int, step: int, intermediate_value: float
    ) -> None:
        with self._lock:
            self._mine(trial_id).patch.intermediate[int(step)] = float(intermediate_value)

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        with self._lock:
            self._mine(trial_id).patch.user_attrs[key] = value

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        with self._lock:
            self._mine(trial_id).patch.system_attrs[key] = value

    def set_trial_note(self, trial_id: int, *, run_id: str | None = None, reason: str = "") -> None:
        """keel's own fields of a running trial (its run, why it failed), written with its end."""
        with self._lock:
            owned = self._mine(trial_id)
            owned.patch = _with(owned.patch, run_id=run_id or owned.patch.run_id, reason=reason)

    def set_trial_state_values(
        self, trial_id: int, state: OptunaState, values: Sequence[float] | None = None
    ) -> bool:
        target = TrialState(state.name)
        if target is TrialState.RUNNING:
            with self._lock:
                if trial_id in self._owned:
                    return False
            if not self._repo.claim_trial(self._pid, trial_id):
                return False
            trial = self._repo.get_trial(self._pid, trial_id)
            with self._lock:
                self._owned[trial_id] = _Owned(trial)
                self._study_of[trial_id] = trial.sweep_id
            return True
        with self._lock:
            owned = self._owned.get(trial_id)
        patch = owned.patch if owned is not None else TrialPatch()
        patch = _with(
            patch,
            state=target,
            values=None if values is None else [float(v) for v in values],
        )
        try:
            stored = self._repo.update_trial(self._pid, trial_id, patch)
        except ConflictError as exc:
            raise UpdateFinishedTrialError(str(exc)) from exc
        except NotFoundError as exc:
            raise KeyError(str(exc)) from exc
        with self._lock:
            self._owned.pop(trial_id, None)
            self._remember(stored)
        return True

    def get_trial(self, trial_id: int) -> FrozenTrial:
        with self._lock:
            owned = self._owned.get(trial_id)
            if owned is not None:
                return _overlay(owned)
            cached = self._finished.get(trial_id)
            if cached is not None:
                return cached
        try:
            return frozen(self._repo.get_trial(self._pid, trial_id))
        except NotFoundError as exc:
            raise KeyError(str(exc)) from exc

    def get_all_trials(
        self,
        study_id: int,
        deepcopy: bool = True,
        states: Container[OptunaState] | None = None,
    ) -> list[FrozenTrial]:
        self._refresh(study_id)
        with self._lock:
            merged = {**self._done.get(study_id, {}), **self._open.get(study_id, {})}
            for owned in self._owned.values():
                if owned.trial.sweep_id == study_id:
                    merged[owned.trial.number] = _overlay(owned)
            trials = [merged[n] for n in sorted(merged)]
        if states is not None:
            trials = [t for t in trials if t.state in states]
        return copy.deepcopy(trials) if deepcopy else trials

    def get_trial_id_from_study_id_trial_number(self, study_id: int, trial_number: int) -> int:
        for trial in self.get_all_trials(study_id, deepcopy=False):
            if trial.number == trial_number:
                return trial._trial_id
        raise KeyError(f"sweep id {study_id} has no trial number {trial_number}")

    # -- the cache -------------------------------------------------------------------------
    def _refresh(self, study_id: int) -> None:
        """Read only trials not seen yet, plus those seen unfinished."""
        with self._lock:
            after = self._seen.get(study_id, -1)
            unfinished = [t._trial_id for t in self._open.get(study_id, {}).values()]
        fresh = self._repo.trials(self._pid, study_id, after_id=after, ids=unfinished)
        with self._lock:
            for trial in fresh:
                self._remember(trial)
                self._seen[study_id] = max(self._seen.get(study_id, -1), trial.id)

    def _remember(self, trial: Trial) -> None:
        study_id = trial.sweep_id
        self._study_of[trial.id] = study_id
        view = frozen(trial)
        if trial.state.is_finished:
            self._done.setdefault(study_id, {})[trial.number] = view
            self._finished[trial.id] = view
            self._open.get(study_id, {}).pop(trial.number, None)
        else:
            self._open.setdefault(study_id, {})[trial.number] = view

    def _mine(self, trial_id: int) -> _Owned:
        owned = self._owned.get(trial_id)
        if owned is None:
            state = self.get_trial(trial_id).state
            if state.is_finished():
                raise UpdateFinishedTrialError(
                    f"trial id {trial_id} already ended {state.name}; it cannot change"
                )
            raise RuntimeError(f"trial id {trial_id} is {state.name} and not run by this worker")
        return owned


def _with(patch: TrialPatch, **changes: Any) -> TrialPatch:
    from dataclasses import replace

    return replace(patch, **changes)


def _overlay(owned: _Owned) -> FrozenTrial:
    """A running trial as stored, with what this worker wrote since."""
    t, p = owned.trial, owned.patch
    return frozen(
        Trial(
            id=t.id,
            sweep_id=t.sweep_id,
            number=t.number,
            state=t.state,
            values=t.values,
            params={**t.params, **p.params},
            distributions={**t.distributions, **p.distributions},
            intermediate={**t.intermediate, **p.intermediate},
            user_attrs={**t.user_attrs, **p.user_attrs},
            system_attrs={**t.system_attrs, **p.system_attrs},
            run_id=p.run_id or t.run_id,
            reason=p.reason or t.reason,
            stale=t.stale,
            started_at=t.started_at,
            finished_at=t.finished_at,
        )
    )


__all__ = ["GENERATION_SEP", "KeelStorage", "frozen", "study_name"]
