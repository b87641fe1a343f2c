"""Distributed routing on real OVS: between subnets and networks, IPv4 and IPv6."""

import re

from tests.dataplane.lab import (
    Capture,
    dump_flows,
    iperf3,
    lab,
    ping,
    plug,
    v4,
    wait_for,
    wait_ping,
)
from tests.dataplane.test_ip_services import enable_ipv6, global_v6, udhcpc


def _post(tenant, collection, body):
    resp = tenant.api.post(f"/v2.0/{collection}", {collection[:-1]: body})
    assert resp.status == 201, resp
    return resp.json[collection[:-1]]


def _routed_lab(tenant, net, prefix="10"):
    """Network 1 with two subnets, network 2 with one (+ IPv6 SLAAC on both), one router on
    all of them; VMs: h1 (net1, first subnet) on t1, h2 (net2) on t3, h3 (net1, second
    subnet) on t2. Returns (router, subnets, ports)."""
    n1, n2 = _post(tenant, "networks", {"name": "n1"}), _post(tenant, "networks", {"name": "n2"})
    subnets = {
        "s1": _post(
            tenant,
            "subnets",
            {"network_id": n1["id"], "ip_version": 4, "cidr": f"{prefix}.1.0.0/24"},
        ),
        "s3": _post(
            tenant,
            "subnets",
            {"network_id": n1["id"], "ip_version": 4, "cidr": f"{prefix}.3.0.0/24"},
        ),
        "s2": _post(
            tenant,
            "subnets",
            {"network_id": n2["id"], "ip_version": 4, "cidr": f"{prefix}.2.0.0/24"},
        ),
        "v1": _post(
            tenant,
            "subnets",
            {
                "network_id": n1["id"],
                "ip_version": 6,
                "cidr": "2001:db8:1::/64",
                "ipv6_ra_mode": "slaac",
                "ipv6_address_mode": "slaac",
            },
        ),
        "v2": _post(
            tenant,
            "subnets",
            {
                "network_id": n2["id"],
                "ip_version": 6,
                "cidr": "2001:db8:2::/64",
                "ipv6_ra_mode": "slaac",
                "ipv6_address_mode": "slaac",
            },
        ),
    }
    router = _post(tenant, "routers", {"name": "r1"})
    for subnet in subnets.values():
        resp = tenant.api.put(
            f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": subnet["id"]}
        )
        assert resp.status == 200, resp
    ports = {
        "h1": _post(
            tenant,
            "ports",
            {
                "network_id": n1["id"],
                "fixed_ips": [
                    {"subnet_id": subnets["s1"]["id"]},
                    {"subnet_id": subnets["v1"]["id"]},
                ],
            },
        ),
        "h3": _post(
            tenant,
            "ports",
            {
                "network_id": n1["id"],
                "fixed_ips": [
                    {"subnet_id": subnets["s3"]["id"]},
                    {"subnet_id": subnets["v1"]["id"]},
                ],
            },
        ),
        "h2": _post(tenant, "ports", {"network_id": n2["id"]}),
    }
    for host, port in ports.items():
        plug(net.get(host), port)
    return router, subnets, ports


def _lease(net, host, tmp_path):
    got = wait_for(lambda: udhcpc(net.get(host), tmp_path / f"{host}.lease"), timeout=30)
    assert got, f"{host} got no lease"
    return got


