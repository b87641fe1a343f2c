"""Ports over HTTP: attributes, MAC rules, fixed IPs, scoping, bulk and bad input."""

from __future__ import annotations

import pytest

PORT_KEYS = {
    "id",
    "name",
    "description",
    "network_id",
    "mac_address",
    "fixed_ips",
    "device_id",
    "device_owner",
    "admin_state_up",
    "status",
    "binding:host_id",
    "binding:vif_type",
    "binding:vnic_type",
    "binding:profile",
    "binding:vif_details",
    "project_id",
    "tenant_id",
    "revision_number",
    "created_at",
    "updated_at",
    "tags",
    "port_security_enabled",
    "security_groups",
    "allowed_address_pairs",
    "qos_policy_id",
}


@pytest.fixture
def net(alice):
    return alice.post("/v2.0/networks", {"network": {"name": "ports-net"}}).json["network"]


def create(client, **attrs):
    resp = client.post("/v2.0/ports", {"port": attrs})
    assert resp.status == 201, resp
    return resp.json["port"]


def test_create_defaults(alice, net):
    port = create(
        alice, network_id=net["id"], name="p1", device_id="vm1", device_owner="compute:nova"
    )
    assert set(port) == PORT_KEYS
    assert port["mac_address"].startswith("fa:16:3e:")
    assert port["fixed_ips"] == [] and port["tags"] == []
    assert port["status"] == "DOWN" and port["admin_state_up"] is True
    assert port["binding:host_id"] == "" and port["binding:vif_type"] == "unbound"
    assert port["binding:vnic_type"] == "normal"
    assert port["binding:profile"] == {} and port["binding:vif_details"] == {}
    assert port["project_id"] == port["tenant_id"] == alice.project
    assert (port["device_id"], port["device_owner"]) == ("vm1", "compute:nova")
    assert "key" not in port
    assert port["port_security_enabled"] is True and port["allowed_address_pairs"] == []
    assert port["qos_policy_id"] is None
    default = alice.get("/v2.0/security-groups?name=default").json["security_groups"]
    assert port["security_groups"] == [default[0]["id"]]  # the project's default group
    assert alice.get(f"/v2.0/ports/{port['id']}").json["port"] == port


def test_given_mac_normalized_and_unique_per_network(alice, net):
    port = create(alice, network_id=net["id"], mac_address="02-AB-cd-00-00-01")
    assert port["mac_address"] == "02:ab:cd:00:00:01"
    dup = alice.post(
        "/v2.0/ports", {"port": {"network_id": net["id"], "mac_address": "02:ab:cd:00:00:01"}}
    )
    assert dup.status == 409 and dup.error_type == "MacAddressInUse"
    other = alice.post("/v2.0/networks", {"network": {}}).json["network"]
    assert create(alice, network_id=other["id"], mac_address="02:ab:cd:00:00:01")


@pytest.mark.parametrize(
    "mac",
    [
        "01:00:5e:00:00:01",
        "ff:ff:ff:ff:ff:ff",
        "00:00:00:00:00:00",
        "zz:00:00:00:00:00",
        "02:00:00:00:00",
        12345,
        "",
    ],
)
def test_bad_macs(alice, net, mac):
    resp = alice.post("/v2.0/ports", {"port": {"network_id": net["id"], "mac_address": mac}})
    assert resp.status == 400, resp
    assert "Invalid input for mac_address" in resp.json["NeutronError"]["message"]
    assert alice.get("/v2.0/ports").json["ports"] == []


def test_update_mac_and_conflicts(alice, admin, net):
    a = create(alice, network_id=net["id"])
    b = create(alice, network_id=net["id"])
    resp = alice.put(f"/v2.0/ports/{a['id']}", {"port": {"mac_address": "02:00:00:00:00:42"}})
    assert resp.status == 403 and resp.error_type == "PolicyNotAuthorized"  # admins only
    resp = admin.put(f"/v2.0/ports/{a['id']}", {"port": {"mac_address": b["mac_address"]}})
    assert resp.status == 409 and resp.error_type == "MacAddressInUse"
    resp = admin.put(f"/v2.0/ports/{a['id']}", {"port": {"mac_address": "02:00:00:00:00:42"}})
    assert resp.status == 200 and resp.json["port"]["mac_address"] == "02:00:00:00:00:42"
    assert resp.json["port"]["revision_number"] == 2


