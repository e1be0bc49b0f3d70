"""The labeling use cases: one function per thing a person does, over any store backend.

Each takes a :class:`~keel.store.Store` and a keel project (by id), and the labeling
project by name; the CLI, the server and the quickstart call these.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from keel.exceptions import InvalidArgumentError, NotFoundError
from keel.labeling._aggregate import Aggregated, aggregate, review_queue
from keel.labeling._agreement import Agreement, agreement, check_alpha_floor
from keel.labeling._config import LabelConfig, answer_key, check_result, parse_config
from keel.labeling._labelstudio import annotator_of, export_tasks, from_ls_result, write_tasks
from keel.labeling._sample import ROW_TAG, sample_predictions
from keel.labeling._sources import is_source, source_items
from keel.store.labeling import Annotation, LabelProgress, LabelProject, LabelTask, NewTask

if TYPE_CHECKING:
    from keel.store import Store
    from keel.store.alerts import NewAlert
    from keel.store.entities import DatasetVersion
    from keel.store.eventlog import Window

PAGE = 10_000
RELABEL = "relabel:"  # the source_ref prefix of a re-label copy (keel.labeling._relabel)
ProgressFn = Callable[[int], None]


def create_project(
    store: Store,
    project_id: int,
    name: str,
    config: Mapping[str, Any],
    *,
    instructions: str = "",
    overlap: int = 1,
    double_share: float | None = None,
) -> LabelProject:
    """A labeling project with a checked label config; with ``double_share`` (0..1) only
    that share of the tasks goes to ``overlap`` (at least two) annotators, the rest to one."""
    checked = parse_config(config).as_json()
    return store.labeling.create_project(
        project_id,
        name,
        checked,
        instructions=instructions,
        overlap=overlap,
        double_share=double_share,
    )


def config_of(store: Store, project_id: int, name: str) -> LabelConfig:
    return parse_config(store.labeling.get_project(project_id, name).config)


def submit(
    store: Store,
    project_id: int,
    name: str,
    task_id: int,
    annotator: str,
    result: Any,
    *,
    lead_ms: int | None = None,
) -> Annotation:
    """Check ``result`` against the project's config and the task, then store it."""
    config = config_of(store, project_id, name)
    task = store.labeling.get_task(project_id, name, task_id)
    checked = check_result(config, task.data, result)
    return store.labeling.submit(project_id, name, task_id, annotator, checked, lead_ms=lead_ms)


def iter_tasks(store: Store, project_id: int, name: str) -> Iterator[LabelTask]:
    for page in _task_pages(store, project_id, name):
        yield from page


def iter_annotations(store: Store, project_id: int, name: str) -> Iterator[Annotation]:
    after = 0
    while page := store.labeling.annotations(project_id, name, after=after, limit=PAGE):
        yield from page
        after = page[-1].id


def _triples(
    store: Store, project_id: int, name: str, config: LabelConfig
) -> list[tuple[int, str, str]]:
    return [
        (a.task_id, a.annotator, answer_key(config, a.result))
        for a in iter_annotations(store, project_id, name)
    ]


@dataclass(frozen=True)
class Status:
    """A labeling project at a glance: progress, agreement and the review queue size."""

    project: LabelProject
    progress: LabelProgress
    agreement: Agreement | None
    review: int
    queue: list[Aggregated] = field(default_factory=list)


def project_agreement(store: Store, project_id: int, name: str) -> Agreement:
    """Cohen's kappa per pair, Fleiss' kappa, Krippendorff's alpha overall and per label."""
    config = config_of(store, project_id, name)
    triples = _triples(store, project_id, name, config)
    labels = config.labels if config.categorical else ()
    return agreement(triples, labels, multilabel=config.kind == "multilabel")


def aggregate_labels(
    store: Store, project_id: int, name: str, *, method: str = "majority"
) -> list[Aggregated]:
    """One label per answered task, with its confidence."""
    config = config_of(store, project_id, name)
    return aggregate(_triples(store, project_id, name, config), method)


def review(
    store: Store, project_id: int, name: str, *, method: str = "majority", below: float = 1.0
) -> list[Aggregated]:
    """The tasks whose annotators disagree, least agreed first."""
    return review_queue(aggregate_labels(store, project_id, name, method=method), below=below)


