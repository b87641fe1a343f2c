"""Version discovery, extensions, authentication, routing errors and the plugin registry."""

from __future__ import annotations

import pytest

from tests.helpers import ApiClient


def test_version_document_needs_no_token(server, anonymous):
    resp = anonymous.get("/")
    assert resp.status == 200
    assert resp.json == {
        "versions": [
            {
                "id": "v2.0",
                "status": "CURRENT",
                "links": [{"href": server.url + "/v2.0/", "rel": "self"}],
            }
        ]
    }


def test_version_href_follows_host_header(anonymous):
    resp = anonymous.get("/", headers={"Host": "api.example.org:9696"})
    assert resp.json["versions"][0]["links"][0]["href"] == "http://api.example.org:9696/v2.0/"


def test_resources_listing(server, alice):
    resp = alice.get("/v2.0/")
    assert resp.status == 200
    by_name = {r["collection"]: r for r in resp.json["resources"]}
    assert set(by_name) == {
        "networks",
        "subnets",
        "ports",
        "subnetpools",
        "address_scopes",
        "routers",
        "floatingips",
        "auto_allocated_topologies",
        "security_groups",
        "security_group_rules",
        "rbac_policies",
        "policies",
        "rule_types",
        "protocol_blocks",
        "network_statistics",
        "port_statistics",
        "vif_statistics",
        "ip_statistics",
        "l2_remote_gateways",
        "l2_remote_gateway_connections",
        "network_ip_availabilities",
        "traces",
        "fabric_switches",
        "fabric_links",
    }
    assert by_name["networks"]["name"] == "network"
    assert by_name["l2_remote_gateways"]["links"][0]["href"] == (
        server.url + "/v2.0/l2-remote-gateways"
    )
    assert by_name["ports"]["links"] == [{"rel": "self", "href": server.url + "/v2.0/ports"}]
    assert by_name["policies"]["links"] == [
        {"rel": "self", "href": server.url + "/v2.0/qos/policies"}
    ]
    assert by_name["security_groups"]["links"][0]["href"] == server.url + "/v2.0/security-groups"
    assert by_name["vif_statistics"]["links"][0]["href"] == server.url + "/v2.0/vif-statistics"


@pytest.mark.parametrize(
    "path",
    [
        "/v2.0/",
        "/v2.0/networks",
        "/v2.0/ports/x",
        "/v2.0/subnets",
        "/v2.0/extensions",
        "/v2.0/nothing",
    ],
)
def test_token_required(anonymous, server, path):
    for client in (anonymous, ApiClient(server.url, "not-a-token")):
        resp = client.get(path)
        assert resp.status == 401
        assert resp.error_type == "HTTPUnauthorized"
        assert set(resp.json["NeutronError"]) == {"type", "message", "detail"}


