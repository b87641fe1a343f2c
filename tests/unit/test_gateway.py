"""Router gateways in the pure compiler, judged on the simulated fabric: what a router routes
out leaves by its external network's uplink, translated on the exit switch (SNAT to the
gateway's address, a floating IP's own address), and what comes back, or comes to a
floating IP, reaches the right VM."""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

from os_ken.lib.packet import arp, ethernet, packet

from naas_sdn.apps.fabric_state import FabricState
from naas_sdn.apps.neighbours import GatewayNeighbours
from naas_sdn.flows import compiler
from naas_sdn.flows.fabric import FabricSnapshot, VifLocation
from naas_sdn.flows.incremental import IncrementalInputs
from naas_sdn.flows.layout import nat_zone
from naas_sdn.flows.simulate import Simulator, fabric_links
from naas_sdn.model.snapshot import (
    LOCALNET,
    ROUTER_GATEWAY,
    ROUTER_INTERFACE,
    FloatingIpView,
    ModelSnapshot,
    NetworkView,
    PortView,
    RouterView,
    SubnetView,
    localnet_port_id,
)
from tests.unit.test_compiler import mac

UPLINK = 9
UPSTREAM = "fa:16:3e:99:99:99"  # the router beyond the gateway: 172.24.4.1
RMAC, GWMAC = "fa:16:3e:aa:00:01", "fa:16:3e:bb:00:01"
GW_IP, FIP, OUTSIDE = "172.24.4.10", "172.24.4.20", "198.51.100.7"


def _model(snat=True, fips=True) -> ModelSnapshot:
    """External flat network E (physnet1, 172.24.4.0/24), tenant network T (10.0.0.0/24)
    with vm1 (10.0.0.5, switch 2) and vm2 (10.0.0.6, switch 1: the exit), router R
    between them with its gateway on E; vm2 has floating IP 172.24.4.20."""
    nets = [
        NetworkView("E", "admin", 20, True, physical_network="physnet1"),
        NetworkView("T", "t", 11, True),
    ]
    subnets = [
        SubnetView("es", "E", "admin", 4, "172.24.4.0/24", "172.24.4.1", False),
        SubnetView("ts", "T", "t", 4, "10.0.0.0/24", "10.0.0.1", True),
    ]
    ports = [
        PortView("vm1", "T", "t", 1, mac(1), True, (("ts", "10.0.0.5"),)),
        PortView("vm2", "T", "t", 2, mac(2), True, (("ts", "10.0.0.6"),)),
        PortView("ri", "T", "t", 3, RMAC, True, (("ts", "10.0.0.1"),), ROUTER_INTERFACE, "R"),
        PortView("rg", "E", "", 4, GWMAC, True, (("es", GW_IP),), ROUTER_GATEWAY, "R"),
        PortView(localnet_port_id("E"), "E", "admin", 50, mac(50), True, device_owner=LOCALNET),
    ]
    ports = [dataclasses.replace(p, port_security_enabled=False) for p in ports]
    routers = [RouterView("R", "t", 7, True, gw_port_id="rg", enable_snat=snat)]
    model = ModelSnapshot.build(nets, ports, subnets=subnets, routers=routers)
    floating = {"f1": FloatingIpView("f1", "t", "E", FIP, "vm2", "10.0.0.6", "R")}
    return dataclasses.replace(model, floatingips=MappingProxyType(floating if fips else {}))


def _fabric(upstream=UPSTREAM) -> FabricSnapshot:
    vifs = {"vm1": (2, 1), "vm2": (1, 1)}
    neighbours = {("E", "172.24.4.1"): upstream} if upstream else {}
    return FabricSnapshot(
        switches=frozenset({1, 2}),
        links=frozenset(fabric_links([((1, 10), (2, 10))])),
        vifs=MappingProxyType({p: VifLocation(f"br{d}", d, o) for p, (d, o) in vifs.items()}),
        uplinks=MappingProxyType({"physnet1": (VifLocation("br1", 1, UPLINK),)}),
        neighbours=MappingProxyType(neighbours),
    )


