"""Frozen value objects returned by every repository read.

They carry plain data only; nothing here touches the database, so callers may keep and
share them freely.

Making a dataclass compiles its methods (about 1 ms each on Python 3.11), so the entities
of datasets and of the model registry live in :mod:`keel.store._dataset_entities` and
:mod:`keel.store._registry_entities` and load on first use: ``keel runs list`` does not pay
for them. Import them from here either way. Entities with their own ``__repr__`` pass
``repr=False`` and every entity has a docstring (else dataclasses builds one from
``inspect.signature``): both only save import time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any


class RunStatus(StrEnum):
    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    @property
    def is_terminal(self) -> bool:
        return self in (RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED)


class Lifecycle(StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True, repr=False)
class Project:
    """A project: the unit of access and of everything below it."""

    id: int
    name: str
    description: str
    created_at: int

    def __repr__(self) -> str:
        return f"Project({self.name!r}, id={self.id})"


@dataclass(frozen=True, slots=True, repr=False)
class Experiment:
    """A named group of runs inside a project."""

    id: int
    project_id: int
    name: str
    description: str
    lifecycle: Lifecycle
    created_at: int
    updated_at: int
    tags: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Experiment({self.name!r}, id={self.id}, {self.lifecycle.value})"


@dataclass(frozen=True, slots=True)
class Metric:
    """One logged point; ``timestamp`` is milliseconds since the epoch."""

    key: str
    value: float
    step: int = 0
    timestamp: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.value, (int, float)):
            raise TypeError(f"metric {self.key!r} value must be a number, got {self.value!r}")

    @property
    def is_nan(self) -> bool:
        return math.isnan(self.value)


@dataclass(frozen=True, slots=True, repr=False)
class RunInfo:
    """What a run is, without what it logged."""

    id: str
    experiment_id: int
    name: str
    status: RunStatus
    start_time: int
    end_time: int | None
    lifecycle: Lifecycle
    user: str
    parent_id: str | None
    note: str = ""

    def __repr__(self) -> str:
        return f"RunInfo({self.name!r}, id={self.id[:8]}…, {self.status.value})"


@dataclass(frozen=True, slots=True, repr=False)
class Run:
    """A run with its params, tags and the latest value of each metric."""

    info: RunInfo
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    #: (step, timestamp) of each metric's latest value
    metric_steps: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def status(self) -> RunStatus:
        return self.info.status

    def __repr__(self) -> str:
        return (
            f"Run({self.info.name!r}, id={self.info.id[:8]}…, {self.info.status.value}, "
            f"{len(self.params)} params, metrics={_brief(self.metrics)})"
        )


@dataclass(frozen=True, slots=True)
class RunPage:
    """One page of a run search and the token of the next page (None: the last)."""

    runs: list[Run]
    next_page_token: str | None


@dataclass(frozen=True, slots=True)
class ArtifactInfo:
    """A file logged by a run: its path and the blob holding its bytes."""

    path: str
    size: int
    blob_sha: str
    created_at: int


def _brief(values: dict[str, float], limit: int = 4) -> str:
    """``{auc: 0.95, loss: 0.12, …+3}``: the first few values, rounded, for a repr."""
    items = [f"{k}: {v:.4g}" for k, v in list(values.items())[:limit]]
    more = len(values) - limit
    return "{" + ", ".join(items) + (f", …+{more}" if more > 0 else "") + "}"


if TYPE_CHECKING:
    from keel.store._dataset_entities import Dataset, DatasetFile, DatasetLink, DatasetVersion
    from keel.store._registry_entities import ModelVersion, NewVersion, RegisteredModel

#: entity -> the module that defines it, imported on first use (PEP 562)
_LAZY: dict[str, str] = {
    **dict.fromkeys(
        ("Dataset", "DatasetFile", "DatasetLink", "DatasetVersion"),
        "keel.store._dataset_entities",
    ),
    **dict.fromkeys(
        ("ModelVersion", "NewVersion", "RegisteredModel"), "keel.store._registry_entities"
    ),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'keel.store.entities' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "ArtifactInfo",
    "Dataset",
    "DatasetFile",
    "DatasetLink",
    "DatasetVersion",
    "Experiment",
    "Lifecycle",
    "Metric",
    "ModelVersion",
    "NewVersion",
    "Project",
    "RegisteredModel",
    "Run",
    "RunInfo",
    "RunPage",
    "RunStatus",
]
