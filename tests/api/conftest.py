"""One real ``naas-sdn serve`` process for the whole API suite, on each database naas-sdn
supports (SQLite, the default, and PostgreSQL, production's: every test runs on both); tokens
come from the real CLI."""

from __future__ import annotations

import json
import subprocess
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.helpers import OPENSTACK, ApiClient, free_port, send_json, start_server


def pytest_collection_modifyitems(config, items):
    """The ``openstack`` CLI's tests run against the SQLite server only: they check what the
    client sends and shows, over HTTP the other tests check on both databases, and each costs
    a Python start-up per command (twice the suite's longest tests, for no database's sake).
    openstacksdk's run on both."""
    postgres_cli = [
        item
        for item in items
        if (
            {"cli", "openstack_cli"} & set(getattr(item, "fixturenames", ()))
            or item.name.startswith("test_openstack_cli")
        )
        and getattr(item, "callspec", None) is not None
        and item.callspec.params.get("server") == "postgresql"
    ]
    if postgres_cli:
        config.hook.pytest_deselected(items=postgres_cli)
        items[:] = [item for item in items if item not in postgres_cli]


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def server(request, tmp_path_factory):
    on_postgres = request.param == "postgresql"
    proc = start_server(
        tmp_path_factory.mktemp("api-server"),
        db_url=request.getfixturevalue("postgres").new_database("naas_api")
        if on_postgres
        else None,
        extra_args=[
            "--service-plugins",
            "router,qos,protocol-block,statistics,l2-remote-gateway,network-ip-availability,trace",
        ],
    )
    yield proc
    assert proc.stop(timeout=5) == 0, proc.log_tail()


@pytest.fixture(scope="session")
def bare_server(tmp_path_factory):
    """A server with no service plugin at all: their areas answer 501."""
    proc = start_server(
        tmp_path_factory.mktemp("bare-server"), extra_args=["--service-plugins", ""]
    )
    yield proc
    assert proc.stop(timeout=5) == 0, proc.log_tail()


@pytest.fixture
def bare_alice(bare_server):
    client = ApiClient(bare_server.url, bare_server.token("bare-alice"))
    client.project = "bare-alice"
    return client


class TokenPool:
    """Fresh-project tokens made with the real CLI, a batch at a time (each CLI run costs a
    Python start-up: one run makes the whole batch)."""

    BATCH = 64

    def __init__(self, server):
        self.server = server
        self.lock = threading.Lock()
        self.ready: dict[bool, list[tuple[str, str]]] = {False: [], True: []}

    def take(self, admin: bool) -> tuple[str, str]:
        with self.lock:
            if not self.ready[admin]:
                prefix = "admin-" if admin else "project-"
                projects = [prefix + uuid.uuid4().hex[:12] for _ in range(self.BATCH)]
                tokens = self.server.tokens(projects, admin=admin)
                self.ready[admin] = list(zip(projects, tokens, strict=True))
            return self.ready[admin].pop()


@pytest.fixture(scope="session")
def token_pool(server):
    return TokenPool(server)


@pytest.fixture
def new_tenant(server, token_pool):
    """A factory of clients, each for a fresh project, so tests never see each other's objects."""

    def make(admin: bool = False) -> ApiClient:
        project, token = token_pool.take(admin)
        client = ApiClient(server.url, token)
        client.project = project
        return client

    return make


@pytest.fixture
def alice(new_tenant):
    return new_tenant()


@pytest.fixture
def bob(new_tenant):
    return new_tenant()


@pytest.fixture
def admin(new_tenant):
    return new_tenant(admin=True)


@pytest.fixture
def anonymous(server):
    return ApiClient(server.url)


