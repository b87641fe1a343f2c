"""What a packet trace costs, and that it does not grow with the model: the service in-process
over SQLite, the kept inputs and compilation of 20 switches (a line), the states published to
the traces' view as the programmer publishes them, in a model of 10 ports and one of 10,000
bound ports (two networks joined by a router, every port in its project's default group);
measured side by side in one run.

Per size: one change (a port disabled or enabled: its flows, and its address in its group's
on every switch) compiled, and published (the classifiers and the model's index follow it:
the cost traces add to every pass, per flow the change changed), then a routed trace from
the first switch to the tenth through the API's own code; and once, the
same trace with the model compiled whole (what a trace cost before the programmer's states
were kept for it).
Run: ``.venv/bin/python bench/trace.py``. Writes bench/results/trace.json.
"""

from __future__ import annotations

import gc
import pathlib
import statistics
import sys
import tempfile
import time
from types import MappingProxyType

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import report as report_file  # noqa: E402
from bench.floating import _changed_flows  # noqa: E402
from naas_sdn.features.router import add_router_interface  # noqa: E402
from naas_sdn.features.trace.api import Tracer  # noqa: E402
from naas_sdn.features.trace.dataplane import DataplaneView  # noqa: E402
from naas_sdn.flows import compiler  # noqa: E402
from naas_sdn.flows import trace as tracing  # noqa: E402
from naas_sdn.flows.compilation import Compilation  # noqa: E402
from naas_sdn.flows.fabric import FabricSnapshot, VifLocation  # noqa: E402
from naas_sdn.flows.incremental import IncrementalInputs  # noqa: E402
from naas_sdn.flows.simulate import fabric_links  # noqa: E402
from naas_sdn.model import db  # noqa: E402
from naas_sdn.model.common import Context  # noqa: E402
from naas_sdn.model.service import NetworkService  # noqa: E402

SWITCHES = 20
PATH = 10  # the switch a trace goes to, from the first
SIZES = (10, 10_000)
TRACES = 30
WHOLE = 1  # a trace with the model compiled whole, per size (minutes at 10,000)
TENANT = Context("tenant")


