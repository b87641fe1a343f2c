"""Switches joined over an IP underlay: tunnels where no cable joins them, head-end
replication to the switches with ports of the network only, 24-bit network keys."""

from __future__ import annotations

from types import MappingProxyType

from naas_sdn.flows import compiler
from naas_sdn.flows.fabric import FabricSnapshot, TunnelEndpoint, VifLocation
from naas_sdn.flows.layout import TUNNEL_DROP_COOKIE, Owner, identity, owner_of
from naas_sdn.flows.simulate import Simulator, fabric_links
from tests.unit.test_compiler import BCAST, mac, model, reached

TUNNEL_PORT = 50
ENDPOINTS = {d: TunnelEndpoint(f"192.0.2.{d}", TUNNEL_PORT) for d in (1, 2, 3)}
# A (key 10) on hypervisors 1 and 2; B (key 70000, beyond any VLAN) on 1 and 3.
PORTS = [("a1", "A", 1), ("a2", "A", 2), ("b1", "B", 3), ("b3", "B", 4)]
VIFS = {"a1": (1, 1), "a2": (2, 1), "b1": (1, 2), "b3": (3, 1)}
NETWORKS = (("A", 10, True), ("B", 70000, True))


def fabric(cables=(), vifs=VIFS, endpoints=ENDPOINTS):
    return FabricSnapshot(
        switches=frozenset({1, 2, 3}),
        links=frozenset(fabric_links(cables)),
        vifs=MappingProxyType({pid: VifLocation(f"br{d}", d, p) for pid, (d, p) in vifs.items()}),
        endpoints=MappingProxyType(endpoints),
    )


def compiled(f, ports=PORTS):
    return compiler.compile_fabric(model(ports, networks=NETWORKS), f)


def network_keys(state) -> set:
    found = set()
    for flow in state.flows:
        kind, key = owner_of(identity(flow.cookie))
        if kind == Owner.NETWORK:
            found.add(key)
    return found


def test_hypervisors_reach_each_other_in_tunnels_with_the_network_key():
    f = fabric()
    states = compiled(f)
    sim = Simulator(states, endpoints=ENDPOINTS)
    assert reached(sim.inject(1, 1, eth_src=mac(1), eth_dst=mac(2))) == [(2, 1)]
    assert reached(sim.inject(2, 1, eth_src=mac(2), eth_dst=mac(1))) == [(1, 1)]
    assert reached(sim.inject(3, 1, eth_src=mac(4), eth_dst=mac(3))) == [(1, 2)]
    assert sim.inject(1, 1, eth_src=mac(1), eth_dst=mac(4)) == []  # the other tenant's
    # What leaves hypervisor 1 for a2: its VNI, to hypervisor 2's address.
    out = Simulator(states).inject(1, 1, eth_src=mac(1), eth_dst=mac(2))
    assert [(d.port, dict(d.packet)["tunnel_id"], dict(d.packet)["tun_ipv4_dst"]) for d in out] == [
        (TUNNEL_PORT, 10, "192.0.2.2")
    ]
    big = Simulator(states).inject(1, 2, eth_src=mac(3), eth_dst=mac(4))
    assert [(dict(d.packet)["tunnel_id"], dict(d.packet)["tun_ipv4_dst"]) for d in big] == [
        (70000, "192.0.2.3")
    ]


def test_broadcast_goes_once_to_each_hypervisor_with_ports_of_the_network_only():
    states = compiled(fabric())
    out = Simulator(states).inject(1, 1, eth_src=mac(1), eth_dst=BCAST)
    assert [dict(d.packet).get("tun_ipv4_dst") for d in out] == ["192.0.2.2"]
    assert network_keys(states[3]) == {70000}  # nothing of A where A has no port
    assert network_keys(states[2]) == {10}
    sim = Simulator(states, endpoints=ENDPOINTS)
    assert reached(sim.inject(1, 1, eth_src=mac(1), eth_dst=BCAST)) == [(2, 1)]
    # Arrived by tunnel: delivered to its own ports, never tunnelled on.
    from_hv1 = {"tunnel_id": 10, "tun_ipv4_src": "192.0.2.1", "eth_src": mac(1)}
    assert reached(sim.inject(2, TUNNEL_PORT, **from_hv1, eth_dst=BCAST)) == [(2, 1)]
    assert reached(sim.inject(2, TUNNEL_PORT, **from_hv1, eth_dst=mac(2))) == [(2, 1)]
    # A VNI the switch has no network for, or a sender that has no port of the network (a
    # hypervisor without one, anything else on the underlay), is dropped, on the switch's
    # counted tunnel drop.
    drops = [f for f in states[2].flows if f.cookie == TUNNEL_DROP_COOKIE]
    assert [(f.match, f.instructions) for f in drops] == [((("in_port", TUNNEL_PORT),), ())]
    assert sim.inject(2, TUNNEL_PORT, **{**from_hv1, "tunnel_id": 70000}, eth_dst=BCAST) == []
    for stranger in ("192.0.2.3", "198.51.100.7"):
        sent = {**from_hv1, "tun_ipv4_src": stranger}
        assert sim.inject(2, TUNNEL_PORT, **sent, eth_dst=mac(2)) == []


