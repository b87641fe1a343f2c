"""The port side of security groups: port security (anti-spoofing), allowed address pairs
and a port's groups (Neutron's ``port-security``, ``allowed-address-pairs`` and
``security-group`` extensions of networks and ports), kept in tables of their own and added
to networks and ports as their extensions: checked and written on every create and update.
"""

from __future__ import annotations

from collections.abc import Mapping

import netaddr
from sqlalchemy import Boolean, Column, Integer, String, Table, delete, insert, select

from naas_sdn.features.networking import rbac
from naas_sdn.model import db, errors, schema
from naas_sdn.model.common import Context, evolve
from naas_sdn.model.schema import COMPUTED
from naas_sdn.model.store import Transaction
from naas_sdn.northbound import attributes as a
from naas_sdn.northbound.attributes import Attr

from .groups import GROUPS, ensure_default_group

PORT_FIELDS = ("port_security_enabled", "security_groups", "allowed_address_pairs")
MAX_ADDRESS_PAIRS = 10  # Neutron's max_allowed_address_pair default
TRUSTED_OWNER_PREFIX = "network:"  # Neutron's is_port_trusted: no security groups, no filtering
MIXED_STATEFULNESS = (
    "Cannot apply both stateful and stateless security groups on the same port at the same time"
)


def is_trusted(device_owner: str) -> bool:
    """Router interfaces and other network-owned ports get no security groups."""
    return device_owner.startswith(TRUSTED_OWNER_PREFIX)


def enforced_protection(port) -> tuple[bool, tuple, tuple]:
    """(port security on, security groups, allowed address pairs) as the switches enforce
    them: a trusted port has none of them. The API shows exactly these, so what a tenant
    reads is what the compiler receives."""
    if is_trusted(port.device_owner):
        return False, (), ()
    return port.port_security_enabled, port.security_groups, port.allowed_address_pairs


def address_pairs(value, mac: str) -> tuple[tuple[str, str | None], ...]:
    """Neutron's allowed-address-pairs validation: a list of at most MAX_ADDRESS_PAIRS
    {"ip_address", "mac_address"?} without duplicates (a missing mac is the port's own ``mac``).

    Returns (address or normalized cidr, lower-case mac or None) pairs in request order.
    """
    if value is None:
        return ()
    if not isinstance(value, list):
        raise errors.BadRequestMessage(msg="Allowed address pairs must be a list.")
    if len(value) > MAX_ADDRESS_PAIRS:
        raise errors.AllowedAddressPairExhausted(quota=MAX_ADDRESS_PAIRS)
    result, seen = [], set()
    for pair in value:
        if not isinstance(pair, dict):
            raise errors.InvalidAttribute(
                attr="allowed_address_pairs", reason=f"'{pair}' is not a dictionary"
            )
        given_mac = pair.get("mac_address")
        if "mac_address" in pair:
            given_mac = _mac(given_mac)
        if "ip_address" not in pair:
            raise errors.AllowedAddressPairsMissingIP()
        unknown = set(pair) - {"mac_address", "ip_address"}
        if unknown:
            raise errors.BadRequestMessage(
                msg=f"Unrecognized attribute(s) '{', '.join(sorted(unknown))}'"
            )
        ip = _pair_address(pair["ip_address"])
        if (given_mac or mac, ip) in seen:
            raise errors.DuplicateAddressPairInRequest(
                mac_address=given_mac or mac, ip_address=pair["ip_address"]
            )
        seen.add((given_mac or mac, ip))
        result.append((ip, given_mac))
    return tuple(result)


def _mac(value) -> str:
    if not isinstance(value, str) or not netaddr.valid_mac(value):
        raise errors.BadRequestMessage(msg=f"'{value}' is not a valid MAC address")
    return str(netaddr.EUI(value, dialect=netaddr.mac_unix_expanded)).lower()


def _pair_address(value) -> str:
    """An IP address, or a cidr without host bits (Neutron's validate_subnet)."""
    text = value if isinstance(value, str) else ""
    address, slash, length = text.partition("/")
    if not (netaddr.valid_ipv4(address, netaddr.INET_PTON) or netaddr.valid_ipv6(address)) or (
        slash and not length.isdigit()
    ):
        kind = "IP subnet" if slash else "IP address"
        raise errors.BadRequestMessage(msg=f"'{value}' is not a valid {kind}")
    if not slash:
        return str(netaddr.IPAddress(address))
    try:
        net = netaddr.IPNetwork(text)
    except (netaddr.AddrFormatError, ValueError):
        raise errors.BadRequestMessage(msg=f"'{value}' is not a valid IP subnet") from None
    if net.ip != net.network:
        raise errors.BadRequestMessage(
            msg=f"'{value}' isn't a recognized IP subnet cidr, '{net.cidr}' is recommended"
        )
    return str(net.cidr)


