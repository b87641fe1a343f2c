"""Tenant isolation on real Open vSwitch, with real traffic between Mininet hosts."""

import re

import pytest

from naas_sdn.flows.layout import Owner, identity, owner_of
from tests.dataplane.lab import (
    Capture,
    dump_flows,
    flow_cookies,
    lab,
    ping,
    plug,
    switch_side,
    unplug,
    wait_for,
    wait_ping,
)


def _setup_two_tenants(tenants, net, layout):
    """layout: host -> (tenant index, ip). Returns host -> port. One network per tenant."""
    networks = [t.network("net-" + t.project) for t in tenants]
    ports = {}
    for host_name, (index, ip) in layout.items():
        # No subnets: hosts pick their own addresses, so port security (which admits only a
        # port's fixed addresses) is off; isolation must hold regardless.
        port = tenants[index].port(networks[index], "vm-" + host_name, port_security_enabled=False)
        plug(net.get(host_name), port, ip)
        ports[host_name] = port
    return networks, ports


def _assert_isolated(net, tenants, ports, layout):
    """Same tenant: ping works both ways. Other tenant: nothing arrives, not even broadcast."""
    hosts = {name: net.get(name) for name in layout}
    by_tenant = {}
    for name, (index, _ip) in layout.items():
        by_tenant.setdefault(index, []).append(name)
    for names in by_tenant.values():
        others = [n for n in layout if n not in names]
        macs = [ports[n]["mac_address"] for n in names]
        captures = [Capture(hosts[o], macs) for o in others]
        control = Capture(hosts[names[-1]], macs)  # proves the capture sees what arrives
        for src in names:
            hosts[src].cmd("ip neigh flush all")
            for dst in names:
                if dst != src:
                    assert wait_ping(hosts[src], layout[dst][1]), f"{src} cannot reach {dst}"
            for other in others:
                assert ping(hosts[src], layout[other][1], count=1, wait=0.5) == 0, (
                    f"{src} reached {other}"
                )
            hosts[src].cmd("ping -b -c 2 -i 0.2 -W 1 10.0.0.255")
        assert any("Broadcast" in line or "ff:ff:ff:ff:ff:ff" in line for line in control.stop())
        for other, capture in zip(others, captures, strict=True):
            seen = capture.stop()
            assert seen == [], f"{other} received another tenant's frames: {seen[:5]}"


def test_one_bridge_isolates_tenants_and_drops_unbound(controller, tenants):
    layout = {
        "a1": (0, "10.0.0.1"),
        "a2": (0, "10.0.0.2"),
        "b1": (1, "10.0.0.11"),
        "b2": (1, "10.0.0.12"),
    }
    hosts = dict.fromkeys(list(layout) + ["x1"], 1)
    with lab(controller.ofp_port, switches=1, hosts=hosts) as net:
        _networks, ports = _setup_two_tenants(tenants, net, layout)
        # Bound ports turn ACTIVE, named after the bridge they are plugged into.
        for name, port in ports.items():
            tenant = tenants[layout[name][0]]
            shown = wait_for(lambda: (p := tenant.show_port(port))["status"] == "ACTIVE" and p)
            assert shown, f"port of {name} never became ACTIVE"
            assert shown["binding:host_id"] == "t1"
        _assert_isolated(net, tenants, ports, layout)

        # An interface with no iface-id (or an unknown one) reaches nobody, and nobody hears it.
        stray = net.get("x1")
        stray.setIP("10.0.0.99", prefixLen=24)
        captures = [Capture(net.get(n), [stray.MAC()]) for n in layout]
        for _, ip in layout.values():
            assert ping(stray, ip, count=1) == 0
        stray.cmd("ping -b -c 2 -i 0.2 -W 1 10.0.0.255")
        for capture in captures:
            assert capture.stop() == []
        net.get("t1").vsctl(
            f"set Interface {switch_side(stray).name} external_ids:iface-id=not-a-port"
        )
        assert ping(stray, "10.0.0.1", count=2) == 0

        # Every flow of ours names its owner; the ports' flows are there.
        cookies = {identity(c) for c in flow_cookies(net.get("t1"))}
        owners = {owner_of(c) for c in cookies}
        assert None not in owners
        port_keys = {key for kind, key in owners if kind == Owner.PORT}
        assert len(port_keys) == 4

        # Unplugging turns the port DOWN and cuts its traffic.
        unplug(net.get("a2"))
        assert wait_for(lambda: tenants[0].show_port(ports["a2"])["status"] == "DOWN")
        assert tenants[0].show_port(ports["a2"])["binding:host_id"] == ""
        assert wait_for(lambda: ping(net.get("a1"), "10.0.0.2", count=1) == 0)


FABRICS = {
    # name: (switches, cables); hosts are spread so that every tenant spans switches
    "linear": (3, [(1, 2), (2, 3)]),
    "tree": (3, [(1, 2), (1, 3)]),
    "ring": (4, [(1, 2), (2, 3), (3, 4), (4, 1)]),
}


@pytest.mark.parametrize("fabric", sorted(FABRICS))
def test_multi_switch_fabric_isolates_tenants(controller, tenants, fabric):
    switches, cables = FABRICS[fabric]
    leaves = list(range(2, switches + 1)) if fabric == "tree" else list(range(1, switches + 1))
    layout, hosts = {}, {}
    for i, switch in enumerate(leaves):
        hosts[f"a{i}"], layout[f"a{i}"] = switch, (0, f"10.0.0.{i + 1}")
        hosts[f"b{i}"], layout[f"b{i}"] = switch, (1, f"10.0.0.{i + 11}")
    with lab(controller.ofp_port, switches=switches, cables=cables, hosts=hosts) as net:
        _networks, ports = _setup_two_tenants(tenants, net, layout)
        _assert_isolated(net, tenants, ports, layout)
        # Inter-switch links carry each network tagged with its own VLAN.
        vlans = {
            int(v)
            for switch in net.switches
            for line in dump_flows(switch)
            for v in re.findall(r"dl_vlan=(\d+)", line)
        }
        assert len(vlans) == 2


