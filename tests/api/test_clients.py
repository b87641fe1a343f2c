"""The real tenant tools, unchanged: the ``openstack`` CLI and openstacksdk."""
from __future__ import annotations

import json
import subprocess

import openstack
import pytest

from tests.helpers import OPENSTACK


@pytest.fixture
def cli(server, alice):
    def run(*args, parse=True):
        cmd = [OPENSTACK, "--os-auth-type", "admin_token", "--os-endpoint", server.url,
               "--os-token", alice.token, *args]
        if parse:
            cmd += ["-f", "json"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                             env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"})
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout) if parse else out.stdout
    run.base = [OPENSTACK, "--os-auth-type", "admin_token", "--os-endpoint", server.url,
                "--os-token", alice.token]
    run.env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    return run


def test_openstack_cli(cli, alice):
    net = cli("network", "create", "--description", "from the cli", "net1")
    assert net["name"] == "net1" and net["status"] == "ACTIVE" and net["mtu"] == 1500
    assert net["project_id"] == alice.project
    listed = cli("network", "list")
    assert [(n["ID"], n["Name"]) for n in listed] == [(net["id"], "net1")]
    cli("network", "set", "--name", "net2", "--share", "--tag", "blue", "net1", parse=False)
    shown = cli("network", "show", "net2")
    assert shown["shared"] is True and shown["tags"] == ["blue"]
    assert shown["revision_number"] > net["revision_number"]

    port = cli("port", "create", "--network", "net2", "--mac-address", "02:00:00:aa:bb:cc",
               "--disable", "p1")
    assert port["network_id"] == net["id"] and port["mac_address"] == "02:00:00:aa:bb:cc"
    assert port["admin_state_up"] is False and port["status"] == "DOWN"
    ports = cli("port", "list", "--network", "net2")
    assert [p["ID"] for p in ports] == [port["id"]]
    cli("port", "set", "--name", "p2", "--enable", "--description", "d", port["id"], parse=False)
    shown = cli("port", "show", "p2")
    assert (shown["name"], shown["admin_state_up"], shown["description"]) == ("p2", True, "d")
    cli("port", "delete", "p2", parse=False)
    cli("network", "delete", "net2", parse=False)
    assert cli("network", "list") == []
    assert alice.get("/v2.0/ports").json["ports"] == []


