"""Immutable view of the logical model handed to the flow compiler.

The service publishes a new snapshot after every committed change; the compiler and the
programmer never touch SQL, so they read a consistent model without locks.
"""
from __future__ import annotations

import dataclasses
from types import MappingProxyType
from typing import Mapping


@dataclasses.dataclass(frozen=True)
class NetworkView:
    """What the dataplane needs of a network."""

    id: str
    project_id: str
    key: int  # segmentation id: VLAN on fabric links and the pipeline's network key (1..4094)
    admin_state_up: bool


@dataclasses.dataclass(frozen=True)
class SubnetView:
    """What the dataplane (DHCP, RA, ARP/ND, routing) needs of a subnet."""

    id: str
    network_id: str
    project_id: str
    ip_version: int                   # 4 or 6
    cidr: str                         # normalized, e.g. "10.0.0.0/24", "2001:db8::/64"
    gateway_ip: str | None
    enable_dhcp: bool
    dns_nameservers: tuple[str, ...] = ()
    host_routes: tuple[tuple[str, str], ...] = ()  # (destination cidr, nexthop ip)
    ipv6_ra_mode: str | None = None       # None, "slaac", "dhcpv6-stateful", "dhcpv6-stateless"
    ipv6_address_mode: str | None = None  # same choices
    mtu: int = 1500                       # the network's MTU, handed to VMs by DHCP and RA


@dataclasses.dataclass(frozen=True)
class PortView:
    """What the dataplane needs of a port."""

    id: str
    network_id: str
    project_id: str
    key: int  # unique, stable integer naming the port in registers and cookies
    mac_address: str  # lower case, colon separated
    admin_state_up: bool
    fixed_ips: tuple[tuple[str, str], ...] = ()  # (subnet id, ip address), API order
    device_owner: str = ""
    device_id: str = ""  # for a router interface (device_owner network:router_interface): the router


@dataclasses.dataclass(frozen=True)
class RouterView:
    """What the dataplane needs of a router: it routes between the subnets of its interface
    ports (the ports whose device_id is the router) and along its static routes."""

    id: str
    project_id: str
    key: int  # unique, stable integer naming the router in cookies
    admin_state_up: bool
    routes: tuple[tuple[str, str], ...] = ()  # (destination cidr, nexthop ip)


@dataclasses.dataclass(frozen=True)
class ModelSnapshot:
    """A consistent copy of every network and port, as of one committed revision."""

    networks: Mapping[str, NetworkView]
    ports: Mapping[str, PortView]
    revision: int = 0
    subnets: Mapping[str, SubnetView] = dataclasses.field(
        default_factory=lambda: MappingProxyType({}))
    routers: Mapping[str, RouterView] = dataclasses.field(
        default_factory=lambda: MappingProxyType({}))

    @classmethod
    def build(cls, networks, ports, revision=0, subnets=(), routers=()):
        return cls(
            networks=MappingProxyType({n.id: n for n in networks}),
            ports=MappingProxyType({p.id: p for p in ports}),
            revision=revision,
            subnets=MappingProxyType({s.id: s for s in subnets}),
            routers=MappingProxyType({r.id: r for r in routers}),
        )

    def subnets_of(self, network_id: str):
        return [s for s in self.subnets.values() if s.network_id == network_id]

    def ports_of(self, network_id: str):
        return [p for p in self.ports.values() if p.network_id == network_id]


ROUTER_INTERFACE = "network:router_interface"

EMPTY = ModelSnapshot.build([], [])
