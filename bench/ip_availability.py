"""What network IP availability costs, and that it does not grow with the ports: the API
in-process over SQLite, an admin listing every network's availability (all of it, and IPv4
only) and showing one network's, in a model of 10 networks holding 10 ports and the same
networks holding 10,000, measured side by side in one run. The used addresses are the
service's per-subnet counts, so a listing costs the subnets, never a walk over the ports.

Run: ``.venv/bin/python bench/ip_availability.py``. Writes bench/results/ip_availability.json.
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

PLUGINS = ["network-ip-availability"]
NETWORKS = 10
SIZES = (10, 10_000)  # ports, spread over the networks
CALLS = 200
PATH = "/v2.0/network-ip-availabilities"


def _model(app, service, owner: str, ports: int) -> list[str]:
    """The owner's networks, each with an IPv4 /16 and an IPv6 /64, filled with ports."""
    service.set_quota_limits("owner", {"port": -1, "network": -1, "subnet": -1})
    made = []
    for n in range(NETWORKS):
        net = _call(app, "POST", "/v2.0/networks", owner, {"network": {}})["network"]
        for version, cidr in ((4, f"10.{n}.0.0/16"), (6, f"2001:db8:{n}::/64")):
            subnet = {"network_id": net["id"], "ip_version": version, "cidr": cidr}
            _call(app, "POST", "/v2.0/subnets", owner, {"subnet": subnet})
        per_network = ports // NETWORKS
        for start in range(0, per_network, 100):
            batch = [{"network_id": net["id"]} for _ in range(min(100, per_network - start))]
            _call(app, "POST", "/v2.0/ports", owner, {"ports": batch})
        made.append(net["id"])
    return made


def _measure(folder: pathlib.Path, ports: int) -> dict:
    service = NetworkService(db.connect(f"sqlite:///{folder / f'{ports}.sqlite'}"))
    try:
        app = make_app(service, PLUGINS)
        owner = service.tokens.create("owner")
        admin = service.tokens.create("operator", admin=True)
        nets = _model(app, service, owner, ports)
        listed = _call(app, "GET", PATH, admin)["network_ip_availabilities"]
        assert sum(n["used_ips"] for n in listed) == 2 * ports  # one IPv4, one IPv6 each
        timings = {}
        for op, path in (
            ("list", PATH),
            ("list_ipv4", PATH + "?ip_version=4"),
            ("show", f"{PATH}/{nets[0]}"),
        ):
            started = time.perf_counter()
            for _ in range(CALLS):
                _call(app, "GET", path, admin)
            timings[f"{op}_ms"] = round((time.perf_counter() - started) / CALLS * 1e3, 3)
        return timings
    finally:
        service.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        runs = {f"{ports} ports, {NETWORKS} networks": _measure(folder, ports) for ports in SIZES}
    small, large = runs.values()
    report = {
        "calls_per_measure": CALLS,
        "runs": runs,
        "ratios": {
            f"{op}: at {SIZES[1]} ports / at {SIZES[0]}": round(
                large[f"{op}_ms"] / small[f"{op}_ms"], 2
            )
            for op in ("list", "list_ipv4", "show")
        },
    }
    report_file.write("ip_availability", report)


if __name__ == "__main__":
    main()
