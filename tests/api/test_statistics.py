"""The statistics extension over HTTP: shapes, visibility, queries, read-only, 501 when not
loaded, and the API latency histogram at /metrics. (No switch is connected here, so every
counter is zero; the values are checked in tests/unit/test_statistics_api.py.)"""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

UNKNOWN = "3f0e0c9e-2a43-4a5e-8a61-5b1b0b3e6d35"
COLLECTIONS = ("network-statistics", "port-statistics", "vif-statistics", "ip-statistics")
TRAFFIC = {"rx_packets": 0, "rx_bytes": 0, "tx_packets": 0, "tx_bytes": 0}
NO_DROPS = {
    reason: {"packets": 0, "bytes": 0}
    for reason in ("port_security", "security_group", "protocol_block", "qos")
}


@pytest.fixture
def net(alice):
    net = alice.post("/v2.0/networks", {"network": {"name": "counted", "shared": True}})
    assert net.status == 201, net
    net = net.json["network"]
    for version, cidr in ((4, "10.9.0.0/24"), (6, "2001:db8:9::/64")):
        resp = alice.post(
            "/v2.0/subnets",
            {"subnet": {"network_id": net["id"], "ip_version": version, "cidr": cidr}},
        )
        assert resp.status == 201, resp
    return net


def new_port(client, net, **attrs):
    resp = client.post("/v2.0/ports", {"port": dict(attrs, network_id=net["id"])})
    assert resp.status == 201, resp
    return resp.json["port"]


def listed(client, path, key=None):
    resp = client.get("/v2.0/" + path)
    assert resp.status == 200, resp
    return resp.json[key or path.split("?")[0].replace("-", "_")]


def test_extension_listed(alice):
    ext = alice.get("/v2.0/extensions/statistics")
    assert ext.status == 200, ext
    assert ext.json["extension"]["name"] == "Traffic statistics"
    assert ext.json["extension"]["description"]
    resources = {r["collection"] for r in alice.get("/v2.0/").json["resources"]}
    assert {"network_statistics", "port_statistics", "vif_statistics", "ip_statistics"} <= resources


def test_fresh_objects_show_zero(alice, net):
    port = new_port(alice, net, device_owner="compute:nova", device_id="vm-1")
    stats = alice.get(f"/v2.0/network-statistics/{net['id']}")
    assert stats.status == 200, stats
    assert stats.json == {
        "network_statistics": dict(
            TRAFFIC,
            id=net["id"],
            network_id=net["id"],
            project_id=alice.project,
            tenant_id=alice.project,
            dropped=NO_DROPS,
            updated_at=None,
        )
    }
    stats = alice.get(f"/v2.0/port-statistics/{port['id']}").json["port_statistics"]
    assert stats == dict(
        TRAFFIC,
        id=port["id"],
        port_id=port["id"],
        network_id=net["id"],
        project_id=alice.project,
        tenant_id=alice.project,
        device_id="vm-1",
        device_owner="compute:nova",
        dropped=NO_DROPS,
        updated_at=None,
    )
    ips = listed(alice, f"ip-statistics?port_id={port['id']}")
    assert sorted((e["ip_version"], e["ip_address"], e["subnet_id"]) for e in ips) == sorted(
        (6 if ":" in f["ip_address"] else 4, f["ip_address"], f["subnet_id"])
        for f in port["fixed_ips"]
    )
    for entry in ips:
        assert set(entry) == {
            "id",
            "ip_address",
            "subnet_id",
            "port_id",
            "network_id",
            "project_id",
            "tenant_id",
            "ip_version",
            "rx_packets",
            "rx_bytes",
            "tx_packets",
            "tx_bytes",
            "updated_at",
        }
        assert (entry["network_id"], entry["updated_at"]) == (net["id"], None)
        shown = alice.get(f"/v2.0/ip-statistics/{entry['id']}").json["ip_statistics"]
        assert shown == entry
    # no switch has seen its interface: no VIF to count
    assert listed(alice, "vif-statistics") == []
    missing = alice.get(f"/v2.0/vif-statistics/{port['id']}")
    assert missing.status == 404 and missing.error_type == "VifStatisticsNotFound"


