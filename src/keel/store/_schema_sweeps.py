"""The sweeps area's tables: a sweep (an Optuna study) and its trials.

A sweep is unique by ``(project_id, name, generation)``: running the same spec again
resumes the newest generation; a change of code or data starts the next one and marks
the older ones stale. A trial's number is unique within its sweep, which is what keeps
two workers from creating the same trial. Params, distributions, intermediate values and
attributes are JSON: they are read and written with their trial, never queried apart.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy import UniqueConstraint as Unique
from sqlalchemy.orm import Mapped, mapped_column

from keel.store._schema import ID, Base, ProjectScoped, optional_ref, parent, serial


class SweepRow(ProjectScoped, Base):
    """One generation of a named hyper-parameter search."""

    __tablename__ = "sweeps"
    __table_args__ = (Unique("project_id", "name", "generation", name="uq_sweep_generation"),)
    name: Mapped[str] = mapped_column(String(255))
    generation: Mapped[int] = mapped_column(Integer)
    directions_json: Mapped[str] = mapped_column(Text)
    spec_json: Mapped[str] = mapped_column(Text, default="{}")
    fingerprint: Mapped[str] = mapped_column(String(128), default="")
    run_id: Mapped[str | None] = optional_ref("runs")
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    user_attrs_json: Mapped[str] = mapped_column(Text, default="{}")
    system_attrs_json: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class SweepTrialRow(Base):
    """One trial: its state, values, params (Optuna's internal floats) and its run."""

    __tablename__ = "sweep_trials"
    __table_args__ = (
        Unique("sweep_id", "number", name="uq_sweep_trial_number"),
        Index("ix_sweep_trials_sweep_state", "sweep_id", "state"),
    )
    id: Mapped[int] = serial()
    sweep_id: Mapped[int] = parent("sweeps")
    number: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    values_json: Mapped[str] = mapped_column(Text, default="null")
    params_json: Mapped[str] = mapped_column(Text, default="{}")
    distributions_json: Mapped[str] = mapped_column(Text, default="{}")
    intermediate_json: Mapped[str] = mapped_column(Text, default="{}")
    user_attrs_json: Mapped[str] = mapped_column(Text, default="{}")
    system_attrs_json: Mapped[str] = mapped_column(Text, default="{}")
    run_id: Mapped[str | None] = mapped_column(ID, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    stale: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    finished_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
