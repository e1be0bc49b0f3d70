"""The discussion area's table: comments on runs, model versions and comparisons.

A comment belongs to one project and names its subject by kind and id (``run`` + run id,
``model_version`` + version id, ``compare`` + a digest of the compared run ids), so one
table serves every kind of object without a foreign key per kind.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from keel.store._schema import Base, ProjectScoped


class CommentRow(ProjectScoped, Base):
    """One markdown comment; the body is stored as written and escaped when shown."""

    __tablename__ = "comments"
    __table_args__ = (Index("ix_comments_subject", "project_id", "subject_kind", "subject_id"),)
    subject_kind: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(255))
    author: Mapped[str] = mapped_column(String(255), default="")
    body: Mapped[str] = mapped_column(Text)
    #: what a subject id alone cannot say, e.g. the run ids of a comparison (for its link)
    context: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[int] = mapped_column(BigInteger)
