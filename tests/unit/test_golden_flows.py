"""Golden files of the compiled flows: every feature on fixture models, rendered as text.

What the behaviour tests judge by packets, this pins flow by flow, so that moving the
compiler's code cannot change one flow, group, meter or owner unnoticed. Each fixture's
full desired state of every switch is in ``tests/unit/golden/<fixture>.txt``; a change meant
to alter the flows regenerates them with ``NAAS_REGENERATE_GOLDEN=1 pytest
tests/unit/test_golden_flows.py`` and shows the difference in review.
"""

import dataclasses
import os
import pathlib
from types import MappingProxyType

import pytest

from naas_sdn.flows import addresses, compiler
from naas_sdn.flows.fabric import FabricSnapshot, VifLocation
from naas_sdn.flows.layout import Owner, Table, owner_of
from naas_sdn.flows.ofp import SwitchState
from naas_sdn.flows.simulate import fabric_links
from naas_sdn.model.snapshot import (
    ROUTER_INTERFACE,
    ModelSnapshot,
    NetworkView,
    PortView,
    ProtocolBlockView,
    QosPolicyView,
    RouterView,
    SecurityGroupRuleView,
    SecurityGroupView,
    SubnetView,
)

GOLDEN = pathlib.Path(__file__).parent / "golden"
REGENERATE = os.environ.get("NAAS_REGENERATE_GOLDEN") == "1"


def mac(key):
    return f"fa:16:3e:00:{key >> 8:02x}:{key & 0xFF:02x}"


def fabric(switches, cables, vifs):
    """vifs: port id -> (dpid, ofport)."""
    return FabricSnapshot(
        frozenset(switches),
        frozenset(fabric_links(cables)),
        MappingProxyType({p: VifLocation(f"br{d}", d, o) for p, (d, o) in vifs.items()}),
    )


# ---- fixtures ---------------------------------------------------------------------------------


def switching():
    """Two tenants' networks on a triangle of switches (one link off the spanning tree, so
    tree guards), ports on every switch; a port down, an unplugged one, one on a network
    that is down, and one switch with no port at all."""
    nets = [
        NetworkView("A", "ta", 10, True),
        NetworkView("B", "tb", 11, True),
        NetworkView("D", "ta", 12, False),
    ]
    ports = [
        PortView("a1", "A", "ta", 1, mac(1), True, port_security_enabled=False),
        PortView("a2", "A", "ta", 2, mac(2), True, port_security_enabled=False),
        PortView("a3", "A", "ta", 3, mac(3), True, port_security_enabled=False),
        PortView("b1", "B", "tb", 4, mac(4), True, port_security_enabled=False),
        PortView("b3", "B", "tb", 5, mac(5), True, port_security_enabled=False),
        PortView("down", "A", "ta", 6, mac(6), False, port_security_enabled=False),
        PortView("loose", "A", "ta", 7, mac(7), True, port_security_enabled=False),
        PortView("d1", "D", "ta", 8, mac(8), True, port_security_enabled=False),
    ]
    triangle = [((1, 10), (2, 11)), ((2, 10), (3, 11)), ((3, 10), (1, 11))]
    vifs = {
        "a1": (1, 1),
        "a2": (2, 1),
        "a3": (3, 1),
        "b1": (1, 2),
        "b3": (3, 2),
        "down": (2, 3),
        "d1": (1, 4),
    }
    return (
        ModelSnapshot.build(nets, ports),
        fabric([1, 2, 3, 4], triangle + [((3, 12), (4, 11))], vifs),
        compiler.Options(),
    )


