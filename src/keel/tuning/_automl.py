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
from keel.tuning._automl_budget import Planner, ensemble_pipeline, measure_packaging
from keel.tuning._automl_families import FAMILIES, resolve_families
from keel.tuning._automl_prep import (
    build_preprocessor,
    choose_folds,
    detect_task,
    load_data,
    parse_budget,
    plan_columns,
    resolve_metric,
    split_train_test,
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
from keel.tuning._automl_runner import make_runner
from keel.tuning._automl_search import (
    Candidate,
    Clock,
    Runner,
    Search,
    blend_score,
    caruana,
    make_folds,
)

if TYPE_CHECKING:
    import pandas as pd

    from keel.store import ModelVersion
    from keel.tracking import ActiveRun, TrackingClient

#: How many of the best candidates the ensemble selection looks at.
ENSEMBLE_POOL = 15
#: Rounds of Caruana selection (each scores every pooled candidate once).
CARUANA_ITERATIONS = 25


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
    timing: dict[str, float] = field(default_factory=dict)  # plan_* and time_* seconds
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
    register: bool = True,
    runner: str | None = None,
    address: str | None = None,
    on_candidate: Callable[[list[LeaderboardRow], float], None] | None = None,
    client: TrackingClient | None = None,
) -> AutoMLResult:
    """Search for the best model of ``target`` in ``data`` within ``budget``; register the winner.

    ``data`` is a dataset reference (``"customers@3"``) or a DataFrame; ``task`` is detected
    (``binary``, ``multiclass``, ``regression``) unless given; ``metric`` defaults to roc_auc,
    accuracy or r2 by task. The whole call — loading the data, the search, the final fit, the
    test score and packaging the winner (signing, the ONNX twin and its parity check) — keeps
    within ``budget`` (``"10m"``, ``"90s"`` or seconds; how: :mod:`keel.tuning._automl_budget`);
    ``timing`` and the parent run's metrics say what was planned and what each phase took.
    The winner is registered as ``register_as`` (default ``<target>-automl``) unless
    ``register=False``. LightGBM and XGBoost members are kept as their libraries' data formats
    inside the Pipeline, so the winner loads under keel's default trust. ``runner="dask"``
    with ``address="tcp://host:8786"`` cross-validates as many candidates at once as the
    cluster has worker threads. ``on_candidate(leaderboard, elapsed_s)`` is called after
    every candidate (progress bars); ``client`` records (default: the SDK's).
    """
    from contextlib import nullcontext

    from keel.tracking import using_client

    opts = _Options(
        target, metric, task, seed, families, folds, test_size, register_as, experiment,
        register, on_candidate,
    )  # fmt: skip
    clock = Clock(parse_budget(budget))
    with using_client(client) if client is not None else nullcontext():
        prepared, pool = _setup(data, opts, clock, runner, address)
        try:
            result = _run(prepared, opts, clock, pool)
        finally:
            pool.close()
        return _closed(result, clock)


def _setup(
    data: Any, opts: _Options, clock: Clock, runner: str | None, address: str | None
) -> tuple[_Prepared, Runner]:
    """The checked input and the runner, each step booked on the clock."""
    prepared = _prepare(data, opts)
    clock.mark("prepare")
    if opts.register:
        _import_packaging()
        clock.mark("imports")
    pool = make_runner(runner, address)
    clock.mark("runner")
    return prepared, pool


@dataclass(frozen=True)
class _Options:
    target: str
    metric: str | None
    task: str | None
    seed: int
    families: list[str] | tuple[str, ...] | None
    folds: int
    test_size: float
    register_as: str | None
    experiment: str
    register: bool
    on_candidate: Callable[[list[LeaderboardRow], float], None] | None


@dataclass
class _Prepared:
    """The checked input: splits, task, metric, families and the preprocessing plan."""

    data_name: str
    version_id: int | None
    task: str
    scorer: Any
    families: list[Any]
    plan: Any
    notes: list[str]
    X_tr: Any
    X_te: Any
    y_tr: np.ndarray
    y_te: np.ndarray
    labels: np.ndarray | None
    n_folds: int
    rows: int


def _prepare(data: Any, opts: _Options) -> _Prepared:
    """Everything that can refuse the input, before any run exists."""
    from keel.tracking import get_client

    frame, data_name, version_id = load_data(data, get_client())
    X, y_raw = split_xy(frame, opts.target)
    task = detect_task(y_raw, opts.task)
    scorer = resolve_metric(opts.metric, task)
    fams = resolve_families(opts.families)
    plan = plan_columns(X)
    notes = [f"dropped column {c!r}: {why}" for c, why in plan.dropped.items()]
    if len(frame) != len(X):
        notes.append(f"dropped {len(frame) - len(X)} rows without a target")
    X_tr, X_te, y_tr, y_te, labels = split_train_test(X, y_raw, task, opts.test_size, opts.seed)
    n_folds = choose_folds(y_tr, task, opts.folds)
    return _Prepared(
        data_name, version_id, task, scorer, fams, plan, notes,
        X_tr, X_te, y_tr, y_te, labels, n_folds, len(X),
    )  # fmt: skip


