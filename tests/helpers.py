"""Helpers shared by the API and dataplane tests: a real ``naas-sdn serve`` process and tokens."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

BIN_DIR = Path(sys.executable).parent
NAAS_SDN = str(BIN_DIR / "naas-sdn")
OPENSTACK = str(BIN_DIR / "openstack")


def send_json(handler, status: int, body) -> None:
    """Answer a request of an ``http.server`` stand-in (Keystone's, Nova's) with JSON."""
    raw = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(raw)))
    handler.end_headers()
    handler.wfile.write(raw)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class ServerProcess:
    """One ``naas-sdn serve`` subprocess on free ports with its own database.

    Attributes: ``url`` (``http://127.0.0.1:PORT``, no trailing slash), ``api_port``,
    ``ofp_port``, ``metrics_port``, ``metrics_url`` (the operators' Prometheus endpoint),
    ``db_url``, ``log_path``, ``process``.
    """

    def __init__(
        self, tmp_path, extra_args=(), db_url: str | None = None, ofp_host: str = "127.0.0.1"
    ):
        self.tmp_path = Path(tmp_path)
        self.tmp_path.mkdir(parents=True, exist_ok=True)
        self.db_url = db_url or f"sqlite:///{self.tmp_path / 'naas-sdn.sqlite'}"
        self.extra_args = list(extra_args)
        self.log_path = self.tmp_path / "server.log"
        self.api_port = free_port()
        self.ofp_host, self.ofp_port = ofp_host, free_port()
        self.metrics_port = free_port()
        self.url = f"http://127.0.0.1:{self.api_port}"
        self.metrics_url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        self.process: subprocess.Popen | None = None
        self._tokens: dict[tuple[str, bool], str] = {}

    def command(self) -> list[str]:
        cmd = [
            NAAS_SDN,
            "serve",
            "--db-url",
            self.db_url,
            "--api-listen",
            f"127.0.0.1:{self.api_port}",
            "--ofp-listen",
            f"{self.ofp_host}:{self.ofp_port}",
            "--metrics-listen",
            f"127.0.0.1:{self.metrics_port}",
        ]
        if "--ovsdb" not in self.extra_args:
            cmd += ["--ovsdb", "unix:/nonexistent"]  # no Open vSwitch needed for API tests
        return cmd + self.extra_args

    def start(self, timeout: float = 20.0) -> ServerProcess:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        """Wait until ``GET /`` answers; fail with the server's log if it exits or hangs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"naas-sdn serve exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(self.url + "/", timeout=1) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"naas-sdn serve did not answer within {timeout}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def token(self, project: str, admin: bool = False) -> str:
        """A token for ``project`` made with the real ``naas-sdn token create`` (cached)."""
        return self.tokens([project], admin)[0]

    def tokens(self, projects: list[str], admin: bool = False) -> list[str]:
        """Tokens for ``projects``, those not cached made by one ``naas-sdn token create``."""
        missing = [p for p in projects if (p, admin) not in self._tokens]
        if missing:
            cmd = [NAAS_SDN, "token", "create", "--db-url", self.db_url]
            for project in missing:
                cmd += ["--project", project]
            if admin:
                cmd.append("--admin")
            out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=30)
            made = out.stdout.split()
            assert len(made) == len(missing), out.stdout
            self._tokens.update(((p, admin), t) for p, t in zip(missing, made, strict=True))
        return [self._tokens[(p, admin)] for p in projects]

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM the server; raise if it does not exit within ``timeout`` seconds."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError(
                f"naas-sdn serve ignored SIGTERM for {timeout}s:\n{self.log_tail()}"
            ) from None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def restart(self, timeout: float = 20.0) -> ServerProcess:
        """Stop and start again on the same ports with the same database (tokens survive)."""
        self.stop()
        return self.start(timeout)


def start_server(
    tmp_path, extra_args=(), db_url: str | None = None, ofp_host: str = "127.0.0.1"
) -> ServerProcess:
    """Start ``naas-sdn serve`` with a fresh database under ``tmp_path``; ready when returned
    (OpenFlow on ``ofp_host``)."""
    return ServerProcess(tmp_path, extra_args, db_url, ofp_host).start()


class ApiClient:
    """A minimal JSON HTTP client keeping the status, headers and decoded body of each call."""

    def __init__(self, url: str, token: str | None = None):
        self.url = url.rstrip("/")
        self.token = token

    def request(self, method: str, path: str, body=None, headers=None, raw: bytes | None = None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        hdrs = {"Accept": "application/json"}
        if data is not None:
            hdrs["Content-Type"] = "application/json"
        if self.token is not None:
            hdrs["X-Auth-Token"] = self.token
        hdrs.update(headers or {})
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return Response(resp.status, dict(resp.headers), resp.read())
        except urllib.error.HTTPError as err:
            return Response(err.code, dict(err.headers), err.read())

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


class Response:
    def __init__(self, status: int, headers: dict, raw: bytes):
        self.status, self.headers, self.raw = status, headers, raw

    @property
    def json(self):
        return json.loads(self.raw) if self.raw else None

    @property
    def error_type(self) -> str | None:
        body = self.json
        return (
            body["NeutronError"]["type"]
            if isinstance(body, dict) and "NeutronError" in body
            else None
        )

    def __repr__(self):
        return f"<Response {self.status} {self.raw[:300]!r}>"
