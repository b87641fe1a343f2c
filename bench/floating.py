"""What a floating IP's association costs the controller, and that it does not grow with the
model: the service in-process over SQLite, the kept inputs and the kept compilation of 20
switches (a line, the external network's uplink on the first), in a model of 10 ports with one
router and one of 10,000 bound ports on 100 networks, each behind a router of its own whose
gateway is on the external network, with 1,000 floating IPs associated; measured side by side
in one run.

Per change (associate a floating IP with a port, then free it): the API's write, the inputs'
advance and every switch's compilation, and the flows that change (on the exit switch
alone). Run: ``.venv/bin/python bench/floating.py``. Writes bench/results/floating.json.
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
from naas_sdn.features.router import add_router_interface  # noqa: E402
from naas_sdn.flows import compiler  # noqa: E402
from naas_sdn.flows.compilation import Compilation  # noqa: E402
from naas_sdn.flows.fabric import FabricSnapshot, VifLocation  # noqa: E402
from naas_sdn.flows.incremental import IncrementalInputs  # noqa: E402
from naas_sdn.flows.simulate import fabric_links  # noqa: E402
from naas_sdn.model import db  # noqa: E402
from naas_sdn.model.common import Context  # noqa: E402
from naas_sdn.model.service import NetworkService  # noqa: E402

SWITCHES = 20
SIZES = ((10, 1, 1), (10_000, 100, 1000))  # ports, networks (one router each), floating IPs
CHANGES = 40
TENANT, ADMIN = Context("tenant"), Context("admin", is_admin=True)


class Model:
    def __init__(self, path: str, ports: int, networks: int, fips: int):
        self.service = NetworkService(db.connect(f"sqlite:///{path}"))
        unlimited = dict.fromkeys(("port", "network", "subnet", "router", "floatingip"), -1)
        self.service.set_quota_limits("tenant", unlimited)
        svc = self.service
        public = svc.create_network(
            ADMIN,
            {"network_type": "flat", "physical_network": "physnet1", "external": True},
        )
        svc.create_subnet(
            ADMIN,
            {
                "network_id": public.id,
                "ip_version": 4,
                "cidr": "172.16.0.0/16",
                "gateway_ip": "172.16.0.1",
                "enable_dhcp": False,
            },
        )
        self.public = public.id
        self.vifs: dict[str, VifLocation] = {}
        self.ports: list[str] = []
        per_network = ports // networks
        for n in range(networks):
            net = svc.create_network(TENANT, {})
            subnet = svc.create_subnet(
                TENANT, {"network_id": net.id, "ip_version": 4, "cidr": f"10.{n}.0.0/16"}
            )
            router = svc.create_records(
                TENANT, "routers", [{"external_gateway_info": {"network_id": public.id}}]
            )[0]
            add_router_interface(svc, TENANT, router.id, {"subnet_id": subnet.id})
            for start in range(0, per_network, 500):
                count = min(500, per_network - start)
                made = svc.create_records(TENANT, "ports", [{"network_id": net.id}] * count)
                for port in made:
                    dpid = 1 + len(self.ports) % SWITCHES
                    self.vifs[port.id] = VifLocation(f"br{dpid}", dpid, 100 + len(self.ports))
                    self.ports.append(port.id)
        self.fips = [
            svc.create_records(
                TENANT,
                "floatingips",
                [{"floating_network_id": public.id, "port_id": self.ports[i]}],
            )[0].id
            for i in range(fips)
        ]
        self.spare = svc.create_records(
            TENANT, "floatingips", [{"floating_network_id": public.id}]
        )[0].id
        cables = [((d, 10 + d + 1), (d + 1, 10 + d)) for d in range(1, SWITCHES)]
        self.fabric = FabricSnapshot(
            switches=frozenset(range(1, SWITCHES + 1)),
            links=frozenset(fabric_links(cables)),
            vifs=MappingProxyType(self.vifs),
            uplinks=MappingProxyType({"physnet1": (VifLocation("br1", 1, 9),)}),
            neighbours=MappingProxyType({(public.id, "172.16.0.1"): "fa:16:3e:99:99:99"}),
        )
        self.inputs = IncrementalInputs()
        self.compilation = Compilation(compiler.Options())
        self.revision: int | None = None
        self.states = self.compile()

    def compile(self):
        model, changed = self.service.snapshot_since(self.revision)
        self.revision = model.revision
        bound, routers, rules = self.inputs.update(model, self.fabric, changed)
        return self.compilation.update(
            self.fabric.switches, bound, self.fabric.topology, routers, rules, model.extra
        )

    def change(self, port_id: str | None) -> tuple[float, int]:
        """Seconds of one change (write, inputs, compilation), flows that changed."""
        start = time.perf_counter()
        self.service.update_record(TENANT, "floatingips", self.spare, {"port_id": port_id})
        states = self.compile()
        spent = time.perf_counter() - start
        changed = sum(_changed_flows(states[d], self.states[d]) for d in states)
        self.states = states
        return spent, changed


def _changed_flows(state, before) -> int:
    """Flows added or removed between two states of a switch, from the owners the newer one
    says changed (``SwitchState.since``)."""
    if state is before:
        return 0
    _, owners = state.since
    empty: frozenset = frozenset()
    return sum(
        len(state.parts.get(owner, empty) ^ before.parts.get(owner, empty)) for owner in owners
    )


def main() -> int:
    report: dict = {}
    models = {}
    with tempfile.TemporaryDirectory() as tmp:
        for ports, networks, fips in SIZES:
            models[ports] = Model(f"{tmp}/{ports}.db", ports, networks, fips)
        gc.collect()
        gc.freeze()  # the models built: what a change costs, not a collection of them
        times: dict[int, list] = {p: [] for p in models}
        flows: dict[int, list] = {p: [] for p in models}
        for i in range(CHANGES):  # sizes take turns: the machine's load drifts
            for size, model in models.items():
                target = model.ports[-1 - i % 5] if i % 2 == 0 else None
                spent, changed = model.change(target)
                times[size].append(spent)
                flows[size].append(changed)
    small, large = (p for p, _, _ in SIZES)
    for size in models:
        report[f"ms_per_change_{size}"] = round(statistics.median(times[size]) * 1000, 2)
        report[f"flows_per_change_{size}"] = statistics.median(flows[size])
    report["ms_ratio"] = round(statistics.median(times[large]) / statistics.median(times[small]), 2)
    report_file.write("floating", report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
