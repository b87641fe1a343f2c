"""Distributed routing, judged on the simulated fabric."""

import dataclasses
from types import MappingProxyType

from naas_sdn.apps.programmer import plan
from naas_sdn.flows import compiler
from naas_sdn.flows.fabric import FabricSnapshot, VifLocation
from naas_sdn.flows.layout import Owner, cookie, gateway_mac, owner_of
from naas_sdn.flows.simulate import Simulator, fabric_links
from naas_sdn.model.snapshot import (
    ROUTER_INTERFACE,
    ModelSnapshot,
    NetworkView,
    PortView,
    RouterView,
    SubnetView,
)

RMAC_A, RMAC_B, RMAC_A2 = "fa:16:3e:aa:00:01", "fa:16:3e:bb:00:01", "fa:16:3e:aa:00:02"


def mac(key):
    return f"fa:16:3e:00:00:{key:02x}"


def build(attach_b=True, routes=(), router_up=True):
    """Tenant t: network A (10.0.1.0/24 and 10.0.3.0/24), B (10.0.2.0/24), one router.
    Tenant u: network C with the same 10.0.2.0/24, not attached."""
    nets = [
        NetworkView("A", "t", 10, True),
        NetworkView("B", "t", 11, True),
        NetworkView("C", "u", 12, True),
    ]
    subnets = [
        SubnetView("A1", "A", "t", 4, "10.0.1.0/24", "10.0.1.1", True),
        SubnetView("A3", "A", "t", 4, "10.0.3.0/24", "10.0.3.1", True),
        SubnetView("B1", "B", "t", 4, "10.0.2.0/24", "10.0.2.1", True),
        SubnetView("C1", "C", "u", 4, "10.0.2.0/24", "10.0.2.1", True),
        SubnetView("A6", "A", "t", 6, "2001:db8:1::/64", "2001:db8:1::1", True),
        SubnetView("B6", "B", "t", 6, "2001:db8:2::/64", "2001:db8:2::1", True),
    ]
    ports = [
        PortView("a1", "A", "t", 1, mac(1), True, (("A1", "10.0.1.10"), ("A6", "2001:db8:1::10"))),
        PortView("a3", "A", "t", 3, mac(3), True, (("A3", "10.0.3.10"),)),
        PortView("b1", "B", "t", 2, mac(2), True, (("B1", "10.0.2.10"), ("B6", "2001:db8:2::10"))),
        PortView("b2", "B", "t", 4, mac(4), True, (("B1", "10.0.2.20"),)),
        PortView("c1", "C", "u", 5, mac(5), True, (("C1", "10.0.2.10"),)),
        PortView(
            "rA",
            "A",
            "t",
            90,
            RMAC_A,
            True,
            (("A1", "10.0.1.1"), ("A6", "2001:db8:1::1")),
            ROUTER_INTERFACE,
            "R",
        ),
        PortView("rA3", "A", "t", 92, RMAC_A2, True, (("A3", "10.0.3.1"),), ROUTER_INTERFACE, "R"),
    ]
    if attach_b:
        ports.append(
            PortView(
                "rB",
                "B",
                "t",
                91,
                RMAC_B,
                True,
                (("B1", "10.0.2.1"), ("B6", "2001:db8:2::1")),
                ROUTER_INTERFACE,
                "R",
            )
        )
    routers = [RouterView("R", "t", 7, router_up, tuple(routes))]
    # Routing alone: security groups are judged in test_policy.
    ports = [dataclasses.replace(p, port_security_enabled=False) for p in ports]
    model = ModelSnapshot.build(nets, ports, subnets=subnets, routers=routers)
    vifs = {"a1": (1, 1), "a3": (1, 3), "b1": (2, 1), "b2": (2, 2), "c1": (2, 3)}
    locations = {p: VifLocation("br", d, o) for p, (d, o) in vifs.items()}
    fabric = FabricSnapshot(
        frozenset({1, 2}),
        frozenset(fabric_links([((1, 10), (2, 10))])),
        MappingProxyType(locations),
    )
    return model, fabric


def ip4(src_key, dst_mac, src, dst, ttl=64, **extra):
    return dict(
        eth_src=mac(src_key),
        eth_dst=dst_mac,
        eth_type=0x0800,
        ipv4_src=src,
        ipv4_dst=dst,
        nw_ttl=ttl,
        ip_proto=17,
        **extra,
    )


def sim(**kw):
    model, fabric = build(**kw)
    states = compiler.compile_fabric(model, fabric)
    return Simulator(states, fabric.links), states


def test_routes_between_networks_across_switches_with_ttl_and_macs_rewritten():
    s, _ = sim()
    out = s.inject(1, 1, **ip4(1, RMAC_A, "10.0.1.10", "10.0.2.10"))
    assert [(d.dpid, d.port) for d in out] == [(2, 1)]
    p = dict(out[0].packet)
    assert (p["eth_src"], p["eth_dst"], p["nw_ttl"], p["vlans"]) == (RMAC_B, mac(2), 63, ())
    back = s.inject(2, 1, **ip4(2, RMAC_B, "10.0.2.10", "10.0.1.10"))
    assert [(d.dpid, d.port) for d in back] == [(1, 1)]


def test_routes_between_subnets_of_one_network():
    s, _ = sim()
    out = s.inject(1, 1, **ip4(1, RMAC_A, "10.0.1.10", "10.0.3.10"))
    assert [(d.port, dict(d.packet)["eth_src"]) for d in out] == [(3, RMAC_A2)]


