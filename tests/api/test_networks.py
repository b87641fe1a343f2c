"""Networks over HTTP: attributes, scoping, sharing, bulk, revisions, tags and bad input."""

from __future__ import annotations

import re
import uuid

import pytest

NETWORK_KEYS = {
    "id",
    "name",
    "description",
    "admin_state_up",
    "status",
    "subnets",
    "shared",
    "project_id",
    "tenant_id",
    "revision_number",
    "created_at",
    "updated_at",
    "tags",
    "mtu",
    "router:external",
    "port_security_enabled",
    "qos_policy_id",
    "ipv4_address_scope",
    "ipv6_address_scope",
    "is_default",
}
PROVIDER_KEYS = {"provider:network_type", "provider:physical_network", "provider:segmentation_id"}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def create(client, **attrs):
    resp = client.post("/v2.0/networks", {"network": attrs})
    assert resp.status == 201, resp
    return resp.json["network"]


def test_create_show_defaults(alice):
    net = create(alice, name="net1")
    assert set(net) == NETWORK_KEYS
    assert net["name"] == "net1" and net["description"] == ""
    assert net["admin_state_up"] is True and net["shared"] is False
    assert net["status"] == "ACTIVE" and net["subnets"] == [] and net["tags"] == []
    assert net["mtu"] == 1500 and net["router:external"] is False
    assert net["port_security_enabled"] is True and net["qos_policy_id"] is None
    assert net["project_id"] == net["tenant_id"] == alice.project
    assert net["revision_number"] == 1
    assert TIMESTAMP.match(net["created_at"]) and TIMESTAMP.match(net["updated_at"])
    assert uuid.UUID(net["id"])
    shown = alice.get(f"/v2.0/networks/{net['id']}")
    assert shown.status == 200 and shown.json["network"] == net


def test_provider_attributes_admin_only(alice, admin):
    net = create(alice)
    seen_by_admin = admin.get(f"/v2.0/networks/{net['id']}").json["network"]
    assert set(seen_by_admin) == NETWORK_KEYS | PROVIDER_KEYS
    assert seen_by_admin["provider:network_type"] == "vlan"
    assert seen_by_admin["provider:physical_network"] is None
    assert 1 <= seen_by_admin["provider:segmentation_id"] <= 4094
    resp = alice.post("/v2.0/networks", {"network": {"provider:segmentation_id": 5}})
    assert resp.status == 403 and resp.error_type == "PolicyNotAuthorized"
    assert "create_network:provider:segmentation_id" in resp.json["NeutronError"]["message"]
    chosen = create(
        admin,
        **{
            "provider:network_type": "vlan",
            "provider:segmentation_id": 4000,
            "project_id": alice.project,
        },
    )
    assert chosen["provider:segmentation_id"] == 4000 and chosen["project_id"] == alice.project
    again = admin.post("/v2.0/networks", {"network": {"provider:segmentation_id": 4000}})
    assert again.status == 409 and again.error_type == "VlanIdInUse"
    tunnelled = create(
        admin, **{"provider:network_type": "vxlan", "provider:segmentation_id": 16777215}
    )
    assert (tunnelled["provider:network_type"], tunnelled["mtu"]) == ("vxlan", 1450)
    taken = admin.post(
        "/v2.0/networks",
        {"network": {"provider:network_type": "vxlan", "provider:segmentation_id": 4000}},
    )
    assert taken.status == 409 and taken.error_type == "TunnelIdInUse"
    assert admin.delete(f"/v2.0/networks/{tunnelled['id']}").status == 204
    for bad in (
        {"provider:network_type": "gre"},
        {"provider:segmentation_id": 4095},
        {"provider:network_type": "vxlan", "provider:segmentation_id": 16777216},
        {"provider:network_type": "vlan", "provider:segmentation_id": 0},
        {"provider:physical_network": "physnet1"},
        {"provider:segmentation_id": "x"},
    ):
        resp = admin.post("/v2.0/networks", {"network": bad})
        assert resp.status == 400, (bad, resp)
    update = admin.put(
        f"/v2.0/networks/{chosen['id']}", {"network": {"provider:segmentation_id": 4001}}
    )
    assert update.status == 400
    assert admin.delete(f"/v2.0/networks/{chosen['id']}").status == 204


