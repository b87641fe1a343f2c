"""Cost of reading traffic counters, measured side by side in one run on a real OVS bridge.

1. One polling round (port, counted-flow and meter statistics, store update, SQL write) at
   1000 bound ports and at 10: milliseconds and reply bytes per round, and their ratio.
2. API latency (GET of a network, sequential) while the controller polls every second,
   against the same controller with polling off, at 1000 ports.

Ports are on a network with a subnet and the default security group, so each has its
counted flows (policy drops, one per address each way). Writes bench/results/polling.json.
"""

from __future__ import annotations

import pathlib
import statistics
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from bench import report as report_file  # noqa: E402
from bench.run import BRIDGE, Bench, bench_bridge, settle, vsctl  # noqa: E402
from tests.helpers import ApiClient, start_server  # noqa: E402

SIZES = (10, 1000)
POLL_INTERVAL = 1.0


def samples(server) -> dict:
    text = urllib.request.urlopen(server.metrics_url, timeout=10).read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def rounds(server, wanted=5, timeout=120) -> dict:
    """Average cost of the next ``wanted`` polling rounds, from the controller's /metrics."""

    def totals():
        found = samples(server)
        return (
            found.get(("naas_stats_poll_seconds_count", ()), 0),
            found.get(("naas_stats_poll_seconds_sum", ()), 0),
            {
                kind: found.get(("naas_stats_reply_bytes_total", (("kind", kind),)), 0)
                for kind in ("port", "flow", "meter")
            },
        )

    count0, sum0, bytes0 = totals()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(POLL_INTERVAL)
        count, total, replies = totals()
        if count - count0 >= wanted:
            n = count - count0
            return {
                "round_ms": round(1000 * (total - sum0) / n, 1),
                **{
                    f"{kind}_stats_bytes_per_round": round((replies[kind] - bytes0[kind]) / n)
                    for kind in replies
                },
            }
    raise RuntimeError("no polling rounds")


def latency(api, network_id, count=300) -> dict:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        assert api.get(f"/v2.0/networks/{network_id}").status == 200
        times.append(time.perf_counter() - start)
    times.sort()
    return {
        "median_ms": round(1000 * statistics.median(times), 2),
        "p95_ms": round(1000 * times[int(0.95 * len(times))], 2),
    }


def server_args(interval):
    return ["--ovsdb", "unix:/var/run/openvswitch/db.sock", "--stats-interval", str(interval)]


def main() -> int:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(tmp, extra_args=server_args(POLL_INTERVAL))
        try:
            bench_bridge(server.ofp_port)
            api = ApiClient(server.url, server.token("bench", admin=True))
            bench = Bench(server, api)
            resp = api.post(
                "/v2.0/subnets",
                {
                    "subnet": {
                        "network_id": bench.network["id"],
                        "ip_version": 4,
                        "cidr": "10.64.0.0/16",
                        "enable_dhcp": False,
                    }
                },
            )
            assert resp.status == 201, resp
            for size in SIZES:
                bench.add_ports(size - bench.bound)
                settle(server)
                results[size] = {"bound_ports": bench.bound, **rounds(server)}
            # Latency with and without polling, each after a restart and the same wait.
            for interval, name in (
                (0, "api_latency_not_polling"),
                (POLL_INTERVAL, "api_latency_polling_every_1s"),
            ):
                server.extra_args = server_args(interval)
                server.restart()
                settle(server)
                time.sleep(15)
                results[name] = latency(api, bench.network["id"])
        finally:
            server.stop()
            vsctl("--if-exists", "del-br", BRIDGE)
    small, large = results[SIZES[0]], results[SIZES[1]]
    polling, quiet = results["api_latency_polling_every_1s"], results["api_latency_not_polling"]
    ratios = {
        "round_ms_1000_over_10": large["round_ms"] / small["round_ms"],
        "flow_stats_bytes_1000_over_10": large["flow_stats_bytes_per_round"]
        / small["flow_stats_bytes_per_round"],
        "api_median_latency_polling_over_not": polling["median_ms"] / quiet["median_ms"],
        "api_p95_latency_polling_over_not": polling["p95_ms"] / quiet["p95_ms"],
    }
    report_file.write("polling", {"results": results, "ratios": ratios})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
