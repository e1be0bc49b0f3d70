"""Persistence: metadata repositories (SQL) and the content-addressed blob store.

:func:`open_store` is the composition root: it builds one repository per aggregate over
one database and one blob store. Nothing here knows about HTTP or the command line.
"""

from __future__ import annotations

from dataclasses import dataclass

from keel.config import Settings
from keel.store._db import Database
from keel.store._migrate import HEAD_REVISIONS, current_revisions, ensure_schema, upgrade
from keel.store.alerts import AlertRepository
from keel.store.artifacts import ArtifactRepository
from keel.store.blobs import BlobRef, BlobStore
from keel.store.comments import Comment, CommentRepository
from keel.store.datasets import DatasetRepository
from keel.store.deployments import DeploymentRepository
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
from keel.store.logged_models import LoggedModel, LoggedModelRepository
from keel.store.monitors import MonitorRepository
from keel.store.pipelines import (
    PipelineRunRepository,
    ScheduleRepository,
    StepCacheRepository,
)
from keel.store.projects import ProjectRepository
from keel.store.registry import ModelVersion, NewVersion, RegisteredModel, RegistryRepository
from keel.store.runs import RunRepository
from keel.store.users import UserRepository


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
    deployments: DeploymentRepository
    users: UserRepository
    logged_models: LoggedModelRepository
    pipeline_runs: PipelineRunRepository
    step_cache: StepCacheRepository
    schedules: ScheduleRepository
    registry: RegistryRepository
    monitors: MonitorRepository
    alerts: AlertRepository
    comments: CommentRepository

    def close(self) -> None:
        self.db.dispose()


def open_store(settings: Settings, *, migrate: bool = True) -> Store:
    """Open (and, for a new or older database, upgrade) the store ``settings`` point at.

    With ``settings.server_url`` set, the repositories talk to that ``keel server`` over HTTP.
    """
    if settings.server_url:
        from keel.store.remote import open_remote_store

        return open_remote_store(settings)
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
        deployments=DeploymentRepository(db),
        users=UserRepository(db),
        logged_models=LoggedModelRepository(db),
        pipeline_runs=PipelineRunRepository(db),
        step_cache=StepCacheRepository(db),
        schedules=ScheduleRepository(db),
        registry=RegistryRepository(db),
        monitors=MonitorRepository(db),
        alerts=AlertRepository(db),
        comments=CommentRepository(db),
    )


__all__ = [
    "HEAD_REVISIONS",
    "AlertRepository",
    "ArtifactInfo",
    "ArtifactRepository",
    "BlobRef",
    "BlobStore",
    "Comment",
    "CommentRepository",
    "Database",
    "Dataset",
    "DatasetFile",
    "DatasetLink",
    "DatasetRepository",
    "DatasetVersion",
    "DeploymentRepository",
    "Experiment",
    "ExperimentRepository",
    "GcReport",
    "Lifecycle",
    "LoggedModel",
    "LoggedModelRepository",
    "Metric",
    "ModelVersion",
    "MonitorRepository",
    "NewVersion",
    "PipelineRunRepository",
    "Project",
    "ProjectRepository",
    "RegisteredModel",
    "RegistryRepository",
    "Run",
    "RunInfo",
    "RunPage",
    "RunRepository",
    "RunStatus",
    "ScheduleRepository",
    "StepCacheRepository",
    "Store",
    "UserRepository",
    "collect_garbage",
    "current_revisions",
    "ensure_schema",
    "open_store",
    "upgrade",
]
