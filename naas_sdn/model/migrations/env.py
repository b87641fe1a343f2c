"""Alembic's entry point: runs the revisions on the connection ``naas_sdn.model.migrations``
hands over (in its transaction), never on one an alembic.ini would name."""

from __future__ import annotations

from alembic import context

from naas_sdn.model import db


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "run naas-sdn's migrations through naas_sdn.model.migrations "
            "(naas-sdn db upgrade), which passes the connection"
        )
    # Batch operations (copy and rename a table) are how SQLite alters one: autogenerate
    # writes new revisions that way, and PostgreSQL runs them as plain ALTERs.
    context.configure(
        connection=connection, target_metadata=db.declared_metadata(), render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
