"""Security groups, their rules, port security and allowed address pairs over HTTP."""

from __future__ import annotations

import pytest

GROUP_KEYS = {
    "id",
    "name",
    "description",
    "project_id",
    "tenant_id",
    "revision_number",
    "created_at",
    "updated_at",
    "tags",
    "security_group_rules",
    "stateful",
    "shared",
}
RULE_KEYS = {
    "id",
    "security_group_id",
    "direction",
    "ethertype",
    "protocol",
    "port_range_min",
    "port_range_max",
    "remote_ip_prefix",
    "normalized_cidr",
    "remote_group_id",
    "remote_address_group_id",
    "description",
    "project_id",
    "tenant_id",
    "revision_number",
    "created_at",
    "updated_at",
}
UNKNOWN = "3f0e0c9e-2a43-4a5e-8a61-5b1b0b3e6d35"


@pytest.fixture
def net(alice):
    net = alice.post("/v2.0/networks", {"network": {"name": "sg-net"}}).json["network"]
    alice.post(
        "/v2.0/subnets",
        {"subnet": {"network_id": net["id"], "ip_version": 4, "cidr": "10.0.0.0/24"}},
    )
    return net


def group(client, **attrs):
    resp = client.post("/v2.0/security-groups", {"security_group": attrs})
    assert resp.status == 201, resp
    return resp.json["security_group"]


def add_rule(client, **attrs):
    return client.post("/v2.0/security-group-rules", {"security_group_rule": attrs})


def test_default_group_on_first_list(alice):
    groups = alice.get("/v2.0/security-groups").json["security_groups"]
    assert [g["name"] for g in groups] == ["default"]
    default = groups[0]
    assert set(default) == GROUP_KEYS and default["stateful"] is True
    rules = default["security_group_rules"]
    assert all(set(r) == RULE_KEYS for r in rules)
    assert sorted((r["direction"], r["ethertype"], r["remote_group_id"]) for r in rules) == [
        ("egress", "IPv4", None),
        ("egress", "IPv6", None),
        ("ingress", "IPv4", default["id"]),
        ("ingress", "IPv6", default["id"]),
    ]
    assert alice.get("/v2.0/security-groups").json["security_groups"] == groups
    resp = alice.delete(f"/v2.0/security-groups/{default['id']}")
    assert resp.status == 409 and resp.error_type == "SecurityGroupCannotRemoveDefault"
    resp = alice.put(f"/v2.0/security-groups/{default['id']}", {"security_group": {"name": "x"}})
    assert resp.status == 409 and resp.error_type == "SecurityGroupCannotUpdateDefault"
    resp = alice.post("/v2.0/security-groups", {"security_group": {"name": "default"}})
    assert resp.status == 409 and resp.error_type == "SecurityGroupDefaultAlreadyExists"