def routing():
    """IPv4 and IPv6 subnets (DHCP on and off, SLAAC, DHCPv6 stateful and stateless), a
    router on two networks with static routes (one resolvable, one to a next hop nobody
    holds, one off every interface), a router that is down, a gateway no port holds."""
    nets = [
        NetworkView("A", "t", 10, True),
        NetworkView("B", "t", 11, True),
        NetworkView("C", "t", 12, True),
    ]
    subnets = [
        SubnetView(
            "A4",
            "A",
            "t",
            4,
            "10.0.1.0/24",
            "10.0.1.1",
            True,
            ("192.0.2.53",),
            (("198.51.100.0/24", "10.0.1.254"),),
        ),
        SubnetView(
            "A6",
            "A",
            "t",
            6,
            "2001:db8:1::/64",
            "2001:db8:1::1",
            True,
            ("2001:db8::53",),
            (),
            "slaac",
            "slaac",
        ),
        SubnetView("B4", "B", "t", 4, "10.0.2.0/24", "10.0.2.1", False),
        SubnetView(
            "B6",
            "B",
            "t",
            6,
            "2001:db8:2::/64",
            "2001:db8:2::1",
            True,
            (),
            (),
            "dhcpv6-stateful",
            "dhcpv6-stateful",
        ),
        SubnetView("C4", "C", "t", 4, "10.0.3.0/24", "10.0.3.1", True),
        SubnetView(
            "C6", "C", "t", 6, "2001:db8:3::/64", None, True, (), (), None, "dhcpv6-stateless"
        ),
    ]
    slaac = addresses.eui64("2001:db8:1::/64", mac(1))
    ports = [
        PortView("a1", "A", "t", 1, mac(1), True, (("A4", "10.0.1.10"), ("A6", slaac))),
        PortView("a2", "A", "t", 2, mac(2), True, (("A4", "10.0.1.20"),)),
        PortView("b1", "B", "t", 3, mac(3), True, (("B4", "10.0.2.10"), ("B6", "2001:db8:2::10"))),
        PortView("c1", "C", "t", 4, mac(4), True, (("C4", "10.0.3.10"), ("C6", "2001:db8:3::10"))),
        PortView(
            "rA",
            "A",
            "t",
            90,
            mac(90),
            True,
            (("A4", "10.0.1.1"), ("A6", "2001:db8:1::1")),
            ROUTER_INTERFACE,
            "R",
        ),
        PortView(
            "rB",
            "B",
            "t",
            91,
            mac(91),
            True,
            (("B4", "10.0.2.1"), ("B6", "2001:db8:2::1")),
            ROUTER_INTERFACE,
            "R",
        ),
        PortView("sC", "C", "t", 92, mac(92), True, (("C4", "10.0.3.254"),), ROUTER_INTERFACE, "S"),
    ]
    ports = [dataclasses.replace(p, port_security_enabled=False) for p in ports]
    routers = [
        RouterView(
            "R",
            "t",
            7,
            True,
            (
                ("192.168.0.0/16", "10.0.2.10"),
                ("172.16.0.0/12", "10.0.2.99"),
                ("2001:db8:9::/48", "2001:db8:2::10"),
                ("203.0.113.0/24", "10.9.9.9"),
            ),
        ),
        RouterView("S", "t", 8, False),
    ]
    vifs = {"a1": (1, 1), "a2": (2, 1), "b1": (2, 2), "c1": (1, 3)}
    return (
        ModelSnapshot.build(nets, ports, subnets=subnets, routers=routers),
        fabric([1, 2], [((1, 10), (2, 10))], vifs),
        compiler.Options(),
    )


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


