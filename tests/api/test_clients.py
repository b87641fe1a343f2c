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
