"""Port-up with nothing else around: one bridge, one network, one peer VM, no other port.

What issue 13 asks at 0 ports: plug -> first ping reply (a VM, a namespace on a veth, plugged
with its iface-id, in the default group, pinging the peer on the same bridge every 2 ms),
beside the same on a bridge of Open vSwitch's own (standalone, NORMAL forwarding, no
controller) measured in the same run: what OVS itself takes to bring a port up, which no
controller can go under. Also API POST -> first reply, and the controller's share (its
naas_vif_programmed_seconds: OVSDB report -> every switch programmed).

Run as root with Open vSwitch up: ``.venv/bin/python bench/port_up.py``. Writes
bench/results/port_up.json.
"""

from __future__ import annotations

import pathlib
import statistics
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import report as report_file  # noqa: E402
from bench.run import bench_bridge  # noqa: E402
from bench.scale import (  # noqa: E402
    FLOOR_BRIDGE,
    FLOOR_PEER,
    Scale,
    Vm,
    floor_plug_to_ping,
    make_floor_bridge,
)
from tests.helpers import ApiClient, start_server  # noqa: E402

BRIDGE = "npu0"
SAMPLES = 15
VMS = ("vmup", "vmpeer", "vmfloor")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(tmp, extra_args=["--ovsdb", "unix:/var/run/openvswitch/db.sock"])
        try:
            bench_bridge(server.ofp_port, BRIDGE, 0xD00)
            scale = Scale(server, ApiClient(server.url, server.token("bench", admin=True)))
            peer = scale._create("ports", {"network_id": scale.network["id"]})
            peer_vm, floor_vm, vm = Vm("vmpeer"), Vm("vmfloor"), Vm("vmup")
            peer_vm.configure(peer)
            peer_vm.plug(BRIDGE, peer["id"])
            make_floor_bridge()
            floor_vm.configure(FLOOR_PEER)
            floor_vm.plug(FLOOR_BRIDGE)
            count0, sum0 = scale.programmed()
            ups = [scale.port_up(vm, peer, peer_vm, on=BRIDGE) for _ in range(SAMPLES)]
            count1, sum1 = scale.programmed()
            floors = [floor_plug_to_ping(vm, floor_vm) for _ in range(SAMPLES)]
        finally:
            server.stop()
            for name in (BRIDGE, FLOOR_BRIDGE):
                subprocess.run(["ovs-vsctl", "--if-exists", "del-br", name], check=False)
            for name in VMS:
                subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)
    plug_to_ping = statistics.median(u[1] for u in ups)
    ovs_alone = statistics.median(floors)
    report = {
        "samples": SAMPLES,
        "port_up_ms_p50": round(statistics.median(u[0] for u in ups), 1),
        "plug_to_ping_ms_p50": round(plug_to_ping, 1),
        "controller_vif_programmed_ms_mean": round(
            1000 * (sum1 - sum0) / max(1, count1 - count0), 1
        ),
        "plug_to_ping_ovs_alone_ms_p50": round(ovs_alone, 1),
        "plug_to_ping_over_ovs_alone": round(plug_to_ping / ovs_alone, 2),
    }
    report_file.write("port_up", report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
