"""QoS policies (nested rule collections, rule types, qos_policy_id) and protocol blocks over
HTTP."""

from __future__ import annotations

import pytest

UNKNOWN = "3f0e0c9e-2a43-4a5e-8a61-5b1b0b3e6d35"
BLOCK_KEYS = {
    "id",
    "name",
    "description",
    "project_id",
    "tenant_id",
    "revision_number",
    "created_at",
    "updated_at",
    "tags",
    "network_id",
    "protocol",
    "ethertype",
    "port_range_min",
    "port_range_max",
}


@pytest.fixture
def policy(alice):
    resp = alice.post("/v2.0/qos/policies", {"policy": {"name": "gold", "description": "d"}})
    assert resp.status == 201, resp
    return resp.json["policy"]


def test_policy_and_nested_rules(alice, bob, policy):
    assert (policy["shared"], policy["is_default"], policy["rules"]) == (False, False, [])
    base = f"/v2.0/qos/policies/{policy['id']}"
    bw = alice.post(base + "/bandwidth_limit_rules", {"bandwidth_limit_rule": {"max_kbps": 10000}})
    assert bw.status == 201, bw
    bw = bw.json["bandwidth_limit_rule"]
    assert bw == {"id": bw["id"], "max_kbps": 10000, "max_burst_kbps": 0, "direction": "egress"}
    dup = alice.post(base + "/bandwidth_limit_rules", {"bandwidth_limit_rule": {"max_kbps": 5}})
    assert dup.status == 409 and dup.error_type == "QoSRulesConflict"
    ingress = alice.post(
        base + "/bandwidth_limit_rules",
        {"bandwidth_limit_rule": {"max_kbps": 5000, "max_burst_kbps": 500, "direction": "ingress"}},
    ).json["bandwidth_limit_rule"]
    mark = alice.post(base + "/dscp_marking_rules", {"dscp_marking_rule": {"dscp_mark": 26}})
    assert mark.status == 201 and mark.json["dscp_marking_rule"]["dscp_mark"] == 26
    shown = alice.get(base).json["policy"]
    assert [(r["type"], r.get("direction")) for r in shown["rules"]] == [
        ("bandwidth_limit", "egress"),
        ("bandwidth_limit", "ingress"),
        ("dscp_marking", None),
    ]
    assert all(r["qos_policy_id"] == policy["id"] for r in shown["rules"])
    assert shown["revision_number"] == 4
    listed = alice.get(base + "/bandwidth_limit_rules?direction=ingress").json
    assert listed == {"bandwidth_limit_rules": [ingress]}
    updated = alice.put(
        base + f"/bandwidth_limit_rules/{ingress['id']}",
        {"bandwidth_limit_rule": {"max_kbps": 6000}},
    )
    assert updated.json["bandwidth_limit_rule"]["max_kbps"] == 6000
    conflict = alice.put(
        base + f"/bandwidth_limit_rules/{ingress['id']}",
        {"bandwidth_limit_rule": {"direction": "egress"}},
    )
    assert conflict.status == 409 and conflict.error_type == "QoSRulesConflict"
    assert (
        alice.get(base + f"/bandwidth_limit_rules/{ingress['id']}").json["bandwidth_limit_rule"][
            "max_kbps"
        ]
        == 6000
    )
    for resp in (
        bob.get(base),
        bob.get(base + "/bandwidth_limit_rules"),
        bob.post(base + "/dscp_marking_rules", {"dscp_marking_rule": {"dscp_mark": 8}}),
    ):
        assert resp.status == 404 and resp.error_type == "QosPolicyNotFound", resp
    missing = alice.get(base + f"/dscp_marking_rules/{UNKNOWN}")
    assert missing.status == 404 and missing.error_type == "QosRuleNotFound"
    assert alice.delete(base + f"/bandwidth_limit_rules/{bw['id']}").status == 204
    assert len(alice.get(base).json["policy"]["rules"]) == 2
    assert alice.delete(base).status == 204
    assert alice.get(base + "/dscp_marking_rules").status == 404