def test_fixed_ips_need_subnets(alice, net):
    before = alice.get("/v2.0/ports").json
    unknown = "3f0e0c9e-2a43-4a5e-8a61-5b1b0b3e6d35"
    for entry in ({"subnet_id": unknown}, {"ip_address": "10.0.0.5"}):
        resp = alice.post("/v2.0/ports", {"port": {"network_id": net["id"], "fixed_ips": [entry]}})
        assert resp.status == 400 and resp.error_type == "InvalidInput", resp
        assert "IP allocation requires subnets for network" in resp.json["NeutronError"]["message"]
    for bad in (
        "10.0.0.5",
        [{"subnet_id": "nope"}],
        [{"ip_address": "300.1.1.1"}],
        [5],
        [{"subnet": unknown}],
        [{}],
        None,
        [{"ip_address": "10.0.0.05"}],
    ):
        resp = alice.post("/v2.0/ports", {"port": {"network_id": net["id"], "fixed_ips": bad}})
        assert resp.status == 400 and resp.error_type == "HTTPBadRequest", (bad, resp)
    port = create(alice, network_id=net["id"], fixed_ips=[])
    resp = alice.put(f"/v2.0/ports/{port['id']}", {"port": {"fixed_ips": [{"subnet_id": unknown}]}})
    assert resp.status == 400
    assert len(alice.get("/v2.0/ports").json["ports"]) == len(before["ports"]) + 1


BAD_PORT_BODIES = [
    ({}, "Required attribute 'network_id' not specified"),
    ({"network_id": "nope"}, "Invalid input for network_id"),
    ({"network_id": None}, "Invalid input for network_id"),
    ({"network_id": "NET", "admin_state_up": "maybe"}, "'maybe' cannot be converted to boolean"),
    ({"network_id": "NET", "device_id": 5}, "Invalid input for device_id"),
    ({"network_id": "NET", "status": "ACTIVE"}, "not allowed in POST"),
    ({"network_id": "NET", "binding:host_id": 5}, "Invalid input for binding:host_id"),
    ({"network_id": "NET", "binding:vif_type": "ovs"}, "not allowed in POST"),
    ({"network_id": "NET", "binding:vnic_type": "direct"}, "Invalid input for binding:vnic_type"),
    ({"network_id": "NET", "dns_name": "vm1"}, "Unrecognized attribute(s) 'dns_name'"),
    ({"network_id": "NET", "security_groups": ["nope"]}, "Invalid input for security_groups"),
    ({"network_id": "NET", "security_groups": "x"}, "Invalid input for security_groups"),
    (
        {"network_id": "NET", "port_security_enabled": "nope"},
        "Invalid input for port_security_enabled",
    ),
    ({"network_id": "NET", "qos_policy_id": "nope"}, "Invalid input for qos_policy_id"),
    (
        {"network_id": "NET", "allowed_address_pairs": [{"ip_address": "10.0.0.300"}]},
        "'10.0.0.300' is not a valid IP address",
    ),
    ({"network_id": "NET", "name": "x" * 256}, "exceeds maximum length of 255"),
]


@pytest.mark.parametrize("attrs,message", BAD_PORT_BODIES)
def test_bad_port_bodies_change_nothing(alice, net, attrs, message):
    attrs = {k: (net["id"] if v == "NET" else v) for k, v in attrs.items()}
    before = alice.get("/v2.0/ports").json
    resp = alice.post("/v2.0/ports", {"port": attrs})
    assert resp.status == 400, resp
    assert message in resp.json["NeutronError"]["message"]
    assert alice.get("/v2.0/ports").json == before


def test_unknown_network(alice):
    resp = alice.post(
        "/v2.0/ports", {"port": {"network_id": "3f0e0c9e-2a43-4a5e-8a61-5b1b0b3e6d35"}}
    )
    assert resp.status == 404 and resp.error_type == "NetworkNotFound"


def test_a_port_bound_to_a_host_no_bridge_serves_fails_to_bind(alice, admin, net):
    """Nova's binding (admin or service role): binding:host_id names the compute host; with
    no bridge of that host known, Neutron's binding_failed (Nova then stops the boot)."""
    port = create(alice, network_id=net["id"])
    refused = alice.put(f"/v2.0/ports/{port['id']}", {"port": {"binding:host_id": "compute-9"}})
    assert refused.status == 403 and refused.error_type == "PolicyNotAuthorized"
    assert "update_port:binding:host_id" in refused.json["NeutronError"]["message"]
    bound = admin.put(
        f"/v2.0/ports/{port['id']}",
        {"port": {"binding:host_id": "compute-9", "device_owner": "compute:nova"}},
    )
    assert bound.status == 200, bound
    shown = bound.json["port"]
    assert (shown["binding:host_id"], shown["binding:vif_type"]) == ("compute-9", "binding_failed")
    assert shown["binding:vif_details"] == {} and shown["status"] == "DOWN"
    assert alice.get(f"/v2.0/ports/{port['id']}").json["port"]["binding:host_id"] == "compute-9"
    unbound = admin.put(f"/v2.0/ports/{port['id']}", {"port": {"binding:host_id": ""}}).json
    assert (unbound["port"]["binding:host_id"], unbound["port"]["binding:vif_type"]) == (
        "",
        "unbound",
    )
    made = admin.post(
        "/v2.0/ports",
        {"port": {"network_id": net["id"], "project_id": alice.project, "binding:host_id": "c1"}},
    )
    assert made.status == 201 and made.json["port"]["binding:vif_type"] == "binding_failed"


