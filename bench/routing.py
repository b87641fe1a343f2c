"""Routed / switched TCP throughput, side by side in one run (goal >= 0.9).

Two userspace OVS switches; h1 on t1; h1b (same network as h1) and h2 (another network,
reached through the tenant's router) on t2. iperf3 runs alternate switched and routed,
three rounds; the ratio of medians is reported. Root and Open vSwitch needed.
"""

from __future__ import annotations

import pathlib
import statistics
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import report as report_file  # noqa: E402
from bench.traffic import iperf, post  # noqa: E402
from tests.helpers import ApiClient, start_server  # noqa: E402
from topologies.lab import lab, plug  # noqa: E402


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(tmp, extra_args=["--ovsdb", "unix:/var/run/openvswitch/db.sock"])
        try:
            api = ApiClient(server.url, server.token("bench"))
            n1, n2 = post(api, "networks", {}), post(api, "networks", {})
            s1 = post(
                api, "subnets", {"network_id": n1["id"], "ip_version": 4, "cidr": "10.1.0.0/24"}
            )
            s2 = post(
                api, "subnets", {"network_id": n2["id"], "ip_version": 4, "cidr": "10.2.0.0/24"}
            )
            router = post(api, "routers", {})
            for subnet in (s1, s2):
                api.put(
                    f"/v2.0/routers/{router['id']}/add_router_interface",
                    {"subnet_id": subnet["id"]},
                )
            ports = {
                "h1": post(api, "ports", {"network_id": n1["id"]}),
                "h1b": post(api, "ports", {"network_id": n1["id"]}),
                "h2": post(api, "ports", {"network_id": n2["id"]}),
            }
            with lab(
                server.ofp_port, switches=2, cables=[(1, 2)], hosts={"h1": 1, "h1b": 2, "h2": 2}
            ) as net:
                ips = {}
                for host, port in ports.items():
                    ip = port["fixed_ips"][0]["ip_address"]
                    plug(net.get(host), port, ip)
                    gateway = "10.1.0.1" if ip.startswith("10.1.") else "10.2.0.1"
                    net.get(host).cmd(f"ip route add default via {gateway}")
                    ips[host] = ip
                h1 = net.get("h1")
                for host in ("h1b", "h2"):
                    net.get(host).cmd("iperf3 -s -D")
                    for _ in range(40):
                        if " 1 received" in h1.cmd(f"ping -c1 -W1 {ips[host]}"):
                            break
                switched, routed = [], []
                for _ in range(3):
                    switched.append(iperf(h1, ips["h1b"]))
                    routed.append(iperf(h1, ips["h2"]))
                for host in ("h1b", "h2"):
                    net.get(host).cmd("pkill -f 'iperf3 -s'")
        finally:
            server.stop()
    report = {
        "switched_mbps": [round(x, 1) for x in switched],
        "routed_mbps": [round(x, 1) for x in routed],
        "routed_over_switched": round(statistics.median(routed) / statistics.median(switched), 3),
    }
    report_file.write("routing", report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
