"""Persistence: metadata repositories (SQL) and the content-addressed blob store.

:func:`open_store` is the composition root: it gives one repository per aggregate over
one database and one blob store. Repositories are built on first use, so a command that
only reads runs does not import the schema of every feature area. Nothing here knows
about HTTP or the command line.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from keel._exports import lazy_exports
from keel.config import Settings
from keel.store._db import Database
from keel.store._migrate import HEAD_REVISIONS, current_revisions, ensure_schema, upgrade
from keel.store.blobs import BlobRef, BlobStore
from keel.store.entities import (
    ArtifactInfo,
    Experiment,
    Lifecycle,
    Metric,
    Project,
    Run,
    RunInfo,
    RunPage,
    RunStatus,
)

if TYPE_CHECKING:
    from keel.store import protocols as P
    from keel.store.alerts import AlertRepository
    from keel.store.artifacts import ArtifactRepository
    from keel.store.comments import Comment, CommentRepository
    from keel.store.credentials import CredentialRepository
    from keel.store.datasets import DatasetRepository
    from keel.store.deployments import DeploymentRepository
    from keel.store.entities import Dataset, DatasetFile, DatasetLink, DatasetVersion
    from keel.store.experiments import ExperimentRepository
    from keel.store.gc import GcReport, collect_garbage
    from keel.store.logged_models import LoggedModel, LoggedModelRepository
    from keel.store.monitors import MonitorRepository
    from keel.store.ownership import OwnershipRepository
    from keel.store.pipelines import (
        PipelineRunRepository,
        ScheduleRepository,
        StepCacheRepository,
    )
    from keel.store.projects import ProjectRepository
    from keel.store.registry import ModelVersion, NewVersion, RegisteredModel, RegistryRepository
    from keel.store.runs import RunRepository
    from keel.store.users import UserRepository

#: Store attribute -> (module, class) of the repository behind it.
REPOSITORIES: dict[str, tuple[str, str]] = {
    "projects": ("keel.store.projects", "ProjectRepository"),
    "experiments": ("keel.store.experiments", "ExperimentRepository"),
    "runs": ("keel.store.runs", "RunRepository"),
    "artifacts": ("keel.store.artifacts", "ArtifactRepository"),
    "datasets": ("keel.store.datasets", "DatasetRepository"),
    "deployments": ("keel.store.deployments", "DeploymentRepository"),
    "users": ("keel.store.users", "UserRepository"),
    "logged_models": ("keel.store.logged_models", "LoggedModelRepository"),
    "pipeline_runs": ("keel.store.pipelines", "PipelineRunRepository"),
    "step_cache": ("keel.store.pipelines", "StepCacheRepository"),
    "schedules": ("keel.store.pipelines", "ScheduleRepository"),
    "registry": ("keel.store.registry", "RegistryRepository"),
    "monitors": ("keel.store.monitors", "MonitorRepository"),
    "alerts": ("keel.store.alerts", "AlertRepository"),
    "comments": ("keel.store.comments", "CommentRepository"),
    "ownership": ("keel.store.ownership", "OwnershipRepository"),
    "search": ("keel.store.search_semantic", "FusedSearchRepository"),
    "reports": ("keel.store.reports", "ReportRepository"),
    "sweeps": ("keel.store.sweeps", "SweepRepository"),
    "labeling": ("keel.store.labeling", "LabelingRepository"),
    "credentials": ("keel.store.credentials", "CredentialRepository"),
    "run_stats": ("keel.store.run_stats", "RunStatsRepository"),
    "metadata_tables": ("keel.store.metadata_tables", "MetadataTableRepository"),
}

#: Other public names, imported on first use (PEP 562).
_LAZY: dict[str, str] = {cls: mod for mod, cls in REPOSITORIES.values()} | {
    "Comment": "keel.store.comments",
    "GcReport": "keel.store.gc",
    "collect_garbage": "keel.store.gc",
    "LoggedModel": "keel.store.logged_models",
    "ModelVersion": "keel.store.registry",
    "NewVersion": "keel.store.registry",
    "RegisteredModel": "keel.store.registry",
    # loaded with the first dataset read (see keel.store.entities)
    **dict.fromkeys(
        ("Dataset", "DatasetFile", "DatasetLink", "DatasetVersion"), "keel.store.entities"
    ),
}


def repository_class(name: str) -> Any:
    module, cls = REPOSITORIES[name]
    return getattr(importlib.import_module(module), cls)


class Store:
    """The repositories of one keel installation, sharing a database and a blob store.

    Each attribute is typed by its aggregate's protocol (:mod:`keel.store.protocols`).
    ``make(name)`` builds the repository for attribute ``name`` on first access; the SQL
    backend builds ``REPOSITORIES[name]`` over ``db``, the remote backend its HTTP twins.
    Thread-safe: building a repository twice in a race is harmless (they are stateless).
    """

    settings: Settings
    db: P.Db
    blobs: P.Blobs
    projects: P.Projects
    experiments: P.Experiments
    runs: P.Runs
    artifacts: P.Artifacts
    datasets: P.Datasets
    deployments: P.Deployments
    users: P.Users
    logged_models: P.LoggedModels
    pipeline_runs: P.PipelineRuns
    step_cache: P.StepCache
    schedules: P.Schedules
    registry: P.Registry
    monitors: P.Monitors
    alerts: P.Alerts
    comments: P.Comments
    ownership: P.Ownership
    search: P.Search
    reports: P.Reports
    sweeps: P.Sweeps
    labeling: P.Labeling
    credentials: P.Credentials
    run_stats: P.RunStats
    metadata_tables: P.MetadataTables

    def __init__(self, settings: Settings, db: Any, blobs: Any, make: Callable[[str], Any]) -> None:
        self.settings = settings
        self.db = db
        self.blobs = blobs
        self._make = make

    def __getattr__(self, name: str) -> Any:
        if name not in REPOSITORIES:
            raise AttributeError(f"Store has no repository {name!r}")
        repo = self._make(name)
        setattr(self, name, repo)
        return repo

    def close(self) -> None:
        self.db.dispose()


def open_store(settings: Settings, *, migrate: bool = True) -> Store:
    """Open (and, for a new or older database, upgrade) the store ``settings`` point at.

    With ``settings.server_url`` set, the repositories talk to that ``keel server`` over HTTP.
    """
    if settings.server_url:
        from keel.store.remote import open_remote_store

        return Store(settings, *open_remote_store(settings))
    db = Database.from_settings(settings)
    if migrate:
        ensure_schema(db)
    return Store(
        settings, db, BlobStore(settings.artifacts_uri), lambda name: repository_class(name)(db)
    )


__all__ = [
    "HEAD_REVISIONS",
    "REPOSITORIES",
    "AlertRepository",
    "ArtifactInfo",
    "ArtifactRepository",
    "BlobRef",
    "BlobStore",
    "Comment",
    "CommentRepository",
    "CredentialRepository",
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
    "OwnershipRepository",
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

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals(), __all__)