def test_revoked_token_refused_at_once(server):
    import subprocess

    from tests.helpers import NAAS_SDN

    token = subprocess.run(
        [
            NAAS_SDN,
            "token",
            "create",
            "--db-url",
            server.db_url,
            "--project",
            "short-lived",
            "--description",
            "revoke me",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    client = ApiClient(server.url, token)
    assert client.get("/v2.0/networks").status == 200
    listing = subprocess.run(
        [NAAS_SDN, "token", "list", "--db-url", server.db_url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    line = next(ln for ln in listing.splitlines() if "revoke me" in ln)
    assert token not in listing
    subprocess.run(
        [NAAS_SDN, "token", "revoke", "--db-url", server.db_url, line.split()[0]], check=True
    )
    assert client.get("/v2.0/networks").status == 401


def test_extensions(alice):
    resp = alice.get("/v2.0/extensions")
    aliases = {e["alias"] for e in resp.json["extensions"]}
    assert {
        "binding",
        "project-id",
        "standard-attr-revisions",
        "standard-attr-timestamp",
        "standard-attr-description",
        "standard-attr-tag",
        "revision-if-match",
        "sorting",
        "pagination",
        "filter-validation",
        "provider",
        "net-mtu",
    } <= aliases
    assert {"router", "extraroute", "extraroute-atomic"} <= aliases  # loaded by the suite
    assert {
        "security-group",
        "port-security",
        "allowed-address-pairs",
        "qos",
        "qos-bw-limit-direction",
        "protocol-blocks",
    } <= aliases
    assert not aliases & {"l3-ha", "dvr", "qos-default"}
    for ext in resp.json["extensions"]:
        assert set(ext) == {"alias", "name", "description", "updated", "links"}
    one = alice.get("/v2.0/extensions/binding")
    assert one.status == 200 and one.json["extension"]["alias"] == "binding"
    missing = alice.get("/v2.0/extensions/qos-default")
    assert missing.status == 404 and missing.error_type == "HTTPNotFound"
    assert alice.get("/v2.0/extensions.json").status == 200


def test_no_service_plugin_no_router_extension(bare_alice):
    aliases = {e["alias"] for e in bare_alice.get("/v2.0/extensions").json["extensions"]}
    assert not aliases & {"router", "extraroute", "extraroute-atomic", "qos", "protocol-blocks"}
    assert {"security-group", "port-security", "allowed-address-pairs"} <= aliases  # core
    assert {"subnet_allocation", "address-scope"} <= aliases  # core, as in ML2


def test_no_qos_plugin_no_qos_attributes(bare_alice):
    """qos_policy_id is an attribute the qos plugin adds: without it, ports have none."""
    net = bare_alice.post("/v2.0/networks", {"network": {}}).json["network"]
    assert "qos_policy_id" not in net and net["port_security_enabled"] is True
    resp = bare_alice.post(
        "/v2.0/ports", {"port": {"network_id": net["id"], "qos_policy_id": None}}
    )
    assert (
        resp.status == 400
        and "Unrecognized attribute(s) 'qos_policy_id'" in resp.json["NeutronError"]["message"]
    )
    assert bare_alice.get("/v2.0/security-groups").status == 200  # security groups are core


@pytest.mark.parametrize(
    "path",
    [
        "/v2.0/routers",
        "/v2.0/floatingips",
        "/v2.0/qos/policies",
        "/v2.0/qos/rule-types",
        "/v2.0/protocol-blocks",
        "/v2.0/l2-remote-gateways",
        "/v2.0/l2-remote-gateway-connections/3f0e0c9e-2a43-4a5e-8a61-5b1b0b3e6d35",
        ("/v2.0/qos/policies/3f0e0c9e-2a43-4a5e-8a61-5b1b0b3e6d35/bandwidth_limit_rules"),
        "/v2.0/trunks",
        "/v2.0/metering/metering-labels",
        "/v2.0/network-ip-availabilities",
        "/v2.0/routers/3f0e0c9e-2a43-4a5e-8a61-5b1b0b3e6d35",
    ],
)
def test_unloaded_plugins_answer_501(bare_alice, path):
    for method in ("GET", "POST", "DELETE"):
        resp = bare_alice.request(method, path, body={} if method == "POST" else None)
        assert resp.status == 501, (method, path, resp)
        assert resp.error_type == "HTTPNotImplemented"


@pytest.mark.parametrize(
    "path",
    [
        "/v2.0/nothing",
        "/v3/networks",
        "/v2.0/networks/3f0e0c9e-2a43-4a5e-8a61-5b1b0b3e6d35/nothing",
        "/favicon.ico",
    ],
)
def test_unknown_paths_404(alice, path):
    resp = alice.get(path)
    assert resp.status == 404
    assert resp.error_type is not None


@pytest.mark.parametrize(
    "method,path",
    [
        ("PUT", "/v2.0/networks"),
        ("DELETE", "/v2.0/ports"),
        ("POST", "/"),
        ("DELETE", "/v2.0/"),
        ("PATCH", "/v2.0/networks"),
        ("POST", "/v2.0/extensions"),
    ],
)
def test_wrong_method_405(alice, method, path):
    resp = alice.request(method, path, body={})
    assert resp.status == 405
    assert resp.error_type == "HTTPMethodNotAllowed"


def test_post_on_member_405(alice):
    net = alice.post("/v2.0/networks", {"network": {}}).json["network"]
    resp = alice.post(f"/v2.0/networks/{net['id']}", {"network": {}})
    assert resp.status == 405


def test_json_suffix_tolerated(alice):
    created = alice.post("/v2.0/networks.json", {"network": {"name": "suffix"}})
    assert created.status == 201
    net_id = created.json["network"]["id"]
    assert alice.get(f"/v2.0/networks/{net_id}.json").json["network"]["name"] == "suffix"
    assert alice.get("/v2.0/networks.json?name=suffix").json["networks"][0]["id"] == net_id
    assert alice.delete(f"/v2.0/networks/{net_id}.json").status == 204


def test_a_501_names_what_is_missing(alice, bare_alice):
    """A loaded plugin's area without the resource asked (address groups of the
    security-group plugin) says so; a plugin not loaded is named as not loaded."""
    resp = alice.get("/v2.0/address-groups")
    assert resp.status == 501 and resp.error_type == "HTTPNotImplemented"
    assert (
        "'security-group' is loaded but does not offer it" in resp.json["NeutronError"]["message"]
    ), resp
    resp = bare_alice.get("/v2.0/policies/3f0e0c9e-2a43-4a5e-8a61-5b1b0b3e6d35/tags")
    assert resp.status == 501 and "'qos' is not loaded" in resp.json["NeutronError"]["message"]


def test_qos_policies_are_tagged_at_neutrons_tag_path(alice, bob):
    """openstacksdk's set_tags on a QoS policy: PUT /v2.0/policies/{id}/tags."""
    policy = alice.post("/v2.0/qos/policies", {"policy": {"name": "gold"}}).json["policy"]
    path = f"/v2.0/policies/{policy['id']}/tags"
    resp = alice.put(path, {"tags": ["blue", "red"]})
    assert resp.status == 200 and sorted(resp.json["tags"]) == ["blue", "red"], resp
    assert sorted(alice.get(path).json["tags"]) == ["blue", "red"]
    assert alice.put(f"{path}/green", None).status == 201
    assert sorted(alice.get(f"/v2.0/qos/policies/{policy['id']}").json["policy"]["tags"]) == [
        "blue",
        "green",
        "red",
    ]
    assert alice.delete(f"{path}/blue").status == 204
    assert bob.get(path).status == 404  # another project's policy, as anywhere
    assert alice.get("/v2.0/policies").status == 404  # the tag path only
