"""Which project owns an object: what the server's authorization checks ask.

Blobs are shared by content, so a hash alone grants nothing; a caller may read a blob
only through a project that references it (a run artifact, a dataset file, a logged
model file, a registered model version's package).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from sqlalchemy import Select, select, union

from keel.exceptions import NotFoundError
from keel.store._db import SqlRepository
from keel.store._schema import (
    ArtifactRow,
    DatasetFileRow,
    DatasetRow,
    DatasetVersionRow,
    ExperimentRow,
    RunRow,
    table,
)
from keel.store._schema_auth import LoggedModelFileRow, LoggedModelRow
from keel.store._schema_monitoring import AlertRow, MonitorRow, NotifierRow, ReferenceProfileRow
from keel.store._schema_pipelines import CacheBlobRow, PipelineRunRow, ScheduleFireRow, ScheduleRow
from keel.store._schema_registry import ModelVersionRow, RegisteredModelRow

A, R, E = table(ArtifactRow), table(RunRow), table(ExperimentRow)
DF, DV, D = table(DatasetFileRow), table(DatasetVersionRow), table(DatasetRow)
LMF, LMOD = table(LoggedModelFileRow), table(LoggedModelRow)
MV, RM = table(ModelVersionRow), table(RegisteredModelRow)
CB, PR = table(CacheBlobRow), table(PipelineRunRow)
SC, SF = table(ScheduleRow), table(ScheduleFireRow)
RP = table(ReferenceProfileRow)


def _references(sha: str) -> list[Select[tuple[int]]]:
    return [
        select(E.c.project_id)
        .join(R, R.c.experiment_id == E.c.id)
        .join(A, A.c.run_id == R.c.id)
        .where(A.c.blob_sha == sha),
        select(D.c.project_id)
        .join(DV, DV.c.dataset_id == D.c.id)
        .join(DF, DF.c.version_id == DV.c.id)
        .where(DF.c.blob_sha == sha),
        select(E.c.project_id)
        .join(LMOD, LMOD.c.experiment_id == E.c.id)
        .join(LMF, LMF.c.model_id == LMOD.c.id)
        .where(LMF.c.blob_sha == sha),
        select(RM.c.project_id).join(MV, MV.c.model_id == RM.c.id).where(MV.c.blob_sha == sha),
        select(CB.c.project_id).where(CB.c.blob_sha == sha),  # a cached pipeline step output
        select(RP.c.project_id).where(RP.c.blob_sha == sha),  # a monitoring reference profile
    ]


def _owner_queries() -> dict[str, tuple[Callable[[Any], Select[Any]], str]]:
    """kind -> (the query selecting the project of an id, how a message names the id)."""
    mon, al, nt = table(MonitorRow), table(AlertRow), table(NotifierRow)
    return {
        "dataset": (lambda i: select(D.c.project_id).where(D.c.id == i), "dataset id {}"),
        "dataset_version": (
            lambda i: (
                select(D.c.project_id).join(DV, DV.c.dataset_id == D.c.id).where(DV.c.id == i)
            ),
            "dataset version id {}",
        ),
        "model_version": (
            lambda i: (
                select(RM.c.project_id).join(MV, MV.c.model_id == RM.c.id).where(MV.c.id == i)
            ),
            "model version id {}",
        ),
        "monitor": (lambda i: select(mon.c.project_id).where(mon.c.id == i), "monitor id {}"),
        "alert": (lambda i: select(al.c.project_id).where(al.c.id == i), "alert id {}"),
        "notifier": (lambda i: select(nt.c.project_id).where(nt.c.id == i), "notifier id {}"),
        "pipeline_run": (
            lambda i: select(PR.c.project_id).where(PR.c.id == i),
            "pipeline run {!r}",
        ),
        "schedule": (lambda i: select(SC.c.project_id).where(SC.c.id == i), "schedule id {}"),
        "schedule_fire": (
            lambda i: (
                select(SC.c.project_id).join(SF, SF.c.schedule_id == SC.c.id).where(SF.c.id == i)
            ),
            "schedule fire {}",
        ),
    }


_OWNERS = _owner_queries()
Owned = Literal[
    "dataset",
    "dataset_version",
    "model_version",
    "monitor",
    "alert",
    "notifier",
    "pipeline_run",
    "schedule",
    "schedule_fire",
]


class OwnershipRepository(SqlRepository):
    """Which project owns an object or references a blob (the server's access checks).

    It reads the server's own database, so the HTTP backend has no twin: a client asks
    the server, which answers 404 for what the caller may not see.
    """

    def project_of(self, kind: Owned, object_id: int | str) -> int:
        """The id of the project owning ``kind`` ``object_id``, or NotFoundError."""
        query, label = _OWNERS[kind]
        with self._db.read() as conn:
            pid = conn.execute(query(object_id)).scalar()
        if pid is None:
            raise NotFoundError(f"{label.format(object_id)} does not exist")
        return int(pid)

    def projects_referencing(self, sha: str) -> set[int]:
        """Ids of every project with a run artifact, dataset file, model file, registered
        model version package, cached step output or reference profile of ``sha``."""
        with self._db.read() as conn:
            found: list[Any] = list(conn.execute(union(*_references(sha))).scalars())
        return {int(pid) for pid in found}


__all__ = ["Owned", "OwnershipRepository"]
