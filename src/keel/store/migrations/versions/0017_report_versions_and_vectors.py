"""reports: versions of stored reports, and embeddings for semantic search

``reports.version`` counts the saves of a report; the text each earlier save held moves to
``report_versions``. ``search_vectors`` holds one embedding per search document and model
(float32 bytes), written only when semantic search is used (``keel[semantic]``); it goes with
its document (foreign key, cascade). ``ix_search_docs_project_updated`` lets semantic search
tell in one index read whether the project's documents changed since it last looked.

Revision ID: 0017
Revises: 0010
Create Date: 2026-12-03 08:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    op.create_table(
        "report_versions",
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=512), nullable=False),
        sa.Column("markdown", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("report_id", "version"),
    )
    op.create_index("ix_search_docs_project_updated", "search_docs", ["project_id", "updated_at"])
    op.create_table(
        "search_vectors",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("doc_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("doc_updated_at", sa.BigInteger(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["doc_id"], ["search_docs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("doc_id", "model", name="uq_search_vector"),
    )
    op.create_index("ix_search_vectors_project", "search_vectors", ["project_id", "model", "id"])


def downgrade() -> None:
    op.drop_index("ix_search_vectors_project", table_name="search_vectors")
    op.drop_table("search_vectors")
    op.drop_index("ix_search_docs_project_updated", table_name="search_docs")
    op.drop_table("report_versions")
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("version")
