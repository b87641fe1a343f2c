"""The pure compiler, judged by behaviour on a simulated fabric (no switch needed)."""

from types import MappingProxyType

import pytest

from naas_sdn.apps.programmer import plan
from naas_sdn.flows import compiler
from naas_sdn.flows.fabric import FabricSnapshot, VifLocation
from naas_sdn.flows.layout import Owner, Table, check_goto, cookie, identity, owner_of
from naas_sdn.flows.simulate import SimulationError, Simulator, fabric_links
from naas_sdn.model.snapshot import ModelSnapshot, NetworkView, PortView

BCAST = "ff:ff:ff:ff:ff:ff"


def mac(key):
    return f"fa:16:3e:00:00:{key:02x}"


def model(ports, networks=(("A", 10, True), ("B", 11, True)), **port_overrides):
    """ports: (port id, network id, key); network A and B belong to different tenants."""
    nets = [NetworkView(n, "tenant-" + n, k, up) for n, k, up in networks]
    views = [
        PortView(
            pid,
            net,
            "tenant-" + net,
            key,
            mac(key),
            port_overrides.get(pid, True),
            port_security_enabled=False,
        )
        for pid, net, key in ports
    ]
    return ModelSnapshot.build(nets, views)


def fabric(switches, cables, vifs):
    """vifs: port id -> (dpid, ofport)."""
    return FabricSnapshot(
        switches=frozenset(switches),
        links=frozenset(fabric_links(cables)),
        vifs=MappingProxyType({pid: VifLocation(f"br{d}", d, p) for pid, (d, p) in vifs.items()}),
    )


def simulate(m, f):
    states = compiler.compile_fabric(m, f)
    return Simulator(states, f.links), states


def reached(deliveries):
    return sorted((d.dpid, d.port) for d in deliveries)


# One switch, two tenants: ports a1 a2 in A, b1 b2 in B.
ONE_PORTS = [("a1", "A", 1), ("a2", "A", 2), ("b1", "B", 3), ("b2", "B", 4)]
ONE_VIFS = {"a1": (1, 1), "a2": (1, 2), "b1": (1, 3), "b2": (1, 4)}


def test_unicast_within_network_only():
    sim, _ = simulate(model(ONE_PORTS), fabric([1], [], ONE_VIFS))
    assert reached(sim.inject(1, 1, eth_src=mac(1), eth_dst=mac(2))) == [(1, 2)]
    assert sim.inject(1, 1, eth_src=mac(1), eth_dst=mac(4)) == []  # other tenant's MAC
    assert reached(sim.inject(1, 3, eth_src=mac(3), eth_dst=mac(4))) == [(1, 4)]


def test_broadcast_floods_own_network_only():
    sim, _ = simulate(model(ONE_PORTS), fabric([1], [], ONE_VIFS))
    assert reached(sim.inject(1, 1, eth_src=mac(1), eth_dst=BCAST)) == [(1, 2)]
    assert reached(sim.inject(1, 4, eth_src=mac(4), eth_dst="33:33:00:00:00:01")) == [(1, 3)]


def test_unbound_and_unknown_interfaces_are_dropped():
    sim, _ = simulate(model(ONE_PORTS), fabric([1], [], ONE_VIFS))
    assert sim.inject(1, 9, eth_src="02:00:00:00:00:09", eth_dst=BCAST) == []
    assert sim.inject(1, 9, eth_src="02:00:00:00:00:09", eth_dst=mac(1)) == []


def test_vm_tagged_frames_are_dropped():
    sim, _ = simulate(model(ONE_PORTS), fabric([1], [], ONE_VIFS))
    assert sim.inject(1, 1, eth_src=mac(1), eth_dst=mac(2), vlans=[11]) == []


def test_admin_down_port_and_network_carry_nothing():
    m = model(ONE_PORTS, a2=False)
    sim, _ = simulate(m, fabric([1], [], ONE_VIFS))
    assert sim.inject(1, 1, eth_src=mac(1), eth_dst=mac(2)) == []
    assert sim.inject(1, 2, eth_src=mac(2), eth_dst=mac(1)) == []
    m = model(ONE_PORTS, networks=(("A", 10, False), ("B", 11, True)))
    sim, _ = simulate(m, fabric([1], [], ONE_VIFS))
    assert sim.inject(1, 1, eth_src=mac(1), eth_dst=BCAST) == []
    assert reached(sim.inject(1, 3, eth_src=mac(3), eth_dst=BCAST)) == [(1, 4)]


# Linear s1 - s2 - s3 (port 10 toward the right, 11 toward the left); A and B on each switch.
LINEAR_CABLES = [((1, 10), (2, 11)), ((2, 10), (3, 11))]
LINEAR_PORTS = [(f"a{s}", "A", s) for s in (1, 2, 3)] + [(f"b{s}", "B", 10 + s) for s in (1, 2, 3)]
LINEAR_VIFS = {**{f"a{s}": (s, 1) for s in (1, 2, 3)}, **{f"b{s}": (s, 2) for s in (1, 2, 3)}}


