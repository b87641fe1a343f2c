"""Subnet pools and address scopes over HTTP and with the real ``openstack`` CLI: subnets
whose prefix a pool gives, the default pools, per-project prefix quotas, prefix operations,
address scopes and the networks they scope, sharing, policy, and every error leaving
nothing behind."""

from __future__ import annotations

import pytest

UNKNOWN = "3f0e0c9e-2a43-4a5e-8a61-5b1b0b3e6d35"
POOL_KEYS = {
    "id",
    "name",
    "description",
    "tenant_id",
    "project_id",
    "prefixes",
    "ip_version",
    "min_prefixlen",
    "max_prefixlen",
    "default_prefixlen",
    "default_quota",
    "is_default",
    "shared",
    "address_scope_id",
    "tags",
    "created_at",
    "updated_at",
    "revision_number",
}


def create(client, collection, **attrs):
    member = {"address-scopes": "address_scope", "rbac-policies": "rbac_policy"}.get(
        collection, collection[:-1]
    )
    resp = client.post(f"/v2.0/{collection}", {member: attrs})
    assert resp.status == 201, resp
    return resp.json[member]


def pool(client, prefixes, **attrs):
    return create(client, "subnetpools", name="pool", prefixes=prefixes, **attrs)


def subnet_from(client, net, pool_, **attrs):
    attrs.setdefault("ip_version", 4)
    return client.post(
        "/v2.0/subnets",
        {"subnet": {"network_id": net["id"], "subnetpool_id": pool_["id"], **attrs}},
    )


def subnets_of(client, pool_):
    return client.get(f"/v2.0/subnets?subnetpool_id={pool_['id']}").json["subnets"]


def error(resp, status, kind, message=""):
    assert (resp.status, resp.error_type) == (status, kind), resp
    assert message in resp.json["NeutronError"]["message"], resp.json


def test_subnet_pool_lifecycle(alice):
    made = pool(alice, ["10.100.0.0/24", "10.101.0.0/24"], default_prefixlen=26, default_quota=24)
    assert set(made) == POOL_KEYS
    assert made["prefixes"] == ["10.100.0.0/24", "10.101.0.0/24"]
    assert (made["ip_version"], made["min_prefixlen"], made["max_prefixlen"]) == (4, 8, 32)
    assert (made["default_prefixlen"], made["default_quota"]) == (26, 24)
    assert (made["is_default"], made["shared"], made["address_scope_id"]) == (False, False, None)
    assert alice.get(f"/v2.0/subnetpools/{made['id']}").json["subnetpool"] == made
    mine = alice.get(f"/v2.0/subnetpools?ip_version=4&project_id={alice.project}").json
    assert [p["id"] for p in mine["subnetpools"]] == [made["id"]]

    # prefixes only grow by PUT, and are kept compacted
    path = f"/v2.0/subnetpools/{made['id']}"
    grown = ["10.100.0.0/24", "10.100.1.0/24", "10.101.0.0/24"]
    updated = alice.put(path, {"subnetpool": {"prefixes": grown, "name": "p2"}}).json["subnetpool"]
    assert updated["prefixes"] == ["10.100.0.0/23", "10.101.0.0/24"]
    assert (updated["name"], updated["revision_number"]) == ("p2", 2)
    resp = alice.put(path, {"subnetpool": {"prefixes": ["10.100.0.0/23"]}})
    error(resp, 400, "IllegalSubnetPoolPrefixUpdate", "Existing prefixes must be a subset")
    error(alice.put(path, {"subnetpool": {"shared": True}}), 400, "HTTPBadRequest", "shared")
    error(alice.put(path, {"subnetpool": {"ip_version": 6}}), 400, "HTTPBadRequest", "ip_version")
    resp = alice.put(path, {"subnetpool": {"min_prefixlen": 27}})
    error(resp, 400, "IllegalSubnetPoolPrefixBounds", "default_prefixlen=26, min_prefixlen=27")
    assert alice.get(path).json["subnetpool"] == updated

    assert alice.delete(path).status == 204
    error(alice.get(path), 404, "SubnetPoolNotFound", made["id"])


