"""The pure compiler: (logical model, fabric) -> the flows, groups and meters of every switch.

No I/O and no os-ken objects: the same inputs always give the same output, so it is tested
in milliseconds and the programmer can diff its output against what a switch holds.

Builders, by table (priorities from :class:`~naas_sdn.flows.layout.Priority`):

- ``switch_plumbing``: table misses (drop) in every table; the discovery probe trap in
  CLASSIFY (metered); tree guards in CLASSIFY dropping broadcast that arrives on a fabric
  link off the spanning tree, so a loop in the fabric cannot storm.
- ``network_flows``: for each network with a bound port anywhere, CLASSIFY entries that untag
  its VLAN on every fabric port, and the L2_LOOKUP entry that sends broadcast and multicast
  to the network's flood group (local ports + spanning-tree links, tagged).
- ``port_flows``: for each bound, enabled port, CLASSIFY on its switch (in_port -> network
  key + source port), L2_LOOKUP on every switch that reaches it (MAC -> destination port) and
  OUTPUT (local ofport, or tagged toward the next hop on a shortest path).
"""
from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import netaddr

from naas_sdn.flows import addresses, ofp, policy
from naas_sdn.flows.fabric import FabricSnapshot
from naas_sdn.flows.layout import (
    ETH_TYPE_ARP,
    ETH_TYPE_IPV4,
    ETH_TYPE_IPV6,
    ETH_TYPE_LLDP,
    ICMPV6_NS,
    ICMPV6_RS,
    IPPROTO_ICMPV6,
    IPPROTO_UDP,
    LLDP_NEAREST_BRIDGE,
    MULTICAST_BIT,
    OFPP_IN_PORT,
    OFPVID_PRESENT,
    PACKET_IN_METER,
    REG_DST_PORT,
    REG_ROUTER,
    REG_SRC_PORT,
    Owner,
    Priority,
    Table,
    cookie,
    gateway_mac,
    port_meter,
    router_meter,
)
from naas_sdn.flows.policy import PortPolicy, RuleInputs
from naas_sdn.model.snapshot import (
    ROUTER_INTERFACE,
    ModelSnapshot,
    NetworkView,
    PortView,
    RouterView,
)

ALL_ONES = 0xFFFFFFFFFFFFFFFF
SWITCH_COOKIE = cookie(Owner.SWITCH, 0)


@dataclasses.dataclass(frozen=True)
class Options:
    packet_in_rate: int = 500      # discovery probes a switch may send to the controller, per s
    port_packet_in_rate: int = 20  # DHCP / RS / NS packets one VM may send to the controller, per s


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
class Interface:
    """One address of a router on one subnet: where a network meets a router."""

    router_key: int
    network: NetworkView
    mac: str
    subnet_id: str
    ip: str
    cidr: str

    @property
    def version(self) -> int:
        return 6 if ":" in self.ip else 4


@dataclasses.dataclass(frozen=True)
class RouterInputs:
    """A router with its interfaces and its static routes resolved to next-hop MACs."""

    router: RouterView
    interfaces: tuple
    routes: tuple  # (destination cidr, Interface toward the next hop, next-hop MAC)


def router_interfaces(model: ModelSnapshot) -> list[Interface]:
    """Addresses of enabled routers on enabled networks, from their interface ports."""
    found = []
    for port in model.ports.values():
        if port.device_owner != ROUTER_INTERFACE:
            continue
        router = model.routers.get(port.device_id)
        network = model.networks.get(port.network_id)
        if router is None or network is None or not router.admin_state_up \
                or not network.admin_state_up:
            continue
        for subnet_id, ip in port.fixed_ips:
            subnet = model.subnets.get(subnet_id)
            if subnet is not None:
                found.append(Interface(router.key, network, port.mac_address, subnet_id, ip,
                                       subnet.cidr))
    found.sort(key=lambda i: (i.router_key, i.subnet_id, i.ip))
    return found


