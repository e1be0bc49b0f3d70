"""The reports area's tables: the search index and stored reports.

``search_docs`` holds one row per searchable object (a run, comment, model, model version,
dataset or report) with the text it is found by. The full-text index over it is not a
model: SQLite keeps an FTS5 table ``search_fts`` (rowid = ``search_docs.id``) and
PostgreSQL a generated ``tsv`` column with a GIN index, both created by migration 0010 and
written by :mod:`keel.store.search` only.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from keel.store._schema import Base, ProjectScoped, parent, serial

#: Objects of the database that migration 0010 creates outside the models (see above);
#: schema comparisons skip them.
UNMODELLED = ("search_fts", "tsv", "ix_search_docs_tsv")


class SearchDocRow(ProjectScoped, Base):
    __tablename__ = "search_docs"
    __table_args__ = (
        UniqueConstraint("project_id", "kind", "ref", name="uq_search_doc"),
        Index("ix_search_docs_project_kind", "project_id", "kind"),
        Index("ix_search_docs_project_updated", "project_id", "updated_at"),
    )
    kind: Mapped[str] = mapped_column(String(16))
    ref: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(255), default="")
    updated_at: Mapped[int] = mapped_column(BigInteger)


class SearchMarkRow(Base):
    """Up to when (ms) each project's index has taken in new and changed objects."""

    __tablename__ = "search_marks"
    project_id: Mapped[int] = parent("projects", primary_key=True)
    mark: Mapped[int] = mapped_column(BigInteger)


class ReportRow(ProjectScoped, Base):
    """A stored report: its Markdown and the sides it compared (live references)."""

    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_project", "project_id", "updated_at"),)
    title: Mapped[str] = mapped_column(String(512))
    markdown: Mapped[str] = mapped_column(Text)
    base: Mapped[str] = mapped_column(String(255), default="")
    head: Mapped[str] = mapped_column(String(255), default="")
    author: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    #: Saving again under the same id makes a new version; the old text moves to
    #: ``report_versions``.
    version: Mapped[int] = mapped_column(Integer, default=1)


class ReportVersionRow(Base):
    """An earlier version of a stored report (the current one is the ``reports`` row)."""

    __tablename__ = "report_versions"
    report_id: Mapped[int] = parent("reports", primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(512))
    markdown: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[int] = mapped_column(BigInteger)


class SearchVectorRow(Base):
    """A search document's embedding (float32 bytes, L2-normalised) for semantic search.

    Written by :mod:`keel.store.search_semantic` only; ``doc_updated_at`` is the document's
    ``updated_at`` when it was embedded (a newer document is embedded again).
    """

    __tablename__ = "search_vectors"
    __table_args__ = (
        UniqueConstraint("doc_id", "model", name="uq_search_vector"),
        Index("ix_search_vectors_project", "project_id", "model", "id"),
    )
    id: Mapped[int] = serial()
    doc_id: Mapped[int] = parent("search_docs")
    project_id: Mapped[int] = parent("projects")
    model: Mapped[str] = mapped_column(String(64))
    doc_updated_at: Mapped[int] = mapped_column(BigInteger)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
