"""Switching, the core slice: what carries a frame from one port to another.

- switch: the discovery probe trap in CLASSIFY (metered); tree guards in CLASSIFY dropping
  broadcast that arrives on a fabric link off the spanning tree, so a loop in the fabric
  cannot storm.
- port: CLASSIFY on its switch (in_port -> network key + source port), L2_LOOKUP on every
  switch that reaches it (MAC -> destination port) and OUTPUT (local ofport behind its
  ingress meter, or tagged toward the next hop on a shortest path).
- network: CLASSIFY entries that untag its VLAN on every fabric port, and the L2_LOOKUP
  entry that sends broadcast and multicast to its flood group (local ports + the spanning
  tree's links toward the network's other ports, tagged).

Each goes only to the switches that see the network's traffic (:mod:`naas_sdn.flows.placement`).
"""

from __future__ import annotations

from naas_sdn.flows import ofp
from naas_sdn.flows.builder import Builder, Built
from naas_sdn.flows.inputs import BoundPort, LocalNetwork
from naas_sdn.flows.layout import (
    ETH_TYPE_LLDP,
    LLDP_NEAREST_BRIDGE,
    MULTICAST_BIT,
    OFPVID_PRESENT,
    PACKET_IN_METER,
    REG_DST_PORT,
    REG_SRC_PORT,
    SWITCH_COOKIE,
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


def ingress_meter(key: int, qos: QosPolicyView | None) -> tuple:
    """The meter instruction for traffic delivered to the port, if it has an ingress limit
    (its meter is the QoS slice's, :mod:`naas_sdn.features.qos.flows`)."""
    if qos is not None and any(d == "ingress" for d, _, _ in qos.bandwidth_limits):
        return (ofp.meter(qos_meter(key, "ingress")),)
    return ()


def local_output(bound: BoundPort) -> tuple:
    """Delivery to a port on its own switch: behind its ingress limit, out of its ofport."""
    return ingress_meter(bound.port.key, bound.policy.qos) + (ofp.apply(ofp.output(bound.ofport)),)


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
            out = (ofp.apply(*tagged_output(network, topology.next_hop_port(dpid, bound.dpid))),)
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
            # Untagged frames only: a VM's own VLAN tags would otherwise ride inside ours.
            flows.add(
                ofp.flow(
                    Table.CLASSIFY,
                    Priority.CLASSIFY_VIF,
                    ofp.match(in_port=bound.ofport, vlan_vid=0),
                    (
                        ofp.apply(ofp.set_field(REG_SRC_PORT, port.key)),
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
            for port in topology.fabric_ports(dpid)
        }
        buckets = [(ofp.output(port),) for port in local.ofports]
        buckets += [tagged_output(network, port) for port in local.flood]
        if not buckets:
            return Built(frozenset(flows))
        flows.add(
            ofp.flow(
                Table.L2_LOOKUP,
                Priority.L2_FLOOD,
                ofp.match(metadata=network.key, eth_dst=MULTICAST_BIT),
                (ofp.apply(ofp.group(network.key)),),
                owner,
            )
        )
        return Built(
            frozenset(flows), groups=frozenset({ofp.Group(network.key, tuple(buckets), owner)})
        )
