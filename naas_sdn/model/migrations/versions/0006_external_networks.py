"""External networks: ``router:external``, kept beside their access_as_external entries.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if "external" in {c["name"] for c in sa.inspect(bind).get_columns("networks")}:
        return  # made by create_all before Alembic (docs/schema-migrations.md)
    # SQLite rebuilds the table (its DDL then reads as create_all writes it); the default
    # fills the rows there are (no network was external before) and goes again, as the
    # declaration has none.
    recreate: Literal["always", "auto"] = "always" if bind.dialect.name == "sqlite" else "auto"
    with op.batch_alter_table("networks", schema=None, recreate=recreate) as batch_op:
        batch_op.add_column(
            sa.Column("external", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("networks", schema=None, recreate=recreate) as batch_op:
        batch_op.alter_column("external", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("networks", schema=None) as batch_op:
        batch_op.drop_column("external")
