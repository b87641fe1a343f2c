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
from naas_sdn.flows.layout import (ETH_TYPE_LLDP, LLDP_NEAREST_BRIDGE, MULTICAST_BIT,
                                   OFPVID_PRESENT, PACKET_IN_METER, REG_DST_PORT,
                                   REG_SRC_PORT, Owner, Priority, Table, cookie)
from naas_sdn.model.snapshot import ModelSnapshot, NetworkView, PortView

ALL_ONES = 0xFFFFFFFFFFFFFFFF
SWITCH_COOKIE = cookie(Owner.SWITCH, 0)


@dataclasses.dataclass(frozen=True)
class Options:
    packet_in_rate: int = 500  # packets per second a switch may send to the controller


@dataclasses.dataclass(frozen=True)
class BoundPort:
    port: PortView
    network: NetworkView
    dpid: int
    ofport: int


def bound_ports(model: ModelSnapshot, fabric: FabricSnapshot) -> list[BoundPort]:
    """Ports that carry traffic: plugged, enabled, on an enabled network."""
    result = []
    for port in model.ports.values():
        location = fabric.vifs.get(port.id)
        network = model.networks.get(port.network_id)
        if (location is None or network is None or location.ofport <= 0
                or not port.admin_state_up or not network.admin_state_up):
            continue
        result.append(BoundPort(port, network, location.dpid, location.ofport))
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
    for b in bound:
        flows = port_flows(dpid, b, topology)
        if flows:
            parts[cookie(Owner.PORT, b.port.key)] = flows
        members = local.setdefault(b.network.key, (b.network, []))[1]
        if b.dpid == dpid:
            members.append(b.ofport)
    for network, ofports in local.values():
        flows, group = network_flows(dpid, network, tuple(ofports), topology)
        parts[cookie(Owner.NETWORK, network.key)] = flows
        if group is not None:
            groups.add(group)
    meters = {ofp.Meter(PACKET_IN_METER, options.packet_in_rate,
                        max(1, options.packet_in_rate // 5))}
    return ofp.SwitchState(parts, frozenset(groups), frozenset(meters))


@functools.lru_cache(maxsize=1024)
def switch_plumbing(dpid: int, topology) -> frozenset[ofp.Flow]:
    flows = {ofp.flow(table, Priority.TABLE_MISS, ofp.match(), (), SWITCH_COOKIE)
             for table in Table}
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
def network_flows(dpid: int, network: NetworkView, local_ofports: tuple, topology):
    """Fabric untagging and flooding of one network on one switch (local_ofports: its
    ports plugged into this switch)."""
    owner = cookie(Owner.NETWORK, network.key)
    flows = {ofp.flow(Table.CLASSIFY, Priority.CLASSIFY_FABRIC,
                      ofp.match(in_port=port, vlan_vid=OFPVID_PRESENT | network.key),
                      (ofp.apply(ofp.pop_vlan()), ofp.write_metadata(network.key, ALL_ONES),
                       ofp.goto(Table.L2_LOOKUP)), owner)
             for port in topology.fabric_ports(dpid)}
    buckets = [(ofp.output(port),) for port in local_ofports]
    buckets += [_tagged_output(network, port) for port in sorted(topology.tree_ports(dpid))]
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
                            ofp.goto(Table.L2_LOOKUP)), owner))
    return frozenset(flows)
