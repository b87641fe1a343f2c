"""Floating IPs over HTTP and with the real ``openstack`` CLI: Neutron's /v2.0/floatingips,
their ports, association through a router's gateway, policy, quota, every error, and what
they keep in use."""

from __future__ import annotations

import pytest

UNKNOWN = "3f0e0c9e-2a43-4a5e-8a61-5b1b0b3e6d35"
FIP_KEYS = {
    "id",
    "tenant_id",
    "project_id",
    "floating_ip_address",
    "floating_network_id",
    "router_id",
    "port_id",
    "fixed_ip_address",
    "status",
    "description",
    "tags",
    "port_details",
    "created_at",
    "updated_at",
    "revision_number",
}


def create(client, collection, **attrs):
    member = collection[:-1]
    resp = client.post(f"/v2.0/{collection}", {member: attrs})
    assert resp.status == 201, resp
    return resp.json[member]


def fip_create(client, **attrs):
    return client.post("/v2.0/floatingips", {"floatingip": attrs})


def fip_update(client, fip, **attrs):
    return client.put(f"/v2.0/floatingips/{fip['id']}", {"floatingip": attrs})


def inside(client, public, cidr="10.0.0.0/24"):
    """A tenant's network and subnet behind a router with its gateway on ``public``, and a
    VM port on it: (subnet, router, vm port)."""
    net = create(client, "networks", name="n-" + cidr)
    sub = create(client, "subnets", network_id=net["id"], ip_version=4, cidr=cidr)
    router = create(client, "routers", name="r", external_gateway_info={"network_id": public["id"]})
    resp = client.put(
        f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]}
    )
    assert resp.status == 200, resp
    vm = create(client, "ports", network_id=net["id"], name="vm")
    return sub, router, vm


def fip_ports(admin, public):
    path = f"/v2.0/ports?network_id={public['id']}&device_owner=network:floatingip"
    return admin.get(path).json["ports"]


def state(admin, public):
    """What a failed request must leave as it found: the floating IPs and every port."""
    return (
        admin.get(f"/v2.0/floatingips?floating_network_id={public['id']}").json["floatingips"],
        admin.get("/v2.0/ports").json["ports"],
    )


def test_floating_ip_lifecycle(alice, admin, external_network):
    public, pub_sub = external_network()
    _sub, router, vm = inside(alice, public)
    resp = fip_create(alice, floating_network_id=public["id"], description="web")
    assert resp.status == 201, resp
    fip = resp.json["floatingip"]
    assert set(fip) == FIP_KEYS
    assert (fip["floating_network_id"], fip["floating_ip_address"], fip["status"]) == (
        public["id"],
        "172.24.4.3",  # .2 is the router's gateway
        "DOWN",
    )
    assert (fip["port_id"], fip["fixed_ip_address"], fip["router_id"]) == (None, None, None)
    assert fip["port_details"] is None
    assert fip["project_id"] == fip["tenant_id"] == alice.project and fip["revision_number"] == 1
    assert alice.get(f"/v2.0/floatingips/{fip['id']}").json["floatingip"] == fip
    # Its address is held by a port of its own: no project's, seen by admins only.
    (port,) = fip_ports(admin, public)
    assert (port["device_id"], port["project_id"], port["name"]) == (fip["id"], "", "")
    assert port["fixed_ips"] == [{"subnet_id": pub_sub["id"], "ip_address": "172.24.4.3"}]
    assert port["id"] not in {p["id"] for p in alice.get("/v2.0/ports").json["ports"]}
    # Associated with the VM's port: through the router, ACTIVE.
    resp = fip_update(alice, fip, port_id=vm["id"])
    assert resp.status == 200, resp
    fip = resp.json["floatingip"]
    assert (fip["port_id"], fip["fixed_ip_address"], fip["router_id"], fip["status"]) == (
        vm["id"],
        vm["fixed_ips"][0]["ip_address"],
        router["id"],
        "ACTIVE",
    )
    assert fip["port_details"] == {  # fip-port-details, as openstacksdk checks it
        key: vm[key]
        for key in (
            "name",
            "network_id",
            "mac_address",
            "admin_state_up",
            "status",
            "device_id",
            "device_owner",
        )
    }
    for query in (
        f"port_id={vm['id']}",
        f"router_id={router['id']}",
        f"floating_network_id={public['id']}",
        "status=ACTIVE",
        f"fixed_ip_address={fip['fixed_ip_address']}",
        f"floating_ip_address={fip['floating_ip_address']}",
        f"project_id={alice.project}",
    ):
        listed = alice.get(f"/v2.0/floatingips?{query}").json["floatingips"]
        assert [f["id"] for f in listed] == [fip["id"]], query
    assert alice.get("/v2.0/floatingips?status=DOWN").json["floatingips"] == []
    # Disassociated: the address stays.
    resp = fip_update(alice, fip, port_id=None)
    fip = resp.json["floatingip"]
    assert (fip["port_id"], fip["fixed_ip_address"], fip["router_id"], fip["status"]) == (
        None,
        None,
        None,
        "DOWN",
    )
    # Made associated at once, with a chosen fixed address; deleted with its port.
    second = fip_create(
        alice,
        floating_network_id=public["id"],
        port_id=vm["id"],
        fixed_ip_address=vm["fixed_ips"][0]["ip_address"],
    ).json["floatingip"]
    assert (second["router_id"], second["status"]) == (router["id"], "ACTIVE")
    for made in (fip, second):
        assert alice.delete(f"/v2.0/floatingips/{made['id']}").status == 204
        assert alice.get(f"/v2.0/floatingips/{made['id']}").error_type == "FloatingIPNotFound"
    assert fip_ports(admin, public) == []


