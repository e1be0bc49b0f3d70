"""Never imported at run time: mypy checks here that each SQL repository, the SQL database
and the local blob store satisfy their protocols (``keel.store.remote`` checks the HTTP ones)."""

from __future__ import annotations

from keel.store._db import Database
from keel.store.alerts import AlertRepository
from keel.store.artifacts import ArtifactRepository
from keel.store.blobs import BlobStore
from keel.store.comments import CommentRepository
from keel.store.credentials import CredentialRepository
from keel.store.datasets import DatasetRepository
from keel.store.deployments import DeploymentRepository
from keel.store.experiments import ExperimentRepository
from keel.store.labeling import LabelingRepository
from keel.store.logged_models import LoggedModelRepository
from keel.store.metadata_tables import MetadataTableRepository
from keel.store.monitors import MonitorRepository
from keel.store.ownership import OwnershipRepository
from keel.store.pipelines import (
    PipelineRunRepository,
    ScheduleRepository,
    StepCacheRepository,
)
from keel.store.projects import ProjectRepository
from keel.store.protocols import (
    Alerts,
    Artifacts,
    Blobs,
    Comments,
    Credentials,
    Datasets,
    Db,
    Deployments,
    Experiments,
    Labeling,
    LoggedModels,
    MetadataTables,
    Monitors,
    Ownership,
    PipelineRuns,
    Projects,
    Registry,
    Reports,
    Runs,
    RunStats,
    Schedules,
    Search,
    StepCache,
    Sweeps,
    Users,
)
from keel.store.registry import RegistryRepository
from keel.store.reports import ReportRepository
from keel.store.run_stats import RunStatsRepository
from keel.store.runs import RunRepository
from keel.store.search_semantic import FusedSearchRepository
from keel.store.sweeps import SweepRepository
from keel.store.users import UserRepository


def _conforms(db: Database, blobs: BlobStore) -> dict[str, object]:
    """Never called: mypy checks here that each SQL repository, the SQL database and the
    local blob store satisfy their protocols (``keel.store.remote`` does the same for the
    HTTP ones)."""
    projects: Projects = ProjectRepository(db)
    experiments: Experiments = ExperimentRepository(db)
    runs: Runs = RunRepository(db)
    artifacts: Artifacts = ArtifactRepository(db)
    datasets: Datasets = DatasetRepository(db)
    registry: Registry = RegistryRepository(db)
    deployments: Deployments = DeploymentRepository(db)
    labeling: Labeling = LabelingRepository(db)
    monitors: Monitors = MonitorRepository(db)
    alerts: Alerts = AlertRepository(db)
    pipeline_runs: PipelineRuns = PipelineRunRepository(db)
    step_cache: StepCache = StepCacheRepository(db)
    schedules: Schedules = ScheduleRepository(db)
    ownership: Ownership = OwnershipRepository(db)
    search: Search = FusedSearchRepository(db)
    reports: Reports = ReportRepository(db)
    sweeps: Sweeps = SweepRepository(db)
    users: Users = UserRepository(db)
    credentials: Credentials = CredentialRepository(db)
    comments: Comments = CommentRepository(db)
    logged_models: LoggedModels = LoggedModelRepository(db)
    run_stats: RunStats = RunStatsRepository(db)
    metadata_tables: MetadataTables = MetadataTableRepository(db)
    sql_db: Db = db
    local_blobs: Blobs = blobs
    return dict(locals())
