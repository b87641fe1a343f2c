"""Who may do what, through oslo.policy with Neutron's defaults: the network owner, a project
the network is shared with, an admin; and an operator's policy.yaml overriding a default.

A server of this module's own: its shared networks are seen by every project, and must not
appear in the lists of the suite's other tests."""

import itertools

import pytest

from tests.helpers import ApiClient, start_server


@pytest.fixture(scope="module")
def sharing_server(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("sharing-server"))
    yield server
    assert server.stop(timeout=5) == 0, server.log_tail()


_PROJECTS = itertools.count(1)


def _client(server, admin=False):
    project = f"{'ops' if admin else 'project'}-{next(_PROJECTS)}"
    client = ApiClient(server.url, server.token(project, admin=admin))
    client.project = project
    return client


@pytest.fixture
def alice(sharing_server):
    return _client(sharing_server)


@pytest.fixture
def bob(sharing_server):
    return _client(sharing_server)


@pytest.fixture
def admin(sharing_server):
    return _client(sharing_server, admin=True)


def _ok(resp, status=201):
    assert resp.status == status, resp
    return resp


def _shared_network(owner):
    net = _ok(owner.post("/v2.0/networks", {"network": {"name": "s", "shared": True}}))
    net = net.json["network"]
    subnet = _ok(
        owner.post(
            "/v2.0/subnets",
            {"subnet": {"network_id": net["id"], "ip_version": 4, "cidr": "10.8.0.0/24"}},
        )
    ).json["subnet"]
    vm = _ok(owner.post("/v2.0/ports", {"port": {"network_id": net["id"], "name": "vm"}}))
    return net, subnet, vm.json["port"]


def _port_body(net, **attrs):
    return {"port": dict({"network_id": net["id"]}, **attrs)}


def _refusals(net, subnet, victim):
    """What a project may not ask for on a network shared with it (Neutron's
    create_port:<attribute> rules): each would let it spoof or pose as the network."""
    return {
        "allowed_address_pairs": {"allowed_address_pairs": [{"ip_address": "0.0.0.0/0"}]},
        "port_security_enabled": {"port_security_enabled": False},
        "mac_address": {"mac_address": victim["mac_address"]},
        "fixed_ips:ip_address": {
            "fixed_ips": [
                {"subnet_id": subnet["id"], "ip_address": victim["fixed_ips"][0]["ip_address"]}
            ]
        },
        "device_owner": {"device_owner": "network:dhcp"},
        "device_owner ": {"device_owner": "network:router_gateway"},
        "binding:profile": {"binding:profile": {"x": 1}},
    }


def test_shared_network_user_cannot_turn_off_protections(alice, bob):
    net, subnet, victim = _shared_network(alice)
    ports_before = len(bob.get("/v2.0/ports").json["ports"])
    for rule, attrs in _refusals(net, subnet, victim).items():
        resp = bob.post("/v2.0/ports", _port_body(net, **attrs))
        assert resp.status == 403 and resp.error_type == "PolicyNotAuthorized", (rule, resp)
        assert f"create_port:{rule.strip()}" in resp.json["NeutronError"]["message"], resp
    # The refusal comes before any conflict check: it tells nothing of what Alice uses.
    assert len(bob.get("/v2.0/ports").json["ports"]) == ports_before
    # What a project may do there: a plain port, a subnet of its choice, a compute owner.
    mine = _ok(
        bob.post(
            "/v2.0/ports",
            _port_body(net, fixed_ips=[{"subnet_id": subnet["id"]}], device_owner="compute:nova"),
        )
    ).json["port"]
    assert mine["port_security_enabled"] is True and mine["security_groups"]
    # The same attributes on an update of its own port: 403; harmless ones: 200.
    url = "/v2.0/ports/" + mine["id"]
    for rule, attrs in _refusals(net, subnet, victim).items():
        resp = bob.put(url, {"port": attrs})
        assert resp.status == 403 and resp.error_type == "PolicyNotAuthorized", (rule, resp)
    _ok(bob.put(url, {"port": {"name": "renamed", "security_groups": []}}), 200)
    shown = bob.get(url).json["port"]
    assert shown["port_security_enabled"] is True and shown["allowed_address_pairs"] == []