def _simulator(model=None, fabric=None) -> Simulator:
    fabric = fabric or _fabric()
    return Simulator(compiler.compile_fabric(model or _model(), fabric), fabric.links)


def _icmp(src_mac, dst_mac, src, dst, kind=8) -> dict:
    return dict(
        eth_src=src_mac,
        eth_dst=dst_mac,
        eth_type=0x0800,
        ipv4_src=src,
        ipv4_dst=dst,
        ip_proto=1,
        icmpv4_type=kind,
    )


def _out(deliveries) -> dict:
    return {(d.dpid, d.port): dict(d.packet) for d in deliveries}


def test_a_vm_without_floating_ip_leaves_with_the_gateway_address_and_gets_its_replies():
    sim = _simulator()
    out = _out(sim.inject(2, 1, **_icmp(mac(1), RMAC, "10.0.0.5", OUTSIDE)))
    assert list(out) == [(1, UPLINK)]
    leaving = out[(1, UPLINK)]
    assert (leaving["ipv4_src"], leaving["ipv4_dst"]) == (GW_IP, OUTSIDE)
    assert (leaving["eth_src"], leaving["eth_dst"]) == (GWMAC, UPSTREAM)
    back = _out(sim.inject(1, UPLINK, **_icmp(UPSTREAM, GWMAC, OUTSIDE, GW_IP, kind=0)))
    assert list(back) == [(2, 1)]
    assert (back[(2, 1)]["ipv4_dst"], back[(2, 1)]["eth_dst"]) == ("10.0.0.5", mac(1))
    assert back[(2, 1)]["eth_src"] == RMAC


def test_a_floating_ip_is_the_vms_address_outside_both_ways():
    sim = _simulator()
    out = _out(sim.inject(1, 1, **_icmp(mac(2), RMAC, "10.0.0.6", OUTSIDE)))
    assert out[(1, UPLINK)]["ipv4_src"] == FIP
    inbound = _out(sim.inject(1, UPLINK, **_icmp(UPSTREAM, GWMAC, "203.0.113.9", FIP)))
    assert list(inbound) == [(1, 1)]
    assert (inbound[(1, 1)]["ipv4_src"], inbound[(1, 1)]["ipv4_dst"]) == (
        "203.0.113.9",
        "10.0.0.6",
    )
    reply = _out(sim.inject(1, 1, **_icmp(mac(2), RMAC, "10.0.0.6", "203.0.113.9", kind=0)))
    assert reply[(1, UPLINK)]["ipv4_src"] == FIP


def test_nothing_unasked_comes_in_by_the_gateway_address_and_arp_is_answered_for_it():
    sim = _simulator(_model(fips=False))
    assert sim.inject(1, UPLINK, **_icmp(UPSTREAM, GWMAC, OUTSIDE, GW_IP)) == []
    assert sim.inject(1, UPLINK, **_icmp(UPSTREAM, GWMAC, OUTSIDE, FIP)) == []
    request = dict(
        eth_src=UPSTREAM,
        eth_dst="ff:ff:ff:ff:ff:ff",
        eth_type=0x0806,
        arp_op=1,
        arp_spa="172.24.4.1",
        arp_tpa=GW_IP,
        arp_sha=UPSTREAM,
    )
    answer = _out(sim.inject(1, UPLINK, **request))
    assert answer[(1, UPLINK)]["arp_sha"] == GWMAC and answer[(1, UPLINK)]["arp_op"] == 2


def test_without_snat_the_fixed_address_leaves_and_without_a_neighbour_nothing_does():
    plain = _out(
        _simulator(_model(snat=False, fips=False)).inject(
            2, 1, **_icmp(mac(1), RMAC, "10.0.0.5", OUTSIDE)
        )
    )
    assert plain[(1, UPLINK)]["ipv4_src"] == "10.0.0.5"
    unresolved = _simulator(fabric=_fabric(upstream=None))
    assert unresolved.inject(2, 1, **_icmp(mac(1), RMAC, "10.0.0.5", OUTSIDE)) == []