@pytest.mark.parametrize(
    "path,body",
    [
        ("bandwidth_limit_rules", {"bandwidth_limit_rule": {}}),
        ("bandwidth_limit_rules", {"bandwidth_limit_rule": {"max_kbps": -1}}),
        ("bandwidth_limit_rules", {"bandwidth_limit_rule": {"max_kbps": 2147483648}}),
        ("bandwidth_limit_rules", {"bandwidth_limit_rule": {"max_kbps": 1, "direction": "both"}}),
        ("bandwidth_limit_rules", {"bandwidth_limit_rule": {"max_kbps": 1, "type": "x"}}),
        ("dscp_marking_rules", {"dscp_marking_rule": {"dscp_mark": 7}}),
        ("dscp_marking_rules", {"dscp_marking_rule": {}}),
    ],
)
def test_bad_rules(alice, policy, path, body):
    resp = alice.post(f"/v2.0/qos/policies/{policy['id']}/{path}", body)
    assert resp.status == 400 and resp.error_type == "HTTPBadRequest", resp
    assert alice.get(f"/v2.0/qos/policies/{policy['id']}").json["policy"] == policy


def test_qos_policy_id_on_networks_and_ports(alice, bob, policy):
    net = alice.post("/v2.0/networks", {"network": {"qos_policy_id": policy["id"]}})
    assert net.status == 201 and net.json["network"]["qos_policy_id"] == policy["id"]
    net = net.json["network"]
    port = alice.post(
        "/v2.0/ports", {"port": {"network_id": net["id"], "qos_policy_id": policy["id"]}}
    ).json["port"]
    assert port["qos_policy_id"] == policy["id"]
    assert [
        p["id"] for p in alice.get(f"/v2.0/ports?qos_policy_id={policy['id']}").json["ports"]
    ] == [port["id"]]
    busy = alice.delete(f"/v2.0/qos/policies/{policy['id']}")
    assert busy.status == 409 and busy.error_type == "QosPolicyInUse"
    unknown = alice.put(f"/v2.0/ports/{port['id']}", {"port": {"qos_policy_id": UNKNOWN}})
    assert unknown.status == 404 and unknown.error_type == "QosPolicyNotFound"
    cleared = alice.put(f"/v2.0/ports/{port['id']}", {"port": {"qos_policy_id": None}})
    assert cleared.json["port"]["qos_policy_id"] is None
    alice.put(f"/v2.0/networks/{net['id']}", {"network": {"qos_policy_id": None}})
    bobs = bob.post("/v2.0/networks", {"network": {"qos_policy_id": policy["id"]}})
    assert bobs.status == 404 and bobs.error_type == "QosPolicyNotFound"
    assert alice.delete(f"/v2.0/qos/policies/{policy['id']}").status == 204


def test_shared_policy_and_ownership(alice, bob, policy):
    alice.put(f"/v2.0/qos/policies/{policy['id']}", {"policy": {"shared": True}})
    assert bob.get(f"/v2.0/qos/policies/{policy['id']}").json["policy"]["shared"] is True
    resp = bob.put(f"/v2.0/qos/policies/{policy['id']}", {"policy": {"name": "mine"}})
    assert resp.status == 403 and resp.error_type == "PolicyNotAuthorized"
    resp = alice.put(f"/v2.0/qos/policies/{policy['id']}", {"policy": {"is_default": True}})
    assert resp.status == 400
    assert alice.put(f"/v2.0/qos/policies/{policy['id']}/tags/gold").status == 201
    assert alice.get("/v2.0/qos/policies?tags=gold").json["policies"][0]["id"] == policy["id"]
    assert alice.delete(f"/v2.0/qos/policies/{policy['id']}").status == 204  # others see it
    assert bob.get("/v2.0/qos/policies").json["policies"] == []


def test_rule_types(alice):
    types = alice.get("/v2.0/qos/rule-types").json["rule_types"]
    assert sorted(t["type"] for t in types) == ["bandwidth_limit", "dscp_marking"]
    detail = alice.get("/v2.0/qos/rule-types/dscp_marking").json["rule_type"]
    params = detail["drivers"][0]["supported_parameters"]
    assert params[0]["parameter_name"] == "dscp_mark" and 26 in params[0]["parameter_values"]
    assert alice.get("/v2.0/qos/rule-types/nope").status == 404
    assert alice.post("/v2.0/qos/rule-types", {"rule_type": {}}).status == 405
    assert alice.get("/v2.0/qos/nothing").status == 404


