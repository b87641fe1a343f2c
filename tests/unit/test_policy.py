"""Port security, stateful security groups, protocol blocks and QoS, judged on the simulated
fabric (conntrack and conjunctive matches included)."""

import dataclasses
from types import MappingProxyType

import pytest

from naas_sdn.flows import addresses, compiler, policy
from naas_sdn.flows.fabric import FabricSnapshot, VifLocation
from naas_sdn.flows.layout import POLICY_DROPS, Owner, Table, cookie, qos_meter
from naas_sdn.flows.simulate import Simulator
from naas_sdn.model.snapshot import (
    ModelSnapshot,
    NetworkView,
    PortView,
    ProtocolBlockView,
    QosPolicyView,
    SecurityGroupRuleView,
    SecurityGroupView,
    SubnetView,
)

BCAST = "ff:ff:ff:ff:ff:ff"


def mac(key):
    return f"fa:16:3e:00:00:{key:02x}"


def ip(key):
    return f"10.0.0.{key}"


def rule(
    key,
    group,
    direction,
    ethertype="IPv4",
    protocol=None,
    low=None,
    high=None,
    prefix=None,
    remote_group=None,
):
    return SecurityGroupRuleView(
        f"r{key}", key, group, direction, ethertype, protocol, low, high, prefix, remote_group
    )


def open_group(group="sg", project="t", first_key=1):
    """Everything out, and in from the group's own members (Neutron's default group)."""
    return SecurityGroupView(
        group,
        project,
        (
            rule(first_key, group, "egress"),
            rule(first_key + 1, group, "egress", "IPv6"),
            rule(first_key + 2, group, "ingress", remote_group=group),
            rule(first_key + 3, group, "ingress", "IPv6", remote_group=group),
        ),
    )


def lab(keys=(1, 2, 3), groups=(), blocks=(), qos=(), network_qos=None, **port_changes):
    """Network A (10.0.0.0/24) with ports 1..n on switch 1; port k holds 10.0.0.k."""
    net = NetworkView("A", "t", 10, True, network_qos)
    other = NetworkView("B", "t", 11, True)
    subnets = [
        SubnetView("A4", "A", "t", 4, "10.0.0.0/24", "10.0.0.1", True),
        SubnetView("B4", "B", "t", 4, "10.0.0.0/24", "10.0.0.1", True),
    ]
    ports = []
    for key in keys:
        network = "B" if key >= 10 else "A"
        port = PortView(
            f"p{key}",
            network,
            "t",
            key,
            mac(key),
            True,
            ((f"{network}4", ip(key)),),
            security_group_ids=tuple(sorted(g.id for g in groups)) or (),
        )
        ports.append(dataclasses.replace(port, **port_changes.get(f"p{key}", {})))
    model = ModelSnapshot.build(
        [net, other],
        ports,
        subnets=subnets,
        security_groups=groups,
        protocol_blocks=blocks,
        qos_policies=qos,
    )
    fabric = FabricSnapshot(
        frozenset({1}),
        frozenset(),
        MappingProxyType({f"p{k}": VifLocation("br", 1, k) for k in keys}),
    )
    return model, fabric


def sim_of(model, fabric):
    return Simulator(compiler.compile_fabric(model, fabric))


def tcp(src, dst, sport, dport, **extra):
    return dict(
        eth_src=mac(src),
        eth_dst=mac(dst),
        eth_type=0x0800,
        ipv4_src=ip(src),
        ipv4_dst=ip(dst),
        ip_proto=6,
        tcp_src=sport,
        tcp_dst=dport,
        **extra,
    )


def udp(src, dst, dport=5201):
    return dict(
        eth_src=mac(src),
        eth_dst=mac(dst),
        eth_type=0x0800,
        ipv4_src=ip(src),
        ipv4_dst=ip(dst),
        ip_proto=17,
        udp_src=40000,
        udp_dst=dport,
    )


def ports_reached(sim, src, **packet):
    return sorted(d.port for d in sim.inject(1, src, **packet))


# ---- port security --------------------------------------------------------------------------