# Extension attributes of networks and ports live in tables of their own, as in Neutron, so a
# database from before they existed needs no data migration: a missing row means the default.
NETWORK_PORT_SECURITY = Table(
    "network_port_security",
    db.metadata,
    db.reference("network_id", "networks.id", "CASCADE", primary_key=True),
    Column("port_security_enabled", Boolean, nullable=False),
)

PORT_PORT_SECURITY = Table(
    "port_port_security",
    db.metadata,
    db.reference("port_id", "ports.id", "CASCADE", primary_key=True),
    Column("port_security_enabled", Boolean, nullable=False),
)

ALLOWED_ADDRESS_PAIRS = Table(
    "allowed_address_pairs",
    db.metadata,
    db.reference("port_id", "ports.id", "CASCADE", primary_key=True),
    Column("position", Integer, primary_key=True),  # API order
    Column("ip_address", String(64), nullable=False),  # address or normalized cidr
    Column("mac_address", String(17), nullable=True),  # null: the port's own, whatever it becomes
)

# A port's security groups.
SECURITY_GROUP_PORT_BINDINGS = Table(
    "security_group_port_bindings",
    db.metadata,
    db.reference("port_id", "ports.id", "CASCADE", primary_key=True),
    db.reference(
        "security_group_id", "security_groups.id", "RESTRICT", primary_key=True, index=True
    ),
)


def _port_created(txn: Transaction, ctx: Context, attrs: Mapping, port) -> dict:
    """Give a new port its port security, address pairs and groups (Neutron's rules): port
    security defaults to the network's; a port with it on and no ``security_groups``
    gets its project's default group; router and other ``network:`` ports get none."""
    enabled = attrs.get("port_security_enabled")
    if enabled is None:
        enabled = txn.get("networks", port.network_id).port_security_enabled
    pairs = address_pairs(attrs.get("allowed_address_pairs"), port.mac_address)
    if pairs and not enabled:
        raise errors.AddressPairAndPortSecurityRequired()
    requested = attrs.get("security_groups")
    groups: tuple[str, ...]
    if is_trusted(port.device_owner):
        groups = ()
    elif not enabled:
        if requested:
            raise errors.PortSecurityAndIPRequiredForSecurityGroups()
        groups = ()
    elif requested is None:
        groups = (ensure_default_group(txn, port.project_id),)
    else:
        groups = _port_groups(txn, ctx, port.project_id, requested)
    values = {
        "port_security_enabled": enabled,
        "security_groups": groups,
        "allowed_address_pairs": pairs,
    }
    _write_port_security(txn.conn, evolve(port, **values), True, True, True)
    return values


def _port_updated(txn: Transaction, ctx: Context, port, attrs: Mapping, values: Mapping) -> dict:
    """The port security, address pair and group values an update changes, checked as
    Neutron's ML2 does and written; ``values`` hold the port's new MAC and owner, if they
    change."""
    mac = values.get("mac_address", port.mac_address)
    device_owner = values.get("device_owner", port.device_owner)
    enabled = attrs.get("port_security_enabled")
    if enabled is None:
        enabled = port.port_security_enabled
    pairs = port.allowed_address_pairs
    if "allowed_address_pairs" in attrs:
        pairs = address_pairs(attrs["allowed_address_pairs"], mac)
    groups = port.security_groups
    if is_trusted(device_owner):
        groups = ()
    elif "security_groups" in attrs:
        groups = _port_groups(txn, ctx, port.project_id, attrs["security_groups"] or [])
    if not enabled:
        if pairs:
            raise errors.AddressPairAndPortSecurityRequired()
        if groups and attrs.get("security_groups"):
            raise errors.PortSecurityAndIPRequiredForSecurityGroups()
        if groups:
            raise errors.PortSecurityPortHasSecurityGroup()
    changed = {
        name: value
        for name, value in (
            ("port_security_enabled", enabled),
            ("allowed_address_pairs", pairs),
            ("security_groups", groups),
        )
        if getattr(port, name) != value
    }
    if changed:
        _write_port_security(
            txn.conn,
            evolve(port, **changed),
            insert_enabled="port_security_enabled" in changed,
            insert_groups="security_groups" in changed,
            insert_pairs="allowed_address_pairs" in changed,
            replace=True,
        )
    return changed


def _port_groups(txn: Transaction, ctx: Context, project_id: str, requested) -> tuple[str, ...]:
    """Requested group ids, each the port's project's or shared with it (any project's for
    an admin), all stateful or all stateless (Neutron's ``_validate_sgs_for_port``)."""
    missing, kinds = [], set()
    for group_id in dict.fromkeys(requested):
        group = txn.get(GROUPS, group_id)
        if group is None or not (
            ctx.is_admin
            or group.project_id == project_id
            or rbac.shared_with(txn.service, "security_group", group, project_id)
        ):
            missing.append(group_id)
        else:
            kinds.add(group.stateful)
    if missing:
        raise errors.SecurityGroupNotFound(id=", ".join(missing))
    if len(kinds) > 1:
        raise errors.SecurityGroupConflict(reason=MIXED_STATEFULNESS)
    return tuple(sorted(set(requested)))


