"""Labeling projects, tasks, annotations and progress as values, and their rows decoded (for
:class:`keel.store.labeling.LabelingRepository`, which re-exports the public names)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row

from keel.exceptions import InvalidArgumentError
from keel.store._schema import table
from keel.store._schema_labeling import (
    AnnotationRow,
    LabelAssignmentRow,
    LabelProjectRow,
    LabelTaskRow,
)
from keel.store._validate import check_name

LP = table(LabelProjectRow)
TK = table(LabelTaskRow)
AS = table(LabelAssignmentRow)
AN = table(AnnotationRow)

MAX_OVERLAP = 50
MAX_PAGE = 10_000
ASSIGNED, SUBMITTED, SKIPPED = "assigned", "submitted", "skipped"


@dataclass(frozen=True, slots=True)
class LabelProject:
    id: int
    project_id: int
    name: str
    config: dict[str, Any]
    instructions: str
    overlap: int
    created_at: int


@dataclass(frozen=True, slots=True)
class NewTask:
    """An item to label: its data, where it came from, and (production samples) the
    request id of the prediction it is a sample of."""

    data: dict[str, Any]
    source_ref: str = ""
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class LabelTask:
    id: int
    label_project_id: int
    data: dict[str, Any]
    source_ref: str
    request_id: str
    taken: int
    created_at: int


@dataclass(frozen=True, slots=True)
class Annotation:
    id: int
    task_id: int
    annotator: str
    result: Any
    lead_ms: int | None
    created_at: int


@dataclass(frozen=True, slots=True)
class LabelProgress:
    """How far a labeling project is: tasks, answers, skips and per-annotator counts."""

    tasks: int
    annotations: int
    complete: int
    skipped: int
    in_progress: int
    by_annotator: dict[str, int] = field(default_factory=dict)


def _project(row: Row) -> LabelProject:
    data = dict(row._mapping)
    data["config"] = json.loads(data.pop("config_json") or "{}")
    return LabelProject(**data)


def _task(row: Row) -> LabelTask:
    return LabelTask(
        row.id,
        row.label_project_id,
        json.loads(row.data_json),
        row.source_ref,
        row.request_id,
        row.taken,
        row.created_at,
    )


def _annotation(row: Row) -> Annotation:
    return Annotation(
        row.id, row.task_id, row.annotator, json.loads(row.result_json), row.lead_ms, row.created_at
    )


def _dumps(value: Any, what: str) -> str:
    try:
        text = json.dumps(value, sort_keys=True, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(
            f"{what} must be plain JSON (no NaN or infinity): {exc}"
        ) from exc
    if "\\u0000" in text:
        raise InvalidArgumentError(f"{what} contains a NUL character")
    return text


def _check_annotator(annotator: str) -> str:
    return check_name("annotator", annotator)
