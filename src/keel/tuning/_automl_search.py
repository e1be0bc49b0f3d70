"""The cost-aware search: cross-validated candidates in growing rounds, then Caruana selection.

Round 0 fits every family's cheapest config; each later round keeps the better half of the
families (at least two), doubles the size of tree ensembles and steps locally around each
family's best config — successive halving over families with FLAML's cheap-first order.
Every fold checks the clock first, so a candidate that would overrun the budget is not started.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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
    """The budget: when the search must stop so the final fit and packaging still fit in."""

    def __init__(self, budget_s: float) -> None:
        self.start = time.monotonic()
        self.budget_s = budget_s
        self.reserve_s = 0.0

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def left(self) -> float:
        return self.budget_s - self.reserve_s - self.elapsed()


class Search:
    """Run the rounds; ``on_candidate`` sees every finished candidate as it lands."""

    def __init__(
        self,
        families: list[Family],
        task: str,
        metric: Metric,
        folds: Folds,
        clock: Clock,
        seed: int,
        on_candidate: Callable[[Candidate], None],
    ) -> None:
        self.families = families
        self.task = task
        self.metric = metric
        self.folds = folds
        self.clock = clock
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.on_candidate = on_candidate
        self.candidates: list[Candidate] = []
        self.fold_cost: dict[str, tuple[float, int]] = {}  # family -> (seconds per fold, size)
        self.skipped = 0

    def best_of(self, family: str) -> Candidate | None:
        mine = [c for c in self.candidates if c.family == family]
        return max(mine, key=lambda c: c.score) if mine else None

    def run(self) -> list[Candidate]:
        """Evaluate rounds until the clock runs out, one BLAS/OpenMP thread per fit.

        (Several threads per fit on a shared machine cost far more than they save, and
        candidates are the unit of parallelism.)
        """
        import warnings

        from threadpoolctl import threadpool_limits

        with threadpool_limits(1), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter from cheap configs
            return self._rounds()

    def _rounds(self) -> list[Candidate]:
        alive = list(self.families)
        round_ = 0
        while self.clock.left() > 0 or not self.candidates:
            started = len(self.candidates)
            for fam in alive:
                best = self.best_of(fam.name)
                config = (
                    dict(fam.start) if best is None else fam.propose(best.config, self.rng, round_)
                )
                self.evaluate(fam, config, force=not self.candidates)
                if self.clock.left() <= 0:
                    break
            if len(self.candidates) == started and round_ > 0:
                break  # nothing fits in what is left
            round_ += 1
            alive = self._survivors(alive)
        return self.candidates

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

    def evaluate(self, fam: Family, config: Config, force: bool = False) -> Candidate | None:
        """Cross-validate one config; ``None`` when the budget would not cover it.

        ``force`` runs it whatever the clock says (the search's first candidate, so even a
        budget shorter than one fit ends with a model).
        """
        n_folds = len(self.folds.parts)
        if not force and self._estimate(fam, config) * n_folds > self.clock.left():
            self.skipped += 1
            return None
        shape = (
            (len(self.folds.y), self.folds.n_classes)
            if self.folds.n_classes
            else (len(self.folds.y),)
        )
        oof = np.zeros(shape)
        times: list[float] = []
        for X_tr, y_tr, X_va, _y_va, va in self.folds.parts:
            if not force and times and float(np.mean(times)) > self.clock.left():
                self.skipped += 1
                return None  # the next fold would overrun: stop this candidate here
            t = time.monotonic()
            model = fam.build(self.task, config, self.seed).fit(X_tr, y_tr)
            oof[va] = _predict(model, X_va, self.folds.n_classes)
            times.append(time.monotonic() - t)
        size = config.get(fam.size, 0) if fam.size else 0
        self.fold_cost[fam.name] = (float(np.mean(times)), size)
        try:
            score = self.metric.score(self.folds.y, oof)
        except ValueError:
            score = -np.inf
        if not np.isfinite(score):
            score = -np.inf
        cand = Candidate(len(self.candidates) + 1, fam.name, config, score, sum(times), oof)
        self.candidates.append(cand)
        self.on_candidate(cand)
        return cand


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


__all__ = ["Candidate", "Clock", "Folds", "Search", "blend_score", "caruana", "make_folds"]