BAD_POOLS = [
    ({"prefixes": []}, 400, "EmptySubnetPoolPrefixList", "Empty subnet pool prefix list"),
    ({"prefixes": ["10.0.0.0/8", "fd00::/8"]}, 400, "PrefixVersionMismatch", "Cannot mix"),
    ({"prefixes": ["10.0.0.1/8"]}, 400, "HTTPBadRequest", "'10.0.0.0/8' is recommended"),
    ({"prefixes": ["10.0.0.0/8", "10.0.0.0/8"]}, 400, "HTTPBadRequest", "Duplicate items"),
    ({"prefixes": "10.0.0.0/8"}, 400, "HTTPBadRequest", "is not a list"),
    ({"min_prefixlen": 25, "max_prefixlen": 24}, 400, "IllegalSubnetPoolPrefixBounds", "min"),
    ({"max_prefixlen": 33}, 400, "IllegalSubnetPoolPrefixBounds", "ip_version_max=32"),
    ({"default_prefixlen": 4}, 400, "IllegalSubnetPoolPrefixBounds", "min_prefixlen=8"),
    ({"min_prefixlen": -1}, 400, "HTTPBadRequest", "should be non-negative"),
    ({"default_quota": "lots"}, 400, "HTTPBadRequest", "is not an integer"),
    ({"address_scope_id": UNKNOWN}, 404, "AddressScopeNotFound", UNKNOWN),
    ({"is_default": True}, 403, "PolicyNotAuthorized", "create_subnetpool:is_default"),
    ({"ip_version": 4}, 400, "HTTPBadRequest", "not allowed in POST"),
]


@pytest.mark.parametrize("attrs,status,kind,message", BAD_POOLS)
def test_bad_pools_change_nothing(alice, attrs, status, kind, message):
    body = {"name": "bad", "prefixes": ["10.0.0.0/8"], **attrs}
    error(alice.post("/v2.0/subnetpools", {"subnetpool": body}), status, kind, message)
    assert alice.get(f"/v2.0/subnetpools?project_id={alice.project}").json["subnetpools"] == []


def test_subnets_take_their_prefix_from_the_pool(alice):
    made = pool(alice, ["10.100.0.0/24"], default_prefixlen=26, max_prefixlen=28)
    net = create(alice, "networks", name="n")
    other = create(alice, "networks", name="other")

    first = subnet_from(alice, net, made, prefixlen=28).json["subnet"]
    assert (first["cidr"], first["gateway_ip"], first["subnetpool_id"]) == (
        "10.100.0.0/28",
        "10.100.0.1",
        made["id"],
    )
    assert first["allocation_pools"] == [{"start": "10.100.0.2", "end": "10.100.0.14"}]
    # the default prefix length, in the smallest hole that fits; on any network of the pool
    default = subnet_from(alice, other, made).json["subnet"]
    assert default["cidr"] == "10.100.0.64/26"
    # a given prefix, if free; or the one around a given gateway
    given = subnet_from(alice, other, made, cidr="10.100.0.32/27").json["subnet"]
    assert given["cidr"] == "10.100.0.32/27"
    around = subnet_from(alice, other, made, gateway_ip="10.100.0.129", prefixlen=27)
    assert around.json["subnet"]["cidr"] == "10.100.0.128/27", around
    assert around.json["subnet"]["gateway_ip"] == "10.100.0.129"
    specific = subnet_from(
        alice,
        other,
        made,
        cidr="10.100.0.192/27",
        allocation_pools=[{"start": "10.100.0.200", "end": "10.100.0.210"}],
    ).json["subnet"]
    assert specific["allocation_pools"] == [{"start": "10.100.0.200", "end": "10.100.0.210"}]
    assert len(subnets_of(alice, made)) == 5

    before = alice.get("/v2.0/subnets").json
    for attrs, status, kind, message in [
        ({"cidr": "10.100.0.0/27"}, 409, "SubnetAllocationError", "available set of prefixes"),
        ({"cidr": "10.200.0.0/28"}, 409, "SubnetAllocationError", "available set of prefixes"),
        ({"prefixlen": 26}, 409, "SubnetAllocationError", "Insufficient prefix space"),
        ({"prefixlen": 29}, 400, "MaxPrefixSubnetAllocationError", "maximum allowed prefix is 28"),
        ({"prefixlen": 7}, 400, "MinPrefixSubnetAllocationError", "minimum allowed prefix is 8"),
        ({"cidr": "10.100.0.16/28", "prefixlen": 28}, 400, "HTTPBadRequest", "together"),
        ({"ip_version": 6}, 400, "HTTPBadRequest", "Cannot allocate IPv6 subnet from IPv4"),
        (
            {"allocation_pools": [{"start": "10.100.0.20", "end": "10.100.0.21"}]},
            400,
            "HTTPBadRequest",
            "allocation_pools allowed only for specific subnet requests",
        ),
        ({"use_default_subnetpool": True}, 400, "HTTPBadRequest", "cannot both be specified"),
    ]:
        error(subnet_from(alice, net, made, **attrs), status, kind, message)
    resp = subnet_from(alice, net, {"id": UNKNOWN})
    error(resp, 404, "SubnetPoolNotFound", UNKNOWN)
    assert alice.get("/v2.0/subnets").json == before

    # a pool with subnets stays; its prefixes are free again once they go
    resp = alice.delete(f"/v2.0/subnetpools/{made['id']}")
    error(resp, 400, "SubnetPoolDeleteError", "Subnet pool has existing allocations")
    assert alice.delete(f"/v2.0/subnets/{given['id']}").status == 204
    again = subnet_from(alice, net, made, prefixlen=27).json["subnet"]
    assert again["cidr"] == "10.100.0.32/27"
    for subnet in subnets_of(alice, made):
        assert alice.delete(f"/v2.0/subnets/{subnet['id']}").status == 204
    assert alice.delete(f"/v2.0/subnetpools/{made['id']}").status == 204


