"""Out to the world on real OVS: two tenants with the very same addresses behind routers
whose gateways are on an external flat network; an outside host on the physical network
holds the external subnet's gateway address (it plays the upstream router).

VMs reach it through SNAT (tcpdump there sees the gateways' addresses, never a VM's), it
reaches each VM through that VM's floating IP (tcpdump on the VM sees its real address; the
port's security groups still decide), and a controller restart loses no packet of either."""

import re
import time

from tests.dataplane.conftest import Tenant, restart_while
from tests.dataplane.lab import (
    Capture,
    lab,
    plug,
    tcp_ok,
    udhcpc,
    wait_for,
    wait_ping,
)
from tests.helpers import ApiClient

PHYSNET = "physnet1"
UPSTREAM = "172.24.4.1"


def _operator(controller) -> Tenant:
    operator = Tenant(controller, "operator")
    operator.api = ApiClient(controller.url, controller.token("operator", admin=True))
    return operator


def _public(operator) -> dict:
    network = operator.create(
        "/v2.0/networks",
        "network",
        {
            "name": "public",
            "router:external": True,
            "provider:network_type": "flat",
            "provider:physical_network": PHYSNET,
        },
    )
    operator.create(
        "/v2.0/subnets",
        "subnet",
        {
            "network_id": network["id"],
            "ip_version": 4,
            "cidr": "172.24.4.0/24",
            "gateway_ip": UPSTREAM,
            "enable_dhcp": False,
            "allocation_pools": [{"start": "172.24.4.10", "end": "172.24.4.99"}],
        },
    )
    return network


def _tenant_behind_router(tenant: Tenant, public: dict, net, host: str) -> dict:
    """10.0.0.0/24 with the host at 10.0.0.5 (every tenant the same), a router between it
    and ``public``; its security group admits ICMP and TCP 8080 from anywhere."""
    network = tenant.network("inside", "10.0.0.0/24")
    subnet = tenant.api.get(f"/v2.0/subnets?network_id={network['id']}").json["subnets"][0]
    router = tenant.create(
        "/v2.0/routers",
        "router",
        {"name": "r1", "external_gateway_info": {"network_id": public["id"]}},
    )
    resp = tenant.api.put(
        f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": subnet["id"]}
    )
    assert resp.status == 200, resp
    port = tenant.port(network, host, fixed_ips=[{"ip_address": "10.0.0.5"}])
    vm = net.get(host)
    plug(vm, port, "10.0.0.5")
    vm.cmd("ip route add default via 10.0.0.1")
    group = tenant.default_group()
    tenant.admit(group, "0.0.0.0/0")
    tenant.create(
        "/v2.0/security-group-rules",
        "security_group_rule",
        {
            "security_group_id": group["id"],
            "direction": "ingress",
            "protocol": "tcp",
            "port_range_min": 8080,
            "port_range_max": 8080,
        },
    )
    return {"router": router, "port": port, "vm": vm}


def _gateway_address(operator, router) -> tuple[str, str]:
    """(MAC, address) of a router's gateway port."""
    (port,) = operator.api.get(
        f"/v2.0/ports?device_id={router['id']}&device_owner=network:router_gateway"
    ).json["ports"]
    return port["mac_address"], port["fixed_ips"][0]["ip_address"]


def _sources(lines) -> set[str]:
    return {m.group(1) for line in lines if (m := re.search(r"IPv4.* (\S+) > \S+: ICMP", line))}