def policies():
    """Security groups (any, port ranges, ICMP type and code, remote prefix, remote group,
    IPv6), a group of another project sharing clauses, port security off, allowed address
    pairs, QoS of a port and of its network (limits both ways, DSCP), protocol blocks."""
    web = SecurityGroupView(
        "web",
        "t",
        (
            rule(1, "web", "egress"),
            rule(2, "web", "egress", "IPv6"),
            rule(3, "web", "ingress", protocol=6, low=80, high=80),
            rule(4, "web", "ingress", protocol=6, low=1000, high=1999),
            rule(5, "web", "ingress", protocol=1, low=8, high=0, prefix="192.0.2.0/24"),
            rule(6, "web", "ingress", remote_group="web"),
            rule(7, "web", "ingress", "IPv6", protocol=58, remote_group="web"),
            rule(8, "web", "ingress", prefix="0.0.0.0/0", protocol=17, low=53, high=53),
        ),
    )
    other = SecurityGroupView(
        "other",
        "u",
        (
            rule(20, "other", "ingress", protocol=6, low=80, high=80),
            rule(21, "other", "egress", prefix="10.0.0.0/8"),
            rule(22, "other", "ingress", "IPv6", remote_group="nobody"),
        ),
    )
    gold = QosPolicyView("gold", "t", (("egress", 10000, 0), ("ingress", 20000, 4000)), 26)
    slow = QosPolicyView("slow", "t", (("egress", 1000, 0),))
    mark = QosPolicyView("mark", "t", (), 10)
    nets = [NetworkView("A", "t", 10, True, "slow"), NetworkView("U", "u", 11, True)]
    subnets = [
        SubnetView("A4", "A", "t", 4, "10.0.0.0/24", "10.0.0.1", True),
        SubnetView(
            "A6", "A", "t", 6, "2001:db8::/64", "2001:db8::1", True, (), (), "slaac", "slaac"
        ),
        SubnetView("U4", "U", "u", 4, "10.0.0.0/24", "10.0.0.1", True),
    ]
    blocks = [
        ProtocolBlockView("k1", 1, "A", 6, "IPv4", 25, 25),
        ProtocolBlockView("k2", 2, "A", 1),
        ProtocolBlockView("k3", 3, "A", 17, None, 137, 139),
    ]

    def port(key, network="A", **changes):
        fixed = ((f"{network}4", f"10.0.0.{key}"),)
        if network == "A":
            fixed += (("A6", addresses.eui64("2001:db8::/64", mac(key))),)
        return dataclasses.replace(
            PortView(
                f"p{key}", network, "t" if network == "A" else "u", key, mac(key), True, fixed
            ),
            **changes,
        )

    ports = [
        port(1, security_group_ids=("web",), qos_policy_id="gold"),
        port(
            2,
            security_group_ids=("web",),
            allowed_address_pairs=(
                ("10.0.0.200", mac(2)),
                ("10.1.0.0/16", mac(200)),
                ("2001:db8:ffff::/48", mac(2)),
            ),
        ),
        port(3, port_security_enabled=False, qos_policy_id="mark"),
        port(4, security_group_ids=()),
        port(5, security_group_ids=("other", "web")),
        port(6, fixed_ips=(), security_group_ids=("web",)),
        port(11, "U", security_group_ids=("other",)),
    ]
    vifs = {
        "p1": (1, 1),
        "p2": (1, 2),
        "p3": (1, 3),
        "p4": (2, 4),
        "p5": (2, 5),
        "p6": (1, 6),
        "p11": (2, 11),
    }
    model = ModelSnapshot.build(
        nets,
        ports,
        subnets=subnets,
        security_groups=(web, other),
        protocol_blocks=blocks,
        qos_policies=(gold, slow, mark),
    )
    return (
        model,
        fabric([1, 2], [((1, 10), (2, 10))], vifs),
        compiler.Options(packet_in_rate=300, port_packet_in_rate=7),
    )


def failures():
    """Objects whose flows cannot be built, past the API's validation somehow: a port, a
    security group rule, a router and a network are named in ``failed``; the rest stands."""
    nets = [NetworkView("A", "t", 10, True), NetworkView("B", "t", 11, True)]
    subnets = [
        SubnetView("A4", "A", "t", 4, "10.0.0.0/24", "10.0.0.999", True),
        SubnetView("B4", "B", "t", 4, "10.0.1.0/24", "10.0.1.1", True),
    ]
    group = SecurityGroupView(
        "g",
        "t",
        (
            rule(1, "g", "ingress", protocol=6, low=22, high=22),
            dataclasses.replace(
                rule(2, "g", "ingress", protocol=6, low=80, high=80), ethertype="IPv5"
            ),
        ),
    )
    ports = [
        PortView(
            "a1", "A", "t", 1, mac(1), True, (("A4", "10.0.0.10"),), security_group_ids=("g",)
        ),
        PortView("a2", "A", "t", 2, mac(2), True, (("A4", "10.0.0.300"),)),
        PortView(
            "b1", "B", "t", 3, mac(3), True, (("B4", "10.0.1.10"),), security_group_ids=("g",)
        ),
        PortView("rB", "B", "t", 90, mac(90), True, (("B4", "10.0.1.256"),), ROUTER_INTERFACE, "R"),
    ]
    model = ModelSnapshot.build(
        nets,
        ports,
        subnets=subnets,
        security_groups=(group,),
        routers=(RouterView("R", "t", 7, True),),
    )
    return model, fabric([1], [], {"a1": (1, 1), "a2": (1, 2), "b1": (1, 3)}), compiler.Options()


