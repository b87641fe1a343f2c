"""The packet trace's verdict is what real traffic does: allowed and refused by a security
group, a protocol block, routed between networks, across switches; and a tenant traces only
what it sees."""

import os
import pathlib
import re
import subprocess
import sys

from tests.dataplane.lab import (
    lab,
    ping,
    plugged_ports,
    switch_side,
    tcp_ok,
    udp_blocked,
    v4,
    wait_ping,
)
from tests.helpers import ApiClient

NAAS_SDN = pathlib.Path(sys.executable).parent / "naas-sdn"


def naas_trace(controller, token, *args):
    """``naas-sdn trace`` as an operator runs it, with this token."""
    return subprocess.run(
        [str(NAAS_SDN), "trace", *args, "--url", controller.url],
        env=dict(os.environ, OS_TOKEN=token),
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


def trace(tenant, source, **request):
    resp = tenant.api.post("/v2.0/traces", {"trace": {"source_port_id": source["id"], **request}})
    assert resp.status == 201, resp.raw
    return resp.json["trace"]


def _web_group(tenant) -> dict:
    """Ingress icmp, tcp/8080 and iperf3's udp/5201 (its control: tcp/5201), and every
    egress, as any group."""
    web = tenant.create("/v2.0/security-groups", "security_group", {"name": "web"})
    for protocol, port in (("icmp", None), ("tcp", 8080), ("udp", 5201), ("tcp", 5201)):
        rule = {"security_group_id": web["id"], "direction": "ingress", "protocol": protocol}
        if port:
            rule.update(port_range_min=port, port_range_max=port)
        tenant.create("/v2.0/security-group-rules", "security_group_rule", rule)
    return web


def _router(tenant, networks) -> dict:
    router = tenant.create("/v2.0/routers", "router", {"name": "r"})
    for network in networks:
        subnet = tenant.api.get(f"/v2.0/subnets?network_id={network['id']}").json["subnets"][0]
        resp = tenant.api.put(
            f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": subnet["id"]}
        )
        assert resp.status == 200, resp.raw
    return router


def _the_command_says_the_same(controller, alice, ports, router):
    """``naas-sdn trace``, through the controller's API, for operators."""
    said = naas_trace(controller, alice.api.token, ports["h1"]["id"], ports["h3"]["id"])
    assert said.returncode == 0 and said.stdout.rstrip().endswith("reachable"), said
    assert re.search(rf"ROUTING .* router {router['id']}", said.stdout), said.stdout
    ssh = ("--protocol", "tcp", "--port", "22")
    said = naas_trace(controller, alice.api.token, ports["h1"]["id"], ports["h2"]["id"], *ssh)
    assert said.returncode == 1, said
    assert f"dropped by port {ports['h2']['id']}: " in said.stdout, said.stdout


def _the_switches_say_the_same_until_they_differ(controller, ports, router, h1, h2):
    """Admins see the switches and the cable; mode ``switch`` (admins): ofproto/trace on the
    real bridges agrees with the compiled trace; a flow put on a bridge by hand is drift, and
    the trace on the switch shows it."""
    admin = ApiClient(controller.url, controller.token("ops", admin=True))
    switches = admin.get("/v2.0/fabric-switches").json["fabric_switches"]
    assert [(s["id"], s["bridge"], s["bound_ports"]) for s in switches] == [
        (f"{1:016x}", "t1", 1),
        (f"{2:016x}", "t2", 2),
    ]
    (cable,) = admin.get("/v2.0/fabric-links").json["fabric_links"]
    assert (cable["switch_a"], cable["switch_b"], cable["bidirectional"]) == (
        f"{1:016x}",
        f"{2:016x}",
        True,
    )
    tenant = ApiClient(controller.url, controller.token("tenant-a"))
    assert tenant.get("/v2.0/fabric-links").json == {"fabric_links": []}

    def on_switches(destination, **request):
        body = {"source_port_id": ports["h1"]["id"], "destination_port_id": destination["id"]}
        resp = admin.post("/v2.0/traces", {"trace": {**body, **request, "mode": "switch"}})
        assert resp.status == 201, resp.raw
        return resp.json["trace"]

    routed = on_switches(ports["h3"])
    assert routed["reachable"] and routed["drift"] == [], routed
    assert {hop["switch"] for hop in routed["hops"]} == {f"{1:016x}", f"{2:016x}"}
    assert any(hop["resource_id"] == router["id"] for hop in routed["hops"])
    ssh = on_switches(ports["h2"], protocol="tcp", destination_port=22)
    assert not ssh["reachable"] and ssh["drift"] == [], ssh
    assert ssh["dropped_by"]["resource_id"] == ports["h2"]["id"]
    assert "tcp/22 ingress" in ssh["dropped_by"]["reason"]
    assert on_switches(ports["h2"], protocol="tcp", destination_port=8080)["reachable"]

    intf = switch_side(h1)
    ofport = intf.node.vsctl(f"get Interface {intf.name} ofport").strip()
    by_hand = f"table=0,priority=65000,in_port={ofport},icmp,actions=drop"
    intf.node.cmd(f"ovs-ofctl -O OpenFlow13 add-flow {intf.node.name} {by_hand}")
    try:
        drifted = on_switches(ports["h2"])
        assert not drifted["reachable"] and ping(h1, v4(ports["h2"]), count=2) == 0
        assert drifted["drift"][0]["table"] == "CLASSIFY", drifted["drift"]
        assert drifted["drift"][-1] == {"compiled_reachable": True}
        said = naas_trace(
            controller, admin.token, ports["h1"]["id"], ports["h2"]["id"], "--on-switches"
        )
        assert said.returncode == 1 and "drift at switch 0000000000000001" in said.stdout, said
    finally:
        intf.node.cmd(
            f"ovs-ofctl -O OpenFlow13 del-flows --strict {intf.node.name} "
            f"table=0,priority=65000,in_port={ofport},icmp"
        )
    assert on_switches(ports["h2"])["reachable"] and ping(h1, v4(ports["h2"])) == 3


def _port_security_says_the_same(alice, ports, h1):
    """h1 sending from an address that is not its own: refused by its port security."""
    spoofed = trace(
        alice, ports["h1"], destination_port_id=ports["h2"]["id"], source_ip="10.0.0.99"
    )
    assert not spoofed["reachable"] and spoofed["dropped_by"]["resource_id"] == ports["h1"]["id"]
    assert "port security" in spoofed["dropped_by"]["reason"]
    h1.cmd("ip addr add 10.0.0.99/24 dev h1-eth0")
    out = h1.cmd(f"ping -n -c 3 -i 0.2 -W 1 -I 10.0.0.99 {v4(ports['h2'])}")
    h1.cmd("ip addr del 10.0.0.99/24 dev h1-eth0")
    assert " 0 received" in out, out


def _another_tenant_traces_nothing_of_alices(bob, ports):
    """Neither from nor to alice's ports: not found."""
    own = bob.network("own", "10.0.0.0/24")
    bobs = bob.port(own, "b1")
    resp = bob.api.post("/v2.0/traces", {"trace": {"source_port_id": ports["h1"]["id"]}})
    assert resp.status == 404
    resp = bob.api.post(
        "/v2.0/traces",
        {"trace": {"source_port_id": bobs["id"], "destination_port_id": ports["h1"]["id"]}},
    )
    assert resp.status == 404


def test_the_trace_says_what_ping_nc_and_iperf3_do(controller, tenants):
    alice, bob = tenants
    with lab(
        controller.ofp_port, switches=2, cables=[(1, 2)], hosts={"h1": 1, "h2": 2, "h3": 2}
    ) as net:
        web = _web_group(alice)
        front = alice.network("front", "10.0.0.0/24")
        back = alice.network("back", "10.0.1.0/24")
        groups = {"security_groups": [web["id"]]}
        ports = plugged_ports(alice, net, front, ("h1", "h2"), h1=groups, h2=groups)
        ports.update(plugged_ports(alice, net, back, ("h3",), h3=groups))
        h1, h2, h3 = (net.get(h) for h in ("h1", "h2", "h3"))
        assert wait_ping(h1, v4(ports["h2"]))
        h2.cmd("nc -lk -p 8080 >/dev/null 2>&1 &")
        h2.cmd("nc -lk -p 22 >/dev/null 2>&1 &")

        # icmp and tcp/8080 admitted by the group, across the two switches
        icmp = trace(alice, ports["h1"], destination_port_id=ports["h2"]["id"])
        assert icmp["reachable"] and ping(h1, v4(ports["h2"])) == 3
        assert {hop["switch"] for hop in icmp["hops"]} == {f"{1:016x}", f"{2:016x}"}
        assert icmp["hops"][0]["resource_id"] == ports["h1"]["id"]
        web_port = trace(
            alice,
            ports["h1"],
            destination_port_id=ports["h2"]["id"],
            protocol="tcp",
            destination_port=8080,
        )
        assert web_port["reachable"] and tcp_ok(h1, v4(ports["h2"]), 8080)

        # tcp/22: no rule admits it; the trace says which group and what
        ssh = trace(
            alice,
            ports["h1"],
            destination_port_id=ports["h2"]["id"],
            protocol="tcp",
            destination_port=22,
        )
        assert not ssh["reachable"] and not tcp_ok(h1, v4(ports["h2"]), 22)
        assert ssh["dropped_by"]["resource_id"] == ports["h2"]["id"]
        assert f"security group(s) {web['id']}" in ssh["dropped_by"]["reason"]
        assert "tcp/22 ingress" in ssh["dropped_by"]["reason"]

        _port_security_says_the_same(alice, ports, h1)

        # a protocol block on the network bars udp
        request = {"destination_port_id": ports["h2"]["id"], "protocol": "udp"}
        assert trace(alice, ports["h1"], destination_port=5201, **request)["reachable"]
        assert not udp_blocked(h1, h2, v4(ports["h2"]))
        block = alice.create(
            "/v2.0/protocol-blocks",
            "protocol_block",
            {"network_id": front["id"], "protocol": "udp"},
        )
        blocked = trace(alice, ports["h1"], destination_port=5201, **request)
        assert not blocked["reachable"] and udp_blocked(h1, h2, v4(ports["h2"]))
        assert blocked["dropped_by"]["resource_id"] == block["id"]

        # routed: unreachable without a router, reachable with one; the hosts learn their
        # gateways' MACs before the router holds them (the networks answer), and keep them
        to_back = {"destination_port_id": ports["h3"]["id"]}
        assert not trace(alice, ports["h1"], **to_back)["reachable"]
        h1.cmd("ip route replace default via 10.0.0.1")
        h3.cmd("ip route replace default via 10.0.1.1")
        assert ping(h1, v4(ports["h3"]), count=2) == 0
        assert ping(h3, v4(ports["h1"]), count=2) == 0
        router = _router(alice, (front, back))
        assert wait_ping(h1, v4(ports["h3"]))
        routed = trace(alice, ports["h1"], **to_back)
        assert routed["reachable"]
        assert any(hop["table"] == "ROUTING" for hop in routed["hops"])
        assert any(hop["resource_id"] == router["id"] for hop in routed["hops"])

        _the_command_says_the_same(controller, alice, ports, router)
        _the_switches_say_the_same_until_they_differ(controller, ports, router, h1, h2)

        _another_tenant_traces_nothing_of_alices(bob, ports)