def test_a_network_keeps_to_one_pool_per_ip_version(alice):
    first, second = pool(alice, ["10.1.0.0/16"]), pool(alice, ["10.2.0.0/16"])
    v6 = pool(alice, ["fd00:1::/48"])
    net = create(alice, "networks", name="n")
    assert subnet_from(alice, net, first, prefixlen=24).status == 201
    resp = subnet_from(alice, net, second, prefixlen=24)
    error(resp, 400, "NetworkSubnetPoolAffinityError", "same subnet pool")
    resp = alice.post(
        "/v2.0/subnets",
        {"subnet": {"network_id": net["id"], "ip_version": 4, "cidr": "10.9.0.0/24"}},
    )
    error(resp, 400, "NetworkSubnetPoolAffinityError")
    six = subnet_from(alice, net, v6, ip_version=6, prefixlen=64).json["subnet"]
    assert six["cidr"] == "fd00:1::/64"  # the other IP version has pools of its own
    assert subnet_from(alice, net, first, prefixlen=24).json["subnet"]["cidr"] == "10.1.1.0/24"


def test_default_pools(alice, bob, admin):
    default = pool(admin, ["10.50.0.0/16"], is_default=True, shared=True, default_prefixlen=24)
    assert (default["is_default"], default["shared"]) == (True, True)
    resp = admin.post(
        "/v2.0/subnetpools",
        {"subnetpool": {"name": "second", "prefixes": ["10.60.0.0/16"], "is_default": True}},
    )
    error(resp, 400, "InvalidInput", "A default subnetpool for this IP family has already been set")
    mine = pool(alice, ["10.70.0.0/16"])
    resp = alice.put(f"/v2.0/subnetpools/{mine['id']}", {"subnetpool": {"is_default": True}})
    error(resp, 403, "PolicyNotAuthorized", "update_subnetpool:is_default")

    net = create(bob, "networks", name="n")
    body = {"network_id": net["id"], "ip_version": 4, "use_default_subnetpool": True}
    made = bob.post("/v2.0/subnets", {"subnet": body}).json["subnet"]
    assert (made["cidr"], made["subnetpool_id"]) == ("10.50.0.0/24", default["id"])
    assert "use_default_subnetpool" not in made  # input only, as in Neutron
    body.update(ip_version=6)
    resp = bob.post("/v2.0/subnets", {"subnet": body})
    error(resp, 400, "HTTPBadRequest", "No default subnetpool found for IPv6")
    # the default changes hands: unset, then set on another pool
    path = f"/v2.0/subnetpools/{default['id']}"
    assert admin.put(path, {"subnetpool": {"is_default": False}}).status == 200
    assert admin.put(f"/v2.0/subnetpools/{mine['id']}", {"subnetpool": {"is_default": True}}).json[
        "subnetpool"
    ]["is_default"]
    assert bob.delete(f"/v2.0/subnets/{made['id']}").status == 204
    assert admin.delete(path).status == 204
    assert admin.delete(f"/v2.0/subnetpools/{mine['id']}").status == 204