def test_only_the_ports_own_mac_and_addresses_get_through():
    sim = sim_of(*lab(groups=(open_group(),)))
    assert ports_reached(sim, 1, **tcp(1, 2, 40000, 22)) == [2]
    assert ports_reached(sim, 1, **dict(tcp(1, 2, 40000, 22), eth_src=mac(9))) == []
    assert ports_reached(sim, 1, **dict(tcp(1, 2, 40000, 22), ipv4_src="10.0.0.99")) == []
    # ARP: the sender fields are checked too, so a VM cannot poison its neighbours.
    arp = dict(
        eth_src=mac(1),
        eth_dst=BCAST,
        eth_type=0x0806,
        arp_op=2,
        arp_sha=mac(1),
        arp_spa=ip(1),
        arp_tpa=ip(2),
        arp_tha=mac(2),
    )
    assert ports_reached(sim, 1, **arp) == [2, 3]
    assert ports_reached(sim, 1, **dict(arp, arp_spa=ip(2))) == []
    assert ports_reached(sim, 1, **dict(arp, arp_sha=mac(2))) == []


def test_before_an_address_dhcp_and_dad_get_through_but_a_rogue_dhcp_server_does_not():
    sim = sim_of(*lab(groups=(open_group(),)))
    discover = dict(
        eth_src=mac(1),
        eth_dst=BCAST,
        eth_type=0x0800,
        ipv4_src="0.0.0.0",
        ipv4_dst="255.255.255.255",
        ip_proto=17,
        udp_src=68,
        udp_dst=67,
    )
    assert ports_reached(sim, 1, **discover) == ["controller"]
    offer = dict(discover, ipv4_src=ip(1), udp_src=67, udp_dst=68)
    assert ports_reached(sim, 1, **offer) == []
    dad = dict(
        eth_src=mac(1),
        eth_dst="33:33:ff:00:00:01",
        eth_type=0x86DD,
        ipv6_src="::",
        ip_proto=58,
        icmpv6_type=135,
        ipv6_nd_target="fe80::1234",
    )
    assert ports_reached(sim, 1, **dad) == [2, 3]
    ra = dict(
        eth_src=mac(1),
        eth_dst="33:33:00:00:00:01",
        eth_type=0x86DD,
        ipv6_src=addresses.link_local(mac(1)),
        ip_proto=58,
        icmpv6_type=134,
    )
    assert ports_reached(sim, 1, **ra) == []


def neighbour_advertisement(src, dst):
    """Port ``src`` tells port ``dst`` its link-local address."""
    return dict(
        eth_src=mac(src),
        eth_dst=mac(dst),
        eth_type=0x86DD,
        ipv6_src=addresses.link_local(mac(src)),
        ipv6_dst=addresses.link_local(mac(dst)),
        ip_proto=58,
        icmpv6_type=136,
        ipv6_nd_target=addresses.link_local(mac(src)),
    )


def test_neighbour_advertisements_only_for_the_ports_own_addresses():
    sim = sim_of(*lab(groups=(open_group(),)))
    na = neighbour_advertisement(1, 2)
    assert ports_reached(sim, 1, **na) == [2]
    assert ports_reached(sim, 1, **dict(na, ipv6_nd_target=addresses.link_local(mac(3)))) == []


def test_allowed_address_pairs_and_disabled_port_security():
    pairs = {
        "p1": dict(
            allowed_address_pairs=(("10.0.0.200/32", mac(1)), ("10.0.5.0/24", "fa:16:3e:00:00:99"))
        )
    }
    sim = sim_of(*lab(groups=(open_group(),), **pairs))
    assert ports_reached(sim, 1, **dict(tcp(1, 2, 1, 22), ipv4_src="10.0.0.200")) == [2]
    assert ports_reached(
        sim, 1, **dict(tcp(1, 2, 1, 22), ipv4_src="10.0.5.7", eth_src="fa:16:3e:00:00:99")
    ) == [2]
    assert ports_reached(sim, 1, **dict(tcp(1, 2, 1, 22), ipv4_src="10.0.5.7")) == []
    free = {"p1": dict(port_security_enabled=False, security_group_ids=())}
    sim = sim_of(*lab(groups=(open_group(),), **free))
    spoofed = dict(tcp(1, 2, 1, 22), eth_src=mac(9), ipv4_src="192.0.2.1")
    assert ports_reached(sim, 1, **spoofed) == []  # port 2's group admits its members only
    sim = sim_of(
        *lab(
            groups=(open_group(),),
            **free,
            p2=dict(port_security_enabled=False, security_group_ids=()),
        )
    )
    assert ports_reached(sim, 1, **spoofed) == [2]


