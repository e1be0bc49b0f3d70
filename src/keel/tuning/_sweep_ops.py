"""The sweep use cases behind ``keel sweep``: run a target, list, describe, promote.

Each is one call for the command line (and the server's UI): the CLI parses, calls one of
these and renders what it returns.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from keel.exceptions import InvalidArgumentError, NotFoundError
from keel.store._sweep_types import Sweep, Trial, TrialPoint, TrialState
from keel.tuning._sweep_fanova import MAX_TRIALS
from keel.tuning._sweep_fanova import even as _even

if TYPE_CHECKING:
    from keel.store import Store
    from keel.store.protocols import Sweeps
    from keel.tracking import TrackingClient
    from keel.tuning._sweep import SweepResult


@dataclass(frozen=True)
class SweepSummary:
    """One line of ``keel sweep list``."""

    sweep: Sweep
    counts: dict[str, int]
    best_value: float | None


@dataclass(frozen=True)
class SweepReport:
    """What ``keel sweep show`` prints: progress, the best trials, what mattered.
    ``trials`` is an even sample of the completed trials (see :data:`MAX_SAMPLE`)."""

    sweep: Sweep
    trials: list[Trial]
    counts: dict[str, int]
    best: list[Trial]
    best_params: list[dict[str, Any]]
    importances: dict[str, float]
    importance_note: str
    #: "fanova" or "main-effects": what computed ``importances``
    importance_method: str = "fanova"
    convergence: list[float] = field(default_factory=list)
    budget: int | None = None
    #: every completed trial's outline (number and value), by number
    points: list[TrialPoint] = field(default_factory=list)


def load_objective(target: str) -> Callable[..., Any]:
    """The function ``target`` names: ``path/to/file.py:function`` or ``package.module:fn``."""
    from keel.pipelines._loader import load_target

    fn = load_target(target, "objective", "path/to/train.py:objective or package.module:objective")
    if not callable(fn):
        raise InvalidArgumentError(f"{target} is a {type(fn).__name__}, not a function")
    return fn


def run_sweep(target: str, space: str | None, **options: Any) -> SweepResult:
    """``keel sweep run``: load the objective named by ``target`` and sweep it."""
    from keel.tuning._sweep import sweep

    return sweep(load_objective(target), space, **options)


def _counts(points: list[TrialPoint]) -> dict[str, int]:
    found = Counter(p.state for p in points)
    return {s.value: found[s] for s in TrialState}


def _done(points: list[TrialPoint]) -> list[TrialPoint]:
    """The completed trials with a value, by number."""
    return [p for p in points if p.state is TrialState.COMPLETE and p.value is not None]


def _where(
    client: TrackingClient | None, store: Store | None, project_id: int | None
) -> tuple[Store, int]:
    """The store and project: a store and project id given (the server), else the client's
    (default: the SDK's)."""
    if store is not None and project_id is not None:
        return store, project_id
    if client is None:
        from keel.tracking import get_client  # the SDK's default (its active-run machinery)

        client = get_client()
    return client.store, client.existing_project().id  # a read: it must exist


def list_sweeps(
    client: TrackingClient | None = None,
    *,
    store: Store | None = None,
    project_id: int | None = None,
) -> list[SweepSummary]:
    """The newest generation of every sweep of the project, newest first (counts by state
    in one SQL query; the best value from each sweep's outline)."""
    where, pid = _where(client, store, project_id)
    repo = where.sweeps
    counts = repo.counts(pid)
    seen: set[str] = set()
    out = []
    for s in repo.list(pid):
        if s.name in seen:
            continue
        seen.add(s.name)
        found = {st.value: counts.get(s.id, {}).get(st.value, 0) for st in TrialState}
        best = None
        if found[TrialState.COMPLETE.value]:
            sign = -1.0 if s.directions[0] == "maximize" else 1.0
            values = [sign * p.value for p in _done(repo.outline(pid, s.id))]  # type: ignore[operator]
            best = sign * min(values) if values else None
        out.append(SweepSummary(s, found, best))
    return out


#: The trials a sweep report reads in full: an even sample by number (the page's history
#: points, slices and importances), besides the best ``top``; the rest is read as an outline.
MAX_SAMPLE = 500


def describe_sweep(
    name: str,
    *,
    generation: int | None = None,
    top: int = 5,
    importance: str = "auto",
    client: TrackingClient | None = None,
    store: Store | None = None,
    project_id: int | None = None,
) -> SweepReport:
    """A sweep's progress, its ``top`` best trials, parameter importances (``importance``:
    "fanova"; "main-effects", each parameter's variance share by bins, which takes
    milliseconds where fANOVA's forest takes seconds; or "auto": fANOVA once the sweep has
    finished, kept on its run, main effects while it runs) and the
    best value so far after each finished trial (convergence). Every trial is read as an
    outline (number, state, value); only the best and an even sample of at most
    :data:`MAX_SAMPLE` completed trials are read in full (``SweepReport.trials``)."""
    from keel.tuning._sweep_params import external_params

    where, pid = _where(client, store, project_id)
    repo = where.sweeps
    s = repo.get(pid, name, generation=generation)
    points = repo.outline(pid, s.id)
    sign = -1.0 if s.directions[0] == "maximize" else 1.0
    done = _done(points)
    best, sample = _read_best_and_sample(repo, pid, s, done, top, sign)
    importances, note, method = _importances(s, sample, len(done), importance, where.runs)
    budget = s.spec.get("trials")
    return SweepReport(
        sweep=s,
        trials=sample,
        counts=_counts(points),
        best=best,
        best_params=[external_params(t) for t in best],
        importances=importances,
        importance_note=note,
        importance_method=method,
        convergence=_convergence(done, sign),
        budget=budget if isinstance(budget, int) else None,
        points=done,
    )


def _read_best_and_sample(
    repo: Sweeps, pid: int, s: Sweep, done: list[TrialPoint], top: int, sign: float
) -> tuple[list[Trial], list[Trial]]:
    """The ``top`` best of the completed trials ``done`` and an even sample of at most
    :data:`MAX_SAMPLE` of them, read in full (in chunks of 5,000 ids)."""
    ranked = heapq.nsmallest(top, done, key=lambda p: (sign * p.value, p.number))  # type: ignore[operator]
    shown = _even(done, MAX_SAMPLE)
    wanted = sorted({p.id for p in ranked} | {p.id for p in shown})
    full = {
        t.id: t
        for i in range(0, len(wanted), 5000)
        for t in repo.pick(pid, s.id, wanted[i : i + 5000])
    }
    return [full[p.id] for p in ranked], [full[p.id] for p in shown]


def _convergence(done: list[TrialPoint], sign: float) -> list[float]:
    """The best value so far after each completed trial (by number)."""
    out: list[float] = []
    low = math.inf
    for p in done:
        low = min(low, sign * p.value)  # type: ignore[operator]
        out.append(sign * low)
    return out


@dataclass(frozen=True)
class TrialQuery:
    """What selects a sweep generation's trials in the runs search: each trial is a child
    run of the generation's run, so the trial table is the runs table's search (its filter
    language, order and keyset pages) over ``experiment_id`` with ``filter``."""

    experiment_id: int
    filter: str
    #: the default order: the best value first
    order: str


def trial_query(s: Sweep, filter: str | None, *, store: Store) -> TrialQuery:
    """The runs search for generation ``s``'s trials that also match ``filter`` (the runs'
    filter language: ``metrics.loss < 0.2 and params.kind = 'rf'``). A filter that does
    not parse raises :class:`~keel.exceptions.FilterSyntaxError` quoting it as given."""
    from keel.store.filters import parse_filter

    text = (filter or "").strip()
    parse_filter(text or None)  # the caller's own mistakes, in the caller's own words
    if not s.run_id:
        raise NotFoundError(f"sweep {s.name!r} generation {s.generation} has no run")
    experiment_id = store.runs.get(s.run_id).info.experiment_id
    own = f"attributes.parent_id = '{s.run_id}'"
    metric = str(s.spec.get("metric") or "objective").replace("`", "")
    best = "ASC" if s.directions[0] == "minimize" else "DESC"
    return TrialQuery(
        experiment_id, f"{own} and ({text})" if text else own, f"metrics.`{metric}` {best}"
    )


#: fANOVA fits a random forest: past this many completed trials it reads an even sample.
MAX_IMPORTANCE_TRIALS = MAX_TRIALS

#: while a sweep runs, ``keel sweep show`` gives main effects rather than fit fANOVA
RUNNING_NOTE = "main effects while the sweep runs (fANOVA once it finishes, or with --fanova)"


def _importances(
    s: Sweep, sample: list[Trial], completed: int, evaluator: str, runs: Any
) -> tuple[dict[str, float], str, str]:
    """Importances, a note and the evaluator that gave them: ``"main-effects"`` (over
    ``sample``), ``"fanova"`` (over an even sample of at most :data:`MAX_IMPORTANCE_TRIALS`
    of it; kept on the sweep's run once the sweep has finished, see :mod:`._sweep_fanova`)
    or ``"auto"``: the kept fANOVA, else fANOVA now for a finished sweep, else (running)
    main effects."""
    from keel.tuning import _sweep_fanova

    if completed < 2:
        return {}, "importances need at least 2 completed trials", evaluator
    if evaluator != "main-effects" and s.run_id:
        kept = _sweep_fanova.stored(runs.get(s.run_id).tags, completed)
        if kept is not None:
            return kept, _note("fanova", min(completed, MAX_IMPORTANCE_TRIALS), completed), "fanova"
    if evaluator == "auto":
        evaluator = "main-effects" if s.status == "running" else "fanova"
    found, note = _remembered(s, sample, completed, evaluator)
    if evaluator == "fanova" and found and s.status != "running" and s.run_id:
        _keep(runs, s.run_id, _sweep_fanova.tags(found, completed))
    elif evaluator == "main-effects" and s.status == "running" and not note:
        note = RUNNING_NOTE
    return found, note, evaluator


def _keep(runs: Any, run_id: str, tags: dict[str, str]) -> None:
    """Keep fANOVA on the finished sweep's run for the next show: a cache, so a caller who
    may not write there (a reader through a server) shows it all the same."""
    import contextlib

    from keel.exceptions import KeelError

    with contextlib.suppress(KeelError):
        runs.set_tags(run_id, tags)


def _note(evaluator: str, picked: int, completed: int) -> str:
    if picked >= completed:
        return ""
    label = "main effects" if evaluator == "main-effects" else "fANOVA"
    return f"{label} over an even sample of {picked} of {completed} completed trials"


def _remembered(
    s: Sweep, sample: list[Trial], completed: int, evaluator: str
) -> tuple[dict[str, float], str]:
    """Importances over an even sample of ``sample``, remembered per sweep and trial count
    in this process (the server's pages)."""
    picked = sample if evaluator == "main-effects" else _even(sample, MAX_IMPORTANCE_TRIALS)
    note = _note(evaluator, len(picked), completed)
    key = (s.id, completed, sample[-1].id, evaluator)  # finished trials never change
    if key not in _REMEMBERED:
        _REMEMBERED[key] = _compute(s.directions, picked, evaluator)
        while len(_REMEMBERED) > 64:
            _REMEMBERED.pop(next(iter(_REMEMBERED)))
    found, error = _REMEMBERED[key]
    return (found, note) if not error else ({}, error)


_REMEMBERED: dict[tuple[int, int, int, str], tuple[dict[str, float], str]] = {}


def _compute(
    directions: list[str], sample: list[Trial], evaluator: str
) -> tuple[dict[str, float], str]:
    if evaluator == "main-effects":
        from keel.tuning._sweep_importance import main_effects

        return main_effects(sample), ""
    from keel.tuning._sweep_fanova import fanova

    return fanova(directions, sample)


def promote_sweep(
    name: str,
    model_name: str,
    *,
    artifact: str = "model",
    client: TrackingClient | None = None,
) -> tuple[Trial, Any]:
    """Register the model the best trial of sweep ``name`` logged at ``artifact`` as the
    next version of ``model_name``; returns the trial and the model version."""
    from keel.models import register_model

    if client is None:
        from keel.tracking import get_client

        client = get_client()
    repo, pid = client.store.sweeps, client.existing_project().id  # the sweep is in it
    s = repo.get(pid, name)
    sign = -1.0 if s.directions[0] == "maximize" else 1.0
    done = sorted(_done(repo.outline(pid, s.id)), key=lambda p: (sign * p.value, p.number))  # type: ignore[operator]
    best = repo.pick(pid, s.id, [done[0].id])[0] if done else None
    if best is None or not best.run_id:
        raise NotFoundError(f"sweep {name!r} has no completed trial to promote yet")
    names = {a.path.split("/", 1)[0] for a in client.store.artifacts.list(best.run_id)}
    if artifact not in names:
        raise NotFoundError(
            f"the best trial ({best.number}, run {best.run_id}) logged no model at "
            f"{artifact!r}; log one with keel.log_model(model, {artifact!r}, ...) in the "
            "objective, or pass --artifact"
        )
    version = register_model(
        f"runs:/{best.run_id}/{artifact}",
        model_name,
        store=client.store,
        project=client.project_name,
        tags={"keel.sweep": name, "keel.sweep.trial": str(best.number)},
    )
    return best, version


__all__ = [
    "SweepReport",
    "SweepSummary",
    "TrialQuery",
    "describe_sweep",
    "list_sweeps",
    "load_objective",
    "promote_sweep",
    "run_sweep",
    "trial_query",
]
