"""Immutable view of the logical model handed to the flow compiler.

The service publishes a new snapshot after every committed change; the compiler and the
programmer never touch SQL, so they read a consistent model without locks.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from types import MappingProxyType


@dataclasses.dataclass(frozen=True)
class NetworkView:
    """What the dataplane needs of a network."""

    id: str
    project_id: str
    key: int  # segmentation id: VLAN on fabric links and the pipeline's network key (1..4094)
    admin_state_up: bool
    qos_policy_id: str | None = None  # applies to the network's ports that have none of their own
    # a provider network's physical network (where it leaves the fabric: its localnet port)
    # and its VLAN there (None: untagged, a flat network)
    physical_network: str | None = None
    physical_segment: int | None = None


@dataclasses.dataclass(frozen=True)
class SubnetView:
    """What the dataplane (DHCP, RA, ARP/ND, routing) needs of a subnet."""

    id: str
    network_id: str
    project_id: str
    ip_version: int  # 4 or 6
    cidr: str  # normalized, e.g. "10.0.0.0/24", "2001:db8::/64"
    gateway_ip: str | None
    enable_dhcp: bool
    dns_nameservers: tuple[str, ...] = ()
    host_routes: tuple[tuple[str, str], ...] = ()  # (destination cidr, nexthop ip)
    ipv6_ra_mode: str | None = None  # None, "slaac", "dhcpv6-stateful", "dhcpv6-stateless"
    ipv6_address_mode: str | None = None  # same choices
    mtu: int = 1500  # the network's MTU, handed to VMs by DHCP and RA


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
    device_id: str = ""  # the router, for a router interface (network:router_interface)
    port_security_enabled: bool = True  # anti-spoofing and security groups enforced
    security_group_ids: tuple[str, ...] = ()  # sorted; empty with port security on: deny all IP
    # (ip address or normalized cidr, mac lower case): extra sources the port may send from;
    # the mac is the port's own when the API request named none.
    allowed_address_pairs: tuple[tuple[str, str], ...] = ()
    qos_policy_id: str | None = None  # the port's own policy; None: the network's applies


@dataclasses.dataclass(frozen=True)
class RouterView:
    """What the dataplane needs of a router: it routes between the subnets of its interface
    ports (the ports whose device_id is the router) and along its static routes."""

    id: str
    project_id: str
    key: int  # unique, stable integer naming the router in cookies
    admin_state_up: bool
    routes: tuple[tuple[str, str], ...] = ()  # (destination cidr, nexthop ip)
    # its gateway port on an external network (device_owner network:router_gateway, device_id
    # the router), None without a gateway; whether what leaves by it takes its address (SNAT)
    gw_port_id: str | None = None
    enable_snat: bool = True


@dataclasses.dataclass(frozen=True)
class FloatingIpView:
    """A floating IP: ``floating_ip_address`` on the external network, held by a port of its
    own (device_owner network:floatingip, device_id the floating IP), translated 1:1 to the
    associated port's ``fixed_ip_address`` by ``router_id``, the router whose gateway is on
    that network and which has an interface on the fixed address's subnet."""

    id: str
    project_id: str
    floating_network_id: str
    floating_ip_address: str
    port_id: str | None = None
    fixed_ip_address: str | None = None
    router_id: str | None = None


@dataclasses.dataclass(frozen=True)
class SecurityGroupRuleView:
    """One allow rule. Protocols are IANA numbers whatever the API was given ("tcp" -> 6,
    "icmp" on IPv6 -> 58, "any" -> None); for ICMP the port range holds type (min) and code
    (max)."""

    id: str
    key: int  # unique, stable, never reused (1..2**32-1): the rule's conjunction id
    security_group_id: str
    direction: str  # "ingress" (to the port) or "egress" (from the port)
    ethertype: str  # "IPv4" or "IPv6"
    protocol: int | None = None
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None  # normalized cidr
    remote_group_id: str | None = None  # the other end is any address of that group's ports


@dataclasses.dataclass(frozen=True)
class SecurityGroupView:
    id: str
    project_id: str
    rules: tuple[SecurityGroupRuleView, ...] = ()  # sorted by key
    # False: its rules judge each packet alone, without conntrack (Neutron's stateless group)
    stateful: bool = True


@dataclasses.dataclass(frozen=True)
class RemoteTunnelView:
    """A network extended to a tenant's remote site: the tunnel the controller keeps on the
    terminating bridge, whose iface-id is the connection's port."""

    id: str
    port_id: str
    network_id: str
    remote_ip: str
    tunnel_type: str  # "vxlan" or "gre"
    udp_port: int | None  # vxlan's destination port
    segmentation_id: int  # the VNI or GRE key on the tunnel
    remote_macs: tuple[str, ...] = ()  # MACs known to sit at the remote site