class Model:
    def __init__(self, path: str, ports: int):
        self.service = svc = NetworkService(db.connect(f"sqlite:///{path}"))
        svc.set_quota_limits("tenant", dict.fromkeys(("port", "network", "subnet"), -1))
        router = svc.create_records(TENANT, "routers", [{}])[0]
        self.vifs: dict[str, VifLocation] = {}
        self.ports: list = []
        for n in range(2):
            net = svc.create_network(TENANT, {})
            subnet = svc.create_subnet(
                TENANT, {"network_id": net.id, "ip_version": 4, "cidr": f"10.{n}.0.0/16"}
            )
            add_router_interface(svc, TENANT, router.id, {"subnet_id": subnet.id})
            for start in range(0, ports // 2, 500):
                count = min(500, ports // 2 - start)
                for port in svc.create_records(TENANT, "ports", [{"network_id": net.id}] * count):
                    dpid = 1 + len(self.ports) % SWITCHES
                    self.vifs[port.id] = VifLocation(f"br{dpid}", dpid, 100 + len(self.ports))
                    self.ports.append(port)
        cables = [((d, 10 + d + 1), (d + 1, 10 + d)) for d in range(1, SWITCHES)]
        self.fabric = FabricSnapshot(
            switches=frozenset(range(1, SWITCHES + 1)),
            links=frozenset(fabric_links(cables)),
            vifs=MappingProxyType(self.vifs),
        )
        self.view = DataplaneView.of(svc)
        self.view.publish(self.fabric)
        self.inputs = IncrementalInputs()
        self.compilation = Compilation(compiler.Options())
        self.revision: int | None = None
        self.states: dict = {}
        self.compile()
        # from the first switch to the tenth (as far at both sizes: a trace costs its path's
        # lookups), on the two networks, the router between
        first = next(p for p in self.ports if self.vifs[p.id].dpid == 1)
        last = next(
            p
            for p in self.ports
            if p.network_id != first.network_id and self.vifs[p.id].dpid == PATH
        )
        self.request = {"source_port_id": first.id, "destination_port_id": last.id}
        self.changing = self.ports[len(self.ports) // 2].id
        self.tracer = Tracer(svc)

    def compile(self) -> tuple[float, int]:
        """A programmer's pass: the inputs and switches advanced, the states published;
        the seconds the publication took, and the flows that changed."""
        follows = self.revision
        model, changed = self.service.snapshot_since(follows)
        self.revision = model.revision
        bound, routers, rules = self.inputs.update(model, self.fabric, changed)
        states = self.compilation.update(
            self.fabric.switches, bound, self.fabric.topology, routers, rules, model.extra
        )
        before = self.states
        start = time.perf_counter()
        self.view.publish_compiled(model, self.fabric, states, (follows, changed))
        spent = time.perf_counter() - start
        self.states = states
        return spent, sum(_changed_flows(states[d], before[d]) for d in states) if before else 0

    def change(self, i: int) -> tuple[float, int]:
        """Seconds the publication of one change's pass took (the write not counted), and
        the flows it changed."""
        self.service.update_record(TENANT, "ports", self.changing, {"admin_state_up": i % 2 == 1})
        return self.compile()

    def trace(self) -> tuple[float, bool]:
        start = time.perf_counter()
        (answer,) = self.tracer.create(TENANT, [dict(self.request)])
        return time.perf_counter() - start, answer.reachable

    def trace_compiling_whole(self) -> tuple[float, bool]:
        start = time.perf_counter()
        model = self.service.snapshot()
        states = compiler.compile_fabric(model, self.fabric)
        source, destination = self.request["source_port_id"], self.request["destination_port_id"]
        ports, request = (model.ports[source], model.ports[destination]), _request()
        addresses = self.tracer._addresses(*ports, request, 4)
        index = tracing.ModelIndex(model)
        packet = self.tracer._packet(model, index, *ports, request, addresses)
        found = tracing.trace(states, self.fabric, model, source, packet, destination)
        return time.perf_counter() - start, found.reachable


def _request() -> dict:
    return {"protocol": 1, "destination_port": None, "ethertype": "IPv4"}


def main() -> int:
    report: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        models = {size: Model(f"{tmp}/{size}.db", size) for size in SIZES}
        gc.collect()
        gc.freeze()  # the models built: what a trace costs, not a collection of them
        traces: dict[int, list] = {s: [] for s in SIZES}
        changes: dict[int, list] = {s: [] for s in SIZES}
        whole: dict[int, list] = {s: [] for s in SIZES}
        for i in range(TRACES):  # sizes take turns: the machine's load drifts
            for size, model in models.items():
                spent, flows = model.change(i)
                changes[size].append(spent / max(1, flows))
                spent, reachable = model.trace()
                assert reachable, "the routed trace must reach its destination"
                traces[size].append(spent)
        for _ in range(WHOLE):
            for size, model in models.items():
                spent, reachable = model.trace_compiling_whole()
                assert reachable
                whole[size].append(spent)
    small, large = SIZES
    for size in SIZES:
        report[f"trace_ms_{size}"] = round(statistics.median(traces[size]) * 1000, 2)
        report[f"publish_us_per_changed_flow_{size}"] = round(
            statistics.median(changes[size]) * 1e6, 2
        )
        report[f"trace_compiling_whole_ms_{size}"] = round(statistics.median(whole[size]) * 1000)
    report["trace_ratio"] = round(
        statistics.median(traces[large]) / statistics.median(traces[small]), 2
    )
    report["publish_ratio"] = round(
        statistics.median(changes[large]) / statistics.median(changes[small]), 2
    )
    report["whole_over_kept_at_10000"] = round(
        statistics.median(whole[large]) / statistics.median(traces[large]), 1
    )
    report_file.write("trace", report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
