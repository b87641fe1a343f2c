"""Get me a network: the default external network (``is_default``) and Neutron's
/v2.0/auto-allocated-topology, over HTTP and with the real ``openstack`` CLI — what it builds,
who may ask, its dry run, its failures leaving nothing behind, and its delete."""

from __future__ import annotations

import pytest


def create(client, collection, member, **attrs):
    resp = client.post(f"/v2.0/{collection}", {member: attrs})
    assert resp.status == 201, resp
    return resp.json[member]


def error(resp, status, kind, message=""):
    assert (resp.status, resp.error_type) == (status, kind), resp
    assert message in resp.json["NeutronError"]["message"], resp.json


@pytest.fixture
def default_pools(admin):
    """``make(v4=..., v6=...)``: the default subnet pools of both versions, shared; after the
    test they are defaults no more (other tests make their own)."""
    made = []

    def make(v4="10.222.0.0/16", v6="fd00:222::/48"):
        for prefix, length in ((v4, 26), (v6, 64)):
            made.append(
                create(
                    admin,
                    "subnetpools",
                    "subnetpool",
                    name="default-" + prefix,
                    prefixes=[prefix],
                    default_prefixlen=length,
                    is_default=True,
                    shared=True,
                )
            )
        return made

    yield make
    for pool in made:
        admin.put(f"/v2.0/subnetpools/{pool['id']}", {"subnetpool": {"is_default": False}})


def test_the_default_external_network(admin, alice, external_network):
    public, _ = external_network(is_default=True)
    assert public["is_default"] is True
    other, _ = external_network(cidr="172.25.0.0/24")
    assert other["is_default"] is False
    resp = admin.put(f"/v2.0/networks/{other['id']}", {"network": {"is_default": True}})
    error(resp, 409, "DefaultExternalNetworkExists", public["id"])
    listed = admin.get("/v2.0/networks?is_default=true").json["networks"]
    assert [n["id"] for n in listed] == [public["id"]]
    # only an external network is the default one (Neutron ignores it on others)
    internal = create(admin, "networks", "network", name="inside", is_default=True)
    assert internal["is_default"] is False
    # an admin's attribute
    resp = alice.post("/v2.0/networks", {"network": {"name": "mine", "is_default": True}})
    error(resp, 403, "PolicyNotAuthorized", "create_network:is_default")
    resp = alice.put(f"/v2.0/networks/{public['id']}", {"network": {"is_default": False}})
    assert resp.status in (403, 404), resp
    # the default changes hands
    path = f"/v2.0/networks/{public['id']}"
    assert (
        admin.put(path, {"network": {"is_default": False}}).json["network"]["is_default"] is False
    )
    moved = admin.put(f"/v2.0/networks/{other['id']}", {"network": {"is_default": True}})
    assert moved.json["network"]["is_default"] is True
    assert admin.delete(f"/v2.0/networks/{internal['id']}").status == 204