@dataclasses.dataclass(frozen=True)
class ProtocolBlockView:
    """Traffic of one protocol barred from and to every port of a network (protocol-blocks
    extension)."""

    id: str
    key: int  # unique, stable, never reused
    network_id: str
    protocol: int  # IANA number (icmp on IPv6 is compiled as 58)
    ethertype: str | None = None  # "IPv4", "IPv6" or None for both
    port_range_min: int | None = None  # destination ports (tcp, udp, sctp)
    port_range_max: int | None = None


@dataclasses.dataclass(frozen=True)
class QosPolicyView:
    id: str
    project_id: str
    # (direction "ingress" | "egress", max_kbps, max_burst_kbps); at most one per direction.
    # egress: traffic the VM sends; ingress: traffic it receives (Neutron's meaning).
    bandwidth_limits: tuple[tuple[str, int, int], ...] = ()
    dscp_mark: int | None = None  # set on IPv4/IPv6 packets the VM sends


@dataclasses.dataclass(frozen=True)
class ModelSnapshot:
    """A consistent copy of every network and port, as of one committed revision."""

    networks: Mapping[str, NetworkView]
    ports: Mapping[str, PortView]
    revision: int = 0
    subnets: Mapping[str, SubnetView] = dataclasses.field(
        default_factory=lambda: MappingProxyType({})
    )
    routers: Mapping[str, RouterView] = dataclasses.field(
        default_factory=lambda: MappingProxyType({})
    )
    security_groups: Mapping[str, SecurityGroupView] = dataclasses.field(
        default_factory=lambda: MappingProxyType({})
    )
    protocol_blocks: Mapping[str, ProtocolBlockView] = dataclasses.field(
        default_factory=lambda: MappingProxyType({})
    )
    qos_policies: Mapping[str, QosPolicyView] = dataclasses.field(
        default_factory=lambda: MappingProxyType({})
    )
    # the core compiler's own (not plugins' records in ``extra``, which every switch's
    # shared scope reads): a floating IP's change costs its router alone
    floatingips: Mapping[str, FloatingIpView] = dataclasses.field(
        default_factory=lambda: MappingProxyType({})
    )
    # collection -> id -> view, for declared resources with no field above (plugins' own)
    extra: Mapping[str, Mapping] = dataclasses.field(default_factory=lambda: MappingProxyType({}))

    def views(self, collection: str) -> Mapping:
        """The views of one collection, whether it has a field of its own or not."""
        if collection in _NAMED:
            return getattr(self, collection)
        return self.extra.get(collection, MappingProxyType({}))

    @classmethod
    def build(
        cls,
        networks,
        ports,
        revision=0,
        subnets=(),
        routers=(),
        security_groups=(),
        protocol_blocks=(),
        qos_policies=(),
    ):
        return cls(
            networks=MappingProxyType({n.id: n for n in networks}),
            ports=MappingProxyType({p.id: p for p in ports}),
            revision=revision,
            subnets=MappingProxyType({s.id: s for s in subnets}),
            routers=MappingProxyType({r.id: r for r in routers}),
            security_groups=MappingProxyType({g.id: g for g in security_groups}),
            protocol_blocks=MappingProxyType({b.id: b for b in protocol_blocks}),
            qos_policies=MappingProxyType({q.id: q for q in qos_policies}),
        )

    def subnets_of(self, network_id: str):
        return [s for s in self.subnets.values() if s.network_id == network_id]

    def ports_of(self, network_id: str):
        return [p for p in self.ports.values() if p.network_id == network_id]


_NAMED = frozenset(f.name for f in dataclasses.fields(ModelSnapshot)) - {"revision", "extra"}

ROUTER_INTERFACE = "network:router_interface"
ROUTER_GATEWAY = "network:router_gateway"  # a router's port on an external network
FLOATINGIP = "network:floatingip"  # holds a floating IP's address on the external network
L2_REMOTE_GATEWAY = "network:l2_remote_gateway"  # the port of a remote site's bridge device
LOCALNET = "network:localnet"  # where a provider network meets its physical network
_LOCALNET_IDS = uuid.UUID("6f1c2a52-9a41-4f3e-9e3b-6c0c2d1f5b7e")


def localnet_port_id(network_id: str) -> str:
    """The id of a provider network's localnet port: derived from the network's, so the
    compiler finds it without a walk through the ports."""
    return str(uuid.uuid5(_LOCALNET_IDS, network_id))


EMPTY = ModelSnapshot.build([], [])
