"""What sharing costs per change, and that it does not grow with the model: the API
in-process over SQLite, a project sharing a network with another (an RBAC policy), the
target reading it and putting a port on it, then the port and the policy going (the policy's
delete checks who depends on it), in a model of 10 ports and one of 10,000 ports on 100
networks each shared with 10 projects, measured side by side in one run.

Run: ``.venv/bin/python bench/sharing.py``. Writes bench/results/sharing.json.
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

PLUGINS = ["qos"]
SIZES = ((10, 1, 1), (10_000, 100, 10))  # ports, networks, projects each network is shared with
CALLS = 100
OPS = ("share", "show", "port", "unport", "unshare")


def _entry(network_id: str, target: str) -> dict:
    return {
        "rbac_policy": {
            "object_type": "network",
            "object_id": network_id,
            "action": "access_as_shared",
            "target_tenant": target,
        }
    }


def _model(app, service, owner: str, ports: int, networks: int, targets: int) -> list[str]:
    """The owner's networks, each shared with ``targets`` projects that fill it with ports."""
    unlimited = {"port": -1, "network": -1, "subnet": -1, "rbac_policy": -1}
    service.set_quota_limits("owner", unlimited)
    made = []
    for n in range(networks):
        net = _call(app, "POST", "/v2.0/networks", owner, {"network": {}})["network"]
        subnet = {"network_id": net["id"], "ip_version": 4, "cidr": f"10.{n // 250}.{n % 250}.0/24"}
        if ports // networks > 250:
            subnet["cidr"] = f"10.{n}.0.0/16"
        _call(app, "POST", "/v2.0/subnets", owner, {"subnet": subnet})
        for t in range(targets):
            _call(app, "POST", "/v2.0/rbac-policies", owner, _entry(net["id"], f"t{n}-{t}"))
        per_network = ports // networks
        for start in range(0, per_network, 100):
            batch = [{"network_id": net["id"]} for _ in range(min(100, per_network - start))]
            _call(app, "POST", "/v2.0/ports", owner, {"ports": batch})
        made.append(net["id"])
    return made


def _measure(folder: pathlib.Path, ports: int, networks: int, targets: int) -> dict:
    service = NetworkService(db.connect(f"sqlite:///{folder / f'{ports}.sqlite'}"))
    try:
        app = make_app(service, PLUGINS)
        owner = service.tokens.create("owner")
        nets = _model(app, service, owner, ports, networks, targets)
        users = [service.tokens.create(f"user-{i}") for i in range(CALLS)]
        timings = dict.fromkeys(OPS, 0.0)
        for i, user in enumerate(users):
            net = nets[i % len(nets)]
            steps = (
                ("share", "POST", "/v2.0/rbac-policies", owner, _entry(net, f"user-{i}")),
                ("show", "GET", f"/v2.0/networks/{net}", user, None),
                ("port", "POST", "/v2.0/ports", user, {"port": {"network_id": net}}),
            )
            answers = {}
            for op, method, path, token, body in steps:
                started = time.perf_counter()
                answers[op] = _call(app, method, path, token, body)
                timings[op] += time.perf_counter() - started
            started = time.perf_counter()
            _call(app, "DELETE", f"/v2.0/ports/{answers['port']['port']['id']}", user)
            timings["unport"] += time.perf_counter() - started
            started = time.perf_counter()
            _call(
                app, "DELETE", f"/v2.0/rbac-policies/{answers['share']['rbac_policy']['id']}", owner
            )
            timings["unshare"] += time.perf_counter() - started
        return {f"{op}_ms": round(total / CALLS * 1e3, 3) for op, total in timings.items()}
    finally:
        service.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        runs = {
            f"{ports} ports, {networks} networks, {networks * targets} policies": _measure(
                folder, ports, networks, targets
            )
            for ports, networks, targets in SIZES
        }
    small, large = runs.values()
    report = {
        "calls_per_measure": CALLS,
        "runs": runs,
        "ratios": {
            f"{op}: at {SIZES[1][0]} ports / at {SIZES[0][0]}": round(
                large[f"{op}_ms"] / small[f"{op}_ms"], 2
            )
            for op in OPS
        },
    }
    report_file.write("sharing", report)


if __name__ == "__main__":
    main()
