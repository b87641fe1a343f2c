"""North-south TCP throughput through a router's gateway ÷ routed east-west, side by side in
one run. The way out costs a conntrack pass with NAT on the exit switch, and crosses one more
bridge (the physical network's learning switch) than the way between the two VMs.

Two userspace OVS switches; h1 on t1 (network 1), h2 on t2 (network 2, behind the same
router); the router's gateway is on an external flat network whose physical network (a
learning switch with the "out" host, 172.24.4.1, the external subnet's gateway) is cabled to
t2. iperf3 alternates h1 -> h2 (routed), h1 -> out (SNAT) and out -> h1's floating IP,
three rounds; ratios of medians are reported. Root and Open vSwitch needed.
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

PHYSNET = "physnet1"
UPSTREAM = "172.24.4.1"


def _external(admin) -> dict:
    public = post(
        admin,
        "networks",
        {
            "router:external": True,
            "provider:network_type": "flat",
            "provider:physical_network": PHYSNET,
        },
    )
    post(
        admin,
        "subnets",
        {
            "network_id": public["id"],
            "ip_version": 4,
            "cidr": "172.24.4.0/24",
            "gateway_ip": UPSTREAM,
            "enable_dhcp": False,
        },
    )
    return public


def _wait_ping(host, ip) -> None:
    for _ in range(60):
        if " 1 received" in host.cmd(f"ping -c1 -W1 {ip}"):
            return
    raise RuntimeError(f"{host.name} does not reach {ip}")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(tmp, extra_args=["--ovsdb", "unix:/var/run/openvswitch/db.sock"])
        try:
            api = ApiClient(server.url, server.token("bench"))
            admin = ApiClient(server.url, server.token("ops", admin=True))
            public = _external(admin)
            networks = [post(api, "networks", {}) for _ in range(2)]
            subnets = [
                post(
                    api,
                    "subnets",
                    {"network_id": n["id"], "ip_version": 4, "cidr": f"10.{i}.0.0/24"},
                )
                for i, n in enumerate(networks, 1)
            ]
            router = post(api, "routers", {"external_gateway_info": {"network_id": public["id"]}})
            for subnet in subnets:
                api.put(
                    f"/v2.0/routers/{router['id']}/add_router_interface",
                    {"subnet_id": subnet["id"]},
                )
            group = next(
                g
                for g in api.get("/v2.0/security-groups").json["security_groups"]
                if g["name"] == "default"
            )
            for protocol in ("tcp", "icmp"):
                resp = api.post(
                    "/v2.0/security-group-rules",
                    {
                        "security_group_rule": {
                            "security_group_id": group["id"],
                            "direction": "ingress",
                            "protocol": protocol,
                        }
                    },
                )
                assert resp.status == 201, resp
            ports = {
                "h1": post(api, "ports", {"network_id": networks[0]["id"]}),
                "h2": post(api, "ports", {"network_id": networks[1]["id"]}),
            }
            fip = post(
                api,
                "floatingips",
                {"floating_network_id": public["id"], "port_id": ports["h1"]["id"]},
            )["floating_ip_address"]
            physical = {PHYSNET: (2, {"out": None})}
            with lab(
                server.ofp_port,
                switches=2,
                cables=[(1, 2)],
                hosts={"h1": 1, "h2": 2},
                physical=physical,
            ) as net:
                ips = {}
                for host, port in ports.items():
                    ip = port["fixed_ips"][0]["ip_address"]
                    plug(net.get(host), port, ip)
                    net.get(host).cmd(f"ip route add default via {ip.rsplit('.', 1)[0]}.1")
                    ips[host] = ip
                h1, out = net.get("h1"), net.get("out")
                out.setIP(UPSTREAM, prefixLen=24)
                for host in (net.get("h2"), out, h1):
                    host.cmd("iperf3 -s -D")
                _wait_ping(h1, ips["h2"])
                _wait_ping(h1, UPSTREAM)
                _wait_ping(out, fip)
                routed, snat, floating = [], [], []
                for _ in range(3):
                    routed.append(iperf(h1, ips["h2"]))
                    snat.append(iperf(h1, UPSTREAM))
                    floating.append(iperf(out, fip))
                for host in (net.get("h2"), out, h1):
                    host.cmd("pkill -f 'iperf3 -s'")
        finally:
            server.stop()
    median = statistics.median(routed)
    report = {
        "routed_mbps": [round(x, 1) for x in routed],
        "snat_mbps": [round(x, 1) for x in snat],
        "floating_ip_mbps": [round(x, 1) for x in floating],
        "snat_over_routed": round(statistics.median(snat) / median, 3),
        "floating_ip_over_routed": round(statistics.median(floating) / median, 3),
    }
    report_file.write("gateway", report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
