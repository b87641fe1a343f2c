"""Bad input answers Neutron's 400 with a NeutronError body and leaves nothing behind."""

from __future__ import annotations

import json

import pytest

SURROGATE = b'"\\ud800"'  # a JSON escape: decodes to an unpaired surrogate
DEEP = b'{"network": ' + b"[" * 10000 + b"]" * 10000 + b"}"


def _body(member: str, attrs: dict, raw_attr: tuple[str, bytes] | None = None) -> bytes:
    text = json.dumps({member: attrs})
    if raw_attr:  # a value json.dumps cannot write: spliced in as bytes
        key, value = raw_attr
        text = text[:-2] + (", " if attrs else "") + json.dumps(key) + ": " + value.decode() + "}}"
    return text.encode()


@pytest.fixture
def world(alice):
    """One network, security group and QoS policy of a fresh project to hang requests on."""
    net = alice.post("/v2.0/networks", {"network": {"name": "n"}}).json["network"]
    group = alice.post("/v2.0/security-groups", {"security_group": {"name": "g"}}).json[
        "security_group"
    ]
    policy = alice.post("/v2.0/qos/policies", {"policy": {"name": "q"}}).json["policy"]
    return {"NET": net["id"], "SG": group["id"], "POLICY": policy["id"]}


def _rule(**attrs):
    return {"security_group_id": "SG", "direction": "ingress", **attrs}


# (collection path to list, method, path, body bytes or dict, expected message fragment)
CASES = [
    (
        "/v2.0/networks",
        "POST",
        "/v2.0/networks",
        _body("network", {}, ("name", SURROGATE)),
        "surrogates",
    ),
    (
        "/v2.0/networks",
        "POST",
        "/v2.0/networks",
        _body("network", {}, ("description", SURROGATE)),
        "surrogates",
    ),
    ("/v2.0/networks", "POST", "/v2.0/networks", {"network": {"name": "a\x00b"}}, "NUL"),
    ("/v2.0/networks", "POST", "/v2.0/networks", {"network": {"description": "a\x00"}}, "NUL"),
    ("/v2.0/networks", "POST", "/v2.0/networks", {"network": {"tags": ["a\x00"]}}, "NUL"),
    (
        "/v2.0/networks",
        "POST",
        "/v2.0/networks",
        _body("network", {}, ("tags", b"[" + SURROGATE + b"]")),
        "surrogates",
    ),
    (
        "/v2.0/networks",
        "POST",
        "/v2.0/networks",
        {"network": {"name": "a\nb"}},
        "is not a valid string",
    ),
    (
        "/v2.0/networks",
        "POST",
        "/v2.0/networks",
        {"network": {"name": "bell\x07"}},
        "is not a valid string",
    ),
    (
        "/v2.0/networks",
        "POST",
        "/v2.0/networks",
        {"network": {"tenant_id": None}},
        "Invalid input for tenant_id",
    ),
    (
        "/v2.0/networks",
        "POST",
        "/v2.0/networks",
        {"network": {"project_id": None}},
        "Invalid input for project_id",
    ),
    (
        "/v2.0/networks",
        "POST",
        "/v2.0/networks",
        {"network": {"tags": [f"t{i}" for i in range(51)]}},
        "Number of tags exceeds the limit",
    ),
    ("/v2.0/networks", "POST", "/v2.0/networks", DEEP, "Malformed request body"),
    (
        "/v2.0/ports",
        "POST",
        "/v2.0/ports",
        {"port": {"network_id": "NET", "device_id": "vm\x00"}},
        "NUL",
    ),
    (
        "/v2.0/ports",
        "POST",
        "/v2.0/ports",
        _body("port", {"network_id": "NET"}, ("device_owner", SURROGATE)),
        "surrogates",
    ),
    (
        "/v2.0/ports",
        "POST",
        "/v2.0/ports",
        {"port": {"network_id": "NET", "binding:profile": {"k": "v\x00"}}},
        "NUL",
    ),
    (
        "/v2.0/security-group-rules",
        "POST",
        "/v2.0/security-group-rules",
        {"security_group_rule": _rule(protocol="tcp", port_range_min="²", port_range_max=80)},
        "Invalid value for port",
    ),
    (
        "/v2.0/security-group-rules",
        "POST",
        "/v2.0/security-group-rules",
        {"security_group_rule": _rule(protocol="tcp", port_range_min=1, port_range_max="9" * 5000)},
        "Invalid value for port",
    ),
    (
        "/v2.0/security-group-rules",
        "POST",
        "/v2.0/security-group-rules",
        {"security_group_rule": _rule(protocol="²")},
        "protocol",
    ),
    (
        "/v2.0/security-group-rules",
        "POST",
        "/v2.0/security-group-rules",
        {"security_group_rule": _rule(protocol="9" * 5000)},
        "protocol",
    ),
    (
        "/v2.0/qos/policies/POLICY/bandwidth_limit_rules",
        "POST",
        "/v2.0/qos/policies/POLICY/bandwidth_limit_rules",
        {"bandwidth_limit_rule": {"max_kbps": "²"}},
        "is not an integer",
    ),
    (
        "/v2.0/qos/policies/POLICY/bandwidth_limit_rules",
        "POST",
        "/v2.0/qos/policies/POLICY/bandwidth_limit_rules",
        {"bandwidth_limit_rule": {"max_kbps": 10, "max_burst_kbps": "9" * 5000}},
        "is not an integer",
    ),
    (
        "/v2.0/qos/policies/POLICY/dscp_marking_rules",
        "POST",
        "/v2.0/qos/policies/POLICY/dscp_marking_rules",
        {"dscp_marking_rule": {"dscp_mark": "²"}},
        "dscp_mark",
    ),
    (
        "/v2.0/protocol-blocks",
        "POST",
        "/v2.0/protocol-blocks",
        {
            "protocol_block": {
                "network_id": "NET",
                "protocol": "tcp",
                "port_range_min": "²",
                "port_range_max": "²",
            }
        },
        "Invalid value for port",
    ),
    (
        "/v2.0/protocol-blocks",
        "POST",
        "/v2.0/protocol-blocks",
        {"protocol_block": {"network_id": "NET", "protocol": "9" * 5000}},
        "protocol",
    ),
    ("/v2.0/networks", "GET", "/v2.0/networks?name=%ff", None, "not valid UTF-8"),
    ("/v2.0/networks", "GET", "/v2.0/networks?name=a%00", None, "NUL"),
    ("/v2.0/networks", "GET", "/v2.0/networks/%ff", None, "not valid UTF-8"),
    ("/v2.0/networks", "GET", "/v2.0/qos/rule-types?marker=x", None, "marker"),
    (
        "/v2.0/networks",
        "PUT",
        "/v2.0/networks/NET/tags",
        {"tags": [f"t{i}" for i in range(51)]},
        "Number of tags exceeds the limit",
    ),
    ("/v2.0/networks", "PUT", "/v2.0/networks/NET/tags/a%00", None, "NUL"),
    ("/v2.0/networks", "PUT", "/v2.0/networks/NET", {"network": {"name": "a\x00"}}, "NUL"),
]


