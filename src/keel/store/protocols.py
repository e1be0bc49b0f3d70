"""One :class:`~typing.Protocol` per aggregate: what a :class:`~keel.store.Store` offers.

Each has two implementations side by side, neither inheriting the other: the SQL
repository (``keel.store.runs.RunRepository``...) over the database, and the HTTP one
(``keel.store.remote``) against ``keel server``. The contract tests run every protocol over
SQLite, PostgreSQL and the server, and check that both implementations offer every method
with the same parameters; mypy checks them structurally (see :func:`_conforms`).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from keel.store.entities import (
    ArtifactInfo,
    Dataset,
    DatasetFile,
    DatasetVersion,
    Experiment,
    Metric,
    Project,
    Run,
    RunInfo,
    RunPage,
    RunStatus,
)

if TYPE_CHECKING:
    from keel.store._db import Database
    from keel.store.alerts import Alert, Delivery, NewAlert, Notifier
    from keel.store.blobs import BlobRef, BlobStore
    from keel.store.deployments import Deployment, DeploymentRevision, DeploymentTarget
    from keel.store.labeling import (
        Annotation,
        LabelProgress,
        LabelProject,
        LabelTask,
        NewTask,
    )
    from keel.store.monitors import Monitor, ReferenceInfo
    from keel.store.ownership import Owned
    from keel.store.pipelines import (
        CacheEntry,
        ChildRun,
        PipelineRunInfo,
        Schedule,
        ScheduleFire,
        SchedulerInfo,
        StepRunInfo,
    )
    from keel.store.registry import ModelVersion, NewVersion, RegisteredModel
    from keel.store.reports import ReportVersion, StoredReport
    from keel.store.search import SearchHit
    from keel.store.sweeps import Sweep, Trial, TrialPatch, TrialState


class Projects(Protocol):
    """Create and look up projects."""

    def get_or_create(self, name: str, description: str = "") -> Project: ...
    def get(self, name: str) -> Project: ...
    def get_by_id(self, project_id: int) -> Project: ...
    def list(self) -> list[Project]: ...


class Experiments(Protocol):
    """Create, rename, tag, delete and restore experiments."""

    def create(
        self, project_id: int, name: str, *, description: str = "", tags: Mapping[str, str] = {}
    ) -> Experiment: ...
    def get_or_create(self, project_id: int, name: str) -> Experiment: ...
    def get(self, experiment_id: int) -> Experiment: ...
    def find(self, project_id: int, name: str) -> Experiment | None: ...
    def get_by_name(self, project_id: int, name: str) -> Experiment: ...
    def list(self, project_id: int, *, include_deleted: bool = False) -> list[Experiment]: ...
    def rename(self, experiment_id: int, new_name: str) -> Experiment: ...
    def set_description(self, experiment_id: int, description: str) -> Experiment: ...
    def delete(self, experiment_id: int) -> None: ...
    def restore(self, experiment_id: int) -> None: ...
    def set_tag(self, experiment_id: int, key: str, value: str) -> None: ...
    def delete_tag(self, experiment_id: int, key: str) -> None: ...


class Runs(Protocol):
    """Create runs and record what they log."""

    def create(
        self,
        experiment_id: int,
        *,
        name: str | None = None,
        parent_id: str | None = None,
        user: str = "",
        tags: Mapping[str, str] | None = None,
        start_time: int | None = None,
        status: RunStatus = RunStatus.RUNNING,
    ) -> RunInfo: ...
    def get_info(self, run_id: str) -> RunInfo: ...
    def get(self, run_id: str) -> Run: ...
    def get_many(self, run_ids: Sequence[str]) -> list[Run]: ...
    def update(
        self,
        run_id: str,
        *,
        status: RunStatus | None = None,
        end_time: int | None = None,
        name: str | None = None,
        note: str | None = None,
    ) -> RunInfo: ...
    def delete(self, run_id: str) -> None: ...
    def restore(self, run_id: str) -> None: ...
    def children(self, run_id: str) -> list[RunInfo]: ...
    def log_metric(self, run_id: str, metric: Metric) -> None: ...
    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Sequence[Metric] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None: ...
    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None: ...
    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None: ...
    def delete_tag(self, run_id: str, key: str) -> None: ...
    def metric_history(
        self, run_id: str, key: str, *, offset: int = 0, limit: int | None = None
    ) -> list[Metric]: ...
    def metric_keys(self, run_id: str) -> list[str]: ...
    def link_dataset(self, run_id: str, version_id: int, direction: str) -> None: ...
    def dataset_links(self, run_id: str) -> list[tuple[int, str]]: ...
    def search(
        self,
        experiment_ids: Sequence[int],
        filter_string: str | None = None,
        *,
        order_by: Sequence[str] | str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
        include_deleted: bool = False,
    ) -> RunPage: ...


class Artifacts(Protocol):
    """Record, list and remove run artifacts (the bytes live in the blob store)."""

    def add(self, run_id: str, items: list[tuple[str, BlobRef]]) -> list[ArtifactInfo]: ...
    def list(self, run_id: str, prefix: str | None = None) -> list[ArtifactInfo]: ...
    def get(self, run_id: str, path: str) -> ArtifactInfo: ...
    def delete(self, run_id: str, path: str) -> int: ...


class Datasets(Protocol):
    """Register and read dataset versions; a version never changes once written."""

    def get_or_create(self, project_id: int, name: str, description: str = "") -> Dataset: ...
    def get(self, project_id: int, name: str) -> Dataset: ...
    def list_with_latest(self, project_id: int) -> list[tuple[Dataset, DatasetVersion | None]]: ...
    def add_version(
        self,
        dataset: Dataset,
        *,
        content_hash: str,
        kind: str,
        source: dict[str, Any],
        schema: list[dict[str, Any]],
        profile: dict[str, Any],
        num_rows: int | None,
        files: Sequence[DatasetFile],
        run_id: str | None = None,
    ) -> tuple[DatasetVersion, bool]: ...
    def get_version(
        self, project_id: int, name: str, version: int | None = None
    ) -> DatasetVersion: ...
    def get_version_by_id(self, version_id: int) -> DatasetVersion: ...
    def versions(self, project_id: int, name: str) -> list[DatasetVersion]: ...
    def files(self, version_id: int) -> list[DatasetFile]: ...
    def runs_of(self, version_id: int) -> list[tuple[str, str]]: ...


class Registry(Protocol):
    """Registered models and their versions, one project at a time."""

    def create_model(
        self,
        project_id: int,
        name: str,
        *,
        description: str = "",
        tags: Mapping[str, str] | None = None,
    ) -> RegisteredModel: ...
    def get_or_create_model(self, project_id: int, name: str) -> RegisteredModel: ...
    def get_model(self, project_id: int, name: str) -> RegisteredModel: ...
    def list_models(self, project_id: int) -> list[RegisteredModel]: ...
    def update_model(self, project_id: int, name: str, *, description: str) -> RegisteredModel: ...
    def set_model_tags(self, project_id: int, name: str, tags: Mapping[str, str]) -> None: ...
    def delete_model_tag(self, project_id: int, name: str, key: str) -> None: ...
    def rename_model(self, project_id: int, name: str, new_name: str) -> RegisteredModel: ...
    def delete_model(self, project_id: int, name: str) -> None: ...
    def create_version(self, project_id: int, name: str, new: NewVersion) -> ModelVersion: ...
    def get_version_by_id(self, version_id: int) -> ModelVersion: ...
    def get_version(self, project_id: int, name: str, version: int) -> ModelVersion: ...
    def get_by_alias(self, project_id: int, name: str, alias: str) -> ModelVersion: ...
    def latest_version(self, project_id: int, name: str) -> ModelVersion: ...
    def versions(self, project_id: int, name: str) -> list[ModelVersion]: ...
    def update_version(
        self,
        version_id: int,
        *,
        description: str | None = None,
        card: Mapping[str, Any] | None = None,
    ) -> ModelVersion: ...
    def set_version_tags(self, version_id: int, tags: Mapping[str, str]) -> None: ...
    def delete_version_tag(self, version_id: int, key: str) -> None: ...
    def delete_version(self, version_id: int) -> None: ...
    def set_alias(
        self, project_id: int, name: str, alias: str, version_id: int
    ) -> ModelVersion: ...
    def delete_alias(self, project_id: int, name: str, alias: str) -> None: ...
    def search_versions(
        self,
        project_id: int,
        filter_string: str | None = None,
        *,
        max_results: int = 1000,
    ) -> list[ModelVersion]: ...


class Deployments(Protocol):
    """Apply, read, list, roll back and delete a project's deployments."""

    def apply(
        self,
        project_id: int,
        name: str,
        spec: Mapping[str, Any],
        targets: Sequence[DeploymentTarget],
        *,
        note: str = "",
    ) -> tuple[Deployment, bool]: ...
    def register(
        self,
        project_id: int,
        name: str,
        spec: Mapping[str, Any],
        targets: Sequence[DeploymentTarget],
        *,
        note: str = "",
    ) -> tuple[Deployment, bool]: ...
    def heartbeat(self, project_id: int, name: str) -> bool: ...
    def stop(self, project_id: int, name: str) -> None: ...
    def get(self, project_id: int, name: str) -> Deployment: ...
    def find(self, project_id: int, name: str) -> Deployment | None: ...
    def current_revision(self, project_id: int, name: str) -> int | None: ...
    def list(self, project_id: int) -> builtins.list[Deployment]: ...
    def revisions(self, project_id: int, name: str) -> builtins.list[DeploymentRevision]: ...
    def revision(self, project_id: int, name: str, revision: int) -> DeploymentRevision: ...
    def rollback(self, project_id: int, name: str, revision: int) -> Deployment: ...
    def delete(self, project_id: int, name: str) -> None: ...
    def all_targets(self, project_id: int) -> builtins.list[tuple[str, int, DeploymentTarget]]: ...


