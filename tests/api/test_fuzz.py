"""Fuzzing the real server: no generated request may answer 5xx or a non-JSON error.

Bounded (derandomized, a fixed number of examples) so it runs in seconds in CI.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

COLLECTIONS = {  # URL path -> body member
    "networks": "network",
    "subnets": "subnet",
    "ports": "port",
    "routers": "router",
    "security-groups": "security_group",
    "security-group-rules": "security_group_rule",
    "qos/policies": "policy",
    "protocol-blocks": "protocol_block",
}
RULES = {"bandwidth_limit_rules": "bandwidth_limit_rule", "dscp_marking_rules": "dscp_marking_rule"}
KEYS = [
    "name",
    "description",
    "tags",
    "tenant_id",
    "project_id",
    "admin_state_up",
    "shared",
    "network_id",
    "security_group_id",
    "direction",
    "protocol",
    "ethertype",
    "port_range_min",
    "port_range_max",
    "remote_ip_prefix",
    "max_kbps",
    "max_burst_kbps",
    "dscp_mark",
    "cidr",
    "ip_version",
    "gateway_ip",
    "fixed_ips",
    "mac_address",
    "device_id",
    "device_owner",
    "binding:profile",
    "enable_dhcp",
    "allocation_pools",
    "host_routes",
    "dns_nameservers",
    "port_security_enabled",
    "security_groups",
    "allowed_address_pairs",
    "routes",
    "stateful",
    "qos_policy_id",
]

texts = st.text(max_size=20) | st.sampled_from(
    [
        "\x00",
        "\ud800",
        "²",
        "٣",
        "9" * 5000,
        "true",
        "any",
        "tcp",
        "IPv4",
        "10.0.0.0/24",
        " x ",
        "\n",
        "-1",
        "65536",
        "NET",
        "SG",
    ]
)
integers = st.integers(-2, 70000) | st.sampled_from([2**31, -(2**63), 10**40])
scalars = st.none() | st.booleans() | integers | st.floats(allow_nan=False) | texts
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | texts, inner, max_size=3)
    ),
    max_leaves=8,
)
attributes = st.dictionaries(st.sampled_from(KEYS) | texts, values, max_size=5)


@pytest.fixture(scope="module")
def fuzz_world(server, token_pool):
    from tests.helpers import ApiClient

    _project, token = token_pool.take(False)
    client = ApiClient(server.url, token)
    net = client.post("/v2.0/networks", {"network": {"name": "fuzz"}}).json["network"]
    group = client.post("/v2.0/security-groups", {"security_group": {"name": "fuzz"}}).json[
        "security_group"
    ]
    policy = client.post("/v2.0/qos/policies", {"policy": {"name": "fuzz"}}).json["policy"]
    return client, {"NET": net["id"], "SG": group["id"], "POLICY": policy["id"]}


def _fill(value, ids):
    if isinstance(value, str):
        return ids.get(value, value)
    if isinstance(value, dict):
        return {_fill(k, ids): _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


def _check(resp, what):
    assert resp.status < 500, (what, resp)
    if resp.status >= 400:
        assert resp.headers.get("Content-Type", "").startswith("application/json"), (what, resp)
        assert set(resp.json["NeutronError"]) == {"type", "message", "detail"}, (what, resp)


FUZZ = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@FUZZ
@given(
    path=st.sampled_from(sorted(COLLECTIONS) + [f"qos/policies/POLICY/{r}" for r in RULES]),
    method=st.sampled_from(["POST", "PUT"]),
    attrs=attributes,
    wrap=st.booleans(),
)
def test_fuzz_bodies(fuzz_world, path, method, attrs, wrap):
    client, ids = fuzz_world
    path = path.replace("POLICY", ids["POLICY"])
    member = COLLECTIONS.get(path) or RULES[path.rsplit("/", 1)[-1]]
    body = {member: _fill(attrs, ids)} if wrap else _fill(attrs, ids)
    target = f"/v2.0/{path}" if method == "POST" else f"/v2.0/networks/{ids['NET']}"
    if method == "PUT" and not path.startswith("networks"):
        target = f"/v2.0/{path}/{ids['NET']}"
    raw = json.dumps(body, ensure_ascii=True).encode()
    _check(client.request(method, target, raw=raw), (method, target, raw[:300]))


@FUZZ
@given(
    path=st.sampled_from(sorted(COLLECTIONS) + ["qos/rule-types", "extensions", ""]),
    suffix=st.lists(
        st.text(max_size=8) | st.sampled_from(["NET", "tags", "\x00", "%ff"]), max_size=2
    ),
    query=st.lists(
        st.tuples(
            st.sampled_from(
                KEYS
                + [
                    "fields",
                    "sort_key",
                    "sort_dir",
                    "limit",
                    "marker",
                    "page_reverse",
                    "tags",
                    "not-tags-any",
                ]
            )
            | texts,
            texts,
        ),
        max_size=3,
    ),
    raw_query=st.sampled_from(["", "%ff", "name=%ff", "a=%00", "%ed%a0%80=1"]),
    method=st.sampled_from(["GET", "GET", "DELETE", "PUT"]),
)
def test_fuzz_paths_and_queries(fuzz_world, path, suffix, query, raw_query, method):
    client, ids = fuzz_world
    parts = [path] + [
        ids.get(s, s) if s == "NET" else s if s == "%ff" else quote(s, safe="") for s in suffix
    ]
    url = "/v2.0/" + "/".join(p for p in parts if p)
    encoded = "&".join(
        f"{quote(k, safe='')}={quote(v, safe='')}"
        for k, v in ((_fill(k, ids), _fill(v, ids)) for k, v in query)
        if "\ud800" not in k + v
    )
    url += "?" + "&".join(q for q in (encoded, raw_query) if q) if encoded or raw_query else ""
    _check(client.request(method, url), (method, url))
