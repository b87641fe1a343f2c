"""Hypervisors that share only an IP underlay: each its own Open vSwitch, joined by the VXLAN
tunnels the controller makes (topologies/hypervisors.py)."""

from __future__ import annotations

import contextlib
import re
import subprocess
import time

import pytest

from tests.dataplane.conftest import Tenant, metric
from tests.dataplane.lab import Capture, iperf3, ping, wait_for, wait_ping
from tests.helpers import ApiClient, ServerProcess
from topologies.hypervisors import MGMT_IP, Vm, ovsdb_remotes, underlay

HYPERVISORS = 3


@contextlib.contextmanager
def controlled_underlay(tmp_path, count: int, extra_args=()):
    """``count`` hypervisors and a controller on the management network monitoring their
    databases, every bridge connected and its tunnel port made."""
    remotes = [arg for remote in ovsdb_remotes(count) for arg in ("--ovsdb", remote)]
    server = ServerProcess(tmp_path, extra_args=[*remotes, *extra_args], ofp_host=MGMT_IP)
    with underlay(count, server.ofp_port) as hypervisors:
        server.start()
        try:
            connected = lambda: metric(server, "naas_switches_connected") >= count  # noqa: E731
            assert wait_for(connected, timeout=30), server.log_tail()
            for hypervisor in hypervisors:
                hypervisor.tunnel_port()
            yield server, hypervisors
        finally:
            server.stop()


@pytest.fixture
def lab(tmp_path):
    with controlled_underlay(tmp_path, HYPERVISORS) as found:
        yield found


def admin_of(server):
    return ApiClient(server.url, server.token("operator", admin=True))


def subnet(tenant: Tenant, network: dict, cidr: str) -> None:
    tenant.create(
        "/v2.0/subnets",
        "subnet",
        {"network_id": network["id"], "ip_version": 4, "cidr": cidr, "enable_dhcp": False},
    )


def vm(name, hypervisor, tenant, network, ip) -> Vm:
    port = tenant.port(network, name, fixed_ips=[{"ip_address": ip}])
    machine = Vm(name, hypervisor)
    machine.plug(port, ip)
    machine.port = port  # type: ignore[attr-defined]
    return machine


