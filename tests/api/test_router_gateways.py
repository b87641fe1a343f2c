"""Routers' external gateways over HTTP and with the real ``openstack`` CLI: Neutron's
``external_gateway_info`` (with ext-gw-mode's ``enable_snat``), its port, its policy, its
errors, and what it keeps in use."""

from __future__ import annotations

import pytest

UNKNOWN = "3f0e0c9e-2a43-4a5e-8a61-5b1b0b3e6d35"
GATEWAY = "network:router_gateway"


def create(client, collection, **attrs):
    member = collection[:-1]
    resp = client.post(f"/v2.0/{collection}", {member: attrs})
    assert resp.status == 201, resp
    return resp.json[member]


def set_gateway(client, router, info):
    return client.put(f"/v2.0/routers/{router['id']}", {"router": {"external_gateway_info": info}})


def gateway_ports(admin, net):
    path = f"/v2.0/ports?network_id={net['id']}&device_owner={GATEWAY}"
    return admin.get(path).json["ports"]


def state(admin):
    """What a failed request must leave as it found: every port and router (admin's view)."""
    return {c: admin.get(f"/v2.0/{c}").json[c] for c in ("ports", "routers")}


def test_gateway_set_shown_replaced_and_removed(alice, admin, external_network):
    public, sub = external_network()
    r = create(alice, "routers", name="r", external_gateway_info={"network_id": public["id"]})
    info = r["external_gateway_info"]
    assert set(info) == {"network_id", "enable_snat", "external_fixed_ips"}
    assert (info["network_id"], info["enable_snat"]) == (public["id"], True)
    assert info["external_fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "172.24.4.2"}]
    assert alice.get(f"/v2.0/routers/{r['id']}").json["router"] == r
    # The gateway port: the router's, of no project, seen by admins only.
    (port,) = gateway_ports(admin, public)
    assert (port["device_id"], port["project_id"], port["tenant_id"], port["name"]) == (
        r["id"],
        "",
        "",
        "",
    )
    assert port["admin_state_up"] is True and port["fixed_ips"] == info["external_fixed_ips"]
    assert port["id"] not in {p["id"] for p in alice.get("/v2.0/ports").json["ports"]}
    assert alice.get(f"/v2.0/ports/{port['id']}").error_type == "PortNotFound"
    # Another external network: the port is replaced.
    other, other_sub = external_network(cidr="198.51.100.0/24")
    resp = set_gateway(alice, r, {"network_id": other["id"]})
    assert resp.status == 200, resp
    moved = resp.json["router"]["external_gateway_info"]
    assert moved["network_id"] == other["id"]
    assert moved["external_fixed_ips"][0]["subnet_id"] == other_sub["id"]
    assert gateway_ports(admin, public) == [] and len(gateway_ports(admin, other)) == 1
    assert resp.json["router"]["revision_number"] == 2
    # The same network again changes nothing; {} and null remove it, and its port.
    resp = set_gateway(alice, r, {"network_id": other["id"]})
    assert resp.json["router"]["revision_number"] == 2
    for nothing in ({}, None):
        assert set_gateway(alice, r, {"network_id": public["id"]}).status == 200
        resp = set_gateway(alice, r, nothing)
        assert resp.status == 200 and resp.json["router"]["external_gateway_info"] is None
        assert gateway_ports(admin, public) == []
    # A router's delete takes its gateway port.
    assert set_gateway(alice, r, {"network_id": public["id"]}).status == 200
    assert alice.delete(f"/v2.0/routers/{r['id']}").status == 204
    assert gateway_ports(admin, public) == []


def test_enable_snat_and_fixed_ips_are_for_admins(alice, admin, external_network):
    public, sub = external_network()
    r = create(alice, "routers", name="r")
    for info in (
        {"network_id": public["id"], "enable_snat": False},
        {"network_id": public["id"], "enable_snat": True},
        {"network_id": public["id"], "external_fixed_ips": [{"subnet_id": sub["id"]}]},
    ):
        key = "enable_snat" if "enable_snat" in info else "external_fixed_ips"
        resp = set_gateway(alice, r, info)
        assert (resp.status, resp.error_type) == (403, "PolicyNotAuthorized"), resp
        assert f"rule:update_router:external_gateway_info:{key}" in resp.raw.decode()
        resp = alice.post("/v2.0/routers", {"router": {"external_gateway_info": info}})
        assert resp.status == 403 and "create_router:external_gateway_info:" in resp.raw.decode()
    assert (
        gateway_ports(admin, public) == [] and len(alice.get("/v2.0/routers").json["routers"]) == 1
    )
    # An admin chooses both; the tenant then sees them.
    wanted = [{"subnet_id": sub["id"], "ip_address": "172.24.4.50"}]
    resp = set_gateway(
        admin, r, {"network_id": public["id"], "enable_snat": False, "external_fixed_ips": wanted}
    )
    assert resp.status == 200, resp
    info = alice.get(f"/v2.0/routers/{r['id']}").json["router"]["external_gateway_info"]
    assert (info["enable_snat"], info["external_fixed_ips"]) == (False, wanted)
    # Another address on the same network: the same port, readdressed.
    (port,) = gateway_ports(admin, public)
    wanted = [{"subnet_id": sub["id"], "ip_address": "172.24.4.51"}]
    resp = set_gateway(
        admin, r, {"network_id": public["id"], "enable_snat": False, "external_fixed_ips": wanted}
    )
    assert resp.json["router"]["external_gateway_info"]["external_fixed_ips"] == wanted
    assert [p["id"] for p in gateway_ports(admin, public)] == [port["id"]]
    # Without enable_snat, the gateway translates again (Neutron's default, as it does).
    resp = set_gateway(alice, r, {"network_id": public["id"]})
    assert resp.json["router"]["external_gateway_info"]["enable_snat"] is True


@pytest.mark.parametrize(
    ("info", "status", "kind", "words"),
    [
        ({"enable_snat": False}, 400, "HTTPBadRequest", "Expected keys: {'network_id'}"),
        ({"network_id": UNKNOWN, "qos_policy_id": None}, 400, "HTTPBadRequest", "Unexpected keys"),
        ({"network_id": "nope"}, 400, "HTTPBadRequest", "'nope' is not a valid UUID"),
        ("public", 400, "HTTPBadRequest", "is not a dictionary"),
        ({"network_id": UNKNOWN}, 404, "NetworkNotFound", UNKNOWN),
    ],
)
def test_bad_gateways_are_refused_and_leave_nothing(alice, admin, info, status, kind, words):
    r = create(alice, "routers", name="r")
    before = state(admin)
    for resp in (
        set_gateway(alice, r, info),
        alice.post("/v2.0/routers", {"router": {"external_gateway_info": info}}),
    ):
        assert (resp.status, resp.error_type) == (status, kind), resp
        assert words in resp.json["NeutronError"]["message"]
    assert state(admin) == before


def test_gateway_network_must_be_external_and_seen(alice, bob, admin, external_network):
    public, _sub = external_network()
    r = create(alice, "routers", name="r")
    before = state(admin)
    mine = create(alice, "networks", name="inside")
    create(alice, "subnets", network_id=mine["id"], ip_version=4, cidr="10.0.0.0/24")
    resp = set_gateway(alice, r, {"network_id": mine["id"]})
    assert (resp.status, resp.error_type) == (400, "BadRequest"), resp
    assert resp.json["NeutronError"]["message"] == (
        f"Bad router request: Network {mine['id']} is not an external network."
    )
    theirs = create(bob, "networks", name="theirs")
    resp = set_gateway(alice, r, {"network_id": theirs["id"]})
    assert (resp.status, resp.error_type) == (404, "NetworkNotFound"), resp
    # External to one project only: the others do not see it.
    entry = {
        "object_type": "network",
        "object_id": public["id"],
        "action": "access_as_external",
        "target_tenant": bob.project,
    }
    star = admin.get(f"/v2.0/rbac-policies?object_id={public['id']}").json["rbac_policies"]
    assert admin.post("/v2.0/rbac-policies", {"rbac_policy": entry}).status == 201
    assert admin.delete(f"/v2.0/rbac-policies/{star[0]['id']}").status == 204
    resp = set_gateway(alice, r, {"network_id": public["id"]})
    assert (resp.status, resp.error_type) == (404, "NetworkNotFound"), resp
    bobs = create(bob, "routers", name="b", external_gateway_info={"network_id": public["id"]})
    assert bobs["external_gateway_info"]["network_id"] == public["id"]
    # bob's gateway depends on that entry: Neutron's RbacPolicyInUse, nothing changed.
    (bob_entry,) = admin.get(f"/v2.0/rbac-policies?object_id={public['id']}").json["rbac_policies"]
    resp = admin.delete(f"/v2.0/rbac-policies/{bob_entry['id']}")
    assert (resp.status, resp.error_type) == (409, "RbacPolicyInUse"), resp
    resp = admin.put(
        f"/v2.0/rbac-policies/{bob_entry['id']}", {"rbac_policy": {"target_tenant": alice.project}}
    )
    assert (resp.status, resp.error_type) == (409, "RbacPolicyInUse"), resp
    assert state(admin)["routers"] == [
        *before["routers"],
        admin.get(f"/v2.0/routers/{bobs['id']}").json["router"],
    ]
    assert bob.delete(f"/v2.0/routers/{bobs['id']}").status == 204


def test_fixed_ip_errors(admin, external_network):
    public, _sub = external_network()
    r = create(admin, "routers", name="r")
    taken = create(admin, "routers", name="t", external_gateway_info={"network_id": public["id"]})
    used = taken["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
    before = state(admin)
    cases = [
        ({"ip_address": "172.24.4.1"}, 400, "BadRequest", "is the same as the gateway IP"),
        ({"ip_address": used}, 409, "IpAddressAlreadyAllocated", f"IP address {used} already"),
        ({"ip_address": "10.9.9.9"}, 400, "InvalidIpForNetwork", "10.9.9.9"),
        ({"subnet_id": UNKNOWN}, 404, "SubnetNotFound", UNKNOWN),
    ]
    for fixed, status, kind, words in cases:
        resp = set_gateway(admin, r, {"network_id": public["id"], "external_fixed_ips": [fixed]})
        assert (resp.status, resp.error_type) == (status, kind), (fixed, resp)
        assert words in resp.json["NeutronError"]["message"]
    assert state(admin) == before


def test_gateway_and_interfaces_do_not_overlap(alice, admin, external_network):
    public, _sub = external_network(cidr="10.50.0.0/24")
    net = create(alice, "networks", name="n")
    inner = create(alice, "subnets", network_id=net["id"], ip_version=4, cidr="10.50.0.0/25")
    r = create(alice, "routers", name="r")
    resp = alice.put(f"/v2.0/routers/{r['id']}/add_router_interface", {"subnet_id": inner["id"]})
    assert resp.status == 200, resp
    before = state(admin)
    resp = set_gateway(alice, r, {"network_id": public["id"]})
    assert (resp.status, resp.error_type) == (400, "BadRequest"), resp
    assert "overlaps with cidr" in resp.json["NeutronError"]["message"]
    assert state(admin) == before
    other = create(alice, "routers", name="o", external_gateway_info={"network_id": public["id"]})
    resp = alice.put(
        f"/v2.0/routers/{other['id']}/add_router_interface", {"subnet_id": inner["id"]}
    )
    assert (resp.status, resp.error_type) == (400, "BadRequest"), resp
    assert "overlaps with cidr" in resp.json["NeutronError"]["message"]


def test_routes_may_use_the_gateway_subnet(alice, external_network):
    public, _sub = external_network()
    r = create(alice, "routers", name="r", external_gateway_info={"network_id": public["id"]})
    route = {"destination": "203.0.113.0/24", "nexthop": "172.24.4.1"}
    resp = alice.put(f"/v2.0/routers/{r['id']}", {"router": {"routes": [route]}})
    assert resp.status == 200 and resp.json["router"]["routes"] == [route], resp
    resp = set_gateway(alice, r, None)
    assert (resp.status, resp.error_type) == (400, "InvalidRoutes"), resp
    assert "the nexthop is not connected with router" in resp.json["NeutronError"]["message"]
    resp = alice.put(
        f"/v2.0/routers/{r['id']}", {"router": {"routes": [], "external_gateway_info": None}}
    )
    assert resp.status == 200 and resp.json["router"]["external_gateway_info"] is None, resp


def test_gateway_on_a_network_without_subnet_gets_an_address_later(alice, admin, external_network):
    """Neutron's: a gateway on an external network with no subnet has no address; a new
    subnet of the network gives it one."""
    public, _ = external_network(subnet=False)
    r = create(alice, "routers", name="r", external_gateway_info={"network_id": public["id"]})
    assert r["external_gateway_info"]["external_fixed_ips"] == []
    body = {"network_id": public["id"], "ip_version": 4, "cidr": "192.0.2.0/24"}
    sub = admin.post("/v2.0/subnets", {"subnet": body}).json["subnet"]
    shown = alice.get(f"/v2.0/routers/{r['id']}").json["router"]["external_gateway_info"]
    assert shown["external_fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "192.0.2.2"}]
    resp = admin.delete(f"/v2.0/subnets/{sub['id']}")
    assert (resp.status, resp.error_type) == (409, "SubnetInUse"), resp


def test_gateway_port_is_the_routers_own(alice, admin, external_network):
    public, sub = external_network()
    r = create(alice, "routers", name="r", external_gateway_info={"network_id": public["id"]})
    (port,) = gateway_ports(admin, public)
    resp = admin.delete(f"/v2.0/ports/{port['id']}")
    assert (resp.status, resp.error_type) == (409, "ServicePortInUse"), resp
    for change in (
        {"device_id": ""},
        {"device_owner": "compute:nova"},
        {"fixed_ips": [{"subnet_id": sub["id"], "ip_address": "172.24.4.99"}]},
    ):
        resp = admin.put(f"/v2.0/ports/{port['id']}", {"port": change})
        assert (resp.status, resp.error_type) == (400, "BadRequest"), (change, resp)
    fake = {"network_id": public["id"], "device_owner": GATEWAY, "device_id": r["id"]}
    resp = admin.post("/v2.0/ports", {"port": fake})
    assert (resp.status, resp.error_type) == (400, "BadRequest"), resp
    assert gateway_ports(admin, public) == [port]


def test_external_network_in_use_by_a_gateway(alice, admin, external_network):
    public, sub = external_network()
    r = create(alice, "routers", name="r", external_gateway_info={"network_id": public["id"]})
    before = admin.get(f"/v2.0/networks/{public['id']}").json["network"]
    resp = admin.put(f"/v2.0/networks/{public['id']}", {"network": {"router:external": False}})
    assert (resp.status, resp.error_type) == (409, "ExternalNetworkInUse"), resp
    assert resp.json["NeutronError"]["message"] == (
        f"External network {public['id']} cannot be updated to be made non-external, since it "
        f"has existing gateway ports."
    )
    (star,) = admin.get(f"/v2.0/rbac-policies?object_id={public['id']}").json["rbac_policies"]
    resp = admin.delete(f"/v2.0/rbac-policies/{star['id']}")
    assert (resp.status, resp.error_type) == (409, "RbacPolicyInUse"), resp
    resp = admin.delete(f"/v2.0/networks/{public['id']}")
    assert (resp.status, resp.error_type) == (409, "NetworkInUse"), resp
    resp = admin.delete(f"/v2.0/subnets/{sub['id']}")
    assert (resp.status, resp.error_type) == (409, "SubnetInUse"), resp
    assert admin.get(f"/v2.0/networks/{public['id']}").json["network"] == before
    assert set_gateway(alice, r, None).status == 200
    resp = admin.put(f"/v2.0/networks/{public['id']}", {"network": {"router:external": False}})
    assert resp.status == 200 and resp.json["network"]["router:external"] is False


def test_extensions(alice):
    aliases = {e["alias"] for e in alice.get("/v2.0/extensions").json["extensions"]}
    assert {"router", "ext-gw-mode", "external-net", "extraroute", "fip-port-details"} <= aliases
    assert not {"external-gateway-multihoming", "l3-ext-gw-multihoming"} & aliases
    resp = alice.get("/v2.0/extensions/ext-gw-mode")
    assert resp.json["extension"]["name"] == "Neutron L3 Configurable external gateway mode"


# ------------------------------------------------------------------------- the real CLI
def test_openstack_cli_router_gateways(openstack_cli, alice, admin, external_network):
    public, sub = external_network()
    made = openstack_cli(alice, "router", "create", "--external-gateway", public["id"], "cli-r1")
    assert made["external_gateway_info"]["network_id"] == public["id"]
    assert made["external_gateway_info"]["enable_snat"] is True
    shown = openstack_cli(alice, "router", "show", made["id"])
    assert shown["external_gateway_info"] == made["external_gateway_info"]
    refused = openstack_cli(
        alice,
        "router",
        "set",
        "--external-gateway",
        public["id"],
        "--disable-snat",
        made["id"],
        parse=False,
        check=False,
    )
    assert refused.returncode != 0 and "enable_snat is disallowed by policy" in refused.stderr
    openstack_cli(
        admin,
        "router",
        "set",
        "--external-gateway",
        public["id"],
        "--disable-snat",
        "--fixed-ip",
        f"subnet={sub['id']},ip-address=172.24.4.77",
        made["id"],
        parse=False,
    )
    info = openstack_cli(alice, "router", "show", made["id"])["external_gateway_info"]
    assert info["enable_snat"] is False
    assert info["external_fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "172.24.4.77"}]
    openstack_cli(alice, "router", "unset", "--external-gateway", made["id"], parse=False)
    assert openstack_cli(alice, "router", "show", made["id"])["external_gateway_info"] is None
    assert gateway_ports(admin, public) == []
    openstack_cli(
        alice, "router", "set", "--external-gateway", public["id"], made["id"], parse=False
    )
    assert len(gateway_ports(admin, public)) == 1
    openstack_cli(alice, "router", "delete", made["id"], parse=False)
    assert gateway_ports(admin, public) == []
