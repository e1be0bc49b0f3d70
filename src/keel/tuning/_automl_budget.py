"""How ``keel.automl`` keeps its budget: from the call to the registered model, within 5%.

The fixed costs are measured as they happen (the clock starts at the call; every phase is
booked by :meth:`Clock.mark`). Packaging is measured before the search by packaging two
small probes the way the winner will be (skops, signature, ONNX twin and parity, signing):
a one-member ensemble gives the fixed cost, one with :data:`PROBE_TREES` trees more the cost
per tree. While the search runs, the time kept for what follows it (ensemble selection, the
refit of the likely members on all training rows — their measured fold fits scaled — and
packaging them) is re-planned after every candidate, and the search ends when only that is
left. After the search the plan is checked against the time really left: members are
dropped from the ensemble while their refit and packaging would overrun, and the ONNX twin
is skipped when packaging with it would. The plan and what each phase took are recorded on
the parent run (``plan_*`` and ``time_*`` metrics).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keel.tuning._automl_search import Candidate, Clock, tree_count

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

#: Trees in the larger packaging probe.
PROBE_TREES = 16
#: Estimates are stretched by this much (a refit on all rows varies more than a fold fit).
SAFETY = 1.25
#: How many of the best candidates the plan expects in the ensemble.
LIKELY_MEMBERS = 3


@dataclass
class PackagingCost:
    """What packaging took on this machine, now: a fixed part and a part per tree."""

    fixed_s: float = 0.0
    per_tree_s: float = 0.0

    def estimate(self, trees: float) -> float:
        return self.fixed_s + self.per_tree_s * trees


def margin_s(budget_s: float) -> float:
    """Kept for the last writes (the run's note and metrics, closing it and the runner)."""
    return max(0.3, 0.01 * budget_s)


def measure_packaging(
    prep: Any, X: pd.DataFrame, y: np.ndarray, task: str, seed: int, store: Any
) -> PackagingCost:
    """Package two small models the way the winner will be, and time them."""
    from sklearn.base import clone
    from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor
    from sklearn.linear_model import LogisticRegression, Ridge

    from keel.models import save
    from keel.models._registry import default_keyring

    regression = task == "regression"
    rows, target = X.head(200), y[:200]
    keyring = default_keyring(store)
    keyring.ensure_signing_key()
    forest = (ExtraTreesRegressor if regression else ExtraTreesClassifier)(
        PROBE_TREES, max_depth=6, n_jobs=1, random_state=seed
    )

    def probe(members: list[tuple[str, Any]]) -> float:
        model = ensemble_pipeline(clone(prep), members, regression).fit(rows, target)
        with tempfile.TemporaryDirectory() as tmp:
            started = time.monotonic()
            save(
                model,
                Path(tmp) / "probe",
                input_example=rows.head(20),
                parity_rows=rows.head(50),
                task="regression" if regression else "classification",
                keyring=keyring,
            )
            return time.monotonic() - started

    linear = ("linear", Ridge() if regression else LogisticRegression(max_iter=300))
    small = probe([linear])
    large = probe([linear, ("trees", forest)])
    return PackagingCost(small, max(large - small, 0.0) / PROBE_TREES)


def ensemble_pipeline(
    prep: Any, members: list[tuple[str, Any]], regression: bool, weights: Any = None
) -> Any:
    """``prep`` then a soft-voting ensemble of ``members``: the shape of every AutoML winner,
    so the packaging probes are packaged exactly as the winner will be."""
    from sklearn.ensemble import VotingClassifier, VotingRegressor
    from sklearn.pipeline import Pipeline

    # weights as an array, not a list: skl2onnx's voting converters call weights.sum();
    # flatten_transform only shapes transform(), and skl2onnx converts only False
    voting = (
        VotingRegressor(members, weights=weights)
        if regression
        else VotingClassifier(members, voting="soft", weights=weights, flatten_transform=False)
    )
    return Pipeline([("prep", prep), ("model", voting)])


def refit_s(cand: Candidate, n_folds: int) -> float:
    """A refit on all training rows: a fold fit trains on (k-1)/k of them."""
    return cand.fit_seconds / (n_folds - 1) * SAFETY


@dataclass
class Planner:
    """The time kept after the search, re-planned as candidates land."""

    budget_s: float
    n_folds: int
    cost: PackagingCost | None  # None: the winner is not packaged
    selection_rounds: int

    def finish_s(self, members: list[Candidate]) -> dict[str, float]:
        """What refitting and packaging ``members`` should take."""
        refit = sum(refit_s(c, self.n_folds) for c in members)
        package = 0.0
        if self.cost is not None:
            units = sum(c.trees for c in members)
            package = self.cost.estimate(units) * SAFETY
        return {"refit": refit, "package": package}

    def reserve(self, candidates: list[Candidate], score_s: float, pool: int) -> dict[str, float]:
        """The plan for everything after the search, given the candidates so far."""
        best = sorted(candidates, key=lambda c: c.score, reverse=True)[:LIKELY_MEMBERS]
        plan = self.finish_s(best)
        plan["select"] = score_s * self.selection_rounds * min(pool, len(candidates) + 1)
        plan["margin"] = margin_s(self.budget_s)
        return plan

    def fit_members(
        self, weights: dict[int, int], candidates: list[Candidate], clock: Clock
    ) -> tuple[dict[int, int], str | None]:
        """``weights`` without the members whose refit and packaging would overrun the
        budget (least weight, then dearest, first); a note when any was dropped."""
        by_number = {c.number: c for c in candidates}
        kept = dict(weights)

        def overrun() -> bool:
            need = sum(self.finish_s([by_number[n] for n in kept]).values())
            return need > clock.remaining() - margin_s(self.budget_s)

        dropped = 0
        while len(kept) > 1 and overrun():
            worst = min(kept, key=lambda n: (kept[n], -by_number[n].fit_seconds))
            del kept[worst]
            dropped += 1
        if overrun():
            cheapest = min(candidates, key=lambda c: sum(self.finish_s([c]).values()))
            if cheapest.number not in kept:
                kept, dropped = {cheapest.number: 1}, len(weights)
        if not dropped:
            return kept, None
        return kept, (
            f"dropped {dropped} ensemble member(s): refitting and packaging them would "
            "overrun the budget"
        )

    def onnx_fits(self, model: Any, clock: Clock) -> bool:
        """Whether packaging ``model`` with its ONNX twin should end in time."""
        if self.cost is None:
            return False
        need = self.cost.estimate(fitted_trees(model)) * SAFETY
        return need <= clock.remaining() - margin_s(self.budget_s)


def fitted_trees(model: Any) -> float:
    """The trees in a fitted winning Pipeline's ensemble."""
    return sum(tree_count(est) for est in model.named_steps["model"].estimators_)


__all__ = [
    "PackagingCost",
    "Planner",
    "ensemble_pipeline",
    "fitted_trees",
    "margin_s",
    "measure_packaging",
]
