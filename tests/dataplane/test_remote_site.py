"""A tenant's network extended to its remote site: an L2 remote gateway connection makes the
tunnel to the site's bridging device (a Linux vxlan or gretap device in the site's namespace)
on the terminating bridge, and the VMs and the site's hosts share one segment."""

from __future__ import annotations

import subprocess

import pytest

from tests.dataplane.conftest import Tenant, metric
from tests.dataplane.lab import Capture, ping, wait_for, wait_ping
from tests.dataplane.test_tunnels import controlled_underlay, restart_loses_no_ping, subnet, vm
from topologies.hypervisors import OvsSite, RemoteSite, Vm

HYPERVISORS = 2
TERMINATING = "hv1int"


@pytest.fixture
def lab(tmp_path):
    """Two hypervisors; hypervisor 1's bridge terminates the remote sites' tunnels."""
    extra = ["--remote-gateway-bridge", TERMINATING, "--stats-interval", "1"]
    with controlled_underlay(tmp_path, HYPERVISORS, extra) as found:
        yield found


def allow_the_site(tenant: Tenant, cidr: str) -> None:
    """The default group admits only its members: let the site's hosts in."""
    groups = tenant.api.get("/v2.0/security-groups").json["security_groups"]
    default = next(g for g in groups if g["name"] == "default")
    tenant.create(
        "/v2.0/security-group-rules",
        "security_group_rule",
        {"security_group_id": default["id"], "direction": "ingress", "ethertype": "IPv4",
         "remote_ip_prefix": cidr},
    )  # fmt: skip


def alice_on_hypervisor_2(server, hv2) -> tuple[Tenant, dict, Vm]:
    """Alice, her network 10.0.0.0/24 open to her site's hosts, and her VM a2 on the
    hypervisor that does not terminate remote sites."""
    alice = Tenant(server, "alice")
    network = alice.network("alice")
    subnet(alice, network, "10.0.0.0/24")
    allow_the_site(alice, "10.0.0.0/24")
    return alice, network, vm("a2", hv2, alice, network, "10.0.0.12")


def extend(tenant: Tenant, network: dict, site: RemoteSite, **gateway) -> tuple[dict, dict]:
    made = tenant.create(
        "/v2.0/l2-remote-gateways",
        "l2_remote_gateway",
        {"name": f"site{site.n}", "remote_ip": site.underlay_ip, "psk": "s3cret", **gateway},
    )
    connection = tenant.create(
        "/v2.0/l2-remote-gateway-connections",
        "l2_remote_gateway_connection",
        {"l2_remote_gateway_id": made["id"], "network_id": network["id"]},
    )
    return made, connection


def status(tenant: Tenant, connection: dict) -> str:
    path = f"/v2.0/l2-remote-gateway-connections/{connection['id']}"
    return tenant.api.get(path).json["l2_remote_gateway_connection"]["status"]


def remote_tunnels(hypervisor) -> list[str]:
    ports = hypervisor.vsctl("list-ports", hypervisor.bridge).split()
    return [p for p in ports if p.startswith("naasrg")]


def test_a_vm_and_the_sites_hosts_share_one_segment_until_the_connection_goes(lab):
    server, (hv1, hv2) = lab
    alice, network, a2 = alice_on_hypervisor_2(server, hv2)
    site = RemoteSite(1)
    onprem = site.host("onprem1", "10.0.0.100", "02:00:0a:00:00:64")
    gateway, connection = extend(alice, network, site)
    assert "psk" not in gateway
    assert connection["status"] == "DOWN"
    site.tunnel("vx0", hv1.encap_ip, connection["segmentation_id"])
    assert wait_for(lambda: status(alice, connection) == "ACTIVE"), server.log_tail()
    assert len(remote_tunnels(hv1)) == 1 and remote_tunnels(hv2) == []

    assert wait_ping(a2, "10.0.0.100", timeout=30), server.log_tail()
    assert ping(onprem, "10.0.0.12") == 3  # and back: ARP from the site through the tunnel
    # The network's MTU (what DHCP would give the VM) makes it across unfragmented.
    mtu = alice.api.get(f"/v2.0/networks/{network['id']}").json["network"]["mtu"]
    assert mtu == 1450
    a2.run("ip", "link", "set", "eth0", "mtu", str(mtu))
    assert " 0% packet loss" in a2.cmd(f"ping -n -c 2 -M do -s {mtu - 28} 10.0.0.100")
    port = alice.show_port({"id": connection["port_id"]})
    assert (port["device_owner"], port["status"]) == ("network:l2_remote_gateway", "ACTIVE")
    # The bridge device's port counts what went to the site and came from it.
    stats_path = f"/v2.0/port-statistics/{connection['port_id']}"

    def counted():
        found = alice.api.get(stats_path).json["port_statistics"]
        return found["rx_packets"] >= 3 and found["tx_packets"] >= 3

    assert wait_for(counted), alice.api.get(stats_path).json

    # The connection goes: its port, its tunnel and the traffic with it.
    path = f"/v2.0/l2-remote-gateway-connections/{connection['id']}"
    assert alice.api.delete(path).status == 204
    assert wait_for(lambda: remote_tunnels(hv1) == []), server.log_tail()
    assert alice.api.get(f"/v2.0/ports/{connection['port_id']}").status == 404
    assert ping(a2, "10.0.0.100") == 0
    assert alice.api.delete(f"/v2.0/l2-remote-gateways/{gateway['id']}").status == 204


