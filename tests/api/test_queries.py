"""Filtering, fields, sorting, pagination and tag filters, as Neutron reads its query string."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest


@pytest.fixture
def nets(alice):
    names = ["delta", "alpha", "charlie", "bravo", "echo"]
    body = {
        "networks": [
            {"name": n, "admin_state_up": n != "charlie", "description": n[0]} for n in names
        ]
    }
    created = alice.post("/v2.0/networks", body).json["networks"]
    tags = {"alpha": ["red"], "bravo": ["red", "blue"], "charlie": ["blue"], "delta": []}
    for net in created:
        if tags.get(net["name"]):
            alice.put(f"/v2.0/networks/{net['id']}/tags", {"tags": tags[net["name"]]})
    return {n["name"]: n for n in created}


def names(resp):
    assert resp.status == 200, resp
    return sorted(n["name"] for n in resp.json["networks"])


def test_filters(alice, nets):
    assert names(alice.get("/v2.0/networks?name=alpha")) == ["alpha"]
    assert names(alice.get("/v2.0/networks?name=alpha&name=echo")) == ["alpha", "echo"]
    assert names(alice.get("/v2.0/networks?admin_state_up=false")) == ["charlie"]
    assert len(names(alice.get("/v2.0/networks?admin_state_up=True"))) == 4
    assert names(alice.get(f"/v2.0/networks?id={nets['bravo']['id']}")) == ["bravo"]
    assert len(names(alice.get(f"/v2.0/networks?project_id={alice.project}"))) == 5
    assert len(names(alice.get(f"/v2.0/networks?tenant_id={alice.project}"))) == 5
    assert names(alice.get("/v2.0/networks?name=alpha&description=b")) == []
    assert names(alice.get("/v2.0/networks?name=")) == []
    assert len(names(alice.get("/v2.0/networks?mtu=1500&status=ACTIVE&shared=false"))) == 5


@pytest.mark.parametrize(
    "query",
    [
        "foo=1",
        "subnets=x",
        "provider:segmentation_id=3",
        "admin_state_up=maybe",
        "mtu=big",
        "limit=-1",
        "limit=x",
        "sort_key=nope",
        "sort_key=name&sort_dir=up",
        "sort_key=name&sort_dir=asc&sort_dir=desc",
        "sort_key=tags",
        "page_reverse=perhaps",
    ],
)
def test_bad_queries(alice, nets, query):
    resp = alice.get("/v2.0/networks?" + query)
    assert resp.status == 400, (query, resp)
    assert resp.error_type == "HTTPBadRequest"


def test_admin_may_filter_on_provider(admin, alice, nets):
    seg = admin.get(f"/v2.0/networks/{nets['alpha']['id']}").json["network"][
        "provider:segmentation_id"
    ]
    found = admin.get(f"/v2.0/networks?provider:segmentation_id={seg}").json["networks"]
    assert [n["id"] for n in found] == [nets["alpha"]["id"]]


def test_fields(alice, nets):
    resp = alice.get("/v2.0/networks?fields=id&fields=name&name=alpha")
    assert resp.json["networks"] == [{"id": nets["alpha"]["id"], "name": "alpha"}]
    shown = alice.get(f"/v2.0/networks/{nets['alpha']['id']}?fields=name&fields=status")
    assert shown.json["network"] == {"name": "alpha", "status": "ACTIVE"}


def test_sorting(alice, nets):
    resp = alice.get("/v2.0/networks?sort_key=name&sort_dir=desc")
    assert [n["name"] for n in resp.json["networks"]] == [
        "echo",
        "delta",
        "charlie",
        "bravo",
        "alpha",
    ]
    resp = alice.get(
        "/v2.0/networks?sort_key=admin_state_up&sort_dir=asc&sort_key=name&sort_dir=desc"
    )
    assert [n["name"] for n in resp.json["networks"]] == [
        "charlie",
        "echo",
        "delta",
        "bravo",
        "alpha",
    ]
    resp = alice.get("/v2.0/networks?sort_key=name")
    assert next(n["name"] for n in resp.json["networks"]) == "alpha"


def test_pagination_follows_links(alice, nets):
    url = "/v2.0/networks?limit=2&sort_key=name&sort_dir=asc"
    seen, pages = [], 0
    while url:
        resp = alice.get(url)
        assert resp.status == 200
        pages += 1
        seen += [n["name"] for n in resp.json["networks"]]
        nxt = [ln["href"] for ln in resp.json.get("networks_links", []) if ln["rel"] == "next"]
        url = nxt[0].split(alice.url, 1)[1] if nxt else None
        assert pages < 10
    assert seen == ["alpha", "bravo", "charlie", "delta", "echo"]
    assert pages == 3


def test_pagination_previous_and_marker(alice, nets):
    second = alice.get(f"/v2.0/networks?limit=2&sort_key=name&marker={nets['bravo']['id']}")
    assert [n["name"] for n in second.json["networks"]] == ["charlie", "delta"]
    links = {ln["rel"]: ln["href"] for ln in second.json["networks_links"]}
    assert set(links) == {"next", "previous"}
    prev = parse_qs(urlparse(links["previous"]).query)
    assert prev["marker"] == [nets["charlie"]["id"]] and prev["page_reverse"] == ["True"]
    back = alice.get(links["previous"].split(alice.url, 1)[1])
    assert [n["name"] for n in back.json["networks"]] == ["alpha", "bravo"]
    assert [ln["rel"] for ln in back.json["networks_links"]] == ["next"]
    last = alice.get(f"/v2.0/networks?limit=2&sort_key=name&marker={nets['delta']['id']}")
    assert [n["name"] for n in last.json["networks"]] == ["echo"]
    assert [ln["rel"] for ln in last.json["networks_links"]] == ["previous"]
    gone = alice.get("/v2.0/networks?limit=2&marker=3f0e0c9e-2a43-4a5e-8a61-5b1b0b3e6d35")
    assert gone.status == 404


def test_tag_filters(alice, nets):
    assert names(alice.get("/v2.0/networks?tags=red")) == ["alpha", "bravo"]
    assert names(alice.get("/v2.0/networks?tags=red,blue")) == ["bravo"]
    assert names(alice.get("/v2.0/networks?tags=red&tags=blue")) == ["bravo"]
    assert names(alice.get("/v2.0/networks?tags-any=red,blue")) == ["alpha", "bravo", "charlie"]
    assert names(alice.get("/v2.0/networks?not-tags=red,blue")) == [
        "alpha",
        "charlie",
        "delta",
        "echo",
    ]
    assert names(alice.get("/v2.0/networks?not-tags-any=red,blue")) == ["delta", "echo"]


def test_port_filters(alice, nets):
    net = nets["alpha"]
    made = alice.post(
        "/v2.0/ports",
        {"ports": [{"network_id": net["id"], "name": "x"}, {"network_id": nets["bravo"]["id"]}]},
    )
    ports = made.json["ports"]
    found = alice.get(f"/v2.0/ports?network_id={net['id']}").json["ports"]
    assert [p["id"] for p in found] == [ports[0]["id"]]
    found = alice.get(f"/v2.0/ports?mac_address={ports[1]['mac_address']}").json["ports"]
    assert [p["id"] for p in found] == [ports[1]["id"]]
    assert alice.get("/v2.0/ports?status=DOWN&binding:vif_type=unbound").status == 200
    assert alice.get("/v2.0/ports?fixed_ips=ip_address=1").json["ports"] == []
    assert alice.get("/v2.0/ports?fixed_ips=1").status == 400