def test_floating_ip_creation_errors(alice, bob, admin, external_network):
    public, pub_sub = external_network()
    v6, _ = external_network(subnet=False)
    body = {"network_id": v6["id"], "ip_version": 6, "cidr": "2001:db8:7::/64"}
    assert admin.post("/v2.0/subnets", {"subnet": body}).status == 201
    own = create(alice, "networks", name="own")
    create(alice, "subnets", network_id=own["id"], ip_version=4, cidr="10.1.0.0/24")
    theirs = create(bob, "networks", name="theirs")
    taken = create(admin, "floatingips", floating_network_id=public["id"])
    before = state(admin, public)
    cases = [
        (
            alice,
            {"floating_network_id": own["id"]},
            400,
            "BadRequest",
            f"Bad floatingip request: Network {own['id']} is not a valid external network.",
        ),
        (alice, {"floating_network_id": theirs["id"]}, 404, "NetworkNotFound", theirs["id"]),
        (alice, {"floating_network_id": UNKNOWN}, 404, "NetworkNotFound", UNKNOWN),
        (
            alice,
            {"floating_network_id": v6["id"]},
            400,
            "BadRequest",
            f"Network {v6['id']} does not contain any IPv4 subnet",
        ),
        (alice, {}, 400, "HTTPBadRequest", "'floating_network_id' not specified"),
        (
            alice,
            {"floating_network_id": public["id"], "floating_ip_address": "172.24.4.40"},
            403,
            "PolicyNotAuthorized",
            "rule:create_floatingip:floating_ip_address is disallowed by policy",
        ),
        (
            admin,
            {
                "floating_network_id": public["id"],
                "floating_ip_address": taken["floating_ip_address"],
            },
            409,
            "IpAddressAlreadyAllocated",
            (
                f"IP address {taken['floating_ip_address']} already allocated in subnet "
                f"{pub_sub['id']}"
            ),
        ),
        (
            admin,
            {"floating_network_id": public["id"], "floating_ip_address": "10.9.9.9"},
            400,
            "InvalidIpForNetwork",
            "10.9.9.9",
        ),
        (
            alice,
            {"floating_network_id": public["id"], "subnet_id": UNKNOWN},
            404,
            "SubnetNotFound",
            UNKNOWN,
        ),
        (
            alice,
            {"floating_network_id": public["id"], "fixed_ip_address": "10.0.0.5"},
            400,
            "BadRequest",
            "fixed_ip_address cannot be specified without a port_id",
        ),
        (
            alice,
            {"floating_network_id": public["id"], "router_id": UNKNOWN},
            400,
            "HTTPBadRequest",
            "Attribute 'router_id' not allowed in POST",
        ),
    ]
    for client, attrs, status, kind, words in cases:
        resp = fip_create(client, **attrs)
        assert (resp.status, resp.error_type) == (status, kind), (attrs, resp)
        assert words in resp.json["NeutronError"]["message"], (attrs, resp)
    assert state(admin, public) == before
    # An admin chooses the address, and the subnet it comes from.
    chosen = create(
        admin,
        "floatingips",
        floating_network_id=public["id"],
        subnet_id=pub_sub["id"],
        floating_ip_address="172.24.4.40",
    )
    assert chosen["floating_ip_address"] == "172.24.4.40" and "subnet_id" not in chosen