def test_linear_fabric_unicast_and_broadcast_stay_in_network():
    sim, _ = simulate(model(LINEAR_PORTS), fabric([1, 2, 3], LINEAR_CABLES, LINEAR_VIFS))
    out = sim.inject(1, 1, eth_src=mac(1), eth_dst=mac(3))
    assert reached(out) == [(3, 1)]
    assert dict(out[0].packet)["vlans"] == ()  # untagged when it reaches the VM
    assert reached(sim.inject(1, 1, eth_src=mac(1), eth_dst=BCAST)) == [(2, 1), (3, 1)]
    assert reached(sim.inject(3, 2, eth_src=mac(13), eth_dst=BCAST)) == [(1, 2), (2, 2)]
    assert sim.inject(1, 1, eth_src=mac(1), eth_dst=mac(13)) == []


def test_fabric_frames_are_tagged_with_the_network_vlan():
    states = compiler.compile_fabric(
        model(LINEAR_PORTS), fabric([1, 2, 3], LINEAR_CABLES, LINEAR_VIFS)
    )
    sim = Simulator(states, [])  # no links followed: look at what leaves s1 on the fabric
    out = sim.inject(1, 1, eth_src=mac(1), eth_dst=mac(3))
    assert [(d.port, dict(d.packet)["vlans"]) for d in out] == [(10, (10,))]


def test_ring_broadcast_reaches_each_port_once_and_does_not_loop():
    ring = [((1, 10), (2, 11)), ((2, 10), (3, 11)), ((3, 10), (4, 11)), ((4, 10), (1, 11))]
    vifs = {f"a{s}": (s, 1) for s in (1, 2, 3, 4)}
    ports = [(f"a{s}", "A", s) for s in (1, 2, 3, 4)]
    sim, _ = simulate(model(ports), fabric([1, 2, 3, 4], ring, vifs))
    for s in (1, 2, 3, 4):
        got = reached(sim.inject(s, 1, eth_src=mac(s), eth_dst=BCAST))
        assert got == [(o, 1) for o in (1, 2, 3, 4) if o != s]
        for o in (1, 2, 3, 4):
            if o != s:
                assert reached(sim.inject(s, 1, eth_src=mac(s), eth_dst=mac(o))) == [(o, 1)]


def test_ring_reroutes_when_a_link_goes():
    ring = [((1, 10), (2, 11)), ((2, 10), (3, 11)), ((3, 10), (1, 11))]
    vifs = {"a1": (1, 1), "a2": (2, 1)}
    ports = [("a1", "A", 1), ("a2", "A", 2)]
    sim, _states = simulate(model(ports), fabric([1, 2, 3], ring, vifs))
    assert reached(sim.inject(1, 1, eth_src=mac(1), eth_dst=mac(2))) == [(2, 1)]
    broken = fabric([1, 2, 3], ring[1:], vifs)  # s1-s2 cut: via s3
    sim2, _states2 = simulate(model(ports), broken)
    assert reached(sim2.inject(1, 1, eth_src=mac(1), eth_dst=mac(2))) == [(2, 1)]
    assert reached(sim2.inject(2, 1, eth_src=mac(2), eth_dst=BCAST)) == [(1, 1)]


def test_one_way_link_is_not_used():
    f = FabricSnapshot(
        switches=frozenset({1, 2}),
        links=frozenset(fabric_links([((1, 10), (2, 11))])[:1]),
        vifs=MappingProxyType({"a1": VifLocation("b", 1, 1), "a2": VifLocation("b", 2, 1)}),
    )
    sim, _ = simulate(model([("a1", "A", 1), ("a2", "A", 2)]), f)
    assert sim.inject(1, 1, eth_src=mac(1), eth_dst=mac(2)) == []


def test_discovery_probes_go_to_controller_only_from_non_vif_ports():
    sim, _ = simulate(model(ONE_PORTS), fabric([1], [], ONE_VIFS))
    lldp = dict(eth_type=0x88CC, eth_dst="01:80:c2:00:00:0e", eth_src="02:00:00:00:00:01")
    assert reached(sim.inject(1, 9, **lldp)) == [(1, "controller")]
    assert "controller" not in [d.port for d in sim.inject(1, 1, **lldp)]


def test_port_changes_touch_only_that_ports_flows():
    f = fabric([1, 2, 3], LINEAR_CABLES, {**LINEAR_VIFS, "a9": (2, 5)})
    before = compiler.compile_fabric(model(LINEAR_PORTS), f)
    after = compiler.compile_fabric(model(LINEAR_PORTS + [("a9", "A", 9)]), f)
    for dpid in (1, 2, 3):
        todo = plan(after[dpid], before[dpid])
        assert not todo.flow_deletes
        assert {owner_of(fl.cookie) for fl in todo.flow_adds} == {(Owner.PORT, 9)}
        # Only the switch where a9 sits floods to it.
        assert len(todo.group_modifies) == (1 if dpid == 2 else 0)
        back = plan(before[dpid], after[dpid])
        assert {owner_of(fl.cookie) for fl in back.flow_deletes} == {(Owner.PORT, 9)}
        assert not back.flow_adds


