"""The ``qos_policy_id`` of networks and ports: which policy shapes them, kept in two tables
of their own (a network's applies to its ports that have none).

Extensions of the core resources (:class:`naas_sdn.model.schema.Extension`): the store calls
them on every create and update of a network or port; what a binding may name is decided
here: a policy the caller sees.
"""

from __future__ import annotations

from sqlalchemy import Table, delete, insert, select

from naas_sdn.model import db, errors, schema
from naas_sdn.model.common import Context
from naas_sdn.model.store import Transaction
from naas_sdn.northbound import attributes as a
from naas_sdn.northbound.attributes import Attr

from .policies import QOS_POLICIES

# what the plugin adds to networks and ports on the API
POLICY_BINDING = Attr(
    "qos_policy_id", lambda r: r.qos_policy_id, True, True, None, a.uuid_or_none, "qos_policy_id"
)


def _binding_table(name: str, bound: str, column: str) -> Table:
    return Table(
        name,
        db.metadata,
        db.reference(column, f"{bound}.id", "CASCADE", primary_key=True),
        db.reference("policy_id", "qos_policies.id", "RESTRICT", index=True),
    )


NETWORK_BINDINGS = _binding_table("qos_network_policy_bindings", "networks", "network_id")
PORT_BINDINGS = _binding_table("qos_port_policy_bindings", "ports", "port_id")


def _bind(
    txn: Transaction,
    ctx: Context,
    table: Table,
    column: str,
    object_id: str,
    policy_id: str | None,
    replace: bool,
) -> str | None:
    """Bind a network or port to a policy the caller can see (None: unbind)."""
    if policy_id is not None:
        policy = txn.current(QOS_POLICIES.collection).get(policy_id)
        if policy is None or not QOS_POLICIES.is_visible(ctx, policy, txn.service):
            raise errors.QosPolicyNotFound(policy_id=policy_id)
    if replace:
        txn.conn.execute(delete(table).where(table.c[column] == object_id))
    if policy_id is not None:
        txn.conn.execute(insert(table).values({column: object_id, "policy_id": policy_id}))
    return policy_id


def _extension(collection: str, table: Table, column: str) -> schema.Extension:
    """``qos_policy_id`` as an attribute of networks or ports, kept in ``table``."""

    def load(conn) -> dict[str, dict]:
        return {
            getattr(row, column): {"qos_policy_id": row.policy_id}
            for row in conn.execute(select(table))
        }

    def on_create(txn, ctx, attrs, record) -> dict:
        policy_id = attrs.get("qos_policy_id")
        return {"qos_policy_id": _bind(txn, ctx, table, column, record.id, policy_id, False)}

    def on_update(txn, ctx, record, attrs, values) -> dict:
        policy_id = attrs.get("qos_policy_id", record.qos_policy_id)
        if policy_id == record.qos_policy_id:
            return {}
        return {"qos_policy_id": _bind(txn, ctx, table, column, record.id, policy_id, True)}

    return schema.extend(
        schema.Extension(
            collection,
            defaults={"qos_policy_id": None},
            load=load,
            on_create=on_create,
            on_update=on_update,
            view=lambda record: {"qos_policy_id": record.qos_policy_id},
        )
    )


NETWORK_POLICY = _extension("networks", NETWORK_BINDINGS, "network_id")
PORT_POLICY = _extension("ports", PORT_BINDINGS, "port_id")