def status(store: Store, project_id: int, name: str, *, shown: int = 50) -> Status:
    """Progress, agreement, and the review queue (its size, and its ``shown`` least
    agreed tasks)."""
    project = store.labeling.get_project(project_id, name)
    progress = store.labeling.progress(project_id, name)
    config = parse_config(project.config)
    if not progress.annotations:
        return Status(project, progress, None, 0)
    triples = _triples(store, project_id, name, config)
    labels = config.labels if config.categorical else ()
    agree = agreement(triples, labels, multilabel=config.kind == "multilabel")
    queue = review_queue(aggregate(triples, "majority"))
    return Status(project, progress, agree, len(queue), queue[:shown])


@dataclass(frozen=True)
class AgreementCheck:
    """The outcome of :func:`check_agreement`: the alpha, the floor, and the alert event
    (``opened``, ``repeated``, ``escalated``, ``resolved``, or ``""`` when nothing changed)."""

    alpha: float | None
    floor: float
    ok: bool
    event: str
    alert_id: int | None


def check_agreement(
    store: Store, project_id: int, name: str, *, floor: float = 0.6, min_tasks: int = 10
) -> AgreementCheck:
    """Raise an alert when Krippendorff's alpha of the project falls below ``floor`` (over at
    least ``min_tasks`` multiply-labelled tasks), and resolve it once it is back above."""
    check_alpha_floor(floor, min_tasks)
    agree = project_agreement(store, project_id, name)
    from keel.store.alerts import NewAlert

    key = f"labeling:{name}:agreement"
    alpha = agree.krippendorff_alpha
    low = alpha is not None and agree.tasks >= min_tasks and alpha < floor
    raised = None
    if low:
        raised = NewAlert(
            kind="labeling",
            severity="warning",
            dedup_key=key,
            title=f"annotators disagree on {name!r}: alpha {alpha:.2f} < {floor:g}",
            message="Review the instructions and the review queue (`keel label status`).",
            evidence={
                "alpha": alpha,
                "floor": floor,
                "tasks": agree.tasks,
                "fleiss_kappa": agree.fleiss_kappa,
                "pairs": {f"{p.a}|{p.b}": p.cohen_kappa for p in agree.pairs},
            },
        )
    event, alert_id = alert_or_resolve(store, project_id, key, raised, by="keel label check")
    return AgreementCheck(alpha, floor, not low, event, alert_id)


def alert_or_resolve(
    store: Store, project_id: int, key: str, alert: NewAlert | None, *, by: str
) -> tuple[str, int | None]:
    """Record ``alert`` (deduplicated by ``key``), or with None resolve the live alerts of
    ``key``; returns the event (``opened``... ``resolved``, or ``""``) and the alert id."""
    from keel.exceptions import ConflictError

    if alert is not None:
        found, event = store.alerts.record(project_id, alert)
        return event, found.id
    live = [
        a
        for a in store.alerts.list(project_id, state="live", kind="labeling")
        if a.dedup_key == key
    ]
    event = ""
    for found in live:
        try:
            store.alerts.resolve(project_id, found.id, by=by, note="back above the floor")
            event = "resolved"
        except ConflictError:
            pass  # resolved by someone meanwhile
    return event, live[0].id if live else None


# -- import and export ---------------------------------------------------------------------
@dataclass(frozen=True)
class Imported:
    tasks: int
    annotations: int
    cancelled: int = 0
    task_ids: list[int] = field(default_factory=list)


def _read_json(path: str | Path) -> Any:
    file = Path(path)
    if not file.is_file():
        raise NotFoundError(f"task source {str(path)!r} does not exist")
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidArgumentError(f"{file.name} is not JSON: {exc}") from exc


Answer = tuple[str, dict[str, Any], int | None]


def _ls_answers(
    config: LabelConfig, data: dict[str, Any], annotations: Sequence[Any], i: int
) -> tuple[list[Answer], int]:
    """Task ``i``'s Label Studio annotations, checked: (annotator, result, lead ms) each,
    and how many were cancelled (left out)."""
    mine: list[Answer] = []
    cancelled = 0
    for j, ann in enumerate(annotations):
        if ann.get("was_cancelled"):
            cancelled += 1
            continue
        try:
            result = check_result(config, data, from_ls_result(config, data, ann["result"]))
        except (InvalidArgumentError, KeyError, TypeError) as exc:
            raise InvalidArgumentError(f"task {i} annotation {j}: {exc}") from exc
        who = annotator_of(ann)
        if any(who == m[0] for m in mine):
            raise InvalidArgumentError(
                f"task {i} has two annotations by {who!r}; keel keeps one answer per annotator "
                "and task (Label Studio credits the annotations imported into it to the "
                "importing user: name annotators with completed_by_name)"
            )
        lead = ann.get("lead_time")
        mine.append((who, result, int(lead * 1000) if isinstance(lead, int | float) else None))
    return mine, cancelled


