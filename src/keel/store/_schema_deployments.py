"""Tables of the serving area: deployments, their spec revisions and the traffic of each.

A deployment's spec (YAML applied by ``keel deploy apply``) is kept whole as JSON in every
revision, so any revision can be served or exported again; ``deployment_targets`` repeats
its traffic (model reference, weight, shadow) as rows so lineage queries can ask which
deployments serve a model without parsing JSON.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Float, Integer, String, Text
from sqlalchemy import UniqueConstraint as Unique
from sqlalchemy.orm import Mapped, mapped_column

from keel.store._schema import Base, ProjectScoped, parent


class DeploymentRow(ProjectScoped, Base):
    """A named deployment in a project; ``revision`` is the spec currently in force."""

    __tablename__ = "deployments"
    __table_args__ = (Unique("project_id", "name", name="uq_deployment_name"),)
    name: Mapped[str] = mapped_column(String(255))
    revision: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class DeploymentRevisionRow(Base):
    """One applied spec: never changed after it is written (a rollback adds a new one)."""

    __tablename__ = "deployment_revisions"
    deployment_id: Mapped[int] = parent("deployments", primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    spec_json: Mapped[str] = mapped_column(Text)
    spec_hash: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[int] = mapped_column(BigInteger)


class DeploymentTargetRow(Base):
    """One model version reference served by one endpoint of one revision."""

    __tablename__ = "deployment_targets"
    deployment_id: Mapped[int] = parent("deployments", primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(255), primary_key=True)
    model_ref: Mapped[str] = mapped_column(String(512), primary_key=True)
    model_name: Mapped[str] = mapped_column(String(255), index=True)
    weight: Mapped[float] = mapped_column(Float, default=0.0)
    shadow: Mapped[bool] = mapped_column(Boolean, default=False)