# ---- security groups ------------------------------------------------------------------------

SSH_ONLY = SecurityGroupView(
    "ssh", "t", (rule(1, "ssh", "egress"), rule(2, "ssh", "ingress", protocol=6, low=22, high=22))
)


def test_stateful_ingress_tcp_22_only():
    model, fabric = lab(groups=(SSH_ONLY,))
    sim = sim_of(model, fabric)
    assert ports_reached(sim, 1, **tcp(1, 2, 40000, 22)) == [2]
    assert ports_reached(sim, 1, **tcp(1, 2, 40001, 80)) == []
    # Port 2's own outbound connection to 80: the reply is let in although no rule admits 80.
    assert ports_reached(sim, 2, **tcp(2, 1, 80, 40002)) == []  # port 1 takes in 22 only
    assert ports_reached(sim, 1, **tcp(1, 2, 80, 40003)) == []
    sim_open = sim_of(
        *lab(groups=(SSH_ONLY,), p1=dict(port_security_enabled=False, security_group_ids=()))
    )
    assert ports_reached(sim_open, 2, **tcp(2, 1, 40004, 80)) == [1]
    assert ports_reached(sim_open, 1, **tcp(1, 2, 80, 40004)) == [2]  # the reply
    assert ports_reached(sim_open, 1, **tcp(1, 2, 80, 40005)) == []  # not a reply: new


def test_removing_a_rule_stops_new_connections_but_not_the_ones_it_let_in():
    model, fabric = lab(groups=(SSH_ONLY,))
    sim = sim_of(model, fabric)
    assert ports_reached(sim, 1, **tcp(1, 2, 40000, 22)) == [2]
    closed = SecurityGroupView("ssh", "t", SSH_ONLY.rules[:1])
    sim.states = compiler.compile_fabric(*lab(groups=(closed,)))
    assert ports_reached(sim, 1, **tcp(1, 2, 40001, 22)) == []
    assert ports_reached(sim, 1, **tcp(1, 2, 40000, 22)) == [2]


def test_port_ranges_icmp_and_remote_prefixes():
    group = SecurityGroupView(
        "g",
        "t",
        (
            rule(1, "g", "egress"),
            rule(2, "g", "ingress", protocol=17, low=5000, high=5999, prefix="10.0.0.0/30"),
            rule(3, "g", "ingress", protocol=1, low=8),
        ),
    )
    sim = sim_of(*lab(keys=(1, 2, 3, 4, 5), groups=(group,)))
    for dport, reached in ((4999, []), (5000, [4]), (5555, [4]), (5999, [4]), (6000, [])):
        assert ports_reached(sim, 3, **udp(3, 4, dport)) == reached, dport
    assert ports_reached(sim, 5, **udp(5, 4, 5000)) == []  # 10.0.0.5 is outside the prefix
    ping = dict(
        eth_src=mac(1),
        eth_dst=mac(2),
        eth_type=0x0800,
        ipv4_src=ip(1),
        ipv4_dst=ip(2),
        ip_proto=1,
        icmpv4_type=8,
        icmpv4_code=0,
    )
    assert ports_reached(sim, 1, **ping) == [2]
    assert ports_reached(sim, 1, **dict(ping, icmpv4_type=13)) == []


def test_remote_group_admits_members_only_and_follows_membership():
    web = SecurityGroupView("web", "t", (rule(1, "web", "egress"),))
    db = SecurityGroupView(
        "db",
        "t",
        (
            rule(2, "db", "egress"),
            rule(3, "db", "ingress", protocol=6, low=5432, high=5432, remote_group="web"),
        ),
    )
    members = dict(
        p1=dict(security_group_ids=("web",)),
        p2=dict(security_group_ids=("db",)),
        p3=dict(security_group_ids=("db",)),
    )
    sim = sim_of(*lab(groups=(web, db), **members))
    assert ports_reached(sim, 1, **tcp(1, 2, 40000, 5432)) == [2]
    assert ports_reached(sim, 3, **tcp(3, 2, 40000, 5432)) == []
    members["p3"] = dict(security_group_ids=("db", "web"))
    sim = sim_of(*lab(groups=(web, db), **members))
    assert ports_reached(sim, 3, **tcp(3, 2, 40001, 5432)) == [2]