def test_ipv6_is_routed_with_hop_limit():
    s, _ = sim()
    out = s.inject(
        1,
        1,
        eth_src=mac(1),
        eth_dst=RMAC_A,
        eth_type=0x86DD,
        ip_proto=17,
        ipv6_src="2001:db8:1::10",
        ipv6_dst="2001:db8:2::10",
        nw_ttl=5,
    )
    assert [(d.dpid, d.port, dict(d.packet)["nw_ttl"]) for d in out] == [(2, 1, 4)]


def test_overlapping_addresses_of_another_tenant_are_not_reached():
    s, _ = sim()
    out = s.inject(1, 1, **ip4(1, RMAC_A, "10.0.1.10", "10.0.2.10"))
    assert (2, 3) not in [(d.dpid, d.port) for d in out]  # c1 holds 10.0.2.10 too


def test_ttl_expiry_and_echo_to_the_router_go_to_the_controller():
    s, _ = sim()
    assert [d.port for d in s.inject(1, 1, **ip4(1, RMAC_A, "10.0.1.10", "10.0.2.10", ttl=1))] == [
        "controller"
    ]
    echo = ip4(1, RMAC_A, "10.0.1.10", "10.0.1.1")
    echo.update(ip_proto=1, icmpv4_type=8)
    assert [d.port for d in s.inject(1, 1, **echo)] == ["controller"]
    assert s.inject(1, 1, **ip4(1, RMAC_A, "10.0.1.10", "10.0.2.1")) == []  # udp to router


def test_gateway_arp_answered_with_the_router_port_mac():
    s, _ = sim()
    out = s.inject(
        1,
        1,
        eth_src=mac(1),
        eth_dst="ff:ff:ff:ff:ff:ff",
        eth_type=0x0806,
        arp_op=1,
        arp_spa="10.0.1.10",
        arp_sha=mac(1),
        arp_tpa="10.0.1.1",
    )
    assert [(d.port, dict(d.packet)["arp_sha"]) for d in out] == [(1, RMAC_A)]


def test_a_host_that_learnt_the_network_gateway_mac_before_the_router_is_routed():
    """Before a router held 10.0.1.1 the network answered for it with its gateway MAC; a host
    keeps that in its ARP cache, and its subnet's router routes what it sends there."""
    s, _ = sim()
    out = s.inject(1, 1, **ip4(1, gateway_mac(10), "10.0.1.10", "10.0.2.10"))
    assert [(d.dpid, d.port, dict(d.packet)["eth_src"]) for d in out] == [(2, 1, RMAC_B)]
    out = s.inject(1, 3, **ip4(3, gateway_mac(10), "10.0.3.10", "10.0.2.10"))
    assert [(d.dpid, d.port) for d in out] == [(2, 1)]
    detached, _ = sim(attach_b=False)
    back = detached.inject(2, 1, **ip4(2, gateway_mac(11), "10.0.2.10", "10.0.1.10"))
    assert back == []  # B's gateway is held by no router: nothing routes it


def test_static_route_via_a_port_on_an_attached_subnet():
    s, _ = sim(routes=[("192.168.0.0/16", "10.0.2.20")])
    out = s.inject(1, 1, **ip4(1, RMAC_A, "10.0.1.10", "192.168.7.7"))
    assert [(d.dpid, d.port, dict(d.packet)["eth_dst"]) for d in out] == [(2, 2, mac(4))]
    # Longest prefix wins: the connected host route beats a covering static route.
    s, _ = sim(routes=[("10.0.2.0/24", "10.0.2.20")])
    out = s.inject(1, 1, **ip4(1, RMAC_A, "10.0.1.10", "10.0.2.10"))
    assert [(d.dpid, d.port) for d in out] == [(2, 1)]


def test_removing_an_interface_stops_routing_and_leaves_no_flow_of_it():
    _, before = sim()
    s, after = sim(attach_b=False)
    model, _ = build(attach_b=False)
    assert s.inject(1, 1, **ip4(1, RMAC_A, "10.0.1.10", "10.0.2.10")) == []
    keys = {n.id: n.key for n in model.networks.values()}
    ports_on: dict[int, set] = {}
    for port in model.ports.values():
        ports_on.setdefault(keys[port.network_id], set()).add(port.key)
    # A and B are routed with nothing now: each switch keeps only the network it has ports of.
    assert [d for d in (1, 2) if cookie(Owner.NETWORK, 11) in after[d].parts] == [2]
    assert [d for d in (1, 2) if cookie(Owner.NETWORK, 10) in after[d].parts] == [1]
    for dpid in (1, 2):
        todo = plan(after[dpid], before[dpid])
        # Only addition: where B stays, it answers its gateway's ARP again, with its own MAC.
        assert [(owner_of(f.cookie), dict(f.match)["arp_tpa"]) for f in todo.flow_adds] == (
            [((Owner.NETWORK, 11), "10.0.2.1")] if dpid == 2 else []
        )
        other = 11 if dpid == 1 else 10
        leaving = {(Owner.NETWORK, other)} | {(Owner.PORT, k) for k in ports_on[other]}
        assert not {owner_of(o) for o in after[dpid].parts} & leaving
        for f in todo.flow_deletes:
            if owner_of(f.cookie) in leaving or owner_of(f.cookie) == (Owner.ROUTER, 7):
                continue
            # what else goes is the routes to B's ports and what named the router's side on B
            # (its MAC, its subnet, its link-local address)
            named = (RMAC_B, "10.0.2", "fe80::f816:3eff:febb:1")
            assert "reg5" in str(f.match) or any(n in str(f) for n in named), f
    assert not any("fa:16:3e:bb" in str(f) for f in after[1].flows)


def test_disabled_router_routes_nothing():
    s, _ = sim(router_up=False)
    assert s.inject(1, 1, **ip4(1, RMAC_A, "10.0.1.10", "10.0.2.10")) == []