def test_ring_has_no_storm_and_reroutes_around_a_cut(controller, tenants):
    hosts = {"a1": 1, "a2": 2, "a3": 3}
    layout = {"a1": (0, "10.0.0.1"), "a2": (0, "10.0.0.2"), "a3": (0, "10.0.0.3")}
    with lab(controller.ofp_port, switches=3, cables=[(1, 2), (2, 3), (3, 1)], hosts=hosts) as net:
        _, ports = _setup_two_tenants(tenants[:1], net, layout)
        assert wait_ping(net.get("a1"), "10.0.0.2")
        assert wait_ping(net.get("a1"), "10.0.0.3")
        # One broadcast from a1 arrives exactly once at each other host: no loop, no storm.
        captures = {n: Capture(net.get(n), [ports["a1"]["mac_address"]]) for n in ("a2", "a3")}
        net.get("a1").cmd("ping -b -c 1 -W 1 10.0.0.255")
        for name, capture in captures.items():
            lines = [line for line in capture.stop() if "10.0.0.255" in line]
            assert len(lines) == 1, f"{name} saw {lines}"
        # Cut the direct t1-t2 link: traffic goes around through t3.
        net.configLinkStatus("t1", "t2", "down")
        assert wait_ping(net.get("a1"), "10.0.0.2", timeout=15), "no re-route after the cut"
        net.configLinkStatus("t1", "t2", "up")
        assert wait_ping(net.get("a1"), "10.0.0.2", timeout=15)


def test_switch_down_reroutes_where_a_path_remains(controller, tenants):
    # Ring t1-t2-t3-t4-t1, VMs on t1 and t3: two equal paths, via t2 or via t4.
    hosts = {"a1": 1, "a3": 3}
    layout = {"a1": (0, "10.0.0.1"), "a3": (0, "10.0.0.3")}
    with lab(
        controller.ofp_port, switches=4, cables=[(1, 2), (2, 3), (3, 4), (4, 1)], hosts=hosts
    ) as net:
        _setup_two_tenants(tenants[:1], net, layout)
        assert wait_ping(net.get("a1"), "10.0.0.3")
        # The transit switch that carries the traffic now dies: the other one takes over.
        carrying = [
            t
            for t in ("t2", "t4")
            if any(
                "reg7" in line and "n_packets=0," not in line
                for line in dump_flows(net.get(t))
                if "table=90" in line
            )
        ]
        assert len(carrying) == 1, carrying
        transit = carrying[0]
        net.get(transit).stop(deleteIntfs=True)
        assert wait_ping(net.get("a1"), "10.0.0.3", timeout=15), f"no path after {transit} died"


def _owners(switch, kind: Owner) -> set[int]:
    """Keys of the objects of ``kind`` the switch holds flows of."""
    owners = (owner_of(identity(c)) for c in flow_cookies(switch))
    return {o[1] for o in owners if o is not None and o[0] == kind}


def test_a_switch_holds_only_the_networks_it_carries(controller, tenants):
    """Line t1 - t2 - t3. Network X has VMs on t1 and t3, so t2 carries it; network Y has a VM
    on t1 only: t2 and t3 get nothing of it, until a Y port is plugged on t3 (its entries
    arrive there and on t2, and traffic flows), and nothing again once it leaves."""
    hosts = {"x1": 1, "x3": 3, "y1": 1, "y3": 3}
    with lab(controller.ofp_port, switches=3, cables=[(1, 2), (2, 3)], hosts=hosts) as net:
        t1, t2, t3 = (net.get(f"t{i}") for i in (1, 2, 3))
        owner = tenants[0]
        x, y = owner.network("x"), owner.network("y")
        plugged = {}
        for name, network, ip in (
            ("x1", x, "10.0.0.1"),
            ("x3", x, "10.0.0.3"),
            ("y1", y, "10.0.0.11"),
        ):
            plugged[name] = owner.port(network, name, port_security_enabled=False)
            plug(net.get(name), plugged[name], ip)
        assert wait_ping(net.get("x1"), "10.0.0.3")
        both = _owners(t1, Owner.NETWORK)
        assert len(both) == 2
        x_only = _owners(t3, Owner.NETWORK)
        assert len(x_only) == 1 and x_only < both
        assert _owners(t2, Owner.NETWORK) == x_only  # transit
        # Y's port lookups are on t1 alone: t2 and t3 know X's two ports, nothing else.
        assert len(_owners(t1, Owner.PORT)) == 3
        assert len(_owners(t2, Owner.PORT)) == len(_owners(t3, Owner.PORT)) == 2
        # A first Y port on t3 brings Y there and to t2; it leaving takes Y away again.
        plugged["y3"] = owner.port(y, "y3", port_security_enabled=False)
        plug(net.get("y3"), plugged["y3"], "10.0.0.13")
        assert wait_for(lambda: _owners(t3, Owner.NETWORK) == both)
        assert _owners(t2, Owner.NETWORK) == both
        assert wait_ping(net.get("y1"), "10.0.0.13")
        assert ping(net.get("x1"), "10.0.0.13", count=1, wait=0.5) == 0
        unplug(net.get("y3"))
        assert wait_for(lambda: _owners(t3, Owner.NETWORK) == x_only)
        assert _owners(t2, Owner.NETWORK) == x_only
        assert wait_ping(net.get("x1"), "10.0.0.3")