def router_inputs(model: ModelSnapshot, interfaces: list[Interface]) -> list[RouterInputs]:
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
                owner_of_ip = {(sid, str(netaddr.IPAddress(ip))): p.mac_address
                               for p in model.ports.values() for sid, ip in p.fixed_ips}
            mac = owner_of_ip.get((toward[0].subnet_id, str(netaddr.IPAddress(nexthop))))
            if mac is not None:  # a next hop nobody holds: nothing to route to
                routes.append((destination, toward[0], mac))
        if mine:
            result.append(RouterInputs(router, mine, tuple(sorted(
                routes, key=lambda r: (r[0], r[1].ip)))))
    return result


def _subnets_by_network(model: ModelSnapshot) -> dict[str, tuple]:
    by_network: dict[str, list] = {}
    for subnet in model.subnets.values():
        by_network.setdefault(subnet.network_id, []).append(subnet)
    return {n: tuple(sorted(subs, key=lambda s: s.id)) for n, subs in by_network.items()}


@dataclasses.dataclass
class PolicyContext:
    """What every port's policy is resolved against, built once per pass."""

    rules: dict      # rule key -> RuleInputs (only rules that can match)
    by_group: dict   # group id -> ((direction, rule key, clauses), ...)
    blocks: dict     # network id -> ProtocolBlockViews, by key


def policy_context(model: ModelSnapshot) -> PolicyContext:
    members: dict[tuple, set] = {}
    if any(r.remote_group_id for g in model.security_groups.values() for r in g.rules):
        for port in model.ports.values():
            for group_id in port.security_group_ids:
                for _, ip in port.fixed_ips:
                    members.setdefault((group_id, 6 if ":" in ip else 4), set()).add(ip)
                for cidr, _ in port.allowed_address_pairs:
                    net = netaddr.IPNetwork(cidr)
                    members.setdefault((group_id, net.version), set()).add(
                        str(net.ip) if net.size == 1 else str(net.cidr))
    prefixes = {k: tuple(sorted(v)) for k, v in members.items()}
    rules, by_group = {}, {}
    for group in model.security_groups.values():
        mine = []
        for rule in group.rules:
            remote = policy.remote_prefixes(rule, prefixes)
            if remote is False:
                continue
            inputs = RuleInputs(rule, remote)
            rules[rule.key] = inputs
            mine.append((rule.direction, rule.key, inputs.clauses))
        by_group[group.id] = tuple(mine)
    blocks: dict[str, list] = {}
    for block in model.protocol_blocks.values():
        blocks.setdefault(block.network_id, []).append(block)
    return PolicyContext(rules, by_group,
                         {n: tuple(sorted(bs, key=lambda b: b.key)) for n, bs in blocks.items()})


def port_policy(model: ModelSnapshot, context: PolicyContext, port: PortView,
                network: NetworkView) -> PortPolicy:
    qos = model.qos_policies.get(port.qos_policy_id or network.qos_policy_id or "")
    blocks = context.blocks.get(network.id, ())
    fixed = sorted({ip for _, ip in port.fixed_ips})
    if not port.port_security_enabled:
        return PortPolicy(False, blocks=blocks, qos=qos,
                          addresses=tuple((None, ip) for ip in fixed))
    allowed = {(port.mac_address, ip) for _, ip in port.fixed_ips}
    allowed |= {(mac, cidr) for cidr, mac in port.allowed_address_pairs}
    # With no address yet, the port's MAC alone: for what comes before one (DHCP, DAD).
    macs = tuple(sorted({mac for mac, _ in allowed} or {port.mac_address}))
    rules: dict[str, set[tuple[int, int]]] = {"egress": set(), "ingress": set()}
    for group_id in port.security_group_ids:
        for direction, key, clauses in context.by_group.get(group_id, ()):
            rules[direction].add((key, clauses))
    return PortPolicy(True, macs, tuple(sorted(allowed)), tuple(sorted(rules["egress"])),
                      tuple(sorted(rules["ingress"])), blocks, qos,
                      tuple((port.mac_address, ip) for ip in fixed))