def test_openstack_cli_reports_errors(server, alice):
    out = subprocess.run([OPENSTACK, "--os-auth-type", "admin_token", "--os-endpoint", server.url,
                          "--os-token", alice.token, "network", "show", "missing"],
                         capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"})
    assert out.returncode != 0 and "missing" in out.stderr


def test_openstacksdk(server, alice):
    conn = openstack.connection.Connection(
        auth_type="admin_token", auth={"token": alice.token, "endpoint": server.url})
    net = conn.network.create_network(name="sdk-net", description="d")
    assert net.id and net.mtu == 1500 and net.status == "ACTIVE"
    created = [conn.network.create_network(name=f"sdk-{i}") for i in range(5)]
    assert len(list(conn.network.networks())) == 6
    paged = list(conn.network.networks(limit=2, sort_key="name", sort_dir="asc"))
    assert [n.name for n in paged] == sorted(["sdk-net"] + [f"sdk-{i}" for i in range(5)])
    assert conn.network.find_network("sdk-net").id == net.id

    port = conn.network.create_port(network_id=net.id, name="sdk-port")
    assert port.mac_address.startswith("fa:16:3e:") and port.status == "DOWN"
    assert port.binding_vif_type == "unbound"
    port = conn.network.update_port(port, name="renamed", admin_state_up=False)
    assert port.name == "renamed" and port.is_admin_state_up is False
    assert port.revision_number == 2
    assert [p.id for p in conn.network.ports(network_id=net.id)] == [port.id]
    conn.network.set_tags(net, ["x", "y"])
    assert sorted(conn.network.get_network(net.id).tags) == ["x", "y"]
    assert {e.alias for e in conn.network.extensions()} >= {"binding", "standard-attr-tag"}
    net = conn.network.update_network(net, name="sdk-net2")
    assert net.name == "sdk-net2"

    with pytest.raises(openstack.exceptions.ConflictException):
        conn.network.delete_network(net)
    conn.network.delete_port(port)
    for n in [net, *created]:
        conn.network.delete_network(n)
    assert list(conn.network.networks()) == []
    with pytest.raises(openstack.exceptions.NotFoundException):
        conn.network.get_network(net.id)


def test_openstack_cli_subnets_and_addresses(cli, alice):
    net = cli("network", "create", "net1")
    v4 = cli("subnet", "create", "--network", "net1", "--subnet-range", "10.0.0.0/24",
             "--dns-nameserver", "8.8.8.8", "sub4")
    assert (v4["cidr"], v4["gateway_ip"], v4["network_id"]) == ("10.0.0.0/24", "10.0.0.1",
                                                                net["id"])
    assert v4["allocation_pools"] == [{"start": "10.0.0.2", "end": "10.0.0.254"}]
    assert v4["dns_nameservers"] == ["8.8.8.8"] and v4["enable_dhcp"] is True
    v6 = cli("subnet", "create", "--network", "net1", "--ip-version", "6", "--ipv6-ra-mode",
             "slaac", "--ipv6-address-mode", "slaac", "--subnet-range", "2001:db8::/64", "sub6")
    assert (v6["ip_version"], v6["ipv6_ra_mode"], v6["gateway_ip"]) == (6, "slaac", "2001:db8::1")
    listed = cli("subnet", "list")
    assert sorted((s["Name"], s["Subnet"]) for s in listed) == [("sub4", "10.0.0.0/24"),
                                                                ("sub6", "2001:db8::/64")]
    cli("subnet", "set", "--name", "sub4b", "--gateway", "10.0.0.254",
        "--allocation-pool", "start=10.0.0.100,end=10.0.0.110", "--no-allocation-pool",
        "--host-route", "destination=10.8.0.0/16,gateway=10.0.0.9", "sub4", parse=False)
    shown = cli("subnet", "show", "sub4b")
    assert shown["gateway_ip"] == "10.0.0.254"
    assert shown["allocation_pools"] == [{"start": "10.0.0.100", "end": "10.0.0.110"}]
    assert shown["host_routes"] == [{"destination": "10.8.0.0/16", "nexthop": "10.0.0.9"}]

    port = cli("port", "create", "--network", "net1", "--fixed-ip",
               "subnet=sub4b,ip-address=10.0.0.50", "p1")
    by_subnet = {f["subnet_id"]: f["ip_address"] for f in port["fixed_ips"]}
    assert by_subnet[v4["id"]] == "10.0.0.50" and by_subnet[v6["id"]].startswith("2001:db8::")
    auto = cli("port", "create", "--network", "net1", "p2")
    assert [f["ip_address"] for f in auto["fixed_ips"]][0] == "10.0.0.100"
    found = cli("port", "list", "--fixed-ip", "ip-address=10.0.0.50")
    assert [p["ID"] for p in found] == [port["id"]]
    # `port set` sends every current address back, the SLAAC one included
    cli("port", "set", "--fixed-ip", "subnet=sub4b,ip-address=10.0.0.60", "p1", parse=False)
    shown = cli("port", "show", "p1")["fixed_ips"]
    assert [f["ip_address"] for f in shown] == ["10.0.0.50", by_subnet[v6["id"]], "10.0.0.60"]

    out = subprocess.run([*cli.base, "subnet", "delete", "sub4b"], capture_output=True,
                         text=True, timeout=60, env=cli.env)
    assert out.returncode != 0
    assert "One or more ports have an IP allocation from this subnet" in out.stderr
    cli("port", "delete", "p1", "p2", parse=False)
    cli("subnet", "delete", "sub4b", "sub6", parse=False)
    assert cli("subnet", "list") == []
    cli("network", "delete", "net1", parse=False)


def test_openstacksdk_subnets(server, alice):
    conn = openstack.connection.Connection(
        auth_type="admin_token", auth={"token": alice.token, "endpoint": server.url})
    net = conn.network.create_network(name="sdk-ip")
    sub = conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="192.168.5.0/24",
                                     name="sdk-sub", allocation_pools=[
                                         {"start": "192.168.5.10", "end": "192.168.5.20"}])
    assert sub.gateway_ip == "192.168.5.1" and sub.is_dhcp_enabled is True
    six = conn.network.create_subnet(network_id=net.id, ip_version=6, cidr="fd00:5::/64",
                                     ipv6_address_mode="dhcpv6-stateless",
                                     ipv6_ra_mode="dhcpv6-stateless")
    assert conn.network.find_subnet("sdk-sub").id == sub.id
    assert {s.id for s in conn.network.subnets(network_id=net.id)} == {sub.id, six.id}
    port = conn.network.create_port(network_id=net.id, fixed_ips=[
        {"subnet_id": sub.id, "ip_address": "192.168.5.15"}])
    assert port.fixed_ips[0] == {"subnet_id": sub.id, "ip_address": "192.168.5.15"}
    assert port.fixed_ips[1]["subnet_id"] == six.id
    other = conn.network.create_port(network_id=net.id)
    assert other.fixed_ips[0]["ip_address"] == "192.168.5.10"
    assert [p.id for p in conn.network.ports(fixed_ips="ip_address=192.168.5.15")] == [port.id]
    sub = conn.network.update_subnet(sub, name="renamed", dns_nameservers=["192.168.5.53"])
    assert sub.name == "renamed" and sub.dns_nameservers == ["192.168.5.53"]
    with pytest.raises(openstack.exceptions.ConflictException):
        conn.network.delete_subnet(sub)
    with pytest.raises(openstack.exceptions.BadRequestException):
        conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="192.168.5.128/25")
    with pytest.raises(openstack.exceptions.ConflictException):
        conn.network.create_port(network_id=net.id, fixed_ips=[{"ip_address": "192.168.5.15"}])
    conn.network.delete_port(port)
    conn.network.delete_port(other)
    conn.network.delete_subnet(sub)
    conn.network.delete_network(net)  # takes the remaining subnet with it
    with pytest.raises(openstack.exceptions.NotFoundException):
        conn.network.get_subnet(six.id)
