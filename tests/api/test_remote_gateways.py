"""L2 remote gateways and their connections (a network extended to a tenant's remote site):
the API, its rules, its errors and its projects."""

from __future__ import annotations

import pytest

GATEWAYS, CONNECTIONS = "/v2.0/l2-remote-gateways", "/v2.0/l2-remote-gateway-connections"


def create(client, path, key, **body):
    resp = client.post(path, {key: body})
    assert resp.status == 201, resp
    return resp.json[key]


def gateway(client, **body):
    return create(client, GATEWAYS, "l2_remote_gateway", **{"remote_ip": "192.0.2.10", **body})


def connect(client, gateway_id, network_id, **body):
    return client.post(
        CONNECTIONS,
        {
            "l2_remote_gateway_connection": {
                "l2_remote_gateway_id": gateway_id,
                "network_id": network_id,
                **body,
            }
        },
    )


def network(client, **body):
    return create(client, "/v2.0/networks", "network", **body)


def test_extension_is_listed(alice):
    names = {e["alias"] for e in alice.get("/v2.0/extensions").json["extensions"]}
    assert "l2-remote-gateway" in names


def test_gateway_defaults_and_the_psk_is_never_shown(alice, admin):
    made = gateway(alice, name="site", psk="s3cret")
    assert (made["tunnel_type"], made["udp_port"], made["remote_ip"]) == (
        "vxlan",
        4789,
        "192.0.2.10",
    )
    assert "psk" not in made
    path = f"{GATEWAYS}/{made['id']}"
    for client in (alice, admin):
        assert "psk" not in client.get(path).json["l2_remote_gateway"]
        assert all("psk" not in g for g in client.get(GATEWAYS).json["l2_remote_gateways"])
        assert client.get(f"{path}?fields=psk").json["l2_remote_gateway"] == {}
    assert alice.get(f"{GATEWAYS}?psk=s3cret").status == 400  # not a filter either
    changed = alice.put(path, {"l2_remote_gateway": {"psk": "n3w", "name": "renamed"}})
    assert changed.status == 200 and "psk" not in changed.json["l2_remote_gateway"]
    gre = gateway(alice, remote_ip="2001:db8::7", tunnel_type="gre")
    assert (gre["tunnel_type"], gre["udp_port"], gre["remote_ip"]) == ("gre", None, "2001:db8::7")


@pytest.mark.parametrize(
    "body",
    [
        {"remote_ip": "not-an-ip"},
        {"remote_ip": "224.0.0.1"},
        {"remote_ip": "127.0.0.1"},
        {"remote_ip": "192.0.2.1", "tunnel_type": "geneve"},
        {"remote_ip": "192.0.2.1", "tunnel_type": "gre", "udp_port": 4789},
        {"remote_ip": "192.0.2.1", "udp_port": 0},
        {"remote_ip": "192.0.2.1", "udp_port": 65536},
        {},
    ],
)
def test_bad_gateways_are_400_and_leave_nothing(alice, body):
    resp = alice.post(GATEWAYS, {"l2_remote_gateway": body})
    assert resp.status == 400, resp
    assert alice.get(GATEWAYS).json["l2_remote_gateways"] == []


def test_a_connection_makes_the_bridge_devices_port_and_its_deletion_removes_it(alice, admin):
    net = network(alice)
    made = gateway(alice)
    resp = connect(alice, made["id"], net["id"])
    assert resp.status == 201, resp
    connection = resp.json["l2_remote_gateway_connection"]
    shown = admin.get(f"/v2.0/networks/{net['id']}").json["network"]
    assert connection["segmentation_id"] == shown["provider:segmentation_id"]  # the default
    assert (connection["status"], connection["remote_macs"]) == ("DOWN", [])
    port = alice.get(f"/v2.0/ports/{connection['port_id']}").json["port"]
    assert port["device_owner"] == "network:l2_remote_gateway"
    assert port["device_id"] == connection["id"]
    assert (port["fixed_ips"], port["port_security_enabled"]) == ([], False)
    # The port is the connection's: not deleted nor changed through the port API.
    assert alice.delete(f"/v2.0/ports/{port['id']}").status == 409
    owner = alice.put(f"/v2.0/ports/{port['id']}", {"port": {"device_owner": "compute:nova"}})
    assert owner.status == 400
    # A network device's port is trusted: its port security stays off whatever is asked.
    trusted = alice.put(f"/v2.0/ports/{port['id']}", {"port": {"port_security_enabled": True}})
    assert trusted.json["port"]["port_security_enabled"] is False
    assert alice.put(f"/v2.0/ports/{port['id']}", {"port": {"name": "ok"}}).status == 200
    # Nor does the gateway go, nor the network, while the connection is there.
    assert alice.delete(f"{GATEWAYS}/{made['id']}").error_type == "L2RemoteGatewayInUse"
    assert alice.delete(f"/v2.0/networks/{net['id']}").status == 409
    # The network's MTU leaves room for the tunnel (VXLAN over IPv4: 50 bytes).
    assert alice.get(f"/v2.0/networks/{net['id']}").json["network"]["mtu"] == 1450
    assert alice.delete(f"{CONNECTIONS}/{connection['id']}").status == 204
    assert alice.get(f"/v2.0/networks/{net['id']}").json["network"]["mtu"] == 1500
    assert alice.get(f"/v2.0/ports/{port['id']}").status == 404
    assert alice.delete(f"{GATEWAYS}/{made['id']}").status == 204
    assert alice.delete(f"/v2.0/networks/{net['id']}").status == 204


