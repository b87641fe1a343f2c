"""What the router slice's modules share: its 400, a router's ports as a transaction sees
them (its interfaces and its gateway port), the floating IPs served through it, and Neutron's
check of extra routes against the subnets a router is on.

A router's interfaces are the ports whose device_owner is ``network:router_interface`` and
whose device_id is the router; its gateway port is the one its ``gw_port_id`` names
(``network:router_gateway``, of no project, on an external network).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import netaddr

from naas_sdn.features.networking import addresses
from naas_sdn.model import derived, errors, ipam
from naas_sdn.model.snapshot import ROUTER_GATEWAY, ROUTER_INTERFACE
from naas_sdn.model.store import Transaction

FLOATINGIPS = "floatingips"


def router_bad(msg: str) -> errors.PluginBadRequest:
    return errors.PluginBadRequest(resource="router", msg=msg)


# routers' interface ports by router, and by network
_INTERFACES = derived.Grouped(
    "ports", keys=lambda p: (p.device_id,) if p.device_owner == ROUTER_INTERFACE else ()
)


def interfaces_of(service, router_id: str) -> list:
    """The router's interface ports as committed (no visibility check: internal use)."""
    return list(_INTERFACES.under(service, router_id).values())


_INTERFACES_ON = derived.Grouped(
    "ports", keys=lambda p: (p.network_id,) if p.device_owner == ROUTER_INTERFACE else ()
)


def interfaces_in(txn: Transaction, router_id: str) -> list:
    """The router's interface ports as the transaction sees them."""
    return list(_INTERFACES.in_transaction(txn, router_id).values())


def interfaces_on(txn: Transaction, network_id: str) -> list:
    """The routers' interface ports on a network, as the transaction sees them."""
    return list(_INTERFACES_ON.in_transaction(txn, network_id).values())


def gateway_port(txn: Transaction, router) -> Any:
    """The router's gateway port as the transaction sees it (None: no gateway)."""
    return txn.get("ports", router.gw_port_id) if router.gw_port_id else None


# the floating IPs associated through each router, with each port, and of each network
_FIPS_VIA = derived.Grouped(FLOATINGIPS, keys=lambda f: (f.router_id,) if f.router_id else ())
_FIPS_ON = derived.Grouped(FLOATINGIPS, keys=lambda f: (f.port_id,) if f.port_id else ())
_FIPS_OF = derived.Grouped(FLOATINGIPS, keys=lambda f: (f.floating_network_id,))
# the routers' gateway ports on each network
_GATEWAYS = derived.Grouped(
    "ports", keys=lambda p: (p.network_id,) if p.device_owner == ROUTER_GATEWAY else ()
)


def floatingips_via(txn: Transaction, router_id: str) -> list:
    """The floating IPs associated through the router (its ``router_id``)."""
    return list(_FIPS_VIA.in_transaction(txn, router_id).values())


def floatingips_with(txn: Transaction, port_id: str) -> list:
    """The floating IPs associated with the port."""
    return list(_FIPS_ON.in_transaction(txn, port_id).values())


def floatingips_of(txn: Transaction, network_id: str) -> list:
    """The floating IPs whose address is on the (external) network."""
    return list(_FIPS_OF.in_transaction(txn, network_id).values())


def gateway_ports_on(txn: Transaction, network_id: str) -> list:
    """The routers' gateway ports on a network, as the transaction sees them."""
    found = []
    for port in _GATEWAYS.in_transaction(txn, network_id).values():
        router = txn.get("routers", port.device_id)
        if router is not None and router.gw_port_id == port.id:
            found.append(port)
    return found


def validate_routes(routes, normalized, cidrs: Iterable[str], ips: Iterable[str]) -> None:
    """Neutron's extraroute nexthop check: every nexthop inside one of ``cidrs`` (the subnets
    the router is on) and none of the router's own addresses ``ips``. ``routes`` as the
    request gave them (the error shows them), ``normalized`` as (destination, nexthop)."""
    shown = [
        dict(r) if isinstance(r, Mapping) else {"destination": r[0], "nexthop": r[1]}
        for r in routes
    ]
    cidrs, ips = list(cidrs), set(ips)
    for _destination, nexthop in normalized:
        if not netaddr.all_matching_cidrs(netaddr.IPAddress(nexthop), cidrs):
            raise errors.InvalidRoutes(
                routes=shown, reason="the nexthop is not connected with router"
            )
        if nexthop in ips:
            raise errors.InvalidRoutes(routes=shown, reason="the nexthop is used by router")


def check_dup_subnets(txn: Transaction, router_ports, new_subnets) -> None:
    """Neutron's _check_for_dup_router_subnets: no two ports of a router on one subnet, and
    no overlap between the new subnets and those the router is on (a gateway is on every
    subnet of its external network)."""
    new_ids = {s.id for s in new_subnets}
    router_subnets = []
    for port in router_ports:
        for subnet_id, _ip in port.fixed_ips:
            if subnet_id in new_ids:
                raise router_bad(f"Router already has a port on subnet {subnet_id}")
            if port.device_owner != ROUTER_GATEWAY:
                router_subnets.append(txn.get("subnets", subnet_id))
        if port.device_owner == ROUTER_GATEWAY and port.fixed_ips:
            router_subnets.extend(addresses.network_subnets(txn, port.network_id))
    for sub in router_subnets:
        for new in new_subnets:
            if ipam.cidrs_overlap(sub.cidr, new.cidr):
                raise router_bad(
                    f"Cidr {new.cidr} of subnet {new.id} overlaps with cidr "
                    f"{sub.cidr} of subnet {sub.id}"
                )


def fixed_ips_change(port, values: Mapping) -> bool:
    """An update names other fixed IPs than the port's, in the order it has them."""
    fixed_ips = values.get("fixed_ips")
    return fixed_ips is not None and [
        (
            e.get("subnet_id"),
            ipam.normalize_ip(e["ip_address"]) if "ip_address" in e else None,
        )
        for e in fixed_ips
    ] != list(port.fixed_ips)
