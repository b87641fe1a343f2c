"""Neighbours learned on physical networks: the routers beyond router gateways.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("fabric_neighbours"):
        return  # made by create_all before Alembic (docs/schema-migrations.md)
    op.create_table(
        "fabric_neighbours",
        sa.Column("network_id", sa.String(36), primary_key=True),
        sa.Column("ip_address", sa.String(64), primary_key=True),
        sa.Column("mac_address", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("fabric_neighbours")
