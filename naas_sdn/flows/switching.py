"""Switching, the core slice: what carries a frame from one port to another.

- switch: the discovery probe trap in CLASSIFY (metered); tree guards in CLASSIFY dropping
  broadcast that arrives on a fabric link off the spanning tree, so a loop in the fabric
  cannot storm.
- port: CLASSIFY on its switch (in_port -> network key + source port), L2_LOOKUP on every
  switch that reaches it (MAC -> destination port) and OUTPUT (local ofport behind its
  ingress meter, or tagged toward the next hop on a shortest path).
- network: CLASSIFY entries that untag its VLAN on every fabric port and take its tunnel id
  from the switch's tunnel port, and the L2_LOOKUP entry that sends broadcast and multicast
  to its flood group (local ports, the spanning tree's links toward the network's other
  ports, tagged, and a copy in a tunnel to each switch with its ports that no cable joins).

Between switches no cable joins, a frame travels in the flow-based tunnel port of its
switch, with the destination switch's underlay address and the network's key as tunnel id
(VNI); the receiving switch delivers it to its own ports only, so no frame is tunnelled twice.

Each goes only to the switches that see the network's traffic (:mod:`naas_sdn.flows.placement`).
"""

from __future__ import annotations

from naas_sdn.flows import ofp
from naas_sdn.flows.builder import Builder, Built
from naas_sdn.flows.fabric import Hop
from naas_sdn.flows.inputs import BoundPort, LocalNetwork, delivery
from naas_sdn.flows.layout import (
    ETH_TYPE_LLDP,
    LLDP_NEAREST_BRIDGE,
    MULTICAST_BIT,
    OFPVID_PRESENT,
    PACKET_IN_METER,
    REG_DST_PORT,
    REG_SRC_PORT,
    SWITCH_COOKIE,
    TRANSIT_GROUP_BASE,
    TUNNEL_DROP_COOKIE,
    TUNNELED_GROUP_BASE,
    Owner,
    Priority,
    Table,
    cookie,
    qos_meter,
)
from naas_sdn.model.snapshot import NetworkView, QosPolicyView

ALL_ONES = 0xFFFFFFFFFFFFFFFF


def tagged_output(network: NetworkView, port: int) -> tuple:
    return (
        ofp.push_vlan(),
        ofp.set_field("vlan_vid", OFPVID_PRESENT | network.key),
        ofp.output(port),
    )


def tunnel_output(network: NetworkView, tunnel_port: int, remote_ip: str) -> tuple:
    return (
        ofp.set_field("tun_ipv4_dst", remote_ip),
        ofp.set_field("tunnel_id", network.key),
        ofp.output(tunnel_port),
    )


def hop_output(network: NetworkView, hop: Hop) -> tuple:
    if hop.tunnel_dst is not None:
        return tunnel_output(network, hop.port, hop.tunnel_dst)
    return tagged_output(network, hop.port)


def ingress_meter(key: int, qos: QosPolicyView | None) -> tuple:
    """The meter instruction for traffic delivered to the port, if it has an ingress limit
    (its meter is the QoS slice's, :mod:`naas_sdn.features.qos.flows`)."""
    if qos is not None and any(d == "ingress" for d, _, _ in qos.bandwidth_limits):
        return (ofp.meter(qos_meter(key, "ingress")),)
    return ()


def delivered(ofport: int, vlan: int | None) -> tuple:
    """The actions that leave a frame out of a port of its switch (:func:`inputs.delivery`):
    as it is, or tagged for a vlan provider network's physical network."""
    if vlan is None:
        return (ofp.output(ofport),)
    return (ofp.push_vlan(), ofp.set_field("vlan_vid", OFPVID_PRESENT | vlan), ofp.output(ofport))


def local_output(bound: BoundPort) -> tuple:
    """Delivery to a port on its own switch: behind its ingress limit, out of its ofport."""
    return ingress_meter(bound.port.key, bound.policy.qos) + (
        ofp.apply(*delivered(*delivery(bound))),
    )