def test_traffic_is_visible_to_its_owners_only(alice, bob, admin, net):
    mine = new_port(alice, net)
    theirs = new_port(bob, net)  # bob's port on alice's shared network
    assert bob.get(f"/v2.0/networks/{net['id']}").status == 200  # he may use the network...
    resp = bob.get(f"/v2.0/network-statistics/{net['id']}")  # ...not watch its traffic
    assert resp.status == 404 and resp.error_type == "NetworkNotFound"
    assert listed(bob, "network-statistics") == []
    assert [s["port_id"] for s in listed(bob, "port-statistics")] == [theirs["id"]]
    assert {e["port_id"] for e in listed(bob, "ip-statistics")} == {theirs["id"]}
    for path in (f"port-statistics/{mine['id']}", f"vif-statistics/{mine['id']}"):
        resp = bob.get("/v2.0/" + path)
        assert resp.status == 404 and resp.error_type == "PortNotFound", (path, resp)
    alice_ip = listed(alice, f"ip-statistics?port_id={mine['id']}")[0]["id"]
    resp = bob.get(f"/v2.0/ip-statistics/{alice_ip}")
    assert resp.status == 404 and resp.error_type == "IpStatisticsNotFound"

    # the network's owner sees bob's port in /ports but not its traffic
    assert alice.get(f"/v2.0/ports/{theirs['id']}").status == 200
    assert alice.get(f"/v2.0/port-statistics/{theirs['id']}").status == 404
    assert [s["port_id"] for s in listed(alice, "port-statistics")] == [mine["id"]]
    assert [s["id"] for s in listed(alice, "network-statistics")] == [net["id"]]

    # an admin sees all of it
    assert {s["port_id"] for s in listed(admin, f"port-statistics?network_id={net['id']}")} == {
        mine["id"],
        theirs["id"],
    }
    assert admin.get(f"/v2.0/network-statistics/{net['id']}").status == 200
    assert (
        admin.get(f"/v2.0/port-statistics/{theirs['id']}").json["port_statistics"]["project_id"]
        == bob.project
    )
    assert len(listed(admin, f"ip-statistics?network_id={net['id']}")) == 4


def test_filters_fields_sorting_and_pages(alice, net):
    other = alice.post("/v2.0/networks", {"network": {}}).json["network"]
    ports = [new_port(alice, net, name=f"p{i}") for i in range(3)]
    lone = new_port(alice, other)

    # which data (bytes rx/tx) for which components (two of the ports)
    a, b = ports[0]["id"], ports[2]["id"]
    picked = listed(
        alice,
        f"port-statistics?port_id={a}&port_id={b}&fields=port_id&fields=rx_bytes&fields=tx_bytes",
    )
    assert sorted(picked, key=lambda s: s["port_id"]) == sorted(
        [
            {"port_id": a, "rx_bytes": 0, "tx_bytes": 0},
            {"port_id": b, "rx_bytes": 0, "tx_bytes": 0},
        ],
        key=lambda s: s["port_id"],
    )
    assert [s["port_id"] for s in listed(alice, f"port-statistics?network_id={other['id']}")] == [
        lone["id"]
    ]
    assert len(listed(alice, "port-statistics?tx_bytes=0&rx_packets=0")) == 4
    assert listed(alice, "port-statistics?tx_bytes=1") == []
    assert listed(alice, f"network-statistics?id={net['id']}&fields=tx_bytes") == [{"tx_bytes": 0}]
    shown = alice.get(f"/v2.0/network-statistics/{net['id']}?fields=rx_bytes&fields=tx_bytes")
    assert shown.json == {"network_statistics": {"rx_bytes": 0, "tx_bytes": 0}}

    v4 = next(f for f in ports[1]["fixed_ips"] if "." in f["ip_address"])
    assert [
        e["port_id"] for e in listed(alice, f"ip-statistics?ip_address={v4['ip_address']}")
    ] == [ports[1]["id"]]
    assert len(listed(alice, f"ip-statistics?subnet_id={v4['subnet_id']}")) == 3
    assert len(listed(alice, "ip-statistics?ip_version=6")) == 3
    assert listed(alice, "vif-statistics?switch_id=0000000000000001&name=tap1") == []

    ids = sorted(p["id"] for p in ports + [lone])
    by_id = listed(alice, "port-statistics?sort_key=port_id&sort_dir=desc&fields=id")
    assert [s["id"] for s in by_id] == ids[::-1]
    first = alice.get("/v2.0/port-statistics?sort_key=port_id&limit=3").json
    assert [s["id"] for s in first["port_statistics"]] == ids[:3]
    assert [link["rel"] for link in first["port_statistics_links"]] == ["next"]
    rest = listed(alice, f"port-statistics?sort_key=port_id&limit=3&marker={ids[2]}")
    assert [s["id"] for s in rest] == ids[3:]


@pytest.mark.parametrize(
    "query",
    [
        "foo=1",
        "dropped=1",
        "mac_address=x",
        "tx_bytes=lots",
        "sort_key=dropped",
        "sort_key=nope",
        "limit=-1",
    ],
)
def test_bad_queries(alice, query):
    resp = alice.get("/v2.0/port-statistics?" + query)
    assert resp.status == 400, (query, resp)
    assert resp.error_type == "HTTPBadRequest"