def test_prefix_quota_per_project(alice, bob):
    shared = pool(alice, ["10.80.0.0/16"], default_quota=24, shared=True)
    v6 = pool(alice, ["fd00:80::/48"], default_quota=2)
    net_a, net_b = create(alice, "networks", name="a"), create(bob, "networks", name="b")
    assert subnet_from(alice, net_a, shared, prefixlen=28).status == 201  # 16 addresses
    error(subnet_from(alice, net_a, shared, prefixlen=28), 409, "SubnetPoolQuotaExceeded")
    assert subnet_from(alice, net_a, shared, prefixlen=29).status == 201  # 8 more: 24
    assert subnet_from(bob, net_b, shared, prefixlen=28).status == 201  # bob counts his own
    for _ in range(2):
        assert subnet_from(alice, net_a, v6, ip_version=6, prefixlen=64).status == 201
    error(subnet_from(alice, net_a, v6, ip_version=6, prefixlen=64), 409, "SubnetPoolQuotaExceeded")
    assert len(subnets_of(alice, shared)) == 2  # bob's is on his own network


def test_prefix_operations(alice, bob):
    made = pool(alice, ["10.90.0.0/24"])
    net = create(alice, "networks", name="n")
    held = subnet_from(alice, net, made, prefixlen=25).json["subnet"]
    path = f"/v2.0/subnetpools/{made['id']}"
    added = alice.put(f"{path}/add_prefixes", {"prefixes": ["10.90.1.0/24", "10.91.0.0/24"]})
    assert added.json == {"prefixes": ["10.90.0.0/23", "10.91.0.0/24"]}, added
    resp = alice.put(f"{path}/remove_prefixes", {"prefixes": ["10.90.0.0/24"]})
    error(resp, 400, "IllegalSubnetPoolPrefixUpdate", "in use by a subnet")
    removed = alice.put(f"{path}/remove_prefixes", {"prefixes": ["10.90.1.0/24"]})
    assert removed.json == {"prefixes": ["10.90.0.0/24", "10.91.0.0/24"]}, removed
    assert alice.get(path).json["subnetpool"]["prefixes"] == ["10.90.0.0/24", "10.91.0.0/24"]
    assert alice.put(f"{path}/remove_prefixes", {"prefixes": ["10.99.0.0/24"]}).json == {
        "prefixes": ["10.90.0.0/24", "10.91.0.0/24"]
    }
    resp = alice.put(f"{path}/add_prefixes", {"prefixes": ["fd00::/64"]})
    error(resp, 400, "PrefixVersionMismatch")
    error(alice.put(f"{path}/add_prefixes", {"cidrs": []}), 400, "HTTPBadRequest", "prefixes")
    resp = bob.put(f"{path}/add_prefixes", {"prefixes": ["10.92.0.0/24"]})
    error(resp, 404, "SubnetPoolNotFound")
    assert held["cidr"] == "10.90.0.0/25"


def test_pools_are_their_projects_until_shared(alice, bob, admin):
    private = pool(alice, ["10.110.0.0/16"])
    path = f"/v2.0/subnetpools/{private['id']}"
    error(bob.get(path), 404, "SubnetPoolNotFound")
    assert bob.get(f"/v2.0/subnetpools?project_id={alice.project}").json["subnetpools"] == []
    error(bob.put(path, {"subnetpool": {"name": "mine"}}), 404, "SubnetPoolNotFound")
    error(bob.delete(path), 404, "SubnetPoolNotFound")
    net = create(bob, "networks", name="n")
    error(subnet_from(bob, net, private, prefixlen=24), 404, "SubnetPoolNotFound")

    # shared with bob by an RBAC entry: he sees it (shared: true, for him) and allocates
    entry = create(
        alice,
        "rbac-policies",
        object_type="subnetpool",
        object_id=private["id"],
        action="access_as_shared",
        target_tenant=bob.project,
    )
    assert bob.get(path).json["subnetpool"]["shared"] is True
    assert alice.get(path).json["subnetpool"]["shared"] is False
    error(bob.put(path, {"subnetpool": {"name": "mine"}}), 403, "PolicyNotAuthorized")
    taken = subnet_from(bob, net, private, prefixlen=24).json["subnet"]
    assert taken["project_id"] == bob.project
    resp = alice.delete(f"/v2.0/rbac-policies/{entry['id']}")
    error(resp, 409, "RbacPolicyInUse")
    assert bob.delete(f"/v2.0/subnets/{taken['id']}").status == 204
    assert alice.delete(f"/v2.0/rbac-policies/{entry['id']}").status == 204
    error(bob.get(path), 404, "SubnetPoolNotFound")
    assert admin.get(path).json["subnetpool"]["id"] == private["id"]