def test_association_errors(alice, bob, admin, external_network):
    public, _ = external_network()
    _sub, router, vm = inside(alice, public)
    fip = create(alice, "floatingips", floating_network_id=public["id"])
    # a port on a subnet the router does not reach
    lonely = create(alice, "networks", name="lonely")
    lonely_sub = create(alice, "subnets", network_id=lonely["id"], ip_version=4, cidr="10.2.0.0/24")
    stray = create(alice, "ports", network_id=lonely["id"])
    interface = alice.get(f"/v2.0/ports?device_id={router['id']}").json["ports"][0]
    bobs_net = create(bob, "networks", name="b")
    create(bob, "subnets", network_id=bobs_net["id"], ip_version=4, cidr="10.3.0.0/24")
    bobs_port = create(bob, "ports", network_id=bobs_net["id"])
    taken = create(alice, "floatingips", floating_network_id=public["id"], port_id=vm["id"])
    vm_ip = vm["fixed_ips"][0]["ip_address"]
    before = state(admin, public)
    cases = [
        (
            {"port_id": stray["id"]},
            404,
            "ExternalGatewayForFloatingIPNotFound",
            (
                f"External network {public['id']} is not reachable from subnet {lonely_sub['id']}."
                f"  Therefore, cannot associate Port {stray['id']} with a Floating IP."
            ),
        ),
        ({"port_id": bobs_port["id"]}, 404, "PortNotFound", bobs_port["id"]),
        ({"port_id": UNKNOWN}, 404, "PortNotFound", UNKNOWN),
        (
            {"port_id": vm["id"]},
            409,
            "FloatingIPPortAlreadyAssociated",
            (
                f"using fixed IP {vm_ip}, as that fixed IP already has a floating IP on external "
                f"network {public['id']}"
            ),
        ),
        (
            {"port_id": vm["id"], "fixed_ip_address": "10.0.0.99"},
            400,
            "BadRequest",
            f"Port {vm['id']} does not have fixed ip 10.0.0.99",
        ),
        (
            {"port_id": vm["id"], "fixed_ip_address": "2001:db8::5"},
            400,
            "BadRequest",
            "since that is not an IPv4 address",
        ),
        (
            {"fixed_ip_address": vm_ip},
            400,
            "BadRequest",
            "fixed_ip_address cannot be specified without a port_id",
        ),
        (
            {"port_id": interface["id"]},
            400,
            "BadRequest",
            f"Port {interface['id']} is unable to be assigned a floating IP",
        ),
        ({"port_id": "nope"}, 400, "HTTPBadRequest", "'nope' is not a valid UUID"),
        ({"floating_network_id": UNKNOWN}, 400, "HTTPBadRequest", "read-only attribute"),
    ]
    for attrs, status, kind, words in cases:
        resp = fip_update(alice, fip, **attrs)
        assert (resp.status, resp.error_type) == (status, kind), (attrs, resp)
        assert words in resp.json["NeutronError"]["message"], (attrs, resp)
    assert state(admin, public) == before
    # The same port again with the same address is no change; the taken one may move.
    assert fip_update(alice, taken, port_id=vm["id"]).json["floatingip"]["revision_number"] == 1
    assert fip_update(alice, taken, port_id=None).status == 200
    assert fip_update(alice, fip, port_id=vm["id"], fixed_ip_address=vm_ip).status == 200


