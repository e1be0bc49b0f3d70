"""The metadata schema: SQLAlchemy typed models, private to :mod:`keel.store`.

Rows never leave the store; repositories turn them into frozen entities. A column that
holds a blob hash is always named ``blob_sha`` so garbage collection finds every reference.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, MappedColumn, mapped_column

ID = String(32)


class Base(DeclarativeBase):
    pass


def serial() -> MappedColumn[int]:
    """An ``id`` primary key the database numbers (always the first column)."""
    return mapped_column(Integer, primary_key=True, autoincrement=True, sort_order=-1)


def parent(
    table: str, *, primary_key: bool = False, index: bool | None = None, sort_order: int = 0
) -> MappedColumn[Any]:
    """A reference to ``<table>.id`` whose rows are deleted with the row they belong to."""
    fk = ForeignKey(f"{table}.id", ondelete="CASCADE")
    return mapped_column(fk, primary_key=primary_key, index=index, sort_order=sort_order)


def optional_ref(table: str, *, index: bool | None = None) -> MappedColumn[Any]:
    """A reference to ``<table>.id`` that becomes NULL when that row is deleted."""
    return mapped_column(ForeignKey(f"{table}.id", ondelete="SET NULL"), nullable=True, index=index)


class ProjectScoped:
    """``id`` and ``project_id``, the first two columns of a row that belongs to a project."""

    id: Mapped[int] = serial()
    project_id: Mapped[int] = parent("projects", sort_order=-1)


class MetricPoint:
    """A metric's value at a step and time, after the run and key columns of its table."""

    value: Mapped[float] = mapped_column(Float)
    is_nan: Mapped[bool] = mapped_column(Boolean, default=False)
    step: Mapped[int] = mapped_column(BigInteger)
    timestamp: Mapped[int] = mapped_column(BigInteger)


class BlobFile:
    """A file kept as a blob, after its owner's key: its path, the blob's hash and size."""

    path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    blob_sha: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)


class DatedBlobFile(BlobFile):
    """A :class:`BlobFile` with the time it was stored (its last column)."""

    created_at: Mapped[int] = mapped_column(BigInteger, sort_order=1)


class KeyValue:
    """The ``key`` and ``value`` columns of a tag or param table (after its owner's key)."""

    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class ProjectRow(Base):
    __tablename__ = "projects"
    id: Mapped[int] = serial()
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[int] = mapped_column(BigInteger)


class ExperimentRow(ProjectScoped, Base):
    __tablename__ = "experiments"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_experiment_name"),)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    lifecycle: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class ExperimentTagRow(KeyValue, Base):
    __tablename__ = "experiment_tags"
    experiment_id: Mapped[int] = parent("experiments", primary_key=True)


class RunRow(Base):
    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_experiment_start", "experiment_id", "start_time"),
        Index("ix_runs_updated_at", "updated_at"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    experiment_id: Mapped[int] = parent("experiments")
    parent_id: Mapped[str | None] = optional_ref("runs", index=True)
    name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    start_time: Mapped[int] = mapped_column(BigInteger)
    end_time: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    lifecycle: Mapped[str] = mapped_column(String(16), default="active")
    user: Mapped[str] = mapped_column(String(255), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    #: When (ms) the run last changed what search finds it by: name, note, params, tags,
    #: status or lifecycle (migration 0015; metrics do not touch it).
    updated_at: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class ParamRow(KeyValue, Base):
    __tablename__ = "params"
    run_id: Mapped[str] = parent("runs", primary_key=True)


class TagRow(KeyValue, Base):
    __tablename__ = "tags"
    run_id: Mapped[str] = parent("runs", primary_key=True)


class MetricRow(MetricPoint, Base):
    """Every logged point. NaN is stored as ``is_nan`` (SQLite turns NaN into NULL)."""

    __tablename__ = "metrics"
    __table_args__ = (Index("ix_metrics_run_key_step", "run_id", "key", "step"),)
    id: Mapped[int] = serial()
    run_id: Mapped[str] = parent("runs")
    key: Mapped[str] = mapped_column(String(250))


class LatestMetricRow(MetricPoint, Base):
    """The newest point per (run, key), kept on write so search never scans history."""

    __tablename__ = "latest_metrics"
    #: Search by a metric walks it and reads no table row (migration 0018).
    __table_args__ = (Index("ix_latest_metrics_key_nan_value", "key", "is_nan", "value", "run_id"),)
    run_id: Mapped[str] = parent("runs", primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)


class ArtifactRow(DatedBlobFile, Base):
    __tablename__ = "artifacts"
    run_id: Mapped[str] = parent("runs", primary_key=True)


class DatasetRow(ProjectScoped, Base):
    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_dataset_name"),)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[int] = mapped_column(BigInteger)


class DatasetVersionRow(Base):
    __tablename__ = "dataset_versions"
    __table_args__ = (UniqueConstraint("dataset_id", "version", name="uq_dataset_version"),)
    id: Mapped[int] = serial()
    dataset_id: Mapped[int] = parent("datasets")
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(Text)  # JSON
    schema_json: Mapped[str] = mapped_column(Text)  # JSON
    profile_json: Mapped[str] = mapped_column(Text)  # JSON
    num_rows: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    num_files: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[int] = mapped_column(BigInteger)
    run_id: Mapped[str | None] = optional_ref("runs")


class DatasetFileRow(BlobFile, Base):
    __tablename__ = "dataset_files"
    version_id: Mapped[int] = parent("dataset_versions", primary_key=True)


class RunDatasetRow(Base):
    """A run read (``input``) or wrote (``output``) a dataset version: one lineage edge."""

    __tablename__ = "run_datasets"
    run_id: Mapped[str] = parent("runs", primary_key=True)
    version_id: Mapped[int] = parent("dataset_versions", primary_key=True)
    direction: Mapped[str] = mapped_column(String(8), primary_key=True)


def table(model: type[Base]) -> Table:
    """The Core table of a model, typed as such for query building."""
    return cast(Table, model.__table__)