class Monitors(Protocol):
    """Monitors and the reference profiles they compare against."""

    def upsert(
        self,
        project_id: int,
        deployment: str,
        *,
        reference: str | None = None,
        config: dict[str, Any] | None = None,
        window: str | None = None,
        enabled: bool | None = None,
    ) -> Monitor: ...
    def get(self, project_id: int, deployment: str) -> Monitor: ...
    def find(self, project_id: int, deployment: str) -> Monitor | None: ...
    def get_by_id(self, monitor_id: int) -> Monitor: ...
    def list(self, project_id: int, *, enabled_only: bool = False) -> builtins.list[Monitor]: ...
    def delete(self, project_id: int, deployment: str) -> None: ...
    def mark_run(self, monitor_id: int, window_end: int) -> None: ...
    def put_reference(
        self,
        project_id: int,
        subject: str,
        *,
        blob_sha: str,
        num_rows: int,
        num_columns: int,
        source: str = "",
    ) -> ReferenceInfo: ...
    def get_reference(self, project_id: int, subject: str) -> ReferenceInfo: ...
    def find_reference(self, project_id: int, subject: str) -> ReferenceInfo | None: ...
    def list_references(self, project_id: int) -> builtins.list[ReferenceInfo]: ...


class Alerts(Protocol):
    """Raise, deduplicate, acknowledge and resolve alerts; route them to notifiers."""

    def record(self, project_id: int, new: NewAlert) -> tuple[Alert, str]: ...
    def acknowledge(
        self, project_id: int, alert_id: int, *, by: str = "", note: str = ""
    ) -> Alert: ...
    def resolve(self, project_id: int, alert_id: int, *, by: str = "", note: str = "") -> Alert: ...
    def resolve_absent(
        self,
        project_id: int,
        monitor_id: int,
        kinds: builtins.list[str],
        keep: set[str],
        *,
        by: str,
    ) -> builtins.list[Alert]: ...
    def get(self, project_id: int, alert_id: int) -> Alert: ...
    def list(
        self,
        project_id: int,
        *,
        state: str | None = None,
        deployment: str | None = None,
        kind: str | None = None,
        since: int | None = None,
        limit: int = 100,
    ) -> builtins.list[Alert]: ...
    def latest_id(
        self, project_id: int, *, deployment: str | None = None, kind: str | None = None
    ) -> int | None: ...
    def add_notifier(
        self,
        project_id: int,
        name: str,
        kind: str,
        config: dict[str, Any],
        *,
        min_severity: str = "warning",
        deployment: str = "",
    ) -> Notifier: ...
    def get_notifier(self, project_id: int, name: str) -> Notifier: ...
    def get_notifier_by_id(self, notifier_id: int) -> Notifier: ...
    def list_notifiers(self, project_id: int) -> builtins.list[Notifier]: ...
    def remove_notifier(self, project_id: int, name: str) -> None: ...
    def enqueue(self, alert: Alert, event: str) -> builtins.list[Delivery]: ...
    def claim_due(
        self, project_id: int, *, now: int, lease_ms: int, limit: int = 50
    ) -> builtins.list[Delivery]: ...
    def finish_delivery(
        self, delivery_id: int, *, ok: bool, error: str = "", retry_at: int | None = None
    ) -> Delivery: ...
    def deliveries(self, alert_id: int) -> builtins.list[Delivery]: ...


