"""The API's HTTP server: open-files limit fitted to the connection limit, and the OVSDB
monitor's poller usable on the high descriptors that many connections bring."""

from __future__ import annotations

import resource
import socket

import ovs.poller
import pytest

from naas_sdn import http_server
from naas_sdn.apps import ovsdb  # noqa: F401  (chooses the poller)


def test_open_files_limit_is_raised_up_to_the_hard_limit(monkeypatch):
    limits = {"now": (1024, 2048)}
    monkeypatch.setattr(resource, "getrlimit", lambda kind: limits["now"])
    monkeypatch.setattr(resource, "setrlimit", lambda kind, value: limits.update(now=value))
    assert http_server.fit_open_files(1000) == 1000
    assert limits["now"] == (1000 + http_server.FILES_OUTSIDE_HTTP, 2048)
    # more than the hard limit allows: as many as fit beside the rest of the process
    assert http_server.fit_open_files(4096) == 2048 - http_server.FILES_OUTSIDE_HTTP
    assert limits["now"] == (2048, 2048)


def test_ovs_poller_waits_on_descriptors_above_1023():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"the open-files hard limit ({hard}) keeps descriptors below 1024")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 2048)), hard))
    filler = [socket.socket() for _ in range(1100)]
    reader, writer = socket.socketpair()
    try:
        assert reader.fileno() > 1023
        writer.send(b"x")
        poller = ovs.poller.Poller()
        poller.fd_wait(reader, ovs.poller.POLLIN)
        poller.timer_wait(5000)
        poller.block()
        assert reader.recv(1, socket.MSG_DONTWAIT) == b"x"
    finally:
        for sock in filler + [reader, writer]:
            sock.close()
