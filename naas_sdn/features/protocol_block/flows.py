"""Protocol blocks' flows: EGRESS_POLICY and INGRESS_POLICY at ``Priority.POLICY_BLOCK``, one
drop per (block, ethertype, match) on each port of the network, on the port's own switch.

The drops are owned by the port's counter owner (``Owner.COUNTER``), so each port counts what
a block stopped (``layout.POLICY_DROPS``); per switch, the flows that keep neighbour discovery
and DHCP out of every block (shared with security groups). Pure, like ``naas_sdn.flows``.
"""

from __future__ import annotations

from naas_sdn.flows import ofp
from naas_sdn.flows.builder import Built, LocalBuilder
from naas_sdn.flows.inputs import BoundPort
from naas_sdn.flows.layout import Owner, Priority, cookie
from naas_sdn.flows.policy import EGRESS, INGRESS, Direction, ethertypes, l4_matches, policy_infra


def block_flows(key: int, direction: Direction, blocks: tuple, owner: int) -> set[ofp.Flow]:
    """A network's protocol blocks, on each of its ports: dropped on flows of the port (its
    counter owner), so each port counts what the block stopped."""
    flows = set()
    for block in blocks:
        for ethertype in ethertypes(block.ethertype):
            for fields in (
                l4_matches(ethertype, block.protocol, block.port_range_min, block.port_range_max)
                or ()
            ):
                flows.add(
                    ofp.flow(
                        direction.policy,
                        Priority.POLICY_BLOCK,
                        ofp.match(**{direction.register: key}, **fields),
                        (),
                        owner,
                    )
                )
    return flows


class ProtocolBlocks(LocalBuilder):
    name = "protocol-block"

    def add_switch(self, dpid: int, topology) -> Built:
        return Built(policy_infra())

    def add_local_port(self, bound: BoundPort) -> Built:
        key = bound.port.key
        counted = cookie(Owner.COUNTER, key)
        return Built(
            frozenset().union(
                *(block_flows(key, d, bound.policy.blocks, counted) for d in (EGRESS, INGRESS))
            )
        )
