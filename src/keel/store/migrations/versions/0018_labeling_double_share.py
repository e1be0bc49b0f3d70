"""labeling: a share of a labeling project's tasks double-labelled

``labeling_projects.double_share`` (0..1, NULL for every task) is the share of the project's
tasks that go to ``overlap`` annotators; the others go to one. Which tasks are in the share
follows from the task id (``keel.store._labeling_share.doubled``), so nothing is stored
per task and the queue's index stays as it is.

Revision ID: 0018
Revises: 0016
Create Date: 2026-12-03 09:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("labeling_projects", sa.Column("double_share", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("labeling_projects") as batch:
        batch.drop_column("double_share")
