"""naas-sdn benchmarks: ratios measured side by side in one run, on a real OVS bridge.

1. Flow-mods one port create costs in a model of 1000 bound ports / in a model of 10
   (must not grow: the programmer sends only the difference).
2. API port creates per second, sequential and with 8 clients, at 10 and at 1000 ports.

Run as root with Open vSwitch up: ``make bench``. Writes bench/results/latest.json.
"""

from __future__ import annotations

import concurrent.futures
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import report as report_file  # noqa: E402
from tests.dataplane.conftest import metric  # noqa: E402
from tests.helpers import ApiClient, start_server  # noqa: E402

BRIDGE = "nbench0"
SIZES = (10, 1000)


def vsctl(*args):
    subprocess.run(["ovs-vsctl", "--timeout=60", *args], check=True, capture_output=True)


def bench_bridge(ofp_port: int, name: str = BRIDGE, dpid: int = 0xB0) -> None:
    """A fresh userspace bridge, secure fail mode, connected to the controller on ofp_port."""
    vsctl("--if-exists", "del-br", name)
    vsctl(
        "add-br",
        name,
        "--",
        "set",
        "bridge",
        name,
        "datapath_type=netdev",
        "protocols=OpenFlow13",
        "fail-mode=secure",
        f"other-config:datapath-id={dpid:016x}",
        "--",
        "set-controller",
        name,
        f"tcp:127.0.0.1:{ofp_port}",
    )


def flow_count():
    out = subprocess.run(
        ["ovs-ofctl", "-O", "OpenFlow13", "dump-aggregate", BRIDGE],
        check=False,
        capture_output=True,
        text=True,
    ).stdout
    return int(out.split("flow_count=")[1].split()[0]) if "flow_count=" in out else -1


def mods(server):
    return sum(metric(server, f"naas_{kind}_mods_total") for kind in ("flow", "group", "meter"))


def settle(server, quiet=1.5, timeout=120):
    """Wait until the programmer has sent nothing for ``quiet`` seconds."""
    deadline = time.monotonic() + timeout
    last, since = mods(server), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = mods(server)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return now
    raise RuntimeError("the programmer did not settle")


class Bench:
    def __init__(self, server, api):
        self.server, self.api = server, api
        project = api.get("/v2.0/quotas/project").json["project"]["project_id"]
        # a benchmark holds more ports than one project's default quota (500) allows
        resp = api.put(f"/v2.0/quotas/{project}", {"quota": {"port": -1}})
        assert resp.status == 200, resp
        self.network = api.post("/v2.0/networks", {"network": {"name": "bench"}}).json["network"]
        self.bound = 0

    def add_ports(self, count):
        """Create ``count`` ports (bulk API) and plug each into the bridge with its iface-id."""
        for start in range(0, count, 100):
            batch = [
                {"network_id": self.network["id"], "name": f"p{self.bound + i}"}
                for i in range(start, min(count, start + 100))
            ]
            resp = self.api.post("/v2.0/ports", {"ports": batch})
            assert resp.status == 201, resp
            args = []
            for port in resp.json["ports"]:
                name = f"nb{self.bound}"
                self.bound += 1
                args += [
                    "--",
                    "add-port",
                    BRIDGE,
                    name,
                    "--",
                    "set",
                    "interface",
                    name,
                    "type=internal",
                    f"external_ids:iface-id={port['id']}",
                ]
            vsctl(*args)

    def one_port_cost(self):
        """Flow/group/meter-mods for creating one port, then for binding it."""
        before = settle(self.server)
        resp = self.api.post("/v2.0/ports", {"port": {"network_id": self.network["id"]}})
        created = settle(self.server)
        name = f"nb{self.bound}"
        self.bound += 1
        vsctl(
            "add-port",
            BRIDGE,
            name,
            "--",
            "set",
            "interface",
            name,
            "type=internal",
            f"external_ids:iface-id={resp.json['port']['id']}",
        )
        bound = settle(self.server)
        return created - before, bound - created

    def create_rate(self, count=100, clients=1):
        body = {"port": {"network_id": self.network["id"]}}
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(clients) as pool:
            statuses = list(
                pool.map(lambda _: self.api.post("/v2.0/ports", body).status, range(count))
            )
        elapsed = time.perf_counter() - start
        assert statuses == [201] * count
        return count / elapsed


def main() -> int:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(tmp, extra_args=["--ovsdb", "unix:/var/run/openvswitch/db.sock"])
        try:
            bench_bridge(server.ofp_port)
            bench = Bench(server, ApiClient(server.url, server.token("bench", admin=True)))
            for size in SIZES:
                bench.add_ports(size - bench.bound)
                settle(server)
                create_cost, bind_cost = bench.one_port_cost()
                results[size] = {
                    "bound_ports": bench.bound,
                    "switch_flows": flow_count(),
                    "mods_port_create": create_cost,
                    "mods_port_bind": bind_cost,
                    "creates_per_s_1_client": round(bench.create_rate(100, 1), 1),
                    "creates_per_s_8_clients": round(bench.create_rate(200, 8), 1),
                }
                bench.add_ports(0)
        finally:
            server.stop()
            subprocess.run(["ovs-vsctl", "--if-exists", "del-br", BRIDGE], check=False)
    small, large = results[SIZES[0]], results[SIZES[1]]
    ratios = {
        "mods_per_bind_1000_over_10": large["mods_port_bind"] / small["mods_port_bind"],
        "mods_per_create_1000_over_10": (large["mods_port_create"] + 1)
        / (small["mods_port_create"] + 1),
        "creates_per_s_1000_over_10": large["creates_per_s_1_client"]
        / small["creates_per_s_1_client"],
        "creates_per_s_8_over_1_client_at_1000": large["creates_per_s_8_clients"]
        / large["creates_per_s_1_client"],
    }
    report = {"results": results, "ratios": ratios}
    report_file.write("latest", report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
