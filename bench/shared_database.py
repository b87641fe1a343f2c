"""What several processes on one PostgreSQL database give: port creates per second through the
real REST API (``naas-sdn serve`` processes, 8 client threads), with one process on SQLite, one
on PostgreSQL and two on the same PostgreSQL (the clients split between them), measured side
by side in one run on a private cluster.

Writes serialize across processes (one advisory lock, see naas_sdn/model/replication.py), so
two processes do not double the write rate: what they add is the API's own work (parsing,
policy, rendering) spread over two processes, and a second process to fail over to. On these
2-core machines the clients, the servers and PostgreSQL share the same two cores.

Also what following another process's commits costs, and that it does not grow with the
model: in-process, two network services on one PostgreSQL database holding 10 ports and
10,000, a port created and deleted through one and applied by the other (its ``refresh``, as
before an API request), median milliseconds of each side.

Run: ``.venv/bin/python bench/shared_database.py``. Writes bench/results/shared_database.json.
"""

from __future__ import annotations

import pathlib
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import report as report_file  # noqa: E402
from naas_sdn.model import db  # noqa: E402
from naas_sdn.model.common import Context  # noqa: E402
from naas_sdn.model.service import NetworkService  # noqa: E402
from tests.helpers import ApiClient, start_server  # noqa: E402
from tests.postgres import PrivateCluster  # noqa: E402

SIZES = (10, 10_000)  # ports in the model when following another process's commits
FOLLOW_REPEATS = 100
CLIENTS = 8
CREATES = 600  # per setup, over all clients
WARMUP = 40


def _rate(servers) -> float:
    """Port creates per second by CLIENTS threads spread over ``servers``."""
    admin = ApiClient(servers[0].url, servers[0].token("operator", admin=True))
    admin.put("/v2.0/quotas/bench", {"quota": {"port": -1}})
    token = servers[0].token("bench")
    apis = [ApiClient(s.url, token) for s in servers]
    net = apis[0].post("/v2.0/networks", {"network": {}}).json["network"]
    subnet = {"network_id": net["id"], "ip_version": 4, "cidr": "10.0.0.0/16"}
    apis[0].post("/v2.0/subnets", {"subnet": subnet})
    body = {"port": {"network_id": net["id"]}}
    for k in range(WARMUP):
        assert apis[k % len(apis)].post("/v2.0/ports", body).status == 201
    failures: list = []

    def client(api, count):
        statuses = [api.post("/v2.0/ports", body).status for _ in range(count)]
        failures.extend(s for s in statuses if s != 201)

    threads = [
        threading.Thread(target=client, args=(apis[k % len(apis)], CREATES // CLIENTS))
        for k in range(CLIENTS)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    assert not failures, failures
    return round(CREATES / elapsed, 1)


def _run(folder: pathlib.Path, name: str, urls: list[str | None]) -> float:
    servers = []
    try:
        for k, url in enumerate(urls):
            servers.append(start_server(folder / f"{name}-{k}", db_url=url))
        return _rate(servers)
    finally:
        for server in servers:
            server.kill()


def _following(url: str, ports: int) -> dict:
    """Median ms of a port create + delete through one service and of the other applying
    both, with ``ports`` ports already in the model."""
    writer, follower = NetworkService(db.connect(url)), NetworkService(db.connect(url))
    try:
        owner = Context("bench")
        writer.set_quota_limits("bench", {"port": -1})
        net = writer.create_network(owner, {})
        writer.create_subnet(owner, {"network_id": net.id, "ip_version": 4, "cidr": "10.0.0.0/16"})
        for start in range(0, ports, 500):
            writer.create_ports(owner, [{"network_id": net.id}] * min(500, ports - start))
        follower.refresh()
        writes, follows = [], []
        for _ in range(FOLLOW_REPEATS):
            started = time.perf_counter()
            port = writer.create_port(owner, {"network_id": net.id})
            writer.delete_port(owner, port.id)
            written = time.perf_counter()
            follower.refresh()
            writes.append((written - started) * 1e3)
            follows.append((time.perf_counter() - written) * 1e3)
        assert len(follower.records("ports")) == ports
        return {"write_ms": _median(writes), "follow_ms": _median(follows)}
    finally:
        writer.close()
        follower.close()


def _median(samples: list[float]) -> float:
    return round(sorted(samples)[len(samples) // 2], 3)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        cluster = PrivateCluster(pathlib.Path(tempfile.mkdtemp(prefix="naas-pg-"))).start()
        try:
            following = {
                f"{ports} ports": _following(cluster.test_database(), ports) for ports in SIZES
            }
            rates = {
                "one process, SQLite": _run(folder, "sqlite", [None]),
                "one process, PostgreSQL": _run(folder, "pg1", [cluster.test_database()]),
                "two processes, one PostgreSQL": _run(folder, "pg2", [cluster.test_database()] * 2),
            }
        finally:
            cluster.stop()
    one_sqlite, one_pg, two_pg = rates.values()
    small, large = following.values()
    report = {
        "clients": CLIENTS,
        "creates_per_setup": CREATES,
        "port_creates_per_second": rates,
        "following_another_process": following,
        "ratios": {
            "two processes / one, on PostgreSQL": round(two_pg / one_pg, 2),
            "SQLite / PostgreSQL, one process": round(one_sqlite / one_pg, 2),
            f"a write at {SIZES[1]} ports / at {SIZES[0]}": round(
                large["write_ms"] / small["write_ms"], 2
            ),
            f"following it at {SIZES[1]} ports / at {SIZES[0]}": round(
                large["follow_ms"] / small["follow_ms"], 2
            ),
        },
    }
    report_file.write("shared_database", report)


if __name__ == "__main__":
    main()