def bound_ports(model: ModelSnapshot, fabric: FabricSnapshot,
                interfaces: list[Interface] | None = None,
                context: PolicyContext | None = None) -> list[BoundPort]:
    """Ports that carry traffic: plugged, enabled, on an enabled network."""
    result = []
    subnets = _subnets_by_network(model)
    context = context or policy_context(model)
    routers: dict[str, list] = {}
    for interface in router_interfaces(model) if interfaces is None else interfaces:
        routers.setdefault(interface.network.id, []).append(interface)
    for port in model.ports.values():
        if port.device_owner == ROUTER_INTERFACE:
            continue  # a router's port is everywhere (distributed), never a VIF
        location = fabric.vifs.get(port.id)
        network = model.networks.get(port.network_id)
        if (location is None or network is None or location.ofport <= 0
                or not port.admin_state_up or not network.admin_state_up):
            continue
        result.append(BoundPort(port, network, location.dpid, location.ofport,
                                subnets.get(network.id, ()), tuple(routers.get(network.id, ())),
                                port_policy(model, context, port, network)))
    result.sort(key=lambda b: b.port.key)
    return result


def compile_fabric(model: ModelSnapshot, fabric: FabricSnapshot,
                   options: Options = Options()) -> dict[int, ofp.SwitchState]:
    """Desired state of every connected switch."""
    bound, routers, rules = compile_inputs(model, fabric)
    return {dpid: compile_switch(dpid, bound, fabric, options, routers, rules)
            for dpid in fabric.switches}


def compile_inputs(model: ModelSnapshot, fabric: FabricSnapshot):
    """What every switch's compilation shares in one pass: bound ports, routers (from one
    walk over the router interfaces) and security group rules (rule key -> RuleInputs)."""
    interfaces = router_interfaces(model)
    context = policy_context(model)
    return (bound_ports(model, fabric, interfaces, context), router_inputs(model, interfaces),
            context.rules)


