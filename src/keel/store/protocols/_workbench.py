"""Ownership checks, search, stored reports, sweeps and labeling.

Part of :mod:`keel.store.protocols` (import them from there)."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from keel.store.labeling import (
        Annotation,
        LabelProgress,
        LabelProject,
        LabelTask,
        NewTask,
    )
    from keel.store.ownership import Owned
    from keel.store.reports import ReportVersion, StoredReport
    from keel.store.search import SearchHit
    from keel.store.sweeps import Sweep, Trial, TrialPatch, TrialPoint, TrialState

    pass


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
    def outline(self, project_id: int, sweep_id: int) -> builtins.list[TrialPoint]: ...
    def pick(self, project_id: int, sweep_id: int, ids: Sequence[int]) -> builtins.list[Trial]: ...
    def counts(self, project_id: int) -> dict[int, dict[str, int]]: ...


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
        double_share: float | None = None,
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
    def undo(
        self, project_id: int, name: str, task_id: int, annotator: str
    ) -> Annotation | None: ...
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