def test_conflicts_and_bad_connections_write_nothing(alice, admin):
    net, other = network(alice), network(alice)
    made = gateway(alice, remote_ip="192.0.2.20")
    first = connect(alice, made["id"], net["id"], segmentation_id=5000)
    assert first.status == 201, first
    ports_before = len(alice.get("/v2.0/ports").json["ports"])
    again = connect(alice, made["id"], net["id"])
    assert again.status == 409 and again.error_type == "L2RemoteGatewayConnectionExists"
    # Another gateway to the same remote address, the same VNI: one tunnel, two networks.
    twin = gateway(alice, remote_ip="192.0.2.20")
    clash = connect(alice, twin["id"], other["id"], segmentation_id=5000)
    assert clash.status == 409 and clash.error_type == "L2RemoteGatewayTunnelInUse"
    for bad in ({"segmentation_id": 0}, {"segmentation_id": 16777216}, {"remote_macs": ["x"]},
                {"remote_macs": ["01:00:5e:00:00:01"]}):  # fmt: skip
        assert connect(alice, twin["id"], other["id"], **bad).status == 400, bad
    assert connect(alice, twin["id"], "3f0e0c9e-2a43-4a5e-8a61-5b1b0b3e6d35").status == 404
    assert len(alice.get("/v2.0/ports").json["ports"]) == ports_before
    assert len(alice.get(CONNECTIONS).json["l2_remote_gateway_connections"]) == 1
    macs = ["fa:16:3e:00:00:01", "02:00:00:00:00:02"]
    fine = connect(alice, twin["id"], other["id"], segmentation_id=5001, remote_macs=macs)
    assert fine.status == 201 and fine.json["l2_remote_gateway_connection"]["remote_macs"] == macs


def test_other_projects_see_nothing_and_extend_nothing(alice, bob):
    net = network(alice)
    shared = network(alice, shared=True)
    made = gateway(alice)
    connection = connect(alice, made["id"], net["id"]).json["l2_remote_gateway_connection"]
    for path in (f"{GATEWAYS}/{made['id']}", f"{CONNECTIONS}/{connection['id']}"):
        assert bob.get(path).status == 404
        assert bob.delete(path).status == 404
    assert bob.get(GATEWAYS).json["l2_remote_gateways"] == []
    assert bob.get(CONNECTIONS).json["l2_remote_gateway_connections"] == []
    assert bob.put(f"{GATEWAYS}/{made['id']}", {"l2_remote_gateway": {"name": "x"}}).status == 404
    # Bob's own gateway cannot take Alice's networks, shared with him or not.
    his = gateway(bob)
    assert connect(bob, his["id"], net["id"]).status == 404
    assert connect(bob, his["id"], shared["id"]).status in (403, 404)
    # Nor can Alice use Bob's gateway.
    assert connect(alice, his["id"], net["id"]).status == 404


def test_gateways_have_a_quota(alice, admin):
    assert (
        admin.put(f"/v2.0/quotas/{alice.project}", {"quota": {"l2_remote_gateway": 1}}).status
        == 200
    )
    gateway(alice)
    over = alice.post(GATEWAYS, {"l2_remote_gateway": {"remote_ip": "192.0.2.99"}})
    assert over.status == 409 and over.error_type == "OverQuota"
