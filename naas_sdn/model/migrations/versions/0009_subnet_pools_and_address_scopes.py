"""Subnet pools and address scopes, the pool a subnet's prefix was taken from, the default
external network and the projects' auto-allocated topologies.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if sa.inspect(bind).has_table("subnetpools"):
        return  # made by create_all before Alembic (docs/schema-migrations.md)
    op.create_table(
        "address_scopes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("revision_number", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("ip_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("address_scopes_pkey")),
    )
    with op.batch_alter_table("address_scopes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_address_scopes_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "subnetpools",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("revision_number", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("ip_version", sa.Integer(), nullable=False),
        sa.Column("prefixes", sa.Text(), nullable=False),
        sa.Column("min_prefixlen", sa.Integer(), nullable=False),
        sa.Column("max_prefixlen", sa.Integer(), nullable=False),
        sa.Column("default_prefixlen", sa.Integer(), nullable=False),
        sa.Column("default_quota", sa.Integer(), nullable=True),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("address_scope_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["address_scope_id"],
            ["address_scopes.id"],
            name=op.f("subnetpools_address_scope_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("subnetpools_pkey")),
    )
    with op.batch_alter_table("subnetpools", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subnetpools_address_scope_id"), ["address_scope_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_subnetpools_project_id"), ["project_id"], unique=False)

    op.create_table(
        "auto_allocated_topologies",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.Column("router_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["networks.id"],
            name=op.f("auto_allocated_topologies_network_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("auto_allocated_topologies_pkey")),
    )
    with op.batch_alter_table("auto_allocated_topologies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_auto_allocated_topologies_network_id"), ["network_id"], unique=False
        )

    # SQLite rebuilds the tables, so that their DDL reads as create_all writes it; the default
    # fills the rows there are (no network was the default) and goes again, as the
    # declaration has none

    recreate: Literal["always", "auto"] = "always" if bind.dialect.name == "sqlite" else "auto"
    with op.batch_alter_table("networks", schema=None, recreate=recreate) as batch_op:
        batch_op.add_column(
            sa.Column("is_default", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("networks", schema=None, recreate=recreate) as batch_op:
        batch_op.alter_column("is_default", server_default=None)
    with op.batch_alter_table("subnets", schema=None, recreate=recreate) as batch_op:
        batch_op.add_column(sa.Column("subnetpool_id", sa.String(length=36), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_subnets_subnetpool_id"), ["subnetpool_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("subnets_subnetpool_id_fkey"),
            "subnetpools",
            ["subnetpool_id"],
            ["id"],
            ondelete="RESTRICT",
        )


def downgrade() -> None:
    with op.batch_alter_table("subnets", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("subnets_subnetpool_id_fkey"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_subnets_subnetpool_id"))
        batch_op.drop_column("subnetpool_id")
    with op.batch_alter_table("networks", schema=None) as batch_op:
        batch_op.drop_column("is_default")
    with op.batch_alter_table("auto_allocated_topologies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auto_allocated_topologies_network_id"))
    op.drop_table("auto_allocated_topologies")

    with op.batch_alter_table("subnetpools", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subnetpools_project_id"))
        batch_op.drop_index(batch_op.f("ix_subnetpools_address_scope_id"))

    op.drop_table("subnetpools")
    with op.batch_alter_table("address_scopes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_address_scopes_project_id"))

    op.drop_table("address_scopes")