def test_address_scopes(alice, bob):
    scope = create(alice, "address-scopes", name="corp", ip_version=4)
    assert {k: scope[k] for k in ("name", "ip_version", "shared")} == {
        "name": "corp",
        "ip_version": 4,
        "shared": False,
    }
    path = f"/v2.0/address-scopes/{scope['id']}"
    assert alice.put(path, {"address_scope": {"name": "corp2"}}).json["address_scope"]["name"] == (
        "corp2"
    )
    error(bob.get(path), 404, "AddressScopeNotFound")
    error(alice.put(path, {"address_scope": {"ip_version": 6}}), 400, "HTTPBadRequest")

    first = pool(alice, ["10.120.0.0/16"], address_scope_id=scope["id"])
    resp = alice.post(
        "/v2.0/subnetpools",
        {
            "subnetpool": {
                "name": "x",
                "prefixes": ["10.120.5.0/24"],
                "address_scope_id": scope["id"],
            }
        },
    )
    error(resp, 409, "AddressScopePrefixConflict", "unique prefixes")
    resp = alice.post(
        "/v2.0/subnetpools",
        {"subnetpool": {"name": "x", "prefixes": ["fd00::/48"], "address_scope_id": scope["id"]}},
    )
    error(resp, 400, "IllegalSubnetPoolIpVersionAssociationToAddressScope", "is not 4")
    second = pool(alice, ["10.121.0.0/16"], address_scope_id=scope["id"])
    outside = pool(alice, ["10.122.0.0/16"])
    resp = alice.put(
        f"/v2.0/subnetpools/{outside['id']}",
        {
            "subnetpool": {
                "address_scope_id": scope["id"],
                "prefixes": ["10.122.0.0/16", "10.120.9.0/24"],
            }
        },
    )
    error(resp, 409, "AddressScopePrefixConflict")

    # a network's subnets of one version come from pools of its scope, which it shows
    net = create(alice, "networks", name="n")
    assert net["ipv4_address_scope"] is None and net["ipv6_address_scope"] is None
    assert subnet_from(alice, net, first, prefixlen=24).status == 201
    assert subnet_from(alice, net, second, prefixlen=24).status == 201  # same scope: allowed
    shown = alice.get(f"/v2.0/networks/{net['id']}").json["network"]
    assert (shown["ipv4_address_scope"], shown["ipv6_address_scope"]) == (scope["id"], None)
    error(subnet_from(alice, net, outside, prefixlen=24), 400, "NetworkAddressScopeAffinityError")
    resp = alice.post(
        "/v2.0/subnets",
        {"subnet": {"network_id": net["id"], "ip_version": 4, "cidr": "192.168.9.0/24"}},
    )
    error(resp, 400, "NetworkAddressScopeAffinityError")

    error(alice.delete(path), 409, "AddressScopeInUse", scope["id"])
    # bob may not put his pool in alice's scope; shared, he may, and it stays shared
    resp = bob.post(
        "/v2.0/subnetpools",
        {
            "subnetpool": {
                "name": "b",
                "prefixes": ["10.130.0.0/16"],
                "address_scope_id": scope["id"],
            }
        },
    )
    error(resp, 404, "AddressScopeNotFound")
    assert alice.put(path, {"address_scope": {"shared": True}}).status == 200
    bobs = pool(bob, ["10.130.0.0/16"], address_scope_id=scope["id"])
    resp = alice.put(path, {"address_scope": {"shared": False}})
    error(resp, 400, "AddressScopeUpdateError", "Shared address scope can't be unshared")
    resp = bob.put(f"/v2.0/subnetpools/{bobs['id']}", {"subnetpool": {"name": "renamed"}})
    error(resp, 400, "IllegalSubnetPoolUpdate", "associated with shared address scope")
    assert bob.delete(f"/v2.0/subnetpools/{bobs['id']}").status == 204


BAD_SCOPES = [
    ({"ip_version": 5}, 400, "HTTPBadRequest", "'5' is not in [4, 6]"),
    ({"ip_version": None}, 400, "HTTPBadRequest", "ip_version"),
    ({"shared": "sometimes"}, 400, "HTTPBadRequest", "cannot be converted to boolean"),
    ({"prefixes": []}, 400, "HTTPBadRequest", "Unrecognized attribute(s) 'prefixes'"),
]


