"""One :class:`~typing.Protocol` per aggregate: what a :class:`~keel.store.Store` offers.

Each has two implementations side by side, neither inheriting the other: the SQL
repository (``keel.store.runs.RunRepository``...) over the database, and the HTTP one
(``keel.store.remote``) against ``keel server``. The contract tests run every protocol over
SQLite, PostgreSQL and the server, and check that both implementations offer every method
with the same parameters; mypy checks them structurally (``_conforms.py``).

The protocols live in one module per group of aggregates (``_tracking``, ``_ops``,
``_pipelines``, ``_workbench``, ``_accounts``, ``_storage``); import them from here.
"""

from __future__ import annotations

from keel.store.protocols._accounts import Comments, Credentials, LoggedModels, Users
from keel.store.protocols._ops import Alerts, Deployments, Monitors, Registry
from keel.store.protocols._pipelines import PipelineRuns, Schedules, StepCache
from keel.store.protocols._storage import Blobs, Db, MetadataTables, RunStats
from keel.store.protocols._tracking import Artifacts, Datasets, Experiments, Projects, Runs
from keel.store.protocols._workbench import Labeling, Ownership, Reports, Search, Sweeps

#: Store attribute -> the protocol of what it holds (the contract tests walk this).
PROTOCOLS: dict[str, type] = {
    "projects": Projects,
    "experiments": Experiments,
    "runs": Runs,
    "artifacts": Artifacts,
    "datasets": Datasets,
    "registry": Registry,
    "deployments": Deployments,
    "labeling": Labeling,
    "monitors": Monitors,
    "alerts": Alerts,
    "pipeline_runs": PipelineRuns,
    "step_cache": StepCache,
    "schedules": Schedules,
    "search": Search,
    "reports": Reports,
    "sweeps": Sweeps,
    "users": Users,
    "comments": Comments,
    "logged_models": LoggedModels,
}

__all__ = [
    "PROTOCOLS",
    "Alerts",
    "Artifacts",
    "Blobs",
    "Comments",
    "Credentials",
    "Datasets",
    "Db",
    "Deployments",
    "Experiments",
    "Labeling",
    "LoggedModels",
    "MetadataTables",
    "Monitors",
    "Ownership",
    "PipelineRuns",
    "Projects",
    "Registry",
    "Reports",
    "RunStats",
    "Runs",
    "Schedules",
    "Search",
    "StepCache",
    "Sweeps",
    "Users",
]