def test_no_group_with_port_security_admits_no_ip():
    sim = sim_of(*lab(groups=(open_group(),), p2=dict(security_group_ids=())))
    assert ports_reached(sim, 1, **tcp(1, 2, 40000, 22)) == []
    assert ports_reached(sim, 2, **tcp(2, 1, 40000, 22)) == []


def flow_count(rules, ports):
    group = SecurityGroupView(
        "g",
        "t",
        tuple(
            rule(k, "g", "ingress", protocol=6, low=1000 + k, high=1000 + k)
            for k in range(1, rules)
        )
        + (rule(rules, "g", "egress"),),
    )
    keys = tuple(range(1, ports + 1))
    model, fabric = lab(keys=keys, groups=(group,))
    return len(compiler.compile_fabric(model, fabric)[1].flows)


def test_flows_grow_with_rules_plus_ports_not_their_product():
    base = flow_count(50, 50)
    more_ports = flow_count(50, 100) - base
    more_rules = flow_count(100, 50) - base
    # Each added port or rule costs a constant number of flows, whatever the other count.
    assert flow_count(100, 100) - flow_count(100, 50) == more_ports
    assert flow_count(100, 100) - flow_count(50, 100) == more_rules
    assert more_rules == 50 * 2  # its clause and its conjunction flow
    assert flow_count(100, 100) < 100 * 100


def test_clause_flows_merge_across_groups_and_commit_in_the_ports_zone():
    a = SecurityGroupView("a", "t", (rule(1, "a", "ingress", protocol=6, low=22, high=22),))
    b = SecurityGroupView("b", "u", (rule(2, "b", "ingress", protocol=6, low=22, high=22),))
    model, fabric = lab(
        groups=(a, b), p1=dict(security_group_ids=("a",)), p2=dict(security_group_ids=("b",))
    )
    flows = compiler.compile_fabric(model, fabric)[1].flows
    shared = [f for f in flows if f.table == Table.INGRESS_ACL and ("tcp_dst", 22) in f.match]
    assert len(shared) == 1
    assert shared[0].instructions == (
        ("apply", (("conjunction", 1, 2, 2), ("conjunction", 2, 2, 2))),
    )
    commit = [f for f in flows if ("conj_id", 1) in f.match]
    assert commit[0].instructions[0] == ("apply", (("ct", True, "reg7", None),))


# ---- stateless security groups --------------------------------------------------------------

SSH_IN_ONLY = SecurityGroupView(
    "sl", "t", (rule(1, "sl", "ingress", protocol=6, low=22, high=22),), stateful=False
)
CLIENT = {"p1": dict(port_security_enabled=False, security_group_ids=())}


def _actions(flow) -> list:
    return [a for kind, *rest in flow.instructions if kind == "apply" for a in rest[0]]