def test_snat_and_floating_ips_between_tenants_and_the_outside(controller, tenants):
    alice, bob = tenants
    operator = _operator(controller)
    physical = {PHYSNET: (2, {"out": None})}
    hosts = {"a1": 1, "b1": 1}
    with lab(
        controller.ofp_port, switches=2, cables=[(1, 2)], hosts=hosts, physical=physical
    ) as net:
        out = net.get("out")
        out.setIP(UPSTREAM, prefixLen=24)
        public = _public(operator)
        a = _tenant_behind_router(alice, public, net, "a1")
        b = _tenant_behind_router(bob, public, net, "b1")
        a_mac, a_gw = _gateway_address(operator, a["router"])
        b_mac, b_gw = _gateway_address(operator, b["router"])

        # SNAT: both VMs (the same address, 10.0.0.5) reach the outside host, which sees
        # each router's gateway address and never the VM's.
        capture = Capture(out, (a_mac, b_mac), ("icmp",))
        assert wait_ping(a["vm"], UPSTREAM), controller.log_tail()
        assert wait_ping(b["vm"], UPSTREAM)
        pingers = [
            vm.popen(["ping", "-n", "-i", "0.2", "-c", "10", UPSTREAM], text=True)
            for vm in (a["vm"], b["vm"])
        ]
        for pinger in pingers:
            reply, _ = pinger.communicate(timeout=30)
            assert "10 received" in reply, reply
        assert _sources(capture.stop()) == {a_gw, b_gw}
        # TCP from the same source port of both VMs at once: two connections, kept apart.
        out.cmd("nc -lk -p 7070 >/dev/null 2>&1 &")
        assert wait_for(lambda: tcp_ok(out, "127.0.0.1", 7070), timeout=10)
        assert tcp_ok(a["vm"], UPSTREAM, 7070) and tcp_ok(b["vm"], UPSTREAM, 7070)
        together = [
            vm.popen(["nc", "-z", "-w", "3", "-p", "40000", UPSTREAM, "7070"])
            for vm in (a["vm"], b["vm"])
        ]
        assert [p.wait(timeout=15) for p in together] == [0, 0]

        # Floating IPs: the outside host reaches each tenant's own VM by its own address.
        fips = {}
        for tenant, side in ((alice, a), (bob, b)):
            fips[tenant.project] = tenant.create(
                "/v2.0/floatingips",
                "floatingip",
                {"floating_network_id": public["id"], "port_id": side["port"]["id"]},
            )["floating_ip_address"]
        a_fip, b_fip = fips[alice.project], fips[bob.project]
        seen_a = Capture(a["vm"], (a["port"]["mac_address"], _router_mac(alice, a)), ("icmp",))
        seen_b = Capture(b["vm"], (_router_mac(bob, b),), ("icmp",))
        assert wait_ping(out, a_fip), controller.log_tail()
        time.sleep(0.5)
        assert _sources(seen_a.stop()) == {UPSTREAM}  # the outside host's real address
        assert seen_b.stop() == []  # bob's VM, the same address, never saw it
        assert wait_ping(out, b_fip)
        # The port's security group decides: 8080 admitted, 9090 not.
        for port in (8080, 9090):
            a["vm"].cmd(f"nc -lk -p {port} >/dev/null 2>&1 &")
            assert wait_for(lambda port=port: tcp_ok(a["vm"], "127.0.0.1", port), timeout=10)
        assert tcp_ok(out, a_fip, 8080)
        assert not tcp_ok(out, a_fip, 9090)
        # What a VM with a floating IP starts leaves from that address, not the gateway's.
        capture = Capture(out, (a_mac,), ("icmp",))
        assert wait_ping(a["vm"], UPSTREAM)
        assert _sources(capture.stop()) == {a_fip}

        # A restart loses no packet of a connection through SNAT or a floating IP.
        restart_while(
            controller,
            (
                b["vm"].popen(["ping", "-n", "-i", "0.1", "-c", "120", UPSTREAM], text=True),
                out.popen(["ping", "-n", "-i", "0.1", "-c", "120", a_fip], text=True),
            ),
            switches=2,
            pings=120,
        )

        # Unset the floating IP's port: its address stops answering; SNAT goes on.
        fip_id = alice.api.get(f"/v2.0/floatingips?floating_ip_address={a_fip}").json[
            "floatingips"
        ][0]["id"]
        resp = alice.api.put(f"/v2.0/floatingips/{fip_id}", {"floatingip": {"port_id": None}})
        assert resp.status == 200, resp
        assert wait_for(lambda: out.cmd(f"ping -c 1 -W 1 {a_fip}").count(" 0% packet loss") == 0)
        assert wait_ping(a["vm"], UPSTREAM)


def _router_mac(tenant: Tenant, side: dict) -> str:
    """The MAC of the router's interface on the tenant's network: what routed frames to
    the VM come from."""
    (port,) = tenant.api.get(
        f"/v2.0/ports?device_id={side['router']['id']}&device_owner=network:router_interface"
    ).json["ports"]
    return port["mac_address"]


def test_an_auto_allocated_network_leases_an_address_and_reaches_the_outside(
    controller, tenants, tmp_path
):
    """Get me a network: the operator marks ``public`` the default external network and makes
    a default subnet pool; alice's one GET builds her network (its prefix from the pool),
    router and gateway. Her VM gets its lease by DHCP and pings the outside host through
    SNAT; once the topology is deleted, nothing of it forwards."""
    alice, _ = tenants
    operator = _operator(controller)
    physical = {PHYSNET: (2, {"out": None})}
    with lab(
        controller.ofp_port, switches=2, cables=[(1, 2)], hosts={"a1": 1}, physical=physical
    ) as net:
        out = net.get("out")
        out.setIP(UPSTREAM, prefixLen=24)
        public = _public(operator)
        assert operator.api.put(
            f"/v2.0/networks/{public['id']}", {"network": {"is_default": True}}
        ).json["network"]["is_default"]
        operator.create(
            "/v2.0/subnetpools",
            "subnetpool",
            {
                "name": "default-v4",
                "prefixes": ["10.77.0.0/16"],
                "default_prefixlen": 24,
                "is_default": True,
                "shared": True,
            },
        )
        topology = alice.api.get("/v2.0/auto-allocated-topology/None")
        assert topology.status == 200, topology
        network = {"id": topology.json["auto_allocated_topology"]["id"]}
        port = alice.port(network, "a1")
        assert port["fixed_ips"][0]["ip_address"].startswith("10.77.0.")
        vm = net.get("a1")
        plug(vm, port)  # no address: DHCP gives it
        lease = wait_for(lambda: udhcpc(vm, tmp_path / "a1.lease"), timeout=30)
        assert lease and lease["ip"] == port["fixed_ips"][0]["ip_address"], lease
        assert lease["router"] == "10.77.0.1"
        (router,) = alice.api.get("/v2.0/routers").json["routers"]
        mac, gateway = _gateway_address(operator, router)
        capture = Capture(out, (mac,), ("icmp",))
        assert wait_ping(vm, UPSTREAM), controller.log_tail()
        assert _sources(capture.stop()) == {gateway}

        assert alice.api.delete(f"/v2.0/ports/{port['id']}").status == 204
        assert alice.api.delete("/v2.0/auto-allocated-topology/None").status == 204
        assert alice.api.get("/v2.0/routers").json["routers"] == []
        vm.cmd(f"ip addr add {lease['ip']}/24 dev {vm.defaultIntf().name}")
        vm.cmd("ip route replace default via 10.77.0.1")
        assert wait_for(lambda: "0 received" in vm.cmd(f"ping -c1 -W1 {UPSTREAM}"), timeout=10)