class PipelineRuns(Protocol):
    """A pipeline run and the fate of each of its steps."""

    def start(
        self,
        run_id: str,
        *,
        project_id: int,
        pipeline: str,
        target: str,
        runner: str,
        params: Mapping[str, Any],
        n_steps: int,
    ) -> PipelineRunInfo: ...
    def record_steps(
        self,
        pipeline_run_id: str,
        steps: Sequence[StepRunInfo],
        *,
        new_runs: Sequence[ChildRun] = (),
    ) -> None: ...
    def finish(
        self,
        run_id: str,
        *,
        status: str,
        n_cached: int,
        n_ran: int,
        n_failed: int,
        error: str = "",
    ) -> PipelineRunInfo: ...
    def get(self, run_id: str) -> PipelineRunInfo: ...
    def list(
        self, project_id: int, *, pipeline: str | None = None, limit: int = 50
    ) -> list[PipelineRunInfo]: ...
    def steps(self, run_id: str) -> builtins.list[StepRunInfo]: ...


class StepCache(Protocol):
    """Step-cache entries per project: the key, its parts and the output manifest."""

    def get(self, project_id: int, key: str) -> CacheEntry | None: ...
    def put(
        self,
        project_id: int,
        *,
        key: str,
        step: str,
        parts: Mapping[str, Any],
        manifest: Mapping[str, Any],
        size_bytes: int,
        run_id: str | None,
    ) -> None: ...
    def delete(self, project_id: int, keys: Iterable[str]) -> int: ...
    def clear(self, project_id: int, *, step: str | None = None) -> int: ...
    def latest_for_step(self, project_id: int, step: str) -> CacheEntry | None: ...
    def stats(self, project_id: int) -> list[tuple[str, int, int]]: ...


