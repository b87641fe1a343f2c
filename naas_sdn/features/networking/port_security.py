"""Port security, allowed address pairs and security groups as attributes of networks and
ports (Neutron's ``port-security``, ``allowed-address-pairs`` and ``security-group``
extensions of the core resources): kept in tables of their own, checked and written by the
security rules (:mod:`naas_sdn.model.security`) on every create and update.
"""

from __future__ import annotations

from naas_sdn.model import schema, security
from naas_sdn.model.schema import COMPUTED
from naas_sdn.northbound import attributes as a
from naas_sdn.northbound.attributes import Attr

PORT_FIELDS = ("port_security_enabled", "security_groups", "allowed_address_pairs")


def _port_created(txn, ctx, attrs, port) -> dict:
    network = txn.get("networks", port.network_id)
    new = txn.service._port_security_on_create(txn.conn, txn.changes, ctx, attrs, port, network)
    return {name: getattr(new, name) for name in PORT_FIELDS}


def _port_updated(txn, ctx, port, attrs, values) -> dict:
    return txn.service._port_security_on_update(
        txn.conn,
        txn.changes,
        ctx,
        port,
        attrs,
        values.get("mac_address", port.mac_address),
        values.get("device_owner", port.device_owner),
    )


def _port_view(port) -> dict:
    """As the switches enforce them: a trusted port (a router's) has none."""
    enabled, groups, pairs = security.enforced_protection(port)
    return {
        "port_security_enabled": enabled,
        "security_group_ids": groups,
        "allowed_address_pairs": tuple((ip, mac or port.mac_address) for ip, mac in pairs),
    }


def _network_created(txn, ctx, attrs, net) -> dict:
    enabled = bool(attrs.get("port_security_enabled", True))
    security.write_network_port_security(txn.conn, net.id, enabled, replace=False)
    return {"port_security_enabled": enabled}


def _network_updated(txn, ctx, net, attrs, values) -> dict:
    """Only the default of the ports created from now on changes."""
    enabled = attrs.get("port_security_enabled", net.port_security_enabled)
    if enabled == net.port_security_enabled:
        return {}
    security.write_network_port_security(txn.conn, net.id, enabled, replace=True)
    return {"port_security_enabled": enabled}


NETWORK_PORT_SECURITY = schema.extend(
    schema.Extension(
        "networks",
        defaults={"port_security_enabled": True},
        load=lambda conn: security.load_port_security(conn)[0],
        on_create=_network_created,
        on_update=_network_updated,
    )
)

PORT_SECURITY = schema.extend(
    schema.Extension(
        "ports",
        defaults={
            "port_security_enabled": True,
            "security_groups": (),
            "allowed_address_pairs": (),
        },
        load=lambda conn: security.load_port_security(conn)[1],
        on_create=_port_created,
        on_update=_port_updated,
        view=_port_view,
    )
)

# On the API, shown as the switches enforce them (the model validates the values).
ATTRIBUTES = {
    "networks": (
        Attr(
            "port_security_enabled",
            lambda r: r.port_security_enabled,
            True,
            True,
            True,
            a.boolean,
            "port_security_enabled",
            kind="boolean",
        ),
    ),
    "ports": (
        Attr(
            "port_security_enabled",
            lambda r: security.enforced_protection(r)[0],
            True,
            True,
            COMPUTED,
            a.boolean_or_none,
            "port_security_enabled",
            kind="boolean",
        ),
        Attr(
            "security_groups",
            lambda r: list(security.enforced_protection(r)[1]),
            True,
            True,
            COMPUTED,
            a.uuid_list,
            "security_groups",
            kind="other",
        ),
        Attr(
            "allowed_address_pairs",
            lambda r: [
                {"ip_address": ip, "mac_address": mac or r.mac_address}
                for ip, mac in security.enforced_protection(r)[2]
            ],
            True,
            True,
            COMPUTED,
            None,
            "allowed_address_pairs",
            kind="other",
        ),
    ),
}
