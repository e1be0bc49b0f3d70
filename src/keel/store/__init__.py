"""Persistence: metadata repositories (SQL) and the content-addressed blob store.

:func:`open_store` is the composition root: it builds one repository per aggregate over
one database and one blob store. Nothing here knows about HTTP or the command line.
"""

from __future__ import annotations

from dataclasses import dataclass

from keel.config import Settings
from keel.store._db import Database
from keel.store._migrate import HEAD_REVISIONS, current_revisions, ensure_schema, upgrade
from keel.store.artifacts import ArtifactRepository
from keel.store.blobs import BlobRef, BlobStore
from keel.store.datasets import DatasetRepository
from keel.store.entities import (
    ArtifactInfo,
    Dataset,
    DatasetFile,
    DatasetLink,
    DatasetVersion,
    Experiment,
    Lifecycle,
    Metric,
    Project,
    Run,
    RunInfo,
    RunPage,
    RunStatus,
)
from keel.store.experiments import ExperimentRepository
from keel.store.gc import GcReport, collect_garbage
from keel.store.projects import ProjectRepository
from keel.store.runs import RunRepository


@dataclass(frozen=True)
class Store:
    """The repositories of one keel installation, sharing a database and a blob store."""

    settings: Settings
    db: Database
    blobs: BlobStore
    projects: ProjectRepository
    experiments: ExperimentRepository
    runs: RunRepository
    artifacts: ArtifactRepository
    datasets: DatasetRepository

    def close(self) -> None:
        self.db.dispose()


def open_store(settings: Settings, *, migrate: bool = True) -> Store:
    """Open (and, for a new or older database, upgrade) the store ``settings`` point at."""
    db = Database(settings.db_uri)
    if migrate:
        ensure_schema(db)
    return Store(
        settings=settings,
        db=db,
        blobs=BlobStore(settings.artifacts_uri),
        projects=ProjectRepository(db),
        experiments=ExperimentRepository(db),
        runs=RunRepository(db),
        artifacts=ArtifactRepository(db),
        datasets=DatasetRepository(db),
    )


__all__ = [
    "HEAD_REVISIONS",
    "ArtifactInfo",
    "ArtifactRepository",
    "BlobRef",
    "BlobStore",
    "Database",
    "Dataset",
    "DatasetFile",
    "DatasetLink",
    "DatasetRepository",
    "DatasetVersion",
    "Experiment",
    "ExperimentRepository",
    "GcReport",
    "Lifecycle",
    "Metric",
    "Project",
    "ProjectRepository",
    "Run",
    "RunInfo",
    "RunPage",
    "RunRepository",
    "RunStatus",
    "Store",
    "collect_garbage",
    "current_revisions",
    "ensure_schema",
    "open_store",
    "upgrade",
]