def test_group_and_rule_lifecycle(alice, bob):
    web = group(alice, name="web", description="d", tags=["t"])
    assert [
        (r["direction"], r["ethertype"], r["protocol"]) for r in web["security_group_rules"]
    ] == [("egress", "IPv4", None), ("egress", "IPv6", None)]
    resp = add_rule(
        alice,
        security_group_id=web["id"],
        direction="ingress",
        protocol="tcp",
        port_range_min=22,
        port_range_max=22,
        remote_ip_prefix="192.0.2.7/24",
    )
    assert resp.status == 201, resp
    ssh = resp.json["security_group_rule"]
    assert (ssh["protocol"], ssh["ethertype"], ssh["remote_ip_prefix"], ssh["normalized_cidr"]) == (
        "tcp",
        "IPv4",
        "192.0.2.0/24",
        "192.0.2.0/24",
    )
    assert ssh["project_id"] == alice.project
    shown = alice.get(f"/v2.0/security-groups/{web['id']}").json["security_group"]
    assert ssh in shown["security_group_rules"] and shown["revision_number"] == 2
    again = add_rule(
        alice,
        security_group_id=web["id"],
        direction="ingress",
        protocol="6",
        port_range_min=22,
        port_range_max=22,
        remote_ip_prefix="192.0.2.0/24",
    )
    assert again.status == 409 and again.error_type == "SecurityGroupRuleExists"
    assert ssh["id"] in again.json["NeutronError"]["message"]
    listed = alice.get(
        f"/v2.0/security-group-rules?security_group_id={web['id']}&direction=ingress"
    ).json["security_group_rules"]
    assert [r["id"] for r in listed] == [ssh["id"]]
    assert alice.get("/v2.0/security-group-rules?port_range_min=22").json[
        "security_group_rules"
    ] == [ssh]
    resp = alice.put(
        f"/v2.0/security-group-rules/{ssh['id']}", {"security_group_rule": {"protocol": "udp"}}
    )
    assert (
        resp.status == 400
        and "read-only attribute protocol" in resp.json["NeutronError"]["message"]
    )
    for resp in (
        bob.get(f"/v2.0/security-groups/{web['id']}"),
        bob.delete(f"/v2.0/security-groups/{web['id']}"),
        add_rule(bob, security_group_id=web["id"], direction="ingress"),
    ):
        assert resp.status == 404 and resp.error_type == "SecurityGroupNotFound", resp
    resp = bob.get(f"/v2.0/security-group-rules/{ssh['id']}")
    assert resp.status == 404 and resp.error_type == "SecurityGroupRuleNotFound"
    renamed = alice.put(
        f"/v2.0/security-groups/{web['id']}", {"security_group": {"name": "web2"}}
    ).json["security_group"]
    assert renamed["name"] == "web2"
    assert alice.put(f"/v2.0/security-groups/{web['id']}/tags/u").status == 201
    assert alice.get("/v2.0/security-groups?tags=t,u").json["security_groups"][0]["id"] == web["id"]
    assert alice.delete(f"/v2.0/security-group-rules/{ssh['id']}").status == 204
    assert alice.delete(f"/v2.0/security-groups/{web['id']}").status == 204
    assert alice.get(f"/v2.0/security-group-rules/{ssh['id']}").status == 404


@pytest.mark.parametrize(
    "attrs,status,error",
    [
        ({"direction": "sideways"}, 400, "HTTPBadRequest"),
        ({}, 400, "HTTPBadRequest"),  # direction is required
        ({"direction": "ingress", "protocol": "nope"}, 400, "SecurityGroupRuleInvalidProtocol"),
        ({"direction": "ingress", "ethertype": "IPv7"}, 400, "SecurityGroupRuleInvalidEtherType"),
        (
            {"direction": "ingress", "protocol": "tcp", "port_range_min": 90, "port_range_max": 80},
            400,
            "SecurityGroupInvalidPortRange",
        ),
        (
            {
                "direction": "ingress",
                "protocol": "udp",
                "port_range_min": 70000,
                "port_range_max": 70000,
            },
            400,
            "SecurityGroupInvalidPortValue",
        ),
        (
            {"direction": "ingress", "protocol": "icmp", "port_range_max": 3},
            400,
            "SecurityGroupMissingIcmpType",
        ),
        (
            {"direction": "ingress", "protocol": "icmp", "port_range_min": 300},
            400,
            "SecurityGroupInvalidIcmpValue",
        ),
        (
            {"direction": "ingress", "port_range_min": 1, "port_range_max": 2},
            400,
            "SecurityGroupProtocolRequiredWithPorts",
        ),
        (
            {"direction": "ingress", "remote_ip_prefix": "::/0"},
            400,
            "SecurityGroupRuleParameterConflict",
        ),
        ({"direction": "ingress", "remote_ip_prefix": "banana"}, 400, "InvalidCIDR"),
        (
            {"direction": "ingress", "remote_ip_prefix": "10.0.0.0/8", "remote_group_id": "SELF"},
            400,
            "SecurityGroupRemoteGroupAndRemoteIpPrefix",
        ),
        ({"direction": "ingress", "remote_group_id": UNKNOWN}, 404, "SecurityGroupNotFound"),
        ({"direction": "ingress", "security_group_id": UNKNOWN}, 404, "SecurityGroupNotFound"),
        ({"direction": "ingress", "remote_address_group_id": UNKNOWN}, 400, "HTTPBadRequest"),
    ],
)
def test_bad_rules(alice, attrs, status, error):
    web = group(alice, name="web")
    body = {"security_group_id": web["id"], **attrs}
    body = {k: (web["id"] if v == "SELF" else v) for k, v in body.items()}
    resp = add_rule(alice, **body)
    assert (resp.status, resp.error_type) == (status, error), resp
    shown = alice.get(f"/v2.0/security-groups/{web['id']}").json["security_group"]
    assert shown == web