def test_update_and_revision(alice):
    net = create(alice, name="a")
    resp = alice.put(
        f"/v2.0/networks/{net['id']}",
        {"network": {"name": "b", "description": "d", "admin_state_up": False}},
    )
    assert resp.status == 200
    updated = resp.json["network"]
    assert (updated["name"], updated["description"], updated["admin_state_up"]) == ("b", "d", False)
    assert updated["revision_number"] == 2
    assert updated["created_at"] == net["created_at"]


def test_if_match(alice):
    net = create(alice)
    path = f"/v2.0/networks/{net['id']}"
    stale = alice.put(path, {"network": {"name": "x"}}, headers={"If-Match": "revision_number=7"})
    assert stale.status == 412 and stale.error_type == "RevisionNumberConstraintFailed"
    assert alice.get(path).json["network"]["name"] == ""
    ok = alice.put(path, {"network": {"name": "x"}}, headers={"If-Match": "revision_number=1"})
    assert ok.status == 200 and ok.json["network"]["revision_number"] == 2
    bad = alice.put(path, {"network": {"name": "y"}}, headers={"If-Match": "revision_number=z"})
    assert bad.status == 400
    assert alice.delete(path, headers={"If-Match": "revision_number=1"}).status == 412
    assert alice.get(path).status == 200
    assert alice.delete(path, headers={"If-Match": "revision_number=2"}).status == 204


def test_delete(alice):
    net = create(alice)
    assert alice.delete(f"/v2.0/networks/{net['id']}").status == 204
    again = alice.get(f"/v2.0/networks/{net['id']}")
    assert again.status == 404 and again.error_type == "NetworkNotFound"
    assert again.json["NeutronError"]["message"] == f"Network {net['id']} could not be found."
    assert alice.delete(f"/v2.0/networks/{net['id']}").status == 404


def test_other_tenant_gets_404(alice, bob):
    net = create(alice)
    path = f"/v2.0/networks/{net['id']}"
    for resp in (
        bob.get(path),
        bob.put(path, {"network": {"name": "x"}}),
        bob.delete(path),
        bob.get(path + "/tags"),
        bob.put(path + "/tags/x"),
        bob.post("/v2.0/ports", {"port": {"network_id": net["id"]}}),
    ):
        assert resp.status == 404, resp
        assert resp.error_type == "NetworkNotFound"
    assert bob.get("/v2.0/networks").json["networks"] == []
    assert alice.get(path).json["network"]["revision_number"] == 1


def test_sharing(alice, bob):
    net = create(alice, shared=True)
    assert [n["id"] for n in bob.get("/v2.0/networks").json["networks"]] == [net["id"]]
    assert bob.get("/v2.0/networks?shared=true").json["networks"][0]["id"] == net["id"]
    forbidden = bob.put(f"/v2.0/networks/{net['id']}", {"network": {"name": "mine"}})
    assert forbidden.status == 403 and forbidden.error_type == "PolicyNotAuthorized"
    assert bob.delete(f"/v2.0/networks/{net['id']}").status == 403
    port = bob.post("/v2.0/ports", {"port": {"network_id": net["id"]}})
    assert port.status == 201 and port.json["port"]["project_id"] == bob.project
    unshare = alice.put(f"/v2.0/networks/{net['id']}", {"network": {"shared": False}})
    assert unshare.status == 409 and unshare.error_type == "InvalidSharedSetting"
    # the network owner sees and may delete ports others made on its network
    assert alice.get(f"/v2.0/ports/{port.json['port']['id']}").status == 200
    assert alice.delete(f"/v2.0/ports/{port.json['port']['id']}").status == 204
    assert alice.put(f"/v2.0/networks/{net['id']}", {"network": {"shared": False}}).status == 200
    assert bob.get(f"/v2.0/networks/{net['id']}").status == 404


