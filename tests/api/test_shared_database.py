"""Two ``naas-sdn serve`` processes on one PostgreSQL database answer as one service: what
one accepts the other shows at once, and parallel writes on both keep every invariant."""

import pathlib
import tempfile
import threading
import time

import pytest

from tests.helpers import ApiClient, start_server
from tests.postgres import PrivateCluster


@pytest.fixture(scope="module")
def pair(tmp_path_factory, postgres):
    url = postgres.test_database()
    servers = []
    try:
        for name in ("first", "second"):
            servers.append(start_server(tmp_path_factory.mktemp(name), db_url=url))
        yield servers
    finally:
        for server in servers:
            assert server.stop(timeout=10) == 0, server.log_tail()


def clients(pair, project, admin=False):
    token = pair[0].token(project, admin)
    return [ApiClient(server.url, token) for server in pair]


def test_what_one_process_accepts_the_other_shows_at_once(pair):
    first, second = clients(pair, "tenant-a")
    net = first.post("/v2.0/networks", {"network": {"name": "n"}}).json["network"]
    assert second.get(f"/v2.0/networks/{net['id']}").status == 200
    renamed = second.put(f"/v2.0/networks/{net['id']}", {"network": {"name": "m"}})
    assert renamed.status == 200
    assert first.get(f"/v2.0/networks/{net['id']}").json["network"]["name"] == "m"
    stale = first.put(
        f"/v2.0/networks/{net['id']}",
        {"network": {"name": "x"}},
        headers={"If-Match": f"revision_number={net['revision_number']}"},
    )
    assert stale.status == 412  # the other process's update raised the revision
    assert first.delete(f"/v2.0/networks/{net['id']}").status == 204
    assert second.get(f"/v2.0/networks/{net['id']}").status == 404


def test_parallel_creates_on_both_processes_never_share_an_address(pair):
    first, second = clients(pair, "tenant-b")
    net = first.post("/v2.0/networks", {"network": {"name": "n"}}).json["network"]
    subnet = {"network_id": net["id"], "ip_version": 4, "cidr": "10.3.0.0/25"}
    assert first.post("/v2.0/subnets", {"subnet": subnet}).status == 201
    answered: list = []
    refused: list = []

    def create(api, count):
        for _ in range(count):
            resp = api.post("/v2.0/ports", {"port": {"network_id": net["id"]}})
            (answered if resp.status == 201 else refused).append(resp)

    threads = [threading.Thread(target=create, args=(api, 25)) for api in (first, second) * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not refused, [r.json for r in refused]
    ports = [r.json["port"] for r in answered]
    addresses = [ip["ip_address"] for p in ports for ip in p["fixed_ips"]]
    assert len(ports) == 100 and len(set(addresses)) == 100
    assert len({p["mac_address"] for p in ports}) == 100
    for api in (first, second):
        listed = api.get(f"/v2.0/ports?network_id={net['id']}").json["ports"]
        assert {p["id"] for p in listed} == {p["id"] for p in ports}


def test_a_quota_holds_across_processes(pair):
    first, second = clients(pair, "tenant-c")
    admin = clients(pair, "admin", admin=True)[0]
    limit = {"quota": {"network": 3}}
    assert admin.put("/v2.0/quotas/tenant-c", limit).status == 200
    made = [api.post("/v2.0/networks", {"network": {}}) for api in (first, second) * 2]
    assert sorted(r.status for r in made) == [201, 201, 201, 409]


def test_the_database_away_is_503_and_nothing_lost(tmp_path):
    """A PostgreSQL server stopped under a running process: requests are answered 503
    (Neutron's error body), the process stays up, and once the server is back everything
    acknowledged before is there and writes work again."""
    # a cluster of its own, in /tmp: its server user must reach it
    cluster = PrivateCluster(pathlib.Path(tempfile.mkdtemp(prefix="naas-pg-"))).start()
    server = None
    try:
        server = start_server(tmp_path / "server", db_url=cluster.new_database("naas"))
        api = ApiClient(server.url, server.token("tenant-a"))
        net = api.post("/v2.0/networks", {"network": {"name": "kept"}}).json["network"]
        cluster.pause()
        for resp in (api.get("/v2.0/networks"), api.post("/v2.0/networks", {"network": {}})):
            assert resp.status == 503, resp.raw
            assert resp.error_type == "HTTPServiceUnavailable"
        cluster.resume()
        assert wait_until(lambda: api.get("/v2.0/networks").status == 200)
        assert [n["id"] for n in api.get("/v2.0/networks").json["networks"]] == [net["id"]]
        assert api.post("/v2.0/networks", {"network": {}}).status == 201
        assert server.process.poll() is None
    finally:
        if server is not None:
            server.kill()
        cluster.stop()


def wait_until(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False