@pytest.fixture
def external_network(admin):
    """``make(cidr=..., subnet=True, **attrs) -> (network, subnet or None)``: an admin's
    external flat provider network on a physical network of its own, with an IPv4 subnet.
    Every project sees it (the server is shared): after the test it goes, and first what
    still uses it (its floating IPs, routers' gateways on it)."""
    made = []

    def make(cidr="172.24.4.0/24", subnet=True, **attrs):
        tag = uuid.uuid4().hex[:8]
        body = {
            "name": "public-" + tag,
            "router:external": True,
            "provider:network_type": "flat",
            "provider:physical_network": "physnet-" + tag,
            **attrs,
        }
        resp = admin.post("/v2.0/networks", {"network": body})
        assert resp.status == 201, resp
        net = resp.json["network"]
        made.append(net)
        if not subnet:
            return net, None
        body = {"network_id": net["id"], "ip_version": 4, "cidr": cidr, "name": "sub-" + tag}
        resp = admin.post("/v2.0/subnets", {"subnet": body})
        assert resp.status == 201, resp
        return net, resp.json["subnet"]

    yield make
    for net in made:
        fips = admin.get(f"/v2.0/floatingips?floating_network_id={net['id']}").json
        for fip in fips["floatingips"]:
            admin.delete(f"/v2.0/floatingips/{fip['id']}")
        path = f"/v2.0/ports?network_id={net['id']}&device_owner=network:router_gateway"
        for port in admin.get(path).json["ports"]:
            gone = {"router": {"external_gateway_info": None}}
            admin.put(f"/v2.0/routers/{port['device_id']}", gone)
        assert admin.delete(f"/v2.0/networks/{net['id']}").status in (204, 404)


# ------------------------------------------------------------------------- the real CLI
class _IdentityStandIn(BaseHTTPRequestHandler):
    """Keystone's project lookups, which ``openstack quota`` and ``network rbac
    --target-project`` make before calling the network service: naas-sdn has no identity
    service, so the CLI is pointed at this one (its server's ``projects`` are known)."""

    def do_GET(self):
        base = f"http://127.0.0.1:{self.server.server_port}/v3"
        projects = self.server.projects  # type: ignore[attr-defined]
        path, _, _query = self.path.partition("?")
        if path.rstrip("/") == "/v3":
            body = {
                "version": {
                    "id": "v3.14",
                    "status": "stable",
                    "links": [{"rel": "self", "href": base + "/"}],
                }
            }
        elif path == "/v3/projects":
            body = {"projects": [_project(p) for p in projects], "links": {}}
        elif path.startswith("/v3/projects/") and path.split("/")[3] in projects:
            body = {"project": _project(path.split("/")[3])}
        else:
            body = None
        send_json(self, 200 if body else 404, body or {"error": {"code": 404}})

    def log_message(self, *args):
        pass


def _project(project_id: str) -> dict:
    return {"id": project_id, "name": project_id, "domain_id": "default", "enabled": True}


class Identity:
    """The stand-in's address and the projects it knows (a test adds its own)."""

    def __init__(self, url: str, projects: list[str]):
        self.url, self.projects = url, projects


@pytest.fixture
def identity():
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _IdentityStandIn)
    server.projects = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Identity(f"http://127.0.0.1:{server.server_port}/v3", server.projects)  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


@pytest.fixture
def openstack_cli(server, identity):
    """``run(client, *args)``: the real ``openstack`` CLI with ``client``'s token, its
    project lookups answered by the identity stand-in; JSON output parsed unless
    ``parse=False``; ``check=False`` returns the finished process, whatever its status."""

    def run(client, *args, parse=True, check=True):
        cmd = [
            OPENSTACK,
            "--os-auth-type",
            "admin_token",
            "--os-endpoint",
            server.url,
            "--os-token",
            client.token,
            *args,
        ] + (["-f", "json"] if parse else [])
        out = subprocess.run(
            cmd,
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
            env={
                "PATH": "/usr/bin:/bin",
                "HOME": "/tmp",
                "OS_IDENTITY_ENDPOINT_OVERRIDE": identity.url,
            },
        )
        if check:
            assert out.returncode == 0, out.stderr
        return json.loads(out.stdout) if parse and check else out

    return run
