"""DHCP benchmark, side by side in one run on real OVS + Mininet (root, Open vSwitch up).

1. Replies per second: one VM floods DISCOVERs for 5 s; OFFERs it receives per second,
   with the per-VM meter as configured (20 pps) and with it lifted (the controller's own
   capacity).
2. Isolation of the service: another tenant's VM probes DHCP latency, quiet and while the
   first VM floods; ratio flooded / quiet of the median latency (goal: close to 1).
"""

from __future__ import annotations

import pathlib
import statistics
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import report as report_file  # noqa: E402
from tests.helpers import ApiClient, start_server  # noqa: E402
from topologies.lab import lab, plug  # noqa: E402

PROBE = [str(ROOT / ".venv" / "bin" / "python"), str(ROOT / "bench" / "dhcp_probe.py")]


def setup(server):
    api = ApiClient(server.url, server.token("ops", admin=True))
    ports = {}
    for tenant, host in (("flooder", "f1"), ("victim", "v1")):
        net = api.post("/v2.0/networks", {"network": {"project_id": tenant}}).json["network"]
        api.post(
            "/v2.0/subnets",
            {
                "subnet": {
                    "network_id": net["id"],
                    "ip_version": 4,
                    "cidr": "10.0.0.0/24",
                    "project_id": tenant,
                }
            },
        )
        ports[host] = api.post(
            "/v2.0/ports", {"port": {"network_id": net["id"], "project_id": tenant}}
        ).json["port"]
    return ports


def run(rate: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        ini = pathlib.Path(tmp) / "naas.ini"
        ini.write_text(f"[DEFAULT]\nport_packet_in_rate = {rate}\n")
        server = start_server(
            tmp, extra_args=["--config", str(ini), "--ovsdb", "unix:/var/run/openvswitch/db.sock"]
        )
        try:
            ports = setup(server)
            with lab(server.ofp_port, hosts={"f1": 1, "v1": 1}) as net:
                for host, port in ports.items():
                    plug(net.get(host), port)
                f1, v1 = net.get("f1"), net.get("v1")

                def probe(n=40):
                    out = v1.cmd(
                        " ".join(
                            PROBE
                            + ["probe", v1.defaultIntf().name, ports["v1"]["mac_address"], str(n)]
                        )
                    )
                    values = [float(x) for x in out.split() if x != "timeout"]
                    return values, out.split().count("timeout")

                for _ in range(20):  # wait until the flows are in
                    if probe(1)[0]:
                        break
                quiet, quiet_lost = probe()
                flood = f1.popen(
                    PROBE + ["flood", f1.defaultIntf().name, ports["f1"]["mac_address"], "5"],
                    text=True,
                )
                flooded, flooded_lost = probe(40)
                sent, received = map(int, flood.communicate(timeout=60)[0].split())
        finally:
            server.stop()
    return {
        "port_packet_in_rate": rate,
        "flood_sent_per_s": round(sent / 5),
        "offers_per_s": round(received / 5, 1),
        "victim_median_ms_quiet": round(statistics.median(quiet), 2),
        "victim_median_ms_flooded": round(statistics.median(flooded), 2) if flooded else None,
        "victim_lost_quiet": quiet_lost,
        "victim_lost_flooded": flooded_lost,
    }


def main() -> int:
    metered, unmetered = run(20), run(100000)
    report = {
        "metered": metered,
        "unmetered": unmetered,
        "ratios": {
            "victim_latency_flooded_over_quiet_metered": metered["victim_median_ms_flooded"]
            / metered["victim_median_ms_quiet"],
            "victim_latency_flooded_over_quiet_unmetered": (
                unmetered["victim_median_ms_flooded"] or float("inf")
            )
            / unmetered["victim_median_ms_quiet"],
        },
    }
    report_file.write("dhcp", report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
