"""QoS flows: in EGRESS_QOS, DSCP marking (``Priority.QOS_MARK``) and the egress limit
(``Priority.QOS_LIMIT``) of what a port sends, owned by the port, with the kbps meters of the
port's limits (ids from ``layout.qos_meter``). The ingress meter rides on the port's OUTPUT
entry, which switching builds (``naas_sdn.flows.switching.ingress_meter``). Pure, like
``naas_sdn.flows``.
"""

from __future__ import annotations

from naas_sdn.flows import ofp
from naas_sdn.flows.builder import Built, LocalBuilder
from naas_sdn.flows.inputs import BoundPort
from naas_sdn.flows.layout import (
    ETH_TYPE_IPV4,
    ETH_TYPE_IPV6,
    REG_SRC_PORT,
    Owner,
    Priority,
    Table,
    cookie,
    qos_meter,
)
from naas_sdn.model.snapshot import QosPolicyView


def qos_flows(key: int, qos: QosPolicyView | None, owner: int) -> set[ofp.Flow]:
    """DSCP marking and the egress meter on what the port sends."""
    if qos is None:
        return set()
    limits = {direction: rate for direction, rate, _ in qos.bandwidth_limits}
    metered = (ofp.meter(qos_meter(key, "egress")),) if "egress" in limits else ()
    me = {REG_SRC_PORT: key}
    on = ofp.goto(Table.L3_GATEWAY)
    flows = set()
    if qos.dscp_mark is not None:
        flows |= {
            ofp.flow(
                Table.EGRESS_QOS,
                Priority.QOS_MARK,
                ofp.match(**me, eth_type=eth),
                metered + (ofp.apply(ofp.set_field("ip_dscp", qos.dscp_mark)), on),
                owner,
            )
            for eth in (ETH_TYPE_IPV4, ETH_TYPE_IPV6)
        }
    if metered:
        flows.add(
            ofp.flow(Table.EGRESS_QOS, Priority.QOS_LIMIT, ofp.match(**me), metered + (on,), owner)
        )
    return flows


def qos_meters(key: int, qos: QosPolicyView | None) -> set[ofp.Meter]:
    """kbps meters of a port's limits. With no burst given, 80% of the rate (as Neutron's
    Open vSwitch agent does), so a TCP flow can reach the limit."""
    if qos is None:
        return set()
    return {
        ofp.Meter(qos_meter(key, direction), rate, burst or max(1, rate * 8 // 10), True)
        for direction, rate, burst in qos.bandwidth_limits
    }


class Qos(LocalBuilder):
    name = "qos"

    def add_local_port(self, bound: BoundPort) -> Built:
        key, qos = bound.port.key, bound.policy.qos
        return Built(
            frozenset(qos_flows(key, qos, cookie(Owner.PORT, key))), frozenset(qos_meters(key, qos))
        )
