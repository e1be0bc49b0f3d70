"""Compare two sides (git refs, runs, model versions, experiments) for a merge request.

:func:`compare` is the use case behind ``keel report compare``: it resolves both sides to
runs, then gathers metric deltas (direction-aware, with a noise band when a side has
several runs), parameter changes, dataset version diffs, metric curves and the code diff
between the sides' commits. Rendering lives in :mod:`keel.reports._render`.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from keel.exceptions import KeelError
from keel.reports._code import CodeDiff, code_diff
from keel.reports._sides import Side, resolve_side
from keel.store import Run
from keel.tracking import TrackingClient, get_client, metric_directions

if TYPE_CHECKING:
    from keel.data import DatasetDiff

#: Curves drawn at most (metrics with a history of 2+ points), and runs per side per curve.
MAX_CURVES = 6
MAX_CURVE_RUNS = 5


@dataclass(frozen=True, slots=True)
class SideStat:
    """One metric over one side's runs: ``std`` is 0 with one run."""

    n: int
    mean: float
    std: float

    @property
    def band(self) -> tuple[float, float]:
        return self.mean - self.std, self.mean + self.std


@dataclass(frozen=True, slots=True)
class MetricDelta:
    key: str
    base: SideStat | None
    head: SideStat | None
    lower_is_better: bool
    #: better | worse | same | noise (the change lies inside a side's mean ± std) |
    #: added | removed (the metric exists on one side only)
    verdict: str
    delta: float | None = None  # head mean - base mean
    relative: float | None = None  # delta / |base mean|


@dataclass(frozen=True, slots=True)
class ParamChange:
    """A parameter whose values differ; each side lists its distinct values."""

    key: str
    base: list[str]
    head: list[str]


@dataclass(frozen=True, slots=True)
class Curve:
    """One metric's history per run: ``[(step, value), ...]`` for each run of a side."""

    metric: str
    base: list[list[tuple[int, float]]]
    head: list[list[tuple[int, float]]]


@dataclass(frozen=True, slots=True)
class SideSummary:
    spec: str
    kind: str
    label: str
    run_ids: list[str]
    commit: str | None
    model: str | None


@dataclass(frozen=True, slots=True)
class Comparison:
    """Everything a comparison report shows; render with :mod:`keel.reports`."""

    project: str
    base: SideSummary
    head: SideSummary
    metrics: list[MetricDelta] = field(default_factory=list)
    params: list[ParamChange] = field(default_factory=list)
    datasets: list[DatasetDiff] = field(default_factory=list)
    curves: list[Curve] = field(default_factory=list)
    code: CodeDiff | None = None
    notes: list[str] = field(default_factory=list)

    def to_markdown(self, charts: Mapping[str, str] | None = None) -> str:
        """Markdown for a merge-request comment; ``charts``: metric -> curve image link."""
        from keel.reports._render import to_markdown

        return to_markdown(self, charts)

    def to_html(self) -> str:
        from keel.reports._render import to_html

        return to_html(self)


def compare(
    base: str,
    head: str,
    *,
    client: TrackingClient | None = None,
    repo: str | Path | None = None,
    curves: bool = True,
) -> Comparison:
    """Compare ``base`` with ``head`` in ``client``'s project (default: the SDK's client).

    ``repo`` is the git checkout to resolve refs and diff code in (default: the current
    directory). A side with no runs raises :class:`~keel.exceptions.NotFoundError`.
    """
    client = client or get_client()
    client.existing_project()  # a read: both sides are in it
    where = Path(repo) if repo is not None else None
    a = resolve_side(base, client, repo=where, role="base")
    b = resolve_side(head, client, repo=where, role="head")
    notes: list[str] = []
    code = None
    if a.commit and b.commit and a.commit != b.commit:
        code = code_diff(a.commit, b.commit, where)
        if code is None:
            notes.append(
                f"no code diff: commits {a.commit[:12]} and {b.commit[:12]} are not both in "
                "the git checkout here"
            )
    return Comparison(
        project=client.project_name,
        base=_summary(a),
        head=_summary(b),
        metrics=metric_deltas(a.runs, b.runs, _tag_sets(client, [*a.runs, *b.runs])),
        params=param_changes(a.runs, b.runs),
        datasets=_dataset_diffs(client, a, b, notes),
        curves=_curves(client, a.runs, b.runs) if curves else [],
        code=code,
        notes=notes,
    )


def _summary(side: Side) -> SideSummary:
    return SideSummary(side.spec, side.kind, side.label, side.run_ids, side.commit, side.model)