def test_shared_network_user_cannot_change_the_network_or_its_subnets(alice, bob):
    net, subnet, victim = _shared_network(alice)
    for resp in (
        bob.put("/v2.0/networks/" + net["id"], {"network": {"name": "mine"}}),
        bob.delete("/v2.0/networks/" + net["id"]),
        bob.put(f"/v2.0/networks/{net['id']}/tags/t"),
        bob.post(
            "/v2.0/subnets",
            {"subnet": {"network_id": net["id"], "ip_version": 4, "cidr": "10.9.0.0/24"}},
        ),
        bob.put("/v2.0/subnets/" + subnet["id"], {"subnet": {"name": "mine"}}),
        bob.delete("/v2.0/subnets/" + subnet["id"]),
    ):
        assert resp.status == 403 and resp.error_type == "PolicyNotAuthorized", resp
    # Another project's port on the network is not Bob's to see: 404, not 403.
    assert bob.get("/v2.0/ports/" + victim["id"]).status == 404
    assert bob.delete("/v2.0/ports/" + victim["id"]).status == 404
    assert alice.get("/v2.0/networks/" + net["id"]).json["network"]["name"] == "s"


def test_network_owner_and_admin_rights_on_others_ports(alice, bob, admin):
    net, subnet, _victim = _shared_network(alice)
    bobs = _ok(bob.post("/v2.0/ports", _port_body(net))).json["port"]
    # The network owner sees and may delete a port on its network, but not change it.
    assert alice.get("/v2.0/ports/" + bobs["id"]).status == 200
    resp = alice.put("/v2.0/ports/" + bobs["id"], {"port": {"name": "x"}})
    assert resp.status == 403 and resp.error_type == "PolicyNotAuthorized"
    # The owner's own ports may have every protection off or chosen; the MAC of an existing
    # port changes only by an admin (update_port:mac_address).
    owned = _ok(
        alice.post(
            "/v2.0/ports",
            _port_body(
                net,
                mac_address="fa:16:3e:00:00:42",
                port_security_enabled=False,
                fixed_ips=[{"subnet_id": subnet["id"], "ip_address": "10.8.0.42"}],
            ),
        )
    ).json["port"]
    resp = alice.put("/v2.0/ports/" + owned["id"], {"port": {"mac_address": "fa:16:3e:00:00:43"}})
    assert resp.status == 403 and "update_port:mac_address" in resp.json["NeutronError"]["message"]
    _ok(
        admin.put("/v2.0/ports/" + owned["id"], {"port": {"mac_address": "fa:16:3e:00:00:43"}}), 200
    )
    # An admin may give another project's port anything.
    _ok(
        admin.put(
            "/v2.0/ports/" + bobs["id"],
            {"port": {"security_groups": [], "port_security_enabled": False}},
        ),
        200,
    )
    assert alice.delete("/v2.0/ports/" + bobs["id"]).status == 204


def test_trusted_ports_show_what_the_switches_enforce(admin):
    """A ``network:`` port is never filtered: the API says so instead of showing defaults."""
    net = _ok(admin.post("/v2.0/networks", {"network": {}})).json["network"]
    port = _ok(admin.post("/v2.0/ports", _port_body(net, device_owner="network:dhcp")))
    port = port.json["port"]
    assert port["port_security_enabled"] is False
    assert port["security_groups"] == [] and port["allowed_address_pairs"] == []


def test_operator_policy_file_overrides_a_default(tmp_path):
    """``[oslo_policy] policy_file``: only admins create networks; tenants may still list."""
    policy = tmp_path / "policy.yaml"
    policy.write_text('"create_network": "rule:admin_only"\n"get_network": "rule:admin_or_owner"\n')
    config = tmp_path / "naas-sdn.conf"
    config.write_text(f"[oslo_policy]\npolicy_file = {policy}\n")
    server = start_server(tmp_path, extra_args=["--config", str(config)])
    try:
        tenant = ApiClient(server.url, server.token("t1"))
        admin = ApiClient(server.url, server.token("ops", admin=True))
        resp = tenant.post("/v2.0/networks", {"network": {"name": "n"}})
        assert resp.status == 403 and "create_network" in resp.json["NeutronError"]["message"]
        shared = _ok(admin.post("/v2.0/networks", {"network": {"shared": True}})).json["network"]
        # get_network no longer admits shared networks: gone from the list and from show.
        assert tenant.get("/v2.0/networks").json["networks"] == []
        assert tenant.get("/v2.0/networks/" + shared["id"]).status == 404
        # The file is reread when it changes.
        policy.write_text('"create_network": "rule:regular_user"\n')
        assert tenant.post("/v2.0/networks", {"network": {"name": "n"}}).status == 201
    finally:
        assert server.stop() == 0, server.log_tail()


@pytest.mark.parametrize("command", [["policy", "sample"]])
def test_policy_sample_lists_every_default(command):
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "naas_sdn", *command], capture_output=True, text=True, check=True
    ).stdout
    for name in (
        "create_port:mac_address",
        "create_port:fixed_ips:ip_address",
        "update_port:mac_address",
        "create_protocol_block",
        "create_policy",
        "add_router_interface",
        "get_network_statistics",
        "update_quota",
    ):
        assert f'#"{name}":' in out, name
