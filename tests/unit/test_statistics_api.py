"""The statistics API in-process: counters injected into the real store come back exactly,
selected by filters and ``fields``, and only to their owners."""

from __future__ import annotations

import json
import uuid

import pytest
import webob
from sqlalchemy import event

from naas_sdn.features.statistics.api import IP_NAMESPACE
from naas_sdn.features.statistics.store import Reading, StatisticsStore, ip_object
from naas_sdn.northbound.app import make_app
from tests.unit.model_support import ADMIN, ALICE, BOB

NO_DROPS = {
    reason: {"packets": 0, "bytes": 0}
    for reason in ("port_security", "security_group", "protocol_block", "qos")
}
UNKNOWN = "3f0e0c9e-2a43-4a5e-8a61-5b1b0b3e6d35"


class Api:
    def __init__(self, service):
        self.app = make_app(service, ["statistics"])
        self.tokens = {
            ctx.project_id: service.tokens.create(ctx.project_id, ctx.is_admin)
            for ctx in (ALICE, BOB, ADMIN)
        }

    def call(self, who, method: str, path: str, expect: int = 200):
        req = webob.Request.blank(
            "/v2.0/" + path, method=method, headers={"X-Auth-Token": self.tokens[who.project_id]}
        )
        resp = req.get_response(self.app)
        assert resp.status_code == expect, resp.body
        return json.loads(resp.body) if resp.body else None

    def get(self, who, path: str, expect: int = 200):
        return self.call(who, "GET", path, expect)


@pytest.fixture
def api(service):
    return Api(service)


@pytest.fixture
def net(service):
    net = service.create_network(ALICE, {"name": "n", "shared": True})
    service.create_subnet(ALICE, {"network_id": net.id, "ip_version": 4, "cidr": "10.0.0.0/24"})
    service.create_subnet(ALICE, {"network_id": net.id, "ip_version": 6, "cidr": "2001:db8::/64"})
    return net


def counted(service, source, port, targets_of_port, packets, octets, prefix="tx"):
    """One counter of ``port``: a source counting for the port, its network and its IPs."""
    targets = tuple((scope, object_id, prefix) for scope, object_id in targets_of_port)
    StatisticsStore.of(service).record(
        [Reading(source, (("packets", packets), ("bytes", octets)), targets)]
    )


