"""Provider networks over HTTP: an admin's flat and vlan networks on physical networks,
with Neutron's provider attributes and errors, and their localnet port."""

from __future__ import annotations

import uuid

import pytest

PHYSNET = "physnet-" + uuid.uuid4().hex[:8]  # the API server is shared: a name of our own


def _provider(admin, network_type, physnet=PHYSNET, segment=None, **attrs):
    body = {"provider:network_type": network_type, "provider:physical_network": physnet}
    if segment is not None:
        body["provider:segmentation_id"] = segment
    return admin.post("/v2.0/networks", {"network": {**body, **attrs}})


def _localnet(admin, net):
    ports = admin.get(f"/v2.0/ports?network_id={net['id']}").json["ports"]
    return [p for p in ports if p["device_owner"] == "network:localnet"]


def test_flat_and_vlan_networks_on_a_physical_network(admin):
    flat = _provider(admin, "flat", name="outside")
    assert flat.status == 201, flat
    flat = flat.json["network"]
    assert (
        flat["provider:network_type"],
        flat["provider:physical_network"],
        flat["provider:segmentation_id"],
        flat["mtu"],
    ) == ("flat", PHYSNET, None, 1500)
    (localnet,) = _localnet(admin, flat)
    assert (localnet["fixed_ips"], localnet["port_security_enabled"]) == ([], False)
    again = _provider(admin, "flat")
    assert (again.status, again.error_type) == (409, "FlatNetworkInUse"), again
    vlan = _provider(admin, "vlan", segment=100)
    assert vlan.status == 201, vlan
    vlan = vlan.json["network"]
    assert (vlan["provider:network_type"], vlan["provider:segmentation_id"]) == ("vlan", 100)
    assert len(_localnet(admin, vlan)) == 1
    taken = _provider(admin, "vlan", segment=100)
    assert (taken.status, taken.error_type) == (409, "VlanIdInUse"), taken
    assert PHYSNET in taken.json["NeutronError"]["message"]
    # The same VLAN on another physical network is another network.
    elsewhere = _provider(admin, "vlan", physnet=PHYSNET + "-b", segment=100)
    assert elsewhere.status == 201, elsewhere
    listed = admin.get(f"/v2.0/networks?provider:physical_network={PHYSNET}").json["networks"]
    assert {n["id"] for n in listed} == {flat["id"], vlan["id"]}
    for net in (flat, vlan, elsewhere.json["network"]):
        assert admin.delete(f"/v2.0/networks/{net['id']}").status == 204
        assert _localnet(admin, net) == []


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"provider:network_type": "flat"}, "physical_network required for flat"),
        (
            {
                "provider:network_type": "flat",
                "provider:physical_network": "p",
                "provider:segmentation_id": 5,
            },
            "segmentation_id specified for flat",
        ),
        (
            {"provider:network_type": "vlan", "provider:physical_network": "p"},
            "segmentation_id required for VLAN",
        ),
        (
            {"provider:network_type": "vxlan", "provider:physical_network": "p"},
            "provider:physical_network specified for VXLAN",
        ),
        ({"provider:physical_network": "p"}, "network_type required"),
        (
            {"provider:network_type": "flat", "provider:physical_network": "has space"},
            "is not a valid physical network name",
        ),
    ],
)
def test_bad_provider_networks_are_refused_and_leave_nothing(admin, body, words):
    before = len(admin.get("/v2.0/networks").json["networks"])
    resp = admin.post("/v2.0/networks", {"network": body})
    assert resp.status == 400, resp
    assert words in resp.json["NeutronError"]["message"]
    assert len(admin.get("/v2.0/networks").json["networks"]) == before


def test_tenants_use_a_shared_provider_network_but_make_none(admin, alice):
    resp = alice.post(
        "/v2.0/networks",
        {"network": {"provider:network_type": "flat", "provider:physical_network": "x"}},
    )
    assert (resp.status, resp.error_type) == (403, "PolicyNotAuthorized"), resp
    net = _provider(admin, "vlan", segment=200, shared=True).json["network"]
    subnets = (
        {"network_id": net["id"], "ip_version": 4, "cidr": "198.51.100.0/24"},
        {
            "network_id": net["id"],
            "ip_version": 6,
            "cidr": "2001:db8:51::/64",
            "ipv6_ra_mode": "slaac",
            "ipv6_address_mode": "slaac",
        },
    )
    for subnet in subnets:
        assert admin.post("/v2.0/subnets", {"subnet": subnet}).status == 201
    port = alice.post("/v2.0/ports", {"port": {"network_id": net["id"]}})
    assert port.status == 201, port
    port = port.json["port"]
    assert len(port["fixed_ips"]) == 2  # its IPv4 address and its SLAAC one
    # The localnet port takes no address, is no tenant's, and goes only with its network.
    (localnet,) = _localnet(admin, net)
    assert localnet["fixed_ips"] == []
    assert localnet["id"] not in {p["id"] for p in alice.get("/v2.0/ports").json["ports"]}
    resp = admin.delete(f"/v2.0/ports/{localnet['id']}")
    assert (resp.status, resp.error_type) == (409, "ServicePortInUse"), resp
    resp = admin.put(f"/v2.0/ports/{localnet['id']}", {"port": {"device_owner": "compute:x"}})
    assert resp.status == 400, resp
    fake = admin.post(
        "/v2.0/ports", {"port": {"network_id": net["id"], "device_owner": "network:localnet"}}
    )
    assert fake.status == 400, fake
    resp = admin.delete(f"/v2.0/networks/{net['id']}")
    assert (resp.status, resp.error_type) == (409, "NetworkInUse"), resp
    assert alice.delete(f"/v2.0/ports/{port['id']}").status == 204
    assert admin.delete(f"/v2.0/networks/{net['id']}").status == 204