def test_routing_between_subnets_and_networks(controller, tenants, tmp_path):
    alice = tenants[0]
    with lab(
        controller.ofp_port, switches=3, cables=[(1, 2), (2, 3)], hosts={"h1": 1, "h3": 2, "h2": 3}
    ) as net:
        router, subnets, ports = _routed_lab(alice, net)
        for host in ports:
            assert _lease(net, host, tmp_path)["ip"] == v4(ports[host])
        h1 = net.get("h1")
        # The gateway answers ping (the router itself), from its own address.
        assert wait_ping(h1, "10.1.0.1")
        # Across networks and across subnets of one network; TTL decremented once.
        for dst in ("h2", "h3"):
            assert wait_ping(h1, v4(ports[dst])), dst
            out = h1.cmd(f"ping -n -c1 -W1 {v4(ports[dst])}")
            assert "ttl=63" in out, out
        # A TTL that runs out at the router gets time exceeded from it: one hop.
        out = h1.cmd(f"traceroute -n -q1 -w1 -m4 {v4(ports['h2'])}")
        hops = re.findall(r"^\s*(\d+)\s+(\S+)", out, re.M)
        assert hops[:2] == [("1", "10.1.0.1"), ("2", v4(ports["h2"]))], out
        # TCP through the router (distributed: routed on t1, switched to t3).
        h2 = net.get("h2")
        end = iperf3(h1, h2, v4(ports["h2"]), "-t 2")
        assert (end.get("sum_received") or {}).get("bits_per_second"), end

        # A static route (extraroute): 192.168.77.0/24 lives behind h3.
        resp = alice.api.put(
            f"/v2.0/routers/{router['id']}",
            {
                "router": {
                    "routes": [{"destination": "192.168.77.0/24", "nexthop": v4(ports["h3"])}]
                }
            },
        )
        assert resp.status == 200, resp
        net.get("h3").cmd("ip addr add 192.168.77.1/32 dev lo")
        # h3 answers from an address that is not its port's: port security wants it listed.
        resp = alice.api.put(
            "/v2.0/ports/" + ports["h3"]["id"],
            {"port": {"allowed_address_pairs": [{"ip_address": "192.168.77.0/24"}]}},
        )
        assert resp.status == 200, resp
        assert wait_ping(h1, "192.168.77.1"), "static route not followed"

        # Removing an interface stops the routed traffic at once and leaves no flow of it.
        assert ping(h1, v4(ports["h2"]), count=1) == 1  # the same route, just before
        router_macs = {
            p["mac_address"]
            for p in alice.api.get(f"/v2.0/ports?device_id={router['id']}").json["ports"]
            if p["fixed_ips"][0]["subnet_id"] == subnets["s2"]["id"]
        }
        resp = alice.api.put(
            f"/v2.0/routers/{router['id']}/remove_router_interface",
            {"subnet_id": subnets["s2"]["id"]},
        )
        assert resp.status == 200, resp
        assert wait_for(lambda: ping(h1, v4(ports["h2"]), count=1) == 0)
        for mac in router_macs:
            assert wait_for(
                lambda: (
                    not any(
                        mac in line and "10.2.0.1" in line
                        for s in net.switches
                        for line in dump_flows(s)
                    )
                )
            )
        # Deleting a router that still has interfaces is refused.
        resp = alice.api.delete(f"/v2.0/routers/{router['id']}")
        assert resp.status == 409 and resp.error_type == "RouterInUse"

        # IPv6 (the router keeps its IPv6 interfaces): SLAAC from its RA, default route
        # through it, routed ping.
        for host in ("h1", "h2"):
            enable_ipv6(net.get(host))
        v6 = {
            h: next(f["ip_address"] for f in ports[h]["fixed_ips"] if ":" in f["ip_address"])
            for h in ("h1", "h2")
        }
        for host in ("h1", "h2"):
            assert wait_for(lambda: global_v6(net.get(host)) == [v6[host]], timeout=30)
        assert wait_for(
            lambda: " 1 received" in h1.cmd(f"ping -6 -n -c1 -W1 {v6['h2']}"), timeout=20
        ), h1.cmd("ip -6 route")
        assert "ttl=63" in h1.cmd(f"ping -6 -n -c1 -W1 {v6['h2']}")


def test_tenants_route_in_their_own_address_space(controller, tenants, tmp_path):
    alice, bob = tenants
    with lab(
        controller.ofp_port,
        switches=2,
        cables=[(1, 2)],
        hosts={"h1": 1, "h2": 2, "h3": 1, "b1": 1, "b2": 2},
    ) as net:
        _, _, a_ports = _routed_lab(alice, net)
        # Bob: the very same addresses, his own router.
        n1 = _post(bob, "networks", {"name": "n1"})
        n2 = _post(bob, "networks", {"name": "n2"})
        s1 = _post(bob, "subnets", {"network_id": n1["id"], "ip_version": 4, "cidr": "10.1.0.0/24"})
        s2 = _post(bob, "subnets", {"network_id": n2["id"], "ip_version": 4, "cidr": "10.2.0.0/24"})
        router = _post(bob, "routers", {"name": "r1"})
        for subnet in (s1, s2):
            assert (
                bob.api.put(
                    f"/v2.0/routers/{router['id']}/add_router_interface",
                    {"subnet_id": subnet["id"]},
                ).status
                == 200
            )
        # Alice's subnet cannot be attached to Bob's router.
        resp = bob.api.put(
            f"/v2.0/routers/{router['id']}/add_router_interface",
            {"subnet_id": a_ports["h1"]["fixed_ips"][0]["subnet_id"]},
        )
        assert resp.status == 404, resp
        b_ports = {
            "b1": _post(bob, "ports", {"network_id": n1["id"]}),
            "b2": _post(bob, "ports", {"network_id": n2["id"]}),
        }
        for host, port in b_ports.items():
            plug(net.get(host), port)
        for host in ("h1", "h2", "b1", "b2"):
            _lease(net, host, tmp_path)
        assert v4(a_ports["h2"]) == v4(b_ports["b2"])  # same address, two tenants
        a_macs = [p["mac_address"] for p in a_ports.values()]
        watch = [Capture(net.get(h), a_macs) for h in ("b1", "b2")]
        assert wait_ping(net.get("h1"), v4(a_ports["h2"]))
        assert wait_ping(net.get("b1"), v4(b_ports["b2"]))
        for capture in watch:
            assert capture.stop() == []