def import_tasks(
    store: Store, project_id: int, name: str, source: str | Path | Sequence[Any]
) -> Imported:
    """Tasks from Label Studio JSON (a list of ``{"data": ..., "annotations": [...]}``), a
    list of plain data objects, a folder of texts or images, or a keel dataset version
    (``dataset:NAME[@VERSION]``); annotations are checked against the config before
    anything is stored, so a bad file stores nothing."""
    if is_source(source):
        items: Any = source_items(store, project_id, source)  # type: ignore[arg-type]
    elif isinstance(source, (str, Path)):
        items = _read_json(source)
    else:
        items = list(source)
    if isinstance(items, Mapping):
        items = [items]
    if not isinstance(items, list):
        raise InvalidArgumentError("tasks must be a JSON list of objects")
    config = config_of(store, project_id, name)
    tasks: list[NewTask] = []
    answers: list[list[Answer]] = []
    cancelled = 0
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise InvalidArgumentError(f"task {i} is not a JSON object")
        ls = "data" in item and isinstance(item["data"], Mapping)
        data = dict(item["data"]) if ls else dict(item)
        meta = item.get("meta") or {} if ls else {}
        tasks.append(
            NewTask(
                data,
                source_ref=str(meta.get("source_ref") or f"import:{i}"),
                request_id=str(meta.get("request_id") or ""),
            )
        )
        mine, dropped = _ls_answers(config, data, item.get("annotations") or [] if ls else [], i)
        cancelled += dropped
        answers.append(mine)
    ids = store.labeling.add_tasks(project_id, name, tasks)
    count = 0
    for task_id, mine in zip(ids, answers, strict=True):
        for who, result, lead in mine:
            store.labeling.submit(project_id, name, task_id, who, result, lead_ms=lead)
            count += 1
    return Imported(len(ids), count, cancelled, ids)


def _by_task(store: Store, project_id: int, name: str) -> dict[int, list[Annotation]]:
    by_task: dict[int, list[Annotation]] = defaultdict(list)
    for ann in iter_annotations(store, project_id, name):
        by_task[ann.task_id].append(ann)
    return by_task


def _task_pages(
    store: Store, project_id: int, name: str, page: int = PAGE
) -> Iterator[list[LabelTask]]:
    after = 0
    while tasks := store.labeling.list_tasks(project_id, name, after=after, limit=page):
        yield tasks
        after = tasks[-1].id


def export_labelstudio(store: Store, project_id: int, name: str) -> list[dict[str, Any]]:
    """Every task with its annotations, in Label Studio's JSON export format."""
    config = config_of(store, project_id, name)
    by_task = _by_task(store, project_id, name)
    return export_tasks(config, list(iter_tasks(store, project_id, name)), by_task)


def write_labelstudio(
    store: Store, project_id: int, name: str, out: BinaryIO, *, page: int = PAGE
) -> int:
    """:func:`export_labelstudio` written to ``out`` as UTF-8 JSON, ``page`` tasks at a time
    (the same list, without every task's objects alive at once); returns how many tasks
    were written. ``keel label export`` streams through here."""
    config = config_of(store, project_id, name)
    by_task = _by_task(store, project_id, name)
    return write_tasks(config, _task_pages(store, project_id, name, page), by_task, out)


