"""What deciding every request with oslo.policy costs, and that the cost does not grow with
the model: the API in-process over SQLite, one project's requests on another's shared
network, with Neutron's default rules and with every rule made "allow" (the same code with
trivial rules), at 10 and at 1000 ports, measured side by side in one run.

Run: ``.venv/bin/python bench/authorization.py``. Writes bench/results/authorization.json.
"""

from __future__ import annotations

import json
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import webob  # noqa: E402
from oslo_config import cfg  # noqa: E402
from oslo_policy import opts as policy_opts  # noqa: E402

from bench import report as report_file  # noqa: E402
from naas_sdn.model import db  # noqa: E402
from naas_sdn.model.service import NetworkService  # noqa: E402
from naas_sdn.northbound.app import make_app  # noqa: E402

PLUGINS = ["router", "qos", "protocol-block", "statistics"]
SIZES = (10, 1000)
CALLS = 150


def _call(app, method, path, token, body=None):
    req = webob.Request.blank(path, method=method, headers={"X-Auth-Token": token})
    if body is not None:
        req.body = json.dumps(body).encode()
        req.content_type = "application/json"
    resp = req.get_response(app)
    assert resp.status_code < 300, resp.text
    return resp.json if resp.body else None


def _conf(policy_file: pathlib.Path | None) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf([], project="naas-sdn", default_config_files=[])
    if policy_file is not None:
        policy_opts.set_defaults(conf, policy_file=str(policy_file))
    return conf


def _allow_all(app, folder: pathlib.Path) -> pathlib.Path:
    path = folder / "allow.yaml"
    path.write_text(
        "".join(
            f'"{name}": ""\n' for name, check in sorted(app.authorizer.defaults.items()) if check
        )
    )
    return path


def _measure(folder: pathlib.Path, ports: int, allow_all: bool) -> dict:
    service = NetworkService(db.connect(f"sqlite:///{folder / f'{ports}-{allow_all}.sqlite'}"))
    try:
        app = make_app(service, PLUGINS)
        if allow_all:
            app = make_app(service, PLUGINS, _conf(_allow_all(app, folder)))
        owner, user = service.tokens.create("owner"), service.tokens.create("user")
        service.set_quota_limits("owner", {"port": -1})  # the model holds more than the default
        net = _call(app, "POST", "/v2.0/networks", owner, {"network": {"shared": True}})["network"]
        _call(
            app,
            "POST",
            "/v2.0/subnets",
            owner,
            {"subnet": {"network_id": net["id"], "ip_version": 4, "cidr": "10.0.0.0/16"}},
        )
        for start in range(0, ports, 100):
            _call(
                app,
                "POST",
                "/v2.0/ports",
                owner,
                {"ports": [{"network_id": net["id"]} for _ in range(min(100, ports - start))]},
            )
        started = time.perf_counter()
        made = [
            _call(
                app,
                "POST",
                "/v2.0/ports",
                user,
                {"port": {"network_id": net["id"], "name": "vm", "device_owner": "compute:nova"}},
            )["port"]
            for _ in range(CALLS)
        ]
        create = (time.perf_counter() - started) / CALLS
        started = time.perf_counter()
        for port in made:
            _call(app, "GET", "/v2.0/ports/" + port["id"], user)
        show = (time.perf_counter() - started) / CALLS
        started = time.perf_counter()
        for port in made:
            _call(app, "PUT", "/v2.0/ports/" + port["id"], user, {"port": {"name": "x"}})
        update = (time.perf_counter() - started) / CALLS
        return {
            "create_ms": round(create * 1e3, 3),
            "show_ms": round(show * 1e3, 3),
            "update_ms": round(update * 1e3, 3),
        }
    finally:
        service.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        runs = {
            f"{ports} ports, {name}": _measure(folder, ports, allow)
            for ports in SIZES
            for name, allow in (("neutron rules", False), ("allow all", True))
        }
    small, large = SIZES
    report = {"calls_per_measure": CALLS, "runs": runs, "ratios": {}}
    for op in ("create_ms", "show_ms", "update_ms"):
        report["ratios"][f"{op[:-3]}: neutron rules / allow all, at {small}"] = round(
            runs[f"{small} ports, neutron rules"][op] / runs[f"{small} ports, allow all"][op], 2
        )
        report["ratios"][f"{op[:-3]}: neutron rules at {large} / at {small}"] = round(
            runs[f"{large} ports, neutron rules"][op] / runs[f"{small} ports, neutron rules"][op], 2
        )
    report_file.write("authorization", report)


if __name__ == "__main__":
    main()
