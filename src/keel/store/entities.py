"""Frozen value objects returned by every repository read.

They carry plain data only; nothing here touches the database, so callers may keep and
share them freely.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


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


@dataclass(frozen=True, slots=True)
class Project:
    id: int
    name: str
    description: str
    created_at: int

    def __repr__(self) -> str:
        return f"Project({self.name!r}, id={self.id})"


@dataclass(frozen=True, slots=True)
class Experiment:
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


@dataclass(frozen=True, slots=True)
class RunInfo:
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


@dataclass(frozen=True, slots=True)
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
    runs: list[Run]
    next_page_token: str | None


@dataclass(frozen=True, slots=True)
class ArtifactInfo:
    path: str
    size: int
    blob_sha: str
    created_at: int


@dataclass(frozen=True, slots=True)
class Dataset:
    id: int
    project_id: int
    name: str
    description: str
    created_at: int

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}, id={self.id})"


@dataclass(frozen=True, slots=True)
class DatasetFile:
    path: str
    blob_sha: str
    size: int


@dataclass(frozen=True, slots=True)
class DatasetVersion:
    id: int
    dataset_id: int
    dataset_name: str
    version: int
    content_hash: str
    kind: str
    source: dict[str, Any]
    schema: list[dict[str, Any]]
    profile: dict[str, Any]
    num_rows: int | None
    num_files: int
    size_bytes: int
    created_at: int
    run_id: str | None

    @property
    def ref(self) -> str:
        return f"{self.dataset_name}@{self.version}"

    def __repr__(self) -> str:
        shape = (
            f"{self.num_rows} rows x {len(self.schema)} columns"
            if self.num_rows is not None
            else f"{self.num_files} files"
        )
        return f"DatasetVersion({self.ref}, {self.kind}, {shape}, {self.content_hash[:12]})"


@dataclass(frozen=True, slots=True)
class DatasetLink:
    """A lineage edge between a run and a dataset version."""

    run_id: str
    version: DatasetVersion
    direction: str  # "input" or "output"


def _brief(values: dict[str, float], limit: int = 4) -> str:
    """``{auc: 0.95, loss: 0.12, …+3}``: the first few values, rounded, for a repr."""
    items = [f"{k}: {v:.4g}" for k, v in list(values.items())[:limit]]
    more = len(values) - limit
    return "{" + ", ".join(items) + (f", …+{more}" if more > 0 else "") + "}"


# -- the model registry ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RegisteredModel:
    id: int
    project_id: int
    name: str
    description: str
    created_at: int
    updated_at: int
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)  # alias -> version number
    latest_version: int | None = None

    def __repr__(self) -> str:
        aliases = ", ".join(f"{a}→{v}" for a, v in sorted(self.aliases.items()))
        return (
            f"RegisteredModel({self.name!r}, latest={self.latest_version}, aliases={{{aliases}}})"
        )


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One registered version: where its package blob is, and what it says about itself."""

    id: int
    model_id: int
    name: str
    version: int
    semver: str | None
    blob_sha: str
    size: int
    manifest_sha: str
    run_id: str | None
    flavor: str
    serve_flavor: str
    task: str
    source: str
    signer: str | None
    description: str
    frameworks: dict[str, str]
    signature: dict[str, Any]
    lineage: dict[str, Any]
    card: dict[str, Any]
    created_at: int
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    datasets: list[str] = field(default_factory=list)  # "name@version"
    aliases: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def __repr__(self) -> str:
        signed = f"signed by {self.signer}" if self.signer else "unsigned"
        aliases = f", aliases={self.aliases}" if self.aliases else ""
        return f"ModelVersion({self.ref}, {self.flavor}, {self.task}, {signed}{aliases})"


@dataclass(frozen=True, slots=True)
class NewVersion:
    """What a caller records when it registers a package."""

    blob_sha: str
    size: int
    manifest_sha: str
    flavor: str
    serve_flavor: str
    task: str
    source: str = "logged"
    run_id: str | None = None
    semver: str | None = None
    signer: str | None = None
    description: str = ""
    frameworks: Mapping[str, str] = field(default_factory=dict)
    signature: Mapping[str, Any] = field(default_factory=dict)
    lineage: Mapping[str, Any] = field(default_factory=dict)
    card: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    datasets: Sequence[tuple[str, int]] = ()
