"""Tables of the pipelines area: pipeline runs, step runs, the step cache and schedules.

Cache metadata lives here; the cached values live in the blob store. Every blob a cache
entry needs is listed in ``pipeline_cache_blobs.blob_sha`` so garbage collection keeps it.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy import UniqueConstraint as Unique
from sqlalchemy.orm import Mapped, mapped_column

from keel.store._schema import ID, Base, ProjectScoped, optional_ref, parent, serial


class PipelineRunRow(Base):
    """One execution of a pipeline; ``id`` is the id of its parent tracking run."""

    __tablename__ = "pipeline_runs"
    __table_args__ = (Index("ix_pipeline_runs_project_started", "project_id", "started_at"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[int] = parent("projects")
    pipeline: Mapped[str] = mapped_column(String(255))
    target: Mapped[str] = mapped_column(Text, default="")
    runner: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    params_json: Mapped[str] = mapped_column(Text, default="{}")
    started_at: Mapped[int] = mapped_column(BigInteger)
    ended_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    n_steps: Mapped[int] = mapped_column(Integer, default=0)
    n_cached: Mapped[int] = mapped_column(Integer, default=0)
    n_ran: Mapped[int] = mapped_column(Integer, default=0)
    n_failed: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")


class StepRunRow(Base):
    """One node of a pipeline run: cached, ran, failed or skipped."""

    __tablename__ = "pipeline_step_runs"
    __table_args__ = (Unique("pipeline_run_id", "node", name="uq_step_run_node"),)
    id: Mapped[int] = serial()
    pipeline_run_id: Mapped[str] = parent("pipeline_runs", index=True)
    node: Mapped[str] = mapped_column(String(255))
    step: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    cache_key: Mapped[str] = mapped_column(String(64), default="")
    run_id: Mapped[str | None] = optional_ref("runs")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[int] = mapped_column(BigInteger)
    ended_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    duration_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    reason: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")


class CacheEntryRow(Base):
    """A step's stored outputs under its cache key (a readable composition kept in ``parts``)."""

    __tablename__ = "pipeline_cache_entries"
    __table_args__ = (Index("ix_pipeline_cache_step", "project_id", "step", "created_at"),)
    project_id: Mapped[int] = parent("projects", primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    step: Mapped[str] = mapped_column(String(255))
    parts_json: Mapped[str] = mapped_column(Text)
    manifest_json: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    run_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class CacheBlobRow(Base):
    """Every blob one cache entry needs (so garbage collection keeps them)."""

    __tablename__ = "pipeline_cache_blobs"
    project_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    blob_sha: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class ScheduleRow(ProjectScoped, Base):
    """A pipeline to run on a cron expression or when a trigger (``kind`` + ``ref``) fires."""

    __tablename__ = "pipeline_schedules"
    __table_args__ = (Unique("project_id", "name", name="uq_schedule_name"),)
    name: Mapped[str] = mapped_column(String(255))
    target: Mapped[str] = mapped_column(Text)
    params_json: Mapped[str] = mapped_column(Text, default="{}")
    runner_json: Mapped[str] = mapped_column(Text, default="{}")
    cron: Mapped[str | None] = mapped_column(String(255), nullable=True)
    trigger_kind: Mapped[str | None] = mapped_column(String(32), nullable=True)
    trigger_ref: Mapped[str | None] = mapped_column(String(512), nullable=True)
    trigger_baseline: Mapped[str] = mapped_column(Text, default="")
    catch_up: Mapped[str] = mapped_column(String(16), default="latest")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class ScheduleFireRow(Base):
    """One occurrence of a schedule. The unique ``(schedule_id, occurrence)`` row is the claim:
    whichever scheduler inserts it fires it, every other one sees the conflict and skips."""

    __tablename__ = "pipeline_schedule_fires"
    __table_args__ = (Unique("schedule_id", "occurrence", name="uq_schedule_occurrence"),)
    id: Mapped[int] = serial()
    schedule_id: Mapped[int] = parent("pipeline_schedules")
    occurrence: Mapped[str] = mapped_column(String(255))
    due_at: Mapped[int] = mapped_column(BigInteger)
    claimed_by: Mapped[str] = mapped_column(String(255))
    claimed_at: Mapped[int] = mapped_column(BigInteger)
    lease_expires_at: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    pipeline_run_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    ended_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")


class SchedulerRow(Base):
    """A live scheduler process and its heartbeat (what ``keel scheduler status`` lists)."""

    __tablename__ = "pipeline_schedulers"
    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[int] = mapped_column(BigInteger)
    heartbeat_at: Mapped[int] = mapped_column(BigInteger)
