"""What the flow builders read, derived once per pass from the model and the fabric.

Each derivation is written once and shared: the builders of every switch read the same bound
ports, router inputs and security group rules, and the packet services answer from the same
router interfaces the compiler routes with. All values are frozen and hashable, so a builder
memoized on them returns the very same objects while they do not change.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Container, Mapping
from types import MappingProxyType
from typing import Literal

import netaddr

from naas_sdn.flows.fabric import FabricSnapshot
from naas_sdn.flows.layout import REMOTE_BUCKETS, remote_bucket
from naas_sdn.model.snapshot import (
    LOCALNET,
    ROUTER_GATEWAY,
    ROUTER_INTERFACE,
    ModelSnapshot,
    NetworkView,
    PortView,
    QosPolicyView,
    RouterView,
    SecurityGroupRuleView,
    localnet_port_id,
)


@dataclasses.dataclass(frozen=True)
class Interface:
    """One address of a router on one subnet: where a network meets a router."""

    router_key: int
    network: NetworkView
    mac: str
    subnet_id: str
    ip: str
    cidr: str
    router_id: str
    holds_gateway: bool = False  # its address is its subnet's gateway

    @property
    def version(self) -> int:
        return 6 if ":" in self.ip else 4


@dataclasses.dataclass(frozen=True)
class Gateway:
    """A router's way out: its gateway port's IPv4 address on an external (provider) network,
    the switch where that network leaves the fabric (its localnet port's: the exit, where
    the router's NAT lives), the router beyond it (the external subnet's gateway, its MAC as
    the controller learned it by ARP) and what it translates there."""

    network: NetworkView
    mac: str
    ip: str
    nexthop_mac: str | None  # the external subnet gateway's; None until resolved: no route
    exit_dpid: int | None  # None while no uplink leads to the physical network
    localnet_key: int | None
    snat: bool
    inside: tuple = ()  # IPv4 cidrs of the router's interfaces: what SNAT translates
    floating: tuple = ()  # (floating ip, fixed ip), sorted


@dataclasses.dataclass(frozen=True)
class RouterInputs:
    """A router with its interfaces and its static routes resolved to next-hop MACs."""

    router: RouterView
    interfaces: tuple
    routes: tuple  # (destination cidr, Interface toward the next hop, next-hop MAC)
    gateway: Gateway | None = None

    @functools.cached_property
    def network_keys(self) -> frozenset:
        """The networks it joins: its interfaces' and its gateway's."""
        keys = {i.network.key for i in self.interfaces}
        if self.gateway is not None:
            keys.add(self.gateway.network.key)
        return frozenset(keys)


@dataclasses.dataclass(frozen=True)
class Remote:
    """The other end of a rule, as prefixes in buckets (:func:`layout.remote_bucket`): when a
    remote group gains or loses a member, one bucket changes, and so do only its flows."""

    buckets: tuple  # REMOTE_BUCKETS frozensets of normalized addresses or prefixes

    @classmethod
    def of(cls, prefixes) -> Remote:
        buckets: list = [set() for _ in range(REMOTE_BUCKETS)]
        for prefix in prefixes:
            buckets[remote_bucket(prefix)].add(prefix)
        return cls(tuple(frozenset(b) if b else _NONE for b in buckets))

    def with_bucket(self, bucket: int, prefixes: frozenset) -> Remote:
        buckets = list(self.buckets)
        buckets[bucket] = prefixes or _NONE
        return Remote(tuple(buckets))

    def __iter__(self):
        return iter(sorted(p for b in self.buckets for p in b))

    def __bool__(self) -> bool:
        return any(self.buckets)


_NONE: frozenset = frozenset()


@dataclasses.dataclass(frozen=True)
class RuleInputs:
    """A security group rule with its remote end resolved to prefixes (None: anywhere), and
    whether its group is stateful (what it admits is committed to conntrack)."""

    rule: SecurityGroupRuleView
    remote: Remote | None
    stateful: bool = True

    @property
    def clauses(self) -> int:
        return 2 if self.remote is None else 3


@dataclasses.dataclass(frozen=True)
class PortPolicy:
    """Everything the policy stages need of one port."""

    port_security: bool = False
    macs: tuple = ()  # MACs the port may send from, with or without an address
    allowed: tuple = ()  # (mac, ip or cidr) the port may send from
    egress: tuple = ()  # (rule key, clauses) of the egress rules of its groups
    ingress: tuple = ()  # same, ingress
    blocks: tuple = ()  # ProtocolBlockViews of its network
    qos: QosPolicyView | None = None
    addresses: tuple = ()  # (MAC or None without port security, fixed IP): counted
    stateful: bool = True  # False: its groups are stateless, its packets never tracked


@dataclasses.dataclass(frozen=True)
class BoundPort:
    port: PortView
    network: NetworkView
    dpid: int
    ofport: int
    subnets: tuple = ()  # SubnetViews of the port's network, by id
    routers: tuple = ()  # Interfaces of routers on the port's network
    policy: PortPolicy = PortPolicy()


@dataclasses.dataclass(frozen=True)
class LocalNetwork:
    """A network as one switch sees it: the ofports of its ports plugged there, the IPv4
    subnet gateways no bound port and no router holds (answered for by the network), the
    fabric ports its broadcasts leave by (the spanning tree's links toward its other ports),
    the underlay addresses of the switches with its ports that only a tunnel reaches, and
    those its frames may arrive from in a tunnel."""

    network: NetworkView
    ofports: tuple  # (ofport, VLAN to tag with or None) of its ports here (:func:`delivery`)
    gateways: tuple
    flood: tuple = ()
    tunnels: tuple = ()
    sources: tuple = ()
    # a remote site or a physical network is bridged in: unknown unicast floods
    floods_unknown: bool = False
    remote_macs: tuple = ()  # (MAC, port key) of hosts known to sit behind a remote site


@dataclasses.dataclass(frozen=True)
class PassInputs:
    """What the ports of every switch of one pass share: security group rules and plugins'
    records. Routers are not in it: a builder sees them in ``add_router`` and
    ``add_gateway``, so a router's change costs its own scopes, not every switch's ports'."""

    rules: dict | None = None  # rule key -> RuleInputs (only rules that can match)
    # collection -> id -> view: the records of plugins' declared resources (snapshot.extra)
    extra: Mapping = dataclasses.field(default_factory=lambda: MappingProxyType({}))


def delivery(bound: BoundPort) -> tuple[int, int | None]:
    """(ofport, VLAN or None) a frame of the port's network leaves by toward a port on its
    own switch: a vlan provider network's localnet port takes the network's VLAN there."""
    if bound.port.device_owner == LOCALNET:
        return bound.ofport, bound.network.physical_segment
    return bound.ofport, None


class _Uplinked:
    """The last fabric given its localnet ports, kept: a pass that changes neither the
    fabric nor where localnet ports are reuses the same snapshot (whose VIFs the incremental
    compiler compares by identity first)."""

    def __init__(self):
        self.made: tuple = (None, None, None, None)


_UPLINKED = _Uplinked()


def with_uplinks(fabric: FabricSnapshot, model: ModelSnapshot) -> FabricSnapshot:
    """``fabric`` with every provider network's localnet port bound where the network's
    physical network leaves the fabric: the first interface leading to it (the lowest
    switch, then ofport), so that one point only joins the two and no loop forms through the
    physical network. A network whose physical network no interface leads to stays apart."""
    if not fabric.uplinks:
        return fabric
    seen_fabric, seen_networks, seen_localnets, made = _UPLINKED.made
    if seen_fabric is fabric and seen_networks is model.networks:
        return made  # a port's change, say: the networks' walk below is not repeated
    localnets = {}
    for network in model.networks.values():
        places = fabric.uplinks.get(network.physical_network or "")
        if places:
            localnets[localnet_port_id(network.id)] = places[0]
    if seen_fabric is not fabric or seen_localnets != localnets:
        made = dataclasses.replace(fabric, vifs=MappingProxyType({**fabric.vifs, **localnets}))
    _UPLINKED.made = (fabric, model.networks, localnets, made)
    return made


def port_interfaces(model: ModelSnapshot, port: PortView | None) -> tuple[Interface, ...]:
    """The addresses of an enabled router on an existing network, from its interface port."""
    if port is None or port.device_owner != ROUTER_INTERFACE:
        return ()
    router = model.routers.get(port.device_id)
    network = model.networks.get(port.network_id)
    if router is None or network is None or not router.admin_state_up:
        return ()
    return tuple(
        Interface(
            router.key,
            network,
            port.mac_address,
            subnet_id,
            ip,
            subnet.cidr,
            router.id,
            subnet.gateway_ip == ip,
        )
        for subnet_id, ip in port.fixed_ips
        if (subnet := model.subnets.get(subnet_id)) is not None
    )


def router_interfaces(model: ModelSnapshot) -> list[Interface]:
    """Addresses of enabled routers, from their interface ports, in the model's port order.
    The compiler routes only those on enabled networks; the packet services answer for all."""
    return [i for port in model.ports.values() for i in port_interfaces(model, port)]


def routed_interfaces(model: ModelSnapshot) -> list[Interface]:
    """The router interfaces the compiler routes with: on enabled networks, sorted."""
    found = [i for i in router_interfaces(model) if i.network.admin_state_up]
    found.sort(key=lambda i: (i.router_key, i.subnet_id, i.ip))
    return found


def floating_by_router(model: ModelSnapshot) -> dict[str, dict[str, tuple]]:
    """Router id -> floating IP id -> (floating ip, fixed ip) of the associated ones."""
    found: dict[str, dict[str, tuple]] = {}
    for fip in model.floatingips.values():
        if fip.router_id and fip.port_id and fip.fixed_ip_address:
            found.setdefault(fip.router_id, {})[fip.id] = (
                fip.floating_ip_address,
                fip.fixed_ip_address,
            )
    return found


def gateway_of(
    model: ModelSnapshot,
    fabric: FabricSnapshot,
    router: RouterView,
    interfaces: tuple,
    floating: Mapping[str, tuple] | None,
) -> Gateway | None:
    """The router's way out, leaving the fabric at the first uplink to its external
    network's physical network (where :func:`with_uplinks` binds the localnet port); None
    without a gateway port holding an IPv4 address on an enabled network."""
    port = model.ports.get(router.gw_port_id or "")
    if port is None or port.device_owner != ROUTER_GATEWAY or not router.admin_state_up:
        return None
    network = model.networks.get(port.network_id)
    if network is None or not network.admin_state_up:
        return None
    found = next(
        (
            (subnet, ip)
            for subnet_id, ip in port.fixed_ips
            if (subnet := model.subnets.get(subnet_id)) is not None and subnet.ip_version == 4
        ),
        None,
    )
    if found is None:
        return None
    subnet, ip = found
    localnet = model.ports.get(localnet_port_id(network.id))
    places = fabric.uplinks.get(network.physical_network or "")
    exit_at = places[0] if places else None  # where with_uplinks binds the localnet port
    nexthop = subnet.gateway_ip
    return Gateway(
        network,
        port.mac_address,
        ip,
        fabric.neighbours.get((network.id, nexthop)) if nexthop else None,
        exit_at.dpid if exit_at is not None and localnet is not None else None,
        localnet.key if localnet is not None else None,
        router.enable_snat,
        tuple(sorted({i.cidr for i in interfaces if i.version == 4})),
        tuple(sorted((floating or {}).values())),
    )


def router_inputs(
    model: ModelSnapshot, interfaces: list[Interface], fabric: FabricSnapshot | None = None
) -> list[RouterInputs]:
    floating = floating_by_router(model)
    fabric = fabric or FabricSnapshot()
    by_router: dict[int, list] = {}
    for interface in interfaces:
        by_router.setdefault(interface.router_key, []).append(interface)
    owner_of_ip = None
    result = []
    for router in sorted(model.routers.values(), key=lambda r: r.key):
        mine = tuple(by_router.get(router.key, ()))
        routes = []
        for destination, nexthop in router.routes:
            toward = [i for i in mine if netaddr.IPAddress(nexthop) in netaddr.IPNetwork(i.cidr)]
            if not toward:
                continue
            if owner_of_ip is None:
                owner_of_ip = {
                    (sid, str(netaddr.IPAddress(ip))): p.mac_address
                    for p in model.ports.values()
                    for sid, ip in p.fixed_ips
                }
            mac = owner_of_ip.get((toward[0].subnet_id, str(netaddr.IPAddress(nexthop))))
            if mac is not None:  # a next hop nobody holds: nothing to route to
                routes.append((destination, toward[0], mac))
        gateway = gateway_of(model, fabric, router, mine, floating.get(router.id))
        if mine or gateway:
            result.append(
                RouterInputs(
                    router, mine, tuple(sorted(routes, key=lambda r: (r[0], r[1].ip))), gateway
                )
            )
    return result


def _subnets_by_network(model: ModelSnapshot) -> dict[str, tuple]:
    by_network: dict[str, list] = {}
    for subnet in model.subnets.values():
        by_network.setdefault(subnet.network_id, []).append(subnet)
    return {n: tuple(sorted(subs, key=lambda s: s.id)) for n, subs in by_network.items()}


def remote_prefixes(
    rule: SecurityGroupRuleView, remotes: Mapping
) -> Remote | Literal[False] | None:
    """The rule's remote end as prefixes: None for anywhere, False when nothing can match
    (a remote group with no address of the rule's version). ``remotes``: (group id, IP
    version) -> the group's members' addresses, a Remote."""
    version = 4 if rule.ethertype == "IPv4" else 6
    if rule.remote_group_id is not None:
        return remotes.get((rule.remote_group_id, version)) or False
    if rule.remote_ip_prefix is None or netaddr.IPNetwork(rule.remote_ip_prefix).prefixlen == 0:
        return None
    return Remote.of((rule.remote_ip_prefix,))


@dataclasses.dataclass
class PolicyContext:
    """What every port's policy is resolved against, built once per pass."""

    rules: dict  # rule key -> RuleInputs (only rules that can match)
    by_group: dict  # group id -> ((direction, rule key, clauses), ...)
    blocks: dict  # network id -> ProtocolBlockViews, by key
    stateless: Container = frozenset()  # ids of the stateless groups


def carries_traffic(port: PortView, location, network: NetworkView | None) -> bool:
    """Whether a port carries traffic: plugged (``location``, a VifLocation or None),
    enabled, on an enabled network. A router's port is everywhere (distributed), never a
    VIF; its gateway port is where the router's NAT is (:class:`Gateway`)."""
    return (
        port.device_owner not in (ROUTER_INTERFACE, ROUTER_GATEWAY)
        and location is not None
        and location.ofport > 0
        and port.admin_state_up
        and network is not None
        and network.admin_state_up
    )


def live_ports(model: ModelSnapshot, fabric: FabricSnapshot) -> list[PortView]:
    """Ports that carry traffic (:func:`carries_traffic`)."""
    return [
        port
        for port in model.ports.values()
        if carries_traffic(port, fabric.vifs.get(port.id), model.networks.get(port.network_id))
    ]


def policy_context(model: ModelSnapshot, live: list[PortView]) -> PolicyContext:
    """Rules resolved against their remote groups' members: the addresses of the group's
    ports that carry traffic (``live``). A port that is not plugged sends nothing, so its
    address admits nothing either: a port created or deleted unplugged costs no flow."""
    members: dict[tuple, set] = {}
    if any(r.remote_group_id for g in model.security_groups.values() for r in g.rules):
        for port in live:
            for group_id in port.security_group_ids:
                for _, ip in port.fixed_ips:
                    members.setdefault((group_id, 6 if ":" in ip else 4), set()).add(ip)
                for cidr, _ in port.allowed_address_pairs:
                    net = netaddr.IPNetwork(cidr)
                    members.setdefault((group_id, net.version), set()).add(
                        str(net.ip) if net.size == 1 else str(net.cidr)
                    )
    prefixes = {k: Remote.of(v) for k, v in members.items()}
    rules: dict[int, RuleInputs] = {}
    by_group = {}
    for group in model.security_groups.values():
        mine = []
        for rule in group.rules:
            remote = remote_prefixes(rule, prefixes)
            if remote is False:
                continue
            inputs = RuleInputs(rule, remote, group.stateful)
            rules[rule.key] = inputs
            mine.append((rule.direction, rule.key, inputs.clauses))
        by_group[group.id] = tuple(mine)
    blocks: dict[str, list] = {}
    for block in model.protocol_blocks.values():
        blocks.setdefault(block.network_id, []).append(block)
    return PolicyContext(
        rules,
        by_group,
        {n: tuple(sorted(bs, key=lambda b: b.key)) for n, bs in blocks.items()},
        {g.id for g in model.security_groups.values() if not g.stateful},
    )


def is_stateful(port: PortView, context: PolicyContext) -> bool:
    """Whether the port's packets go through conntrack: unless every one of its groups is
    stateless (Neutron refuses a port a mix of both; with no group, it admits no IP)."""
    groups = port.security_group_ids
    return not groups or any(g not in context.stateless for g in groups)


def port_policy(
    model: ModelSnapshot, context: PolicyContext, port: PortView, network: NetworkView
) -> PortPolicy:
    qos = model.qos_policies.get(port.qos_policy_id or network.qos_policy_id or "")
    blocks = context.blocks.get(network.id, ())
    fixed = sorted({ip for _, ip in port.fixed_ips})
    if not port.port_security_enabled:
        return PortPolicy(
            False, blocks=blocks, qos=qos, addresses=tuple((None, ip) for ip in fixed)
        )
    allowed = {(port.mac_address, ip) for _, ip in port.fixed_ips}
    allowed |= {(mac, cidr) for cidr, mac in port.allowed_address_pairs}
    # With no address yet, the port's MAC alone: for what comes before one (DHCP, DAD).
    macs = tuple(sorted({mac for mac, _ in allowed} or {port.mac_address}))
    rules: dict[str, set] = {"egress": set(), "ingress": set()}
    for group_id in port.security_group_ids:
        for direction, key, clauses in context.by_group.get(group_id, ()):
            rules[direction].add((key, clauses))
    return PortPolicy(
        True,
        macs,
        tuple(sorted(allowed)),
        tuple(sorted(rules["egress"])),
        tuple(sorted(rules["ingress"])),
        blocks,
        qos,
        tuple((port.mac_address, ip) for ip in fixed),
        stateful=is_stateful(port, context),
    )


def bound_ports(
    model: ModelSnapshot,
    fabric: FabricSnapshot,
    interfaces: list[Interface] | None = None,
    context: PolicyContext | None = None,
) -> list[BoundPort]:
    """Ports that carry traffic: plugged, enabled, on an enabled network."""
    result = []
    subnets = _subnets_by_network(model)
    context = context or policy_context(model, live_ports(model, fabric))
    routers: dict[str, list] = {}
    for interface in routed_interfaces(model) if interfaces is None else interfaces:
        routers.setdefault(interface.network.id, []).append(interface)
    for port in model.ports.values():
        location = fabric.vifs.get(port.id)
        network = model.networks.get(port.network_id)
        if location is None or network is None or not carries_traffic(port, location, network):
            continue
        result.append(
            BoundPort(
                port,
                network,
                location.dpid,
                location.ofport,
                subnets.get(network.id, ()),
                tuple(routers.get(network.id, ())),
                port_policy(model, context, port, network),
            )
        )
    result.sort(key=lambda b: b.port.key)
    return result


def unheld_gateways(
    network: NetworkView, subnets: tuple, claimed: Container, held_by_routers: Container
) -> tuple:
    """IPv4 subnet gateways of ``network`` that no bound port claims and no router holds: a
    provider network's are the physical network's routers, which answer for themselves."""
    if network.physical_network is not None:
        return ()
    return tuple(
        sorted(
            s.gateway_ip
            for s in subnets
            if s.ip_version == 4
            and s.gateway_ip
            and s.gateway_ip not in claimed
            and (network.key, s.gateway_ip) not in held_by_routers
        )
    )