def test_two_tenants_with_the_same_addresses_reach_only_their_own_site(lab):
    server, (hv1, hv2) = lab
    tenants = {name: Tenant(server, name) for name in ("alice", "bob")}
    sites, vms, connections = {}, {}, {}
    for n, (name, tenant) in enumerate(tenants.items(), start=1):
        network = tenant.network(name)
        subnet(tenant, network, "10.0.0.0/24")
        allow_the_site(tenant, "10.0.0.0/24")
        vms[name] = vm(f"{name[0]}2", hv2, tenant, network, "10.0.0.12")
        sites[name] = RemoteSite(n)
        sites[name].host(f"{name[0]}site", "10.0.0.100", f"02:00:0a:00:00:{n:02x}")
        _, connections[name] = extend(tenant, network, sites[name])
        sites[name].tunnel("vx0", hv1.encap_ip, connections[name]["segmentation_id"])
    for name, tenant in tenants.items():
        assert wait_for(lambda t=tenant, n=name: status(t, connections[n]) == "ACTIVE")
    keys = {n: c["segmentation_id"] for n, c in connections.items()}
    assert keys["alice"] != keys["bob"]
    alice_site = sites["alice"].hosts[0]
    bob_site = sites["bob"].hosts[0]
    hears_bob = Capture(bob_site, [vms["alice"].port["mac_address"]])
    assert wait_ping(vms["alice"], "10.0.0.100", timeout=30), server.log_tail()
    assert wait_ping(vms["bob"], "10.0.0.100", timeout=30), server.log_tail()
    assert hears_bob.stop() == []

    # From Alice's site, frames tunnelled with Bob's VNI, or a VNI nobody has, go nowhere.
    sites["alice"].tunnel("vxbob", hv1.encap_ip, keys["bob"], bridged=False)
    sites["alice"].tunnel("vxnone", hv1.encap_ip, 4000000, bridged=False)
    bob_vm_hears = Capture(vms["bob"], ["02:00:0a:00:00:99"])
    for device in ("vxbob", "vxnone"):
        sites["alice"].run("ip", "link", "set", device, "address", "02:00:0a:00:00:99")
        sites["alice"].run("ip", "addr", "add", f"10.0.0.{99 if device == 'vxbob' else 98}/24",
                           "dev", device)  # fmt: skip
        out = subprocess.run(
            ["ip", "netns", "exec", sites["alice"].netns, "ping", "-n", "-c", "3", "-i", "0.2",
             "-W", "1", "-I", device, "10.0.0.12"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert " 0 received" in out.stdout, out.stdout
    assert bob_vm_hears.stop() == []
    assert ping(alice_site, "10.0.0.12") == 3  # Alice's own tunnel still works
    # Dropped, and counted on the terminating switch (ARP requests, sent again and again).
    assert wait_for(
        lambda: metric(server, "naas_tunnel_dropped_packets", f'switch_id="{hv1.dpid:016x}"') >= 6
    ), server.log_tail()


def test_controller_restart_loses_no_ping_across_the_remote_tunnel(lab):
    server, (hv1, hv2) = lab
    alice, network, a2 = alice_on_hypervisor_2(server, hv2)
    site = RemoteSite(1)
    onprem = site.host("onprem1", "10.0.0.100", "02:00:0a:00:00:64")
    _, connection = extend(alice, network, site, udp_port=4790)
    site.tunnel("vx0", hv1.encap_ip, connection["segmentation_id"], udp_port=4790)
    assert wait_ping(a2, "10.0.0.100", timeout=30), server.log_tail()
    restart_loses_no_ping(server, HYPERVISORS, onprem, "10.0.0.12")


def test_a_gre_site_whose_bridging_device_is_an_open_vswitch(lab):
    server, (hv1, hv2) = lab
    alice, network, a2 = alice_on_hypervisor_2(server, hv2)
    site = OvsSite(9)
    onprem = site.host("gsite", "10.0.0.100", "02:00:0a:00:00:64")
    gateway, connection = extend(alice, network, site, tunnel_type="gre")
    assert (gateway["tunnel_type"], gateway["udp_port"]) == ("gre", None)
    site.tunnel("sitegre", hv1.encap_ip, connection["segmentation_id"])
    assert wait_for(lambda: status(alice, connection) == "ACTIVE"), server.log_tail()
    kinds = hv1.vsctl("--bare", "--columns=type", "find", "interface", "type=gre").split()
    assert kinds == ["gre"]
    assert wait_ping(a2, "10.0.0.100", timeout=30), server.log_tail()
    assert ping(onprem, "10.0.0.12") == 3
    assert alice.api.get(f"/v2.0/networks/{network['id']}").json["network"]["mtu"] == 1458


def test_a_site_with_an_ipv6_address_is_reached_from_the_bridges_ipv6_end(lab):
    server, (hv1, hv2) = lab
    alice, network, a2 = alice_on_hypervisor_2(server, hv2)
    site = RemoteSite(2)
    onprem = site.host("v6site", "10.0.0.100", "02:00:0a:00:00:64")
    _, connection = extend(alice, network, site, remote_ip=site.underlay_ip6)
    site.tunnel("vx0", hv1.encap_ip6, connection["segmentation_id"])
    assert wait_for(lambda: status(alice, connection) == "ACTIVE"), server.log_tail()
    assert wait_ping(a2, "10.0.0.100", timeout=30), server.log_tail()
    assert ping(onprem, "10.0.0.12") == 3
    # VXLAN over IPv6 takes 70 bytes of the underlay's MTU.
    assert alice.api.get(f"/v2.0/networks/{network['id']}").json["network"]["mtu"] == 1430