def test_openstack_cli_provider_networks(openstack_cli, admin):
    made = openstack_cli(
        admin,
        "network",
        "create",
        "--share",
        "--provider-network-type",
        "vlan",
        "--provider-physical-network",
        PHYSNET,
        "--provider-segment",
        "300",
        "datacentre-300",
    )
    assert (
        made["provider:network_type"],
        made["provider:physical_network"],
        made["provider:segmentation_id"],
        made["shared"],
    ) == ("vlan", PHYSNET, 300, True)
    shown = openstack_cli(admin, "network", "show", "datacentre-300")
    assert shown["provider:segmentation_id"] == 300
    openstack_cli(admin, "network", "delete", "datacentre-300", parse=False)


def _entries(admin, net_id, action="access_as_external"):
    path = f"/v2.0/rbac-policies?object_id={net_id}&action={action}"
    return admin.get(path).json["rbac_policies"]


def test_external_networks_are_seen_by_all_and_take_no_tenant_port(admin, alice, new_tenant):
    body = {
        "name": "public",
        "router:external": True,
        "provider:network_type": "flat",
        "provider:physical_network": PHYSNET + "-ext",
    }
    resp = alice.post("/v2.0/networks", {"network": {"router:external": True}})
    assert (resp.status, resp.error_type) == (403, "PolicyNotAuthorized"), resp
    net = admin.post("/v2.0/networks", {"network": body}).json["network"]
    assert net["router:external"] is True and net["shared"] is False
    assert [e["target_tenant"] for e in _entries(admin, net["id"])] == ["*"]
    subnet = {"network_id": net["id"], "ip_version": 4, "cidr": "192.0.2.0/24"}
    sub = admin.post("/v2.0/subnets", {"subnet": subnet}).json["subnet"]
    # Every project sees it and its subnet (the allocation pools floating IPs come from)...
    shown = alice.get(f"/v2.0/networks/{net['id']}")
    assert shown.status == 200 and shown.json["network"]["router:external"] is True
    listed = alice.get("/v2.0/networks?router:external=True").json["networks"]
    assert net["id"] in {n["id"] for n in listed}
    assert alice.get(f"/v2.0/subnets/{sub['id']}").status == 200
    # ...but puts no port on it and changes nothing of it.
    resp = alice.post("/v2.0/ports", {"port": {"network_id": net["id"]}})
    assert (resp.status, resp.error_type) == (403, "PolicyNotAuthorized"), resp
    resp = alice.put(f"/v2.0/networks/{net['id']}", {"network": {"name": "mine"}})
    assert resp.status == 403, resp
    # Not external any more: its entries go, and with them the tenants' sight of it.
    assert admin.put(f"/v2.0/networks/{net['id']}", {"network": {"router:external": False}})
    assert _entries(admin, net["id"]) == []
    assert alice.get(f"/v2.0/networks/{net['id']}").status == 404
    # External to one project only: an access_as_external entry makes it external.
    carol = new_tenant()
    entry = {
        "object_type": "network",
        "object_id": net["id"],
        "action": "access_as_external",
        "target_tenant": alice.project,
    }
    made = admin.post("/v2.0/rbac-policies", {"rbac_policy": entry})
    assert made.status == 201, made
    assert admin.get(f"/v2.0/networks/{net['id']}").json["network"]["router:external"] is True
    assert alice.get(f"/v2.0/networks/{net['id']}").status == 200
    assert carol.get(f"/v2.0/networks/{net['id']}").status == 404
    made = made.json["rbac_policy"]
    assert admin.delete(f"/v2.0/rbac-policies/{made['id']}").status == 204
    assert admin.get(f"/v2.0/networks/{net['id']}").json["network"]["router:external"] is False
    assert alice.get(f"/v2.0/networks/{net['id']}").status == 404
    assert admin.delete(f"/v2.0/networks/{net['id']}").status == 204


def test_only_networks_are_external(admin):
    group = admin.post("/v2.0/security-groups", {"security_group": {"name": "g"}})
    entry = {
        "object_type": "security_group",
        "object_id": group.json["security_group"]["id"],
        "action": "access_as_external",
        "target_tenant": "*",
    }
    resp = admin.post("/v2.0/rbac-policies", {"rbac_policy": entry})
    assert (resp.status, resp.error_type) == (400, "InvalidInput"), resp
    assert (
        "Invalid action 'access_as_external' for object type 'security_group'"
        in (resp.json["NeutronError"]["message"])
    )
