"""Tables of the monitoring area: monitors, reference profiles, alerts and their delivery.

Window results and feedback labels are event data (Parquet under the artifact root), not
rows here. A reference profile is a JSON blob; its hash sits in ``blob_sha`` so garbage
collection keeps it. ``alerts.active_key`` equals ``dedup_key`` while an alert is open or
acknowledged and NULL once resolved: the unique ``(project_id, active_key)`` pair lets one
condition have at most one live alert, on SQLite and PostgreSQL alike (NULLs never clash).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy import UniqueConstraint as Unique
from sqlalchemy.orm import Mapped, mapped_column

from keel.store._schema import Base, ProjectScoped, optional_ref, parent, serial


class MonitorRow(ProjectScoped, Base):
    """What to watch on one deployment, against which reference, with which settings."""

    __tablename__ = "monitors"
    __table_args__ = (Unique("project_id", "deployment", name="uq_monitor_deployment"),)
    deployment: Mapped[str] = mapped_column(String(255))
    reference: Mapped[str] = mapped_column(String(512), default="")
    config_json: Mapped[str] = mapped_column(Text, default="{}")
    default_window: Mapped[str] = mapped_column(String(32), default="1d")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    last_run_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_window_end: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class ReferenceProfileRow(ProjectScoped, Base):
    """The profile of the data a model version (or dataset version) was trained on."""

    __tablename__ = "reference_profiles"
    __table_args__ = (Unique("project_id", "subject", name="uq_reference_subject"),)
    subject: Mapped[str] = mapped_column(String(512))
    blob_sha: Mapped[str] = mapped_column(String(64), index=True)
    num_rows: Mapped[int] = mapped_column(BigInteger)
    num_columns: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[int] = mapped_column(BigInteger)


class AlertRow(ProjectScoped, Base):
    """One condition that needs attention, deduplicated while it is live."""

    __tablename__ = "alerts"
    __table_args__ = (
        Unique("project_id", "active_key", name="uq_alert_active_key"),
        Index("ix_alerts_project_state_seen", "project_id", "state", "last_seen_at"),
        Index("ix_alerts_project_deployment", "project_id", "deployment"),
    )
    monitor_id: Mapped[int | None] = optional_ref("monitors")
    deployment: Mapped[str] = mapped_column(String(255), default="")
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    dedup_key: Mapped[str] = mapped_column(String(512))
    active_key: Mapped[str | None] = mapped_column(String(512), nullable=True)
    state: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(512))
    message: Mapped[str] = mapped_column(Text, default="")
    evidence_json: Mapped[str] = mapped_column(Text, default="{}")
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    first_seen_at: Mapped[int] = mapped_column(BigInteger)
    last_seen_at: Mapped[int] = mapped_column(BigInteger)
    window_start: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    window_end: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    acknowledged_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    acknowledged_by: Mapped[str] = mapped_column(String(255), default="")
    resolved_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    resolved_by: Mapped[str] = mapped_column(String(255), default="")
    note: Mapped[str] = mapped_column(Text, default="")


class NotifierRow(ProjectScoped, Base):
    """Where alerts go: a webhook, an SMTP mailbox or the log; secrets are env var names."""

    __tablename__ = "notifiers"
    __table_args__ = (Unique("project_id", "name", name="uq_notifier_name"),)
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    config_json: Mapped[str] = mapped_column(Text, default="{}")
    min_severity: Mapped[str] = mapped_column(String(16), default="warning")
    deployment: Mapped[str] = mapped_column(String(255), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class AlertDeliveryRow(Base):
    """One notification of one alert event to one notifier, retried until sent or given up."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (Index("ix_alert_deliveries_due", "status", "next_attempt_at"),)
    id: Mapped[int] = serial()
    alert_id: Mapped[int] = parent("alerts", index=True)
    notifier_id: Mapped[int] = parent("notifiers")
    event: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[int] = mapped_column(BigInteger)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[int] = mapped_column(BigInteger)
    sent_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
