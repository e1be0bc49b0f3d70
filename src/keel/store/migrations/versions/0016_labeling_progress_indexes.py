"""labeling: indexes that make a labeling project's progress counts index scans

The project list shows each labeling project's progress; at 100,000 tasks and 150,000
answers its three GROUP BY queries each sorted the project's rows in a temporary b-tree.
``(label_project_id, task_id)`` and ``(label_project_id, annotator)`` on annotations give
"complete tasks" and "answers per annotator" in index order, and ``(label_project_id,
state)`` on assignments counts the skipped and held tasks without reading the submitted ones.

Revision ID: 0016
Revises: 0009
Create Date: 2026-12-03 09:15:00
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0009"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_labeling_annotations_task", "labeling_annotations", ["label_project_id", "task_id"]),
    ("ix_labeling_annotations_by", "labeling_annotations", ["label_project_id", "annotator"]),
    ("ix_labeling_assignments_state", "labeling_assignments", ["label_project_id", "state"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table)
