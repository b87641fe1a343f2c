"""Provider networks: the physical network a network rides and its VLAN there.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COLUMNS = (
    ("physical_network", sa.String(length=64)),
    ("physical_segment", sa.Integer()),
)


def upgrade() -> None:
    # Only the columns the table lacks: a database made by create_all before Alembic (see
    # docs/schema-migrations.md) may have them.
    bind = op.get_bind()
    existing = {c["name"] for c in sa.inspect(bind).get_columns("networks")}
    # SQLite rebuilds the table, so that its DDL is what create_all writes (an added column
    # would stay on the line of the last one); PostgreSQL adds the columns in place.
    sqlite = bind.dialect.name == "sqlite"
    with op.batch_alter_table(
        "networks", schema=None, recreate="always" if sqlite else "auto"
    ) as batch_op:
        for name, kind in COLUMNS:
            if name not in existing:
                batch_op.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("networks", schema=None) as batch_op:
        for name, _ in reversed(COLUMNS):
            batch_op.drop_column(name)