MIXED = (
    "Error Cannot apply both stateful and stateless security groups on the same port at the "
    "same time while attempting the operation."
)


def test_stateless_groups(alice, bob, net):
    """stateful-security-group as Neutron has it: a stateless group gets the same egress
    rules; a port holds stateful or stateless groups, not both; statefulness changes only
    while no port uses the group; each refusal writes nothing; other projects see no group."""
    sl = group(alice, name="sl", stateful=False)
    assert sl["stateful"] is False and set(sl) == GROUP_KEYS
    assert sorted((r["direction"], r["ethertype"]) for r in sl["security_group_rules"]) == [
        ("egress", "IPv4"),
        ("egress", "IPv6"),
    ]
    sf = group(alice, name="sf", stateful="true")
    assert sf["stateful"] is True
    path = f"/v2.0/security-groups/{sl['id']}"
    assert alice.get(path).json["security_group"] == sl
    listed = alice.get("/v2.0/security-groups?stateful=false").json["security_groups"]
    assert [g["id"] for g in listed] == [sl["id"]]
    resp = alice.post("/v2.0/security-groups", {"security_group": {"stateful": "maybe"}})
    assert resp.status == 400 and resp.error_type == "HTTPBadRequest"

    both = {"network_id": net["id"], "security_groups": [sl["id"], sf["id"]]}
    resp = alice.post("/v2.0/ports", {"port": both})
    assert (resp.status, resp.error_type) == (409, "SecurityGroupConflict"), resp
    assert resp.json["NeutronError"]["message"] == MIXED
    assert alice.get(f"/v2.0/ports?network_id={net['id']}").json["ports"] == []
    port = alice.post(
        "/v2.0/ports", {"port": {"network_id": net["id"], "security_groups": [sl["id"]]}}
    ).json["port"]
    resp = alice.put(
        f"/v2.0/ports/{port['id']}", {"port": {"security_groups": both["security_groups"]}}
    )
    assert (resp.status, resp.error_type) == (409, "SecurityGroupConflict"), resp
    assert alice.get(f"/v2.0/ports/{port['id']}").json["port"] == port

    resp = alice.put(path, {"security_group": {"stateful": True, "name": "renamed"}})
    assert (resp.status, resp.error_type) == (409, "SecurityGroupInUse"), resp
    assert resp.json["NeutronError"]["message"] == f"Security Group {sl['id']} in use."
    assert alice.get(path).json["security_group"] == sl
    same = alice.put(path, {"security_group": {"stateful": False, "description": "d"}})
    assert same.status == 200 and same.json["security_group"]["stateful"] is False
    alice.put(f"/v2.0/ports/{port['id']}", {"port": {"security_groups": [sf["id"]]}})
    flipped = alice.put(path, {"security_group": {"stateful": True}})
    assert flipped.status == 200 and flipped.json["security_group"]["stateful"] is True

    for resp in (
        bob.get(path),
        bob.put(path, {"security_group": {"stateful": False}}),
        bob.delete(path),
    ):
        assert (resp.status, resp.error_type) == (404, "SecurityGroupNotFound"), resp
    assert alice.get(path).json["security_group"]["stateful"] is True
    aliases = {e["alias"] for e in alice.get("/v2.0/extensions").json["extensions"]}
    assert "stateful-security-group" in aliases


