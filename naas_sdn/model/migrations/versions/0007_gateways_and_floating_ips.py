"""Router gateways and floating IPs: a router's gateway port and SNAT mode, and the
floating IPs of external networks.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    # Only what the database lacks: one made by create_all before Alembic may have it
    # (docs/schema-migrations.md).
    if "gw_port_id" not in {c["name"] for c in inspector.get_columns("routers")}:
        # SQLite rebuilds the table (its DDL then reads as create_all writes it); the default
        # fills the rows there are (no router had a gateway, every one translates) and goes
        # again, as the declaration has none.
        sqlite = bind.dialect.name == "sqlite"
        recreate: Literal["always", "auto"] = "always" if sqlite else "auto"
        with op.batch_alter_table("routers", schema=None, recreate=recreate) as batch_op:
            batch_op.add_column(sa.Column("gw_port_id", sa.String(length=36), nullable=True))
            batch_op.add_column(
                sa.Column("enable_snat", sa.Boolean(), nullable=False, server_default=sa.true())
            )
            batch_op.create_foreign_key(
                batch_op.f("routers_gw_port_id_fkey"),
                "ports",
                ["gw_port_id"],
                ["id"],
                ondelete="SET NULL",
            )
        with op.batch_alter_table("routers", schema=None, recreate=recreate) as batch_op:
            batch_op.alter_column("enable_snat", server_default=None)
    if "floatingips" in inspector.get_table_names():
        return
    op.create_table(
        "floatingips",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("revision_number", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("floating_network_id", sa.String(length=36), nullable=False),
        sa.Column("floating_ip_address", sa.String(length=64), nullable=False),
        sa.Column("floating_port_id", sa.String(length=36), nullable=False),
        sa.Column("port_id", sa.String(length=36), nullable=True),
        sa.Column("fixed_ip_address", sa.String(length=64), nullable=True),
        sa.Column("router_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["floating_network_id"],
            ["networks.id"],
            name=op.f("floatingips_floating_network_id_fkey"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["floating_port_id"],
            ["ports.id"],
            name=op.f("floatingips_floating_port_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["port_id"], ["ports.id"], name=op.f("floatingips_port_id_fkey")),
        sa.ForeignKeyConstraint(
            ["router_id"], ["routers.id"], name=op.f("floatingips_router_id_fkey")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("floatingips_pkey")),
    )
    with op.batch_alter_table("floatingips", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_floatingips_floating_network_id"), ["floating_network_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_floatingips_port_id"), ["port_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_floatingips_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_floatingips_router_id"), ["router_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("floatingips", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_floatingips_router_id"))
        batch_op.drop_index(batch_op.f("ix_floatingips_project_id"))
        batch_op.drop_index(batch_op.f("ix_floatingips_port_id"))
        batch_op.drop_index(batch_op.f("ix_floatingips_floating_network_id"))
    op.drop_table("floatingips")
    with op.batch_alter_table("routers", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("routers_gw_port_id_fkey"), type_="foreignkey")
        batch_op.drop_column("enable_snat")
        batch_op.drop_column("gw_port_id")
