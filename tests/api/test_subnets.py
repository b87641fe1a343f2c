"""Subnets and port addresses over HTTP, against the real server: wire format and every rule."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.helpers import ApiClient

SUBNET_KEYS = {
    "id",
    "name",
    "description",
    "network_id",
    "ip_version",
    "cidr",
    "gateway_ip",
    "allocation_pools",
    "dns_nameservers",
    "host_routes",
    "enable_dhcp",
    "ipv6_ra_mode",
    "ipv6_address_mode",
    "subnetpool_id",
    "service_types",
    "segment_id",
    "project_id",
    "tenant_id",
    "revision_number",
    "created_at",
    "updated_at",
    "tags",
}
UNKNOWN = "3f0e0c9e-2a43-4a5e-8a61-5b1b0b3e6d35"


@pytest.fixture
def net(alice):
    return alice.post("/v2.0/networks", {"network": {"name": "subnets-net"}}).json["network"]


def subnet(client, net, cidr="10.0.0.0/24", version=4, **attrs):
    resp = client.post(
        "/v2.0/subnets",
        {"subnet": {"network_id": net["id"], "cidr": cidr, "ip_version": version, **attrs}},
    )
    assert resp.status == 201, resp
    return resp.json["subnet"]


def port(client, net, **attrs):
    resp = client.post("/v2.0/ports", {"port": {"network_id": net["id"], **attrs}})
    assert resp.status == 201, resp
    return resp.json["port"]


def addresses(p) -> list[str]:
    return [f["ip_address"] for f in p["fixed_ips"]]


def test_create_defaults_and_wire_format(alice, net):
    s = subnet(alice, net, name="s1")
    assert set(s) == SUBNET_KEYS
    assert (s["cidr"], s["gateway_ip"], s["ip_version"]) == ("10.0.0.0/24", "10.0.0.1", 4)
    assert s["allocation_pools"] == [{"start": "10.0.0.2", "end": "10.0.0.254"}]
    assert (s["dns_nameservers"], s["host_routes"], s["enable_dhcp"]) == ([], [], True)
    assert (s["ipv6_ra_mode"], s["ipv6_address_mode"], s["subnetpool_id"]) == (None,) * 3
    assert (s["service_types"], s["segment_id"]) == ([], None)
    assert "use_default_subnetpool" not in s  # input only, as in Neutron
    assert s["project_id"] == s["tenant_id"] == alice.project and s["revision_number"] == 1
    assert alice.get(f"/v2.0/subnets/{s['id']}").json["subnet"] == s
    assert alice.get(f"/v2.0/networks/{net['id']}").json["network"]["subnets"] == [s["id"]]
    six = subnet(
        alice,
        net,
        "2001:DB8:0::/64",
        6,
        ipv6_ra_mode="slaac",
        ipv6_address_mode="slaac",
        gateway_ip=None,
        dns_nameservers=["2001:4860:4860::8888"],
        host_routes=[{"destination": "2001:db9::/64", "nexthop": "2001:db8::9"}],
    )
    assert (six["cidr"], six["gateway_ip"]) == ("2001:db8::/64", None)
    assert six["allocation_pools"] == [
        {"start": "2001:db8::1", "end": "2001:db8::ffff:ffff:ffff:ffff"}
    ]
    assert six["host_routes"] == [{"destination": "2001:db9::/64", "nexthop": "2001:db8::9"}]
    assert alice.get(f"/v2.0/networks/{net['id']}").json["network"]["subnets"] == [
        s["id"],
        six["id"],
    ]
    assert "subnets" in {r["collection"] for r in alice.get("/v2.0/").json["resources"]}


BAD_SUBNETS = [
    (
        {"cidr": "10.0.0.1/24"},
        400,
        "HTTPBadRequest",
        (
            "Invalid input for cidr. Reason: '10.0.0.1/24' isn't a recognized IP subnet cidr, "
            "'10.0.0.0/24' is recommended."
        ),
    ),
    ({"cidr": "10.0.0.0/33"}, 400, "HTTPBadRequest", "is not a valid IP subnet"),
    ({"cidr": "nope"}, 400, "HTTPBadRequest", "is not a valid IP subnet"),
    ({"cidr": 10}, 400, "HTTPBadRequest", "is not a valid IP subnet"),
    ({"cidr": "2001:db8::/64"}, 400, "InvalidInput", "does not match the ip_version '4'"),
    ({"ip_version": 5}, 400, "HTTPBadRequest", "'5' is not in [4, 6]"),
    ({"ip_version": None}, 400, "HTTPBadRequest", "is not in [4, 6]"),
    ({"network_id": None}, 400, "HTTPBadRequest", "Invalid input for network_id"),
    ({"network_id": UNKNOWN}, 404, "NetworkNotFound", UNKNOWN),
    ({"gateway_ip": "10.0.0.300"}, 400, "HTTPBadRequest", "is not a valid IP address"),
    ({"gateway_ip": "10.0.0.255"}, 400, "InvalidInput", "Gateway is not valid on subnet"),
    ({"allocation_pools": None}, 400, "HTTPBadRequest", "Invalid data format for IP pool"),
    (
        {"allocation_pools": [{"start": "10.0.0.5"}]},
        400,
        "HTTPBadRequest",
        "Validation of dictionary's keys failed",
    ),
    (
        {"allocation_pools": [{"start": "10.0.0.5", "end": "x"}]},
        400,
        "HTTPBadRequest",
        "'x' is not a valid IP address",
    ),
    (
        {"allocation_pools": [{"start": "10.0.0.9", "end": "10.0.0.5"}]},
        400,
        "InvalidAllocationPool",
        "is not valid",
    ),
    (
        {"allocation_pools": [{"start": "10.0.1.5", "end": "10.0.1.9"}]},
        400,
        "OutOfBoundsAllocationPool",
        "spans beyond the subnet cidr 10.0.0.0/24",
    ),
    (
        {
            "allocation_pools": [
                {"start": "10.0.0.5", "end": "10.0.0.9"},
                {"start": "10.0.0.7", "end": "10.0.0.12"},
            ]
        },
        409,
        "OverlappingAllocationPools",
        "Found overlapping allocation pools",
    ),
    (
        {"allocation_pools": [{"start": "10.0.0.1", "end": "10.0.0.9"}]},
        409,
        "GatewayConflictWithAllocationPools",
        "Gateway ip 10.0.0.1 conflicts",
    ),
    (
        {"dns_nameservers": ["8.8.8.8", "8.8.8.8"]},
        400,
        "HTTPBadRequest",
        "Duplicate nameserver '8.8.8.8'",
    ),
    ({"dns_nameservers": ["dns.example"]}, 400, "HTTPBadRequest", "is not a valid nameserver"),
    ({"dns_nameservers": "8.8.8.8"}, 400, "HTTPBadRequest", "Invalid data format for nameserver"),
    (
        {"dns_nameservers": [f"10.9.9.{i}" for i in range(6)]},
        400,
        "DNSNameServersExhausted",
        "exceeds the limit 5",
    ),
    (
        {"host_routes": [{"destination": "10.8.0.1/16", "nexthop": "10.0.0.9"}]},
        400,
        "HTTPBadRequest",
        "isn't a recognized IP subnet cidr",
    ),
    (
        {"host_routes": [{"destination": "10.8.0.0/16"}]},
        400,
        "HTTPBadRequest",
        "Validation of dictionary's keys failed",
    ),
    (
        {"host_routes": [{"destination": "10.8.0.0/16", "nexthop": "10.0.0.9"}] * 2},
        400,
        "HTTPBadRequest",
        "Duplicate hostroute",
    ),
    ({"enable_dhcp": "maybe"}, 400, "HTTPBadRequest", "'maybe' cannot be converted to boolean"),
    ({"ipv6_ra_mode": "slaac"}, 400, "InvalidInput", "ipv6_ra_mode is not valid when ip_version"),
    ({"ipv6_address_mode": "eui"}, 400, "HTTPBadRequest", "Invalid input for ipv6_address_mode"),
    ({"subnetpool_id": UNKNOWN}, 404, "SubnetPoolNotFound", UNKNOWN),
    ({"use_default_subnetpool": True}, 400, "HTTPBadRequest", "No default subnetpool found"),
    ({"segment_id": UNKNOWN}, 400, "HTTPBadRequest", "segments"),
    ({"service_types": ["compute:nova"]}, 400, "HTTPBadRequest", "service types"),
    ({"prefixlen": 24}, 400, "HTTPBadRequest", "cidr and prefixlen must not be supplied together"),
    ({"id": UNKNOWN}, 400, "HTTPBadRequest", "not allowed in POST"),
    ({"name": 5}, 400, "HTTPBadRequest", "Invalid input for name"),
]


@pytest.mark.parametrize("attrs,status,kind,message", BAD_SUBNETS)
def test_bad_subnets_change_nothing(alice, net, attrs, status, kind, message):
    body = {"network_id": net["id"], "ip_version": 4, "cidr": "10.0.0.0/24", **attrs}
    before = alice.get(f"/v2.0/subnets?project_id={alice.project}").json
    resp = alice.post("/v2.0/subnets", {"subnet": body})
    assert (resp.status, resp.error_type) == (status, kind), resp
    assert message in resp.json["NeutronError"]["message"]
    assert alice.get(f"/v2.0/subnets?project_id={alice.project}").json == before
    assert alice.get(f"/v2.0/networks/{net['id']}").json["network"]["subnets"] == []


def test_required_attributes(alice, net):
    for missing in ("network_id", "ip_version"):
        body = {"network_id": net["id"], "ip_version": 4, "cidr": "10.0.0.0/24"}
        del body[missing]
        resp = alice.post("/v2.0/subnets", {"subnet": body})
        assert resp.status == 400 and f"'{missing}' not specified" in resp.raw.decode()
    resp = alice.post("/v2.0/subnets", {"subnet": {"network_id": net["id"], "ip_version": 4}})
    assert resp.status == 400 and "subnetpool must be specified" in resp.raw.decode()


@pytest.mark.parametrize(
    "attrs,message",
    [
        ({"ipv6_ra_mode": "slaac", "ipv6_address_mode": "dhcpv6-stateless"}, "must be the same"),
        ({"ipv6_address_mode": "slaac", "cidr": "2001:db8::/96"}, "requires the prefix to be /64"),
        ({"ipv6_address_mode": "dhcpv6-stateless", "enable_dhcp": False}, "cannot be set"),
    ],
)
def test_bad_ipv6_modes(alice, net, attrs, message):
    body = {"network_id": net["id"], "ip_version": 6, "cidr": "2001:db8::/64", **attrs}
    resp = alice.post("/v2.0/subnets", {"subnet": body})
    assert resp.status == 400 and resp.error_type == "InvalidInput", resp
    assert message in resp.json["NeutronError"]["message"]
    assert alice.get(f"/v2.0/subnets?project_id={alice.project}").json["subnets"] == []


def test_overlap_within_network_only(alice, bob, net):
    subnet(alice, net, "10.0.0.0/24")
    resp = alice.post(
        "/v2.0/subnets",
        {"subnet": {"network_id": net["id"], "ip_version": 4, "cidr": "10.0.0.0/25"}},
    )
    assert resp.status == 400 and resp.error_type == "InvalidInput"
    assert resp.json["NeutronError"]["message"] == (
        f"Invalid input for operation: Requested subnet with cidr: 10.0.0.0/25 for network: "
        f"{net['id']} overlaps with another subnet."
    )
    other = alice.post("/v2.0/networks", {"network": {}}).json["network"]
    subnet(alice, other, "10.0.0.0/24")
    bobs = bob.post("/v2.0/networks", {"network": {}}).json["network"]
    subnet(bob, bobs, "10.0.0.0/24")
    bulk = alice.post(
        "/v2.0/subnets",
        {
            "subnets": [
                {"network_id": other["id"], "ip_version": 4, "cidr": "10.1.0.0/24"},
                {"network_id": other["id"], "ip_version": 4, "cidr": "10.1.0.0/24"},
            ]
        },
    )
    mine = alice.get(f"/v2.0/subnets?project_id={alice.project}").json["subnets"]
    assert bulk.status == 400 and len(mine) == 2


def test_scoping(alice, bob, admin, net):
    s = subnet(alice, net)
    path = f"/v2.0/subnets/{s['id']}"
    for resp in (
        bob.get(path),
        bob.put(path, {"subnet": {"name": "x"}}),
        bob.delete(path),
        bob.get(path + "/tags"),
        bob.get("/v2.0/subnets/not-a-uuid"),
    ):
        assert resp.status == 404 and resp.error_type == "SubnetNotFound", resp
    resp = bob.post(
        "/v2.0/subnets",
        {"subnet": {"network_id": net["id"], "ip_version": 4, "cidr": "10.1.0.0/24"}},
    )
    assert resp.status == 404 and resp.error_type == "NetworkNotFound"
    assert bob.get(f"/v2.0/subnets?network_id={net['id']}").json["subnets"] == []
    alice.put(f"/v2.0/networks/{net['id']}", {"network": {"shared": True}})
    assert bob.get(path).status == 200
    resp = bob.post(
        "/v2.0/subnets",
        {"subnet": {"network_id": net["id"], "ip_version": 4, "cidr": "10.1.0.0/24"}},
    )
    assert resp.status == 403 and resp.error_type == "PolicyNotAuthorized"
    assert bob.put(path, {"subnet": {"name": "x"}}).status == 403
    made = subnet(admin, net, "10.2.0.0/24", project_id=alice.project)
    assert made["project_id"] == alice.project


def test_update(alice, net):
    s = subnet(alice, net)
    path = f"/v2.0/subnets/{s['id']}"
    resp = alice.put(
        path,
        {
            "subnet": {
                "name": "renamed",
                "description": "d",
                "gateway_ip": "10.0.0.254",
                "enable_dhcp": False,
                "allocation_pools": [{"start": "10.0.0.10", "end": "10.0.0.20"}],
                "dns_nameservers": ["10.0.0.53"],
                "host_routes": [{"destination": "0.0.0.0/0", "nexthop": "10.0.0.9"}],
            }
        },
    )
    assert resp.status == 200, resp
    new = resp.json["subnet"]
    assert (new["name"], new["gateway_ip"], new["enable_dhcp"]) == ("renamed", "10.0.0.254", False)
    assert new["allocation_pools"] == [{"start": "10.0.0.10", "end": "10.0.0.20"}]
    assert new["revision_number"] == 2 and alice.get(path).json["subnet"] == new
    for attrs, message in (
        ({"cidr": "10.0.0.0/16"}, "read-only attribute cidr"),
        ({"ip_version": 6}, "read-only attribute ip_version"),
        ({"network_id": UNKNOWN}, "read-only attribute network_id"),
        ({"ipv6_address_mode": "slaac"}, "read-only attribute"),
        ({"gateway_ip": "10.0.0.15"}, "conflicts with allocation pool"),
        ({"allocation_pools": None}, "Invalid data format for IP pool"),
        ({"dns_nameservers": ["1.1.1.1", "1.1.1.1"]}, "Duplicate"),
    ):
        resp = alice.put(path, {"subnet": attrs})
        assert resp.status in (400, 409) and message in resp.raw.decode(), (attrs, resp)
    assert alice.get(path).json["subnet"] == new
    assert alice.put(path, {"subnet": {"gateway_ip": None}}).json["subnet"]["gateway_ip"] is None
    assert (
        alice.put(path, {"subnet": {"name": "z"}}, headers={"If-Match": "revision_number=1"}).status
        == 412
    )


def test_tags_filters_sorting_paging_fields(alice, net):
    a = subnet(alice, net, "10.0.0.0/24", name="a", tags=["red"])
    b = subnet(alice, net, "10.0.1.0/24", name="b", enable_dhcp=False)
    c = subnet(alice, net, "2001:db8::/64", 6, name="c")
    assert alice.put(f"/v2.0/subnets/{b['id']}/tags/blue").status == 201
    assert alice.get(f"/v2.0/subnets/{b['id']}/tags").json == {"tags": ["blue"]}

    def names(query):  # other tests' shared networks show their subnets to everyone
        resp = alice.get(f"/v2.0/subnets?project_id={alice.project}&" + query)
        assert resp.status == 200, resp
        return [s["name"] for s in resp.json["subnets"]]

    assert sorted(names("ip_version=4")) == ["a", "b"]
    assert names("ip_version=6") == ["c"]
    assert names("cidr=10.0.1.0/24") == ["b"]
    assert names("enable_dhcp=false") == ["b"]
    assert names("gateway_ip=10.0.0.1") == ["a"]
    assert sorted(names(f"network_id={net['id']}")) == ["a", "b", "c"]
    assert names("tags=red") == ["a"] and names("tags-any=red,blue&ip_version=4") in (
        ["a", "b"],
        ["b", "a"],
    )
    assert names("sort_key=name&sort_dir=desc") == ["c", "b", "a"]
    assert names("sort_key=cidr&sort_dir=asc&limit=1") == ["a"]
    page = alice.get(
        f"/v2.0/subnets?sort_key=name&limit=2&marker={a['id']}&network_id={net['id']}"
    ).json
    assert [s["name"] for s in page["subnets"]] == ["b", "c"]
    assert alice.get("/v2.0/subnets?fields=id&fields=cidr&name=c").json["subnets"] == [
        {"id": c["id"], "cidr": "2001:db8::/64"}
    ]
    for bad in ("ip_version=x", "allocation_pools=x", "sort_key=dns_nameservers", "foo=1"):
        assert alice.get("/v2.0/subnets?" + bad).status == 400, bad


def test_delete_subnet_in_use_and_network_cascade(alice, net):
    s = subnet(alice, net)
    six = subnet(alice, net, "2001:db8::/64", 6, ipv6_ra_mode="slaac", ipv6_address_mode="slaac")
    p = port(alice, net)
    assert [f["subnet_id"] for f in p["fixed_ips"]] == [s["id"], six["id"]]
    resp = alice.delete(f"/v2.0/subnets/{s['id']}")
    assert resp.status == 409 and resp.error_type == "SubnetInUse", resp
    assert resp.json["NeutronError"]["message"] == (
        f"Unable to complete operation on subnet {s['id']}: One or more ports have an IP "
        f"allocation from this subnet."
    )
    assert alice.delete(f"/v2.0/subnets/{six['id']}").status == 204  # automatic addresses go
    shown = alice.get(f"/v2.0/ports/{p['id']}").json["port"]
    assert shown["fixed_ips"] == p["fixed_ips"][:1]
    assert shown["revision_number"] > p["revision_number"]
    assert alice.delete(f"/v2.0/networks/{net['id']}").status == 409
    assert alice.delete(f"/v2.0/ports/{p['id']}").status == 204
    assert alice.delete(f"/v2.0/networks/{net['id']}").status == 204
    assert alice.get(f"/v2.0/subnets/{s['id']}").status == 404
    assert alice.get(f"/v2.0/subnets?project_id={alice.project}").json["subnets"] == []


# ---------------------------------------------------------------------------- port IPAM
def test_port_addresses(alice, admin, net):
    s = subnet(alice, net, "10.0.0.0/24")
    six = subnet(alice, net, "2001:db8::/64", 6, ipv6_address_mode="dhcpv6-stateful")
    slaac = subnet(alice, net, "2001:db8:1::/64", 6, ipv6_ra_mode="slaac")
    p = port(alice, net, mac_address="fa:16:3e:00:00:01")
    assert p["fixed_ips"] == [
        {"subnet_id": s["id"], "ip_address": "10.0.0.2"},
        {"subnet_id": six["id"], "ip_address": "2001:db8::2"},
        {"subnet_id": slaac["id"], "ip_address": "2001:db8:1:0:f816:3eff:fe00:1"},
    ]
    chosen = port(
        alice,
        net,
        fixed_ips=[
            {"subnet_id": s["id"], "ip_address": "10.0.0.50"},
            {"ip_address": "2001:db8::50"},
        ],
    )
    assert addresses(chosen)[:2] == ["10.0.0.50", "2001:db8::50"]
    errors = [
        ([{"ip_address": "10.0.0.50"}], 409, "IpAddressInUse"),
        ([{"ip_address": "10.9.0.1"}], 400, "InvalidIpForNetwork"),
        ([{"subnet_id": s["id"], "ip_address": "10.0.0.255"}], 400, "InvalidIpForSubnet"),
        ([{"subnet_id": s["id"], "ip_address": "2001:db8::7"}], 400, "InvalidIpForSubnet"),
        (
            [{"subnet_id": slaac["id"], "ip_address": "2001:db8:1::7"}],
            400,
            "AllocationOnAutoAddressSubnet",
        ),
        ([{"subnet_id": UNKNOWN}], 404, "SubnetNotFound"),
    ]
    other = alice.post("/v2.0/networks", {"network": {}}).json["network"]
    foreign = subnet(alice, other, "10.5.0.0/24")
    errors.append(([{"subnet_id": foreign["id"]}], 400, "InvalidInput"))
    before = alice.get("/v2.0/ports").json
    for fixed_ips, status, kind in errors:
        resp = alice.post(
            "/v2.0/ports", {"port": {"network_id": net["id"], "fixed_ips": fixed_ips}}
        )
        assert (resp.status, resp.error_type) == (status, kind), (fixed_ips, resp)
        resp = alice.put(f"/v2.0/ports/{p['id']}", {"port": {"fixed_ips": fixed_ips}})
        assert (resp.status, resp.error_type) == (status, kind), (fixed_ips, resp)
    assert alice.get("/v2.0/ports").json == before
    # update: swap the IPv4 address, keep the others by subnet
    resp = alice.put(
        f"/v2.0/ports/{p['id']}",
        {"port": {"fixed_ips": [{"ip_address": "10.0.0.7"}, {"subnet_id": six["id"]}]}},
    )
    assert resp.status == 200, resp
    assert addresses(resp.json["port"]) == [
        "10.0.0.7",
        "2001:db8::2",
        "2001:db8:1:0:f816:3eff:fe00:1",
    ]
    assert addresses(port(alice, net))[0] == "10.0.0.2"  # released in the same request
    resp = admin.put(f"/v2.0/ports/{p['id']}", {"port": {"mac_address": "fa:16:3e:00:00:02"}})
    assert addresses(resp.json["port"])[2] == "2001:db8:1:0:f816:3eff:fe00:2"


def test_pool_exhausted(alice, net):
    s = subnet(alice, net, "10.0.0.0/30")  # one address
    port(alice, net)
    resp = alice.post("/v2.0/ports", {"port": {"network_id": net["id"]}})
    assert resp.status == 409 and resp.error_type == "IpAddressGenerationFailureAllSubnets"
    resp = alice.post(
        "/v2.0/ports", {"port": {"network_id": net["id"], "fixed_ips": [{"subnet_id": s["id"]}]}}
    )
    assert resp.status == 409 and resp.error_type == "IpAddressGenerationFailure"
    assert (
        resp.json["NeutronError"]["message"]
        == f"No more IP addresses available for subnet {s['id']}."
    )
    assert len(alice.get("/v2.0/ports").json["ports"]) == 1


def test_fixed_ips_filters(alice, net):
    s = subnet(alice, net, "10.0.0.0/24")
    t = subnet(alice, net, "10.0.1.0/24")
    a = port(alice, net, fixed_ips=[{"ip_address": "10.0.0.5"}])
    b = port(alice, net, fixed_ips=[{"ip_address": "10.0.1.5"}, {"ip_address": "10.0.0.15"}])

    def ids(query):
        resp = alice.get("/v2.0/ports?" + query)
        assert resp.status == 200, resp
        return sorted(p["id"] for p in resp.json["ports"])

    assert ids("fixed_ips=ip_address%3D10.0.0.5") == [a["id"]]
    assert ids("fixed_ips=ip_address=10.0.1.5") == [b["id"]]
    assert ids(f"fixed_ips=subnet_id%3D{s['id']}") == sorted([a["id"], b["id"]])
    assert ids(f"fixed_ips=subnet_id%3D{t['id']}") == [b["id"]]
    assert ids(f"fixed_ips=subnet_id%3D{t['id']}&fixed_ips=ip_address%3D10.0.0.5") == []
    assert ids("fixed_ips=ip_address%3D10.0.0.5&fixed_ips=ip_address%3D10.0.1.5") == sorted(
        [a["id"], b["id"]]
    )
    assert ids("fixed_ips=ip_address_substr%3D0.0.1") == [b["id"]]
    assert ids("fixed_ips=ip_address%3D10.0.0.99") == []
    for bad in ("fixed_ips=10.0.0.5", "fixed_ips=mac%3Dx", "sort_key=fixed_ips"):
        assert alice.get("/v2.0/ports?" + bad).status == 400, bad


def test_concurrent_port_creates_get_distinct_addresses(server, alice, net):
    subnet(alice, net, "10.0.0.0/24")
    subnet(alice, net, "2001:db8::/64", 6, ipv6_address_mode="dhcpv6-stateful")

    def create(_):
        client = ApiClient(server.url, alice.token)
        resp = client.post("/v2.0/ports", {"port": {"network_id": net["id"]}})
        assert resp.status == 201, resp
        return resp.json["port"]

    with ThreadPoolExecutor(16) as pool:
        ports = list(pool.map(create, range(64)))
    v4 = [addresses(p)[0] for p in ports]
    v6 = [addresses(p)[1] for p in ports]
    assert len(set(v4)) == len(set(v6)) == 64
    assert sorted(v4, key=lambda ip: int(ip.rsplit(".", 1)[1])) == [
        f"10.0.0.{i}" for i in range(2, 66)
    ]
