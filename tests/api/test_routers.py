"""Routers over HTTP against the real server: wire format, interfaces, routes, every rule, and
the real ``openstack`` CLI and openstacksdk."""

from __future__ import annotations

import json
import subprocess

import openstack
import pytest

from tests.helpers import OPENSTACK

ROUTER_KEYS = {
    "id",
    "name",
    "description",
    "admin_state_up",
    "status",
    "external_gateway_info",
    "routes",
    "flavor_id",
    "availability_zone_hints",
    "availability_zones",
    "project_id",
    "tenant_id",
    "revision_number",
    "created_at",
    "updated_at",
    "tags",
}
UNKNOWN = "3f0e0c9e-2a43-4a5e-8a61-5b1b0b3e6d35"
ROUTE = {"destination": "10.9.0.0/24", "nexthop": "10.0.0.9"}


def create(client, collection, **attrs):
    member = collection[:-1]
    resp = client.post(f"/v2.0/{collection}", {member: attrs})
    assert resp.status == 201, resp
    return resp.json[member]


def net_subnet(client, cidr="10.0.0.0/24", **attrs):
    net = create(client, "networks", name="n-" + cidr)
    return net, create(
        client,
        "subnets",
        network_id=net["id"],
        cidr=cidr,
        ip_version=6 if ":" in cidr else 4,
        **attrs,
    )


def action(client, router, name, body):
    return client.put(f"/v2.0/routers/{router['id']}/{name}", body)


def state(client):
    """Everything a tenant sees: to check that failed requests changed nothing."""
    return {c: client.get(f"/v2.0/{c}").json[c] for c in ("routers", "ports", "subnets")}


def test_router_wire_format_and_crud(alice, bob):
    r = create(alice, "routers", name="r1", description="d", tags=["x"])
    assert set(r) == ROUTER_KEYS
    assert (r["status"], r["admin_state_up"], r["external_gateway_info"], r["routes"]) == (
        "ACTIVE",
        True,
        None,
        [],
    )
    assert (r["flavor_id"], r["availability_zone_hints"], r["availability_zones"]) == (None, [], [])
    assert r["project_id"] == r["tenant_id"] == alice.project and r["revision_number"] == 1
    assert alice.get(f"/v2.0/routers/{r['id']}").json["router"] == r
    assert bob.get(f"/v2.0/routers/{r['id']}").error_type == "RouterNotFound"
    assert bob.get("/v2.0/routers").json["routers"] == []
    create(alice, "routers", name="r2", admin_state_up=False)
    listed = alice.get("/v2.0/routers?admin_state_up=false&fields=name").json["routers"]
    assert listed == [{"name": "r2"}]
    page = alice.get("/v2.0/routers?limit=1&sort_key=name&sort_dir=desc").json
    assert [x["name"] for x in page["routers"]] == ["r2"] and page["routers_links"]
    assert [x["name"] for x in alice.get("/v2.0/routers?tags=x").json["routers"]] == ["r1"]
    resp = alice.put(
        f"/v2.0/routers/{r['id']}", {"router": {"name": "r1b", "external_gateway_info": None}}
    )
    assert resp.status == 200 and resp.json["router"]["revision_number"] == 2
    assert alice.put(f"/v2.0/routers/{r['id']}/tags/blue").status == 201
    assert alice.get(f"/v2.0/routers/{r['id']}/tags").json["tags"] == ["blue", "x"]
    assert alice.delete(f"/v2.0/routers/{r['id']}").status == 204
    assert alice.get(f"/v2.0/routers/{r['id']}").status == 404


@pytest.mark.parametrize(
    "body,status,needle",
    [
        ({"router": {"routes": [ROUTE]}}, 400, "Attribute 'routes' not allowed in POST"),
        (
            {"router": {"external_gateway_info": {"enable_snat": True}}},
            400,
            "Expected keys: {'network_id'}",
        ),
        ({"router": {"external_gateway_info": {"network_id": UNKNOWN}}}, 404, UNKNOWN),
        ({"router": {"availability_zone_hints": ["nova"]}}, 400, "availability zones"),
        ({"router": {"admin_state_up": "maybe"}}, 400, "'maybe' cannot be converted to boolean"),
        ({"router": {"distributed": True}}, 400, "Unrecognized attribute"),
    ],
)
def test_router_create_refusals(alice, body, status, needle):
    resp = alice.post("/v2.0/routers", body)
    assert resp.status == status and needle in resp.json["NeutronError"]["message"], resp
    assert alice.get("/v2.0/routers").json["routers"] == []