def test_auto_allocated_topology(alice, bob, admin, external_network, default_pools):
    path = "/v2.0/auto-allocated-topology"
    error(alice.get(f"{path}/None"), 409, "AutoAllocationFailure", "No default router:external")
    public, _ = external_network(is_default=True)
    error(alice.get(f"{path}/None?fields=dry-run"), 409, "AutoAllocationFailure", "subnetpools")
    v4, v6 = default_pools()

    checked = alice.get(f"{path}/{alice.project}?fields=dry-run").json
    assert checked["auto_allocated_topology"] == {
        "id": "dry-run=pass",
        "project_id": alice.project,
        "tenant_id": alice.project,
    }
    assert alice.get(f"/v2.0/networks?project_id={alice.project}").json["networks"] == []

    built = alice.get(f"{path}/None").json["auto_allocated_topology"]
    assert built["project_id"] == alice.project
    net = alice.get(f"/v2.0/networks/{built['id']}").json["network"]
    assert (net["name"], net["admin_state_up"], net["project_id"]) == (
        "auto_allocated_network",
        True,
        alice.project,
    )
    subnets = alice.get(f"/v2.0/subnets?network_id={net['id']}").json["subnets"]
    assert sorted((s["name"], s["subnetpool_id"], s["cidr"]) for s in subnets) == [
        ("auto_allocated_subnet_v4", v4["id"], "10.222.0.0/26"),
        ("auto_allocated_subnet_v6", v6["id"], "fd00:222::/64"),
    ]
    routers = alice.get("/v2.0/routers").json["routers"]
    assert [r["name"] for r in routers] == ["auto_allocated_router"]
    assert routers[0]["external_gateway_info"]["network_id"] == public["id"]
    interfaces = alice.get(
        f"/v2.0/ports?device_id={routers[0]['id']}&device_owner=network:router_interface"
    ).json["ports"]
    assert sorted(ip["subnet_id"] for p in interfaces for ip in p["fixed_ips"]) == sorted(
        s["id"] for s in subnets
    )
    # asked again (by the project or an admin): the same network
    assert alice.get(f"{path}/{alice.project}").json["auto_allocated_topology"] == built
    assert admin.get(f"{path}/{alice.project}").json["auto_allocated_topology"] == built
    error(bob.get(f"{path}/{alice.project}"), 403, "NotAuthorized", "Not authorized.")
    error(bob.delete(f"{path}/{alice.project}"), 403, "NotAuthorized")
    error(alice.get(f"{path}/None?fields=name"), 400, "HTTPBadRequest", "Unrecognized field")
    error(alice.post(path, {"auto_allocated_topology": {}}), 404, "HTTPNotFound")

    # a VM on it keeps it; once gone, DELETE takes network, subnets and router down
    vm = create(alice, "ports", "port", network_id=net["id"], name="vm")
    error(alice.delete(f"{path}/None"), 409, "NetworkInUse")
    assert alice.get(f"/v2.0/routers/{routers[0]['id']}").status == 200
    assert alice.delete(f"/v2.0/ports/{vm['id']}").status == 204
    assert alice.delete(f"{path}/None").status == 204
    assert alice.get(f"/v2.0/networks/{net['id']}").status == 404
    assert alice.get("/v2.0/routers").json["routers"] == []
    gateways = admin.get(f"/v2.0/ports?network_id={public['id']}").json["ports"]
    assert [p for p in gateways if p["device_owner"] == "network:router_gateway"] == []
    assert alice.delete(f"{path}/None").status == 204  # nothing left: nothing to do

    # bob's, built after alice's went: the pool's first prefix again
    bobs = bob.get(f"{path}/None").json["auto_allocated_topology"]
    subnets = bob.get(f"/v2.0/subnets?network_id={bobs['id']}").json["subnets"]
    assert "10.222.0.0/26" in [s["cidr"] for s in subnets]
    # deleting its network by hand (router first) lets the next GET build a new one
    assert bob.delete(f"{path}/None").status == 204


def test_a_failed_allocation_leaves_nothing(alice, admin, external_network, default_pools):
    external_network(is_default=True)
    default_pools(v4="10.223.0.0/26", v6="fd00:223::/64")  # room for one topology only
    first = alice.get("/v2.0/auto-allocated-topology/None")
    assert first.status == 200, first
    other = admin.get("/v2.0/auto-allocated-topology/someone-else")
    error(other, 409, "AutoAllocationFailure", "Unable to provide project private network")
    for collection in ("networks", "subnets", "routers"):
        left = admin.get(f"/v2.0/{collection}?project_id=someone-else").json[collection]
        assert left == [], collection
    assert alice.delete("/v2.0/auto-allocated-topology/None").status == 204
    # within the project's quotas, unlike Neutron's internal creates
    limits = {"quota": {"router": 0, "force": True}}
    assert admin.put(f"/v2.0/quotas/{alice.project}", limits).status == 200
    resp = alice.get("/v2.0/auto-allocated-topology/None")
    error(resp, 409, "OverQuota", "['router']")
    assert alice.get(f"/v2.0/networks?project_id={alice.project}").json["networks"] == []


def test_openstack_cli_auto_allocated_topology(
    openstack_cli, identity, alice, admin, external_network, default_pools
):
    """The project is named (--project, looked up in the identity stand-in): without
    Keystone, openstacksdk does not know the token's project (issue 20)."""
    identity.projects[:] = [alice.project]
    mine = ("--project", alice.project)
    public, _ = external_network()
    openstack_cli(admin, "network", "set", "--default", public["id"], parse=False)
    assert openstack_cli(admin, "network", "show", public["id"])["is_default"] is True
    check = ("network", "auto", "allocated", "topology", "create", *mine, "--check-resources")
    failed = openstack_cli(alice, *check, parse=False, check=False)
    assert failed.returncode != 0 and "No default subnetpools defined" in failed.stderr
    default_pools(v4="10.224.0.0/16", v6="fd00:224::/48")
    assert set(openstack_cli(alice, *check)) == {"dry_run"}
    made = openstack_cli(alice, "network", "auto", "allocated", "topology", "create", *mine)
    network = openstack_cli(alice, "network", "show", made["id"])
    assert network["name"] == "auto_allocated_network"
    again = openstack_cli(
        alice, "network", "auto", "allocated", "topology", "create", *mine, "--or-show"
    )
    assert again["id"] == made["id"]
    openstack_cli(alice, "network", "auto", "allocated", "topology", "delete", *mine, parse=False)
    names = [n["Name"] for n in openstack_cli(alice, "network", "list")]
    assert "auto_allocated_network" not in names