def test_injected_counts_come_back_exactly(service, api, net):
    port = service.create_port(
        ALICE, {"network_id": net.id, "device_owner": "compute:nova", "device_id": "vm1"}
    )
    (v4_subnet, v4), (v6_subnet, v6) = port.fixed_ips
    store = StatisticsStore.of(service)
    store.record(
        [
            Reading(
                "s/1",
                (("packets", 10), ("bytes", 1000)),
                (
                    ("port", port.id, "tx"),
                    ("network", net.id, "tx"),
                    ("ip", ip_object(port.id, v4), "tx"),
                ),
            ),
            Reading(
                "s/2",
                (("packets", 3), ("bytes", 300)),
                (
                    ("port", port.id, "rx"),
                    ("network", net.id, "rx"),
                    ("ip", ip_object(port.id, v6), "rx"),
                ),
            ),
            Reading(
                "s/3",
                (("packets", 2), ("bytes", 128)),
                (("port", port.id, "dropped_qos"), ("network", net.id, "dropped_qos")),
            ),
            Reading(
                "s/4",
                (("packets", 1), ("bytes", 64)),
                (("network", net.id, "dropped_security_group"),),
            ),
        ]
    )
    store.place_vif(port.id, {"name": "tap1", "switch_id": "0000000000000001", "ofport": 5})
    store.record(
        [
            Reading(
                "vif/1",
                (("packets", 7), ("bytes", 700), ("dropped", 1), ("errors", 2)),
                (("vif", port.id, "rx"),),
            ),
            Reading("vif/2", (("packets", 4), ("bytes", 400)), (("vif", port.id, "tx"),)),
        ]
    )

    net_stats = api.get(ALICE, f"network-statistics/{net.id}")["network_statistics"]
    updated = net_stats.pop("updated_at")
    assert updated.endswith("Z") and len(updated) == 20
    assert net_stats == {
        "id": net.id,
        "network_id": net.id,
        "project_id": "alice",
        "tenant_id": "alice",
        "rx_packets": 3,
        "rx_bytes": 300,
        "tx_packets": 10,
        "tx_bytes": 1000,
        "dropped": dict(
            NO_DROPS, qos={"packets": 2, "bytes": 128}, security_group={"packets": 1, "bytes": 64}
        ),
    }

    port_stats = api.get(ALICE, f"port-statistics/{port.id}")["port_statistics"]
    assert port_stats.pop("updated_at") is not None
    assert port_stats == {
        "id": port.id,
        "port_id": port.id,
        "network_id": net.id,
        "project_id": "alice",
        "tenant_id": "alice",
        "device_id": "vm1",
        "device_owner": "compute:nova",
        "rx_packets": 3,
        "rx_bytes": 300,
        "tx_packets": 10,
        "tx_bytes": 1000,
        "dropped": dict(NO_DROPS, qos={"packets": 2, "bytes": 128}),
    }

    vif = api.get(ALICE, f"vif-statistics/{port.id}")["vif_statistics"]
    assert vif.pop("updated_at") is not None and vif.pop("attached_at").endswith("Z")
    assert vif == {
        "id": port.id,
        "port_id": port.id,
        "network_id": net.id,
        "project_id": "alice",
        "tenant_id": "alice",
        "name": "tap1",
        "switch_id": "0000000000000001",
        "ofport": 5,
        "rx_packets": 7,
        "rx_bytes": 700,
        "tx_packets": 4,
        "tx_bytes": 400,
        "rx_dropped": 1,
        "tx_dropped": 0,
        "rx_errors": 2,
        "tx_errors": 0,
    }

    ips = api.get(ALICE, "ip-statistics")["ip_statistics"]
    for entry in ips:
        assert entry.pop("updated_at") is not None
    common = {"port_id": port.id, "network_id": net.id, "project_id": "alice", "tenant_id": "alice"}
    assert ips == [
        dict(
            common,
            id=str(uuid.uuid5(IP_NAMESPACE, f"{port.id}/{v4}")),
            ip_address=v4,
            subnet_id=v4_subnet,
            ip_version=4,
            rx_packets=0,
            rx_bytes=0,
            tx_packets=10,
            tx_bytes=1000,
        ),
        dict(
            common,
            id=str(uuid.uuid5(IP_NAMESPACE, f"{port.id}/{v6}")),
            ip_address=v6,
            subnet_id=v6_subnet,
            ip_version=6,
            rx_packets=3,
            rx_bytes=300,
            tx_packets=0,
            tx_bytes=0,
        ),
    ]
    one = api.get(ALICE, f"ip-statistics/{ips[1]['id']}")["ip_statistics"]
    assert (one["ip_address"], one["rx_bytes"]) == (v6, 300)

    # a later round adds only what the switch counter grew by
    store.record(
        [
            Reading(
                "s/1",
                (("packets", 15), ("bytes", 1500)),
                (
                    ("port", port.id, "tx"),
                    ("network", net.id, "tx"),
                    ("ip", ip_object(port.id, v4), "tx"),
                ),
            )
        ]
    )
    assert api.get(ALICE, f"port-statistics/{port.id}?fields=tx_packets&fields=tx_bytes") == {
        "port_statistics": {"tx_packets": 15, "tx_bytes": 1500}
    }


def test_fresh_objects_count_zero_and_vif_needs_an_interface(service, api, net):
    port = service.create_port(ALICE, {"network_id": net.id})
    stats = api.get(ALICE, f"port-statistics/{port.id}")["port_statistics"]
    assert (stats["rx_bytes"], stats["tx_packets"], stats["dropped"], stats["updated_at"]) == (
        0,
        0,
        NO_DROPS,
        None,
    )
    assert api.get(ALICE, "vif-statistics") == {"vif_statistics": []}
    missing = api.get(ALICE, f"vif-statistics/{port.id}", 404)
    assert missing["NeutronError"]["type"] == "VifStatisticsNotFound"
    StatisticsStore.of(service).place_vif(
        port.id, {"name": "tap9", "switch_id": "00000000000000aa", "ofport": 9}
    )
    listed = api.get(ALICE, "vif-statistics")["vif_statistics"]
    assert [(v["port_id"], v["name"], v["rx_bytes"]) for v in listed] == [(port.id, "tap9", 0)]