class Schedules(Protocol):
    """Schedules, the occurrences schedulers claimed, and the schedulers' heartbeats."""

    def add(
        self,
        project_id: int,
        name: str,
        *,
        target: str,
        params: Mapping[str, Any],
        runner: Mapping[str, Any],
        cron: str | None,
        trigger_kind: str | None,
        trigger_ref: str | None,
        trigger_baseline: str,
        catch_up: str,
    ) -> Schedule: ...
    def get(self, project_id: int, name: str) -> Schedule: ...
    def get_by_id(self, schedule_id: int) -> Schedule: ...
    def list(
        self, project_id: int | None = None, *, enabled_only: bool = False
    ) -> list[Schedule]: ...
    def remove(self, project_id: int, name: str) -> None: ...
    def set_enabled(self, project_id: int, name: str, enabled: bool) -> Schedule: ...
    def claim(
        self, schedule_id: int, occurrence: str, *, due_at: int, claimed_by: str, lease_ms: int
    ) -> ScheduleFire | None: ...
    def get_fire(self, fire_id: int) -> ScheduleFire: ...
    def update_fire(
        self,
        fire_id: int,
        *,
        status: str | None = None,
        pipeline_run_id: str | None = None,
        lease_expires_at: int | None = None,
        error: str | None = None,
        ended: bool = False,
    ) -> None: ...
    def fires(self, schedule_id: int, *, limit: int = 50) -> builtins.list[ScheduleFire]: ...
    def last_due(self, schedule_id: int) -> int | None: ...
    def has_occurrence(self, schedule_id: int, occurrence: str) -> bool: ...
    def expire_lost(self, now: int) -> int: ...
    def heartbeat(self, scheduler_id: str, *, host: str, pid: int, started_at: int) -> None: ...
    def schedulers(self, *, alive_within_ms: int = 60_000) -> builtins.list[SchedulerInfo]: ...
    def leave(self, scheduler_id: str) -> None: ...