def _run(p: _Prepared, opts: _Options, clock: Clock, runner: Runner) -> AutoMLResult:
    from keel.tracking import start_run

    with start_run(
        f"automl-{opts.target}",
        experiment=opts.experiment,
        tags={"keel.automl": "parent", "keel.automl.task": p.task},
    ) as parent:
        if p.version_id is not None:
            parent.log_input(p.version_id)
        parent.log_params(_params(p, opts, clock, runner))
        prep = build_preprocessor(p.plan)
        fold_data = make_folds(p.X_tr, p.y_tr, p.task, p.n_folds, prep, opts.seed)
        clock.mark("folds")
        planner = _planner(p, opts, clock, prep, parent)
        candidates, runs, plan = _search(parent, p, opts, clock, runner, fold_data, planner)
        plan["planned_s"] = clock.elapsed() + sum(plan.values())
        weights = _select(candidates, fold_data.y, p.scorer)
        clock.mark("select")
        weights, dropped = planner.fit_members(weights, candidates, clock)
        if dropped:
            p.notes.append(dropped)
        cv = blend_score(candidates, weights, fold_data.y, p.scorer)
        model = _final_model(candidates, weights, p.task, prep, opts.seed)
        done = _Search(candidates, runs, weights, cv, plan)
        return _Winner(parent, p, opts, clock, model, done, planner).finish()


def _planner(p: _Prepared, opts: _Options, clock: Clock, prep: Any, parent: ActiveRun) -> Planner:
    """The budget's planner; packaging is measured now when the winner will be packaged."""
    cost = None
    if opts.register:
        cost = measure_packaging(prep, p.X_tr, p.y_tr, p.task, opts.seed, parent.client.store)
        clock.mark("probe")
    return Planner(clock.budget_s, p.n_folds, cost, CARUANA_ITERATIONS)


@dataclass(frozen=True)
class _Search:
    """What the search and the ensemble selection settled."""

    candidates: list[Candidate]
    runs: dict[int, str]
    weights: dict[int, int]
    cv: float
    plan: dict[str, float]


def _params(p: _Prepared, opts: _Options, clock: Clock, runner: Runner) -> dict[str, Any]:
    return {
        "target": opts.target,
        "task": p.task,
        "metric": p.scorer.name,
        "budget_s": clock.budget_s,
        "seed": opts.seed,
        "folds": p.n_folds,
        "test_size": opts.test_size,
        "data": p.data_name,
        "families": ",".join(f.name for f in p.families),
        "rows": p.rows,
        "runner": runner.name,
        "parallel": runner.capacity,
    }


def _search(
    parent: ActiveRun,
    p: _Prepared,
    opts: _Options,
    clock: Clock,
    runner: Runner,
    fold_data: Any,
    planner: Planner,
) -> tuple[list[Candidate], dict[int, str], dict[str, float]]:
    """Run the search; every candidate becomes a child run as it lands, and the time kept
    for what follows the search is re-planned (the plan at its end is returned)."""
    rows: list[LeaderboardRow] = []
    runs: dict[int, str] = {}
    plan = planner.reserve([], 0.0, ENSEMBLE_POOL)
    clock.reserve_s = sum(plan.values())

    def record(cand: Candidate) -> None:
        runs[cand.number] = log_candidate(parent, opts.experiment, cand, p.scorer)
        plan.update(planner.reserve(search.candidates, search.score_s, ENSEMBLE_POOL))
        clock.reserve_s = sum(plan.values())
        rows[:] = leaderboard(search.candidates, runs, {}, p.scorer)
        if opts.on_candidate is not None:
            opts.on_candidate(rows, clock.elapsed())

    search = Search(p.families, p.task, p.scorer, fold_data, clock, opts.seed, record, runner)
    candidates = search.run()
    clock.mark("search")
    if search.skipped:
        p.notes.append(
            f"{search.skipped} candidate(s) not started or cut short: they would overrun the budget"
        )
    return candidates, runs, plan


