"""What the throughput benchmarks share: API creates and a TCP iperf3 run between hosts."""

from __future__ import annotations

import json


def post(api, collection, body):
    resp = api.post(f"/v2.0/{collection}", {collection[:-1]: body})
    assert resp.status == 201, resp
    return resp.json[collection[:-1]]


def iperf(client, server_ip, seconds=4) -> float:
    """Mbit/s received by the iperf3 server at ``server_ip``."""
    out = client.cmd(f"iperf3 -c {server_ip} -t {seconds} -J")
    data = json.loads(out[out.index("{") :])
    return data["end"]["sum_received"]["bits_per_second"] / 1e6