class Ownership(Protocol):
    """Which project owns an object or references a blob: the server's access checks.
    SQL only (a client asks the server, which answers 404 for what it may not see)."""

    def project_of(self, kind: Owned, object_id: int | str) -> int: ...
    def projects_referencing(self, sha: str) -> set[int]: ...


class Search(Protocol):
    """Full-text search over a project's runs, comments, reports, models and datasets;
    ``refresh`` takes in what changed since the last one, ``rebuild`` everything."""

    def search(
        self,
        project_id: int,
        query: str,
        *,
        kinds: Sequence[str] = (),
        author: str | None = None,
        since: int | None = None,
        limit: int = 20,
        semantic: bool = False,
    ) -> builtins.list[SearchHit]: ...
    def refresh(self, project_id: int) -> int: ...
    def rebuild(self, project_id: int) -> int: ...


class Reports(Protocol):
    """Stored reports: Markdown with the sides it compared, listed newest first."""

    def save(
        self,
        project_id: int,
        title: str,
        markdown: str,
        *,
        base: str = "",
        head: str = "",
        author: str = "",
    ) -> StoredReport: ...
    def revise(
        self, project_id: int, report_id: int, markdown: str, *, title: str = "", author: str = ""
    ) -> StoredReport: ...
    def get(
        self, project_id: int, report_id: int, *, version: int | None = None
    ) -> StoredReport: ...
    def versions(self, project_id: int, report_id: int) -> builtins.list[ReportVersion]: ...
    def list(self, project_id: int, *, limit: int = 100) -> builtins.list[StoredReport]: ...


class Sweeps(Protocol):
    """Hyper-parameter sweeps (Optuna studies) and their trials: add, claim, record."""

    def create(
        self,
        project_id: int,
        name: str,
        *,
        directions: Sequence[str],
        spec: Mapping[str, Any] | None = None,
        fingerprint: str = "",
        run_id: str | None = None,
    ) -> Sweep: ...
    def get(self, project_id: int, name: str, *, generation: int | None = None) -> Sweep: ...
    def find(self, project_id: int, name: str) -> Sweep | None: ...
    def get_by_id(self, project_id: int, sweep_id: int) -> Sweep: ...
    def list(self, project_id: int, *, name: str | None = None) -> builtins.list[Sweep]: ...
    def update(
        self,
        project_id: int,
        sweep_id: int,
        *,
        status: str | None = None,
        reason: str | None = None,
        run_id: str | None = None,
        user_attrs: Mapping[str, Any] | None = None,
        system_attrs: Mapping[str, Any] | None = None,
    ) -> Sweep: ...
    def mark_stale(self, project_id: int, sweep_id: int, *, reason: str) -> Sweep: ...
    def delete(self, project_id: int, sweep_id: int) -> None: ...
    def add_trial(
        self, project_id: int, sweep_id: int, patch: TrialPatch | None = None
    ) -> Trial: ...
    def claim_trial(self, project_id: int, trial_id: int) -> bool: ...
    def update_trial(self, project_id: int, trial_id: int, patch: TrialPatch) -> Trial: ...
    def get_trial(self, project_id: int, trial_id: int) -> Trial: ...
    def trials(
        self,
        project_id: int,
        sweep_id: int,
        *,
        states: Sequence[TrialState] | None = None,
        after_id: int = -1,
        ids: Sequence[int] = (),
    ) -> builtins.list[Trial]: ...