def test_a_switch_without_an_endpoint_is_not_reached_and_nothing_half_built():
    f = fabric(endpoints={1: ENDPOINTS[1], 2: ENDPOINTS[2]})
    states = compiled(f)
    sim = Simulator(states, endpoints=f.endpoints)
    assert sim.inject(1, 2, eth_src=mac(3), eth_dst=mac(4)) == []
    assert reached(sim.inject(1, 1, eth_src=mac(1), eth_dst=mac(2))) == [(2, 1)]


# Hypervisors 1 and 2 cabled (port 10 on each toward the other), 3 on the underlay only.
CABLES = [((1, 10), (2, 10))]


def test_cables_where_they_are_tunnels_between_the_parts_and_no_copy_twice():
    ports = [("a1", "A", 1), ("a2", "A", 2), ("a3", "A", 5)]
    vifs = {"a1": (1, 1), "a2": (2, 1), "a3": (3, 1)}
    f = fabric(CABLES, vifs)
    states = compiled(f, ports)
    sim = Simulator(states, f.links, ENDPOINTS)
    for src, port_key in ((1, 1), (2, 2), (3, 5)):
        got = reached(sim.inject(src, 1, eth_src=mac(port_key), eth_dst=BCAST))
        assert got == [(d, 1) for d in (1, 2, 3) if d != src], src
        for dst, dst_key in ((1, 1), (2, 2), (3, 5)):
            if dst != src:
                out = sim.inject(src, 1, eth_src=mac(port_key), eth_dst=mac(dst_key))
                assert reached(out) == [(dst, 1)]
    # 1 to 2 goes by cable, tagged; 1 to 3 in the tunnel.
    out = Simulator(states).inject(1, 1, eth_src=mac(1), eth_dst=BCAST)
    assert sorted((d.port, dict(d.packet)["vlans"]) for d in out) == [(10, (10,)), (50, ())]


def test_a_key_beyond_the_vlans_crosses_a_cable_in_a_tunnel():
    ports = [("b1", "B", 3), ("b2", "B", 4)]
    vifs = {"b1": (1, 2), "b2": (2, 2)}
    f = fabric(CABLES, vifs)
    states = compiled(f, ports)
    out = Simulator(states).inject(1, 2, eth_src=mac(3), eth_dst=mac(4))
    assert [(d.port, dict(d.packet).get("tunnel_id")) for d in out] == [(TUNNEL_PORT, 70000)]
    assert not any(
        ("vlan_vid", 0x1000 | 70000 & 0xFFF) in f.match for s in states.values() for f in s.flows
    )
    sim = Simulator(states, f.links, ENDPOINTS)
    assert reached(sim.inject(1, 2, eth_src=mac(3), eth_dst=BCAST)) == [(2, 2)]


def test_a_network_bridged_to_a_remote_site_floods_unknown_unicast_and_knows_named_macs():
    """The bridge device's port (a tunnel interface on switch 1) is a port of the network:
    frames to the site's hosts, which the model does not know, flood like on a learning
    bridge (and so reach the site); MACs named in remote_macs go to the site alone."""
    import dataclasses

    from naas_sdn.model.snapshot import L2_REMOTE_GATEWAY, RemoteTunnelView

    site_host, named = "02:00:0a:00:00:64", "02:00:0a:00:00:65"
    base = model(
        [("a1", "A", 1), ("gw", "A", 2), ("a3", "A", 3), ("b1", "B", 4)], networks=NETWORKS
    )
    ports = dict(base.ports)
    ports["gw"] = dataclasses.replace(ports["gw"], device_owner=L2_REMOTE_GATEWAY)
    view = RemoteTunnelView("c1", "gw", "A", "198.51.100.1", "vxlan", 4789, 10, (named,))
    m = dataclasses.replace(
        base,
        ports=MappingProxyType(ports),
        extra=MappingProxyType({"l2_remote_gateway_connections": {"c1": view}}),
    )
    vifs = {"a1": (1, 1), "gw": (1, 7), "a3": (2, 1), "b1": (2, 2)}
    f = fabric(vifs=vifs)
    states = compiler.compile_fabric(m, f)
    sim = Simulator(states, endpoints=ENDPOINTS)
    unknown = reached(sim.inject(2, 1, eth_src=mac(3), eth_dst=site_host))
    assert unknown == [(1, 1), (1, 7)]  # flooded: the site gets it
    assert reached(sim.inject(2, 1, eth_src=mac(3), eth_dst=named)) == [(1, 7)]
    assert reached(sim.inject(1, 7, eth_src=site_host, eth_dst=mac(3))) == [(2, 1)]
    # Network B has no remote site: its unknown unicast is still dropped.
    assert sim.inject(2, 2, eth_src=mac(4), eth_dst=site_host) == []