def test_the_nat_lives_on_the_exit_switch_alone_in_the_routers_zone():
    states = compiler.compile_fabric(_model(), _fabric())
    nat = {
        dpid: [
            f
            for f in state.flows
            if any(a[0] == "ct" for i in f.instructions if i[0] == "apply" for a in i[1])
        ]
        for dpid, state in states.items()
    }
    assert nat[2] == []
    zones = {f.match for f in nat[1]}
    assert zones and any(("reg4", nat_zone(7)) in m for m in zones)


def test_the_kept_inputs_follow_floating_ips_gateways_and_neighbours():
    inputs = IncrementalInputs()
    model, fabric = _model(fips=False), _fabric(upstream=None)
    _, routers, _ = inputs.update(model, fabric, None)
    assert routers[0].gateway.floating == () and routers[0].gateway.nexthop_mac is None
    with_fip = _model()
    _, routers, _ = inputs.update(with_fip, fabric, {"floatingips": {"f1"}})
    assert routers[0].gateway.floating == ((FIP, "10.0.0.6"),)
    _, routers, _ = inputs.update(with_fip, _fabric(), {})
    assert routers[0].gateway.nexthop_mac == UPSTREAM
    full = compiler.compile_inputs(with_fip, _fabric())[1]
    assert routers == full
    # A floating IP and its router changing in one pass: both are followed.
    fresh = IncrementalInputs()
    fresh.update(_model(fips=False), _fabric(), None)
    renamed = dataclasses.replace(
        with_fip,
        routers=MappingProxyType(
            {"R": dataclasses.replace(with_fip.routers["R"], enable_snat=False)}
        ),
    )
    _, routers, _ = fresh.update(renamed, _fabric(), {"routers": {"R"}, "floatingips": {"f1"}})
    assert routers == compiler.compile_inputs(renamed, _fabric())[1]
    assert routers[0].gateway.floating == ((FIP, "10.0.0.6"),)


class _Model:
    def __init__(self, model):
        self.model = model

    def snapshot(self):
        return self.model


def test_the_router_beyond_is_asked_for_by_arp_and_learned_from_its_reply():
    fabric = _fabric(upstream=None)
    saved: list = []
    state = FabricState(link_timeout=10, on_change=lambda: None, persist_neighbours=saved.append)
    state.set_uplinks(dict(fabric.uplinks))
    sent, now = [], [100.0]
    resolver = GatewayNeighbours(
        _Model(_model()), state, lambda *a: sent.append(a), clock=lambda: now[0]
    )
    assert resolver.ask() == 1
    ((dpid, ofport, data),) = sent
    request = packet.Packet(data).get_protocol(arp.arp)
    assert (dpid, ofport) == (1, UPLINK)
    assert (request.opcode, request.src_mac, request.src_ip, request.dst_ip) == (
        arp.ARP_REQUEST,
        GWMAC,
        GW_IP,
        "172.24.4.1",
    )
    assert resolver.ask() == 0  # asked a moment ago
    now[0] += 2.5
    assert resolver.ask() == 1  # no answer yet: asked again
    reply = packet.Packet()
    reply.add_protocol(ethernet.ethernet(GWMAC, UPSTREAM, ethernet.ether.ETH_TYPE_ARP))
    reply.add_protocol(arp.arp_ip(arp.ARP_REPLY, UPSTREAM, "172.24.4.1", GWMAC, GW_IP))
    reply.serialize()
    assert not resolver.handle(2, UPLINK, bytes(reply.data))  # not where it was asked
    assert resolver.handle(1, UPLINK, bytes(reply.data))
    assert state.snapshot().neighbours == {("E", "172.24.4.1"): UPSTREAM}
    assert saved == [{("E", "172.24.4.1"): UPSTREAM}]
    now[0] += 2.5
    assert resolver.ask() == 0  # known: asked again only after the refresh period
    now[0] += 30
    assert resolver.ask() == 1
