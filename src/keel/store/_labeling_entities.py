"""The labeling aggregate's values: projects, tasks, annotations and progress, frozen, and
the decoding of their rows (JSON columns read with orjson; exports read 200,000 rows)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from keel.exceptions import InvalidArgumentError
from keel.store._labeling_share import doubled
from keel.store._rows import entity

if TYPE_CHECKING:
    from sqlalchemy import Row


@dataclass(frozen=True, slots=True)
class LabelProject:
    id: int
    project_id: int
    name: str
    config: dict[str, Any]
    instructions: str
    overlap: int
    created_at: int
    double_share: float | None = None

    def overlap_of(self, task_id: int) -> int:
        """How many annotators task ``task_id`` goes to."""
        return self.overlap if doubled(task_id, self.double_share) else 1


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


def project_of(row: Row) -> LabelProject:
    data = dict(row._mapping)
    data["config"] = orjson.loads(data.pop("config_json") or "{}")
    return LabelProject(**data)


def task_of(row: Row) -> LabelTask:
    return entity(LabelTask, row, data=orjson.loads(row.data_json))


def annotation_of(row: Row) -> Annotation:
    return entity(Annotation, row, result=orjson.loads(row.result_json))


def dumps_json(value: Any, what: str) -> str:
    try:
        text = json.dumps(value, sort_keys=True, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(
            f"{what} must be plain JSON (no NaN or infinity): {exc}"
        ) from exc
    if "\\u0000" in text:
        raise InvalidArgumentError(f"{what} contains a NUL character")
    return text


__all__ = [
    "Annotation",
    "LabelProgress",
    "LabelProject",
    "LabelTask",
    "NewTask",
    "annotation_of",
    "dumps_json",
    "project_of",
    "task_of",
]
