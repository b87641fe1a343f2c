"""Quotas over HTTP (Neutron's quotas and quota_details extensions) and with the real CLI."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.helpers import ApiClient

NEUTRON_DEFAULTS = {
    "network": 100,
    "subnet": 100,
    "port": 500,
    "router": 10,
    "floatingip": 50,
    "security_group": 10,
    "security_group_rule": 100,
    "rbac_policy": 10,
}
OURS = {  # Neutron has no quota of subnet pools and address scopes; every resource here has one
    "subnetpool": 10,
    "address_scope": 10,
    "qos_policy": 10,
    "protocol_block": 50,
    "l2_remote_gateway": 10,
    "l2_remote_gateway_connection": 10,
}
DEFAULTS = {**NEUTRON_DEFAULTS, **OURS}


def quota_path(client) -> str:
    return f"/v2.0/quotas/{client.project}"


def set_quota(admin, client, **limits):
    resp = admin.put(quota_path(client), {"quota": {**limits, "force": True}})
    assert resp.status == 200, resp
    return resp.json["quota"]


def test_a_tenant_reads_its_own_quota_and_the_defaults(alice):
    assert alice.get(quota_path(alice)).json == {"quota": DEFAULTS}
    assert alice.get(quota_path(alice) + "/default").json == {"quota": DEFAULTS}
    assert alice.get("/v2.0/quotas/project").json == {"project": {"project_id": alice.project}}
    aliases = {e["alias"] for e in alice.get("/v2.0/extensions").json["extensions"]}
    assert {"quotas", "quota_details", "quota-check-limit-default"} <= aliases


def test_admin_sets_lists_and_resets(admin, alice):
    shown = set_quota(admin, alice, network=3, port=-1)
    assert shown == {**DEFAULTS, "network": 3, "port": -1}
    assert alice.get(quota_path(alice)).json["quota"] == shown
    listed = [
        q for q in admin.get("/v2.0/quotas").json["quotas"] if q["project_id"] == alice.project
    ]
    assert listed == [{**shown, "project_id": alice.project, "tenant_id": alice.project}]
    assert admin.delete(quota_path(alice)).status == 204
    assert alice.get(quota_path(alice)).json["quota"] == DEFAULTS
    assert alice.project not in {q["project_id"] for q in admin.get("/v2.0/quotas").json["quotas"]}
    again = admin.delete(quota_path(alice))
    assert again.status == 404 and again.error_type == "TenantQuotaNotFound"


def test_only_admins_set_list_or_read_other_projects(alice, bob):
    cases = [
        (alice.put(quota_path(alice), {"quota": {"network": 1000}}), "PolicyNotAuthorized"),
        (alice.delete(quota_path(alice)), "PolicyNotAuthorized"),
        (alice.get("/v2.0/quotas"), "PolicyNotAuthorized"),
        (alice.get(quota_path(bob)), "PolicyNotAuthorized"),
        (alice.get(quota_path(bob) + "/default"), "PolicyNotAuthorized"),
        (alice.get(quota_path(bob) + "/details"), "AdminRequired"),
        (alice.put(quota_path(bob), {"quota": {"network": 0}}), "PolicyNotAuthorized"),
    ]
    for resp, error in cases:
        assert resp.status == 403 and resp.error_type == error, resp
    assert bob.get(quota_path(bob)).json["quota"] == DEFAULTS


@pytest.mark.parametrize(
    "body, message",
    [
        ({"quota": {"bogus": 1}}, "Unrecognized attribute(s) 'bogus'"),
        (
            {"quota": {"network": "many"}},
            "Invalid input for network. Reason: 'many' is not an integer.",
        ),
        (
            {"quota": {"network": -2}},
            "Invalid input for network. Reason: '-2' is not in range -1 through 2147483647.",
        ),
        ({"network": 1}, "Unable to find 'quota' in request body"),
    ],
)
def test_bad_quota_bodies(admin, alice, body, message):
    resp = admin.put(quota_path(alice), body)
    assert resp.status == 400 and resp.json["NeutronError"]["message"] == message, resp


def test_post_is_not_supported(admin):
    resp = admin.post("/v2.0/quotas", {"quota": {"network": 1}})
    assert resp.status == 501 and resp.error_type == "HTTPNotImplemented"


def test_a_limit_below_usage_needs_force(admin, alice):
    for _ in range(2):
        assert alice.post("/v2.0/networks", {"network": {}}).status == 201
    refused = admin.put(quota_path(alice), {"quota": {"network": 1, "check_limit": True}})
    assert refused.status == 400
    assert (
        refused.json["NeutronError"]["message"]
        == "Quota limit 1 for network must be greater than or equal to already used 2"
    )
    assert admin.put(quota_path(alice), {"quota": {"network": 1, "force": True}}).status == 200
    assert alice.post("/v2.0/networks", {"network": {}}).status == 409


def test_over_quota_on_create_and_bulk_create(admin, alice):
    set_quota(admin, alice, network=2)
    assert alice.post("/v2.0/networks", {"network": {"name": "one"}}).status == 201
    bulk = alice.post("/v2.0/networks", {"networks": [{"name": "two"}, {"name": "three"}]})
    assert bulk.status == 409 and bulk.error_type == "OverQuota"
    assert bulk.json["NeutronError"]["message"] == "Quota exceeded for resources: ['network']."
    own = alice.get(f"/v2.0/networks?project_id={alice.project}").json["networks"]
    assert [n["name"] for n in own] == ["one"]  # others' shared networks are not counted
    assert alice.post("/v2.0/networks", {"network": {"name": "two"}}).status == 201
    assert alice.post("/v2.0/networks", {"network": {}}).error_type == "OverQuota"


def test_admin_creating_for_a_project_uses_that_projects_quota(admin, alice):
    set_quota(admin, alice, network=0)
    resp = admin.post("/v2.0/networks", {"network": {"project_id": alice.project}})
    assert resp.status == 409 and resp.error_type == "OverQuota"
    assert admin.post("/v2.0/networks", {"network": {}}).status == 201


def test_parallel_creates_cannot_overshoot(admin, alice):
    set_quota(admin, alice, network=5)
    with ThreadPoolExecutor(16) as pool:
        statuses = list(
            pool.map(
                lambda i: alice.post("/v2.0/networks", {"network": {"name": f"n{i}"}}).status,
                range(16),
            )
        )
    assert sorted(statuses) == [201] * 5 + [409] * 11
    assert len(alice.get(f"/v2.0/networks?project_id={alice.project}").json["networks"]) == 5


def test_minus_one_is_unlimited(admin, alice):
    set_quota(admin, alice, network=-1)
    bulk = alice.post("/v2.0/networks", {"networks": [{} for _ in range(101)]})
    assert bulk.status == 201 and len(bulk.json["networks"]) == 101


def test_every_resource_is_bounded(admin, alice):
    set_quota(
        admin,
        alice,
        subnet=1,
        port=1,
        router=0,
        security_group=1,
        security_group_rule=4,
        qos_policy=0,
        protocol_block=0,
    )
    net = alice.post("/v2.0/networks", {"network": {}}).json["network"]
    subnet = {"subnet": {"network_id": net["id"], "ip_version": 4, "cidr": "10.0.0.0/24"}}
    assert alice.post("/v2.0/subnets", subnet).status == 201
    subnet["subnet"]["cidr"] = "10.0.1.0/24"
    refused = {
        "subnet": alice.post("/v2.0/subnets", subnet),
        "router": alice.post("/v2.0/routers", {"router": {}}),
        "qos_policy": alice.post("/v2.0/qos/policies", {"policy": {}}),
        "protocol_block": alice.post(
            "/v2.0/protocol-blocks",
            {"protocol_block": {"network_id": net["id"], "protocol": "udp"}},
        ),
    }
    # the first port makes the default group (never refused) with its four rules
    assert alice.post("/v2.0/ports", {"port": {"network_id": net["id"]}}).status == 201
    refused["port"] = alice.post("/v2.0/ports", {"port": {"network_id": net["id"]}})
    refused["security_group"] = alice.post(
        "/v2.0/security-groups", {"security_group": {"name": "web"}}
    )
    default_group = alice.get("/v2.0/security-groups").json["security_groups"][0]
    refused["security_group_rule"] = alice.post(
        "/v2.0/security-group-rules",
        {
            "security_group_rule": {
                "security_group_id": default_group["id"],
                "direction": "ingress",
                "protocol": "tcp",
            }
        },
    )
    for name, resp in refused.items():
        assert (
            resp.status == 409
            and resp.json["NeutronError"]["message"] == f"Quota exceeded for resources: ['{name}']."
        ), (name, resp)


def test_the_default_group_never_blocks_a_port(admin, alice):
    set_quota(admin, alice, security_group=0, security_group_rule=0)
    net = alice.post("/v2.0/networks", {"network": {}}).json["network"]
    port = alice.post("/v2.0/ports", {"port": {"network_id": net["id"]}})
    assert port.status == 201 and len(port.json["port"]["security_groups"]) == 1


def test_details_show_usage(admin, alice):
    net = alice.post("/v2.0/networks", {"network": {}}).json["network"]
    alice.post("/v2.0/ports", {"port": {"network_id": net["id"]}})
    details = alice.get(quota_path(alice) + "/details").json["quota"]
    assert details["network"] == {"limit": 100, "used": 1, "reserved": 0}
    assert details["port"] == {"limit": 500, "used": 1, "reserved": 0}
    assert details["security_group"] == {"limit": 10, "used": 1, "reserved": 0}
    assert details["security_group_rule"] == {"limit": 100, "used": 4, "reserved": 0}
    assert admin.get(quota_path(alice) + "/details").json["quota"] == details


def test_plugin_quotas_only_with_their_plugin(bare_server, bare_alice):
    shown = bare_alice.get(quota_path(bare_alice)).json["quota"]
    core = {k: v for k, v in NEUTRON_DEFAULTS.items() if k not in ("router", "floatingip")}
    assert shown == {**core, "subnetpool": 10, "address_scope": 10}
    bare_admin = ApiClient(bare_server.url, bare_server.token("bare-admin", admin=True))
    resp = bare_admin.put(quota_path(bare_alice), {"quota": {"router": 1}})
    assert (
        resp.status == 400
        and resp.json["NeutronError"]["message"] == "Unrecognized attribute(s) 'router'"
    )


# ------------------------------------------------------------------------- the real CLI
def test_openstack_quota_commands(openstack_cli, identity, admin, alice):
    identity.projects[:] = [admin.project, alice.project]

    def limits(rows):
        return {row["Resource"]: row["Limit"] for row in rows}

    shown = limits(openstack_cli(alice, "quota", "show", "--network", alice.project))
    assert (shown["networks"], shown["ports"], shown["security_group_rules"]) == (100, 500, 100)
    openstack_cli(
        admin, "quota", "set", "--networks", "7", "--ports", "20", alice.project, parse=False
    )
    shown = limits(openstack_cli(alice, "quota", "show", "--network", alice.project))
    assert (shown["networks"], shown["ports"], shown["subnets"]) == (7, 20, 100)
    usage = openstack_cli(alice, "quota", "show", "--network", "--usage", alice.project)
    assert {r["Resource"]: (r["Limit"], r["In Use"]) for r in usage}["networks"] == (7, 0)
    assert (
        limits(openstack_cli(alice, "quota", "show", "--network", "--default", alice.project))[
            "networks"
        ]
        == 100
    )
    listed = openstack_cli(admin, "quota", "list", "--network")
    assert [(r["Project ID"], r["Networks"], r["Ports"]) for r in listed] == [
        (alice.project, 7, 20)
    ]
    refused = openstack_cli(
        alice, "quota", "set", "--networks", "1000", alice.project, parse=False, check=False
    )
    assert refused.returncode != 0 and "update_quota is disallowed by policy" in refused.stderr
    openstack_cli(admin, "quota", "delete", "--network", alice.project, parse=False)
    assert (
        limits(openstack_cli(alice, "quota", "show", "--network", alice.project))["networks"] == 100
    )