def test_stateless_ingress_tcp_22_lets_a_reply_out_only_if_an_egress_rule_admits_it():
    sim = sim_of(*lab(groups=(SSH_IN_ONLY,), **CLIENT))
    assert ports_reached(sim, 1, **tcp(1, 2, 40000, 22)) == [2]
    assert ports_reached(sim, 2, **tcp(2, 1, 22, 40000)) == []  # the reply: no egress rule
    assert ports_reached(sim, 1, **tcp(1, 2, 40000, 80)) == []
    # The same group, stateful: the reply goes out on the connection alone.
    stateful = dataclasses.replace(SSH_IN_ONLY, stateful=True)
    sim = sim_of(*lab(groups=(stateful,), **CLIENT))
    assert ports_reached(sim, 1, **tcp(1, 2, 40000, 22)) == [2]
    assert ports_reached(sim, 2, **tcp(2, 1, 22, 40000)) == [1]
    # Stateless with an egress rule toward the client: the reply goes out, and so does
    # anything else that rule admits, connection or not.
    both_ways = dataclasses.replace(
        SSH_IN_ONLY,
        rules=SSH_IN_ONLY.rules + (rule(2, "sl", "egress", protocol=6, prefix=f"{ip(1)}/32"),),
    )
    sim = sim_of(*lab(groups=(both_ways,), **CLIENT))
    assert ports_reached(sim, 1, **tcp(1, 2, 40000, 22)) == [2]
    assert ports_reached(sim, 2, **tcp(2, 1, 22, 40000)) == [1]
    assert ports_reached(sim, 2, **tcp(2, 1, 40001, 80)) == [1]
    assert ports_reached(sim, 2, **tcp(2, 3, 22, 40000)) == []  # not toward the client
    # Port 2's own connection out: its reply is judged by the ingress rules, which do not
    # admit it (no established shortcut).
    assert ports_reached(sim, 1, **tcp(1, 2, 80, 40001)) == []


def test_a_stateless_port_never_meets_conntrack_nor_a_neighbours_connection_state():
    """Port 2 (stateless) talks to port 1 (stateful, admits tcp/80) on the same switch: 1's
    reply is established in 1's zone, yet 2's ingress rules alone judge it."""
    web = SecurityGroupView(
        "web",
        "t",
        (rule(3, "web", "egress"), rule(4, "web", "ingress", protocol=6, low=80, high=80)),
    )
    out = rule(2, "sl", "egress", protocol=6)
    stateless = dataclasses.replace(SSH_IN_ONLY, rules=SSH_IN_ONLY.rules + (out,))
    members = dict(p1=dict(security_group_ids=("web",)), p2=dict(security_group_ids=("sl",)))
    model, fabric = lab(keys=(1, 2), groups=(web, stateless), **members)
    state = compiler.compile_fabric(model, fabric)[1]
    sim = Simulator({1: state})
    assert ports_reached(sim, 2, **tcp(2, 1, 40000, 80)) == [1]
    assert ports_reached(sim, 1, **tcp(1, 2, 80, 40000)) == []  # +est in 1's zone, not 2's
    assert ports_reached(sim, 1, **tcp(1, 2, 40001, 22)) == [2]
    # No ct() in port 2's flows nor in its rules' conjunction flows; port 1's are tracked.
    mine = {cookie(Owner.PORT, 2), cookie(Owner.COUNTER, 2)}
    two = [f for f in state.flows if f.cookie in mine]
    rules = [f for f in state.flows if dict(f.match).get("conj_id") in (1, 2)]
    assert two and len(rules) == 2
    assert not [a for f in two + rules for a in _actions(f) if a[0] == "ct"]
    assert sorted(f.table for f in two if ("ct_clear",) in _actions(f)) == [
        Table.EGRESS_POLICY,
        Table.EGRESS_POLICY,
        Table.INGRESS_POLICY,
        Table.INGRESS_POLICY,
    ]
    assert not [f for f in two if "ct_state" in dict(f.match)]
    ones = [f for f in state.flows if f.cookie == cookie(Owner.PORT, 1)]
    assert [a for f in ones for a in _actions(f) if a[0] == "ct"]


def test_a_stateless_port_without_rules_still_gets_arp_neighbour_discovery_and_dhcp():
    """What Neutron's firewall lets through whatever the rules: ARP, ND, DHCP; not IP."""
    empty = SecurityGroupView("sl", "t", (), stateful=False)
    sim = sim_of(*lab(keys=(1, 2), groups=(empty,)))
    arp = dict(
        eth_src=mac(1),
        eth_dst=BCAST,
        eth_type=0x0806,
        arp_op=1,
        arp_sha=mac(1),
        arp_spa=ip(1),
        arp_tpa="10.0.0.77",
    )
    assert ports_reached(sim, 1, **arp) == [2]
    assert ports_reached(sim, 1, **neighbour_advertisement(1, 2)) == [2]
    offer = dict(udp(1, 2), udp_src=67, udp_dst=68)
    free = sim_of(*lab(keys=(1, 2), groups=(empty,), **CLIENT))
    assert ports_reached(free, 1, **offer) == [2]  # a tenant's own DHCP server answers
    assert ports_reached(sim, 1, **udp(1, 2)) == []
    assert ports_reached(free, 1, **udp(1, 2)) == []


