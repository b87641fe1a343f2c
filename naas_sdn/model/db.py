"""The engine factory, the schema's metadata and conventions, and the tables every slice
shares (counters, tags); the others are declared beside their owners (:func:`declared_metadata`
gathers them).

SQL is the source of truth; the service mirrors it in memory. The schema is portable: SQLite (the
default, one file) and PostgreSQL (production) run it unchanged. A change of any table needs its
Alembic revision in ``migrations/versions/`` (tests/unit/test_migrations.py fails without one).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    ForeignKey,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    text,
)
from sqlalchemy.pool import StaticPool

# Unnamed constraints get the names PostgreSQL itself gives them, so the databases it made
# before these names were declared carry them already, and a migration can name what it alters.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",  # SQLAlchemy's own default, kept by every existing index
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
    "fk": "%(table_name)s_%(column_0_N_name)s_fkey",
    "pk": "%(table_name)s_pkey",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

UUID_LEN = 36
NAME_LEN = 255
PROJECT_LEN = 255


def reference(name: str, target: str, on_delete: str, **column: Any) -> Column:
    """A column holding the id of a row of ``target`` ("ports.id"): what a table of a slice's
    own (an extension's, a binding's) hangs on."""
    column.setdefault("nullable", False)
    return Column(name, String(UUID_LEN), ForeignKey(target, ondelete=on_delete), **column)


counters = Table(
    "counters",
    metadata,
    # Monotonic allocators (e.g. port keys) that must never hand out a value twice, even after
    # the row that used it is deleted: flow cookies name objects by these keys.
    Column("name", String(64), primary_key=True),
    Column("next_value", BigInteger, nullable=False),
)

# networks, subnets and ports are declared in naas_sdn/features/networking/.

tags = Table(
    "tags",
    metadata,
    # One table for every taggable resource, as Neutron's standard attributes do.
    Column("resource_type", String(32), primary_key=True),
    Column("resource_id", String(UUID_LEN), primary_key=True),
    Column("tag", String(NAME_LEN), primary_key=True),
)


def connect(url: str) -> Engine:
    """Open the database at ``url`` for the service, at the schema of this code.

    An empty database is created at the newest revision; one at an older or unknown revision
    raises ``migrations.SchemaMismatch`` naming ``naas-sdn db upgrade``.
    """
    from naas_sdn.model import migrations  # it imports this module for the metadata

    engine = open_engine(url)
    try:
        migrations.ensure_current(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def shared(bind: Engine | Connection) -> bool:
    """Whether several processes may share this database (PostgreSQL): their writes to the
    same rows then take :func:`exclusive` locks, as SQLite's one writer does for a file."""
    return bind.dialect.name == "postgresql"


def exclusive(conn: Connection, key: int) -> None:
    """Serialize this transaction with every other process's holding ``key`` until it ends
    (a PostgreSQL advisory lock; nothing on SQLite, whose write lock already does it)."""
    if shared(conn):
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def open_engine(url: str) -> Engine:
    """The engine for ``url``, leaving the schema alone (``naas-sdn db`` migrates through it).

    SQLite gets WAL (readers never block the writer), foreign keys, a busy timeout and explicit
    ``BEGIN IMMEDIATE`` for writes, so the server's threads and a concurrent CLI never deadlock.
    """
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    # every API thread (16 by default) may hold one for a request, beside the follower, the
    # mastership, statistics and binding threads: SQLAlchemy's 5 + 10 would make them queue
    return create_engine(url, pool_pre_ping=True, pool_size=16, max_overflow=16)


def declared_metadata() -> MetaData:
    """The whole schema: the tables above, those of the model's own rooms (tokens, quotas,
    fabric links) and those of the in-tree slices, which declare theirs on import."""
    from naas_sdn import features
    from naas_sdn.model import cluster, fabric_links, quotas, replication, tokens  # noqa: F401

    features.import_declarations()
    return metadata


def _sqlite_engine(url: str) -> Engine:
    in_memory = url in ("sqlite://", "sqlite:///:memory:")
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
    if in_memory:
        kwargs["poolclass"] = StaticPool  # one shared connection, else every thread sees its own DB
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # pysqlite's implicit BEGIN is replaced by ours below
        cursor = dbapi_conn.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # A deferred transaction that reads then writes fails at once with SQLITE_BUSY when
        # another process wrote in between; IMMEDIATE takes the write lock up front and waits.
        if conn.get_execution_options().get("readonly"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
