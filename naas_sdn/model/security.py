"""Port security and allowed address pairs (Neutron's core extensions ``port-security`` and
``allowed-address-pairs``), and the security groups of ports; the groups and their rules are a
slice of their own (:mod:`naas_sdn.features.security`).

A mixin of the network service: every method runs under the service's write lock, in its one
transaction, and reads the committed mirror overlaid with the transaction's own changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import netaddr
from sqlalchemy import delete, insert, select

from naas_sdn.features.security import groups
from naas_sdn.features.security.groups import GROUPS
from naas_sdn.model import db, errors
from naas_sdn.model.common import Changes, Context, current, evolve
from naas_sdn.model.store import Transaction

MAX_ADDRESS_PAIRS = 10  # Neutron's max_allowed_address_pair default
TRUSTED_OWNER_PREFIX = "network:"  # Neutron's is_port_trusted: no security groups, no filtering


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


class PortSecurityMixin:
    """The port attributes that name security groups; the groups themselves are declared
    resources (:mod:`naas_sdn.features.security.groups`)."""

    # NetworkService's, of which this mixin is a part
    records: Callable[[str], Mapping[str, Any]]

    def _default_group_id(self, changes: Changes, project_id: str) -> str | None:
        return groups.default_group_id(Transaction(None, changes, self).current(GROUPS), project_id)

    def _ensure_default_group(self, conn, changes: Changes, project_id: str) -> str:
        """The project's default group, created (Neutron's four rules) if it has none."""
        return groups.ensure_default_group(Transaction(conn, changes, self), project_id)

    # ------------------------------------------------------------------- port and network side
    def _port_security_on_create(
        self, conn, changes: Changes, ctx: Context, attrs: Mapping, port, network
    ):
        """Give a new port its port security, address pairs and groups (Neutron's rules): port
        security defaults to the network's; a port with it on and no ``security_groups``
        gets its project's default group; router and other ``network:`` ports get none."""
        enabled = attrs.get("port_security_enabled")
        if enabled is None:
            enabled = network.port_security_enabled
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
            groups = (self._ensure_default_group(conn, changes, port.project_id),)
        else:
            groups = self._port_groups(ctx, changes, port.project_id, requested)
        port = evolve(
            port, port_security_enabled=enabled, security_groups=groups, allowed_address_pairs=pairs
        )
        _write_port_security(conn, port, insert_enabled=True, insert_groups=True, insert_pairs=True)
        return port

    def _port_security_on_update(
        self,
        conn,
        changes: Changes,
        ctx: Context,
        port,
        attrs: Mapping,
        mac: str,
        device_owner: str,
    ) -> dict:
        """The port security, address pair and group values an update changes, checked as
        Neutron's ML2 does and written; ``mac`` and ``device_owner`` are the port's new ones."""
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
            groups = self._port_groups(
                ctx, changes, port.project_id, attrs["security_groups"] or []
            )
        if not enabled:
            if pairs:
                raise errors.AddressPairAndPortSecurityRequired()
            if groups and attrs.get("security_groups"):
                raise errors.PortSecurityAndIPRequiredForSecurityGroups()
            if groups:
                raise errors.PortSecurityPortHasSecurityGroup()
        values = {
            name: value
            for name, value in (
                ("port_security_enabled", enabled),
                ("allowed_address_pairs", pairs),
                ("security_groups", groups),
            )
            if getattr(port, name) != value
        }
        if values:
            _write_port_security(
                conn,
                evolve(port, **values),
                insert_enabled="port_security_enabled" in values,
                insert_groups="security_groups" in values,
                insert_pairs="allowed_address_pairs" in values,
                replace=True,
            )
        return values

    def _port_groups(
        self, ctx: Context, changes: Changes, project_id: str, requested
    ) -> tuple[str, ...]:
        """Requested group ids, each the port's project's (any project for an admin)."""
        missing = []
        for group_id in dict.fromkeys(requested):
            group = current(self.records(GROUPS), changes.of(GROUPS), group_id)
            if group is None or not (ctx.is_admin or group.project_id == project_id):
                missing.append(group_id)
        if missing:
            raise errors.SecurityGroupNotFound(id=", ".join(missing))
        return tuple(sorted(set(requested)))


def write_network_port_security(conn, network_id: str, enabled: bool, replace: bool) -> None:
    table = db.network_port_security
    if replace:
        conn.execute(delete(table).where(table.c.network_id == network_id))
    conn.execute(insert(table).values(network_id=network_id, port_security_enabled=enabled))


def _write_port_security(
    conn, port, insert_enabled: bool, insert_groups: bool, insert_pairs: bool, replace: bool = False
) -> None:
    for wanted, table, rows in (
        (
            insert_enabled,
            db.port_port_security,
            [{"port_id": port.id, "port_security_enabled": port.port_security_enabled}],
        ),
        (
            insert_groups,
            db.security_group_port_bindings,
            [{"port_id": port.id, "security_group_id": g} for g in port.security_groups],
        ),
        (
            insert_pairs,
            db.allowed_address_pairs,
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
def load_port_security(conn) -> tuple[dict[str, dict], dict[str, dict]]:
    """The port-security attributes of networks and of ports, as dataclass field values."""
    networks = {
        row.network_id: {"port_security_enabled": row.port_security_enabled}
        for row in conn.execute(select(db.network_port_security))
    }
    ports: dict[str, dict] = {}
    for row in conn.execute(select(db.port_port_security)):
        ports.setdefault(row.port_id, {})["port_security_enabled"] = row.port_security_enabled
    bindings = db.security_group_port_bindings
    for row in conn.execute(select(bindings).order_by(bindings.c.security_group_id)):
        extras = ports.setdefault(row.port_id, {})
        extras["security_groups"] = extras.get("security_groups", ()) + (row.security_group_id,)
    pairs = db.allowed_address_pairs
    for row in conn.execute(select(pairs).order_by(pairs.c.port_id, pairs.c.position)):
        extras = ports.setdefault(row.port_id, {})
        extras["allowed_address_pairs"] = extras.get("allowed_address_pairs", ()) + (
            (row.ip_address, row.mac_address),
        )
    return networks, ports