def _fill(value, world):
    if isinstance(value, str):
        for key, real in world.items():
            value = value.replace(key, real)
        return value
    if isinstance(value, dict):
        return {k: _fill(v, world) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, world) for v in value]
    return value


@pytest.mark.parametrize(
    "listing,method,path,body,message", CASES, ids=[f"{c[1]} {c[2][:40]} {c[4]}" for c in CASES]
)
def test_bad_input_is_a_400_and_changes_nothing(alice, world, listing, method, path, body, message):
    listing, path = _fill(listing, world), _fill(path, world)
    raw = (
        _fill(body.decode(), world).encode()
        if isinstance(body, bytes)
        else json.dumps(_fill(body, world)).encode()
        if body is not None
        else None
    )
    before = alice.get(listing).json
    tags_before = alice.get(f"/v2.0/networks/{world['NET']}").json["network"]
    resp = alice.request(method, path, raw=raw)
    assert resp.status == 400, resp
    assert resp.headers["Content-Type"].startswith("application/json"), resp
    error = resp.json["NeutronError"]
    assert set(error) == {"type", "message", "detail"}
    assert error["type"] in ("HTTPBadRequest", "InvalidInput") or error["type"].startswith(
        "SecurityGroup"
    ), error
    assert message in error["message"], error
    assert alice.get(listing).json == before
    assert alice.get(f"/v2.0/networks/{world['NET']}").json["network"] == tags_before


@pytest.mark.parametrize(
    "path,body,key,expected",
    [
        ("/v2.0/networks", {"network": {"admin_state_up": "true"}}, "admin_state_up", True),
        ("/v2.0/networks", {"network": {"admin_state_up": "0"}}, "admin_state_up", False),
        (
            "/v2.0/networks",
            {"network": {"port_security_enabled": "no"}},
            "port_security_enabled",
            False,
        ),
        ("/v2.0/routers", {"router": {"admin_state_up": "False"}}, "admin_state_up", False),
        ("/v2.0/networks", {"network": {"name": "ünïcode name ✓"}}, "name", "ünïcode name ✓"),
        ("/v2.0/networks", {"network": {"description": "tab\there"}}, "description", "tab\there"),
    ],
)
def test_what_neutron_accepts_is_accepted(alice, path, body, key, expected):
    resp = alice.post(path, body)
    assert resp.status == 201, resp
    assert next(iter(resp.json.values()))[key] == expected


def test_dscp_mark_44_is_valid(alice, world):
    resp = alice.post(
        f"/v2.0/qos/policies/{world['POLICY']}/dscp_marking_rules",
        {"dscp_marking_rule": {"dscp_mark": 44}},
    )
    assert resp.status == 201, resp


def test_fifty_tags_fit_and_the_fifty_first_does_not(alice, world):
    tags = [f"t{i}" for i in range(50)]
    assert alice.put(f"/v2.0/networks/{world['NET']}/tags", {"tags": tags}).status == 200
    resp = alice.put(f"/v2.0/networks/{world['NET']}/tags/one-more")
    assert resp.status == 400 and resp.error_type == "InvalidInput", resp
    assert "Number of tags exceeds the limit" in resp.json["NeutronError"]["message"]
    assert sorted(alice.get(f"/v2.0/networks/{world['NET']}/tags").json["tags"]) == sorted(tags)
