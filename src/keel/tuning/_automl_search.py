"""The cost-aware search: cross-validated candidates in growing rounds, then Caruana selection.

Round 0 fits every family's cheapest config; each later round keeps the better half of the
families (at least two), doubles the size of tree ensembles and steps locally around each
family's best config — successive halving over families with FLAML's cheap-first order.
Every fold checks the clock first, so a candidate that would overrun the budget is not started.
Candidates run on a runner (:mod:`keel.tuning._automl_runner`): in this process one after the
other, or on a Dask cluster several at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from keel.tuning._automl_families import Config, Family
from keel.tuning._automl_prep import Metric


@dataclass(frozen=True)
class Candidate:
    """One evaluated config: its cross-validated score (greater is better) and its cost."""

    number: int
    family: str
    config: Config
    score: float
    fit_seconds: float
    oof: Any = field(repr=False, compare=False)  # out-of-fold predictions, for the ensemble
    trees: float = 0.0  # trees its fold models grew (what packaging it scales with)


@dataclass
class Folds:
    """The training split cut into folds, each fold's preprocessing fitted on its own train part."""

    parts: list[tuple[Any, Any, Any, Any, np.ndarray]]  # X_tr, y_tr, X_va, y_va, va index
    y: np.ndarray
    n_classes: int  # 0 for regression


def make_folds(X: Any, y: np.ndarray, task: str, n_folds: int, prep: Any, seed: int) -> Folds:
    from sklearn.base import clone
    from sklearn.model_selection import KFold, StratifiedKFold

    splitter = (
        KFold(n_folds, shuffle=True, random_state=seed)
        if task == "regression"
        else StratifiedKFold(n_folds, shuffle=True, random_state=seed)
    )
    parts = []
    for tr, va in splitter.split(X, y):
        p = clone(prep)
        X_tr = np.asarray(p.fit_transform(X.iloc[tr]), dtype=np.float64)
        X_va = np.asarray(p.transform(X.iloc[va]), dtype=np.float64)
        parts.append((X_tr, y[tr], X_va, y[va], va))
    n_classes = 0 if task == "regression" else int(y.max()) + 1
    return Folds(parts, y, n_classes)


def _predict(model: Any, X: Any, n_classes: int) -> np.ndarray:
    if not n_classes:
        return np.asarray(model.predict(X), dtype=np.float64)
    proba = np.asarray(model.predict_proba(X), dtype=np.float64)
    if proba.shape[1] == n_classes:
        return proba
    # a fold missing a rare class: put its columns back at zero
    full = np.zeros((proba.shape[0], n_classes))
    full[:, np.asarray(model.classes_, dtype=int)] = proba
    return full


class Clock:
    """The budget of one ``keel.automl`` call, from the call to the registered model.

    ``reserve_s`` is what the steps after the search are expected to take (re-planned as
    candidates land); the search stops when only that is left. ``mark(phase)`` books the
    time since the last mark to ``phase``, so the run records where the budget went.
    """

    def __init__(self, budget_s: float) -> None:
        self.start = time.monotonic()
        self.budget_s = budget_s
        self.reserve_s = 0.0
        self.phases: dict[str, float] = {}
        self._marked = 0.0

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def left(self) -> float:
        """Seconds the search may still use."""
        return self.budget_s - self.reserve_s - self.elapsed()

    def remaining(self) -> float:
        """Seconds until the whole call must have ended."""
        return self.budget_s - self.elapsed()

    def deadline(self) -> float:
        """The search's end as wall-clock time (``time.time()``, comparable across processes)."""
        return time.time() + max(self.left(), 0.0)

    @property
    def marked(self) -> float:
        """Seconds from the start to the last ``mark`` (every one of them booked to a phase)."""
        return self._marked

    def mark(self, phase: str) -> float:
        now = self.elapsed()
        spent = now - self._marked
        self.phases[phase] = self.phases.get(phase, 0.0) + spent
        self._marked = now
        return spent


@dataclass(frozen=True)
class Job:
    """One config to cross-validate, as sent to a runner (plain data: it may cross processes).

    ``deadline`` is wall-clock time (``time.time()``): a fold is not started when the folds
    so far say it would end after it. ``force`` runs every fold whatever the clock says.
    """

    family: str
    task: str
    config: Config
    seed: int
    deadline: float
    force: bool = False
    expected_s: float = 0.0  # what its folds should take, from the family's last candidate


@dataclass(frozen=True)
class Outcome:
    """What cross-validating a job gave: out-of-fold predictions, or ``None`` if cut short."""

    oof: Any
    fold_seconds: list[float]
    trees: float = 0.0  # the fold models' trees, the most of any fold


#: A LightGBM/XGBoost tree costs this share of a scikit-learn tree to package (it is one
#: byte array inside skops; only the ONNX twin converts tree by tree).
BOOSTER_TREE_SHARE = 0.25