class Labeling(Protocol):
    """Labeling projects, tasks, each annotator's queue and their annotations."""

    def create_project(
        self,
        project_id: int,
        name: str,
        config: dict[str, Any],
        *,
        instructions: str = "",
        overlap: int = 1,
    ) -> LabelProject: ...
    def get_project(self, project_id: int, name: str) -> LabelProject: ...
    def list_projects(self, project_id: int) -> builtins.list[LabelProject]: ...
    def add_tasks(
        self, project_id: int, name: str, tasks: Sequence[NewTask]
    ) -> builtins.list[int]: ...
    def get_task(self, project_id: int, name: str, task_id: int) -> LabelTask: ...
    def list_tasks(
        self, project_id: int, name: str, *, after: int = 0, limit: int = 1000
    ) -> builtins.list[LabelTask]: ...
    def next_task(self, project_id: int, name: str, annotator: str) -> LabelTask | None: ...
    def submit(
        self,
        project_id: int,
        name: str,
        task_id: int,
        annotator: str,
        result: Any,
        *,
        lead_ms: int | None = None,
    ) -> Annotation: ...
    def skip(
        self, project_id: int, name: str, task_id: int, annotator: str, reason: str
    ) -> None: ...
    def annotations(
        self,
        project_id: int,
        name: str,
        *,
        task_id: int | None = None,
        annotator: str | None = None,
        after: int = 0,
        limit: int = 1000,
    ) -> builtins.list[Annotation]: ...
    def has_answered(self, project_id: int, name: str, task_id: int, annotator: str) -> bool: ...
    def progress(self, project_id: int, name: str) -> LabelProgress: ...


def _conforms(db: Database) -> dict[str, object]:
    """Never called: mypy checks here that each SQL repository satisfies its protocol
    (``keel.store.remote`` does the same for the HTTP ones)."""
    from keel.store.alerts import AlertRepository
    from keel.store.artifacts import ArtifactRepository
    from keel.store.datasets import DatasetRepository
    from keel.store.deployments import DeploymentRepository
    from keel.store.experiments import ExperimentRepository
    from keel.store.labeling import LabelingRepository
    from keel.store.monitors import MonitorRepository
    from keel.store.ownership import OwnershipRepository
    from keel.store.pipelines import (
        PipelineRunRepository,
        ScheduleRepository,
        StepCacheRepository,
    )
    from keel.store.projects import ProjectRepository
    from keel.store.registry import RegistryRepository
    from keel.store.runs import RunRepository
    from keel.store.sweeps import SweepRepository

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
    from keel.store.reports import ReportRepository
    from keel.store.search_semantic import FusedSearchRepository

    search: Search = FusedSearchRepository(db)
    reports: Reports = ReportRepository(db)
    sweeps: Sweeps = SweepRepository(db)
    return dict(locals())


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
}

__all__ = [
    "PROTOCOLS",
    "Alerts",
    "Artifacts",
    "Datasets",
    "Deployments",
    "Experiments",
    "Labeling",
    "Monitors",
    "Ownership",
    "PipelineRuns",
    "Projects",
    "Registry",
    "Reports",
    "Runs",
    "Schedules",
    "Search",
    "StepCache",
    "Sweeps",
]


# -- users, comments, logged models (appended; see _conforms_accounts) ---------------------
if TYPE_CHECKING:
    from keel.store.comments import Comment
    from keel.store.logged_models import LoggedModel
    from keel.store.users import ApiToken, Membership, Role, User


