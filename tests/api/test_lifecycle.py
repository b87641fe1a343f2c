"""The server process itself: restart keeps the model, SIGTERM ends it promptly."""

from __future__ import annotations

import concurrent.futures

from tests.helpers import ApiClient, start_server


def test_restart_keeps_model_and_tokens(tmp_path):
    proc = start_server(tmp_path)
    try:
        client = ApiClient(proc.url, proc.token("persist"))
        net = client.post("/v2.0/networks", {"network": {"name": "kept"}}).json["network"]
        port = client.post("/v2.0/ports", {"port": {"network_id": net["id"]}}).json["port"]
        proc.restart()
        assert client.get(f"/v2.0/networks/{net['id']}").json["network"] == net
        assert client.get(f"/v2.0/ports/{port['id']}").json["port"] == port
        second = client.post("/v2.0/networks", {"network": {}}).json["network"]
        assert second["id"] != net["id"]
    finally:
        assert proc.stop(timeout=5) == 0


def test_concurrent_requests(server, alice):
    net = alice.post("/v2.0/networks", {"network": {}}).json["network"]

    def make(_):
        return alice.post("/v2.0/ports", {"port": {"network_id": net["id"]}})

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(make, range(64)))
    assert all(r.status == 201 for r in results)
    macs = {r.json["port"]["mac_address"] for r in results}
    assert len(macs) == 64
    assert len(alice.get("/v2.0/ports").json["ports"]) == 64
