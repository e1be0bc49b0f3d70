"""registry: a per-model high-water mark, so a deleted newest version's number is never reused

MLflow (and any client that caches ``name/version``) assumes a version number, once given, always
means the same package. Numbering from ``max(version) + 1`` gave the number of a deleted newest
version to the next upload; ``registered_models.top_version`` remembers the highest number ever
given. Existing models are backfilled from ``max(version)``, which is exact for every model whose
newest version was never deleted (and the best that can be known for the others).

Revision ID: 0014
Revises: 0003
Create Date: 2026-12-02 19:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "registered_models",
        sa.Column("top_version", sa.Integer(), nullable=False, server_default="0"),
    )
    op.execute(
        "UPDATE registered_models SET top_version = COALESCE("
        "(SELECT max(v.version) FROM model_versions v WHERE v.model_id = registered_models.id), 0)"
    )


def downgrade() -> None:
    with op.batch_alter_table("registered_models") as batch:
        batch.drop_column("top_version")
