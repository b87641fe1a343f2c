"""Network IP availability (Neutron's ``network-ip-availability``) over HTTP and through the
``openstack`` CLI: totals from the allocation pools, used addresses of every kind of port,
Neutron's filters, fields, sorting and paging, its admin-only policy, and 501 unloaded.

The API server is shared by the whole suite, so lists are narrowed to the test's own project
or networks."""

from __future__ import annotations

import uuid

import pytest

from tests.helpers import ApiClient, start_server

UNKNOWN = "3f0e0c9e-2a43-4a5e-8a61-5b1b0b3e6d35"
PATH = "/v2.0/network-ip-availabilities"
V4_POOLS = [
    {"start": "10.50.0.10", "end": "10.50.0.19"},
    {"start": "10.50.0.100", "end": "10.50.0.104"},
]
V4_TOTAL = 10 + 5
V6_TOTAL = 2**64 - 2  # a /64's default pool: all but the subnet-router anycast and gateway


def create(client, collection: str, **attrs) -> dict:
    member = collection[:-1]
    resp = client.post(f"/v2.0/{collection}", {member: attrs})
    assert resp.status == 201, resp
    return resp.json[member]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def shown(client, network_id: str, query: str = "") -> dict:
    resp = client.get(f"{PATH}/{network_id}{query}")
    assert resp.status == 200, resp
    return resp.json["network_ip_availability"]


def listed(client, query: str) -> list[dict]:
    resp = client.get(f"{PATH}?{query}")
    assert resp.status == 200, resp
    return resp.json["network_ip_availabilities"]


def used(availability: dict) -> dict[str, int]:
    """subnet id -> used_ips, and the network's own under "network"."""
    counts = {s["subnet_id"]: s["used_ips"] for s in availability["subnet_ip_availability"]}
    return {**counts, "network": availability["used_ips"]}


@pytest.fixture
def dual_stack(alice):
    """Alice's network with an IPv4 subnet of two pools and an IPv6 /64 of the default one."""
    net = create(alice, "networks", name=unique("avail"))
    v4 = create(
        alice,
        "subnets",
        network_id=net["id"],
        ip_version=4,
        cidr="10.50.0.0/24",
        name="v4",
        allocation_pools=V4_POOLS,
    )
    v6 = create(
        alice, "subnets", network_id=net["id"], ip_version=6, cidr="2001:db8:50::/64", name="v6"
    )
    return net, v4, v6


def test_extension_and_resource_listed(admin):
    ext = admin.get("/v2.0/extensions/network-ip-availability")
    assert ext.status == 200, ext
    assert ext.json["extension"]["name"] == "Network IP Availability"
    resources = {r["collection"] for r in admin.get("/v2.0/").json["resources"]}
    assert "network_ip_availabilities" in resources


def test_a_fresh_network_counts_its_pools(admin, alice, dual_stack):
    net, v4, v6 = dual_stack
    assert shown(admin, net["id"]) == {
        "network_id": net["id"],
        "network_name": net["name"],
        "project_id": alice.project,
        "tenant_id": alice.project,
        "total_ips": V4_TOTAL + V6_TOTAL,
        "used_ips": 0,
        "subnet_ip_availability": [
            {
                "subnet_id": v4["id"],
                "subnet_name": "v4",
                "cidr": "10.50.0.0/24",
                "ip_version": 4,
                "total_ips": V4_TOTAL,
                "used_ips": 0,
            },
            {
                "subnet_id": v6["id"],
                "subnet_name": "v6",
                "cidr": "2001:db8:50::/64",
                "ip_version": 6,
                "total_ips": V6_TOTAL,
                "used_ips": 0,
            },
        ],
    }