def tree_count(est: Any) -> float:
    """The trees of a fitted estimator (early stopping makes this less than its cap)."""
    from keel.models._native_boost import _NativeBooster

    if isinstance(est, _NativeBooster):
        classes = len(getattr(est, "classes_", ())) if est._classifier else 1
        return getattr(est, "n_iter_", 0) * BOOSTER_TREE_SHARE * max(classes, 1)
    if hasattr(est, "_predictors"):  # histogram gradient boosting: one tree per class a round
        return float(sum(len(p) for p in est._predictors))
    return float(len(getattr(est, "estimators_", ())))


def cross_validate(job: Job, folds: Folds) -> Outcome:
    """Fit ``job``'s config on every fold (one BLAS/OpenMP thread) and predict the held-out part.

    A module-level function of plain arguments, so Dask workers can run it. Past
    ``job.deadline`` a running fit is cut (:func:`fit_by`) and the job gives no candidate.
    """
    import warnings

    from threadpoolctl import threadpool_limits

    from keel.models._native_boost import DeadlineReached
    from keel.tuning._automl_families import FAMILIES

    fam = FAMILIES[job.family]
    if not job.force and job.expected_s > job.deadline - time.time():
        return Outcome(None, [])  # it would overrun what is left: not started
    shape = (len(folds.y), folds.n_classes) if folds.n_classes else (len(folds.y),)
    oof = np.zeros(shape)
    times: list[float] = []
    trees = 0.0
    deadline = None if job.force else job.deadline
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter from cheap configs
        for X_tr, y_tr, X_va, _y_va, va in folds.parts:
            if deadline is not None and times and float(np.mean(times)) > deadline - time.time():
                return Outcome(None, times)  # the next fold would overrun: stop here
            t = time.monotonic()
            try:
                model = fit_by(fam.build(job.task, job.config, job.seed), X_tr, y_tr, deadline)
            except DeadlineReached:
                return Outcome(None, [*times, time.monotonic() - t])  # cut at the deadline
            oof[va] = _predict(model, X_va, folds.n_classes)
            times.append(time.monotonic() - t)
            trees = max(trees, tree_count(model))
    return Outcome(oof, times, trees)


#: A tree ensemble's first warm-started step grows at most this many trees.
FIRST_GROWTH = 16