class Switching(Builder):
    name = "switching"

    def add_switch(self, dpid: int, topology) -> Built:
        flows = {
            ofp.flow(
                Table.CLASSIFY,
                Priority.CLASSIFY_DISCOVERY,
                ofp.match(eth_type=ETH_TYPE_LLDP, eth_dst=LLDP_NEAREST_BRIDGE),
                (ofp.meter(PACKET_IN_METER), ofp.apply(ofp.to_controller())),
                SWITCH_COOKIE,
            )
        }
        endpoint = topology.endpoints.get(dpid)
        if endpoint is not None:
            # What the tunnel brings that no network admits (a VNI the switch has no network
            # for, a sender with no port on it) is dropped here, on a flow of its own: its
            # packet count is the switch's naas_tunnel_dropped_packets.
            flows.add(
                ofp.flow(
                    Table.CLASSIFY,
                    Priority.CLASSIFY_TUNNEL_DROP,
                    ofp.match(in_port=endpoint.ofport),
                    (),
                    TUNNEL_DROP_COOKIE,
                )
            )
        for port in topology.fabric_ports(dpid) - topology.tree_ports(dpid):
            flows.add(
                ofp.flow(
                    Table.CLASSIFY,
                    Priority.CLASSIFY_TREE_GUARD,
                    ofp.match(in_port=port, eth_dst=MULTICAST_BIT),
                    (),
                    SWITCH_COOKIE,
                )
            )
        rate = self.options.packet_in_rate
        return Built(
            frozenset(flows), frozenset({ofp.Meter(PACKET_IN_METER, rate, max(1, rate // 5))})
        )

    def add_port(self, dpid: int, bound: BoundPort, topology) -> Built:
        port, network = bound.port, bound.network
        owner = cookie(Owner.PORT, port.key)
        local = bound.dpid == dpid
        if local:
            out = local_output(bound)
        else:
            hop = topology.for_key(network.key).hop(dpid, bound.dpid)
            out = (ofp.apply(*hop_output(network, hop)),)
        flows = {
            ofp.flow(
                Table.L2_LOOKUP,
                Priority.L2_UNICAST,
                ofp.match(metadata=network.key, eth_dst=port.mac_address),
                (ofp.apply(ofp.set_field(REG_DST_PORT, port.key)), ofp.goto(Table.INGRESS_POLICY)),
                owner,
            ),
            ofp.flow(
                Table.OUTPUT,
                Priority.OUTPUT_PORT,
                ofp.match(**{REG_DST_PORT: port.key}),
                out,
                owner,
            ),
        }
        if local:
            # Untagged frames only: a VM's own VLAN tags would otherwise ride inside ours. A
            # vlan provider network's localnet port takes the frames of its VLAN, untagged.
            _, vlan = delivery(bound)
            untag = () if vlan is None else (ofp.pop_vlan(),)
            flows.add(
                ofp.flow(
                    Table.CLASSIFY,
                    Priority.CLASSIFY_VIF,
                    ofp.match(
                        in_port=bound.ofport, vlan_vid=0 if vlan is None else OFPVID_PRESENT | vlan
                    ),
                    (
                        ofp.apply(*untag, ofp.set_field(REG_SRC_PORT, port.key)),
                        ofp.write_metadata(network.key, ALL_ONES),
                        ofp.goto(Table.PORT_SECURITY),
                    ),
                    owner,
                )
            )
        return Built(frozenset(flows))

    def add_network(self, dpid: int, local: LocalNetwork, topology) -> Built:
        network = local.network
        owner = cookie(Owner.NETWORK, network.key)
        carrier = topology.for_key(network.key)
        endpoint = topology.endpoints.get(dpid)
        flows = {
            ofp.flow(
                Table.CLASSIFY,
                Priority.CLASSIFY_FABRIC,
                ofp.match(in_port=port, vlan_vid=OFPVID_PRESENT | network.key),
                (
                    ofp.apply(ofp.pop_vlan()),
                    ofp.write_metadata(network.key, ALL_ONES),
                    ofp.goto(Table.L2_LOOKUP),
                ),
                owner,
            )
            for port in carrier.fabric_ports(dpid)
        }
        if endpoint is not None:
            # Only from the switches whose ports send on this network: the underlay may
            # hold other endpoints (a tenant's remote site), which must not enter it.
            flows.update(
                ofp.flow(
                    Table.CLASSIFY,
                    Priority.CLASSIFY_TUNNEL,
                    ofp.match(in_port=endpoint.ofport, tunnel_id=network.key, tun_ipv4_src=ip),
                    (ofp.write_metadata(network.key, ALL_ONES), ofp.goto(Table.L2_LOOKUP)),
                    owner,
                )
                for ip in local.sources
            )
        local_buckets = [delivered(port, vlan) for port, vlan in local.ofports]
        tree_buckets = [tagged_output(network, port) for port in local.flood]
        tunnel_buckets = []
        if endpoint is not None:
            tunnel_buckets = [tunnel_output(network, endpoint.ofport, ip) for ip in local.tunnels]
        groups = set()
        for priority, group_id, buckets, extra in (
            # A frame from a cable or a tunnel was copied to the tunnels by the switch it
            # entered at, and one from a tunnel reaches no cable: the tunnelled switch's
            # cabled neighbours with ports of the network had their own copy. Without
            # cables, the tunnel port is the frame's in_port, which OVS never sends back to.
            (
                Priority.L2_FLOOD_TUNNELED,
                TUNNELED_GROUP_BASE + network.key,
                local_buckets,
                {"in_port": endpoint.ofport} if endpoint else {},
            ),
            (
                Priority.L2_FLOOD_TRANSIT,
                TRANSIT_GROUP_BASE + network.key,
                local_buckets + tree_buckets,
                {REG_SRC_PORT: 0},
            ),
            (Priority.L2_FLOOD, network.key, local_buckets + tree_buckets + tunnel_buckets, {}),
        ):
            if priority != Priority.L2_FLOOD and not (tree_buckets and tunnel_buckets):
                continue
            if not buckets:
                continue
            # Bridged to a remote site or a physical network, the network floods unknown
            # unicast too: their hosts are not in the model (unless named in remote_macs).
            flooded = {} if local.floods_unknown else {"eth_dst": MULTICAST_BIT}
            flows.add(
                ofp.flow(
                    Table.L2_LOOKUP,
                    priority,
                    ofp.match(metadata=network.key, **flooded, **extra),
                    (ofp.apply(ofp.group(group_id)),),
                    owner,
                )
            )
            groups.add(ofp.Group(group_id, tuple(buckets), owner))
        flows.update(
            ofp.flow(
                Table.L2_LOOKUP,
                Priority.L2_UNICAST,
                ofp.match(metadata=network.key, eth_dst=mac),
                (ofp.apply(ofp.set_field(REG_DST_PORT, port_key)), ofp.goto(Table.INGRESS_POLICY)),
                owner,
            )
            for mac, port_key in local.remote_macs
        )
        return Built(frozenset(flows), groups=frozenset(groups))
