"""Tables of the labeling area: labeling projects, their tasks, assignments and annotations.

``labeling_tasks.taken`` counts the annotators holding the task (an open assignment or a
submitted annotation); the index on ``(label_project_id, taken, id)`` makes "the least
covered task this annotator has not seen" one index range scan at 100,000 tasks, and a
conditional ``UPDATE ... WHERE taken < overlap`` keeps two annotators from taking the last
slot at once. ``uq_annotation_annotator`` makes a second submission of the same task by the
same annotator fail instead of adding a row, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, Index, Integer, String, Text
from sqlalchemy import UniqueConstraint as Unique
from sqlalchemy.orm import Mapped, mapped_column

from keel.store._schema import Base, ProjectScoped, parent, serial


class LabelProjectRow(ProjectScoped, Base):
    """What to label and how: the label config, instructions and overlap (for the
    ``double_share`` of the tasks only, when it is set)."""

    __tablename__ = "labeling_projects"
    __table_args__ = (Unique("project_id", "name", name="uq_labeling_project_name"),)
    name: Mapped[str] = mapped_column(String(255))
    config_json: Mapped[str] = mapped_column(Text, default="{}")
    instructions: Mapped[str] = mapped_column(Text, default="")
    overlap: Mapped[int] = mapped_column(Integer, default=1)
    double_share: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class LabelTaskRow(Base):
    """One item to label; ``request_id`` ties a production sample to its prediction."""

    __tablename__ = "labeling_tasks"
    __table_args__ = (
        Index("ix_labeling_tasks_queue", "label_project_id", "taken", "id"),
        Index("ix_labeling_tasks_request", "label_project_id", "request_id"),
    )
    id: Mapped[int] = serial()
    label_project_id: Mapped[int] = parent("labeling_projects")
    data_json: Mapped[str] = mapped_column(Text)
    source_ref: Mapped[str] = mapped_column(String(512), default="")
    request_id: Mapped[str] = mapped_column(String(255), default="")
    taken: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[int] = mapped_column(BigInteger)


class _AnnotatorTask:
    """The first columns of one annotator's row on one task: an assignment, an annotation."""

    id: Mapped[int] = serial()
    label_project_id: Mapped[int] = parent("labeling_projects", sort_order=-1)
    task_id: Mapped[int] = parent("labeling_tasks", sort_order=-1)
    annotator: Mapped[str] = mapped_column(String(255), sort_order=-1)


class LabelAssignmentRow(_AnnotatorTask, Base):
    """One annotator holding one task: ``assigned``, ``submitted`` or ``skipped``."""

    __tablename__ = "labeling_assignments"
    __table_args__ = (
        Unique("task_id", "annotator", name="uq_assignment_annotator"),
        Index("ix_labeling_assignments_open", "label_project_id", "annotator", "state"),
        Index("ix_labeling_assignments_state", "label_project_id", "state"),
    )
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    assigned_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class AnnotationRow(_AnnotatorTask, Base):
    """One annotator's answer for one task (at most one: the unique pair)."""

    __tablename__ = "labeling_annotations"
    __table_args__ = (
        Unique("task_id", "annotator", name="uq_annotation_annotator"),
        Index("ix_labeling_annotations_project", "label_project_id", "id"),
        Index("ix_labeling_annotations_task", "label_project_id", "task_id"),
        Index("ix_labeling_annotations_by", "label_project_id", "annotator"),
    )
    result_json: Mapped[str] = mapped_column(Text)
    lead_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
