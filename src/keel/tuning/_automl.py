"""``keel.automl``: a strong model from a dataset, a target, a metric and a time budget.

The search is one parent run; every candidate is a child run with its config, its
cross-validated score and its cost. The winner — a Caruana ensemble of the best candidates,
preprocessing included, in one scikit-learn ``Pipeline`` — is refitted on the training split,
scored once on the held-out test split, packaged by ``keel.log_model`` (signature, ONNX twin
where parity holds, signed) and registered with a model card.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from keel.exceptions import InvalidArgumentError
from keel.tuning._automl_families import FAMILIES, resolve_families
from keel.tuning._automl_prep import (
    build_preprocessor,
    detect_task,
    plan_columns,
    resolve_metric,
    split_xy,
)
from keel.tuning._automl_record import (
    LeaderboardRow,
    card,
    leaderboard,
    log_candidate,
    log_winner,
    note,
)
from keel.tuning._automl_search import Candidate, Clock, Search, blend_score, caruana, make_folds

if TYPE_CHECKING:
    import pandas as pd

    from keel.store import ModelVersion
    from keel.tracking import TrackingClient

#: The smallest budget accepted; below it not even preprocessing and one fit fit in.
MIN_BUDGET_S = 1.0
#: How many of the best candidates the ensemble selection looks at.
ENSEMBLE_POOL = 15


@dataclass(frozen=True)
class AutoMLResult:
    """What one AutoML run found; ``model`` is the fitted winning Pipeline."""

    task: str
    metric: str
    budget_s: float
    elapsed_s: float
    data: str
    rows: int
    parent_run_id: str
    leaderboard: list[LeaderboardRow]
    ensemble: dict[str, int]
    cv_score: float
    test_score: float
    model_uri: str | None
    registered: str | None
    package_s: float
    dropped_columns: dict[str, str]
    notes: list[str]
    model: Any = field(default=None, repr=False, compare=False)
    version: ModelVersion | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        import dataclasses

        out = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in ("model", "version")
        }
        out["leaderboard"] = [dataclasses.asdict(r) for r in self.leaderboard]
        return out


def parse_budget(budget: str | float | int) -> float:
    """Seconds from ``90``, ``"90s"``, ``"10m"`` or ``"1h"`` (keel's one duration grammar)."""
    from keel.store.eventlog import parse_duration

    if isinstance(budget, (int, float)):
        seconds = float(budget)
    else:
        text = str(budget).strip()
        try:
            seconds = float(text)
        except ValueError:
            try:
                seconds = parse_duration(text) / 1000
            except InvalidArgumentError:
                raise InvalidArgumentError(
                    f"budget {budget!r} is not a duration; write it like 30s, 10m or 1h"
                ) from None
    if seconds < MIN_BUDGET_S:
        raise InvalidArgumentError(
            f"budget {seconds:g}s is shorter than one model fit; give at least {MIN_BUDGET_S:g}s"
        )
    return seconds


def load_data(data: Any, client: TrackingClient) -> tuple[pd.DataFrame, str, int | None]:
    """A frame, its display name and its dataset version id (``None`` for a DataFrame)."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data, f"DataFrame[{len(data)}x{data.shape[1]}]", None
    if isinstance(data, str):
        from keel.data import DatasetClient

        datasets = DatasetClient(client.store, client.project)
        version = datasets.get(data)
        return datasets.load(data), version.ref, version.id
    raise InvalidArgumentError(
        f"data must be a dataset reference like 'customers@3' or a DataFrame, "
        f"not {type(data).__name__}"
    )


def _choose_folds(y: np.ndarray, task: str, wanted: int) -> int:
    limit = len(y) // 5 if task == "regression" else int(np.bincount(y).min())
    folds = min(wanted, limit)
    if folds < 2:
        raise InvalidArgumentError(
            f"too few rows for cross-validation: the rarest class has {limit} row(s) in the "
            "training split; every class needs at least 2 (add rows or merge rare classes)"
        )
    return folds


def automl(
    data: Any,
    target: str,
    *,
    metric: str | None = None,
    budget: str | float = "60s",
    task: str | None = None,
    seed: int = 0,
    families: list[str] | tuple[str, ...] | None = None,
    folds: int = 5,
    test_size: float = 0.2,
    register_as: str | None = None,
    experiment: str = "automl",
    allow_untrusted: bool = False,
    register: bool = True,
    on_candidate: Callable[[list[LeaderboardRow], float], None] | None = None,
    client: TrackingClient | None = None,
) -> AutoMLResult:
    """Search for the best model of ``target`` in ``data`` within ``budget``; register the winner.

    ``data`` is a dataset reference (``"customers@3"``) or a DataFrame; ``task`` is detected
    (``binary``, ``multiclass``, ``regression``) unless given; ``metric`` defaults to roc_auc,
    accuracy or r2 by task. Loading the data, the search, the final fit and the test score
    stay within ``budget`` (``"10m"``, ``"90s"`` or seconds); packaging the winner (signing,
    the ONNX twin and its parity check) comes after and is reported as ``package_s``. The
    winner is registered as ``register_as`` (default ``<target>-automl``) unless
    ``register=False``. LightGBM and
    XGBoost candidates compete on the leaderboard, but only enter the packaged ensemble with
    ``allow_untrusted=True``: keel's loader refuses their pickled boosters by default.
    ``on_candidate(leaderboard, elapsed_s)`` is called after every candidate (progress bars).
    ``client`` is the tracking client to record with (default: the SDK's).
    """
    from contextlib import nullcontext

    from keel.tracking import using_client

    with using_client(client) if client is not None else nullcontext():
        return _automl(
            data, target, metric=metric, budget=budget, task=task, seed=seed,
            families=families, folds=folds, test_size=test_size, register_as=register_as,
            experiment=experiment, allow_untrusted=allow_untrusted, register=register,
            on_candidate=on_candidate,
        )  # fmt: skip


def _automl(
    data: Any,
    target: str,
    *,
    metric: str | None,
    budget: str | float,
    task: str | None,
    seed: int,
    families: list[str] | tuple[str, ...] | None,
    folds: int,
    test_size: float,
    register_as: str | None,
    experiment: str,
    allow_untrusted: bool,
    register: bool,
    on_candidate: Callable[[list[LeaderboardRow], float], None] | None,
) -> AutoMLResult:
    from threadpoolctl import threadpool_limits

    from keel.tracking import get_client, start_run

    clock = Clock(parse_budget(budget))
    client = get_client()
    frame, data_name, version_id = load_data(data, client)
    X, y_raw = split_xy(frame, target)
    task = detect_task(y_raw, task)
    scorer = resolve_metric(metric, task)
    fams = resolve_families(families)
    plan = plan_columns(X)
    notes = [f"dropped column {c!r}: {why}" for c, why in plan.dropped.items()]
    if len(frame) != len(X):
        notes.append(f"dropped {len(frame) - len(X)} rows without a target")

    X_tr, X_te, y_tr, y_te, labels = _split(X, y_raw, task, test_size, seed)
    n_folds = _choose_folds(y_tr, task, folds)
    prep = build_preprocessor(plan)

    with start_run(
        f"automl-{target}",
        experiment=experiment,
        tags={"keel.automl": "parent", "keel.automl.task": task},
    ) as parent:
        if version_id is not None:
            parent.log_input(version_id)
        parent.log_params(
            {
                "target": target,
                "task": task,
                "metric": scorer.name,
                "budget_s": clock.budget_s,
                "seed": seed,
                "folds": n_folds,
                "test_size": test_size,
                "data": data_name,
                "families": ",".join(f.name for f in fams),
                "rows": len(X),
            }
        )
        fold_data = make_folds(X_tr, y_tr, task, n_folds, prep, seed)
        clock.reserve_s = max(0.5, 0.05 * clock.budget_s)
        rows: list[LeaderboardRow] = []
        runs: dict[int, str] = {}

        def record(cand: Candidate) -> None:
            runs[cand.number] = log_candidate(parent, experiment, cand, scorer)
            clock.reserve_s = _reserve(search.candidates, n_folds, clock.budget_s)
            rows[:] = leaderboard(search.candidates, runs, {}, scorer)
            if on_candidate is not None:
                on_candidate(rows, clock.elapsed())

        search = Search(fams, task, scorer, fold_data, clock, seed, record)
        candidates = search.run()
        if search.skipped:
            notes.append(
                f"{search.skipped} candidate(s) not started: they would overrun the budget"
            )
        weights = _select(candidates, fold_data.y, scorer, allow_untrusted)
        cv = blend_score(candidates, weights, fold_data.y, scorer)
        model = _final_model(candidates, weights, task, prep, seed)
        with threadpool_limits(1):
            model.fit(X_tr, labels[y_tr] if labels is not None else y_tr)
        test = _test_score(model, X_te, y_te, task, scorer, labels)
        board = leaderboard(candidates, runs, weights, scorer)
        parent.log_metrics(
            {
                f"cv_{scorer.name}": scorer.display(cv),
                f"test_{scorer.name}": scorer.display(test),
                "candidates": float(len(candidates)),
            }
        )
        elapsed = clock.elapsed()
        name = register_as or f"{target}-automl"
        model_card = card(board, scorer.name, clock, data_name, task, cv, test, notes, weights)
        model_card["automl"]["elapsed_s"] = round(elapsed, 3)
        info = log_winner(model, X_tr, name, model_card, parent, task) if register else None
        parent.set_note(note(board, scorer.name, data_name, cv, test, clock.budget_s))
        package_s = clock.elapsed() - elapsed
        parent.log_metrics({"elapsed_s": elapsed, "package_s": package_s})
    return AutoMLResult(
        task=task,
        metric=scorer.name,
        budget_s=clock.budget_s,
        elapsed_s=elapsed,
        data=data_name,
        rows=len(X),
        parent_run_id=parent.id,
        leaderboard=board,
        ensemble={f"{_by(candidates, n).family}#{n}": w for n, w in weights.items()},
        cv_score=scorer.display(cv),
        test_score=scorer.display(test),
        model_uri=info.uri if info else None,
        package_s=package_s,
        registered=(f"{name}@{info.version.version}" if info and info.version else None),
        dropped_columns=dict(plan.dropped),
        notes=notes,
        model=model,
        version=info.version if info else None,
    )


def _reserve(candidates: list[Candidate], n_folds: int, budget_s: float) -> float:
    """Time kept for the final fit: the best few candidates refitted on all training rows."""
    best = sorted(candidates, key=lambda c: c.score, reverse=True)[:4]
    refit = sum(c.fit_seconds / n_folds for c in best) * 1.3
    return max(0.5, 0.05 * budget_s) + refit


def _split(
    X: pd.DataFrame, y_raw: pd.Series, task: str, test_size: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray, np.ndarray | None]:
    """Train/test split; class labels encoded as 0..k-1 (``labels`` maps them back)."""
    from sklearn.model_selection import train_test_split

    if not 0.05 <= test_size <= 0.5:
        raise InvalidArgumentError(f"test_size {test_size} must be between 0.05 and 0.5")
    labels: np.ndarray | None = None
    if task == "regression":
        y = y_raw.to_numpy(dtype=np.float64)
        strat = None
    else:
        labels, y = np.unique(y_raw.to_numpy(), return_inverse=True)
        counts = np.bincount(y)
        if counts.min() < 2:
            rare = labels[int(np.argmin(counts))]
            raise InvalidArgumentError(
                f"class {rare!r} of the target has {counts.min()} row; every class needs at "
                "least 2 for a test split and cross-validation"
            )
        strat = y
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=test_size, random_state=seed, stratify=strat
    )
    return X_tr.reset_index(drop=True), X_te.reset_index(drop=True), y_tr, y_te, labels


def _select(
    candidates: list[Candidate], y: np.ndarray, scorer: Any, allow_untrusted: bool
) -> dict[int, int]:
    pool = [c for c in candidates if allow_untrusted or FAMILIES[c.family].trusted]
    if not pool:  # only untrusted families ran: the best of them, flagged in the card
        pool = candidates
    pool = sorted(pool, key=lambda c: c.score, reverse=True)[:ENSEMBLE_POOL]
    weights = caruana(pool, y, scorer)
    if not weights:
        raise InvalidArgumentError("no candidate produced a finite score; check the target")
    return weights


def _by(candidates: list[Candidate], number: int) -> Candidate:
    return next(c for c in candidates if c.number == number)


def _final_model(
    candidates: list[Candidate], weights: dict[int, int], task: str, prep: Any, seed: int
) -> Any:
    from sklearn.base import clone
    from sklearn.ensemble import VotingClassifier, VotingRegressor
    from sklearn.pipeline import Pipeline

    members = []
    for number, _w in sorted(weights.items()):
        cand = _by(candidates, number)
        members.append(
            (f"{cand.family}_{number}", FAMILIES[cand.family].build(task, cand.config, seed))
        )
    w = [weights[n] for n in sorted(weights)]
    if task == "regression":
        ensemble: Any = VotingRegressor(members, weights=w)
    else:
        ensemble = VotingClassifier(members, voting="soft", weights=w)
    return Pipeline([("prep", clone(prep)), ("model", ensemble)])


def _test_score(
    model: Any,
    X_te: pd.DataFrame,
    y_te: np.ndarray,
    task: str,
    scorer: Any,
    labels: np.ndarray | None,
) -> float:
    if task == "regression":
        return float(scorer.score(y_te, np.asarray(model.predict(X_te), dtype=np.float64)))
    proba = np.asarray(model.predict_proba(X_te), dtype=np.float64)
    return float(scorer.score(y_te, proba))


__all__ = ["AutoMLResult", "LeaderboardRow", "automl", "load_data", "parse_budget"]