def test_openstack_cli_stateless_groups(openstack_cli, alice, net):
    """``security group create --stateless``, ``set --stateful / --stateless``, and the
    refusals the CLI reports."""
    made = openstack_cli(alice, "security", "group", "create", "--stateless", "sl")
    assert made["stateful"] is False
    other = openstack_cli(alice, "security", "group", "create", "--stateful", "sf")
    assert other["stateful"] is True
    assert openstack_cli(alice, "security", "group", "show", "sl")["stateful"] is False
    refused = openstack_cli(
        alice,
        "port",
        "create",
        "--network",
        net["id"],
        "--security-group",
        "sl",
        "--security-group",
        "sf",
        "mixed",
        parse=False,
        check=False,
    )
    assert refused.returncode != 0 and "Cannot apply both stateful and stateless" in (
        refused.stderr
    )
    port = openstack_cli(
        alice, "port", "create", "--network", net["id"], "--security-group", "sl", "vm"
    )
    refused = openstack_cli(
        alice, "security", "group", "set", "--stateful", "sl", parse=False, check=False
    )
    assert refused.returncode != 0 and "in use" in refused.stderr
    openstack_cli(alice, "port", "delete", port["id"], parse=False)
    openstack_cli(alice, "security", "group", "set", "--stateful", "sl", parse=False)
    assert openstack_cli(alice, "security", "group", "show", "sl")["stateful"] is True
    openstack_cli(alice, "security", "group", "set", "--stateless", "sl", parse=False)
    assert (
        alice.get(f"/v2.0/security-groups/{made['id']}").json["security_group"]["stateful"] is False
    )


def test_port_groups_and_in_use(alice, net):
    web = group(alice, name="web")
    port = alice.post(
        "/v2.0/ports", {"port": {"network_id": net["id"], "security_groups": [web["id"]]}}
    ).json["port"]
    assert port["security_groups"] == [web["id"]]
    resp = alice.delete(f"/v2.0/security-groups/{web['id']}")
    assert resp.status == 409 and resp.error_type == "SecurityGroupInUse"
    resp = alice.put(f"/v2.0/ports/{port['id']}", {"port": {"security_groups": [UNKNOWN]}})
    assert resp.status == 404 and resp.error_type == "SecurityGroupNotFound"
    cleared = alice.put(f"/v2.0/ports/{port['id']}", {"port": {"security_groups": None}})
    assert cleared.json["port"]["security_groups"] == []
    assert alice.delete(f"/v2.0/security-groups/{web['id']}").status == 204


def test_port_security_rules(alice, net):
    port = alice.post("/v2.0/ports", {"port": {"network_id": net["id"]}}).json["port"]
    path = f"/v2.0/ports/{port['id']}"
    resp = alice.put(path, {"port": {"port_security_enabled": False}})
    assert resp.status == 409 and resp.error_type == "PortSecurityPortHasSecurityGroup"
    off = alice.put(path, {"port": {"port_security_enabled": False, "security_groups": []}})
    assert off.status == 200 and off.json["port"]["port_security_enabled"] is False
    resp = alice.put(path, {"port": {"allowed_address_pairs": [{"ip_address": "10.0.0.99"}]}})
    assert resp.status == 409 and resp.error_type == "AddressPairAndPortSecurityRequired"
    default = alice.get("/v2.0/security-groups?name=default").json["security_groups"][0]
    resp = alice.post(
        "/v2.0/ports",
        {
            "port": {
                "network_id": net["id"],
                "port_security_enabled": False,
                "security_groups": [default["id"]],
            }
        },
    )
    assert resp.status == 400 and resp.error_type == "PortSecurityAndIPRequiredForSecurityGroups"
    resp = alice.put(f"/v2.0/networks/{net['id']}", {"network": {"port_security_enabled": False}})
    assert resp.json["network"]["port_security_enabled"] is False
    plain = alice.post("/v2.0/ports", {"port": {"network_id": net["id"]}}).json["port"]
    assert (plain["port_security_enabled"], plain["security_groups"]) == (False, [])
    found = alice.get(f"/v2.0/ports?port_security_enabled=false&network_id={net['id']}")
    assert {p["id"] for p in found.json["ports"]} == {port["id"], plain["id"]}