def write_network_port_security(conn, network_id: str, enabled: bool, replace: bool) -> None:
    table = NETWORK_PORT_SECURITY
    if replace:
        conn.execute(delete(table).where(table.c.network_id == network_id))
    conn.execute(insert(table).values(network_id=network_id, port_security_enabled=enabled))


def _write_port_security(
    conn, port, insert_enabled: bool, insert_groups: bool, insert_pairs: bool, replace: bool = False
) -> None:
    for wanted, table, rows in (
        (
            insert_enabled,
            PORT_PORT_SECURITY,
            [{"port_id": port.id, "port_security_enabled": port.port_security_enabled}],
        ),
        (
            insert_groups,
            SECURITY_GROUP_PORT_BINDINGS,
            [{"port_id": port.id, "security_group_id": g} for g in port.security_groups],
        ),
        (
            insert_pairs,
            ALLOWED_ADDRESS_PAIRS,
            [
                {"port_id": port.id, "position": i, "ip_address": ip, "mac_address": mac}
                for i, (ip, mac) in enumerate(port.allowed_address_pairs)
            ],
        ),
    ):
        if not wanted:
            continue
        if replace:
            conn.execute(delete(table).where(table.c.port_id == port.id))
        if rows:
            conn.execute(insert(table), rows)


# --------------------------------------------------------------------------------- loading
def _load_networks(conn) -> dict[str, dict]:
    """The networks' port-security defaults, as their extensions' values."""
    return {
        row.network_id: {"port_security_enabled": row.port_security_enabled}
        for row in conn.execute(select(NETWORK_PORT_SECURITY))
    }


def _load_ports(conn) -> dict[str, dict]:
    """The ports' port security, groups and address pairs, as their extensions' values."""
    ports: dict[str, dict] = {}
    for row in conn.execute(select(PORT_PORT_SECURITY)):
        ports.setdefault(row.port_id, {})["port_security_enabled"] = row.port_security_enabled
    bindings = SECURITY_GROUP_PORT_BINDINGS
    for row in conn.execute(select(bindings).order_by(bindings.c.security_group_id)):
        extras = ports.setdefault(row.port_id, {})
        extras["security_groups"] = extras.get("security_groups", ()) + (row.security_group_id,)
    pairs = ALLOWED_ADDRESS_PAIRS
    for row in conn.execute(select(pairs).order_by(pairs.c.port_id, pairs.c.position)):
        extras = ports.setdefault(row.port_id, {})
        extras["allowed_address_pairs"] = extras.get("allowed_address_pairs", ()) + (
            (row.ip_address, row.mac_address),
        )
    return ports


def _port_view(port) -> dict:
    """As the switches enforce them: a trusted port (a router's) has none."""
    enabled, groups, pairs = enforced_protection(port)
    return {
        "port_security_enabled": enabled,
        "security_group_ids": groups,
        "allowed_address_pairs": tuple((ip, mac or port.mac_address) for ip, mac in pairs),
    }


def _network_created(txn, ctx, attrs, net) -> dict:
    enabled = bool(attrs.get("port_security_enabled", True))
    write_network_port_security(txn.conn, net.id, enabled, replace=False)
    return {"port_security_enabled": enabled}


def _network_updated(txn, ctx, net, attrs, values) -> dict:
    """Only the default of the ports created from now on changes."""
    enabled = attrs.get("port_security_enabled", net.port_security_enabled)
    if enabled == net.port_security_enabled:
        return {}
    write_network_port_security(txn.conn, net.id, enabled, replace=True)
    return {"port_security_enabled": enabled}


NETWORK_EXTENSION = schema.extend(
    schema.Extension(
        "networks",
        defaults={"port_security_enabled": True},
        load=_load_networks,
        on_create=_network_created,
        on_update=_network_updated,
    )
)

PORT_EXTENSION = schema.extend(
    schema.Extension(
        "ports",
        defaults={
            "port_security_enabled": True,
            "security_groups": (),
            "allowed_address_pairs": (),
        },
        load=_load_ports,
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
            lambda r: enforced_protection(r)[0],
            True,
            True,
            COMPUTED,
            a.boolean_or_none,
            "port_security_enabled",
            kind="boolean",
        ),
        Attr(
            "security_groups",
            lambda r: list(enforced_protection(r)[1]),
            True,
            True,
            COMPUTED,
            a.uuid_list,
            "security_groups",
            kind="members",  # port-security-groups-filtering: ?security_groups=X
        ),
        Attr(
            "allowed_address_pairs",
            lambda r: [
                {"ip_address": ip, "mac_address": mac or r.mac_address}
                for ip, mac in enforced_protection(r)[2]
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
