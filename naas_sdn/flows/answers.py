"""Services, the SERVICES table: ARP answered by flows, neighbour solicitations steered, and
what the controller answers (DHCPv4, DHCPv6, router and gateway neighbour solicitations)
punted behind the asking port's own meter (``naas_sdn.apps.services`` builds the replies).

- port: ARP answers for its IPv4 addresses and ND steering for its IPv6 ones, on every
  switch that reaches it; on its own switch, its punts and their meter.
- network: ARP answers for IPv4 subnet gateways no port and no router holds.
"""

from __future__ import annotations

from naas_sdn.flows import addresses, ofp
from naas_sdn.flows.builder import Builder, Built
from naas_sdn.flows.inputs import BoundPort, LocalNetwork
from naas_sdn.flows.layout import (
    ETH_TYPE_ARP,
    ETH_TYPE_IPV4,
    ETH_TYPE_IPV6,
    ICMPV6_NS,
    ICMPV6_RS,
    IPPROTO_ICMPV6,
    IPPROTO_UDP,
    OFPP_IN_PORT,
    REG_SRC_PORT,
    Owner,
    Priority,
    Table,
    cookie,
    gateway_mac,
    port_meter,
)
from naas_sdn.model.snapshot import NetworkView


def arp_request(network: NetworkView, ip: str, **fields) -> tuple:
    """The match of an ARP request for ``ip`` on the network."""
    return ofp.match(metadata=network.key, eth_type=ETH_TYPE_ARP, arp_op=1, arp_tpa=ip, **fields)


def solicitation(ip: str) -> dict:
    """The match fields of a neighbour solicitation for ``ip``."""
    return dict(
        eth_type=ETH_TYPE_IPV6, ip_proto=IPPROTO_ICMPV6, icmpv6_type=ICMPV6_NS, ipv6_nd_target=ip
    )


def arp_answer(network: NetworkView, ip: str, mac: str, owner: int) -> ofp.Flow:
    """Turn an ARP request for ``ip`` into the reply from ``mac``, back out the asking port."""
    return ofp.flow(
        Table.SERVICES,
        Priority.SERVICE_ANSWER,
        arp_request(network, ip),
        (
            ofp.apply(
                ofp.move("eth_src", "eth_dst", 48),
                ofp.set_field("eth_src", mac),
                ofp.set_field("arp_op", 2),
                ofp.move("arp_sha", "arp_tha", 48),
                ofp.set_field("arp_sha", mac),
                ofp.move("arp_spa", "arp_tpa", 32),
                ofp.set_field("arp_spa", ip),
                ofp.output(OFPP_IN_PORT),
            ),
        ),
        owner,
    )


def address_flows(bound: BoundPort, owner: int, local: bool) -> set[ofp.Flow]:
    """ARP answered for the port's IPv4 addresses; neighbour solicitations for its IPv6
    addresses (link-local included) steered to the port alone instead of flooded. A port
    asking about its own address (duplicate address detection) gets no answer from us:
    said on its own (``local``) switch only, the one place a packet comes from it (frames
    off the fabric come from port 0)."""
    port, network = bound.port, bound.network
    flows = set()
    v4 = [ip for _, ip in port.fixed_ips if ":" not in ip]
    v6 = [ip for _, ip in port.fixed_ips if ":" in ip] + [addresses.link_local(port.mac_address)]
    for ip in v4:
        flows.add(arp_answer(network, ip, port.mac_address, owner))
        if not local:
            continue
        flows.add(
            ofp.flow(
                Table.SERVICES,
                Priority.SERVICE_SELF,
                arp_request(network, ip, **{REG_SRC_PORT: port.key}),
                (ofp.goto(Table.L2_LOOKUP),),
                owner,
            )
        )
    for ip in v6:
        flows.add(
            ofp.flow(
                Table.SERVICES,
                Priority.SERVICE_ANSWER,
                ofp.match(metadata=network.key, **solicitation(ip)),
                (ofp.apply(ofp.set_field("eth_dst", port.mac_address)), ofp.goto(Table.L2_LOOKUP)),
                owner,
            )
        )
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
    if any(
        s.ip_version == 6
        and s.enable_dhcp
        and s.ipv6_address_mode in ("dhcpv6-stateful", "dhcpv6-stateless")
        for s in mine
    ):
        punts.append(dict(eth_type=ETH_TYPE_IPV6, ip_proto=IPPROTO_UDP, udp_src=546, udp_dst=547))
    v6_subnets = [s for s in bound.subnets if s.ip_version == 6]
    if any(s.ipv6_ra_mode for s in v6_subnets):
        punts.append(dict(eth_type=ETH_TYPE_IPV6, ip_proto=IPPROTO_ICMPV6, icmpv6_type=ICMPV6_RS))
    gateways = {s.gateway_ip for s in v6_subnets if s.gateway_ip}
    if gateways or any(s.ipv6_ra_mode for s in v6_subnets):
        gateways.add(addresses.link_local(gateway_mac(bound.network.key)))
    for interface in bound.routers:
        if interface.version == 6:
            gateways |= {interface.ip, addresses.link_local(interface.mac)}
    punts.extend(solicitation(ip) for ip in sorted(gateways))
    return {
        ofp.flow(
            Table.SERVICES,
            Priority.SERVICE_ANSWER,
            ofp.match(**{REG_SRC_PORT: port.key}, **fields),
            (ofp.meter(port_meter(port.key)), ofp.apply(ofp.to_controller())),
            owner,
        )
        for fields in punts
    }


class Services(Builder):
    name = "services"

    def add_port(self, dpid: int, bound: BoundPort, topology) -> Built:
        owner = cookie(Owner.PORT, bound.port.key)
        local = bound.dpid == dpid
        flows = address_flows(bound, owner, local)
        punts = punt_flows(bound, owner) if local else set()
        if not punts:
            return Built(frozenset(flows))
        rate = self.options.port_packet_in_rate
        return Built(
            frozenset(flows | punts),
            frozenset({ofp.Meter(port_meter(bound.port.key), rate, max(1, rate * 2))}),
        )

    def add_network(self, dpid: int, local: LocalNetwork, topology) -> Built:
        network = local.network
        owner, mac = cookie(Owner.NETWORK, network.key), gateway_mac(network.key)
        return Built(frozenset(arp_answer(network, ip, mac, owner) for ip in local.gateways))
