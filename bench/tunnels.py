"""Tunnels: TCP throughput and latency between VMs across the IP underlay (VXLAN, OVS native
tunnelling) beside the same across a cable, in one run, samples taking turns.

Two hypervisors of topologies/hypervisors.py (each its own ovs-vswitchd, userspace datapath).
The source VM sits on hypervisor 1; its peers: one on hypervisor 2, reached in the tunnel
the controller made, and one on a second bridge of hypervisor 1 cabled to the first (a veth,
discovered by the controller), so both paths leave the same ovs-vswitchd. The tunnel path
also crosses each hypervisor's underlay bridge and a second ovs-vswitchd: what a tunnel
costs on this datapath. Reports iperf3 Mbit/s (median of the runs) and ping RTT for each,
and their ratios.

Run as root with Open vSwitch installed: ``.venv/bin/python bench/tunnels.py``. Writes
bench/results/tunnels.json.
"""

from __future__ import annotations

import pathlib
import re
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import report as report_file  # noqa: E402
from bench.traffic import iperf  # noqa: E402
from tests.helpers import ApiClient, ServerProcess  # noqa: E402
from topologies.hypervisors import MGMT_IP, Vm, ovsdb_remotes, underlay  # noqa: E402

ROUNDS = 5
SECONDS = 3


def ping_rtt_ms(vm: Vm, ip: str) -> float:
    out = vm.cmd(f"ping -n -c 20 -i 0.05 {ip}")
    return float(re.search(r"= [\d.]+/([\d.]+)/", out).group(1))


def wait_reply(vm: Vm, ip: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if " 0% packet loss" in vm.cmd(f"ping -n -c 1 -W 1 {ip}"):
            return
    raise RuntimeError(f"{vm.name} cannot reach {ip}")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        remotes = [arg for remote in ovsdb_remotes(2) for arg in ("--ovsdb", remote)]
        server = ServerProcess(tmp, extra_args=remotes, ofp_host=MGMT_IP)
        with underlay(2, server.ofp_port) as (hv1, hv2):
            server.start()
            try:
                # A second bridge on hypervisor 1, cabled to its integration bridge.
                hv1.vsctl(
                    "add-br", "hv1cab", "--", "set", "bridge", "hv1cab", "datapath_type=netdev",
                    "protocols=OpenFlow13", "fail_mode=secure",
                    "other_config:datapath-id=0000000000004e11",
                    "--", "set-controller", "hv1cab", f"tcp:{MGMT_IP}:{server.ofp_port}",
                )  # fmt: skip
                hv1.exec("ip", "link", "add", "hv1c1", "type", "veth", "peer", "name", "hv1c2")
                for name in ("hv1c1", "hv1c2"):
                    hv1.exec("ip", "link", "set", name, "up")
                hv1.vsctl("add-port", hv1.bridge, "hv1c1", "--", "add-port", "hv1cab", "hv1c2")
                api = ApiClient(server.url, server.token("bench"))
                net = api.post("/v2.0/networks", {"network": {"name": "bench"}}).json["network"]
                api.post("/v2.0/subnets", {"subnet": {"network_id": net["id"], "ip_version": 4,
                         "cidr": "10.0.0.0/24", "enable_dhcp": False}})  # fmt: skip
                vms = {}
                for name, hypervisor, bridge, ip in (
                    ("src", hv1, None, "10.0.0.1"),
                    ("far", hv2, None, "10.0.0.2"),
                    ("near", hv1, "hv1cab", "10.0.0.3"),
                ):
                    port = api.post("/v2.0/ports", {"port": {"network_id": net["id"],
                                    "fixed_ips": [{"ip_address": ip}]}}).json["port"]  # fmt: skip
                    vms[name] = Vm(name, hypervisor)
                    vms[name].plug(port, ip, bridge=bridge)
                for ip in ("10.0.0.2", "10.0.0.3"):
                    wait_reply(vms["src"], ip)
                for name in ("far", "near"):
                    vms[name].cmd("iperf3 -s -D")
                time.sleep(1)
                runs: dict[str, list[float]] = {"tunnel": [], "cable": []}
                rtts: dict[str, list[float]] = {"tunnel": [], "cable": []}
                for _ in range(ROUNDS):
                    for path, ip in (("tunnel", "10.0.0.2"), ("cable", "10.0.0.3")):
                        runs[path].append(iperf(vms["src"], ip, SECONDS))
                        rtts[path].append(ping_rtt_ms(vms["src"], ip))
            finally:
                server.stop()
    tunnel, cable = statistics.median(runs["tunnel"]), statistics.median(runs["cable"])
    rtt_tunnel, rtt_cable = statistics.median(rtts["tunnel"]), statistics.median(rtts["cable"])
    report_file.write(
        "tunnels",
        {
            "rounds": ROUNDS,
            "iperf3_seconds": SECONDS,
            "mbit_s_tunnel": round(tunnel, 1),
            "mbit_s_cable": round(cable, 1),
            "mbit_s_tunnel_over_cable": round(tunnel / cable, 2),
            "ping_rtt_ms_tunnel": round(rtt_tunnel, 3),
            "ping_rtt_ms_cable": round(rtt_cable, 3),
            "ping_rtt_tunnel_over_cable": round(rtt_tunnel / rtt_cable, 2),
            "runs_mbit_s": {path: [round(r, 1) for r in found] for path, found in runs.items()},
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
