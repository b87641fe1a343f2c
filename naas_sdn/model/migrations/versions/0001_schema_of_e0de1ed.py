"""The schema as of commit e0de1ed, the last one made by ``metadata.create_all`` alone.

Written out table by table so it never changes when the declarations do. Before Alembic, every start
created the tables a database lacked, one feature at a time; so does this revision: on a
database from before Alembic it creates only the missing tables, and the rest is kept as is.
The constraint names are those of ``db.NAMING_CONVENTION``, which PostgreSQL gave the unnamed
constraints of such a database too; SQLite keeps its single-column UNIQUE constraints
unnamed, so a later revision that rebuilds one of those tables must not look them up by name.

The few helpers below are this file's own, not the application's: a revision must build the
same tables whatever the code around it becomes. ``_create_table`` names the constraints and
indexes by that convention from the table and column names (the two multi-column UNIQUE
constraints keep their own names); columns and constraints come in e0de1ed's order, so each
CREATE TABLE is the one this file used to spell out column by column.

Revision ID: 0001
Revises: none
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = (
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

UUID = sa.String(length=36)
NAME = sa.String(length=255)  # Neutron's strings: project ids, names, descriptions, devices

_Type = sa.types.TypeEngine | type[sa.types.TypeEngine]


class _Nullable(NamedTuple):
    type: _Type


def _nullable(type_: _Type) -> _Nullable:
    """Marks a column of ``_columns`` as NULL-able."""
    return _Nullable(type_)


def _columns(**types: _Type | _Nullable) -> list[sa.Column]:
    """One column per keyword, in that order: NOT NULL unless its type is ``_nullable(...)``."""
    return [
        sa.Column(name, type_.type, nullable=True)
        if isinstance(type_, _Nullable)
        else sa.Column(name, type_, nullable=False)
        for name, type_ in types.items()
    ]


def _standard_head(**after_id: _Type | _Nullable) -> list[sa.Column]:
    """Neutron's standard attributes that open a resource: id, the columns given, project_id,
    name and description."""
    return _columns(id=UUID, **after_id, project_id=NAME, name=NAME, description=NAME)


def _standard_tail() -> list[sa.Column]:
    """Neutron's standard attributes that close a resource: its revision and timestamps."""
    return _columns(revision_number=sa.BigInteger, created_at=sa.DateTime, updated_at=sa.DateTime)


def _create_table(
    name: str,
    *columns: sa.Column,
    primary_key: Sequence[str],
    references: Mapping[str, tuple[str, str]] | None = None,
    unique: Sequence[str | tuple[str, ...]] = (),
    indexes: Sequence[str] = (),
) -> None:
    """Create table ``name`` and its indexes, unless a pre-Alembic database already has it.

    ``references`` maps a column to the table whose id it holds and its ON DELETE action;
    ``unique`` holds single columns (``{table}_{column}_key``) or ``(name, *columns)`` for a
    constraint named otherwise; ``indexes`` holds the columns indexed alone
    (``ix_{table}_{column}``).
    """
    if sa.inspect(op.get_bind()).has_table(name):
        return
    foreign_keys = [
        sa.ForeignKeyConstraint(
            [column], [f"{target}.id"], name=f"{name}_{column}_fkey", ondelete=ondelete
        )
        for column, (target, ondelete) in (references or {}).items()
    ]
    op.create_table(
        name,
        *columns,
        *foreign_keys,
        sa.PrimaryKeyConstraint(*primary_key, name=f"{name}_pkey"),
        *(
            sa.UniqueConstraint(key, name=f"{name}_{key}_key")
            if isinstance(key, str)
            else sa.UniqueConstraint(*key[1:], name=key[0])
            for key in unique
        ),
    )
    for column in indexes:
        op.create_index(f"ix_{name}_{column}", name, [column])


