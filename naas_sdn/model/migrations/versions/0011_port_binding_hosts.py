"""Nova's port binding: the host a port is bound to (``binding:host_id``, asked through the
API) apart from where its VIF is plugged (``vif_host``, seen in OVSDB), and the
``binding:vif_details`` os-vif reads.

Before, the binding app wrote where the VIF was into ``binding_host_id``: that moves to
``vif_host``, and ``binding_host_id`` is left to what Nova or an admin asks.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if "vif_host" in {c["name"] for c in sa.inspect(bind).get_columns("ports")}:
        return  # made by create_all before Alembic (docs/schema-migrations.md)
    # as 0006: the defaults fill the rows there are, and go again (the declaration has none)
    recreate: Literal["always", "auto"] = "always" if bind.dialect.name == "sqlite" else "auto"
    with op.batch_alter_table("ports", schema=None, recreate=recreate) as batch_op:
        batch_op.add_column(
            sa.Column("vif_host", sa.String(length=255), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("binding_vif_details", sa.Text(), nullable=False, server_default="{}")
        )
    op.execute("UPDATE ports SET vif_host = binding_host_id, binding_host_id = ''")
    with op.batch_alter_table("ports", schema=None, recreate=recreate) as batch_op:
        batch_op.alter_column("vif_host", server_default=None)
        batch_op.alter_column("binding_vif_details", server_default=None)


def downgrade() -> None:
    op.execute(
        "UPDATE ports SET binding_host_id = vif_host WHERE vif_host != '' OR binding_host_id = ''"
    )
    with op.batch_alter_table("ports", schema=None) as batch_op:
        batch_op.drop_column("binding_vif_details")
        batch_op.drop_column("vif_host")
