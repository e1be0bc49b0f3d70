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
from keel.store._schema_registry import ModelVersionRow, RegisteredModelRow

A, R, E = table(ArtifactRow), table(RunRow), table(ExperimentRow)
DF, DV, D = table(DatasetFileRow), table(DatasetVersionRow), table(DatasetRow)
LMF, LMOD = table(LoggedModelFileRow), table(LoggedModelRow)
MV, RM = table(ModelVersionRow), table(RegisteredModelRow)


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
    ]


def projects_referencing(db: Database, sha: str) -> set[int]:
    """Ids of every project with a run artifact, dataset file, model file or registered
    model version package of ``sha``."""
    with db.read() as conn:
        found: list[Any] = list(conn.execute(union(*_references(sha))).scalars())
    return {int(pid) for pid in found}


def project_of_dataset(db: Database, dataset_id: int) -> int:
    with db.read() as conn:
        pid = conn.execute(select(D.c.project_id).where(D.c.id == dataset_id)).scalar()
    if pid is None:
        raise NotFoundError(f"dataset id {dataset_id} does not exist")
    return int(pid)


def project_of_dataset_version(db: Database, version_id: int) -> int:
    with db.read() as conn:
        pid = conn.execute(
            select(D.c.project_id).join(DV, DV.c.dataset_id == D.c.id).where(DV.c.id == version_id)
        ).scalar()
    if pid is None:
        raise NotFoundError(f"dataset version id {version_id} does not exist")
    return int(pid)


def project_of_model_version(db: Database, version_id: int) -> int:
    with db.read() as conn:
        pid = conn.execute(
            select(RM.c.project_id).join(MV, MV.c.model_id == RM.c.id).where(MV.c.id == version_id)
        ).scalar()
    if pid is None:
        raise NotFoundError(f"model version id {version_id} does not exist")
    return int(pid)


__all__ = [
    "project_of_dataset",
    "project_of_dataset_version",
    "project_of_model_version",
    "projects_referencing",
]
