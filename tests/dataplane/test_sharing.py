"""Sharing on real OVS with real traffic: a network shared with one project (RBAC), the
public network of use case 2 with every tenant's default group keeping them apart, and a QoS
policy and a security group shared with a project that uses them on its own ports."""

from tests.dataplane.conftest import Tenant
from tests.dataplane.lab import (
    iperf_udp,
    lab,
    ping,
    plug,
    plugged_ports,
    tcp_ok,
    unplug,
    v4,
    wait_for,
    wait_ping,
)
from tests.helpers import ApiClient

SHARED = "access_as_shared"


def _share(tenant, object_type, object_id, target):
    return tenant.create(
        "/v2.0/rbac-policies",
        "rbac_policy",
        {
            "object_type": object_type,
            "object_id": object_id,
            "action": SHARED,
            "target_tenant": target,
        },
    )


def _icmp_group(tenant, prefix):
    """A group admitting ICMP from ``prefix`` (and, as every group, all egress)."""
    group = tenant.create("/v2.0/security-groups", "security_group", {"name": "icmp"})
    tenant.admit(group, prefix)
    return group


def test_a_network_shared_with_one_project(controller, tenants):
    alice, bob = tenants
    carol = Tenant(controller, "tenant-c")
    with lab(controller.ofp_port, switches=2, cables=[(1, 2)], hosts={"h1": 1, "h2": 2}) as net:
        network = alice.network("alices", "10.0.0.0/24")
        icmp = _icmp_group(alice, "10.0.0.0/24")
        vm = plugged_ports(alice, net, network, ("h1",), h1={"security_groups": [icmp["id"]]})
        entry = _share(alice, "network", network["id"], bob.project)
        # Carol sees nothing of it and cannot plug into it.
        assert carol.api.get("/v2.0/networks/" + network["id"]).status == 404
        assert carol.api.get("/v2.0/networks").json["networks"] == []
        resp = carol.api.post("/v2.0/ports", {"port": {"network_id": network["id"]}})
        assert (resp.status, resp.error_type) == (404, "NetworkNotFound"), resp
        # Bob's VM on it reaches Alice's.
        guest = bob.port(network, "h2")
        h1, h2 = net.get("h1"), net.get("h2")
        plug(h2, guest, v4(guest))
        assert wait_ping(h2, v4(vm["h1"]))
        # Alice cannot take the network from under Bob's port...
        policy = "/v2.0/rbac-policies/" + entry["id"]
        resp = alice.api.delete(policy)
        assert (resp.status, resp.error_type) == (409, "RbacPolicyInUse"), resp
        assert ping(h2, v4(vm["h1"]), count=2) == 2
        # ...until Bob's port is gone: then the entry goes, and Bob no longer sees it.
        unplug(h2)
        assert bob.api.delete("/v2.0/ports/" + guest["id"]).status == 204
        assert alice.api.delete(policy).status == 204
        assert bob.api.get("/v2.0/networks/" + network["id"]).status == 404
        resp = bob.api.post("/v2.0/ports", {"port": {"network_id": network["id"]}})
        assert resp.status == 404, resp
        assert ping(h1, v4(guest), count=2) == 0