def test_fields_filters_sorting_and_pages(service, api, net):
    ports = [service.create_port(ALICE, {"network_id": net.id, "name": f"p{i}"}) for i in range(4)]
    other = service.create_network(ALICE, {})
    lone = service.create_port(ALICE, {"network_id": other.id})
    for i, port in enumerate(ports):
        counted(
            service, f"s/{i}", port, [("port", port.id), ("network", net.id)], i + 1, 100 * (i + 1)
        )
        StatisticsStore.of(service).place_vif(
            port.id, {"name": f"tap{i}", "switch_id": f"{i % 2 + 1:016x}", "ofport": i}
        )

    # the seed's use case 4: which data (bytes rx/tx) for which components (some ports)
    a, b = ports[0].id, ports[2].id
    body = api.get(
        ALICE,
        f"port-statistics?port_id={a}&port_id={b}&fields=port_id&fields=rx_bytes&fields=tx_bytes",
    )
    assert sorted(body["port_statistics"], key=lambda s: s["tx_bytes"]) == [
        {"port_id": a, "rx_bytes": 0, "tx_bytes": 100},
        {"port_id": b, "rx_bytes": 0, "tx_bytes": 300},
    ]
    assert {
        s["port_id"]
        for s in api.get(ALICE, f"port-statistics?network_id={other.id}")["port_statistics"]
    } == {lone.id}
    assert [
        s["port_id"] for s in api.get(ALICE, "port-statistics?tx_packets=2")["port_statistics"]
    ] == [ports[1].id]
    assert [
        s["network_id"]
        for s in api.get(ALICE, "network-statistics?tx_bytes=1000")["network_statistics"]
    ] == [net.id]

    assert [v["port_id"] for v in api.get(ALICE, "vif-statistics?name=tap1")["vif_statistics"]] == [
        ports[1].id
    ]
    assert {
        v["port_id"]
        for v in api.get(ALICE, "vif-statistics?switch_id=0000000000000001")["vif_statistics"]
    } == {ports[0].id, ports[2].id}
    assert {v["port_id"] for v in api.get(ALICE, "vif-statistics?ofport=3")["vif_statistics"]} == {
        ports[3].id
    }

    v4 = ports[3].fixed_ips[0]
    assert [
        (e["port_id"], e["subnet_id"])
        for e in api.get(ALICE, f"ip-statistics?ip_address={v4[1]}")["ip_statistics"]
    ] == [(ports[3].id, v4[0])]
    assert (
        len(api.get(ALICE, f"ip-statistics?subnet_id={v4[0]}&network_id={net.id}")["ip_statistics"])
        == 4
    )
    assert len(api.get(ALICE, "ip-statistics?ip_version=6")["ip_statistics"]) == 4

    by_bytes = api.get(
        ALICE, "port-statistics?sort_key=tx_bytes&sort_dir=desc&fields=id&fields=tx_bytes"
    )["port_statistics"]
    assert [s["tx_bytes"] for s in by_bytes] == [400, 300, 200, 100, 0]
    page = api.get(ALICE, "port-statistics?sort_key=tx_bytes&sort_dir=desc&limit=2")
    assert [s["tx_bytes"] for s in page["port_statistics"]] == [400, 300]
    assert [link["rel"] for link in page["port_statistics_links"]] == ["next"]
    marker = page["port_statistics"][-1]["id"]
    second = api.get(
        ALICE, f"port-statistics?sort_key=tx_bytes&sort_dir=desc&limit=2&marker={marker}"
    )["port_statistics"]
    assert [s["tx_bytes"] for s in second] == [200, 100]

    for path in (
        "port-statistics?dropped=1",
        "vif-statistics?mac_address=x",
        "network-statistics?sort_key=dropped",
    ):
        error = api.get(ALICE, path, 400)["NeutronError"]
        assert error["type"] == "HTTPBadRequest"
    assert api.get(ALICE, "port-statistics?tx_bytes=many", 400)


