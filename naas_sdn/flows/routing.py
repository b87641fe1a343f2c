"""Distributed routing: every router is on every switch, next hops resolved at compile time
(every address and MAC is known).

- port: in ROUTING, for every router on one of the port's subnets, the route to each of its
  addresses (ROUTE_LPM + 2 * 32 or 128, + 1), on every switch that reaches the port.
- router: L3_GATEWAY entries for its MACs, ARP answers for its IPv4 addresses (SERVICES),
  echo requests to it and TTL expiry to the controller behind its meter, anything else to
  it dropped, its static routes by longest prefix.
"""

from __future__ import annotations

import netaddr

from naas_sdn.flows import ofp
from naas_sdn.flows.answers import arp_answer
from naas_sdn.flows.builder import Builder, Built
from naas_sdn.flows.inputs import BoundPort, Interface, RouterInputs
from naas_sdn.flows.layout import (
    ETH_TYPE_IPV4,
    ETH_TYPE_IPV6,
    IPPROTO_ICMPV6,
    REG_ROUTER,
    Owner,
    Priority,
    Table,
    cookie,
    router_meter,
)
from naas_sdn.flows.switching import ALL_ONES


def _ip_fields(ip: str) -> dict:
    if ":" in ip:
        return dict(eth_type=ETH_TYPE_IPV6, ipv6_dst=ip)
    return dict(eth_type=ETH_TYPE_IPV4, ipv4_dst=ip)


def _route_actions(interface: Interface, dst_mac: str) -> tuple:
    """Leave the router on ``interface``: TTL-1, router MAC as source, into its network."""
    return (
        ofp.apply(
            ofp.dec_ttl(),
            ofp.set_field("eth_src", interface.mac),
            ofp.set_field("eth_dst", dst_mac),
        ),
        ofp.write_metadata(interface.network.key, ALL_ONES),
        ofp.goto(Table.L2_LOOKUP),
    )


def routed_host_flows(bound: BoundPort, owner: int) -> set[ofp.Flow]:
    """For every router on one of the port's subnets, the route to each of its addresses."""
    flows = set()
    for subnet_id, ip in bound.port.fixed_ips:
        for interface in bound.routers:
            if interface.subnet_id != subnet_id:
                continue
            bits = 128 if ":" in ip else 32
            flows.add(
                ofp.flow(
                    Table.ROUTING,
                    Priority.ROUTE_LPM + 2 * bits + 1,
                    ofp.match(**{REG_ROUTER: interface.router_key}, **_ip_fields(ip)),
                    _route_actions(interface, bound.port.mac_address),
                    owner,
                )
            )
    return flows


def router_flows(inputs: RouterInputs) -> frozenset[ofp.Flow]:
    key = inputs.router.key
    owner = cookie(Owner.ROUTER, key)
    on_router = {REG_ROUTER: key}
    punt = (ofp.meter(router_meter(key)), ofp.apply(ofp.to_controller()))
    flows = set()
    for interface in inputs.interfaces:
        flows.add(
            ofp.flow(
                Table.L3_GATEWAY,
                Priority.GATEWAY_ROUTER,
                ofp.match(metadata=interface.network.key, eth_dst=interface.mac),
                (ofp.apply(ofp.set_field(REG_ROUTER, key)), ofp.goto(Table.ROUTING)),
                owner,
            )
        )
        if interface.version == 4:
            flows.add(arp_answer(interface.network, interface.ip, interface.mac, owner))
        fields = _ip_fields(interface.ip)
        echo = (
            dict(ip_proto=1, icmpv4_type=8)
            if interface.version == 4
            else dict(ip_proto=IPPROTO_ICMPV6, icmpv6_type=128)
        )
        flows.add(
            ofp.flow(
                Table.ROUTING,
                Priority.ROUTE_SELF_ICMP,
                ofp.match(**on_router, **fields, **echo),
                punt,
                owner,
            )
        )
        flows.add(
            ofp.flow(
                Table.ROUTING, Priority.ROUTE_SELF_DROP, ofp.match(**on_router, **fields), (), owner
            )
        )
    for version in {i.version for i in inputs.interfaces}:
        eth_type = ETH_TYPE_IPV6 if version == 6 else ETH_TYPE_IPV4
        flows.add(
            ofp.flow(
                Table.ROUTING,
                Priority.ROUTE_TTL,
                ofp.match(**on_router, eth_type=eth_type, nw_ttl=1),
                punt,
                owner,
            )
        )
        flows.add(
            ofp.flow(
                Table.ROUTING,
                Priority.ROUTE_TTL,
                ofp.match(**on_router, eth_type=eth_type, nw_ttl=0),
                (),
                owner,
            )
        )
    for destination, interface, mac in inputs.routes:
        net = netaddr.IPNetwork(destination)
        field = "ipv6_dst" if net.version == 6 else "ipv4_dst"
        flows.add(
            ofp.flow(
                Table.ROUTING,
                Priority.ROUTE_LPM + 2 * net.prefixlen,
                ofp.match(
                    **on_router,
                    eth_type=ETH_TYPE_IPV6 if net.version == 6 else ETH_TYPE_IPV4,
                    **ofp.prefix_match(field, destination),
                ),
                _route_actions(interface, mac),
                owner,
            )
        )
    return frozenset(flows)


class Routing(Builder):
    name = "router"

    def add_port(self, dpid: int, bound: BoundPort, topology) -> Built:
        return Built(frozenset(routed_host_flows(bound, cookie(Owner.PORT, bound.port.key))))

    def add_router(self, inputs: RouterInputs) -> Built:
        rate = self.options.port_packet_in_rate
        return Built(
            router_flows(inputs),
            frozenset({ofp.Meter(router_meter(inputs.router.key), rate * 5, max(1, rate * 10))}),
        )