class Users(Protocol):
    """Accounts, API tokens and project roles: administration. What the server checks on
    each request (tokens, passwords, roles, its keys) is :class:`Credentials`."""

    def create_user(
        self, name: str, *, password: str | None = None, is_admin: bool = False
    ) -> User: ...
    def get_user(self, name: str) -> User: ...
    def list_users(self) -> builtins.list[User]: ...
    def update_user(
        self,
        name: str,
        *,
        password: str | None = None,
        is_admin: bool | None = None,
        is_active: bool | None = None,
    ) -> User: ...
    def delete_user(self, name: str) -> None: ...
    def create_token(
        self, user_id: int, name: str, *, expires_at: int | None = None
    ) -> tuple[ApiToken, str]: ...
    def list_tokens(self, user_id: int) -> builtins.list[ApiToken]: ...
    def revoke_token(self, token_id: int) -> None: ...
    def set_role(self, project_id: int, user_id: int, role: Role | str) -> Membership: ...
    def remove_member(self, project_id: int, user_id: int) -> None: ...
    def members(self, project_id: int) -> builtins.list[Membership]: ...


class Credentials(Protocol):
    """The server's per-request checks. SQL only (a client sends its token and the server
    answers 401/403/404), like :class:`Ownership`."""

    def verify_password(self, name: str, password: str) -> User | None: ...
    def authenticate_token(self, secret: str) -> User | None: ...
    def role_of(self, project_id: int, user_id: int) -> Role | None: ...
    def memberships(self, user_id: int) -> dict[int, Role]: ...
    def server_key(self, name: str) -> bytes: ...


class Comments(Protocol):
    """Markdown comments on runs, model versions and comparisons of one project."""

    def add(
        self,
        project_id: int,
        subject_kind: str,
        subject_id: str,
        body: str,
        *,
        author: str = "",
        context: str = "",
    ) -> Comment: ...
    def get(self, project_id: int, comment_id: int) -> Comment: ...
    def list(
        self, project_id: int, subject_kind: str, subject_id: str
    ) -> builtins.list[Comment]: ...
    def delete(self, project_id: int, comment_id: int) -> None: ...


