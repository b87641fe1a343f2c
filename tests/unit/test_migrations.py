"""Schema migrations: the migrated schema is the declared one, a database written by the code of
e0de1ed (before Alembic) upgrades with every row intact, and the service opens only a database at
the schema of its code."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, UniqueConstraint, inspect

from naas_sdn import cli
from naas_sdn.features.router import interfaces_of
from naas_sdn.features.statistics.store import StatisticsStore
from naas_sdn.model import db, migrations
from naas_sdn.model.common import Context
from naas_sdn.model.service import NetworkService
from tests.helpers import NAAS_SDN, ServerProcess

FIXTURES = Path(__file__).parent / "fixtures"
E0DE1ED_TABLES = (
    "tokens",
    "counters",
    "networks",
    "ports",
    "subnets",
    "ip_allocations",
    "routers",
    "tags",
    "network_port_security",
    "port_port_security",
    "allowed_address_pairs",
    "security_groups",
    "default_security_groups",
    "security_group_rules",
    "security_group_port_bindings",
    "qos_policies",
    "qos_bandwidth_limit_rules",
    "qos_dscp_marking_rules",
    "qos_network_policy_bindings",
    "qos_port_policy_bindings",
    "protocol_blocks",
    "fabric_links",
    "traffic_counters",
    "counter_readings",
)
# The columns of the e0de1ed tables revisions have added to since (0005: provider networks,
# 0007: router gateways).
E0DE1ED_COLUMNS = {
    "ports": [
        "id",
        "key",
        "network_id",
        "project_id",
        "name",
        "description",
        "mac_address",
        "admin_state_up",
        "status",
        "device_id",
        "device_owner",
        "binding_host_id",
        "binding_vif_type",
        "binding_vnic_type",
        "binding_profile",
        "revision_number",
        "created_at",
        "updated_at",
    ],
    "subnets": [
        "id",
        "network_id",
        "project_id",
        "seq",
        "name",
        "description",
        "ip_version",
        "cidr",
        "gateway_ip",
        "enable_dhcp",
        "ipv6_ra_mode",
        "ipv6_address_mode",
        "allocation_pools",
        "dns_nameservers",
        "host_routes",
        "revision_number",
        "created_at",
        "updated_at",
    ],
    "routers": [
        "id",
        "key",
        "project_id",
        "name",
        "description",
        "admin_state_up",
        "status",
        "routes",
        "revision_number",
        "created_at",
        "updated_at",
    ],
    "networks": [
        "id",
        "project_id",
        "name",
        "description",
        "admin_state_up",
        "shared",
        "mtu",
        "segmentation_id",
        "revision_number",
        "created_at",
        "updated_at",
    ],
}
ALICE = Context("alice")


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'naas-sdn.sqlite'}"


@pytest.fixture
def e0de1ed_url(tmp_path):
    """A database as the code of e0de1ed wrote it (tests/unit/fixtures/make_e0de1ed_db.py)."""
    path = tmp_path / "e0de1ed.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript((FIXTURES / "e0de1ed.sql").read_text())
    conn.close()
    return f"sqlite:///{path}"


def _differences(url: str, metadata: MetaData | None = None) -> list:
    engine = db.open_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            return compare_metadata(context, metadata or db.declared_metadata())
    finally:
        engine.dispose()


def _differences_beyond_names(url: str) -> list:
    """The differences but one: SQLite keeps the single-column UNIQUE constraints that
    ``create_all`` wrote before the naming convention unnamed (PostgreSQL named them as the
    convention does). The same columns are unique; only the name is missing."""
    engine = db.open_engine(url)
    inspector = inspect(engine)
    rest = []
    for difference in _differences(url):
        if difference[0] == "add_constraint" and isinstance(difference[1], UniqueConstraint):
            constraint = difference[1]
            unnamed = [
                u["column_names"]
                for u in inspector.get_unique_constraints(constraint.table.name)
                if not u["name"]
            ]
            if [c.name for c in constraint.columns] in unnamed:
                continue
        rest.append(difference)
    engine.dispose()
    return rest


def _schema(url: str) -> dict[str, list[str]]:
    """Every table's and index's DDL as SQLite keeps it, one sorted line per column or
    constraint (their order in a CREATE TABLE differs between create_all and a migration)."""
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        rows = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL "
            "AND name != 'alembic_version'"
        ).fetchall()
    conn.close()
    # A table rebuilt in batch mode is renamed into place, and SQLite keeps its name quoted.
    return {
        name: sorted(
            line.strip().rstrip(",").replace(f'CREATE TABLE "{name}"', f"CREATE TABLE {name}")
            for line in sql.splitlines()
        )
        for name, sql in rows
    }


# values revisions since moved to another column: where the binding app wrote a VIF's host
# (0011: binding_host_id is left to what Nova asks)
MOVED = {"ports": {"binding_host_id": "vif_host"}}


def _rows(url: str, upgraded: bool = False) -> dict[str, list[tuple]]:
    """Every row of the e0de1ed tables, in the columns they had then (revisions since may
    add columns), read where they are now once ``upgraded``."""

    def columns(table: str) -> str:
        moved = MOVED.get(table, {}) if upgraded else {}
        return ", ".join(moved.get(c, c) for c in E0DE1ED_COLUMNS.get(table, ["*"]))

    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        rows = {
            table: sorted(
                conn.execute(f'SELECT {columns(table)} FROM "{table}"').fetchall(),
                key=repr,
            )
            for table in E0DE1ED_TABLES
        }
    conn.close()
    return rows


def _upgrade(url: str) -> None:
    engine = db.open_engine(url)
    try:
        migrations.upgrade(engine)
    finally:
        engine.dispose()


def _revision(url: str) -> str | None:
    engine = db.open_engine(url)
    try:
        return migrations.current_state(engine).revision
    finally:
        engine.dispose()


def _set_revision(url: str, revision: str) -> None:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (revision,))
    conn.close()


# ------------------------------------------------------------ declared schema = migrated schema
def test_head_is_the_newest_revision():
    assert migrations.scripts().get_current_head() == migrations.HEAD


def test_migrations_build_the_declared_schema(url):
    _upgrade(url)
    assert _revision(url) == migrations.HEAD
    assert _differences(url) == []


def test_the_comparison_sees_a_column_without_a_migration(url):
    _upgrade(url)
    declared = MetaData(naming_convention=db.NAMING_CONVENTION)
    for table in db.declared_metadata().tables.values():
        table.to_metadata(declared)
    declared.tables["ports"].append_column(Column("colour", Integer))
    assert [d[0] for d in _differences(url, declared)] == ["add_column"]


def test_a_new_database_is_the_migrated_one_line_for_line(tmp_path):
    """What the service creates by itself (create_all, stamped) and what the migrations build
    are the same DDL, types, defaults and ON DELETE clauses included, which reflection alone
    cannot fully see on SQLite."""
    created, migrated = (f"sqlite:///{tmp_path / name}" for name in ("created.db", "migrated.db"))
    db.connect(created).dispose()
    _upgrade(migrated)
    assert _schema(created) == _schema(migrated)
    assert set(_schema(created)) >= set(db.declared_metadata().tables)


def test_downgrade_to_nothing_and_up_again(url):
    _upgrade(url)
    engine = db.open_engine(url)
    with engine.begin() as conn:
        command.downgrade(migrations.alembic_config(conn), "base")
    assert migrations.current_state(engine).empty
    engine.dispose()
    _upgrade(url)
    assert _differences(url) == []


# ------------------------------------------------------------------ a database of commit e0de1ed
def test_e0de1ed_database_upgrades_with_every_row_intact(e0de1ed_url):
    before = _rows(e0de1ed_url)
    assert all(before.values()), [t for t, rows in before.items() if not rows]
    assert _revision(e0de1ed_url) is None

    done = subprocess.run(
        [NAAS_SDN, "db", "upgrade", "--db-url", e0de1ed_url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        f"schema upgraded from pre-Alembic (tables made by create_all, no revision) "
        f"to revision {migrations.HEAD}"
    )
    assert _rows(e0de1ed_url, upgraded=True) == before
    assert _revision(e0de1ed_url) == migrations.HEAD
    assert _differences(e0de1ed_url) != []  # the unnamed constraints, filtered out below
    assert _differences_beyond_names(e0de1ed_url) == []

    secrets = json.loads((FIXTURES / "e0de1ed.json").read_text())["token_secrets"]
    service = NetworkService(db.connect(e0de1ed_url))
    try:
        assert service.tokens.authenticate(secrets["alice"]) == Context("alice")
        assert service.tokens.authenticate(secrets["admin"]) == Context("admin", is_admin=True)

        networks = {n.name: n for n in service.list_networks(Context.admin())}
        assert sorted(networks) == ["blue", "bob-net", "green"]
        blue = networks["blue"]
        assert (blue.description, blue.mtu, blue.tags) == ("web tier", 1500, ("prod", "web"))
        # bob-net was shared with all: now through its "*" RBAC entry, which alice's view reads
        entries = service.list_records(Context.admin(), "rbac_policies")
        assert [(e.object_id, e.target_tenant, e.project_id) for e in entries] == [
            (networks["bob-net"].id, "*", networks["bob-net"].project_id)
        ]
        assert "bob-net" in {n.name for n in service.list_networks(ALICE)}
        subnets = {s.name: s for s in service.list_subnets(ALICE)}
        assert subnets["blue-v4"].dns_nameservers == ("192.0.2.53", "192.0.2.54")
        assert subnets["blue-v4"].allocation_pools == (("10.0.0.10", "10.0.0.200"),)
        assert subnets["blue-v6"].ipv6_address_mode == "slaac"

        ports = {p.name: p for p in service.list_ports(ALICE)}
        vm1 = ports["vm1"]
        assert vm1.fixed_ips[0] == (subnets["blue-v4"].id, "10.0.0.10")
        assert vm1.fixed_ips[1][0] == subnets["blue-v6"].id  # SLAAC, from the MAC
        assert vm1.allowed_address_pairs == (
            ("10.0.0.100", None),
            ("10.0.0.0/28", "fa:16:3e:00:00:01"),
        )
        assert (vm1.status, vm1.vif_host, vm1.tags) == ("ACTIVE", "br-a", ("vm",))
        assert [
            service.get_record(ALICE, "security_groups", g).name for g in vm1.security_groups
        ] == ["web"]
        assert service.get_record(ALICE, "qos_policies", vm1.qos_policy_id).name == "gold"
        assert ports["plain"].port_security_enabled is False

        router = service.list_records(ALICE, "routers")[0]
        assert router.routes == (("203.0.113.0/24", "10.1.0.5"),)
        assert (router.gw_port_id, router.enable_snat) == (None, True)  # 0007's defaults
        assert {s.subnetpool_id for s in service.records("subnets").values()} == {None}  # 0009
        assert [p.network_id for p in interfaces_of(service, router.id)] == [networks["green"].id]
        assert service.list_records(ALICE, "protocol_blocks")[0].port_range_max == 139
        assert service.fabric_links.load() == [(1, 2, 2, 1), (2, 1, 1, 2)]
        traffic = StatisticsStore.of(service).traffic("port", vm1.id)
        assert (traffic["tx_packets"], traffic["tx_bytes"]) == (12, 1500)

        # Counters go on from where e0de1ed left them: no key is handed out twice.
        assert sorted(row[1] for row in before["ports"]) == [1, 2, 3, 5]  # "gone" had 4
        assert service.create_port(ALICE, {"network_id": blue.id}).key == 6
        assert service.create_records(ALICE, "routers", [{}])[0].key > router.key
        new_subnet = service.create_subnet(
            ALICE, {"network_id": networks["green"].id, "ip_version": 4, "cidr": "10.2.0.0/24"}
        )
        assert new_subnet.seq > max(s.seq for s in subnets.values())
    finally:
        service.close()


SINCE_ALEMBIC = {
    "l2_remote_gateways",  # revision 0003
    "l2_remote_gateway_connections",
    "rbac_policies",  # revision 0004
}


def test_a_database_from_between_e0de1ed_and_alembic_upgrades(url):
    """The code after e0de1ed (quotas) still made its tables with create_all: all but those
    of the revisions since."""
    engine = db.open_engine(url)
    declared = db.declared_metadata()
    then = [t for name, t in declared.tables.items() if name not in SINCE_ALEMBIC]
    declared.create_all(engine, tables=then)
    engine.dispose()
    assert cli.main(["db", "upgrade", "--db-url", url]) == 0
    assert _revision(url) == migrations.HEAD
    assert _differences(url) == []


def test_upgrade_is_idempotent(e0de1ed_url, capsys):
    assert cli.main(["db", "upgrade", "--db-url", e0de1ed_url]) == 0
    rows = _rows(e0de1ed_url)
    assert cli.main(["db", "upgrade", "--db-url", e0de1ed_url]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"schema already at revision {migrations.HEAD}"
    )
    assert _rows(e0de1ed_url) == rows
    assert cli.main(["db", "current", "--db-url", e0de1ed_url]) == 0
    assert capsys.readouterr().out == f"{migrations.HEAD}\n"


# --------------------------------------------------------- the service opens its own schema only
def test_connect_creates_a_new_database_at_the_head(url):
    engine = db.connect(url)
    engine.dispose()
    assert _revision(url) == migrations.HEAD
    assert _differences(url) == []


def test_in_memory_databases_are_always_new():
    for _ in range(2):
        service = NetworkService(db.connect("sqlite://"))
        assert service.list_networks(ALICE) == []
        service.close()


def test_processes_starting_at_once_create_the_database_once(url):
    failures = []

    def start():
        try:
            db.connect(url).dispose()
        except Exception as error:
            failures.append(error)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert _revision(url) == migrations.HEAD


def test_connect_refuses_a_pre_alembic_database(e0de1ed_url):
    with pytest.raises(migrations.SchemaMismatch) as refused:
        db.connect(e0de1ed_url)
    assert "predates schema migrations" in str(refused.value)
    assert "run 'naas-sdn db upgrade'" in str(refused.value)
    assert _revision(e0de1ed_url) is None  # refused before anything was written


def test_connect_refuses_an_older_revision(url):
    db.connect(url).dispose()
    _set_revision(url, "0001")
    with pytest.raises(migrations.SchemaMismatch) as refused:
        db.connect(url)
    assert str(refused.value) == (
        f"the database {url} is at schema revision 0001, older than this naas-sdn's "
        f"{migrations.HEAD}; run 'naas-sdn db upgrade' (with the same --config or --db-url) "
        f"first"
    )


def test_connect_and_upgrade_refuse_a_newer_revision(url, capsys):
    db.connect(url).dispose()
    _set_revision(url, "9999")
    with pytest.raises(migrations.SchemaMismatch) as refused:
        db.connect(url)
    assert "schema revision 9999, which this naas-sdn does not know" in str(refused.value)
    assert cli.main(["db", "upgrade", "--db-url", url]) == 2
    assert "which this naas-sdn does not know" in capsys.readouterr().err
    assert _revision(url) == "9999"


def test_token_create_refuses_an_old_database_and_creates_a_new_one(e0de1ed_url, url, capsys):
    assert cli.main(["token", "create", "--project", "p", "--db-url", e0de1ed_url]) == 2
    assert "naas-sdn db upgrade" in capsys.readouterr().err
    assert cli.main(["token", "create", "--project", "p", "--db-url", url]) == 0
    assert _revision(url) == migrations.HEAD


def test_serve_refuses_an_old_database_with_the_message_and_no_traceback(e0de1ed_url, tmp_path):
    server = ServerProcess(tmp_path, db_url=e0de1ed_url)
    done = subprocess.run(server.command(), capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "predates schema migrations" in done.stderr
    assert "run 'naas-sdn db upgrade'" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_revision_that_rebuilds_a_referenced_table_keeps_the_rows_referring_to_it(
    e0de1ed_url, tmp_path, monkeypatch
):
    """SQLite rebuilds a table to alter it; with foreign keys enforced, dropping the old
    ``ports`` would cascade to its addresses, bindings and pairs."""
    scripts = tmp_path / "migrations"
    shutil.copytree(
        migrations.SCRIPT_LOCATION, scripts, ignore=shutil.ignore_patterns("__pycache__")
    )
    (scripts / "versions" / "0099_rebuild_ports.py").write_text(
        "from alembic import op\n"
        f"revision, down_revision = '0099', {migrations.HEAD!r}\n"
        "def upgrade():\n"
        "    with op.batch_alter_table('ports', recreate='always'):\n"
        "        pass\n"
    )
    _upgrade(e0de1ed_url)
    before = _rows(e0de1ed_url)
    monkeypatch.setattr(migrations, "SCRIPT_LOCATION", str(scripts))
    _upgrade(e0de1ed_url)
    assert _revision(e0de1ed_url) == "0099"
    assert _rows(e0de1ed_url) == before
