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
        cmd = [
            OPENSTACK,
            "--os-auth-type",
            "admin_token",
            "--os-endpoint",
            server.url,
            "--os-token",
            alice.token,
            *args,
        ]
        if parse:
            cmd += ["-f", "json"]
        out = subprocess.run(
            cmd,
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
        )
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout) if parse else out.stdout

    run.base = [
        OPENSTACK,
        "--os-auth-type",
        "admin_token",
        "--os-endpoint",
        server.url,
        "--os-token",
        alice.token,
    ]
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

    port = cli(
        "port",
        "create",
        "--network",
        "net2",
        "--mac-address",
        "02:00:00:aa:bb:cc",
        "--disable",
        "p1",
    )
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
    out = subprocess.run(
        [
            OPENSTACK,
            "--os-auth-type",
            "admin_token",
            "--os-endpoint",
            server.url,
            "--os-token",
            alice.token,
            "network",
            "show",
            "missing",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
    )
    assert out.returncode != 0 and "missing" in out.stderr


def test_openstacksdk(server, alice):
    conn = openstack.connection.Connection(
        auth_type="admin_token", auth={"token": alice.token, "endpoint": server.url}
    )
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
    v4 = cli(
        "subnet",
        "create",
        "--network",
        "net1",
        "--subnet-range",
        "10.0.0.0/24",
        "--dns-nameserver",
        "8.8.8.8",
        "sub4",
    )
    assert (v4["cidr"], v4["gateway_ip"], v4["network_id"]) == (
        "10.0.0.0/24",
        "10.0.0.1",
        net["id"],
    )
    assert v4["allocation_pools"] == [{"start": "10.0.0.2", "end": "10.0.0.254"}]
    assert v4["dns_nameservers"] == ["8.8.8.8"] and v4["enable_dhcp"] is True
    v6 = cli(
        "subnet",
        "create",
        "--network",
        "net1",
        "--ip-version",
        "6",
        "--ipv6-ra-mode",
        "slaac",
        "--ipv6-address-mode",
        "slaac",
        "--subnet-range",
        "2001:db8::/64",
        "sub6",
    )
    assert (v6["ip_version"], v6["ipv6_ra_mode"], v6["gateway_ip"]) == (6, "slaac", "2001:db8::1")
    listed = cli("subnet", "list")
    assert sorted((s["Name"], s["Subnet"]) for s in listed) == [
        ("sub4", "10.0.0.0/24"),
        ("sub6", "2001:db8::/64"),
    ]
    cli(
        "subnet",
        "set",
        "--name",
        "sub4b",
        "--gateway",
        "10.0.0.254",
        "--allocation-pool",
        "start=10.0.0.100,end=10.0.0.110",
        "--no-allocation-pool",
        "--host-route",
        "destination=10.8.0.0/16,gateway=10.0.0.9",
        "sub4",
        parse=False,
    )
    shown = cli("subnet", "show", "sub4b")
    assert shown["gateway_ip"] == "10.0.0.254"
    assert shown["allocation_pools"] == [{"start": "10.0.0.100", "end": "10.0.0.110"}]
    assert shown["host_routes"] == [{"destination": "10.8.0.0/16", "nexthop": "10.0.0.9"}]

    port = cli(
        "port",
        "create",
        "--network",
        "net1",
        "--fixed-ip",
        "subnet=sub4b,ip-address=10.0.0.50",
        "p1",
    )
    by_subnet = {f["subnet_id"]: f["ip_address"] for f in port["fixed_ips"]}
    assert by_subnet[v4["id"]] == "10.0.0.50" and by_subnet[v6["id"]].startswith("2001:db8::")
    auto = cli("port", "create", "--network", "net1", "p2")
    assert next(f["ip_address"] for f in auto["fixed_ips"]) == "10.0.0.100"
    found = cli("port", "list", "--fixed-ip", "ip-address=10.0.0.50")
    assert [p["ID"] for p in found] == [port["id"]]
    # `port set` sends every current address back, the SLAAC one included
    cli("port", "set", "--fixed-ip", "subnet=sub4b,ip-address=10.0.0.60", "p1", parse=False)
    shown = cli("port", "show", "p1")["fixed_ips"]
    assert [f["ip_address"] for f in shown] == ["10.0.0.50", by_subnet[v6["id"]], "10.0.0.60"]

    out = subprocess.run(
        [*cli.base, "subnet", "delete", "sub4b"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env=cli.env,
    )
    assert out.returncode != 0
    assert "One or more ports have an IP allocation from this subnet" in out.stderr
    cli("port", "delete", "p1", "p2", parse=False)
    cli("subnet", "delete", "sub4b", "sub6", parse=False)
    assert cli("subnet", "list") == []
    cli("network", "delete", "net1", parse=False)


def test_openstacksdk_subnets(server, alice):
    conn = openstack.connection.Connection(
        auth_type="admin_token", auth={"token": alice.token, "endpoint": server.url}
    )
    net = conn.network.create_network(name="sdk-ip")
    sub = conn.network.create_subnet(
        network_id=net.id,
        ip_version=4,
        cidr="192.168.5.0/24",
        name="sdk-sub",
        allocation_pools=[{"start": "192.168.5.10", "end": "192.168.5.20"}],
    )
    assert sub.gateway_ip == "192.168.5.1" and sub.is_dhcp_enabled is True
    six = conn.network.create_subnet(
        network_id=net.id,
        ip_version=6,
        cidr="fd00:5::/64",
        ipv6_address_mode="dhcpv6-stateless",
        ipv6_ra_mode="dhcpv6-stateless",
    )
    assert conn.network.find_subnet("sdk-sub").id == sub.id
    assert {s.id for s in conn.network.subnets(network_id=net.id)} == {sub.id, six.id}
    port = conn.network.create_port(
        network_id=net.id, fixed_ips=[{"subnet_id": sub.id, "ip_address": "192.168.5.15"}]
    )
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


def test_openstack_cli_security_groups_and_port_security(cli, alice):
    cli("network", "create", "secnet")
    cli("subnet", "create", "--network", "secnet", "--subnet-range", "10.5.0.0/24", "secsub")
    web = cli("security", "group", "create", "--description", "web servers", "web")
    assert web["name"] == "web" and web["stateful"] is True
    rule = cli(
        "security",
        "group",
        "rule",
        "create",
        "--ingress",
        "--protocol",
        "tcp",
        "--dst-port",
        "22",
        "web",
    )
    assert (
        rule["direction"],
        rule["protocol"],
        rule["port_range_min"],
        rule["port_range_max"],
        rule["ether_type"],
    ) == ("ingress", "tcp", 22, 22, "IPv4")
    assert rule["security_group_id"] == web["id"]
    listed = cli("security", "group", "rule", "list", "web")
    assert rule["id"] in {r["ID"] for r in listed} and len(listed) == 3
    names = {g["Name"] for g in cli("security", "group", "list")}
    assert names == {"default", "web"}

    port = cli("port", "create", "--network", "secnet", "--security-group", "web", "p1")
    assert port["security_group_ids"] == [web["id"]] and port["port_security_enabled"] is True
    cli("port", "set", "--allowed-address", "ip-address=10.5.0.200", "p1", parse=False)
    shown = cli("port", "show", "p1")
    assert shown["allowed_address_pairs"] == [
        {"ip_address": "10.5.0.200", "mac_address": port["mac_address"]}
    ]
    out = subprocess.run(
        [*cli.base, "port", "set", "--disable-port-security", "p1"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env=cli.env,
    )
    assert out.returncode != 0 and "Port Security must be enabled" in out.stderr
    cli(
        "port",
        "unset",
        "--allowed-address",
        f"ip-address=10.5.0.200,mac-address={port['mac_address']}",
        "p1",
        parse=False,
    )
    out = subprocess.run(
        [*cli.base, "port", "set", "--disable-port-security", "p1"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env=cli.env,
    )
    assert out.returncode != 0 and "Port has security group associated" in out.stderr
    cli("port", "set", "--no-security-group", "--disable-port-security", "p1", parse=False)
    shown = cli("port", "show", "p1")
    assert shown["security_group_ids"] == [] and shown["port_security_enabled"] is False
    out = subprocess.run(
        [*cli.base, "security", "group", "delete", "default"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env=cli.env,
    )
    assert out.returncode != 0
    cli("port", "delete", "p1", parse=False)
    cli("security", "group", "rule", "delete", rule["id"], parse=False)
    cli("security", "group", "delete", "web", parse=False)
    assert {g["Name"] for g in cli("security", "group", "list")} == {"default"}


def test_openstack_cli_qos(cli, alice):
    policy = cli("network", "qos", "policy", "create", "--description", "ten megs", "q1")
    assert policy["name"] == "q1" and policy["rules"] == []
    bw = cli(
        "network",
        "qos",
        "rule",
        "create",
        "--type",
        "bandwidth-limit",
        "--max-kbps",
        "10000",
        "--egress",
        "q1",
    )
    assert (bw["max_kbps"], bw["direction"]) == (10000, "egress")
    mark = cli(
        "network", "qos", "rule", "create", "--type", "dscp-marking", "--dscp-mark", "26", "q1"
    )
    assert mark["dscp_mark"] == 26
    out = subprocess.run(
        [
            *cli.base,
            "network",
            "qos",
            "rule",
            "create",
            "--type",
            "bandwidth-limit",
            "--max-kbps",
            "5",
            "--egress",
            "q1",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env=cli.env,
    )
    assert out.returncode != 0 and "conflicts with rule" in out.stderr
    shown = cli("network", "qos", "policy", "show", "q1")
    assert sorted(r["type"] for r in shown["rules"]) == ["bandwidth_limit", "dscp_marking"]
    cli("network", "qos", "rule", "set", "--max-kbps", "20000", "q1", bw["id"], parse=False)
    assert cli("network", "qos", "rule", "show", "q1", bw["id"])["max_kbps"] == 20000
    types = cli("network", "qos", "rule", "type", "list")
    assert {t["Type"] for t in types} == {"bandwidth_limit", "dscp_marking"}

    cli("network", "create", "--qos-policy", "q1", "qnet")
    cli("port", "create", "--network", "qnet", "qport")
    cli("port", "set", "--qos-policy", "q1", "qport", parse=False)
    assert cli("port", "show", "qport")["qos_policy_id"] == policy["id"]
    out = subprocess.run(
        [*cli.base, "network", "qos", "policy", "delete", "q1"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env=cli.env,
    )
    assert out.returncode != 0 and "is used by" in out.stderr
    cli("port", "unset", "--qos-policy", "qport", parse=False)
    cli("network", "set", "--no-qos-policy", "qnet", parse=False)
    cli("network", "qos", "rule", "delete", "q1", mark["id"], parse=False)
    cli("network", "qos", "policy", "delete", "q1", parse=False)
    assert cli("network", "qos", "policy", "list") == []


def test_openstacksdk_policies(server, alice):
    conn = openstack.connection.Connection(
        auth_type="admin_token", auth={"token": alice.token, "endpoint": server.url}
    )
    net = conn.network.create_network(name="sdk-sec")
    conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.6.0.0/24")
    group = conn.network.create_security_group(name="sdk-web")
    rule = conn.network.create_security_group_rule(
        security_group_id=group.id,
        direction="ingress",
        protocol="tcp",
        port_range_min=443,
        port_range_max=443,
        remote_ip_prefix="192.0.2.0/24",
    )
    assert rule.protocol == "tcp" and rule.remote_ip_prefix == "192.0.2.0/24"
    with pytest.raises(openstack.exceptions.ConflictException):
        conn.network.create_security_group_rule(
            security_group_id=group.id,
            direction="ingress",
            protocol="tcp",
            port_range_min=443,
            port_range_max=443,
            remote_ip_prefix="192.0.2.0/24",
        )
    assert rule.id in {r.id for r in conn.network.security_group_rules(security_group_id=group.id)}
    port = conn.network.create_port(
        network_id=net.id,
        security_group_ids=[group.id],
        allowed_address_pairs=[{"ip_address": "10.6.0.0/28"}],
    )
    assert port.security_group_ids == [group.id] and port.is_port_security_enabled is True
    policy = conn.network.create_qos_policy(name="sdk-q")
    conn.network.create_qos_bandwidth_limit_rule(policy, max_kbps=1000, direction="ingress")
    conn.network.create_qos_dscp_marking_rule(policy, dscp_mark=46)
    port = conn.network.update_port(port, qos_policy_id=policy.id, security_group_ids=[])
    assert port.qos_policy_id == policy.id and port.security_group_ids == []
    rules = list(conn.network.qos_bandwidth_limit_rules(policy))
    assert [(r.max_kbps, r.direction) for r in rules] == [(1000, "ingress")]
    with pytest.raises(openstack.exceptions.ConflictException):
        conn.network.delete_qos_policy(policy)
    conn.network.delete_port(port)
    conn.network.delete_qos_policy(policy)
    conn.network.delete_security_group(group)
    with pytest.raises(openstack.exceptions.NotFoundException):
        conn.network.get_security_group(group.id)
