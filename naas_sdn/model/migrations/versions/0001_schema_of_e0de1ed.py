"""The schema as of commit e0de1ed, the last one made by ``metadata.create_all`` alone.

Written out table by table so it never changes when ``db.py`` does. Before Alembic, every start
created the tables a database lacked, one feature at a time; so does this revision: on a
database from before Alembic it creates only the missing tables, and the rest is kept as is.
The constraint names are those of ``db.NAMING_CONVENTION``, which PostgreSQL gave the unnamed
constraints of such a database too; SQLite keeps its single-column UNIQUE constraints
unnamed, so a later revision that rebuilds one of those tables must not look them up by name.

Revision ID: 0001
Revises: none
"""

from __future__ import annotations

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


def _create_table(name: str, *elements, indexes: tuple | list = ()) -> None:
    """Create table ``name`` and its indexes, unless a pre-Alembic database already has it."""
    if sa.inspect(op.get_bind()).has_table(name):
        return
    op.create_table(name, *elements)
    for index_name, columns in indexes:
        op.create_index(index_name, name, columns)


def upgrade() -> None:
    _create_table(
        "tokens",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("secret_sha256", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("admin", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="tokens_pkey"),
        sa.UniqueConstraint("secret_sha256", name="tokens_secret_sha256_key"),
    )
    _create_table(
        "counters",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("next_value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="counters_pkey"),
    )
    _create_table(
        "networks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("admin_state_up", sa.Boolean(), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("mtu", sa.Integer(), nullable=False),
        sa.Column("segmentation_id", sa.Integer(), nullable=False),
        sa.Column("revision_number", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="networks_pkey"),
        sa.UniqueConstraint("segmentation_id", name="networks_segmentation_id_key"),
        indexes=[("ix_networks_project_id", ["project_id"])],
    )
    _create_table(
        "ports",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.BigInteger(), nullable=False),
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("mac_address", sa.String(length=17), nullable=False),
        sa.Column("admin_state_up", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("device_id", sa.String(length=255), nullable=False),
        sa.Column("device_owner", sa.String(length=255), nullable=False),
        sa.Column("binding_host_id", sa.String(length=255), nullable=False),
        sa.Column("binding_vif_type", sa.String(length=64), nullable=False),
        sa.Column("binding_vnic_type", sa.String(length=64), nullable=False),
        sa.Column("binding_profile", sa.Text(), nullable=False),
        sa.Column("revision_number", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"], name="ports_network_id_fkey", ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name="ports_pkey"),
        sa.UniqueConstraint("key", name="ports_key_key"),
        sa.UniqueConstraint("network_id", "mac_address", name="uniq_ports_network_mac"),
        indexes=[("ix_ports_network_id", ["network_id"]), ("ix_ports_project_id", ["project_id"])],
    )
    _create_table(
        "subnets",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("ip_version", sa.Integer(), nullable=False),
        sa.Column("cidr", sa.String(length=64), nullable=False),
        sa.Column("gateway_ip", sa.String(length=64), nullable=True),
        sa.Column("enable_dhcp", sa.Boolean(), nullable=False),
        sa.Column("ipv6_ra_mode", sa.String(length=16), nullable=True),
        sa.Column("ipv6_address_mode", sa.String(length=16), nullable=True),
        sa.Column("allocation_pools", sa.Text(), nullable=False),
        sa.Column("dns_nameservers", sa.Text(), nullable=False),
        sa.Column("host_routes", sa.Text(), nullable=False),
        sa.Column("revision_number", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"], name="subnets_network_id_fkey", ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name="subnets_pkey"),
        sa.UniqueConstraint("seq", name="subnets_seq_key"),
        indexes=[
            ("ix_subnets_network_id", ["network_id"]),
            ("ix_subnets_project_id", ["project_id"]),
        ],
    )
    _create_table(
        "ip_allocations",
        sa.Column("subnet_id", sa.String(length=36), nullable=False),
        sa.Column("ip_address", sa.String(length=64), nullable=False),
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["port_id"], ["ports.id"], name="ip_allocations_port_id_fkey", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["subnet_id"], ["subnets.id"], name="ip_allocations_subnet_id_fkey", ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("subnet_id", "ip_address", name="ip_allocations_pkey"),
        indexes=[("ix_ip_allocations_port_id", ["port_id"])],
    )
    _create_table(
        "routers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.BigInteger(), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("admin_state_up", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("routes", sa.Text(), nullable=False),
        sa.Column("revision_number", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="routers_pkey"),
        sa.UniqueConstraint("key", name="routers_key_key"),
        indexes=[("ix_routers_project_id", ["project_id"])],
    )
    _create_table(
        "tags",
        sa.Column("resource_type", sa.String(length=32), nullable=False),
        sa.Column("resource_id", sa.String(length=36), nullable=False),
        sa.Column("tag", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("resource_type", "resource_id", "tag", name="tags_pkey"),
    )
    _create_table(
        "network_port_security",
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.Column("port_security_enabled", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["networks.id"],
            name="network_port_security_network_id_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("network_id", name="network_port_security_pkey"),
    )
    _create_table(
        "port_port_security",
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.Column("port_security_enabled", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["port_id"], ["ports.id"], name="port_port_security_port_id_fkey", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("port_id", name="port_port_security_pkey"),
    )
    _create_table(
        "allowed_address_pairs",
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("ip_address", sa.String(length=64), nullable=False),
        sa.Column("mac_address", sa.String(length=17), nullable=True),
        sa.ForeignKeyConstraint(
            ["port_id"], ["ports.id"], name="allowed_address_pairs_port_id_fkey", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("port_id", "position", name="allowed_address_pairs_pkey"),
    )
    _create_table(
        "security_groups",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("stateful", sa.Boolean(), nullable=False),
        sa.Column("revision_number", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="security_groups_pkey"),
        indexes=[("ix_security_groups_project_id", ["project_id"])],
    )
    _create_table(
        "default_security_groups",
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("security_group_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["security_group_id"],
            ["security_groups.id"],
            name="default_security_groups_security_group_id_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", name="default_security_groups_pkey"),
        sa.UniqueConstraint(
            "security_group_id", name="default_security_groups_security_group_id_key"
        ),
    )
    _create_table(
        "security_group_rules",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.BigInteger(), nullable=False),
        sa.Column("security_group_id", sa.String(length=36), nullable=False),
        sa.Column("remote_group_id", sa.String(length=36), nullable=True),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("ethertype", sa.String(length=8), nullable=False),
        sa.Column("protocol", sa.String(length=40), nullable=True),
        sa.Column("port_range_min", sa.Integer(), nullable=True),
        sa.Column("port_range_max", sa.Integer(), nullable=True),
        sa.Column("remote_ip_prefix", sa.String(length=64), nullable=True),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("revision_number", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["remote_group_id"],
            ["security_groups.id"],
            name="security_group_rules_remote_group_id_fkey",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["security_group_id"],
            ["security_groups.id"],
            name="security_group_rules_security_group_id_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="security_group_rules_pkey"),
        sa.UniqueConstraint("key", name="security_group_rules_key_key"),
        indexes=[
            ("ix_security_group_rules_project_id", ["project_id"]),
            ("ix_security_group_rules_remote_group_id", ["remote_group_id"]),
            ("ix_security_group_rules_security_group_id", ["security_group_id"]),
        ],
    )
    _create_table(
        "security_group_port_bindings",
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.Column("security_group_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["port_id"],
            ["ports.id"],
            name="security_group_port_bindings_port_id_fkey",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["security_group_id"],
            ["security_groups.id"],
            name="security_group_port_bindings_security_group_id_fkey",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint(
            "port_id", "security_group_id", name="security_group_port_bindings_pkey"
        ),
        indexes=[("ix_security_group_port_bindings_security_group_id", ["security_group_id"])],
    )
    _create_table(
        "qos_policies",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("revision_number", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="qos_policies_pkey"),
        indexes=[("ix_qos_policies_project_id", ["project_id"])],
    )
    _create_table(
        "qos_bandwidth_limit_rules",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("qos_policy_id", sa.String(length=36), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("max_kbps", sa.BigInteger(), nullable=False),
        sa.Column("max_burst_kbps", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["qos_policy_id"],
            ["qos_policies.id"],
            name="qos_bandwidth_limit_rules_qos_policy_id_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="qos_bandwidth_limit_rules_pkey"),
        sa.UniqueConstraint("qos_policy_id", "direction", name="uniq_qos_bw_policy_direction"),
        indexes=[("ix_qos_bandwidth_limit_rules_qos_policy_id", ["qos_policy_id"])],
    )
    _create_table(
        "qos_dscp_marking_rules",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("qos_policy_id", sa.String(length=36), nullable=False),
        sa.Column("dscp_mark", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["qos_policy_id"],
            ["qos_policies.id"],
            name="qos_dscp_marking_rules_qos_policy_id_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="qos_dscp_marking_rules_pkey"),
        sa.UniqueConstraint("qos_policy_id", name="qos_dscp_marking_rules_qos_policy_id_key"),
    )
    _create_table(
        "qos_network_policy_bindings",
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.Column("policy_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["networks.id"],
            name="qos_network_policy_bindings_network_id_fkey",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["qos_policies.id"],
            name="qos_network_policy_bindings_policy_id_fkey",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("network_id", name="qos_network_policy_bindings_pkey"),
        indexes=[("ix_qos_network_policy_bindings_policy_id", ["policy_id"])],
    )
    _create_table(
        "qos_port_policy_bindings",
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.Column("policy_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["qos_policies.id"],
            name="qos_port_policy_bindings_policy_id_fkey",
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["port_id"],
            ["ports.id"],
            name="qos_port_policy_bindings_port_id_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("port_id", name="qos_port_policy_bindings_pkey"),
        indexes=[("ix_qos_port_policy_bindings_policy_id", ["policy_id"])],
    )
    _create_table(
        "protocol_blocks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.BigInteger(), nullable=False),
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("protocol", sa.String(length=40), nullable=False),
        sa.Column("ethertype", sa.String(length=8), nullable=True),
        sa.Column("port_range_min", sa.Integer(), nullable=True),
        sa.Column("port_range_max", sa.Integer(), nullable=True),
        sa.Column("revision_number", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["networks.id"],
            name="protocol_blocks_network_id_fkey",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="protocol_blocks_pkey"),
        sa.UniqueConstraint("key", name="protocol_blocks_key_key"),
        indexes=[
            ("ix_protocol_blocks_network_id", ["network_id"]),
            ("ix_protocol_blocks_project_id", ["project_id"]),
        ],
    )
    _create_table(
        "fabric_links",
        sa.Column("src_dpid", sa.String(length=16), nullable=False),
        sa.Column("src_port", sa.BigInteger(), nullable=False),
        sa.Column("dst_dpid", sa.String(length=16), nullable=False),
        sa.Column("dst_port", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "src_dpid", "src_port", "dst_dpid", "dst_port", name="fabric_links_pkey"
        ),
    )
    _create_table(
        "traffic_counters",
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("object_id", sa.String(length=80), nullable=False),
        sa.Column("counters", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "object_id", name="traffic_counters_pkey"),
    )
    _create_table(
        "counter_readings",
        sa.Column("source", sa.String(length=160), nullable=False),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.Column("age", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("source", name="counter_readings_pkey"),
    )


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)