def test_add_and_remove_interface_by_subnet(alice):
    net, sub = net_subnet(alice)
    r = create(alice, "routers", name="r")
    resp = action(alice, r, "add_router_interface", {"subnet_id": sub["id"]})
    assert resp.status == 200, resp
    info = resp.json
    assert set(info) == {
        "id",
        "subnet_id",
        "subnet_ids",
        "port_id",
        "network_id",
        "project_id",
        "tenant_id",
    }
    assert (info["id"], info["subnet_id"], info["subnet_ids"], info["network_id"]) == (
        r["id"],
        sub["id"],
        [sub["id"]],
        net["id"],
    )
    port = alice.get(f"/v2.0/ports/{info['port_id']}").json["port"]
    assert (port["device_owner"], port["device_id"]) == ("network:router_interface", r["id"])
    assert port["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.0.0.1"}]
    listed = alice.get("/v2.0/ports?device_owner=network:router_interface").json["ports"]
    assert [p["id"] for p in listed] == [port["id"]]
    # the interface keeps the port, the subnet, the network and the router alive
    resp = alice.delete(f"/v2.0/ports/{port['id']}")
    assert (resp.status, resp.error_type) == (409, "ServicePortInUse"), resp
    assert "cannot be deleted directly via the port API" in resp.json["NeutronError"]["message"]
    assert alice.delete(f"/v2.0/subnets/{sub['id']}").error_type == "SubnetInUse"
    assert alice.delete(f"/v2.0/networks/{net['id']}").error_type == "NetworkInUse"
    resp = alice.delete(f"/v2.0/routers/{r['id']}")
    assert (resp.status, resp.error_type) == (409, "RouterInUse")
    resp = action(alice, r, "remove_router_interface", {"subnet_id": sub["id"]})
    assert resp.status == 200 and resp.json == info
    assert alice.get(f"/v2.0/ports/{port['id']}").status == 404
    resp = action(alice, r, "remove_router_interface", {"subnet_id": sub["id"]})
    assert (resp.status, resp.error_type) == (404, "RouterInterfaceNotFoundForSubnet")
    resp = action(alice, r, "remove_router_interface", {"port_id": port["id"]})
    assert (resp.status, resp.error_type) == (404, "RouterInterfaceNotFound")
    assert alice.delete(f"/v2.0/routers/{r['id']}").status == 204
    assert alice.delete(f"/v2.0/networks/{net['id']}").status == 204


def test_interface_errors_change_nothing(alice, bob):
    net, sub = net_subnet(alice)
    _, nogw = net_subnet(alice, "10.1.0.0/24", gateway_ip=None)
    _, overlap = net_subnet(alice, "10.0.0.0/16")
    _, bobs = net_subnet(bob, "10.2.0.0/24")
    r = create(alice, "routers")
    assert action(alice, r, "add_router_interface", {"subnet_id": sub["id"]}).status == 200
    vm = create(alice, "ports", network_id=net["id"], device_id="vm-1")
    before = state(alice)
    cases = [
        ({}, 400, "BadRequest", "Either subnet_id or port_id must be specified"),
        (
            {"subnet_id": sub["id"], "port_id": vm["id"]},
            400,
            "BadRequest",
            "Cannot specify both subnet-id and port-id",
        ),
        ({"subnet_id": "x"}, 400, "BadRequest", "'x' is not a valid UUID"),
        ({"subnet_id": nogw["id"]}, 400, "BadRequest", "must have a gateway IP"),
        ({"subnet_id": sub["id"]}, 400, "BadRequest", "Router already has a port on subnet"),
        ({"subnet_id": overlap["id"]}, 400, "BadRequest", "overlaps with cidr 10.0.0.0/24"),
        ({"subnet_id": bobs["id"]}, 404, "SubnetNotFound", bobs["id"]),
        ({"port_id": vm["id"]}, 409, "PortInUse", "Port already has an attached device vm-1"),
        ({"port_id": UNKNOWN}, 404, "PortNotFound", UNKNOWN),
    ]
    for body, status, kind, needle in cases:
        resp = action(alice, r, "add_router_interface", body)
        assert (resp.status, resp.error_type) == (status, kind), (body, resp)
        assert needle in resp.json["NeutronError"]["message"], (body, resp)
    resp = alice.put(f"/v2.0/routers/{r['id']}/add_router_interface", raw=b"[]")
    assert resp.status == 400
    resp = action(alice, {"id": UNKNOWN}, "add_router_interface", {"subnet_id": sub["id"]})
    assert resp.error_type == "RouterNotFound"
    resp = action(bob, r, "add_router_interface", {"subnet_id": bobs["id"]})
    assert resp.error_type == "RouterNotFound"
    resp = alice.post(f"/v2.0/routers/{r['id']}/add_router_interface", {"subnet_id": sub["id"]})
    assert resp.status == 405
    assert state(alice) == before


