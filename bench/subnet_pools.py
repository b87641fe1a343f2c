"""What a subnet from a pool and an auto-allocated topology cost, and that it does not grow with
the ports: the API in-process over SQLite, in a model of 10 ports and of 10,000 (on networks
of other projects), measured side by side in one run. A pool's free prefixes come from its own
subnets, the default pools and the default external network from indexes of their own.

Each measure: a subnet created from a shared default pool and deleted again; a project's
auto-allocated topology (network, subnet from the default pool, router, gateway, interface)
built by its first GET and deleted again.

Run: ``.venv/bin/python bench/subnet_pools.py``. Writes bench/results/subnet_pools.json.
"""

from __future__ import annotations

import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import report as report_file  # noqa: E402
from bench.authorization import _call  # noqa: E402
from naas_sdn.model import db  # noqa: E402
from naas_sdn.model.service import NetworkService  # noqa: E402
from naas_sdn.northbound.app import make_app  # noqa: E402

PLUGINS = ["router"]
SIZES = (10, 10_000)  # ports of other projects
REPEATS = 30
TOPOLOGY = "/v2.0/auto-allocated-topology/None"


def _background(app, service, ports: int) -> None:
    """Other projects' ports, 100 to a network."""
    owner = service.tokens.create("others")
    service.set_quota_limits("others", {"port": -1, "network": -1, "subnet": -1})
    for n in range(0, ports, 100):
        net = _call(app, "POST", "/v2.0/networks", owner, {"network": {}})["network"]
        subnet = {"network_id": net["id"], "ip_version": 4, "cidr": f"10.{n // 100}.0.0/24"}
        _call(app, "POST", "/v2.0/subnets", owner, {"subnet": subnet})
        batch = [{"network_id": net["id"]} for _ in range(min(100, ports - n))]
        _call(app, "POST", "/v2.0/ports", owner, {"ports": batch})


def _defaults(app, admin: str) -> None:
    """The default external network with its subnet, and a shared default IPv4 pool."""
    public = {"router:external": True, "is_default": True}
    net = _call(app, "POST", "/v2.0/networks", admin, {"network": public})["network"]
    subnet = {"network_id": net["id"], "ip_version": 4, "cidr": "172.24.0.0/16"}
    _call(app, "POST", "/v2.0/subnets", admin, {"subnet": subnet})
    pool = {
        "prefixes": ["100.64.0.0/10"],
        "default_prefixlen": 24,
        "is_default": True,
        "shared": True,
    }
    _call(app, "POST", "/v2.0/subnetpools", admin, {"subnetpool": pool})


def _timed(work) -> float:
    """Median milliseconds of ``work()`` over REPEATS runs."""
    samples = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        work()
        samples.append((time.perf_counter() - started) * 1e3)
    return round(sorted(samples)[len(samples) // 2], 3)


def _measure(folder: pathlib.Path, ports: int) -> dict:
    service = NetworkService(db.connect(f"sqlite:///{folder / f'{ports}.sqlite'}"))
    try:
        app = make_app(service, PLUGINS)
        admin = service.tokens.create("operator", admin=True)
        tenant = service.tokens.create("tenant")
        _background(app, service, ports)
        _defaults(app, admin)
        net = _call(app, "POST", "/v2.0/networks", tenant, {"network": {}})["network"]

        def subnet_from_the_pool():
            body = {"network_id": net["id"], "ip_version": 4, "use_default_subnetpool": True}
            made = _call(app, "POST", "/v2.0/subnets", tenant, {"subnet": body})["subnet"]
            _call(app, "DELETE", f"/v2.0/subnets/{made['id']}", tenant)

        def topology():
            _call(app, "GET", TOPOLOGY, tenant)
            _call(app, "DELETE", TOPOLOGY, tenant)

        return {
            "subnet_from_pool_ms": _timed(subnet_from_the_pool),
            "topology_ms": _timed(topology),
        }
    finally:
        service.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        runs = {f"{ports} ports": _measure(folder, ports) for ports in SIZES}
    small, large = runs.values()
    report = {
        "repeats_per_measure": REPEATS,
        "runs": runs,
        "ratios": {
            f"{op}: at {SIZES[1]} ports / at {SIZES[0]}": round(large[op] / small[op], 2)
            for op in ("subnet_from_pool_ms", "topology_ms")
        },
    }
    report_file.write("subnet_pools", report)


if __name__ == "__main__":
    main()
