"""Per-project quotas (commit b59a095).

That commit still relied on ``create_all``, so a database written by the code between it and
Alembic may hold the table already: it is created only where it is missing.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("quotas"):
        return
    op.create_table(
        "quotas",
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("resource", sa.String(length=64), nullable=False),
        sa.Column("hard_limit", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "resource", name="quotas_pkey"),
    )


def downgrade() -> None:
    op.drop_table("quotas")
