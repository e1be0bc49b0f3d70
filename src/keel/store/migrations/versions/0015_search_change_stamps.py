"""search: a change stamp on runs and model versions, so the search index sees every edit

``runs.updated_at`` and ``model_versions.updated_at`` (ms) are bumped by the repositories on
every write that changes what the object is found by (a run's name, note, params, tags or
lifecycle; a version's description, card or tags). The incremental search refresh reads the
rows stamped since its mark, through an index, instead of guessing from start and end times.
Existing rows are backfilled with the newest time they carry.

Revision ID: 0015
Revises: 0001
Depends on: 0003 (model_versions)
Create Date: 2026-12-03 06:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0001"
branch_labels = None
depends_on = "0003"


def upgrade() -> None:
    op.add_column(
        "runs", sa.Column("updated_at", sa.BigInteger(), nullable=False, server_default="0")
    )
    op.execute(
        "UPDATE runs SET updated_at = CASE WHEN end_time IS NOT NULL AND end_time > start_time "
        "THEN end_time ELSE start_time END"
    )
    op.create_index("ix_runs_updated_at", "runs", ["updated_at"])
    op.add_column(
        "model_versions",
        sa.Column("updated_at", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.execute("UPDATE model_versions SET updated_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("updated_at")
    op.drop_index("ix_runs_updated_at", table_name="runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("updated_at")