def test_traffic_is_its_owners_alone(service, api, net):
    mine = service.create_port(ALICE, {"network_id": net.id})
    theirs = service.create_port(BOB, {"network_id": net.id})  # on alice's shared network
    counted(service, "s/a", mine, [("port", mine.id), ("network", net.id)], 1, 100)
    counted(service, "s/b", theirs, [("port", theirs.id), ("network", net.id)], 2, 200)
    for port in (mine, theirs):
        StatisticsStore.of(service).place_vif(
            port.id, {"name": port.id[:8], "switch_id": "1" * 16, "ofport": 1}
        )

    # bob sees the shared network, never its traffic; only his own port's
    assert api.get(BOB, "network-statistics") == {"network_statistics": []}
    error = api.get(BOB, f"network-statistics/{net.id}", 404)["NeutronError"]
    assert error["type"] == "NetworkNotFound"
    assert [s["port_id"] for s in api.get(BOB, "port-statistics")["port_statistics"]] == [theirs.id]
    assert api.get(BOB, f"port-statistics/{mine.id}", 404)["NeutronError"]["type"] == "PortNotFound"
    assert api.get(BOB, f"vif-statistics/{mine.id}", 404)["NeutronError"]["type"] == "PortNotFound"
    assert {e["port_id"] for e in api.get(BOB, "ip-statistics")["ip_statistics"]} == {theirs.id}
    alice_ip = api.get(ALICE, f"ip-statistics?port_id={mine.id}")["ip_statistics"][0]["id"]
    assert (
        api.get(BOB, f"ip-statistics/{alice_ip}", 404)["NeutronError"]["type"]
        == "IpStatisticsNotFound"
    )

    # alice owns the network: its total includes bob's traffic, but not bob's port itself
    assert api.get(ALICE, f"network-statistics/{net.id}")["network_statistics"]["tx_bytes"] == 300
    assert api.get(ALICE, f"port-statistics/{theirs.id}", 404)
    assert [v["port_id"] for v in api.get(ALICE, "vif-statistics")["vif_statistics"]] == [mine.id]

    # an admin sees everything
    assert {s["port_id"] for s in api.get(ADMIN, "port-statistics")["port_statistics"]} == {
        mine.id,
        theirs.id,
    }
    assert api.get(ADMIN, f"port-statistics/{theirs.id}")["port_statistics"]["tx_bytes"] == 200
    assert len(api.get(ADMIN, "vif-statistics")["vif_statistics"]) == 2
    assert api.get(ADMIN, f"network-statistics/{net.id}")["network_statistics"]["tx_packets"] == 3


def test_network_total_survives_port_deletion_and_ips_follow_the_port(service, api, net):
    port = service.create_port(ALICE, {"network_id": net.id})
    v4, v6 = (ip for _, ip in port.fixed_ips)
    counted(
        service,
        "s/1",
        port,
        [("port", port.id), ("network", net.id), ("ip", ip_object(port.id, v4))],
        5,
        500,
    )
    entry = api.get(ALICE, f"ip-statistics?ip_address={v4}")["ip_statistics"][0]
    service.update_port(ALICE, port.id, {"fixed_ips": [{"ip_address": v6}]})
    listed = api.get(ALICE, "ip-statistics")["ip_statistics"]
    assert [e["ip_address"] for e in listed] == [v6]
    assert api.get(ALICE, f"ip-statistics/{entry['id']}", 404)
    service.delete_port(ALICE, port.id)
    assert api.get(ALICE, "port-statistics") == {"port_statistics": []}
    assert api.get(ALICE, f"port-statistics/{port.id}", 404)
    assert api.get(ALICE, f"network-statistics/{net.id}")["network_statistics"]["tx_bytes"] == 500


def test_read_only_and_unknown_ids(service, api, net):
    port = service.create_port(ALICE, {"network_id": net.id})
    for path in ("network-statistics", "port-statistics", "vif-statistics", "ip-statistics"):
        assert api.call(ALICE, "POST", path, 405)["NeutronError"]["type"] == "HTTPMethodNotAllowed"
        for method in ("PUT", "DELETE"):
            api.call(ALICE, method, f"{path}/{UNKNOWN}", 405)
    api.call(ALICE, "DELETE", f"port-statistics/{port.id}", 405)
    assert (
        api.get(ALICE, f"network-statistics/{UNKNOWN}", 404)["NeutronError"]["type"]
        == "NetworkNotFound"
    )
    assert (
        api.get(ALICE, "port-statistics/not-a-uuid", 404)["NeutronError"]["type"] == "PortNotFound"
    )
    assert api.get(ALICE, f"port-statistics/{port.id}/tags", 404)
    aliases = {e["alias"] for e in api.get(ALICE, "extensions")["extensions"]}
    assert "statistics" in aliases


def test_listing_many_ports_reads_no_sql(service, api):
    net = service.create_network(ALICE, {})
    service.create_subnet(ALICE, {"network_id": net.id, "ip_version": 4, "cidr": "10.0.0.0/22"})
    ports = service.create_ports(ALICE, [{"network_id": net.id} for _ in range(300)])
    for i, port in enumerate(ports):
        counted(service, f"s/{i}", port, [("port", port.id)], 1, 10)
    statements = []

    def seen(*_args):
        statements.append(1)

    event.listen(service._engine, "before_cursor_execute", seen)
    try:
        api.get(ALICE, "extensions")
        per_request = len(statements)  # checking the token
        for path in ("port-statistics", "ip-statistics", "network-statistics", "vif-statistics"):
            api.get(ALICE, path)
        assert len(api.get(ALICE, "port-statistics")["port_statistics"]) == 300
    finally:
        event.remove(service._engine, "before_cursor_execute", seen)
    assert 0 < per_request <= 2 and len(statements) == 6 * per_request  # nothing per port
