"""What several processes on one PostgreSQL database give: port creates per second through the
real REST API (``naas-sdn serve`` processes, 8 client threads), with one process on SQLite, one
on PostgreSQL and two on the same PostgreSQL (the clients split between them), measured side
by side in one run on a private cluster.

Writes serialize across processes (one advisory lock, see naas_sdn/model/replication.py), so
two processes do not double the write rate: what they add is the API's own work (parsing,
policy, rendering) spread over two processes, and a second process to fail over to. On these
2-core machines the clients, the servers and PostgreSQL share the same two cores.

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
from tests.helpers import ApiClient, start_server  # noqa: E402
from tests.postgres import PrivateCluster  # noqa: E402

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


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        cluster = PrivateCluster(pathlib.Path(tempfile.mkdtemp(prefix="naas-pg-"))).start()
        try:
            rates = {
                "one process, SQLite": _run(folder, "sqlite", [None]),
                "one process, PostgreSQL": _run(folder, "pg1", [cluster.test_database()]),
                "two processes, one PostgreSQL": _run(folder, "pg2", [cluster.test_database()] * 2),
            }
        finally:
            cluster.stop()
    one_sqlite, one_pg, two_pg = rates.values()
    report = {
        "clients": CLIENTS,
        "creates_per_setup": CREATES,
        "port_creates_per_second": rates,
        "ratios": {
            "two processes / one, on PostgreSQL": round(two_pg / one_pg, 2),
            "SQLite / PostgreSQL, one process": round(one_sqlite / one_pg, 2),
        },
    }
    report_file.write("shared_database", report)


if __name__ == "__main__":
    main()