def test_admin_sees_all_and_acts_for_projects(alice, admin, bob):
    net = create(alice)
    assert admin.get(f"/v2.0/networks/{net['id']}").status == 200
    assert net["id"] in {n["id"] for n in admin.get("/v2.0/networks").json["networks"]}
    made = create(admin, tenant_id=bob.project, name="for-bob")
    assert made["project_id"] == bob.project
    assert bob.get(f"/v2.0/networks/{made['id']}").status == 200
    mismatch = admin.post("/v2.0/networks", {"network": {"project_id": "a", "tenant_id": "b"}})
    assert mismatch.status == 400
    assert admin.put(f"/v2.0/networks/{net['id']}", {"network": {"name": "by-admin"}}).status == 200


def test_tenant_cannot_create_for_other_project(alice):
    resp = alice.post("/v2.0/networks", {"network": {"project_id": "someone-else"}})
    assert resp.status == 400 and "admin" in resp.json["NeutronError"]["message"]
    same = alice.post("/v2.0/networks", {"network": {"project_id": alice.project}})
    assert same.status == 201


def test_bulk_create(alice):
    resp = alice.post("/v2.0/networks", {"networks": [{"name": "b1"}, {"name": "b2"}]})
    assert resp.status == 201
    assert [n["name"] for n in resp.json["networks"]] == ["b1", "b2"]
    bad = alice.post("/v2.0/networks", {"networks": [{"name": "b3"}, {"name": 5}]})
    assert bad.status == 400
    assert sorted(n["name"] for n in alice.get("/v2.0/networks").json["networks"]) == ["b1", "b2"]
    assert alice.post("/v2.0/networks", {"networks": []}).status == 400


BAD_BODIES = [
    (b"{not json", "Malformed"),
    (b"[1, 2]", "Malformed"),
    (b'"string"', "Malformed"),
    (b"", "body required"),
    (b'{"net": {}}', "Unable to find 'network'"),
    (b'{"network": {}, "extra": 1}', "Unable to find 'network'"),
    (b'{"network": []}', "Unable to find 'network'"),
    (b'{"network": {"name": 1}}', "Invalid input for name"),
    (b'{"network": {"name": "' + b"x" * 256 + b'"}}', "exceeds maximum length of 255"),
    (b'{"network": {"description": "' + b"x" * 256 + b'"}}', "exceeds maximum length"),
    (b'{"network": {"admin_state_up": "maybe"}}', "'maybe' cannot be converted to boolean"),
    (b'{"network": {"shared": 2}}', "'2' cannot be converted to boolean"),
    (b'{"network": {"foo": 1, "bar": 2}}', "Unrecognized attribute(s) 'foo, bar'"),
    (b'{"network": {"id": "3f0e0c9e-2a43-4a5e-8a61-5b1b0b3e6d35"}}', "not allowed in POST"),
    (b'{"network": {"status": "DOWN"}}', "not allowed in POST"),
    (b'{"network": {"revision_number": 4}}', "not allowed in POST"),
    (b'{"network": {"mtu": 9000}}', "not allowed in POST"),
    (b'{"network": {"router:external": "maybe"}}', "'maybe' cannot be converted to boolean"),
    (b'{"network": {"tags": "a"}}', "Invalid input for tags"),
    (b'{"network": {"tags": ["a,b"]}}', "comma"),
]


@pytest.mark.parametrize("raw,message", BAD_BODIES)
def test_bad_create_bodies_change_nothing(alice, raw, message):
    before = alice.get("/v2.0/networks").json
    resp = alice.post("/v2.0/networks", raw=raw)
    assert resp.status == 400, resp
    assert resp.error_type == "HTTPBadRequest"
    assert message in resp.json["NeutronError"]["message"]
    assert alice.get("/v2.0/networks").json == before