def test_the_public_network_keeps_tenants_apart_by_their_groups(controller, tenants):
    """Use case 2: the provider's network shared with all; each tenant's default group
    admits only its own members, and one rule opens exactly what it says."""
    alice, bob = tenants
    operator = Tenant(controller, "operator")
    operator.api = ApiClient(controller.url, controller.token("operator", admin=True))
    hosts = {"a1": 1, "b1": 2, "a2": 2, "b2": 1}
    with lab(controller.ofp_port, switches=2, cables=[(1, 2)], hosts=hosts) as net:
        public = operator.create("/v2.0/networks", "network", {"name": "public", "shared": True})
        operator.create(
            "/v2.0/subnets",
            "subnet",
            {
                "network_id": public["id"],
                "ip_version": 4,
                "cidr": "10.50.0.0/24",
                "enable_dhcp": False,
            },
        )
        listed = alice.api.get("/v2.0/networks?shared=True").json["networks"]
        assert [n["id"] for n in listed] == [public["id"]]
        vms = plugged_ports(alice, net, public, ("a1", "a2"))
        vms.update(plugged_ports(bob, net, public, ("b1", "b2")))
        a1, b1, a2, b2 = (net.get(h) for h in ("a1", "b1", "a2", "b2"))
        ip = {name: v4(port) for name, port in vms.items()}
        # Each reaches its own project's other VM, never the other project's.
        assert wait_ping(a1, ip["a2"]) and wait_ping(b1, ip["b2"])
        for src, dst in ((a1, "b1"), (a1, "b2"), (b1, "a1"), (b2, "a2")):
            assert ping(src, ip[dst], count=2) == 0, (src.name, dst)
        # Bob admits ICMP from a1 alone: exactly that opens.
        bob.admit(bob.default_group(), ip["a1"] + "/32")
        assert wait_for(lambda: ping(a1, ip["b1"], count=1) == 1, timeout=10)
        assert ping(a1, ip["b2"], count=2) == 2
        assert ping(a2, ip["b1"], count=2) == 0  # another of Alice's VMs: not admitted
        assert ping(b1, ip["a1"], count=2) == 0  # Alice's group admits no one of Bob's
        b1.cmd("nc -lk 22 >/dev/null 2>&1 &")
        try:
            assert not tcp_ok(a1, ip["b1"], 22)  # ICMP only
            assert tcp_ok(b2, ip["b1"], 22)  # Bob's own VMs, as before
        finally:
            b1.cmd("pkill -f 'nc -lk'")


def test_a_shared_qos_policy_and_group_on_the_targets_ports(controller, tenants):
    alice, bob = tenants
    with lab(controller.ofp_port, switches=1, hosts={"h1": 1, "h2": 1, "h3": 1}) as net:
        policy = alice.create("/v2.0/qos/policies", "policy", {"name": "10M"})
        alice.create(
            f"/v2.0/qos/policies/{policy['id']}/bandwidth_limit_rules",
            "bandwidth_limit_rule",
            {"max_kbps": 10000, "max_burst_kbps": 1000, "direction": "egress"},
        )
        ssh = alice.create("/v2.0/security-groups", "security_group", {"name": "ssh"})
        alice.create(
            "/v2.0/security-group-rules",
            "security_group_rule",
            {
                "security_group_id": ssh["id"],
                "direction": "ingress",
                "protocol": "tcp",
                "port_range_min": 22,
                "port_range_max": 22,
            },
        )
        network = bob.network("bobs", "10.0.0.0/24")
        refused = bob.api.post(
            "/v2.0/ports", {"port": {"network_id": network["id"], "qos_policy_id": policy["id"]}}
        )
        assert refused.status == 404, refused
        _share(alice, "qos_policy", policy["id"], bob.project)
        _share(alice, "security_group", ssh["id"], bob.project)
        ports = plugged_ports(
            bob,
            net,
            network,
            ("h1", "h2", "h3"),
            h1={"qos_policy_id": policy["id"]},
            h2={"security_groups": [ssh["id"]]},
        )
        h1, h2, h3 = (net.get(h) for h in ("h1", "h2", "h3"))
        assert wait_ping(h1, v4(ports["h3"]))
        # Alice's policy shapes Bob's port; his other port is free.
        limited = iperf_udp(h1, h3, v4(ports["h3"]), rate="30M", seconds=4)
        assert 8.5e6 <= limited <= 11.5e6, limited
        free = iperf_udp(h3, h1, v4(ports["h1"]), rate="30M", seconds=4)
        assert free > 25e6, free
        # Alice's group on Bob's port admits SSH and nothing else.
        for listen in (22, 80):
            h2.cmd(f"nc -lk {listen} >/dev/null 2>&1 &")
        try:
            assert wait_for(lambda: tcp_ok(h1, v4(ports["h2"]), 22), timeout=20)
            assert not tcp_ok(h1, v4(ports["h2"]), 80)
            assert ping(h1, v4(ports["h2"]), count=2) == 0
        finally:
            h2.cmd("pkill -f 'nc -lk'")
        # Bob uses them but does not change them.
        resp = bob.api.put(f"/v2.0/qos/policies/{policy['id']}", {"policy": {"name": "x"}})
        assert resp.status == 403, resp