def _tag_sets(client: TrackingClient, runs: Sequence[Run]) -> list[dict[str, str]]:
    """Run tags first, then their experiments' tags: the order metric directions read."""
    exp_ids = sorted({r.info.experiment_id for r in runs})
    return [r.tags for r in runs] + [client.store.experiments.get(i).tags for i in exp_ids]


def _stat(values: list[float]) -> SideStat | None:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return None
    std = statistics.stdev(finite) if len(finite) > 1 else 0.0
    return SideStat(len(finite), statistics.fmean(finite), std)


def metric_deltas(
    base: Sequence[Run], head: Sequence[Run], tag_sets: Sequence[dict[str, str]] = ()
) -> list[MetricDelta]:
    """Every metric of either side, its mean ± std per side, and whether head got better."""
    keys = sorted({k for r in [*base, *head] for k in r.metrics})
    lower = metric_directions(keys, tag_sets)
    out = []
    for key in keys:
        a = _stat([r.metrics[key] for r in base if key in r.metrics])
        b = _stat([r.metrics[key] for r in head if key in r.metrics])
        delta = None if a is None or b is None else b.mean - a.mean
        rel = None if delta is None or a is None or a.mean == 0 else delta / abs(a.mean)
        out.append(MetricDelta(key, a, b, lower[key], _verdict(a, b, lower[key]), delta, rel))
    return out


def _verdict(a: SideStat | None, b: SideStat | None, lower: bool) -> str:
    if a is None or b is None:
        return "added" if a is None else "removed"
    delta = b.mean - a.mean
    if math.isclose(a.mean, b.mean, rel_tol=1e-12, abs_tol=1e-12):
        return "same"
    if abs(delta) <= max(a.std, b.std):
        return "noise"
    return "better" if (delta < 0) == lower else "worse"


def param_changes(base: Sequence[Run], head: Sequence[Run]) -> list[ParamChange]:
    """Params whose distinct values differ between the sides (missing shows as ``—``)."""
    keys = sorted({k for r in [*base, *head] for k in r.params})
    out = []
    for key in keys:
        a = sorted({r.params.get(key, "—") for r in base})
        b = sorted({r.params.get(key, "—") for r in head})
        if a != b:
            out.append(ParamChange(key, a, b))
    return out


def _inputs(client: TrackingClient, runs: Sequence[Run]) -> dict[str, str]:
    """Dataset name -> the version ref most of the side's runs read."""
    seen: dict[str, Counter[str]] = {}
    for run in runs:
        for version_id, direction in client.store.runs.dataset_links(run.id):
            if direction != "input":
                continue
            version = client.store.datasets.get_version_by_id(version_id)
            seen.setdefault(version.dataset_name, Counter())[version.ref] += 1
    return {name: refs.most_common(1)[0][0] for name, refs in seen.items()}


def _dataset_diffs(client: TrackingClient, a: Side, b: Side, notes: list[str]) -> list[DatasetDiff]:
    from keel.data import DatasetClient

    before, after = _inputs(client, a.runs), _inputs(client, b.runs)
    datasets = DatasetClient(client.store, client.existing_project())
    out = []
    for name in sorted(before.keys() & after.keys()):
        if before[name] == after[name]:
            continue
        try:
            out.append(datasets.diff(before[name], after[name]))
        except KeelError as exc:
            notes.append(f"dataset {name}: no diff ({exc})")
    for name in sorted(before.keys() ^ after.keys()):
        ref = before.get(name) or after[name]
        notes.append(f"dataset {ref} is read by the {'base' if name in before else 'head'} only")
    return out


def _curves(client: TrackingClient, base: Sequence[Run], head: Sequence[Run]) -> list[Curve]:
    common = sorted({k for r in base for k in r.metrics} & {k for r in head for k in r.metrics})
    out: list[Curve] = []
    for key in common:
        if len(out) >= MAX_CURVES:
            break
        if not any(r.metric_steps.get(key, (0, 0))[0] > 0 for r in [*base, *head]):
            continue  # every run logged it once (at step 0): a point, not a curve
        series = [
            [_points(client, r.id, key) for r in runs[:MAX_CURVE_RUNS] if key in r.metrics]
            for runs in (base, head)
        ]
        if any(len(s) > 1 for side in series for s in side):
            out.append(Curve(key, *series))
    return out


def _points(client: TrackingClient, run_id: str, key: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in client.metric_history(run_id, key)]


__all__ = [
    "Comparison",
    "Curve",
    "MetricDelta",
    "ParamChange",
    "SideStat",
    "SideSummary",
    "compare",
    "metric_deltas",
    "param_changes",
]
