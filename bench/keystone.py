"""What serving an OpenStack cloud costs, measured side by side in one run:

- a request's latency through the API with a Keystone token (validated by keystonemiddleware
  against a real Keystone once, then from its token cache) ÷ with a naas-sdn token (a SQL
  lookup of its hash), on two servers alike but for ``auth_strategy``;
- Nova's binding of a port (service role: device_id, device_owner, binding:host_id, then
  unbound again) in the network service, with the Nova notifier listening, at 10 and at
  10,000 ports: a binding must cost the same however many ports there are.

Run: ``.venv/bin/python bench/keystone.py``. Writes bench/results/keystone.json.
"""

from __future__ import annotations

import pathlib
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import report as report_file  # noqa: E402
from naas_sdn import nova  # noqa: E402
from naas_sdn.model import db  # noqa: E402
from naas_sdn.model.common import Context  # noqa: E402
from naas_sdn.model.service import NetworkService  # noqa: E402
from tests.helpers import ApiClient, ServerProcess, start_server  # noqa: E402
from tests.keystone import PrivateKeystone  # noqa: E402

SIZES = (10, 10000)
BINDINGS = 300
REQUESTS = 300
OWNER = Context("owner")
NOVA = Context.of_roles("service-project", ("service",))
PASSWORD = "bench-secret"


class _Quiet:
    """Nova's external-events API never reached: the notifier's batching is measured, not a
    network round trip (its thread posts after the interval, long after the measure)."""

    def post(self, *_args, **_kwargs):
        raise ConnectionError("not in this benchmark")


def _filled(folder: pathlib.Path, ports: int) -> tuple[NetworkService, list[str]]:
    service = NetworkService(db.connect(f"sqlite:///{folder / f'{ports}.sqlite'}"))
    service.set_quota_limits(OWNER.project_id, {"port": -1})
    service.set_hosts({"compute-1": {"bridge_name": "br-int", "datapath_type": "netdev"}})
    net = service.create_network(OWNER, {"name": "bench"})
    service.create_subnet(OWNER, {"network_id": net.id, "ip_version": 4, "cidr": "10.0.0.0/16"})
    made = []
    for start in range(0, ports, 500):
        made += service.create_ports(OWNER, [{"network_id": net.id}] * min(500, ports - start))
    nova.NovaNotifier(_Quiet(), interval=3600).listen(service)
    return service, [p.id for p in made[:BINDINGS]]


def _binding_ms(service: NetworkService, port_ids: list[str]) -> float:
    """Median CPU of Nova's bind + unbind of one port."""
    samples = []
    for i, port_id in enumerate(port_ids):
        started = time.process_time()
        service.update_port(
            NOVA,
            port_id,
            {
                "device_id": f"vm-{i}",
                "device_owner": "compute:nova",
                "binding_host_id": "compute-1",
            },
        )
        service.update_port(NOVA, port_id, {"binding_host_id": ""})
        samples.append(time.process_time() - started)
    return round(statistics.median(samples) * 1e3, 3)


def _latency_ms(client: ApiClient, path: str) -> float:
    samples = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        assert client.get(path).status == 200
        samples.append(time.perf_counter() - started)
    return round(statistics.median(samples) * 1e3, 3)


def _requests(folder: pathlib.Path) -> dict:
    keystone = PrivateKeystone(folder / "keystone").setup().start()
    keystone.populate(
        {"demo": ("demo", "member"), "neutron": ("service", "service")},
        {"demo": PASSWORD, "neutron": PASSWORD},
    )
    config = folder / "keystone.conf"
    config.write_text(
        "[DEFAULT]\nauth_strategy = keystone\n[keystone_authtoken]\n"
        + keystone.auth_options("neutron", PASSWORD)
    )
    behind = ServerProcess(folder / "behind-keystone", extra_args=["--config", str(config)])
    own = start_server(folder / "own-tokens")
    try:
        behind.start()
        from keystoneauth1 import session
        from keystoneauth1.identity import v3

        token = session.Session(
            auth=v3.Password(
                auth_url=keystone.url,
                username="demo",
                password=PASSWORD,
                project_name="demo",
                user_domain_name="Default",
                project_domain_name="Default",
            )
        ).get_token()
        clients = {
            "keystone": ApiClient(behind.url, token),
            "naas": ApiClient(own.url, own.token("demo")),
        }
        paths = {}
        for name, client in clients.items():
            net = client.post("/v2.0/networks", {"network": {"name": "bench"}}).json["network"]
            paths[name] = f"/v2.0/networks/{net['id']}"
        runs: dict[str, list[float]] = {name: [] for name in clients}
        for _ in range(3):  # alternating, so the machine's noise falls on both
            for name, client in clients.items():
                runs[name].append(_latency_ms(client, paths[name]))
    finally:
        behind.stop()
        own.stop()
        keystone.stop()
    latency = {name: sorted(samples)[1] for name, samples in runs.items()}
    return {
        "show_network_latency_ms": latency,
        "keystone token / naas token": round(latency["keystone"] / latency["naas"], 2),
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        requests = _requests(folder)
        models = {size: _filled(folder, size) for size in SIZES}
        try:
            runs: dict[int, list[float]] = {size: [] for size in SIZES}
            for _ in range(3):
                for size, (service, port_ids) in models.items():
                    runs[size].append(_binding_ms(service, port_ids))
        finally:
            for service, _ in models.values():
                service.close()
    cost = {size: sorted(samples)[1] for size, samples in runs.items()}
    report = {
        "requests_per_measure": REQUESTS,
        **requests,
        "nova_bind_unbind_cpu_ms": {f"{size} ports": cost[size] for size in SIZES},
        "ratios": {
            "bind+unbind at 10000 / at 10": round(cost[SIZES[1]] / cost[SIZES[0]], 2),
            "request with a keystone token / with a naas token": requests[
                "keystone token / naas token"
            ],
        },
    }
    report_file.write("keystone", report)


if __name__ == "__main__":
    main()