def test_plan_is_empty_for_identical_state_and_ignores_generation():
    f = fabric([1], [], ONE_VIFS)
    state = compiler.compile_fabric(model(ONE_PORTS), f)[1]
    assert not plan(state, state)
    # As read back from a switch: flat flows stamped with another run's generation.
    from naas_sdn.flows.layout import with_generation
    from naas_sdn.flows.ofp import Flow, SwitchState

    stamped = [
        Flow(x.table, x.priority, x.match, x.instructions, with_generation(x.cookie, 7))
        for x in state.flows
    ]
    read_back = SwitchState.from_flows(stamped, state.groups, state.meters)
    assert not plan(state, read_back)
    # A flow someone changed on the switch is put right, and only that one.
    changed = next(f for f in stamped if f.instructions)  # one whose change is visible
    tampered = SwitchState.from_flows(
        stamped[1:] + [Flow(changed.table, changed.priority, changed.match, (), changed.cookie)],
        state.groups,
        state.meters,
    )
    todo = plan(state, tampered)
    assert [f.key for f in todo.flow_adds] == [changed.key] and not todo.flow_deletes


def test_unchanged_owners_are_the_same_objects_across_passes():
    f = fabric([1, 2, 3], LINEAR_CABLES, LINEAR_VIFS)
    first = compiler.compile_fabric(model(LINEAR_PORTS), f)
    again = compiler.compile_fabric(model(LINEAR_PORTS + [("a9", "A", 9)]), f)
    for dpid in (1, 2, 3):
        for owner, flows in first[dpid].parts.items():
            if owner_of(owner)[0] == Owner.PORT:
                assert again[dpid].parts[owner] is flows


def test_flow_count_grows_linearly_with_ports():
    def count(n):
        ports = [(f"p{i}", "A", i) for i in range(1, n + 1)]
        vifs = {f"p{i}": (1 + i % 3, 100 + i) for i in range(1, n + 1)}
        states = compiler.compile_fabric(model(ports), fabric([1, 2, 3], LINEAR_CABLES, vifs))
        return sum(len(s.flows) for s in states.values())

    small, large = count(10), count(100)
    assert large - small == pytest.approx((count(20) - small) * 9, rel=0.01)


def test_layout_rejects_undeclared_goto_and_cookie_roundtrip():
    with pytest.raises(ValueError):
        check_goto(Table.OUTPUT, Table.CLASSIFY)
    c = cookie(Owner.PORT, 12345)
    assert owner_of(c) == (Owner.PORT, 12345)
    assert identity(c | (0x7 << 40)) == c


def test_simulator_detects_ambiguity():
    from naas_sdn.flows import ofp

    flows = frozenset(
        {
            ofp.flow(Table.CLASSIFY, 5, ofp.match(in_port=1), (), 1),
            ofp.flow(Table.CLASSIFY, 5, ofp.match(eth_dst=BCAST), (), 2),
        }
    )
    with pytest.raises(SimulationError):
        Simulator({1: ofp.SwitchState.from_flows(flows)}).inject(1, 1, eth_dst=BCAST)


def test_plan_orders_every_kind_of_match_value_in_one_table_and_priority():
    """Exact values are strings or numbers, masked ones (value, mask) tuples, and they never
    compare; in one table and priority a plan must still sort them, the same way each time."""
    import random

    from naas_sdn.flows import ofp
    from naas_sdn.flows.layout import MULTICAST_BIT, Priority

    values = {
        "ipv4_src": ["10.0.0.1", ("10.8.0.0", "255.255.255.0")],
        "ipv6_src": ["2001:db8::1", ("2001:db8::", "ffff:ffff::")],
        "eth_dst": [mac(1), MULTICAST_BIT],
        "tcp_dst": [22, (1024, 0xFC00)],
        "metadata": [10, (10, 0xFFFFFFFF)],
    }
    flows = []
    for field, choices in values.items():
        for owner, value in enumerate(choices, start=1):
            for eth_type in (0x0800, 0x86DD):
                flows.append(
                    ofp.flow(
                        Table.INGRESS_ACL,
                        Priority.ACL_RULE,
                        ofp.match(eth_type=eth_type, **{field: value}),
                        (),
                        cookie(Owner.PORT, owner),
                    )
                )
    flows.append(
        ofp.flow(
            Table.INGRESS_ACL,
            Priority.ACL_RULE,
            ofp.match(eth_type=0x0800, ct_state=(0x22, 0x32)),
            (),
            cookie(Owner.ACL, 0),
        )
    )
    empty = ofp.SwitchState()
    orders = set()
    for seed in range(5):
        shuffled = list(flows)
        random.Random(seed).shuffle(shuffled)
        state = ofp.SwitchState.from_flows(shuffled)
        adds = plan(state, empty).flow_adds
        assert sorted(adds, key=repr) == sorted(flows, key=repr)
        assert [f.key for f in plan(empty, state).flow_deletes] == [f.key for f in adds]
        orders.add(tuple(adds))
    assert len(orders) == 1