class UnderlayCapture:
    """tcpdump of the VXLAN packets reaching one hypervisor's uplink."""

    def __init__(self, hypervisor):
        self.proc = subprocess.Popen(
            ["tcpdump", "-l", "-n", "-Q", "out", "-i", f"hv{hypervisor.n}ub", "udp port 4789"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        while "listening on" not in (line := self.proc.stderr.readline()) and line:
            pass

    def vnis(self) -> list[int]:
        time.sleep(0.5)
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=10)
        return [int(v) for v in re.findall(r"VXLAN, flags \[I\] \(0x08\), vni (\d+)", out)]


def test_vms_on_hypervisors_reach_each_other_in_tunnels_and_tenants_stay_apart(lab):
    server, (hv1, hv2, hv3) = lab
    alice, bob = Tenant(server, "alice"), Tenant(server, "bob")
    alice_net = alice.network("alice")
    subnet(alice, alice_net, "10.0.0.0/24")
    # Bob's network has a VNI no VLAN could carry, and the very addresses Alice uses.
    made = admin_of(server).post(
        "/v2.0/networks",
        {
            "network": {
                "name": "bob",
                "project_id": "bob",
                "provider:network_type": "vxlan",
                "provider:segmentation_id": 70000,
            }
        },
    )
    assert made.status == 201, made
    bob_net = made.json["network"]
    subnet(bob, bob_net, "10.0.0.0/24")
    a1 = vm("a1", hv1, alice, alice_net, "10.0.0.11")
    a2 = vm("a2", hv2, alice, alice_net, "10.0.0.12")
    b1 = vm("b1", hv1, bob, bob_net, "10.0.0.11")
    b3 = vm("b3", hv3, bob, bob_net, "10.0.0.12")

    assert wait_ping(a1, "10.0.0.12"), server.log_tail()
    assert wait_ping(a2, "10.0.0.11")
    alice_sees = Capture(a2, [b1.port["mac_address"]])
    assert wait_ping(b1, "10.0.0.12")  # b3, on hypervisor 3: Alice's a2 hears nothing
    assert ping(b3, "10.0.0.11") == 3
    assert alice_sees.stop() == []

    # A broadcast of Alice's reaches hypervisor 2 in a tunnel with her VNI, never 3, where
    # she has no port; Bob's goes to 3 only.
    to_hv2, to_hv3 = UnderlayCapture(hv2), UnderlayCapture(hv3)
    a1.cmd("ping -n -b -c 3 -i 0.2 10.0.0.255")
    b1.cmd("ping -n -b -c 3 -i 0.2 10.0.0.255")
    seen2, seen3 = to_hv2.vnis(), to_hv3.vnis()
    keys = {n["name"]: n["provider:segmentation_id"] for n in
            admin_of(server).get("/v2.0/networks").json["networks"]}  # fmt: skip
    assert seen2.count(keys["alice"]) >= 3 and 70000 not in seen2
    assert keys["alice"] not in seen3 and seen3.count(70000) >= 3
    # Nothing of Alice's network is on hypervisor 3's bridge.
    mine = re.compile(rf"(tun_id|metadata)={keys['alice']:#x}\b")
    assert not [f for f in hv3.ofctl("dump-flows").splitlines() if mine.search(f)]
    assert [f for f in hv2.ofctl("dump-flows").splitlines() if mine.search(f)]

    # TCP across the tunnel: the MTU fits (the underlay carries the 50 bytes more).
    report = iperf3(a1, a2, "10.0.0.12", "-t 2")
    assert report.get("sum_received", {}).get("bytes", 0) > 1_000_000, report
    assert ping(a1, "10.0.0.12") == 3


def test_the_4095th_network_crosses_the_underlay(lab):
    server, (hv1, hv2, _) = lab
    admin = admin_of(server)
    assert admin.put("/v2.0/quotas/crowd", {"quota": {"network": -1}}).status == 200
    for start in range(0, 4094, 500):
        batch = [{"project_id": "crowd"} for _ in range(min(500, 4094 - start))]
        assert admin.post("/v2.0/networks", {"networks": batch}).status == 201
    carol = Tenant(server, "carol")
    network = carol.network("the-4095th")
    shown = admin.get(f"/v2.0/networks/{network['id']}").json["network"]
    assert (shown["provider:network_type"], shown["provider:segmentation_id"]) == ("vxlan", 4095)
    assert shown["mtu"] == 1450
    subnet(carol, network, "10.1.0.0/24")
    c1 = vm("c1", hv1, carol, network, "10.1.0.1")
    vm("c2", hv2, carol, network, "10.1.0.2")
    assert wait_ping(c1, "10.1.0.2", timeout=30), server.log_tail()
    # A packet of the network's full MTU passes unfragmented.
    assert " 0% packet loss" in c1.cmd("ping -n -c 2 -M do -s 1422 10.1.0.2")


def restart_loses_no_ping(server, switches: int, source, ip: str) -> None:
    """``source`` pings ``ip`` every 50 ms while the controller restarts: every switch is
    read back and found correct (no flow-mod), and no echo goes unanswered."""
    time.sleep(1)
    pinger = source.popen(["ping", "-n", "-i", "0.05", "-c", "200", ip], text=True,
                          stdout=subprocess.PIPE)  # fmt: skip
    time.sleep(1)
    server.restart()
    assert wait_for(
        lambda: metric(server, "naas_switch_syncs_total", 'kind="full"') >= switches,
        timeout=30,
    ), server.log_tail()
    out, _ = pinger.communicate(timeout=60)
    assert "200 packets transmitted, 200 received" in out, out
    assert metric(server, "naas_flow_mods_total") == 0, server.log_tail()


def test_controller_restart_loses_no_ping_across_the_underlay(lab):
    server, (hv1, _, hv3) = lab
    alice = Tenant(server, "alice")
    network = alice.network("alice")
    subnet(alice, network, "10.0.0.0/24")
    a1 = vm("a1", hv1, alice, network, "10.0.0.11")
    vm("a3", hv3, alice, network, "10.0.0.13")
    assert wait_ping(a1, "10.0.0.13"), server.log_tail()
    restart_loses_no_ping(server, HYPERVISORS, a1, "10.0.0.13")
