"""Slow clients cannot stall the API: a thousand unfinished requests leave it answering, a
request that arrives too slowly is cut off, an oversized body is refused with a Neutron 413.

Every socket goes to 127.0.0.1; timing is asserted only with wide margins (a request must
answer within the client's 10 s timeout, a deadline must be enforced within 20 s of it)."""

from __future__ import annotations

import contextlib
import resource
import socket
import threading
import time

import pytest

from tests.helpers import ApiClient, start_server

SLOW_CONNECTIONS = 1000
REQUEST_TIMEOUT = 2.0
IDLE_TIMEOUT = 6.0
MAX_BODY = 114688
UNFINISHED_HEADERS = b"GET /v2.0/networks HTTP/1.1\r\nHost: x\r\nX-Slow: "


def usable_sockets(wanted: int) -> int:
    """How many sockets this test process may open: its soft limit raised to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted + 256:
        soft = wanted + 256 if hard == resource.RLIM_INFINITY else min(hard, wanted + 256)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return min(wanted, soft - 256)


def connect(port: int) -> socket.socket:
    """A blocking socket (no timeout: ``still_open`` peeks without waiting)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.settimeout(None)
    return sock


def open_unfinished(port: int, count: int) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        sock = connect(port)
        sock.sendall(UNFINISHED_HEADERS)
        sockets.append(sock)
    return sockets


def still_open(sock: socket.socket) -> bool:
    """True while the server has neither closed nor answered the connection (never waits)."""
    try:
        return sock.recv(1, socket.MSG_DONTWAIT) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def read_response(sock: socket.socket) -> bytes:
    """One whole HTTP response (head and ``Content-Length`` bytes of body) from ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        body += chunk
    return head + b"\r\n\r\n" + body


class Trickler(threading.Thread):
    """Sends one more header byte on each socket every ``period`` seconds, never finishing."""

    def __init__(self, sockets, period=0.5):
        super().__init__(daemon=True)
        self.sockets, self.period = sockets, period
        self.done = threading.Event()

    def run(self):
        while not self.done.wait(self.period):
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.send(b"a", socket.MSG_DONTWAIT)


def closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closes ``sock`` (None if it stays open ``seconds``)."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if not still_open(sock):
            return time.monotonic() - started
        time.sleep(0.1)
    return None


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory):
    """Short deadlines so that the test can watch them fire; no metrics listener."""
    proc = start_server(
        tmp_path_factory.mktemp("strict-server"),
        extra_args=[
            "--api-request-timeout",
            str(REQUEST_TIMEOUT),
            "--api-idle-timeout",
            str(IDLE_TIMEOUT),
            "--metrics-listen",
            "",
        ],
    )
    yield proc
    assert proc.stop(timeout=5) == 0, proc.log_tail()


def test_api_answers_while_a_thousand_slow_clients_hang_on(server):
    count = usable_sockets(SLOW_CONNECTIONS)
    api = ApiClient(server.url, server.token("patient"))
    unfinished = open_unfinished(server.api_port, count // 2)
    trickling = open_unfinished(server.api_port, count - count // 2)
    trickler = Trickler(trickling)
    trickler.start()
    try:
        time.sleep(1.0)  # a couple of trickled bytes each
        for _ in range(10):
            started = time.monotonic()
            resp = api.get("/v2.0/networks")
            assert resp.status == 200, resp
            assert time.monotonic() - started < 10
        assert ApiClient(server.url).get("/v2.0/networks").status == 401
        held = sum(still_open(sock) for sock in unfinished + trickling)
        assert held == count, f"only {held} of {count} slow connections were still open"
    finally:
        trickler.done.set()
        trickler.join()
        for sock in unfinished + trickling:
            sock.close()


def test_a_request_arriving_too_slowly_is_cut_off(strict_server):
    api = ApiClient(strict_server.url, strict_server.token("patient"))
    trickling, unfinished = open_unfinished(strict_server.api_port, 2)
    blank_lines = connect(strict_server.api_port)
    trickler = Trickler([trickling], period=0.3)
    trickler.start()
    started = time.monotonic()
    try:
        for sock in (trickling, unfinished):
            elapsed = closed_within(sock, REQUEST_TIMEOUT + 20)
            assert elapsed is not None, strict_server.log_tail()
        # bare CRLFs are no request: sending them does not restart the clock
        for _ in range(int(REQUEST_TIMEOUT / 0.3) + 30):
            try:
                blank_lines.sendall(b"\r\n\r\n")
            except OSError:
                break
            if not still_open(blank_lines):
                break
            time.sleep(0.3)
        assert not still_open(blank_lines)
        assert time.monotonic() - started >= REQUEST_TIMEOUT - 0.1
        assert api.get("/v2.0/networks").status == 200
        assert "took more than 2s to send a request" in strict_server.log_tail(200)
    finally:
        trickler.done.set()
        trickler.join()
        for sock in (trickling, unfinished, blank_lines):
            sock.close()


def test_an_idle_connection_is_closed_a_kept_alive_one_answers(strict_server):
    idle = connect(strict_server.api_port)
    try:
        assert closed_within(idle, IDLE_TIMEOUT + 20) is not None
    finally:
        idle.close()
    with socket.create_connection(("127.0.0.1", strict_server.api_port), timeout=10) as alive:
        for _ in range(2):  # two requests on one connection, a pause between them
            alive.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = read_response(alive)
            assert answer.startswith(b"HTTP/1.1 200 "), answer
            time.sleep(REQUEST_TIMEOUT + 1)


def test_oversized_body_is_a_neutron_413(strict_server):
    api = ApiClient(strict_server.url, strict_server.token("uploader"))
    for size in (MAX_BODY + 1, 10 * MAX_BODY):
        resp = api.post("/v2.0/networks", raw=b" " * size)
        assert resp.status == 413, resp
        assert resp.headers["Content-Type"] == "application/json"
        assert resp.json == {
            "NeutronError": {
                "type": "HTTPRequestEntityTooLarge",
                "message": f"Request is too large. Larger than api_max_body_size ({MAX_BODY}).",
                "detail": "",
            }
        }
    # a body of exactly the limit is read and judged by the API (not JSON: 400)
    assert api.post("/v2.0/networks", raw=b" " * MAX_BODY).status == 400
    # the length announced is enough: the body is never read
    with socket.create_connection(("127.0.0.1", strict_server.api_port), timeout=10) as sock:
        sock.sendall(
            b"POST /v2.0/networks HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n"
        )
        answer = read_response(sock)
    assert answer.startswith(b"HTTP/1.1 413 ") and b'"HTTPRequestEntityTooLarge"' in answer


def test_unparsable_request_is_a_neutron_400(strict_server):
    with socket.create_connection(("127.0.0.1", strict_server.api_port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
        answer = read_response(sock)
    assert answer.startswith(b"HTTP/1.0 400 ") and b'"type": "HTTPBadRequest"' in answer


def test_metrics_listener_can_be_turned_off(strict_server):
    assert "metrics off" in strict_server.log_tail(200)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", strict_server.metrics_port), timeout=5).close()