def test_every_allocated_address_is_used(admin, alice, dual_stack):
    """VM ports with one address per subnet and with several, a router interface (the
    gateway, outside the pools), a DHCP port; deleting ports gives their addresses back."""
    net, v4, v6 = dual_stack
    vm = create(alice, "ports", network_id=net["id"], device_owner="compute:nova")
    assert used(shown(admin, net["id"])) == {v4["id"]: 1, v6["id"]: 1, "network": 2}

    several = create(
        alice,
        "ports",
        network_id=net["id"],
        fixed_ips=[
            {"subnet_id": v4["id"]},
            {"subnet_id": v4["id"], "ip_address": "10.50.0.102"},
            {"subnet_id": v6["id"]},
        ],
    )
    assert len(several["fixed_ips"]) == 3
    assert used(shown(admin, net["id"])) == {v4["id"]: 3, v6["id"]: 2, "network": 5}

    router = create(alice, "routers", name=unique("r"))
    added = alice.put(f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": v4["id"]})
    assert added.status == 200, added
    dhcp = create(alice, "ports", network_id=net["id"], device_owner="network:dhcp")
    availability = shown(admin, net["id"])
    assert used(availability) == {v4["id"]: 5, v6["id"]: 3, "network": 8}
    assert availability["total_ips"] == V4_TOTAL + V6_TOTAL  # the gateway is no pool address

    # what the ports hold, counted by the ports API
    ports = admin.get(f"/v2.0/ports?network_id={net['id']}").json["ports"]
    assert sum(len(p["fixed_ips"]) for p in ports) == 8

    for port in (vm, dhcp):
        assert alice.delete(f"/v2.0/ports/{port['id']}").status == 204
    assert used(shown(admin, net["id"])) == {v4["id"]: 3, v6["id"]: 1, "network": 4}
    removed = alice.put(
        f"/v2.0/routers/{router['id']}/remove_router_interface", {"subnet_id": v4["id"]}
    )
    assert removed.status == 200, removed
    assert alice.delete(f"/v2.0/ports/{several['id']}").status == 204
    assert used(shown(admin, net["id"])) == {v4["id"]: 0, v6["id"]: 0, "network": 0}


def test_slaac_addresses_and_a_subnet_without_pools(admin, alice):
    """A SLAAC subnet's EUI-64 addresses are allocations too; a subnet with no pool counts
    its whole CIDR, network and broadcast addresses included (Neutron's rule)."""
    net = create(alice, "networks", name=unique("odd"))
    bare = create(
        alice,
        "subnets",
        network_id=net["id"],
        ip_version=4,
        cidr="10.51.0.0/28",
        allocation_pools=[],
    )
    slaac = create(
        alice,
        "subnets",
        network_id=net["id"],
        ip_version=6,
        cidr="2001:db8:51::/64",
        ipv6_ra_mode="slaac",
        ipv6_address_mode="slaac",
    )
    create(
        alice,
        "ports",
        network_id=net["id"],
        fixed_ips=[{"subnet_id": bare["id"], "ip_address": "10.51.0.5"}],
    )
    availability = shown(admin, net["id"])
    totals = {s["subnet_id"]: s["total_ips"] for s in availability["subnet_ip_availability"]}
    assert totals == {bare["id"]: 16, slaac["id"]: V6_TOTAL}
    assert used(availability) == {bare["id"]: 1, slaac["id"]: 1, "network": 2}


def test_filters(admin, alice, dual_stack):
    """network_id, network_name, project_id/tenant_id, and ip_version: the last keeps the
    subnets of that version and the networks that have one, and is never shown."""
    net, v4, v6 = dual_stack
    only_v4 = create(alice, "networks", name=unique("v4-only"))
    create(alice, "subnets", network_id=only_v4["id"], ip_version=4, cidr="10.52.0.0/24")
    empty = create(alice, "networks", name=unique("empty"))
    mine = f"project_id={alice.project}"

    everything = listed(admin, mine)
    assert {n["network_id"] for n in everything} == {net["id"], only_v4["id"], empty["id"]}
    assert listed(admin, f"tenant_id={alice.project}") == everything
    bare = next(n for n in everything if n["network_id"] == empty["id"])
    assert (bare["total_ips"], bare["used_ips"], bare["subnet_ip_availability"]) == (0, 0, [])

    assert [n["network_id"] for n in listed(admin, f"network_id={net['id']}")] == [net["id"]]
    by_name = listed(admin, f"network_name={only_v4['name']}")
    assert [n["network_id"] for n in by_name] == [only_v4["id"]]
    both = listed(admin, f"network_id={net['id']}&network_id={empty['id']}")
    assert {n["network_id"] for n in both} == {net["id"], empty["id"]}

    six = listed(admin, f"{mine}&ip_version=6")
    assert [n["network_id"] for n in six] == [net["id"]]
    assert [s["subnet_id"] for s in six[0]["subnet_ip_availability"]] == [v6["id"]]
    assert six[0]["total_ips"] == V6_TOTAL
    assert "ip_version" not in six[0]
    four = listed(admin, f"{mine}&ip_version=4")
    assert {n["network_id"] for n in four} == {net["id"], only_v4["id"]}
    assert next(n for n in four if n["network_id"] == net["id"])["total_ips"] == V4_TOTAL
    assert len(listed(admin, f"{mine}&ip_version=4&ip_version=6")) == 2

    for query in ("total_ips=0", "subnet_id=" + v4["id"], "name=x"):
        resp = admin.get(f"{PATH}?{query}")
        assert (resp.status, resp.error_type) == (400, "HTTPBadRequest"), (query, resp)


def test_fields_sorting_and_pages(admin, alice, dual_stack):
    net, _, _ = dual_stack
    others = [create(alice, "networks", name=unique("page"))["id"] for _ in range(2)]
    mine = f"project_id={alice.project}"

    assert listed(admin, f"{mine}&fields=network_id&fields=used_ips&network_id={net['id']}") == [
        {"network_id": net["id"], "used_ips": 0}
    ]
    assert shown(admin, net["id"], "?fields=network_name") == {"network_name": net["name"]}

    ids = sorted([net["id"], *others])
    ascending = listed(admin, f"{mine}&sort_key=network_id&sort_dir=asc")
    assert [n["network_id"] for n in ascending] == ids
    descending = listed(admin, f"{mine}&sort_key=network_id&sort_dir=desc")
    assert [n["network_id"] for n in descending] == ids[::-1]
    resp = admin.get(f"{PATH}?sort_key=network_name&sort_dir=asc")
    assert resp.status == 400, resp  # network_id is the one sort key, as in neutron-lib

    seen, path = [], f"{PATH}?{mine}&sort_key=network_id&sort_dir=asc&limit=2"
    while path:
        page = admin.get(path.removeprefix(admin.url))
        assert page.status == 200, page
        seen += [n["network_id"] for n in page.json["network_ip_availabilities"]]
        links = page.json.get("network_ip_availabilities_links", [])
        path = next((link["href"] for link in links if link["rel"] == "next"), None)
    assert seen == ids


def test_admin_only_as_in_neutron(admin, alice, bob, dual_stack):
    """The default rule is admin (or service role) only: the network's own project lists
    nothing and gets Neutron's generic 404 on show; an unknown network is NetworkNotFound."""
    net, _, _ = dual_stack
    for client in (alice, bob):
        assert listed(client, "") == []
        resp = client.get(f"{PATH}/{net['id']}")
        assert resp.status == 404, resp
        assert resp.json == {
            "NeutronError": {
                "type": "HTTPNotFound",
                "message": "The resource could not be found.",
                "detail": "",
            }
        }
    for client, network_id in ((admin, UNKNOWN), (alice, UNKNOWN), (admin, "not-a-uuid")):
        resp = client.get(f"{PATH}/{network_id}")
        assert resp.status == 404, resp
        assert resp.json == {
            "NeutronError": {
                "type": "NetworkNotFound",
                "message": f"Network {network_id} could not be found.",
                "detail": "",
            }
        }


def test_an_operator_rule_decides_network_by_network(tmp_path):
    """Every network is computed and the policy picks: with ``get_network_ip_availability``
    made ``rule:admin_or_owner`` a project sees its own networks' numbers (and the plugin is
    loaded by default: no --service-plugins)."""
    policy = tmp_path / "policy.yaml"
    policy.write_text('"get_network_ip_availability": "rule:admin_or_owner"\n')
    config = tmp_path / "naas-sdn.conf"
    config.write_text(f"[oslo_policy]\npolicy_file = {policy}\n")
    server = start_server(tmp_path, extra_args=["--config", str(config)])
    try:
        alice, bob = (ApiClient(server.url, server.token(p)) for p in ("alice", "bob"))
        mine, theirs = (create(c, "networks", name=unique("own")) for c in (alice, bob))
        create(alice, "subnets", network_id=mine["id"], ip_version=4, cidr="10.53.0.0/29")
        assert [(n["network_id"], n["total_ips"]) for n in listed(alice, "")] == [(mine["id"], 5)]
        assert shown(alice, mine["id"])["project_id"] == "alice"
        resp = alice.get(f"{PATH}/{theirs['id']}")
        assert (resp.status, resp.error_type) == (404, "HTTPNotFound"), resp
    finally:
        assert server.stop() == 0, server.log_tail()


def test_read_only(admin, dual_stack):
    net, _, _ = dual_stack
    for method, path in (
        ("POST", PATH),
        ("PUT", f"{PATH}/{net['id']}"),
        ("DELETE", f"{PATH}/{net['id']}"),
    ):
        resp = admin.request(method, path, body={} if method != "DELETE" else None)
        assert (resp.status, resp.error_type) == (405, "HTTPMethodNotAllowed"), (method, resp)


def test_openstack_cli(openstack_cli, admin, alice, dual_stack):
    net, v4, v6 = dual_stack
    create(alice, "ports", network_id=net["id"])

    rows = {r["Network ID"]: r for r in openstack_cli(admin, "ip", "availability", "list")}
    assert (rows[net["id"]]["Total IPs"], rows[net["id"]]["Used IPs"]) == (V4_TOTAL, 1)
    rows = {
        r["Network ID"]: r
        for r in openstack_cli(admin, "ip", "availability", "list", "--ip-version", "6")
    }
    assert (rows[net["id"]]["Total IPs"], rows[net["id"]]["Used IPs"]) == (V6_TOTAL, 1)

    detail = openstack_cli(admin, "ip", "availability", "show", net["name"])
    assert detail["network_id"] == net["id"]
    assert detail["network_name"] == net["name"]
    assert detail["project_id"] == alice.project
    assert (detail["total_ips"], detail["used_ips"]) == (V4_TOTAL + V6_TOTAL, 2)
    assert {s["subnet_id"]: s["used_ips"] for s in detail["subnet_ip_availability"]} == {
        v4["id"]: 1,
        v6["id"]: 1,
    }

    refused = openstack_cli(alice, "ip", "availability", "show", net["id"], check=False)
    assert refused.returncode != 0
    assert openstack_cli(alice, "ip", "availability", "list") == []


def test_not_loaded_answers_501(bare_alice):
    aliases = {e["alias"] for e in bare_alice.get("/v2.0/extensions").json["extensions"]}
    assert "network-ip-availability" not in aliases
    for path in (PATH, f"{PATH}/{UNKNOWN}"):
        resp = bare_alice.get(path)
        assert (resp.status, resp.error_type) == (501, "HTTPNotImplemented"), resp
        assert "'network-ip-availability' is not loaded" in resp.json["NeutronError"]["message"]