def test_ip_entries_follow_fixed_ips(alice, net):
    port = new_port(alice, net)
    before = {
        e["ip_address"]: e["id"] for e in listed(alice, f"ip-statistics?port_id={port['id']}")
    }
    assert set(before) == {f["ip_address"] for f in port["fixed_ips"]}
    kept = next(f for f in port["fixed_ips"] if ":" in f["ip_address"])
    updated = alice.put(f"/v2.0/ports/{port['id']}", {"port": {"fixed_ips": [kept]}})
    assert updated.status == 200, updated
    after = listed(alice, f"ip-statistics?port_id={port['id']}")
    assert [(e["ip_address"], e["id"]) for e in after] == [
        (kept["ip_address"], before[kept["ip_address"]])
    ]
    gone = next(i for ip, i in before.items() if ip != kept["ip_address"])
    assert alice.get(f"/v2.0/ip-statistics/{gone}").status == 404
    assert alice.delete(f"/v2.0/ports/{port['id']}").status == 204
    assert listed(alice, f"ip-statistics?port_id={port['id']}") == []
    assert alice.get(f"/v2.0/port-statistics/{port['id']}").status == 404
    assert alice.get(f"/v2.0/network-statistics/{net['id']}").status == 200


@pytest.mark.parametrize("path", COLLECTIONS)
def test_read_only(alice, net, path):
    port = new_port(alice, net)
    member = net["id"] if path == "network-statistics" else port["id"]
    for method, url, body in (
        ("POST", path, {path.replace("-", "_"): {}}),
        ("PUT", f"{path}/{member}", {path.replace("-", "_"): {}}),
        ("DELETE", f"{path}/{member}", None),
        ("DELETE", path, None),
    ):
        resp = alice.request(method, "/v2.0/" + url, body=body)
        assert resp.status == 405, (method, url, resp)
        assert resp.error_type == "HTTPMethodNotAllowed"
    assert alice.get(f"/v2.0/port-statistics/{port['id']}").status == 200


@pytest.mark.parametrize("path", COLLECTIONS)
def test_unknown_ids_404(alice, path):
    for member in (UNKNOWN, "not-a-uuid"):
        resp = alice.get(f"/v2.0/{path}/{member}")
        assert resp.status == 404 and resp.error_type is not None, resp


@pytest.mark.parametrize("path", COLLECTIONS + (f"port-statistics/{UNKNOWN}",))
def test_not_loaded_answers_501(bare_alice, path):
    for method in ("GET", "POST", "DELETE"):
        resp = bare_alice.request(method, "/v2.0/" + path, body={} if method == "POST" else None)
        assert resp.status == 501, (method, path, resp)
        assert resp.error_type == "HTTPNotImplemented"
    aliases = {e["alias"] for e in bare_alice.get("/v2.0/extensions").json["extensions"]}
    assert "statistics" not in aliases


def test_api_latency_histogram(server, alice):
    assert alice.get("/v2.0/port-statistics").status == 200
    assert alice.get(f"/v2.0/networks/{UNKNOWN}").status == 404
    with urllib.request.urlopen(server.metrics_url, timeout=10) as resp:
        text = resp.read().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    histogram = families["naas_api_request_seconds"]
    assert histogram.type == "histogram"
    counts = {
        (s.labels["method"], s.labels["status"]): s.value
        for s in histogram.samples
        if s.name.endswith("_count")
    }
    assert counts[("GET", "2xx")] > 0 and counts[("GET", "4xx")] > 0
    buckets = [
        s
        for s in histogram.samples
        if s.name.endswith("_bucket")
        and s.labels["method"] == "GET"
        and s.labels["status"] == "2xx"
    ]
    assert any(s.labels["le"] == "+Inf" and s.value == counts[("GET", "2xx")] for s in buckets)


@pytest.mark.parametrize(
    "path",
    [
        "/metrics",
        "//metrics",
        "/metrics/",
        "/./metrics",
        "/v2.0/../metrics",
        "/%6Detrics",
        "/metrics?format=text",
    ],
)
def test_metrics_are_not_served_on_the_api_address(server, anonymous, alice, admin, path):
    """The series name every tenant's projects, networks and ports: operators only. (Under
    /v2.0/ a path needs a token before it is found missing: 401 without one.)"""
    for client in (anonymous, alice, admin):
        resp = client.get(path)
        assert resp.status == 404 or (client is anonymous and resp.status == 401), (path, resp)
        assert resp.error_type is not None and b"naas_" not in resp.raw
    with urllib.request.urlopen(server.metrics_url, timeout=10) as resp:
        assert b"naas_api_request_seconds" in resp.read()