def upgrade() -> None:
    _create_table(
        "tokens",
        *_columns(id=UUID, secret_sha256=sa.String(64), project_id=NAME, admin=sa.Boolean),
        *_columns(description=sa.Text, created_at=sa.DateTime),
        primary_key=["id"],
        unique=["secret_sha256"],
    )
    _create_table(
        "counters",
        *_columns(name=sa.String(64), next_value=sa.BigInteger),
        primary_key=["name"],
    )
    _create_table(
        "networks",
        *_standard_head(),
        *_columns(admin_state_up=sa.Boolean, shared=sa.Boolean),
        *_columns(mtu=sa.Integer, segmentation_id=sa.Integer),
        *_standard_tail(),
        primary_key=["id"],
        unique=["segmentation_id"],
        indexes=["project_id"],
    )
    _create_table(
        "ports",
        *_standard_head(key=sa.BigInteger, network_id=UUID),
        *_columns(mac_address=sa.String(17), admin_state_up=sa.Boolean, status=sa.String(16)),
        *_columns(device_id=NAME, device_owner=NAME, binding_host_id=NAME),
        *_columns(binding_vif_type=sa.String(64), binding_vnic_type=sa.String(64)),
        *_columns(binding_profile=sa.Text),
        *_standard_tail(),
        primary_key=["id"],
        references={"network_id": ("networks", "RESTRICT")},
        unique=["key", ("uniq_ports_network_mac", "network_id", "mac_address")],
        indexes=["network_id", "project_id"],
    )
    _create_table(
        "subnets",
        *_columns(id=UUID, network_id=UUID, project_id=NAME, seq=sa.BigInteger),
        *_columns(name=NAME, description=NAME, ip_version=sa.Integer, cidr=sa.String(64)),
        *_columns(gateway_ip=_nullable(sa.String(64)), enable_dhcp=sa.Boolean),
        *_columns(ipv6_ra_mode=_nullable(sa.String(16))),
        *_columns(ipv6_address_mode=_nullable(sa.String(16))),
        *_columns(allocation_pools=sa.Text, dns_nameservers=sa.Text, host_routes=sa.Text),
        *_standard_tail(),
        primary_key=["id"],
        references={"network_id": ("networks", "RESTRICT")},
        unique=["seq"],
        indexes=["network_id", "project_id"],
    )
    _create_table(
        "ip_allocations",
        *_columns(subnet_id=UUID, ip_address=sa.String(64), port_id=UUID, position=sa.Integer),
        primary_key=["subnet_id", "ip_address"],
        references={"port_id": ("ports", "CASCADE"), "subnet_id": ("subnets", "RESTRICT")},
        indexes=["port_id"],
    )
    _create_table(
        "routers",
        *_standard_head(key=sa.BigInteger),
        *_columns(admin_state_up=sa.Boolean, status=sa.String(16), routes=sa.Text),
        *_standard_tail(),
        primary_key=["id"],
        unique=["key"],
        indexes=["project_id"],
    )
    _create_table(
        "tags",
        *_columns(resource_type=sa.String(32), resource_id=UUID, tag=NAME),
        primary_key=["resource_type", "resource_id", "tag"],
    )
    _create_table(
        "network_port_security",
        *_columns(network_id=UUID, port_security_enabled=sa.Boolean),
        primary_key=["network_id"],
        references={"network_id": ("networks", "CASCADE")},
    )
    _create_table(
        "port_port_security",
        *_columns(port_id=UUID, port_security_enabled=sa.Boolean),
        primary_key=["port_id"],
        references={"port_id": ("ports", "CASCADE")},
    )
    _create_table(
        "allowed_address_pairs",
        *_columns(port_id=UUID, position=sa.Integer, ip_address=sa.String(64)),
        *_columns(mac_address=_nullable(sa.String(17))),
        primary_key=["port_id", "position"],
        references={"port_id": ("ports", "CASCADE")},
    )
    _create_table(
        "security_groups",
        *_standard_head(),
        *_columns(stateful=sa.Boolean),
        *_standard_tail(),
        primary_key=["id"],
        indexes=["project_id"],
    )
    _create_table(
        "default_security_groups",
        *_columns(project_id=NAME, security_group_id=UUID),
        primary_key=["project_id"],
        references={"security_group_id": ("security_groups", "CASCADE")},
        unique=["security_group_id"],
    )
    _create_table(  # no name: a rule has only a description, after its own columns
        "security_group_rules",
        *_columns(id=UUID, key=sa.BigInteger, security_group_id=UUID),
        *_columns(remote_group_id=_nullable(UUID), project_id=NAME),
        *_columns(direction=sa.String(16), ethertype=sa.String(8)),
        *_columns(protocol=_nullable(sa.String(40))),
        *_columns(port_range_min=_nullable(sa.Integer), port_range_max=_nullable(sa.Integer)),
        *_columns(remote_ip_prefix=_nullable(sa.String(64)), description=NAME),
        *_standard_tail(),
        primary_key=["id"],
        references={
            "remote_group_id": ("security_groups", "CASCADE"),
            "security_group_id": ("security_groups", "CASCADE"),
        },
        unique=["key"],
        indexes=["project_id", "remote_group_id", "security_group_id"],
    )
    _create_table(
        "security_group_port_bindings",
        *_columns(port_id=UUID, security_group_id=UUID),
        primary_key=["port_id", "security_group_id"],
        references={
            "port_id": ("ports", "CASCADE"),
            "security_group_id": ("security_groups", "RESTRICT"),
        },
        indexes=["security_group_id"],
    )
    _create_table(
        "qos_policies",
        *_standard_head(),
        *_columns(shared=sa.Boolean),
        *_standard_tail(),
        primary_key=["id"],
        indexes=["project_id"],
    )
    _create_table(
        "qos_bandwidth_limit_rules",
        *_columns(id=UUID, qos_policy_id=UUID, direction=sa.String(8)),
        *_columns(max_kbps=sa.BigInteger, max_burst_kbps=sa.BigInteger),
        primary_key=["id"],
        references={"qos_policy_id": ("qos_policies", "CASCADE")},
        unique=[("uniq_qos_bw_policy_direction", "qos_policy_id", "direction")],
        indexes=["qos_policy_id"],
    )
    _create_table(
        "qos_dscp_marking_rules",
        *_columns(id=UUID, qos_policy_id=UUID, dscp_mark=sa.Integer),
        primary_key=["id"],
        references={"qos_policy_id": ("qos_policies", "CASCADE")},
        unique=["qos_policy_id"],
    )
    _create_table(
        "qos_network_policy_bindings",
        *_columns(network_id=UUID, policy_id=UUID),
        primary_key=["network_id"],
        references={
            "network_id": ("networks", "CASCADE"),
            "policy_id": ("qos_policies", "RESTRICT"),
        },
        indexes=["policy_id"],
    )
    _create_table(
        "qos_port_policy_bindings",
        *_columns(port_id=UUID, policy_id=UUID),
        primary_key=["port_id"],
        references={
            "policy_id": ("qos_policies", "RESTRICT"),
            "port_id": ("ports", "CASCADE"),
        },
        indexes=["policy_id"],
    )
    _create_table(
        "protocol_blocks",
        *_standard_head(key=sa.BigInteger, network_id=UUID),
        *_columns(protocol=sa.String(40), ethertype=_nullable(sa.String(8))),
        *_columns(port_range_min=_nullable(sa.Integer), port_range_max=_nullable(sa.Integer)),
        *_standard_tail(),
        primary_key=["id"],
        references={"network_id": ("networks", "CASCADE")},
        unique=["key"],
        indexes=["network_id", "project_id"],
    )
    _create_table(
        "fabric_links",
        *_columns(src_dpid=sa.String(16), src_port=sa.BigInteger),
        *_columns(dst_dpid=sa.String(16), dst_port=sa.BigInteger),
        primary_key=["src_dpid", "src_port", "dst_dpid", "dst_port"],
    )
    _create_table(
        "traffic_counters",
        *_columns(scope=sa.String(8), object_id=sa.String(80)),
        *_columns(counters=sa.Text, updated_at=sa.DateTime),
        primary_key=["scope", "object_id"],
    )
    _create_table(
        "counter_readings",
        *_columns(source=sa.String(160), counts=sa.Text, age=_nullable(sa.Float)),
        primary_key=["source"],
    )


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)
