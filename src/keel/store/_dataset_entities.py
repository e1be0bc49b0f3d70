"""The entities of versioned datasets (imported through :mod:`keel.store.entities`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True, repr=False)
class Dataset:
    """A named dataset of a project; its versions are :class:`DatasetVersion`."""

    id: int
    project_id: int
    name: str
    description: str
    created_at: int

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}, id={self.id})"


@dataclass(frozen=True, slots=True)
class DatasetFile:
    """One file of a dataset version and the blob holding its bytes."""

    path: str
    blob_sha: str
    size: int


@dataclass(frozen=True, slots=True, repr=False)
class DatasetVersion:
    """One immutable version of a dataset: hash, schema, profile and source."""

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