def test_binding_profile_admin_only(alice, admin, net):
    resp = alice.post(
        "/v2.0/ports", {"port": {"network_id": net["id"], "binding:profile": {"a": 1}}}
    )
    assert resp.status == 403 and resp.error_type == "PolicyNotAuthorized"
    port = create(
        admin, network_id=net["id"], project_id=alice.project, **{"binding:profile": {"a": 1}}
    )
    assert port["binding:profile"] == {"a": 1} and port["project_id"] == alice.project
    assert alice.get(f"/v2.0/ports/{port['id']}").json["port"]["binding:profile"] == {"a": 1}


@pytest.mark.parametrize(
    "attrs,message",
    [
        ({"network_id": "3f0e0c9e-2a43-4a5e-8a61-5b1b0b3e6d35"}, "read-only attribute network_id"),
        ({"status": "ACTIVE"}, "read-only attribute status"),
        ({"binding:vif_details": {}}, "read-only attribute binding:vif_details"),
        ({"id": "3f0e0c9e-2a43-4a5e-8a61-5b1b0b3e6d35"}, "read-only attribute id"),
        ({"mac_address": "01:00:00:00:00:01"}, "unicast"),
        ({"admin_state_up": 2}, "Invalid input for admin_state_up"),
    ],
)
def test_bad_port_updates(alice, net, attrs, message):
    port = create(alice, network_id=net["id"])
    resp = alice.put(f"/v2.0/ports/{port['id']}", {"port": attrs})
    assert resp.status == 400, resp
    assert message in resp.json["NeutronError"]["message"]
    assert alice.get(f"/v2.0/ports/{port['id']}").json["port"] == port


def test_port_scoping(alice, bob, net):
    port = create(alice, network_id=net["id"])
    path = f"/v2.0/ports/{port['id']}"
    for resp in (
        bob.get(path),
        bob.put(path, {"port": {"name": "x"}}),
        bob.delete(path),
        bob.get(path + "/tags"),
    ):
        assert resp.status == 404 and resp.error_type == "PortNotFound", resp
    assert bob.get("/v2.0/ports").json["ports"] == []
    assert bob.get("/v2.0/ports/not-a-uuid").status == 404


def test_update_delete_and_network_in_use(alice, net):
    port = create(alice, network_id=net["id"])
    resp = alice.put(
        f"/v2.0/ports/{port['id']}",
        {"port": {"name": "n", "admin_state_up": False, "device_id": "d"}},
    )
    assert resp.status == 200
    assert (resp.json["port"]["name"], resp.json["port"]["admin_state_up"]) == ("n", False)
    busy = alice.delete(f"/v2.0/networks/{net['id']}")
    assert busy.status == 409 and busy.error_type == "NetworkInUse"
    assert (
        alice.put(
            f"/v2.0/ports/{port['id']}",
            {"port": {"name": "z"}},
            headers={"If-Match": "revision_number=1"},
        ).status
        == 412
    )
    assert alice.delete(f"/v2.0/ports/{port['id']}").status == 204
    assert alice.get(f"/v2.0/ports/{port['id']}").status == 404
    assert alice.delete(f"/v2.0/networks/{net['id']}").status == 204


def test_bulk_ports_all_or_nothing(alice, net):
    ok = alice.post(
        "/v2.0/ports",
        {"ports": [{"network_id": net["id"], "name": "a"}, {"network_id": net["id"], "name": "b"}]},
    )
    assert ok.status == 201 and len(ok.json["ports"]) == 2
    assert len({p["mac_address"] for p in ok.json["ports"]}) == 2
    bad = alice.post(
        "/v2.0/ports",
        {
            "ports": [
                {"network_id": net["id"], "mac_address": "02:00:00:00:00:77"},
                {"network_id": net["id"], "mac_address": "02:00:00:00:00:77"},
            ]
        },
    )
    assert bad.status == 409
    assert len(alice.get("/v2.0/ports").json["ports"]) == 2


def test_port_tags(alice, net):
    port = create(alice, network_id=net["id"], tags=["t1"])
    base = f"/v2.0/ports/{port['id']}/tags"
    assert alice.get(base).json == {"tags": ["t1"]}
    assert alice.put(base + "/t2").status == 201
    assert sorted(alice.get(f"/v2.0/ports/{port['id']}").json["port"]["tags"]) == ["t1", "t2"]
