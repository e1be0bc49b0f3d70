"""Which project owns an object: what the server's authorization checks ask.

Blobs are shared by content, so a hash alone grants nothing; a caller may read a blob
only through a project that references it (a run artifact, a dataset file, a logged
model file, a registered model version's package).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select, union

from keel.exceptions import NotFoundError
from keel.store._db import Database
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
from keel.store._schema_monitoring import ReferenceProfileRow
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


def projects_referencing(db: Database, sha: str) -> set[int]:
    """Ids of every project with a run artifact, dataset file, model file, registered
    model version package, cached step output or reference profile of ``sha``."""
    with db.read() as conn:
        found: list[Any] = list(conn.execute(union(*_references(sha))).scalars())
    return {int(pid) for pid in found}


def _project_of(db: Database, query: Select[Any], what: str) -> int:
    """The project id ``query`` selects, or NotFoundError naming ``what``."""
    with db.read() as conn:
        pid = conn.execute(query).scalar()
    if pid is None:
        raise NotFoundError(f"{what} does not exist")
    return int(pid)


def project_of_dataset(db: Database, dataset_id: int) -> int:
    query = select(D.c.project_id).where(D.c.id == dataset_id)
    return _project_of(db, query, f"dataset id {dataset_id}")


def project_of_dataset_version(db: Database, version_id: int) -> int:
    query = select(D.c.project_id).join(DV, DV.c.dataset_id == D.c.id).where(DV.c.id == version_id)
    return _project_of(db, query, f"dataset version id {version_id}")


def project_of_model_version(db: Database, version_id: int) -> int:
    query = select(RM.c.project_id).join(MV, MV.c.model_id == RM.c.id).where(MV.c.id == version_id)
    return _project_of(db, query, f"model version id {version_id}")


def project_of_monitor(db: Database, monitor_id: int) -> int:
    from keel.store.monitors import MON

    query = select(MON.c.project_id).where(MON.c.id == monitor_id)
    return _project_of(db, query, f"monitor id {monitor_id}")


def project_of_alert(db: Database, alert_id: int) -> int:
    from keel.store.alerts import AL

    query = select(AL.c.project_id).where(AL.c.id == alert_id)
    return _project_of(db, query, f"alert id {alert_id}")


def project_of_notifier(db: Database, notifier_id: int) -> int:
    from keel.store.alerts import NT

    query = select(NT.c.project_id).where(NT.c.id == notifier_id)
    return _project_of(db, query, f"notifier id {notifier_id}")


def project_of_pipeline_run(db: Database, run_id: str) -> int:
    query = select(PR.c.project_id).where(PR.c.id == run_id)
    return _project_of(db, query, f"pipeline run {run_id!r}")


def project_of_schedule(db: Database, schedule_id: int) -> int:
    query = select(SC.c.project_id).where(SC.c.id == schedule_id)
    return _project_of(db, query, f"schedule id {schedule_id}")


def project_of_schedule_fire(db: Database, fire_id: int) -> int:
    query = select(SC.c.project_id).join(SF, SF.c.schedule_id == SC.c.id).where(SF.c.id == fire_id)
    return _project_of(db, query, f"schedule fire {fire_id}")


__all__ = [
    "project_of_alert",
    "project_of_dataset",
    "project_of_dataset_version",
    "project_of_model_version",
    "project_of_monitor",
    "project_of_notifier",
    "project_of_pipeline_run",
    "project_of_schedule",
    "project_of_schedule_fire",
    "projects_referencing",
]