# ---------------------------------------------------------------------------- protocol blocks
def test_protocol_block_lifecycle(alice, bob, admin):
    net = alice.post("/v2.0/networks", {"network": {"shared": True}}).json["network"]
    resp = alice.post(
        "/v2.0/protocol-blocks",
        {"protocol_block": {"network_id": net["id"], "protocol": "udp", "name": "no-udp"}},
    )
    assert resp.status == 201, resp
    block = resp.json["protocol_block"]
    assert set(block) == BLOCK_KEYS
    assert (block["protocol"], block["ethertype"], block["project_id"]) == (
        "udp",
        None,
        alice.project,
    )
    dup = alice.post(
        "/v2.0/protocol-blocks", {"protocol_block": {"network_id": net["id"], "protocol": "17"}}
    )
    assert dup.status == 409 and dup.error_type == "ProtocolBlockExists"
    shared = bob.post(
        "/v2.0/protocol-blocks", {"protocol_block": {"network_id": net["id"], "protocol": "tcp"}}
    )
    assert shared.status == 403 and shared.error_type == "PolicyNotAuthorized"
    private = alice.post("/v2.0/networks", {"network": {}}).json["network"]
    hidden = bob.post(
        "/v2.0/protocol-blocks",
        {"protocol_block": {"network_id": private["id"], "protocol": "tcp"}},
    )
    assert hidden.status == 404 and hidden.error_type == "NetworkNotFound"
    by_admin = admin.post(
        "/v2.0/protocol-blocks",
        {
            "protocol_block": {
                "network_id": private["id"],
                "protocol": "tcp",
                "ethertype": "IPv6",
                "port_range_min": 25,
                "port_range_max": 25,
            }
        },
    ).json["protocol_block"]
    assert by_admin["project_id"] == alice.project
    assert bob.get("/v2.0/protocol-blocks").json["protocol_blocks"] == []
    assert bob.get(f"/v2.0/protocol-blocks/{block['id']}").error_type == "ProtocolBlockNotFound"
    mine = alice.get(f"/v2.0/protocol-blocks?network_id={private['id']}").json
    assert [b["id"] for b in mine["protocol_blocks"]] == [by_admin["id"]]
    renamed = alice.put(
        f"/v2.0/protocol-blocks/{block['id']}", {"protocol_block": {"description": "d"}}
    )
    assert renamed.json["protocol_block"]["revision_number"] == 2
    fixed = alice.put(
        f"/v2.0/protocol-blocks/{block['id']}", {"protocol_block": {"protocol": "tcp"}}
    )
    assert (
        fixed.status == 400
        and "read-only attribute protocol" in fixed.json["NeutronError"]["message"]
    )
    assert alice.delete(f"/v2.0/networks/{private['id']}").status == 204
    assert alice.get(f"/v2.0/protocol-blocks/{by_admin['id']}").status == 404
    assert alice.delete(f"/v2.0/protocol-blocks/{block['id']}").status == 204
    assert alice.get("/v2.0/protocol-blocks").json["protocol_blocks"] == []
    assert alice.delete(f"/v2.0/networks/{net['id']}").status == 204  # shared: others see it


@pytest.mark.parametrize(
    "attrs,error",
    [
        ({}, "HTTPBadRequest"),
        ({"protocol": "any"}, "SecurityGroupRuleInvalidProtocol"),
        ({"protocol": "tcp", "port_range_min": 80}, "SecurityGroupInvalidPortRange"),
        (
            {"protocol": "esp", "port_range_min": 1, "port_range_max": 1},
            "SecurityGroupInvalidProtocolForPortRange",
        ),
        ({"protocol": "udp", "ethertype": "both"}, "SecurityGroupRuleInvalidEtherType"),
        ({"protocol": "udp", "network_id": "nope"}, "HTTPBadRequest"),
    ],
)
def test_bad_protocol_blocks(alice, attrs, error):
    net = alice.post("/v2.0/networks", {"network": {}}).json["network"]
    resp = alice.post(
        "/v2.0/protocol-blocks", {"protocol_block": {"network_id": net["id"], **attrs}}
    )
    assert (resp.status, resp.error_type) == (400, error), resp
    assert alice.get("/v2.0/protocol-blocks").json["protocol_blocks"] == []