def test_a_port_is_stateless_only_when_all_its_groups_are():
    stateless = SecurityGroupView("sl", "t", (rule(1, "sl", "egress"),), stateful=False)
    stateful = SecurityGroupView("sf", "t", (rule(2, "sf", "egress"),))
    model, fabric = lab(
        keys=(1, 2, 3),
        groups=(stateless, stateful),
        p1=dict(security_group_ids=("sl",)),
        p2=dict(security_group_ids=("sf", "sl")),  # refused by the API; conntrack here
        p3=dict(security_group_ids=()),
    )
    bound = {b.port.key: b.policy.stateful for b in compiler.compile_inputs(model, fabric)[0]}
    assert bound == {1: False, 2: True, 3: True}


# ---- protocol blocks ------------------------------------------------------------------------


def test_network_udp_block_stops_udp_within_that_network_only():
    block = ProtocolBlockView("blk", 1, "A", 17)
    free = {f"p{k}": dict(port_security_enabled=False) for k in (1, 2, 11, 12)}
    sim = sim_of(*lab(keys=(1, 2, 11, 12), blocks=(block,), **free))
    assert ports_reached(sim, 1, **udp(1, 2)) == []
    assert ports_reached(sim, 1, **tcp(1, 2, 1, 5201)) == [2]
    assert ports_reached(sim, 11, **udp(11, 12)) == [12]
    drops = [
        f
        for f in compiler.compile_fabric(*lab(keys=(1, 2, 11, 12), blocks=(block,), **free))[
            1
        ].flows
        if POLICY_DROPS.get((f.table, f.priority)) == "protocol_block"
    ]
    # Both directions of every port of network A, each counted by the port's own flow.
    assert sorted((f.table, f.cookie) for f in drops) == sorted(
        (t, cookie(Owner.COUNTER, k))
        for t in (Table.EGRESS_POLICY, Table.INGRESS_POLICY)
        for k in (1, 2)
        for _ in (4, 6)
    )


def test_a_block_keeps_neighbour_discovery_and_spans_port_ranges():
    blocks = (
        ProtocolBlockView("icmp", 1, "A", 1, "IPv6"),
        ProtocolBlockView("web", 2, "A", 6, "IPv4", 80, 81),
    )
    free = {f"p{k}": dict(port_security_enabled=False) for k in (1, 2)}
    sim = sim_of(*lab(keys=(1, 2), blocks=blocks, **free))
    ns = dict(
        eth_src=mac(1),
        eth_dst=mac(2),
        eth_type=0x86DD,
        ip_proto=58,
        icmpv6_type=135,
        ipv6_src=addresses.link_local(mac(1)),
        ipv6_dst=addresses.link_local(mac(2)),
        ipv6_nd_target=addresses.link_local(mac(2)),
    )
    assert ports_reached(sim, 1, **ns) == [2]
    assert ports_reached(sim, 1, **dict(ns, icmpv6_type=128)) == []
    assert [ports_reached(sim, 1, **tcp(1, 2, 1, p)) for p in (79, 80, 81, 82)] == [
        [2],
        [],
        [],
        [2],
    ]


# ---- QoS ------------------------------------------------------------------------------------