@dataclass(frozen=True)
class _Winner:
    """The settled ensemble in its parent run, ready to refit, score and package."""

    parent: ActiveRun
    p: _Prepared
    opts: _Options
    clock: Clock
    model: Any
    done: _Search
    planner: Planner

    def finish(self) -> AutoMLResult:
        """Refit the winner on the training split, score it on the test split, package it."""
        from threadpoolctl import threadpool_limits

        p, done, clock, model = self.p, self.done, self.clock, self.model
        # one OpenMP thread for the test score and packaging's predictions too: on a busy
        # machine histogram boosting's threads spin against each other (a 0.1 s prediction
        # took 4.8 s)
        with threadpool_limits(1):
            model.fit(p.X_tr, p.labels[p.y_tr] if p.labels is not None else p.y_tr)
            clock.mark("refit")
            test = _test_score(model, p.X_te, p.y_te, p.task, p.scorer, p.labels)
            board = leaderboard(done.candidates, done.runs, done.weights, p.scorer)
            name = self.opts.register_as or f"{self.opts.target}-automl"
            clock.mark("test")
            info = self.package(board, test, name)
        self.parent.set_note(note(board, p.scorer.name, p.data_name, done.cv, test, clock.budget_s))
        clock.mark("package")
        shown = {f"cv_{p.scorer.name}": p.scorer.display(done.cv), "candidates": float(len(board))}
        shown[f"test_{p.scorer.name}"] = p.scorer.display(test)
        timing = _timing(clock, done.plan)
        self.parent.log_metrics({**shown, **timing})
        registered = f"{name}@{info.version.version}" if info and info.version else None
        return AutoMLResult(
            task=p.task,
            metric=p.scorer.name,
            budget_s=clock.budget_s,
            elapsed_s=clock.elapsed(),
            data=p.data_name,
            rows=p.rows,
            parent_run_id=self.parent.id,
            leaderboard=board,
            ensemble={f"{_by(done.candidates, n).family}#{n}": w for n, w in done.weights.items()},
            cv_score=p.scorer.display(done.cv),
            test_score=p.scorer.display(test),
            model_uri=info.uri if info else None,
            package_s=clock.phases.get("package", 0.0),
            registered=registered,
            dropped_columns=dict(p.plan.dropped),
            notes=p.notes,
            timing=timing,
            model=model,
            version=info.version if info else None,
        )

    def package(self, board: list[LeaderboardRow], test: float, name: str) -> Any:
        """Log and register the winner with its card; with an ONNX twin if that fits in time."""
        p, done, clock = self.p, self.done, self.clock
        if not self.opts.register:
            return None
        onnx = self.planner.onnx_fits(self.model, clock)
        if not onnx:
            p.notes.append("no ONNX twin: converting it would overrun the budget")
        model_card = card(
            board, p.scorer.name, clock, p.data_name, p.task, done.cv, test, p.notes, done.weights
        )
        model_card["automl"]["fit_s"] = round(clock.elapsed(), 3)
        return log_winner(self.model, p.X_tr, name, model_card, self.parent, p.task, onnx)


def _timing(clock: Clock, plan: dict[str, float]) -> dict[str, float]:
    """The plan made at the search's end and what every phase took, in seconds."""
    out = {f"plan_{k}_s" if k != "planned_s" else k: round(v, 3) for k, v in plan.items()}
    out.update({f"time_{k}_s": round(v, 3) for k, v in clock.phases.items()})
    out["budget_s"] = clock.budget_s
    out["elapsed_s"] = round(clock.elapsed(), 3)
    return out


def _closed(result: AutoMLResult, clock: Clock) -> AutoMLResult:
    """``result`` with the whole call's time (the run and the runner closed) recorded."""
    import dataclasses

    from keel.tracking import get_client

    clock.mark("close")
    timing = {**result.timing, "time_close_s": round(clock.phases["close"], 3)}
    timing["elapsed_s"] = round(clock.marked, 3)  # up to the last mark: all of it is booked
    get_client().log_metrics(
        result.parent_run_id, {k: timing[k] for k in ("elapsed_s", "time_close_s")}
    )
    return dataclasses.replace(result, elapsed_s=timing["elapsed_s"], timing=timing)


def _import_packaging() -> None:
    """Import what packaging needs now, inside the budget and before the search plans its time
    (skops' first import walks every scikit-learn module: seconds; through ``keel._skops``,
    which keeps torch out of it). Not in a background thread: importing a large package in
    two threads at once can see it half-initialised."""
    import importlib.util

    from keel._skops import skops_io

    skops_io()
    if importlib.util.find_spec("skl2onnx") is not None:
        import skl2onnx  # noqa: F401


def _select(candidates: list[Candidate], y: np.ndarray, scorer: Any) -> dict[int, int]:
    pool = sorted(candidates, key=lambda c: c.score, reverse=True)[:ENSEMBLE_POOL]
    weights = caruana(pool, y, scorer, CARUANA_ITERATIONS)
    if not weights:
        raise InvalidArgumentError("no candidate produced a finite score; check the target")
    return weights


def _by(candidates: list[Candidate], number: int) -> Candidate:
    return next(c for c in candidates if c.number == number)


def _final_model(
    candidates: list[Candidate], weights: dict[int, int], task: str, prep: Any, seed: int
) -> Any:
    from sklearn.base import clone

    members = []
    for number, _w in sorted(weights.items()):
        cand = _by(candidates, number)
        members.append(
            (f"{cand.family}_{number}", FAMILIES[cand.family].build(task, cand.config, seed))
        )
    w = np.asarray([weights[n] for n in sorted(weights)], dtype=np.float64)
    return ensemble_pipeline(clone(prep), members, task == "regression", w)


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