def test_floating_ips_are_their_projects(alice, bob, admin, external_network):
    public, _ = external_network()
    _sub, router, vm = inside(alice, public)
    fip = create(alice, "floatingips", floating_network_id=public["id"])
    for resp in (
        bob.get(f"/v2.0/floatingips/{fip['id']}"),
        fip_update(bob, fip, port_id=None),
        bob.delete(f"/v2.0/floatingips/{fip['id']}"),
    ):
        assert (resp.status, resp.error_type) == (404, "FloatingIPNotFound"), resp
    assert bob.get("/v2.0/floatingips").json["floatingips"] == []
    assert bob.get(f"/v2.0/floatingips?floating_network_id={public['id']}").json == {
        "floatingips": []
    }
    # bob's floating IP on alice's port: he does not see it.
    bobs = create(bob, "floatingips", floating_network_id=public["id"])
    resp = fip_update(bob, bobs, port_id=vm["id"])
    assert (resp.status, resp.error_type) == (404, "PortNotFound"), resp
    resp = fip_create(bob, floating_network_id=public["id"], port_id=vm["id"])
    assert (resp.status, resp.error_type) == (404, "PortNotFound"), resp
    # An admin's floating IP on alice's port: alice cannot drop it with her port.
    admins = create(admin, "floatingips", floating_network_id=public["id"], port_id=vm["id"])
    assert admins["router_id"] == router["id"]
    resp = alice.delete(f"/v2.0/ports/{vm['id']}")
    assert (resp.status, resp.error_type) == (409, "FipAssociated"), resp
    assert alice.get(f"/v2.0/ports/{vm['id']}").status == 200
    assert admin.get(f"/v2.0/floatingips/{admins['id']}").json["floatingip"]["port_id"] == vm["id"]


def test_what_floating_ips_keep_in_use(alice, admin, external_network):
    public, pub_sub = external_network()
    sub, router, vm = inside(alice, public)
    fip = create(alice, "floatingips", floating_network_id=public["id"], port_id=vm["id"])
    other, _ = external_network(cidr="198.51.100.0/24")
    before = state(admin, public)
    checks = [
        (
            alice.put(f"/v2.0/routers/{router['id']}", {"router": {"external_gateway_info": None}}),
            409,
            "RouterExternalGatewayInUseByFloatingIp",
        ),
        (
            alice.put(
                f"/v2.0/routers/{router['id']}",
                {"router": {"external_gateway_info": {"network_id": other["id"]}}},
            ),
            409,
            "RouterExternalGatewayInUseByFloatingIp",
        ),
        (
            alice.put(
                f"/v2.0/routers/{router['id']}/remove_router_interface", {"subnet_id": sub["id"]}
            ),
            409,
            "RouterInterfaceInUseByFloatingIP",
        ),
        (alice.delete(f"/v2.0/routers/{router['id']}"), 409, "RouterInUse"),
        (
            alice.put(
                f"/v2.0/ports/{vm['id']}",
                {"port": {"fixed_ips": [{"subnet_id": sub["id"], "ip_address": "10.0.0.77"}]}},
            ),
            400,
            "BadRequest",
        ),
        (admin.delete(f"/v2.0/ports/{fip_ports(admin, public)[0]['id']}"), 409, "ServicePortInUse"),
        (admin.delete(f"/v2.0/networks/{public['id']}"), 409, "NetworkInUse"),
        (admin.delete(f"/v2.0/subnets/{pub_sub['id']}"), 409, "SubnetInUse"),
    ]
    for resp, status, kind in checks:
        assert (resp.status, resp.error_type) == (status, kind), resp
    assert "has been associated to a floating ip" in checks[4][0].json["NeutronError"]["message"]
    assert state(admin, public) == before
    # Deleting the associated port disassociates the floating IP.
    assert alice.delete(f"/v2.0/ports/{vm['id']}").status == 204
    shown = alice.get(f"/v2.0/floatingips/{fip['id']}").json["floatingip"]
    assert (shown["port_id"], shown["fixed_ip_address"], shown["router_id"], shown["status"]) == (
        None,
        None,
        None,
        "DOWN",
    )
    # Then the gateway and the interface may go; the floating IP, associated with nothing,
    # goes with its network (Neutron's).
    resp = alice.put(
        f"/v2.0/routers/{router['id']}/remove_router_interface", {"subnet_id": sub["id"]}
    )
    assert resp.status == 200, resp
    assert alice.delete(f"/v2.0/routers/{router['id']}").status == 204
    assert admin.delete(f"/v2.0/networks/{public['id']}").status == 204
    assert alice.get(f"/v2.0/floatingips/{fip['id']}").error_type == "FloatingIPNotFound"