@pytest.mark.parametrize("attrs,status,kind,message", BAD_SCOPES)
def test_bad_address_scopes_change_nothing(alice, attrs, status, kind, message):
    body = {"name": "bad", "ip_version": 4, **attrs}
    error(alice.post("/v2.0/address-scopes", {"address_scope": body}), status, kind, message)
    assert (
        alice.get(f"/v2.0/address-scopes?project_id={alice.project}").json["address_scopes"] == []
    )


def test_pool_and_scope_quotas(alice, admin):
    quota = alice.get(f"/v2.0/quotas/{alice.project}").json["quota"]
    assert (quota["subnetpool"], quota["address_scope"]) == (10, 10)
    limits = {"quota": {"subnetpool": 1, "address_scope": 1}}
    assert admin.put(f"/v2.0/quotas/{alice.project}", limits).status == 200
    pool(alice, ["10.140.0.0/16"])
    resp = alice.post(
        "/v2.0/subnetpools", {"subnetpool": {"name": "x", "prefixes": ["10.141.0.0/16"]}}
    )
    error(resp, 409, "OverQuota", "['subnetpool']")
    create(alice, "address-scopes", name="s", ip_version=6)
    resp = alice.post("/v2.0/address-scopes", {"address_scope": {"name": "t", "ip_version": 6}})
    error(resp, 409, "OverQuota", "['address_scope']")
    assert len(alice.get(f"/v2.0/subnetpools?project_id={alice.project}").json["subnetpools"]) == 1


def test_extensions_advertised(alice):
    aliases = {e["alias"] for e in alice.get("/v2.0/extensions").json["extensions"]}
    assert {
        "subnet_allocation",
        "default-subnetpools",
        "subnetpool-prefix-ops",
        "address-scope",
        "rbac-subnetpool",
        "rbac-address-scope",
    } <= aliases


def test_openstack_cli_subnet_pools_and_address_scopes(openstack_cli, alice):
    scope = openstack_cli(alice, "address", "scope", "create", "--ip-version", "4", "corp")
    assert (scope["name"], scope["ip_version"]) == ("corp", 4)
    made = openstack_cli(
        alice,
        "subnet",
        "pool",
        "create",
        "--pool-prefix",
        "10.150.0.0/16",
        "--default-prefix-length",
        "26",
        "--default-quota",
        "1024",
        "--tag",
        "blue",
        "p1",
    )
    assert (made["prefixes"], made["default_prefixlen"], made["tags"]) == (
        ["10.150.0.0/16"],
        26,
        ["blue"],
    )
    openstack_cli(alice, "subnet", "pool", "set", "--address-scope", "corp", "p1", parse=False)
    openstack_cli(
        alice, "subnet", "pool", "set", "--pool-prefix", "10.151.0.0/16", "p1", parse=False
    )
    shown = openstack_cli(alice, "subnet", "pool", "show", "p1")
    assert shown["address_scope_id"] == scope["id"]
    assert shown["prefixes"] == ["10.150.0.0/15"]  # compacted
    openstack_cli(alice, "network", "create", "n", parse=False)
    subnet = openstack_cli(
        alice,
        "subnet",
        "create",
        "--network",
        "n",
        "--subnet-pool",
        "p1",
        "--prefix-length",
        "27",
        "s1",
    )
    assert (subnet["cidr"], subnet["subnetpool_id"]) == ("10.150.0.0/27", made["id"])
    second = openstack_cli(alice, "subnet", "create", "--network", "n", "--subnet-pool", "p1", "s2")
    assert second["cidr"] == "10.150.0.64/26"
    network = openstack_cli(alice, "network", "show", "n")
    assert network["ipv4_address_scope"] == scope["id"]
    # (pools and scopes other tests share with every project are listed too)
    assert "p1" in [p["Name"] for p in openstack_cli(alice, "subnet", "pool", "list")]
    assert "corp" in [s["Name"] for s in openstack_cli(alice, "address", "scope", "list")]
    failed = openstack_cli(alice, "subnet", "pool", "delete", "p1", parse=False, check=False)
    assert failed.returncode != 0
    for name in ("s1", "s2"):
        openstack_cli(alice, "subnet", "delete", name, parse=False)
    openstack_cli(alice, "subnet", "pool", "delete", "p1", parse=False)
    openstack_cli(alice, "address", "scope", "delete", "corp", parse=False)
    assert "corp" not in [s["Name"] for s in openstack_cli(alice, "address", "scope", "list")]