def fit_by(model: Any, X: Any, y: Any, deadline: float | None) -> Any:
    """``model.fit(X, y)``, cut with ``DeadlineReached`` once it cannot end by ``deadline``
    (``time.time()``): boosters check after every round; forests and histogram boosting
    grow their trees in doubling warm-started steps (the same trees as one fit), each step
    started only if the time per tree so far says it ends in time."""
    from keel.models._native_boost import DeadlineReached, stop_at

    if deadline is None:
        return model.fit(X, y)
    params = model.get_params()
    size = next((k for k in ("n_estimators", "max_iter") if k in params), None)
    if "warm_start" not in params or size is None:
        with stop_at(deadline):
            return model.fit(X, y)
    target, grown, started = int(params[size]), 0, time.monotonic()
    step = max(1, min(target // 8, FIRST_GROWTH))
    while grown < target:
        nxt = min(target, grown + step)
        if grown and (time.monotonic() - started) / grown * (nxt - grown) > deadline - time.time():
            raise DeadlineReached(f"{type(model).__name__} stopped at {grown} of {target}")
        model.set_params(warm_start=True, **{size: nxt})
        model.fit(X, y)
        if getattr(model, "n_iter_", nxt) < nxt:
            break  # histogram boosting stopped early: that is its whole fit
        grown, step = nxt, nxt
    return model.set_params(warm_start=False)


class Runner(Protocol):
    """Runs cross-validation jobs, ``capacity`` at once (:mod:`keel.tuning._automl_runner`)."""

    name: str
    capacity: int

    def start(self, folds: Folds, families: list[str]) -> None: ...

    def run(self, jobs: list[Job]) -> Iterator[tuple[Job, Outcome]]: ...

    def close(self) -> None: ...


@dataclass(eq=False)
class Search:
    """Run the rounds on ``runner``; ``on_candidate`` sees every candidate as it lands."""

    families: list[Family]
    task: str
    metric: Metric
    folds: Folds
    clock: Clock
    seed: int
    on_candidate: Callable[[Candidate], None]
    runner: Runner

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        self.candidates: list[Candidate] = []
        self.fold_cost: dict[str, tuple[float, int]] = {}  # family -> (seconds per fold, size)
        self.skipped = 0
        self.score_s = 0.0  # a metric evaluation's median time (ensemble selection repeats it)
        self._scored: list[float] = []

    def best_of(self, family: str) -> Candidate | None:
        mine = [c for c in self.candidates if c.family == family]
        return max(mine, key=lambda c: c.score) if mine else None

    def run(self) -> list[Candidate]:
        """Evaluate rounds until the clock runs out; the search's first candidate always runs
        (so even a budget shorter than one fit ends with a model)."""
        self.runner.start(self.folds, [f.name for f in self.families])
        alive = list(self.families)
        round_ = 0
        while self.clock.left() > 0 or not self.candidates:
            started = len(self.candidates)
            per_family = max(1, -(-self.runner.capacity // len(alive)))
            for _ in range(per_family):
                self._evaluate([(fam, self._propose(fam, round_)) for fam in alive])
                if self.clock.left() <= 0:
                    break
            if len(self.candidates) == started and round_ > 0:
                break  # nothing fits in what is left
            round_ += 1
            alive = self._survivors(alive)
        return self.candidates

    def _propose(self, fam: Family, round_: int) -> Config:
        best = self.best_of(fam.name)
        return dict(fam.start) if best is None else fam.propose(best.config, self.rng, round_)

    def _survivors(self, alive: list[Family]) -> list[Family]:
        ranked = sorted(
            alive,
            key=lambda f: b.score if (b := self.best_of(f.name)) else -np.inf,
            reverse=True,
        )
        keep = max(2, (len(ranked) + 1) // 2)
        return ranked[:keep]

    def _estimate(self, fam: Family, config: Config) -> float:
        seen = self.fold_cost.get(fam.name)
        if seen is None:
            return 0.0
        per_fold, size = seen
        growth = config[fam.size] / size if fam.size and size else 1.0
        return per_fold * growth

    def _evaluate(self, proposals: list[tuple[Family, Config]]) -> None:
        """Cross-validate the proposals that the budget covers, on the runner, in parallel
        where it has room; each finished one becomes a candidate as it lands."""
        n_folds = len(self.folds.parts)
        jobs: list[Job] = []
        for fam, config in proposals:
            force = not self.candidates and not jobs
            if not force and self._estimate(fam, config) * n_folds > self.clock.left():
                self.skipped += 1
                continue
            deadline = self.clock.deadline()
            expected = self._estimate(fam, config) * n_folds
            jobs.append(Job(fam.name, self.task, config, self.seed, deadline, force, expected))
        for job, outcome in self.runner.run(jobs):
            self._accept(job, outcome)

    def _accept(self, job: Job, outcome: Outcome) -> None:
        fam = next(f for f in self.families if f.name == job.family)
        if outcome.oof is None:
            self.skipped += 1
            return
        size = job.config.get(fam.size, 0) if fam.size else 0
        self.fold_cost[fam.name] = (float(np.mean(outcome.fold_seconds)), size)
        scored = time.monotonic()
        try:
            score = self.metric.score(self.folds.y, outcome.oof)
        except ValueError:
            score = -np.inf
        self._scored += [time.monotonic() - scored]
        self.score_s = float(np.median(self._scored))
        if not np.isfinite(score):
            score = -np.inf
        cand = Candidate(
            len(self.candidates) + 1,
            fam.name,
            job.config,
            score,
            sum(outcome.fold_seconds),
            outcome.oof,
            outcome.trees,
        )
        self.candidates.append(cand)
        self.on_candidate(cand)


def caruana(
    candidates: list[Candidate], y: np.ndarray, metric: Metric, iterations: int = 25
) -> dict[int, int]:
    """Greedy ensemble selection with replacement (Caruana et al., 2004) on out-of-fold predictions.

    Returns candidate number -> how many times it was picked (its weight in the average).
    """
    pool = [c for c in candidates if np.isfinite(c.score)]
    if not pool:
        return {}
    best = max(pool, key=lambda c: c.score)
    counts = {best.number: 1}
    total = np.array(best.oof, dtype=np.float64)
    current = best.score
    for k in range(2, iterations + 1):
        scored = []
        for c in pool:
            blend = (total + c.oof) / k
            try:
                scored.append((metric.score(y, blend), c))
            except ValueError:
                continue
        if not scored:
            break
        value, pick = max(scored, key=lambda s: s[0])
        if value < current - 1e-12 and k > 2:
            break
        counts[pick.number] = counts.get(pick.number, 0) + 1
        total = total + pick.oof
        current = max(current, value)
    return counts


def blend_score(
    candidates: list[Candidate], weights: dict[int, int], y: np.ndarray, metric: Metric
) -> float:
    """The cross-validated score of the weighted average of ``weights``' candidates."""
    by_number = {c.number: c for c in candidates}
    total = sum(weights.values())
    blend = sum(by_number[n].oof * w for n, w in weights.items()) / total
    return metric.score(y, blend)


__all__ = [
    "Candidate",
    "Clock",
    "Folds",
    "Job",
    "Outcome",
    "Runner",
    "Search",
    "blend_score",
    "caruana",
    "cross_validate",
    "fit_by",
    "make_folds",
    "tree_count",
]
