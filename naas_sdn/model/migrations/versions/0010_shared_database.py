"""Several processes on one database: the log of the model's commits, the processes alive,
which of them masters each switch, the secrets they share and the fabric links each has seen.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("model_changes"):
        return  # made by create_all before Alembic (docs/schema-migrations.md)
    op.create_table(
        "model_changes",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("changes", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "controller_members",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("datapaths", sa.Text(), nullable=False),
    )
    op.create_table(
        "datapath_leases",
        sa.Column("dpid", sa.String(16), primary_key=True),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "cluster_secrets",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "fabric_sightings",
        sa.Column("src_dpid", sa.String(16), primary_key=True),
        sa.Column("src_port", sa.BigInteger(), primary_key=True),
        sa.Column("dst_dpid", sa.String(16), primary_key=True),
        sa.Column("dst_port", sa.BigInteger(), primary_key=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "fabric_sightings",
        "cluster_secrets",
        "datapath_leases",
        "controller_members",
        "model_changes",
    ):
        op.drop_table(table)