def test_gateway_address_taken(alice):
    net, sub = net_subnet(
        alice,
        gateway_ip="10.0.0.200",
        allocation_pools=[{"start": "10.0.0.2", "end": "10.0.0.100"}],
    )
    squatter = create(
        alice, "ports", network_id=net["id"], fixed_ips=[{"ip_address": "10.0.0.200"}]
    )
    r = create(alice, "routers")
    before = state(alice)
    resp = action(alice, r, "add_router_interface", {"subnet_id": sub["id"]})
    assert (resp.status, resp.error_type) == (409, "IpAddressInUse"), resp
    assert state(alice) == before
    assert alice.delete(f"/v2.0/ports/{squatter['id']}").status == 204


def test_interface_by_port_and_shared_networks(alice, bob):
    net, sub = net_subnet(alice)
    p = create(alice, "ports", network_id=net["id"], name="mine")
    r = create(alice, "routers")
    info = action(alice, r, "add_router_interface", {"port_id": p["id"]}).json
    assert (info["port_id"], info["subnet_ids"]) == (p["id"], [sub["id"]])
    shown = alice.get(f"/v2.0/ports/{p['id']}").json["port"]
    assert (shown["device_owner"], shown["device_id"], shown["name"]) == (
        "network:router_interface",
        r["id"],
        "mine",
    )
    resp = alice.put(f"/v2.0/ports/{p['id']}", {"port": {"device_id": ""}})
    assert resp.status == 400 and "remove_router_interface" in resp.json["NeutronError"]["message"]
    resp = alice.post(
        "/v2.0/ports",
        {
            "port": {
                "network_id": net["id"],
                "device_id": r["id"],
                "device_owner": "network:router_interface",
            }
        },
    )
    assert resp.status == 400
    # both ids on removal: Neutron removes by port after checking they match
    _, other = net_subnet(alice, "10.3.0.0/24")
    resp = action(
        alice, r, "remove_router_interface", {"port_id": p["id"], "subnet_id": other["id"]}
    )
    assert (resp.status, resp.error_type) == (400, "SubnetMismatchForPort")
    resp = action(alice, r, "remove_router_interface", {"port_id": p["id"], "subnet_id": sub["id"]})
    assert resp.status == 200 and resp.json["port_id"] == p["id"]
    # a globally shared network's subnet of another project: refused as Neutron does
    shared = create(bob, "networks", shared=True)
    shared_sub = create(bob, "subnets", network_id=shared["id"], cidr="10.4.0.0/24", ip_version=4)
    resp = action(alice, r, "add_router_interface", {"subnet_id": shared_sub["id"]})
    assert (resp.status, resp.error_type) == (400, "BadRequest"), resp
    assert "is not owned by project making the request" in resp.json["NeutronError"]["message"]
    # but a port alice made on it may become her router's interface
    mine = create(alice, "ports", network_id=shared["id"])
    info = action(alice, r, "add_router_interface", {"port_id": mine["id"]}).json
    assert info["network_id"] == shared["id"] and info["tenant_id"] == alice.project
    resp = bob.delete(f"/v2.0/ports/{mine['id']}")  # the network owner cannot delete it
    assert (resp.status, resp.error_type) == (409, "ServicePortInUse")
    assert bob.delete(f"/v2.0/networks/{shared['id']}").error_type == "NetworkInUse"


def test_routes_over_http(alice):
    _net, sub = net_subnet(alice)
    _, sub2 = net_subnet(alice, "10.1.0.0/24")
    r = create(alice, "routers")
    url = f"/v2.0/routers/{r['id']}"
    resp = alice.put(url, {"router": {"routes": [ROUTE]}})
    assert (resp.status, resp.error_type) == (400, "InvalidRoutes")
    assert "the nexthop is not connected with router" in resp.json["NeutronError"]["message"]
    action(alice, r, "add_router_interface", {"subnet_id": sub["id"]})
    action(alice, r, "add_router_interface", {"subnet_id": sub2["id"]})
    before = state(alice)
    for routes, needle in (
        (
            [{"destination": "10.9.0.1/24", "nexthop": "10.0.0.9"}],
            "isn't a recognized IP subnet cidr",
        ),
        ([{"destination": "nope", "nexthop": "10.0.0.9"}], "is not a valid IP subnet"),
        ([{"destination": "10.9.0.0/24"}], "Expected keys"),
        ([{"destination": "10.9.0.0/24", "nexthop": "10.0.0.1"}], "the nexthop is used by router"),
        ([ROUTE, ROUTE], "Duplicate"),
    ):
        resp = alice.put(url, {"router": {"routes": routes}})
        assert resp.status == 400 and needle in resp.json["NeutronError"]["message"], resp
    assert state(alice) == before
    resp = alice.put(url, {"router": {"routes": [ROUTE]}})
    assert resp.status == 200 and resp.json["router"]["routes"] == [ROUTE]
    resp = action(alice, r, "remove_router_interface", {"subnet_id": sub["id"]})
    assert (resp.status, resp.error_type) == (409, "RouterInterfaceInUseByRoute")
    extra = {"destination": "10.8.0.0/24", "nexthop": "10.1.0.8"}
    resp = action(alice, r, "add_extraroutes", {"router": {"routes": [extra]}})
    assert resp.status == 200 and resp.json["router"]["routes"] == [ROUTE, extra]
    resp = action(alice, r, "remove_extraroutes", {"router": {"routes": [ROUTE]}})
    assert resp.json["router"]["routes"] == [extra]
    assert alice.put(url, {"router": {"routes": None}}).json["router"]["routes"] == []
    assert action(alice, r, "remove_router_interface", {"subnet_id": sub["id"]}).status == 200


