"""labeling: labeling projects, tasks, assignments, annotations

Revision ID: 0009
Revises: 0001
Create Date: 2026-12-02 19:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "labeling_projects",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("config_json", sa.Text(), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("overlap", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "name", name="uq_labeling_project_name"),
    )
    op.create_table(
        "labeling_tasks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("label_project_id", sa.Integer(), nullable=False),
        sa.Column("data_json", sa.Text(), nullable=False),
        sa.Column("source_ref", sa.String(length=512), nullable=False),
        sa.Column("request_id", sa.String(length=255), nullable=False),
        sa.Column("taken", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["label_project_id"], ["labeling_projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_labeling_tasks_queue", "labeling_tasks", ["label_project_id", "taken", "id"]
    )
    op.create_index(
        "ix_labeling_tasks_request", "labeling_tasks", ["label_project_id", "request_id"]
    )
    op.create_table(
        "labeling_assignments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("label_project_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("annotator", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("assigned_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["label_project_id"], ["labeling_projects.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["task_id"], ["labeling_tasks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_id", "annotator", name="uq_assignment_annotator"),
    )
    op.create_index(
        "ix_labeling_assignments_open",
        "labeling_assignments",
        ["label_project_id", "annotator", "state"],
    )
    op.create_table(
        "labeling_annotations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("label_project_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("annotator", sa.String(length=255), nullable=False),
        sa.Column("result_json", sa.Text(), nullable=False),
        sa.Column("lead_ms", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["label_project_id"], ["labeling_projects.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["task_id"], ["labeling_tasks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_id", "annotator", name="uq_annotation_annotator"),
    )
    op.create_index(
        "ix_labeling_annotations_project", "labeling_annotations", ["label_project_id", "id"]
    )


def downgrade() -> None:
    op.drop_table("labeling_annotations")
    op.drop_table("labeling_assignments")
    op.drop_table("labeling_tasks")
    op.drop_table("labeling_projects")