def test_port_policy_wins_over_the_networks_and_compiles_to_meters_and_dscp():
    gold = QosPolicyView("gold", "t", (("egress", 10000, 0), ("ingress", 20000, 4000)), 26)
    slow = QosPolicyView("slow", "t", (("egress", 1000, 0),))
    free = {
        "p1": dict(port_security_enabled=False, qos_policy_id="gold"),
        "p2": dict(port_security_enabled=False),
    }
    model, fabric = lab(keys=(1, 2), qos=(gold, slow), network_qos="slow", **free)
    state = compiler.compile_fabric(model, fabric)[1]
    meters = {m.meter_id: m for m in state.meters}
    assert meters[qos_meter(1, "egress")] == policy.ofp.Meter(
        qos_meter(1, "egress"), 10000, 8000, True
    )
    assert meters[qos_meter(1, "ingress")].burst == 4000
    assert meters[qos_meter(2, "egress")].rate == 1000
    assert qos_meter(2, "ingress") not in meters
    sim = Simulator({1: state})
    out = sim.inject(1, 1, **udp(1, 2))
    assert [dict(d.packet).get("ip_dscp") for d in out] == [26]
    marked = [
        f
        for f in state.flows
        if f.table == Table.EGRESS_QOS
        and ("reg6", 1) in f.match
        and ("eth_type", 0x0800) in f.match
    ]
    assert marked[0].instructions[0] == ("meter", qos_meter(1, "egress"))
    output = [f for f in state.flows if f.table == Table.OUTPUT and ("reg7", 1) in f.match]
    assert output[0].instructions[0] == ("meter", qos_meter(1, "ingress"))


@pytest.mark.parametrize("low,high", [(1, 1), (0, 65535), (1000, 1999), (22, 80), (5, 6)])
def test_port_range_masks_cover_exactly_the_range(low, high):
    masks = policy.port_range_masks(low, high)
    covered = set()
    for m in masks:
        value, mask = (m, 0xFFFF) if isinstance(m, int) else m
        covered |= {p for p in range(65536) if p & mask == value}
    assert covered == set(range(low, high + 1))


def test_a_prefix_rule_next_to_remote_group_members_is_planned():
    """Issue 11: tenant A's ICMP rule from 10.8.0.0/24 (a masked match) beside the exact
    member addresses of tenant B's default group, in one ACL table and priority."""
    from naas_sdn.apps.programmer import plan

    alice = SecurityGroupView(
        "a-default",
        "a",
        open_group("a-default", "a").rules
        + (rule(9, "a-default", "ingress", protocol=1, prefix="10.8.0.0/24"),),
    )
    bob = open_group("b-default", "b", first_key=20)
    members = dict(
        p1=dict(security_group_ids=("a-default",)),
        p2=dict(security_group_ids=("b-default",), allowed_address_pairs=(("10.8.0.5", mac(2)),)),
        p3=dict(security_group_ids=("b-default",)),
    )
    state = compiler.compile_fabric(*lab(groups=(alice, bob), **members))[1]
    acl = [f for f in state.flows if f.table == Table.INGRESS_ACL]
    assert {type(dict(f.match).get("ipv4_src")) for f in acl} >= {str, tuple}
    todo = plan(state, type(state)())
    assert len(todo.flow_adds) == len(state.flows)
    again = compiler.compile_fabric(
        *lab(
            keys=(1, 2, 3, 4),
            groups=(alice, bob),
            p4=dict(security_group_ids=("b-default",)),
            **members,
        )
    )
    assert plan(again[1], state).flow_adds
    # The prefix rule admits what comes from inside it.
    sim = Simulator({1: state})
    ping = dict(
        eth_src=mac(2),
        eth_dst=mac(1),
        eth_type=0x0800,
        ipv4_src=ip(2),
        ipv4_dst=ip(1),
        ip_proto=1,
        icmpv4_type=8,
        icmpv4_code=0,
    )
    assert ports_reached(sim, 2, **dict(ping, ipv4_src="10.8.0.5")) == [1]
    assert ports_reached(sim, 2, **ping) == []  # 10.0.0.2 is outside 10.8.0.0/24


def test_a_rule_whose_flows_cannot_be_built_is_left_out_alone():
    broken = dataclasses.replace(
        rule(9, "g", "ingress", protocol=6, low=80, high=80), ethertype="IPv5"
    )  # past the API's validation, somehow
    group = SecurityGroupView("g", "t", SSH_ONLY.rules + (broken,))
    state = compiler.compile_fabric(*lab(groups=(group,)))[1]
    assert state.failed.keys() == {cookie(Owner.ACL, 9)}
    sim = Simulator({1: state})
    assert ports_reached(sim, 1, **tcp(1, 2, 40000, 22)) == [2]
    assert ports_reached(sim, 1, **tcp(1, 2, 40000, 80)) == []