class LoggedModels(Protocol):
    """MLflow 3 logged models: create, finalize, tag, search, delete; index their files."""

    def create(
        self,
        experiment_id: int,
        name: str,
        *,
        source_run_id: str | None = None,
        model_type: str = "",
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> LoggedModel: ...
    def get(self, model_id: str) -> LoggedModel: ...
    def finalize(self, model_id: str, status: str) -> LoggedModel: ...
    def set_tags(self, model_id: str, tags: Mapping[str, str]) -> LoggedModel: ...
    def delete_tag(self, model_id: str, key: str) -> None: ...
    def log_params(self, model_id: str, params: Mapping[str, str]) -> LoggedModel: ...
    def delete(self, model_id: str) -> None: ...
    def search(
        self,
        experiment_ids: Sequence[int],
        *,
        name: str | None = None,
        source_run_id: str | None = None,
        max_results: int = 100,
        offset: int = 0,
    ) -> tuple[builtins.list[LoggedModel], bool]: ...
    def add_files(
        self, model_id: str, items: builtins.list[tuple[str, BlobRef]]
    ) -> builtins.list[ArtifactInfo]: ...
    def list_files(
        self, model_id: str, prefix: str | None = None
    ) -> builtins.list[ArtifactInfo]: ...
    def delete_files(self, model_id: str, path: str) -> int: ...


def _conforms_accounts(db: Database) -> dict[str, object]:
    """Never called: mypy checks the appended SQL repositories like :func:`_conforms`."""
    from keel.store.comments import CommentRepository
    from keel.store.credentials import CredentialRepository
    from keel.store.logged_models import LoggedModelRepository
    from keel.store.users import UserRepository

    users: Users = UserRepository(db)
    credentials: Credentials = CredentialRepository(db)
    comments: Comments = CommentRepository(db)
    logged_models: LoggedModels = LoggedModelRepository(db)
    return dict(locals())


PROTOCOLS.update(users=Users, comments=Comments, logged_models=LoggedModels)
__all__ += ["Comments", "Credentials", "LoggedModels", "Users"]


# -- what the UI counts and charts, and keel sql's metadata tables (appended) --------------
if TYPE_CHECKING:
    import pyarrow as pa

    from keel.store.metric_sampling import SampledSeries
    from keel.store.run_stats import Activity


class RunStats(Protocol):
    """Counts and sampled metric histories for the web UI's pages. SQL only: the pages
    are served where the database is."""

    def count(self, experiment_id: int, filter_string: str | None = None) -> int: ...
    def by_experiment(self, experiment_ids: Sequence[int]) -> dict[int, Activity]: ...
    def by_project(self, project_ids: Sequence[int]) -> dict[int, Activity]: ...
    def sample_history(
        self, run_ids: Sequence[str], key: str, *, points: int = 500, exact: bool = True
    ) -> builtins.list[SampledSeries]: ...
    def latest_points(
        self, run_ids: Sequence[str], key: str
    ) -> builtins.list[tuple[str, int, int]]: ...


class MetadataTables(Protocol):
    """One project's rows of a metadata table as Arrow, for ``keel sql``. SQL only."""

    def read(self, project_id: int, name: str) -> pa.Table: ...


def _conforms_reads(db: Database) -> dict[str, object]:
    """Never called: mypy checks the SQL-only read repositories."""
    from keel.store.metadata_tables import MetadataTableRepository
    from keel.store.run_stats import RunStatsRepository

    run_stats: RunStats = RunStatsRepository(db)
    metadata_tables: MetadataTables = MetadataTableRepository(db)
    return dict(locals())


__all__ += ["MetadataTables", "RunStats"]


# -- the database and the blob store themselves (appended) ---------------------------------
if TYPE_CHECKING:
    import os
    from collections.abc import Iterator
    from contextlib import AbstractContextManager
    from pathlib import Path
    from typing import IO


class Db(Protocol):
    """The metadata database a Store holds: ``keel.store.Database`` over SQL, or
    ``keel.store.remote.RemoteDatabase``, which refuses direct access and names the server.
    Only repositories use it; callers ask a repository."""

    uri: str
    dialect: str

    @property
    def safe_uri(self) -> str: ...
    def read(self) -> AbstractContextManager[Any]: ...
    def write(self) -> AbstractContextManager[Any]: ...
    def cursor(self, *, write: bool) -> AbstractContextManager[Any]: ...
    def dispose(self) -> None: ...


class Blobs(Protocol):
    """Content-addressed blobs: ``keel.store.BlobStore`` (a folder or fsspec URL) or
    ``keel.store.remote.RemoteBlobStore`` (the server's, over HTTP), side by side."""

    root_url: str
    root: str

    def path_of(self, sha: str) -> str: ...
    def exists(self, sha: str) -> bool: ...
    def size(self, sha: str) -> int: ...
    def put_file(self, path: str | os.PathLike[str]) -> BlobRef: ...
    def put_bytes(self, data: bytes) -> BlobRef: ...
    def put_stream(self, src: IO[bytes]) -> BlobRef: ...
    def read_bytes(self, sha: str) -> bytes: ...
    def iter_chunks(self, sha: str, chunk_size: int = ...) -> Iterator[bytes]: ...
    def download(self, sha: str, dest: str | os.PathLike[str]) -> Path: ...
    def verify(self, sha: str) -> None: ...
    def iter_all(self) -> Iterator[tuple[str, float]]: ...
    def delete(self, sha: str) -> None: ...
    def mtime(self, sha: str) -> float | None: ...
    def clean_tmp(self, older_than_s: float = 3600) -> int: ...


def _conforms_storage(db: Database, blobs: BlobStore) -> dict[str, object]:
    """Never called: mypy checks the SQL database and the local blob store here (the
    remote ones are checked in ``keel.store.remote.open_remote_store``)."""
    sql_db: Db = db
    local_blobs: Blobs = blobs
    return dict(locals())


__all__ += ["Blobs", "Db"]