def export_rows(
    store: Store, project_id: int, name: str, *, method: str = "majority"
) -> list[dict[str, Any]]:
    """One row per answered task: data, aggregated label, confidence, annotators, agreement."""
    config = config_of(store, project_id, name)
    answers: dict[int, list[Annotation]] = defaultdict(list)
    for ann in iter_annotations(store, project_id, name):
        answers[ann.task_id].append(ann)
    triples = [
        (t, a.annotator, answer_key(config, a.result)) for t, v in answers.items() for a in v
    ]
    chosen = {a.task_id: a for a in aggregate(triples, method)}
    rows = []
    for task in iter_tasks(store, project_id, name):
        got = chosen.get(task.id)
        if got is None or task.source_ref.startswith(RELABEL):
            continue
        rows.append(
            {
                "task_id": task.id,
                "request_id": task.request_id,
                "data": json.dumps(task.data, sort_keys=True),
                "label": got.label,
                "confidence": got.confidence,
                "agreement": got.agreement,
                "answers": got.answers,
                "annotators": ",".join(got.annotators),
            }
        )
    return rows


def export_dataset(
    store: Store,
    project_id: int,
    name: str,
    dataset: str,
    *,
    method: str = "majority",
) -> DatasetVersion:
    """The aggregated labels as the next version of keel dataset ``dataset``."""
    import pyarrow as pa

    from keel.data import DatasetClient

    rows = export_rows(store, project_id, name, method=method)
    if not rows:
        raise InvalidArgumentError(f"labeling project {name!r} has no answers to export yet")
    project = store.projects.get_by_id(project_id)
    table = pa.Table.from_pylist(rows)
    return DatasetClient(store, project).log(
        dataset, table, description=f"labels of labeling project {name!r} ({method})"
    )


# -- production samples --------------------------------------------------------------------
def sample(
    store: Store,
    project_id: int,
    name: str,
    deployment: str,
    *,
    strategy: str = "random",
    n: int = 50,
    window: str | Window = "30d",
    seed: int | None = None,
    confidence_column: str | None = None,
    by: Sequence[str] = (),
) -> list[int]:
    """Add ``n`` served predictions of ``deployment`` as tasks (not those already here).
    ``stratified`` deals them evenly over the cohorts of the ``by`` columns, by default the
    cohort columns of the deployment's monitor."""
    store.labeling.get_project(project_id, name)
    if strategy == "stratified" and not by:
        by = monitor_cohorts(store, project_id, deployment)
    have = {
        f"{t.request_id}{ROW_TAG}{t.source_ref.rpartition(ROW_TAG)[2]}"
        for t in iter_tasks(store, project_id, name)
        if t.request_id
    }
    picked = sample_predictions(
        store.settings,
        deployment,
        strategy=strategy,
        n=n,
        window=window,
        seed=seed,
        confidence_column=confidence_column,
        by=tuple(by),
        exclude=have,
    )
    if not picked.tasks:
        return []
    return store.labeling.add_tasks(project_id, name, picked.tasks)


def monitor_cohorts(store: Store, project_id: int, deployment: str) -> tuple[str, ...]:
    """Every column of the cohorts the deployment's monitor checks (none without one)."""
    monitor = store.monitors.find(project_id, deployment)
    sets = ((monitor.config if monitor else {}).get("cohorts") or {}).get("columns") or []
    cols = [c for combo in sets for c in ([combo] if isinstance(combo, str) else combo)]
    return tuple(dict.fromkeys(cols))


def feedback_labels(
    store: Store, project_id: int, name: str, *, method: str = "majority"
) -> list[dict[str, Any]]:
    """The aggregated labels of production samples as feedback records (``request_id``,
    ``row``, ``label``), for :func:`keel.monitoring.record_feedback`."""
    config = config_of(store, project_id, name)
    if config.kind != "classification":
        raise InvalidArgumentError(
            f"feedback takes one label per prediction; a {config.kind} project has none"
        )
    chosen = {a.task_id: a for a in aggregate_labels(store, project_id, name, method=method)}
    out = []
    for task in iter_tasks(store, project_id, name):
        if task.request_id and task.id in chosen:
            row = task.source_ref.rpartition(ROW_TAG)[2]
            out.append(
                {
                    "request_id": task.request_id,
                    "row": int(row) if row.isdigit() else 0,
                    "label": chosen[task.id].label,
                }
            )
    return out


__all__ = [
    "AgreementCheck",
    "Imported",
    "Status",
    "aggregate_labels",
    "check_agreement",
    "config_of",
    "create_project",
    "export_dataset",
    "export_labelstudio",
    "export_rows",
    "feedback_labels",
    "import_tasks",
    "iter_annotations",
    "iter_tasks",
    "monitor_cohorts",
    "project_agreement",
    "review",
    "sample",
    "status",
    "submit",
    "write_labelstudio",
]
