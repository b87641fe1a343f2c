"""Schema migrations with Alembic, driven from code: ``naas-sdn db upgrade`` needs no alembic.ini.

A database is in one of five states:
- empty (none of the model's tables): the service creates it at the newest revision by itself;
- pre-Alembic (tables, no revision): written by ``create_all`` before migrations existed;
  ``upgrade`` takes it through revisions 0001 and 0002, which create only the tables it lacks;
- at a revision older than this code's: ``upgrade`` brings it to the head;
- at the head: ready;
- at a revision this code does not know: a newer naas-sdn upgraded it; refused.

Alembic itself is imported only to create or migrate a database: it takes longer to import than
a ``naas-sdn token`` command takes to run, and a database at ``HEAD`` needs none of it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

from naas_sdn.model import db

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

LOG = logging.getLogger(__name__)

SCRIPT_LOCATION = os.path.dirname(os.path.abspath(__file__))
HEAD = "0011"  # the newest revision in versions/, the schema db.metadata declares (a test checks)
VERSION_TABLE = "alembic_version"  # Alembic's default

# Any constant will do: the key of the PostgreSQL advisory lock that serializes schema changes
# between processes started at once (SQLite's BEGIN IMMEDIATE does the same for a file).
_POSTGRES_LOCK_KEY = 0x6E616173  # "naas"


class SchemaMismatch(RuntimeError):
    """The database's schema is not the one this code was written for."""


@dataclass(frozen=True)
class SchemaState:
    """Where a database stands: its Alembic revision, and whether it holds any model table."""

    revision: str | None
    has_tables: bool

    @property
    def empty(self) -> bool:
        return self.revision is None and not self.has_tables

    @property
    def pre_alembic(self) -> bool:
        return self.revision is None and self.has_tables

    def describe(self) -> str:
        if self.empty:
            return "empty"
        if self.pre_alembic:
            return "pre-Alembic (tables made by create_all, no revision)"
        return str(self.revision)


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for our scripts; ``env.py`` runs them on ``connection``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["connection"] = connection
    return config


@functools.cache
def scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


@functools.cache
def _known_revisions() -> frozenset[str]:
    return frozenset(script.revision for script in scripts().walk_revisions())


def read_state(conn: Connection) -> SchemaState:
    tables = set(inspect(conn).get_table_names())
    revision = None
    if VERSION_TABLE in tables:
        # One row in a linear history; several would be branches, which no revision makes.
        revision = (
            ",".join(
                sorted(conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())
            )
            or None
        )
    return SchemaState(revision, revision is not None or bool(tables & set(db.metadata.tables)))


def current_state(engine: Engine) -> SchemaState:
    with engine.connect().execution_options(readonly=True) as conn:
        return read_state(conn)


def ensure_current(engine: Engine) -> None:
    """Make sure the service may use ``engine``: create an empty database at the head, accept
    one at the head, refuse any other with a message saying what to do.

    Raises:
        SchemaMismatch: the database is pre-Alembic, older than the code or newer than it.
    """
    state = current_state(engine)
    if state.revision == HEAD:
        return
    if state.empty:
        with _schema_transaction(engine) as conn:
            state = read_state(conn)  # another process may have created it meanwhile
            if state.empty:
                _create_at_head(conn)
                LOG.info("new database created at schema revision %s", HEAD)
                return
        if state.revision == HEAD:
            return
    raise SchemaMismatch(_mismatch_message(state, engine))


def upgrade(engine: Engine, revision: str = "head") -> tuple[SchemaState, SchemaState]:
    """Migrate the database to ``revision``; return its state before and after.

    Raises:
        SchemaMismatch: the database is at a revision this code does not know.
    """
    with _sqlite_foreign_keys_deferred(engine) as conn, _schema_transaction(conn) as conn:
        before = read_state(conn)
        if before.revision is not None and before.revision not in _known_revisions():
            raise SchemaMismatch(_mismatch_message(before, engine))
        from alembic import command

        command.upgrade(alembic_config(conn), revision)
        if conn.dialect.name == "sqlite":
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").first()
            if broken:
                raise RuntimeError(f"the migration broke a foreign key: {tuple(broken)}")
        return before, read_state(conn)


@contextlib.contextmanager
def _sqlite_foreign_keys_deferred(engine: Engine) -> Iterator[Connection]:
    """A connection on which SQLite does not enforce foreign keys, for migrating.

    A revision that rebuilds a table (batch mode: copy, drop, rename) would otherwise have the
    drop delete every row referring to it (ON DELETE CASCADE). SQLite ignores the pragma inside
    a transaction, so it is set on the raw connection first; ``upgrade`` checks the keys before
    committing, as Alembic's documentation advises.
    """
    with engine.connect() as conn:
        if conn.dialect.name != "sqlite":
            yield conn
            return
        raw = conn.connection.dbapi_connection
        assert raw is not None  # a checked-out connection has its DBAPI one
        raw.execute("PRAGMA foreign_keys=OFF")
        try:
            yield conn
        finally:
            raw.execute("PRAGMA foreign_keys=ON")


def _create_at_head(conn: Connection) -> None:
    """A new database gets the declared schema at once, stamped with the head revision (the
    test of the migrations keeps the two equal)."""
    from alembic.migration import MigrationContext

    db.declared_metadata().create_all(conn)
    MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).stamp(scripts(), HEAD)


@contextlib.contextmanager
def _schema_transaction(bind: Engine | Connection) -> Iterator[Connection]:
    """One transaction holding the database's schema lock, so that two processes starting on
    the same new database do not both create it."""
    if isinstance(bind, Engine):
        with bind.connect() as conn, _schema_transaction(conn) as conn:
            yield conn
        return
    with bind.begin():  # SQLite: BEGIN IMMEDIATE, the write lock (db._sqlite_engine)
        db.exclusive(bind, _POSTGRES_LOCK_KEY)
        yield bind


def _mismatch_message(state: SchemaState, engine: Engine) -> str:
    where = f"the database {engine.url.render_as_string(hide_password=True)}"
    upgrade_hint = "run 'naas-sdn db upgrade' (with the same --config or --db-url) first"
    if state.pre_alembic:
        return (
            f"{where} predates schema migrations (it has tables but no schema revision); "
            f"{upgrade_hint}"
        )
    if state.revision in _known_revisions():
        return (
            f"{where} is at schema revision {state.revision}, older than this naas-sdn's "
            f"{HEAD}; {upgrade_hint}"
        )
    return (
        f"{where} is at schema revision {state.revision}, which this naas-sdn does not know "
        f"(its newest is {HEAD}): a newer naas-sdn upgraded it; run that one"
    )