def test_floating_ip_quota(alice, admin, external_network):
    public, _ = external_network()
    assert alice.get(f"/v2.0/quotas/{alice.project}").json["quota"]["floatingip"] == 50
    limits = {"quota": {"floatingip": 2, "force": True}}
    assert admin.put(f"/v2.0/quotas/{alice.project}", limits).status == 200
    for _ in range(2):
        create(alice, "floatingips", floating_network_id=public["id"])
    ports = fip_ports(admin, public)
    resp = fip_create(alice, floating_network_id=public["id"])
    assert (resp.status, resp.error_type) == (409, "OverQuota"), resp
    assert resp.json["NeutronError"]["message"] == "Quota exceeded for resources: ['floatingip']."
    assert fip_ports(admin, public) == ports
    details = alice.get(f"/v2.0/quotas/{alice.project}/details").json["quota"]
    assert details["floatingip"] == {"limit": 2, "used": 2, "reserved": 0}


def test_floating_ip_tags_and_description(alice, external_network):
    public, _ = external_network()
    fip = create(alice, "floatingips", floating_network_id=public["id"], tags=["web"])
    assert fip["tags"] == ["web"]
    assert alice.put(f"/v2.0/floatingips/{fip['id']}/tags/db").status == 201
    listed = alice.get("/v2.0/floatingips?tags=db").json["floatingips"]
    assert [f["id"] for f in listed] == [fip["id"]]
    resp = fip_update(alice, fip, description="front")
    assert resp.json["floatingip"]["description"] == "front"
    resp = fip_update(alice, fip, name="x")
    assert resp.status == 400 and "Unrecognized attribute" in resp.raw.decode()


@pytest.mark.parametrize("field", ["floating_ip_address", "subnet_id"])
def test_input_only_and_fixed_attributes_are_not_updated(alice, external_network, field):
    public, sub = external_network()
    fip = create(alice, "floatingips", floating_network_id=public["id"])
    value = sub["id"] if field == "subnet_id" else "172.24.4.9"
    resp = fip_update(alice, fip, **{field: value})
    assert resp.status == 400 and "Cannot update read-only attribute" in resp.raw.decode()


# ------------------------------------------------------------------------- the real CLI
def test_openstack_cli_floating_ips(openstack_cli, alice, admin, external_network):
    public, _ = external_network()
    _sub, router, vm = inside(alice, public)
    made = openstack_cli(alice, "floating", "ip", "create", public["id"])
    assert (made["floating_network_id"], made["status"], made["port_id"]) == (
        public["id"],
        "DOWN",
        None,
    )
    openstack_cli(alice, "floating", "ip", "set", "--port", vm["id"], made["id"], parse=False)
    shown = openstack_cli(alice, "floating", "ip", "show", made["floating_ip_address"])
    assert (shown["port_id"], shown["router_id"], shown["status"]) == (
        vm["id"],
        router["id"],
        "ACTIVE",
    )
    for option, value in (
        ("--port", vm["id"]),
        ("--network", public["id"]),
        ("--router", router["id"]),
    ):
        listed = openstack_cli(alice, "floating", "ip", "list", option, value)
        assert [f["ID"] for f in listed] == [made["id"]], option
    openstack_cli(alice, "floating", "ip", "unset", "--port", made["id"], parse=False)
    assert openstack_cli(alice, "floating", "ip", "show", made["id"])["port_id"] is None
    assert openstack_cli(alice, "floating", "ip", "list", "--port", vm["id"]) == []
    openstack_cli(alice, "floating", "ip", "delete", made["id"], parse=False)
    assert openstack_cli(alice, "floating", "ip", "list") == []
    assert fip_ports(admin, public) == []