FIXTURES = {f.__name__: f for f in (switching, routing, policies, failures)}


# ---- rendering --------------------------------------------------------------------------------


def _value(value) -> str:
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, tuple):
        return "/".join(_value(v) for v in value)
    return str(value)


def _action(action: tuple) -> str:
    return f"{action[0]}({','.join(_value(a) for a in action[1:])})"


def _instruction(instruction: tuple) -> str:
    kind = instruction[0]
    if kind == "apply":
        return f"apply[{', '.join(_action(a) for a in instruction[1])}]"
    if kind == "goto":
        return f"goto({Table(instruction[1]).name})"
    if kind == "write_metadata":
        return f"write_metadata({instruction[1]:#x}/{instruction[2]:#x})"
    return _action(instruction)


def _owner(value: int) -> str:
    kind, key = owner_of(value)
    return f"{kind.name}:{key} ({value:#018x})"


def _flow(flow) -> str:
    match = ",".join(f"{field}={_value(value)}" for field, value in flow.match) or "*"
    actions = " ".join(_instruction(i) for i in flow.instructions) or "drop"
    return (
        f"  {Table(flow.table).name} priority={flow.priority} cookie={flow.cookie:#018x} "
        f"match={match} -> {actions}"
    )


def _sort_key(flow):
    return (flow.table, -flow.priority, _flow(flow))


def render(states: dict[int, SwitchState]) -> str:
    """Every switch's desired state as sorted text: flows by owner, groups, meters, failed."""
    lines = []
    for dpid in sorted(states):
        state = states[dpid]
        lines.append(f"switch {dpid:#x}")
        for owner in sorted(state.parts):
            flows = state.parts[owner]
            lines.append(f" owner {_owner(owner)}: {len(flows)} flows")
            lines.extend(_flow(f) for f in sorted(flows, key=_sort_key))
        for group in sorted(state.groups, key=lambda g: g.group_id):
            buckets = " | ".join(", ".join(_action(a) for a in b) for b in group.buckets)
            lines.append(
                f" group {group.group_id} owner={_owner(group.cookie)} buckets=[{buckets}]"
            )
        for meter in sorted(state.meters, key=lambda m: m.meter_id):
            unit = "kbps" if meter.kbps else "pktps"
            lines.append(f" meter {meter.meter_id:#x} rate={meter.rate} burst={meter.burst} {unit}")
        for owner in sorted(state.failed):
            lines.append(f" failed {_owner(owner)}: {state.failed[owner]}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_compiled_flows_equal_the_golden_file(name):
    model, fab, options = FIXTURES[name]()
    text = render(compiler.compile_fabric(model, fab, options))
    path = GOLDEN / f"{name}.txt"
    if REGENERATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no {path}: run with NAAS_REGENERATE_GOLDEN=1 to write it"
    expected = path.read_text()
    assert text == expected, (
        f"the compiled flows of fixture {name!r} differ from {path}; if the change is meant, "
        f"regenerate with NAAS_REGENERATE_GOLDEN=1 pytest tests/unit/test_golden_flows.py "
        f"and review the diff"
    )


def test_fixtures_cover_every_owner_kind_and_table():
    """The golden files pin every kind of flow the compiler makes, and a failure of each
    kind of owner that can fail."""
    owners, tables, failed = set(), set(), set()
    for make in FIXTURES.values():
        for state in compiler.compile_fabric(*make()).values():
            owners |= {owner_of(o)[0] for o in state.parts}
            tables |= {f.table for f in state.flows}
            failed |= {owner_of(o)[0] for o in state.failed}
    assert owners == set(Owner) - {Owner.PLUGIN}  # plugins' own: test_example_plugin.py
    assert tables == set(Table)
    assert failed == {Owner.PORT, Owner.ACL, Owner.ROUTER, Owner.NETWORK}
