"""Tables of the model registry: registered models, their versions, aliases and tags.

A version's package (the single-file archive) is a blob: ``model_versions.blob_sha``.
Metrics, tags and dataset lineage of a version sit in narrow tables so the filter
language can search them with indexed EXISTS queries.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from keel.store._schema import Base, KeyValue, ProjectScoped, optional_ref, parent, serial


class RegisteredModelRow(ProjectScoped, Base):
    __tablename__ = "registered_models"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_registered_model_name"),)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    #: The highest version number ever given (migration 0014): numbers are never reused.
    top_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class RegisteredModelTagRow(KeyValue, Base):
    __tablename__ = "registered_model_tags"
    model_id: Mapped[int] = parent("registered_models", primary_key=True)


class ModelVersionRow(Base):
    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("model_id", "version", name="uq_model_version"),
        UniqueConstraint("model_id", "semver", name="uq_model_semver"),
    )
    id: Mapped[int] = serial()
    model_id: Mapped[int] = parent("registered_models")
    version: Mapped[int] = mapped_column(Integer)
    semver: Mapped[str | None] = mapped_column(String(64), nullable=True)
    blob_sha: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    manifest_sha: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[str | None] = optional_ref("runs", index=True)
    flavor: Mapped[str] = mapped_column(String(32))
    serve_flavor: Mapped[str] = mapped_column(String(32))
    task: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))  # "logged" or "imported"
    signer: Mapped[str | None] = mapped_column(String(64), nullable=True)
    description: Mapped[str] = mapped_column(Text, default="")
    frameworks_json: Mapped[str] = mapped_column(Text)
    signature_json: Mapped[str] = mapped_column(Text)
    lineage_json: Mapped[str] = mapped_column(Text)
    card_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)
    #: When (ms) the description, card or tags last changed (migration 0015; for search).
    updated_at: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class ModelVersionMetricRow(Base):
    __tablename__ = "model_version_metrics"
    __table_args__ = (Index("ix_model_version_metrics_key_value", "key", "value"),)
    version_id: Mapped[int] = parent("model_versions", primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[float] = mapped_column(Float)


class ModelVersionTagRow(KeyValue, Base):
    __tablename__ = "model_version_tags"
    version_id: Mapped[int] = parent("model_versions", primary_key=True)


class ModelVersionDatasetRow(Base):
    """A dataset version the model version was trained on (from its run's lineage)."""

    __tablename__ = "model_version_datasets"
    version_id: Mapped[int] = parent("model_versions", primary_key=True)
    dataset: Mapped[str] = mapped_column(String(255), primary_key=True)
    dataset_version: Mapped[int] = mapped_column(Integer, primary_key=True)


class ModelAliasRow(Base):
    __tablename__ = "model_aliases"
    model_id: Mapped[int] = parent("registered_models", primary_key=True)
    alias: Mapped[str] = mapped_column(String(64), primary_key=True)
    version_id: Mapped[int] = parent("model_versions")
    updated_at: Mapped[int] = mapped_column(BigInteger)


__all__ = [
    "ModelAliasRow",
    "ModelVersionDatasetRow",
    "ModelVersionMetricRow",
    "ModelVersionRow",
    "ModelVersionTagRow",
    "RegisteredModelRow",
    "RegisteredModelTagRow",
]
