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

from naas_sdn.flows import ofp
from naas_sdn.flows.fabric import FabricSnapshot
from naas_sdn.flows.layout import (ETH_TYPE_ARP, ETH_TYPE_IPV4, ETH_TYPE_IPV6, ETH_TYPE_LLDP,
                                   ICMPV6_NS, ICMPV6_RS, IPPROTO_ICMPV6, IPPROTO_UDP,
                                   LLDP_NEAREST_BRIDGE, MULTICAST_BIT, OFPP_IN_PORT,
                                   OFPVID_PRESENT, PACKET_IN_METER, REG_DST_PORT, REG_SRC_PORT,
                                   Owner, Priority, Table, cookie, gateway_mac, port_meter)
from naas_sdn.model.snapshot import ModelSnapshot, NetworkView, PortView, SubnetView
from naas_sdn.flows import addresses

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


def _subnets_by_network(model: ModelSnapshot) -> dict[str, tuple]:
    by_network: dict[str, list] = {}
    for subnet in model.subnets.values():
        by_network.setdefault(subnet.network_id, []).append(subnet)
    return {n: tuple(sorted(subs, key=lambda s: s.id)) for n, subs in by_network.items()}


def bound_ports(model: ModelSnapshot, fabric: FabricSnapshot) -> list[BoundPort]:
    """Ports that carry traffic: plugged, enabled, on an enabled network."""
    result = []
    subnets = _subnets_by_network(model)
    for port in model.ports.values():
        location = fabric.vifs.get(port.id)
        network = model.networks.get(port.network_id)
        if (location is None or network is None or location.ofport <= 0
                or not port.admin_state_up or not network.admin_state_up):
            continue
        result.append(BoundPort(port, network, location.dpid, location.ofport,
                                subnets.get(network.id, ())))
    result.sort(key=lambda b: b.port.key)
    return result


def compile_fabric(model: ModelSnapshot, fabric: FabricSnapshot,
                   options: Options = Options()) -> dict[int, ofp.SwitchState]:
    """Desired state of every connected switch."""
    bound = bound_ports(model, fabric)
    return {dpid: compile_switch(dpid, bound, fabric, options) for dpid in fabric.switches}


def compile_switch(dpid: int, bound: list[BoundPort], fabric: FabricSnapshot,
                   options: Options) -> ofp.SwitchState:
    """Flows grouped by owner. Each owner's flows are memoized on exactly the inputs they
    depend on, so an unchanged owner yields the very same frozenset object on every pass."""
    topology = fabric.topology
    parts = {SWITCH_COOKIE: switch_plumbing(dpid, topology)}
    groups = set()
    local = {}
    meters = {ofp.Meter(PACKET_IN_METER, options.packet_in_rate,
                        max(1, options.packet_in_rate // 5))}
    for b in bound:
        flows = port_flows(dpid, b, topology)
        if flows:
            parts[cookie(Owner.PORT, b.port.key)] = flows
        network, members, claimed, subnets = local.setdefault(
            b.network.key, (b.network, [], set(), b.subnets))
        claimed.update(ip for _, ip in b.port.fixed_ips)
        if b.dpid == dpid:
            members.append(b.ofport)
            if any(f.instructions and f.instructions[0][0] == "meter" for f in flows):
                meters.add(ofp.Meter(port_meter(b.port.key), options.port_packet_in_rate,
                                     max(1, options.port_packet_in_rate * 2)))
    for network, ofports, claimed, subnets in local.values():
        gateways = tuple(sorted(s.gateway_ip for s in subnets if s.ip_version == 4
                                and s.gateway_ip and s.gateway_ip not in claimed))
        flows, group = network_flows(dpid, network, tuple(ofports), topology, gateways)
        parts[cookie(Owner.NETWORK, network.key)] = flows
        if group is not None:
            groups.add(group)
    return ofp.SwitchState(parts, frozenset(groups), frozenset(meters))


@functools.lru_cache(maxsize=1024)
def switch_plumbing(dpid: int, topology) -> frozenset[ofp.Flow]:
    flows = {ofp.flow(table, Priority.TABLE_MISS, ofp.match(), (), SWITCH_COOKIE)
             for table in Table if table != Table.SERVICES}
    flows.add(ofp.flow(Table.SERVICES, Priority.SERVICE_PASS, ofp.match(),
                       (ofp.goto(Table.L2_LOOKUP),), SWITCH_COOKIE))
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
def port_flows(dpid: int, bound: BoundPort, topology) -> frozenset[ofp.Flow]:
    """Classification, lookup and output of one port, as seen from one switch."""
    port, network = bound.port, bound.network
    owner = cookie(Owner.PORT, port.key)
    if bound.dpid == dpid:
        out = (ofp.output(bound.ofport),)
    else:
        hop = topology.next_hop_port(dpid, bound.dpid)
        if hop is None:
            return frozenset()  # unreachable from here: nothing to install
        out = _tagged_output(network, hop)
    flows = {
        ofp.flow(Table.L2_LOOKUP, Priority.L2_UNICAST,
                 ofp.match(metadata=network.key, eth_dst=port.mac_address),
                 (ofp.apply(ofp.set_field(REG_DST_PORT, port.key)), ofp.goto(Table.OUTPUT)),
                 owner),
        ofp.flow(Table.OUTPUT, Priority.OUTPUT_PORT,
                 ofp.match(**{REG_DST_PORT: port.key}), (ofp.apply(*out),), owner),
    }
    if bound.dpid == dpid:
        # Untagged frames only: a VM's own VLAN tags would otherwise ride inside ours.
        flows.add(ofp.flow(Table.CLASSIFY, Priority.CLASSIFY_VIF,
                           ofp.match(in_port=bound.ofport, vlan_vid=0),
                           (ofp.apply(ofp.set_field(REG_SRC_PORT, port.key)),
                            ofp.write_metadata(network.key, ALL_ONES),
                            ofp.goto(Table.SERVICES)), owner))
        flows |= punt_flows(bound, owner)
    flows |= address_flows(bound, owner)
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
    for ip in sorted(gateways):
        punts.append(dict(eth_type=ETH_TYPE_IPV6, ip_proto=IPPROTO_ICMPV6,
                          icmpv6_type=ICMPV6_NS, ipv6_nd_target=ip))
    return {ofp.flow(Table.SERVICES, Priority.SERVICE_ANSWER,
                     ofp.match(**{REG_SRC_PORT: port.key}, **fields),
                     (ofp.meter(port_meter(port.key)), ofp.apply(ofp.to_controller())), owner)
            for fields in punts}
