"""What the model's unit tests share: the callers' contexts and row counts in SQL."""
from sqlalchemy import func, select

from naas_sdn.model.service import Context

ALICE = Context("alice")
BOB = Context("bob")
ADMIN = Context("admin", is_admin=True)


def count(service, table) -> int:
    """Rows of ``table``: what a failed write must leave as it found."""
    with service._engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()
