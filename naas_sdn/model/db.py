"""SQL schema of the logical model and the engine factory.

SQL is the source of truth; the service mirrors it in memory. The schema is portable: SQLite (the
default, one file) and PostgreSQL (production) run it unchanged. A change here needs its Alembic
revision in ``migrations/versions/`` (tests/unit/test_migrations.py fails without one).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
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


tokens = Table(
    "tokens",
    metadata,
    Column("id", String(UUID_LEN), primary_key=True),
    # SHA-256 of the secret: the secret is 32 random bytes, so no salt or slow hash is needed.
    Column("secret_sha256", String(64), nullable=False, unique=True),
    Column("project_id", String(PROJECT_LEN), nullable=False),
    Column("admin", Boolean, nullable=False, default=False),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", DateTime, nullable=False),
)

counters = Table(
    "counters",
    metadata,
    # Monotonic allocators (e.g. port keys) that must never hand out a value twice, even after
    # the row that used it is deleted: flow cookies name objects by these keys.
    Column("name", String(64), primary_key=True),
    Column("next_value", BigInteger, nullable=False),
)

# networks, subnets and ports are declared in naas_sdn/features/networking/.

ip_allocations = Table(
    "ip_allocations",
    metadata,
    # The primary key is what makes an address impossible to hand out twice, whichever process
    # writes; ``position`` keeps the port's fixed_ips in the order the API showed them.
    reference("subnet_id", "subnets.id", "RESTRICT", primary_key=True),
    Column("ip_address", String(64), primary_key=True),
    reference("port_id", "ports.id", "CASCADE", index=True),
    Column("position", Integer, nullable=False),
)

tags = Table(
    "tags",
    metadata,
    # One table for every taggable resource, as Neutron's standard attributes do.
    Column("resource_type", String(32), primary_key=True),
    Column("resource_id", String(UUID_LEN), primary_key=True),
    Column("tag", String(NAME_LEN), primary_key=True),
)

# ----------------------------------------------------------------------------------- quotas
quotas = Table(
    "quotas",
    metadata,
    # A project's limit for one resource, only where it differs from the default (a missing
    # row means the default, so databases from before quotas need no data migration).
    Column("project_id", String(PROJECT_LEN), primary_key=True),
    Column("resource", String(64), primary_key=True),
    Column("hard_limit", Integer, nullable=False),  # -1: unlimited
)

fabric_links = Table(
    "fabric_links",
    metadata,
    # Datapath ids are unsigned 64-bit: kept as 16 hex digits, which every SQL dialect stores
    # and orders safely (a signed BIGINT would overflow).
    Column("src_dpid", String(16), primary_key=True),
    Column("src_port", BigInteger, primary_key=True),
    Column("dst_dpid", String(16), primary_key=True),
    Column("dst_port", BigInteger, primary_key=True),
)


traffic_counters = Table(
    "traffic_counters",
    metadata,
    # Totals of one network, port (the seed's "port caches its statistics"), VIF or address,
    # as JSON: the set of counters grows with the policies that count, not the schema.
    Column("scope", String(8), primary_key=True),
    Column("object_id", String(80), primary_key=True),
    Column("counters", Text, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

counter_readings = Table(
    "counter_readings",
    metadata,
    # Last raw value of each switch counter: a restarted controller adds only what is new.
    Column("source", String(160), primary_key=True),
    Column("counts", Text, nullable=False),
    Column("age", Float, nullable=True),  # seconds the switch had kept the counter
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


def open_engine(url: str) -> Engine:
    """The engine for ``url``, leaving the schema alone (``naas-sdn db`` migrates through it).

    SQLite gets WAL (readers never block the writer), foreign keys, a busy timeout and explicit
    ``BEGIN IMMEDIATE`` for writes, so the server's threads and a concurrent CLI never deadlock.
    """
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    return create_engine(url, pool_pre_ping=True)


def declared_metadata() -> MetaData:
    """The whole schema: the tables above and those of the in-tree declared resources, whose
    slices declare them on import (``naas_sdn.features``)."""
    from naas_sdn import features

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
