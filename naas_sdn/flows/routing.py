"""Distributed routing: every router is on every switch, next hops resolved at compile time
(every address and MAC is known).

- port: in ROUTING, for every router on one of the port's subnets, the route to each of its
  addresses (ROUTE_LPM + 2 * 32 or 128, + 1), on every switch that reaches the port.
- router: L3_GATEWAY entries for its MACs, ARP answers for its IPv4 addresses (SERVICES),
  echo requests to it and TTL expiry to the controller behind its meter, anything else to
  it dropped, its static routes by longest prefix. With a gateway: ARP answers for its
  address and floating IPs on the external network, the default route to the router
  beyond it, and what is routed out sent toward the exit switch.
- gateway (on its exit switch only): the router's NAT in its own conntrack zone — out by
  GATEWAY_NAT (SNAT, floating IPs' sources), in through ROUTING (replies untranslated,
  floating IPs' destinations) — and ARP replies from the router beyond to the controller.
"""

from __future__ import annotations

import netaddr

from naas_sdn.flows import ofp
from naas_sdn.flows.answers import arp_answer
from naas_sdn.flows.builder import Builder, Built
from naas_sdn.flows.inputs import BoundPort, Gateway, Interface, RouterInputs
from naas_sdn.flows.layout import (
    CT_INV,
    CT_NEW,
    CT_TRK,
    ETH_TYPE_ARP,
    ETH_TYPE_IPV4,
    ETH_TYPE_IPV6,
    IPPROTO_ICMPV6,
    REG_DST_PORT,
    REG_NAT_ZONE,
    REG_ROUTER,
    Owner,
    Priority,
    Table,
    cookie,
    gateway_mac,
    nat_zone,
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


def _gateway_alias(interface: Interface, key: int, owner: int) -> ofp.Flow:
    """Route what the subnet's hosts send to the network's gateway MAC: the network answered
    for the gateway address before this router held it, and a host's neighbour cache keeps
    that answer for as long as it is used. Matched by source subnet, so each subnet's hosts
    reach the router holding their own gateway."""
    source = "ipv6_src" if interface.version == 6 else "ipv4_src"
    eth_type = ETH_TYPE_IPV6 if interface.version == 6 else ETH_TYPE_IPV4
    return ofp.flow(
        Table.L3_GATEWAY,
        Priority.GATEWAY_ROUTER,
        ofp.match(
            metadata=interface.network.key,
            eth_dst=gateway_mac(interface.network.key),
            eth_type=eth_type,
            **ofp.prefix_match(source, interface.cidr),
        ),
        (ofp.apply(ofp.set_field(REG_ROUTER, key)), ofp.goto(Table.ROUTING)),
        owner,
    )


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
        if interface.holds_gateway:
            flows.add(_gateway_alias(interface, key, owner))
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
    if inputs.gateway is not None:
        flows |= gateway_flows(inputs, inputs.gateway, owner)
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


INVALID = (CT_TRK | CT_INV, CT_TRK | CT_INV)
NEW = (CT_TRK | CT_NEW, CT_TRK | CT_NEW | CT_INV)
TRACKED = (CT_TRK, CT_TRK | CT_NEW | CT_INV)  # a connection already seen, or its reply


def gateway_flows(inputs: RouterInputs, gateway: Gateway, owner: int) -> set[ofp.Flow]:
    """The router's side of its gateway, on every switch that routes for it: ARP answers
    on the external network, the default route, and the way to the exit switch."""
    key, network = inputs.router.key, gateway.network
    flows = {
        arp_answer(network, ip, gateway.mac, owner)
        for ip in (gateway.ip, *(fip for fip, _ in gateway.floating))
    }
    flows.add(
        ofp.flow(
            Table.ROUTING,
            Priority.ROUTE_SELF_DROP,
            ofp.match(**{REG_ROUTER: key}, **_ip_fields(gateway.ip)),
            (),
            owner,
        )
    )
    if gateway.localnet_key is None or gateway.exit_dpid is None:
        return flows  # no uplink leads to the physical network: nowhere to go
    flows.add(
        ofp.flow(
            Table.L2_LOOKUP,
            Priority.L2_ROUTED_OUT,
            ofp.match(metadata=network.key, eth_src=gateway.mac),
            (
                ofp.apply(ofp.set_field(REG_DST_PORT, gateway.localnet_key)),
                ofp.goto(Table.INGRESS_POLICY),
            ),
            owner,
        )
    )
    static_default = any(netaddr.IPNetwork(d).prefixlen == 0 for d, _n in inputs.router.routes)
    if gateway.nexthop_mac is not None and not static_default:
        flows.add(
            ofp.flow(
                Table.ROUTING,
                Priority.ROUTE_LPM,
                ofp.match(**{REG_ROUTER: key}, eth_type=ETH_TYPE_IPV4),
                (
                    ofp.apply(
                        ofp.dec_ttl(),
                        ofp.set_field("eth_src", gateway.mac),
                        ofp.set_field("eth_dst", gateway.nexthop_mac),
                    ),
                    ofp.write_metadata(network.key, ALL_ONES),
                    ofp.goto(Table.L2_LOOKUP),
                ),
                owner,
            )
        )
    return flows


def exit_flows(inputs: RouterInputs, gateway: Gateway) -> frozenset[ofp.Flow]:
    """The router's NAT on its gateway's exit switch, in the zone of its own
    (:func:`layout.nat_zone`): what is routed out goes through it into GATEWAY_NAT, what
    comes in to the gateway's MAC through it back into ROUTING, untranslated."""
    key, network = inputs.router.key, gateway.network
    owner = cookie(Owner.ROUTER, key)
    zone = nat_zone(key)
    on_router = {REG_ROUTER: key}
    on_zone = {REG_ROUTER: key, REG_NAT_ZONE: zone}

    def flow(table, priority, fields, instructions) -> ofp.Flow:
        return ofp.flow(table, priority, ofp.match(**fields), instructions, owner)

    def enter(side: str, then: Table) -> ofp.Flow:
        """IPv4 to (``eth_dst``) or from (``eth_src``) the gateway's MAC, into its zone."""
        fields = {"metadata": network.key, "eth_type": ETH_TYPE_IPV4, side: gateway.mac}
        actions = (
            ofp.set_field(REG_ROUTER, key),
            ofp.set_field(REG_NAT_ZONE, zone),
            ofp.ct(REG_NAT_ZONE, then, nat=()),
        )
        return flow(Table.L2_LOOKUP, Priority.L2_GATEWAY, fields, (ofp.apply(*actions),))

    def leave(priority, fields, *translate) -> ofp.Flow:
        """Out by the localnet port, after ``translate`` (a ct action) if any."""
        return flow(
            Table.GATEWAY_NAT,
            priority,
            fields,
            (
                ofp.apply(*translate, ofp.set_field(REG_DST_PORT, gateway.localnet_key)),
                ofp.goto(Table.OUTPUT),
            ),
        )

    def snat(priority, source: str, address: str) -> ofp.Flow:
        """A new connection from ``source`` (an address or prefix) leaves from ``address``."""
        fields = dict(on_router, ct_state=NEW, eth_type=ETH_TYPE_IPV4)
        fields.update(ofp.prefix_match("ipv4_src", source))
        return leave(priority, fields, ofp.ct(REG_NAT_ZONE, commit=True, nat=("src", address)))

    arp_reply = {
        "metadata": network.key,
        "eth_type": ETH_TYPE_ARP,
        "arp_op": 2,
        "arp_tpa": gateway.ip,
    }
    flows = {
        flow(
            Table.SERVICES,
            Priority.SERVICE_ANSWER,
            arp_reply,
            (ofp.meter(router_meter(key)), ofp.apply(ofp.to_controller())),
        ),
        enter("eth_src", Table.GATEWAY_NAT),
        enter("eth_dst", Table.ROUTING),
        flow(Table.GATEWAY_NAT, Priority.NAT_INVALID, dict(on_router, ct_state=INVALID), ()),
        leave(Priority.NAT_TRACKED, dict(on_router, ct_state=TRACKED)),
        leave(Priority.NAT_PASS, on_router),
        flow(Table.ROUTING, Priority.ROUTE_NAT_INVALID, dict(on_zone, ct_state=INVALID), ()),
    }
    for fip, fixed in gateway.floating:
        flows.add(snat(Priority.NAT_FLOATING, fixed, fip))
        flows.add(
            flow(
                Table.ROUTING,
                Priority.ROUTE_DNAT,
                dict(on_zone, ct_state=NEW, eth_type=ETH_TYPE_IPV4, ipv4_dst=fip),
                (ofp.apply(ofp.ct(REG_NAT_ZONE, Table.ROUTING, commit=True, nat=("dst", fixed))),),
            )
        )
    if gateway.snat:
        flows |= {snat(Priority.NAT_SNAT, cidr, gateway.ip) for cidr in gateway.inside}
    return frozenset(flows)


class Routing(Builder):
    name = "router"

    def add_port(self, dpid: int, bound: BoundPort, topology) -> Built:
        return Built(frozenset(routed_host_flows(bound, cookie(Owner.PORT, bound.port.key))))

    def add_gateway(self, dpid: int, inputs: RouterInputs) -> Built:
        if inputs.gateway is None or inputs.gateway.localnet_key is None:
            return Built()
        return Built(exit_flows(inputs, inputs.gateway))

    def add_router(self, inputs: RouterInputs) -> Built:
        rate = self.options.port_packet_in_rate
        return Built(
            router_flows(inputs),
            frozenset({ofp.Meter(router_meter(inputs.router.key), rate * 5, max(1, rate * 10))}),
        )