def test_allowed_address_pairs(alice, net):
    port = alice.post(
        "/v2.0/ports",
        {
            "port": {
                "network_id": net["id"],
                "allowed_address_pairs": [
                    {"ip_address": "10.0.0.200"},
                    {"ip_address": "172.16.0.0/12", "mac_address": "02:00:00:00:00:AA"},
                ],
            }
        },
    ).json["port"]
    assert port["allowed_address_pairs"] == [
        {"ip_address": "10.0.0.200", "mac_address": port["mac_address"]},
        {"ip_address": "172.16.0.0/12", "mac_address": "02:00:00:00:00:aa"},
    ]
    path = f"/v2.0/ports/{port['id']}"
    for pairs, error in (
        ([{"ip_address": f"10.1.0.{i}"} for i in range(11)], "AllowedAddressPairExhausted"),
        ([{"ip_address": "10.0.0.7"}] * 2, "DuplicateAddressPairInRequest"),
        ([{"mac_address": "02:00:00:00:00:01"}], "AllowedAddressPairsMissingIP"),
        ([{"ip_address": "10.0.0.7/24"}], "HTTPBadRequest"),
        ("10.0.0.7", "HTTPBadRequest"),
    ):
        resp = alice.put(path, {"port": {"allowed_address_pairs": pairs}})
        assert (resp.status, resp.error_type) == (400, error), (pairs, resp)
    assert alice.get(path).json["port"] == port
    cleared = alice.put(path, {"port": {"allowed_address_pairs": []}}).json["port"]
    assert cleared["allowed_address_pairs"] == []


def test_router_interface_has_no_groups(alice, net):
    router = alice.post("/v2.0/routers", {"router": {"name": "r"}}).json["router"]
    subnet_id = alice.get(f"/v2.0/networks/{net['id']}").json["network"]["subnets"][0]
    info = alice.put(
        f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": subnet_id}
    ).json
    port = alice.get(f"/v2.0/ports/{info['port_id']}").json["port"]
    assert port["security_groups"] == [] and port["device_owner"] == "network:router_interface"


def test_group_pagination_and_sorting(alice):
    made = [group(alice, name=f"g{i}") for i in range(3)]
    page = alice.get("/v2.0/security-groups?limit=2&sort_key=name&sort_dir=desc").json
    assert [g["name"] for g in page["security_groups"]] == ["g2", "g1"]
    assert page["security_groups_links"][0]["rel"] == "next"
    fields = alice.get("/v2.0/security-groups?fields=id&fields=name&name=g0").json
    assert fields["security_groups"] == [{"id": made[0]["id"], "name": "g0"}]
    bad = alice.get("/v2.0/security-groups?security_group_rules=x")
    assert bad.status == 400


def test_ports_filtered_by_security_group(alice, bob, net):
    """port-security-groups-filtering: ?security_groups=X lists the ports in X (any of
    several given); not sortable by them; another project's group finds none of its ports."""
    web = alice.post("/v2.0/security-groups", {"security_group": {"name": "web"}}).json[
        "security_group"
    ]
    db = alice.post("/v2.0/security-groups", {"security_group": {"name": "db"}}).json[
        "security_group"
    ]
    ports = {
        name: alice.post(
            "/v2.0/ports", {"port": {"network_id": net["id"], "security_groups": groups}}
        ).json["port"]["id"]
        for name, groups in (("web", [web["id"]]), ("both", [web["id"], db["id"]]), ("none", []))
    }

    def listed(query):
        resp = alice.get(f"/v2.0/ports?{query}")
        assert resp.status == 200, resp
        return {p["id"] for p in resp.json["ports"]}

    assert listed(f"security_groups={web['id']}") == {ports["web"], ports["both"]}
    assert listed(f"security_groups={db['id']}") == {ports["both"]}
    assert listed(f"security_groups={db['id']}&security_groups={web['id']}") == {
        ports["web"],
        ports["both"],
    }
    assert alice.get("/v2.0/ports?sort_key=security_groups").status == 400
    assert bob.get(f"/v2.0/ports?security_groups={web['id']}").json["ports"] == []
    aliases = {e["alias"] for e in alice.get("/v2.0/extensions").json["extensions"]}
    assert "port-security-groups-filtering" in aliases
