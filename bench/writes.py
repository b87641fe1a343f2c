"""The model's write path as the model grows: CPU of one port create + delete in the network
service (SQL transaction, rules, IPAM, MACs, mirror, events; no API, no switch) with 10, 1,000
and 10,000 ports already on the same network and subnet, measured side by side in one run.
What issue 13 asks of it: a change costs the same at 10,000 ports as at 10. Also the memory
the model takes: the process's RSS growth while each model is filled, per 1,000 ports.

Run: ``.venv/bin/python bench/writes.py``. Writes bench/results/writes.json.
"""

from __future__ import annotations

import gc
import os
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import report as report_file  # noqa: E402
from naas_sdn.model import db  # noqa: E402
from naas_sdn.model.common import Context  # noqa: E402
from naas_sdn.model.service import NetworkService  # noqa: E402

SIZES = (10, 1000, 10000)
CALLS = 300
OWNER = Context("owner")


def _filled(folder: pathlib.Path, ports: int) -> tuple[NetworkService, str]:
    service = NetworkService(db.connect(f"sqlite:///{folder / f'{ports}.sqlite'}"))
    service.set_quota_limits(OWNER.project_id, {"port": -1})
    net = service.create_network(OWNER, {"name": "bench"})
    service.create_subnet(OWNER, {"network_id": net.id, "ip_version": 4, "cidr": "10.0.0.0/16"})
    for start in range(0, ports, 500):
        service.create_ports(OWNER, [{"network_id": net.id}] * min(500, ports - start))
    return service, net.id


def _rss_mib() -> float:
    """This process's resident memory (Linux /proc)."""
    pages = int(pathlib.Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _cycle_ms(service: NetworkService, network_id: str) -> float:
    """Median CPU of one create + delete, over CALLS cycles (process time: not the disk's)."""
    samples = []
    for _ in range(CALLS):
        started = time.process_time()
        port = service.create_port(OWNER, {"network_id": network_id})
        service.delete_port(OWNER, port.id)
        samples.append(time.process_time() - started)
    samples.sort()
    return round(samples[len(samples) // 2] * 1e3, 3)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        models, grown = {}, {}
        for size in SIZES:
            gc.collect()
            before = _rss_mib()
            models[size] = _filled(folder, size)
            gc.collect()
            grown[size] = _rss_mib() - before
        try:
            runs: dict[int, list[float]] = {size: [] for size in SIZES}
            for _ in range(3):  # the sizes alternate, so the machine's noise falls on all
                for size, (service, network_id) in models.items():
                    runs[size].append(_cycle_ms(service, network_id))
        finally:
            for service, _ in models.values():
                service.close()
    cost = {size: sorted(samples)[1] for size, samples in runs.items()}
    small = SIZES[0]
    report = {
        "calls_per_measure": CALLS,
        "create_delete_cpu_ms": {f"{size} ports": cost[size] for size in SIZES},
        # the model's own memory: what filling it added to the process, per 1,000 ports
        "rss_mib_per_1000_ports": {
            f"{size} ports": round(grown[size] / size * 1000, 2) for size in SIZES[1:]
        },
        "ratios": {
            f"create+delete CPU at {size} / at {small}": round(cost[size] / cost[small], 2)
            for size in SIZES[1:]
        },
    }
    report_file.write("writes", report)


if __name__ == "__main__":
    main()