@pytest.mark.parametrize(
    "attrs,message",
    [
        ({"id": "3f0e0c9e-2a43-4a5e-8a61-5b1b0b3e6d35"}, "Cannot update read-only attribute id"),
        ({"status": "DOWN"}, "read-only attribute status"),
        ({"revision_number": 9}, "read-only attribute revision_number"),
        ({"project_id": "x"}, "read-only attribute project_id"),
        ({"tenant_id": "x"}, "read-only attribute tenant_id"),
        ({"mtu": 1400}, "read-only attribute mtu"),
        ({"tags": ["a"]}, "read-only attribute tags"),
        ({"created_at": "2020-01-01T00:00:00Z"}, "read-only attribute created_at"),
        ({"admin_state_up": None}, "Invalid input for admin_state_up"),
        ({"name": ["x"]}, "Invalid input for name"),
        ({"nope": 1}, "Unrecognized attribute(s) 'nope'"),
    ],
)
def test_bad_updates_change_nothing(alice, attrs, message):
    net = create(alice, name="keep")
    resp = alice.put(f"/v2.0/networks/{net['id']}", {"network": attrs})
    assert resp.status == 400, resp
    assert message in resp.json["NeutronError"]["message"]
    assert alice.get(f"/v2.0/networks/{net['id']}").json["network"] == net


def test_bad_update_bodies(alice):
    net = create(alice)
    path = f"/v2.0/networks/{net['id']}"
    for raw in (b"{", b"[]", b'{"port": {}}', b'{"network": 3}', b""):
        assert alice.put(path, raw=raw).status == 400, raw
    assert alice.get(path).json["network"] == net


@pytest.mark.parametrize(
    "bad_id",
    [
        "not-a-uuid",
        "1234",
        "3f0e0c9e2a434a5e8a615b1b0b3e6d35x",
        "3f0e0c9e-2a43-4a5e-8a61-5b1b0b3e6d35",
    ],
)
def test_bad_or_unknown_ids_404(alice, bad_id):
    for resp in (
        alice.get(f"/v2.0/networks/{bad_id}"),
        alice.put(f"/v2.0/networks/{bad_id}", {"network": {"name": "x"}}),
        alice.delete(f"/v2.0/networks/{bad_id}"),
    ):
        assert resp.status == 404 and resp.error_type == "NetworkNotFound"


def test_tags_subresource(alice, bob):
    net = create(alice)
    base = f"/v2.0/networks/{net['id']}/tags"
    assert alice.get(base).json == {"tags": []}
    assert alice.put(base + "/red").status == 201
    assert alice.put(base + "/red").status == 201  # idempotent
    assert alice.get(base + "/red").status == 204
    missing = alice.get(base + "/blue")
    assert missing.status == 404 and missing.error_type == "TagNotFound"
    replaced = alice.put(base, {"tags": ["b", "a"]})
    assert replaced.status == 200 and sorted(replaced.json["tags"]) == ["a", "b"]
    assert sorted(alice.get(f"/v2.0/networks/{net['id']}").json["network"]["tags"]) == ["a", "b"]
    assert alice.delete(base + "/a").status == 204
    assert alice.delete(base + "/a").status == 404
    assert alice.get(base).json == {"tags": ["b"]}
    assert alice.put(base, {"tag": []}).status == 400
    assert alice.put(base, {"tags": "x"}).status == 400
    assert alice.put(base, {"tags": [1]}).status == 400
    assert alice.get(base).json == {"tags": ["b"]}
    # tag-creation: POST adds several, keeping those there are
    added = alice.post(base, {"tags": ["c", "b", "d"]})
    assert (added.status, added.json) == (201, {"tags": ["c", "b", "d"]}), added
    assert sorted(alice.get(base).json["tags"]) == ["b", "c", "d"]
    assert alice.post(base, {"tags": "c"}).status == 400
    too_many = alice.post(base, {"tags": [f"t{i}" for i in range(48)]})
    assert (too_many.status, too_many.error_type) == (400, "InvalidInput"), too_many
    assert sorted(alice.get(base).json["tags"]) == ["b", "c", "d"]
    other = create(alice)
    assert alice.post(f"/v2.0/networks/{other['id']}/tags", {"tags": ["e"]}).status == 201
    assert alice.get(f"/v2.0/networks/{other['id']}/tags").json == {"tags": ["e"]}
    stranger = bob.post(base, {"tags": ["x"]})
    assert (stranger.status, stranger.error_type) == (404, "NetworkNotFound"), stranger
    assert alice.delete(base).status == 204
    assert alice.get(base).json == {"tags": []}
    assert alice.get(f"/v2.0/networks/{net['id']}").json["network"]["revision_number"] > 1
    with_tags = create(alice, tags=["x", "y"])
    assert sorted(with_tags["tags"]) == ["x", "y"]
