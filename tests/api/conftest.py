"""One real ``naas-sdn serve`` process for the whole API suite; tokens come from the real CLI."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.helpers import ApiClient, start_server


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    proc = start_server(
        tmp_path_factory.mktemp("api-server"),
        extra_args=["--service-plugins", "router,qos,protocol-block,statistics,l2-remote-gateway"],
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
    """Fresh-project tokens made with the real CLI, a batch at a time in parallel (each CLI run
    costs a Python start-up)."""

    BATCH = 16

    def __init__(self, server):
        self.server = server
        self.lock = threading.Lock()
        self.ready: dict[bool, list[tuple[str, str]]] = {False: [], True: []}

    def take(self, admin: bool) -> tuple[str, str]:
        with self.lock:
            if not self.ready[admin]:
                prefix = "admin-" if admin else "project-"
                projects = [prefix + uuid.uuid4().hex[:12] for _ in range(self.BATCH)]
                with ThreadPoolExecutor(self.BATCH) as pool:
                    tokens = list(pool.map(lambda p: self.server.token(p, admin=admin), projects))
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