def compile_switch(dpid: int, bound: list[BoundPort], fabric: FabricSnapshot,
                   options: Options, routers: Sequence[RouterInputs] = (),
                   rules: dict | None = None) -> ofp.SwitchState:
    """Flows grouped by owner. Each owner's flows are memoized on exactly the inputs they
    depend on, so an unchanged owner yields the very same frozenset object on every pass.
    A port, router, network or security group rule whose flows cannot be built is left
    out and named in the state's ``failed``, instead of failing the whole switch."""
    topology = fabric.topology
    parts = {SWITCH_COOKIE: switch_plumbing(dpid, topology)}
    failed = {}  # one object's flows that cannot be built are no reason to fail the switch
    groups = set()
    local: dict[int, tuple[NetworkView, list[int], set[str], tuple]] = {}  # by network key
    meters = {ofp.Meter(PACKET_IN_METER, options.packet_in_rate,
                      max(1, options.packet_in_rate // 5))}
    local_rules: set[int] = set()
    for b in bound:
        try:
            flows = port_flows(dpid, b, topology)
            parts.update(port_parts(dpid, b, topology))
        except Exception as error:
            failed[cookie(Owner.PORT, b.port.key)] = _failure(error)
            continue
        network, members, claimed, subnets = local.setdefault(
            b.network.key, (b.network, [], set(), b.subnets))
        claimed.update(ip for _, ip in b.port.fixed_ips)
        if b.dpid == dpid:
            members.append(b.ofport)
            if any(f.table == Table.SERVICES and f.instructions[0][0] == "meter"
                   for f in flows):
                meters.add(ofp.Meter(port_meter(b.port.key), options.port_packet_in_rate,
                                     max(1, options.port_packet_in_rate * 2)))
            meters |= policy.qos_meters(b.port.key, b.policy.qos)
            local_rules.update(key for key, _ in b.policy.egress + b.policy.ingress)
    if local_rules and rules:
        parts[policy.ACL_COOKIE] = _acl_flows(
            tuple(rules[key] for key in sorted(local_rules) if key in rules), failed)
    # Per network: tenants may use the same addresses on different networks.
    held_by_routers = {(i.network.key, i.ip) for r in routers for i in r.interfaces}
    for inputs in routers:
        owner = cookie(Owner.ROUTER, inputs.router.key)
        try:
            parts[owner] = router_flows(inputs)
        except Exception as error:
            failed[owner] = _failure(error)
            continue
        meters.add(ofp.Meter(router_meter(inputs.router.key), options.port_packet_in_rate * 5,
                             max(1, options.port_packet_in_rate * 10)))
    for network, ofports, claimed, subnets in local.values():
        owner = cookie(Owner.NETWORK, network.key)
        gateways = tuple(sorted(s.gateway_ip for s in subnets if s.ip_version == 4
                                and s.gateway_ip and s.gateway_ip not in claimed
                                and (network.key, s.gateway_ip) not in held_by_routers))
        try:
            flows, group = network_flows(dpid, network, tuple(ofports), topology, gateways)
        except Exception as error:
            failed[owner] = _failure(error)
            continue
        parts[owner] = flows
        if group is not None:
            groups.add(group)
    return ofp.SwitchState(parts, frozenset(groups), frozenset(meters), failed)


def _failure(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"


def _acl_flows(rules: tuple, failed: dict) -> frozenset[ofp.Flow]:
    """The switch's shared security group clauses; should they not build, those of every
    rule that builds alone (a rule that does not is named by ``cookie(Owner.ACL, rule
    key)`` in ``failed``, and its conjunction never completes: it admits nothing)."""
    try:
        return policy.acl_flows(rules)
    except Exception:
        buildable = []
        for inputs in rules:
            try:
                policy.acl_flows((inputs,))
                buildable.append(inputs)
            except Exception as error:
                failed[cookie(Owner.ACL, inputs.rule.key)] = _failure(error)
        return policy.acl_flows(tuple(buildable))


@functools.lru_cache(maxsize=1024)
def switch_plumbing(dpid: int, topology) -> frozenset[ofp.Flow]:
    passing = {Table.SERVICES: (Priority.SERVICE_PASS, Table.EGRESS_POLICY),
               Table.EGRESS_QOS: (Priority.QOS_PASS, Table.L3_GATEWAY),
               Table.L3_GATEWAY: (Priority.GATEWAY_PASS, Table.L2_LOOKUP)}
    policies = policy.policy_plumbing()
    flows = {ofp.flow(table, Priority.TABLE_MISS, ofp.match(), (), SWITCH_COOKIE)
             for table in Table if table not in passing
             and table not in (Table.EGRESS_POLICY, Table.INGRESS_POLICY)}
    flows |= {ofp.flow(table, priority, ofp.match(), (ofp.goto(then),), SWITCH_COOKIE)
              for table, (priority, then) in passing.items()}
    flows |= policies
    flows.add(ofp.flow(Table.CLASSIFY, Priority.CLASSIFY_DISCOVERY,
                       ofp.match(eth_type=ETH_TYPE_LLDP, eth_dst=LLDP_NEAREST_BRIDGE),
                       (ofp.meter(PACKET_IN_METER), ofp.apply(ofp.to_controller())),
                       SWITCH_COOKIE))
    for port in topology.fabric_ports(dpid) - topology.tree_ports(dpid):
        flows.add(ofp.flow(Table.CLASSIFY, Priority.CLASSIFY_TREE_GUARD,
                           ofp.match(in_port=port, eth_dst=MULTICAST_BIT), (), SWITCH_COOKIE))
    return frozenset(flows)


def _tagged_output(network: NetworkView, port: int) -> tuple:
    return (ofp.push_vlan(), ofp.set_field("vlan_vid", OFPVID_PRESENT | network.key),
            ofp.output(port))


@functools.lru_cache(maxsize=16384)
def network_flows(dpid: int, network: NetworkView, local_ofports: tuple, topology,
                  gateways: tuple = ()):
    """Fabric untagging, flooding and gateway ARP answers of one network on one switch
    (local_ofports: its ports plugged into this switch; gateways: IPv4 subnet gateways that
    no port holds)."""
    owner = cookie(Owner.NETWORK, network.key)
    gw_mac = gateway_mac(network.key)
    answers = {arp_answer(network, ip, gw_mac, owner) for ip in gateways}
    flows = {ofp.flow(Table.CLASSIFY, Priority.CLASSIFY_FABRIC,
                      ofp.match(in_port=port, vlan_vid=OFPVID_PRESENT | network.key),
                      (ofp.apply(ofp.pop_vlan()), ofp.write_metadata(network.key, ALL_ONES),
                       ofp.goto(Table.L2_LOOKUP)), owner)
             for port in topology.fabric_ports(dpid)}
    buckets = [(ofp.output(port),) for port in local_ofports]
    buckets += [_tagged_output(network, port) for port in sorted(topology.tree_ports(dpid))]
    flows |= answers
    if not buckets:
        return frozenset(flows), None
    flows.add(ofp.flow(Table.L2_LOOKUP, Priority.L2_FLOOD,
                       ofp.match(metadata=network.key, eth_dst=MULTICAST_BIT),
                       (ofp.apply(ofp.group(network.key)),), owner))
    return frozenset(flows), ofp.Group(network.key, tuple(buckets), owner)


@functools.lru_cache(maxsize=65536)
def port_parts(dpid: int, bound: BoundPort, topology) -> tuple:
    """The port's flows on one switch by owner: the port's, and its counted ones (the
    switch is asked for the statistics of those alone)."""
    by_owner: dict[int, set] = {}
    for f in port_flows(dpid, bound, topology):
        by_owner.setdefault(f.cookie, set()).add(f)
    return tuple((owner, frozenset(flows)) for owner, flows in sorted(by_owner.items()))


@functools.lru_cache(maxsize=65536)
def port_flows(dpid: int, bound: BoundPort, topology) -> frozenset[ofp.Flow]:
    """Classification, lookup and output of one port, as seen from one switch."""
    port, network = bound.port, bound.network
    owner = cookie(Owner.PORT, port.key)
    local = bound.dpid == dpid
    if local:
        out = (policy.ingress_meter(port.key, bound.policy.qos)
               + (ofp.apply(ofp.output(bound.ofport)),))
    else:
        hop = topology.next_hop_port(dpid, bound.dpid)
        if hop is None:
            return frozenset()  # unreachable from here: nothing to install
        out = (ofp.apply(*_tagged_output(network, hop)),)
    flows = {
        ofp.flow(Table.L2_LOOKUP, Priority.L2_UNICAST,
                 ofp.match(metadata=network.key, eth_dst=port.mac_address),
                 (ofp.apply(ofp.set_field(REG_DST_PORT, port.key)),
                  ofp.goto(Table.INGRESS_POLICY)), owner),
        ofp.flow(Table.OUTPUT, Priority.OUTPUT_PORT, ofp.match(**{REG_DST_PORT: port.key}),
                 out, owner),
    }
    if local:
        # What is delivered to each fixed address, on a flow of its own: counted per address.
        counted = cookie(Owner.COUNTER, port.key)
        flows |= {ofp.flow(Table.OUTPUT, Priority.OUTPUT_ADDRESS,
                           policy.address_match(netaddr.IPAddress(ip).version, "dst", ip,
                                                **{REG_DST_PORT: port.key}), out, counted)
                  for _, ip in bound.policy.addresses}
        # Untagged frames only: a VM's own VLAN tags would otherwise ride inside ours.
        flows.add(ofp.flow(Table.CLASSIFY, Priority.CLASSIFY_VIF,
                           ofp.match(in_port=bound.ofport, vlan_vid=0),
                           (ofp.apply(ofp.set_field(REG_SRC_PORT, port.key)),
                            ofp.write_metadata(network.key, ALL_ONES),
                            ofp.goto(Table.PORT_SECURITY)), owner))
        flows |= punt_flows(bound, owner)
        flows |= policy.port_policy_flows(port.key, bound.policy)
    flows |= address_flows(bound, owner)
    flows |= routed_host_flows(bound, owner)
    return frozenset(flows)


def _ip_fields(ip: str) -> dict:
    if ":" in ip:
        return dict(eth_type=ETH_TYPE_IPV6, ipv6_dst=ip)
    return dict(eth_type=ETH_TYPE_IPV4, ipv4_dst=ip)


def _route_actions(interface: Interface, dst_mac: str) -> tuple:
    """Leave the router on ``interface``: TTL-1, router MAC as source, into its network."""
    return (ofp.apply(ofp.dec_ttl(), ofp.set_field("eth_src", interface.mac),
                      ofp.set_field("eth_dst", dst_mac)),
            ofp.write_metadata(interface.network.key, ALL_ONES), ofp.goto(Table.L2_LOOKUP))


def routed_host_flows(bound: BoundPort, owner: int) -> set[ofp.Flow]:
    """For every router on one of the port's subnets, the route to each of its addresses
    (the router resolves next hops at compile time: every address and MAC is known)."""
    flows = set()
    for subnet_id, ip in bound.port.fixed_ips:
        for interface in bound.routers:
            if interface.subnet_id != subnet_id:
                continue
            bits = 128 if ":" in ip else 32
            flows.add(ofp.flow(Table.ROUTING, Priority.ROUTE_LPM + 2 * bits + 1,
                               ofp.match(**{REG_ROUTER: interface.router_key}, **_ip_fields(ip)),
                               _route_actions(interface, bound.port.mac_address), owner))
    return flows


@functools.lru_cache(maxsize=4096)
def router_flows(inputs: RouterInputs) -> frozenset[ofp.Flow]:
    """A router, the same on every switch (distributed routing): its gateway entries, ARP
    answers for its addresses, TTL expiry and echo to the controller, static routes."""
    key = inputs.router.key
    owner = cookie(Owner.ROUTER, key)
    on_router = {REG_ROUTER: key}
    punt = (ofp.meter(router_meter(key)), ofp.apply(ofp.to_controller()))
    flows = set()
    for interface in inputs.interfaces:
        flows.add(ofp.flow(Table.L3_GATEWAY, Priority.GATEWAY_ROUTER,
                           ofp.match(metadata=interface.network.key, eth_dst=interface.mac),
                           (ofp.apply(ofp.set_field(REG_ROUTER, key)), ofp.goto(Table.ROUTING)),
                           owner))
        if interface.version == 4:
            flows.add(arp_answer(interface.network, interface.ip, interface.mac, owner))
        fields = _ip_fields(interface.ip)
        echo = dict(ip_proto=1, icmpv4_type=8) if interface.version == 4 else \
            dict(ip_proto=IPPROTO_ICMPV6, icmpv6_type=128)
        flows.add(ofp.flow(Table.ROUTING, Priority.ROUTE_SELF_ICMP,
                           ofp.match(**on_router, **fields, **echo), punt, owner))
        flows.add(ofp.flow(Table.ROUTING, Priority.ROUTE_SELF_DROP,
                           ofp.match(**on_router, **fields), (), owner))
    for version in {i.version for i in inputs.interfaces}:
        eth_type = ETH_TYPE_IPV6 if version == 6 else ETH_TYPE_IPV4
        flows.add(ofp.flow(Table.ROUTING, Priority.ROUTE_TTL,
                           ofp.match(**on_router, eth_type=eth_type, nw_ttl=1), punt, owner))
        flows.add(ofp.flow(Table.ROUTING, Priority.ROUTE_TTL,
                           ofp.match(**on_router, eth_type=eth_type, nw_ttl=0), (), owner))
    for destination, interface, mac in inputs.routes:
        net = netaddr.IPNetwork(destination)
        field = "ipv6_dst" if net.version == 6 else "ipv4_dst"
        flows.add(ofp.flow(Table.ROUTING, Priority.ROUTE_LPM + 2 * net.prefixlen,
                           ofp.match(**on_router, eth_type=ETH_TYPE_IPV6 if net.version == 6
                                     else ETH_TYPE_IPV4, **ofp.prefix_match(field, destination)),
                           _route_actions(interface, mac), owner))
    return frozenset(flows)


def arp_answer(network: NetworkView, ip: str, mac: str, owner: int) -> ofp.Flow:
    """Turn an ARP request for ``ip`` into the reply from ``mac``, back out the asking port."""
    return ofp.flow(
        Table.SERVICES, Priority.SERVICE_ANSWER,
        ofp.match(metadata=network.key, eth_type=ETH_TYPE_ARP, arp_op=1, arp_tpa=ip),
        (ofp.apply(ofp.move("eth_src", "eth_dst", 48), ofp.set_field("eth_src", mac),
                   ofp.set_field("arp_op", 2), ofp.move("arp_sha", "arp_tha", 48),
                   ofp.set_field("arp_sha", mac), ofp.move("arp_spa", "arp_tpa", 32),
                   ofp.set_field("arp_spa", ip), ofp.output(OFPP_IN_PORT)),), owner)


def address_flows(bound: BoundPort, owner: int) -> set[ofp.Flow]:
    """ARP answered for the port's IPv4 addresses; neighbour solicitations for its IPv6
    addresses (link-local included) steered to the port alone instead of flooded. A port
    asking about its own address (duplicate address detection) gets no answer from us."""
    port, network = bound.port, bound.network
    flows = set()
    v4 = [ip for _, ip in port.fixed_ips if ":" not in ip]
    v6 = [ip for _, ip in port.fixed_ips if ":" in ip] + [addresses.link_local(port.mac_address)]
    for ip in v4:
        flows.add(arp_answer(network, ip, port.mac_address, owner))
        flows.add(ofp.flow(Table.SERVICES, Priority.SERVICE_SELF,
                           ofp.match(metadata=network.key, eth_type=ETH_TYPE_ARP, arp_op=1,
                                     arp_tpa=ip, **{REG_SRC_PORT: port.key}),
                           (ofp.goto(Table.L2_LOOKUP),), owner))
    for ip in v6:
        flows.add(ofp.flow(Table.SERVICES, Priority.SERVICE_ANSWER,
                           ofp.match(metadata=network.key, eth_type=ETH_TYPE_IPV6,
                                     ip_proto=IPPROTO_ICMPV6, icmpv6_type=ICMPV6_NS,
                                     ipv6_nd_target=ip),
                           (ofp.apply(ofp.set_field("eth_dst", port.mac_address)),
                            ofp.goto(Table.L2_LOOKUP)), owner))
    return flows


def punt_flows(bound: BoundPort, owner: int) -> set[ofp.Flow]:
    """What the controller answers for this port, behind the port's own meter: DHCPv4,
    DHCPv6, router solicitations and neighbour solicitations for subnet gateways."""
    port = bound.port
    by_id = {s.id: s for s in bound.subnets}
    mine = [by_id[sid] for sid, _ in port.fixed_ips if sid in by_id]
    punts = []
    if any(s.ip_version == 4 and s.enable_dhcp for s in mine):
        punts.append(dict(eth_type=ETH_TYPE_IPV4, ip_proto=IPPROTO_UDP, udp_src=68, udp_dst=67))
    if any(s.ip_version == 6 and s.enable_dhcp
           and s.ipv6_address_mode in ("dhcpv6-stateful", "dhcpv6-stateless") for s in mine):
        punts.append(dict(eth_type=ETH_TYPE_IPV6, ip_proto=IPPROTO_UDP, udp_src=546, udp_dst=547))
    v6_subnets = [s for s in bound.subnets if s.ip_version == 6]
    if any(s.ipv6_ra_mode for s in v6_subnets):
        punts.append(dict(eth_type=ETH_TYPE_IPV6, ip_proto=IPPROTO_ICMPV6,
                          icmpv6_type=ICMPV6_RS))
    gateways = {s.gateway_ip for s in v6_subnets if s.gateway_ip}
    if gateways or any(s.ipv6_ra_mode for s in v6_subnets):
        gateways.add(addresses.link_local(gateway_mac(bound.network.key)))
    for interface in bound.routers:
        if interface.version == 6:
            gateways |= {interface.ip, addresses.link_local(interface.mac)}
    punts.extend(dict(eth_type=ETH_TYPE_IPV6, ip_proto=IPPROTO_ICMPV6,
                      icmpv6_type=ICMPV6_NS, ipv6_nd_target=ip) for ip in sorted(gateways))
    return {ofp.flow(Table.SERVICES, Priority.SERVICE_ANSWER,
                     ofp.match(**{REG_SRC_PORT: port.key}, **fields),
                     (ofp.meter(port_meter(port.key)), ofp.apply(ofp.to_controller())), owner)
            for fields in punts}