@pytest.fixture
def cli(server, alice):
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    base = [
        OPENSTACK,
        "--os-auth-type",
        "admin_token",
        "--os-endpoint",
        server.url,
        "--os-token",
        alice.token,
    ]

    def run(*args, parse=True, ok=True):
        out = subprocess.run(
            [*base, *args, *(["-f", "json"] if parse else [])],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        if not ok:
            assert out.returncode != 0, out.stdout
            return out.stderr
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout) if parse else out.stdout

    return run


def test_openstack_cli_routers(cli, alice):
    cli("network", "create", "net1")
    sub = cli("subnet", "create", "--network", "net1", "--subnet-range", "10.0.0.0/24", "sub1")
    cli("network", "create", "net2")
    cli("subnet", "create", "--network", "net2", "--subnet-range", "10.1.0.0/24", "sub2")
    p = cli("port", "create", "--network", "net2", "p2")
    r = cli("router", "create", "r1")
    assert r["name"] == "r1" and r["status"] == "ACTIVE"
    cli("router", "add", "subnet", "r1", "sub1", parse=False)
    cli("router", "add", "port", "r1", "p2", parse=False)
    shown = cli("router", "show", "r1")
    ifaces = alice.get(f"/v2.0/ports?device_id={r['id']}").json["ports"]
    assert len(ifaces) == 2
    assert {i["subnet_id"] for i in shown["interfaces_info"]} == {
        f["subnet_id"] for p_ in ifaces for f in p_["fixed_ips"]
    }
    cli("router", "set", "--route", "destination=10.9.0.0/24,gateway=10.0.0.9", "r1", parse=False)
    assert cli("router", "show", "r1")["routes"] == [ROUTE]
    err = cli("router", "remove", "subnet", "r1", "sub1", parse=False, ok=False)
    assert "required by one or more routes" in err
    cli("router", "unset", "--route", "destination=10.9.0.0/24,gateway=10.0.0.9", "r1", parse=False)
    assert cli("router", "show", "r1")["routes"] == []
    gw_port = next(p_ for p_ in ifaces if p_["fixed_ips"][0]["subnet_id"] == sub["id"])
    err = cli("port", "delete", gw_port["id"], parse=False, ok=False)
    assert "cannot be deleted directly via the port API" in err
    err = cli("router", "delete", "r1", parse=False, ok=False)
    assert "still has ports" in err
    cli("router", "remove", "subnet", "r1", "sub1", parse=False)
    cli("router", "remove", "port", "r1", "p2", parse=False)
    assert alice.get(f"/v2.0/ports/{p['id']}").status == 404  # Neutron deletes it too
    cli("router", "delete", "r1", parse=False)
    assert cli("router", "list") == []


def test_openstacksdk_routers(server, alice):
    conn = openstack.connection.Connection(
        auth_type="admin_token", auth={"token": alice.token, "endpoint": server.url}
    )
    net = conn.network.create_network(name="sdk-net")
    sub = conn.network.create_subnet(network_id=net.id, cidr="10.0.0.0/24", ip_version=4)
    router = conn.network.create_router(name="sdk-r")
    assert router.status == "ACTIVE" and router.routes == []
    info = conn.network.add_interface_to_router(router, subnet=sub.id)
    assert info["subnet_id"] == sub.id and info["id"] == router.id
    router = conn.network.update_router(router, routes=[ROUTE])
    assert router.routes == [ROUTE] and router.revision_number == 2
    router = conn.network.add_extra_routes_to_router(
        router, body={"router": {"routes": [{"destination": "10.8.0.0/24", "nexthop": "10.0.0.8"}]}}
    )
    assert len(router.routes) == 2
    router = conn.network.update_router(router, routes=[])
    info2 = conn.network.remove_interface_from_router(router, subnet=sub.id)
    assert info2["port_id"] == info["port_id"]
    conn.network.delete_router(router)
    assert list(conn.network.routers()) == []
