"""The HTTP servers of the API and of the metrics endpoint: waitress, bounded against slow clients.

Why waitress: its one asyncore loop reads every request (headers and body) and hands a worker
thread only a complete request, so a client that sends slowly costs a socket and a few
kilobytes, never a thread. What it lacks, this module adds:

- a deadline for receiving one request, counted from its first byte: ``channel_timeout`` is
  an idle timeout, which a client sending one byte every few seconds resets forever;
- the Neutron error body (``{"NeutronError": ...}``) on the answers waitress gives itself
  (413 body too large, 431 headers too large, 400 unparsable request);
- ``poll()`` instead of ``select()`` (which fails above 1023 descriptors) and an open-files
  limit raised to fit the connection limit.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import resource
import socket
import time

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask

LOG = logging.getLogger(__name__)

# Descriptors kept for everything but HTTP clients: database, OVSDB, switches, logs.
FILES_OUTSIDE_HTTP = 512
# How often deadlines are checked: a late request is closed within about this long.
CHECK_INTERVAL = 1.0
# After an error answer, how long the rest of an unread request is read and dropped.
LINGER_SECONDS = 2.0


@dataclasses.dataclass(frozen=True)
class HttpLimits:
    """What one client may cost the server; the option names are the API's (``api_*``)."""

    connection_limit: int = 4096
    request_timeout: float = 30.0  # seconds to receive a request's headers and body
    idle_timeout: float = 60.0  # seconds a connection may wait between two requests
    max_header_size: int = 65536  # bytes of request line and headers
    max_body_size: int = 114688  # bytes of body (oslo.middleware's default, as Neutron)

    @classmethod
    def from_conf(cls, conf) -> HttpLimits:
        return cls(
            connection_limit=conf.api_connection_limit,
            request_timeout=conf.api_request_timeout,
            idle_timeout=conf.api_idle_timeout,
            max_header_size=conf.api_max_header_size,
            max_body_size=conf.api_max_body_size,
        )


def create_server(
    app, host: str, port: int, limits: HttpLimits, threads: int, ident: str = "naas-sdn"
) -> BoundedServer:
    """A waitress server for ``app`` on ``host:port`` within ``limits`` (call ``run()``)."""
    adj = Adjustments(
        host=host,
        port=port,
        threads=threads,
        ident=ident,
        clear_untrusted_proxy_headers=True,
        asyncore_use_poll=True,
        connection_limit=limits.connection_limit,
        channel_timeout=limits.idle_timeout,
        cleanup_interval=CHECK_INTERVAL,
        # waitress refuses a size equal to its limit: the limit is the largest size accepted
        max_request_header_size=limits.max_header_size + 1,
        max_request_body_size=limits.max_body_size + 1,
    )
    return BoundedServer(app, adj, limits)


def fit_open_files(connections: int) -> int:
    """Raise the soft open-files limit so that ``connections`` clients fit beside the rest of
    the process (never above the hard limit); return how many clients fit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + FILES_OUTSIDE_HTTP
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new_soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))
            soft = new_soft
        except (ValueError, OSError) as error:
            LOG.warning("cannot raise the open-files limit to %d: %s", new_soft, error)
    if soft == resource.RLIM_INFINITY:
        return connections
    return max(1, min(connections, soft - FILES_OUTSIDE_HTTP))


class TimedRequest(HTTPRequestParser):
    """A request being received, with the time its first byte arrived (``started``)."""

    started = 0.0


class NeutronErrorTask(ErrorTask):
    """The answer to a request waitress rejects itself, as a Neutron error body."""

    def execute(self):
        error = self.request.error
        limits = self.channel.server.limits
        if error.code == 413:
            message = (
                f"Request is too large. Larger than api_max_body_size ({limits.max_body_size})."
            )
        elif error.code == 431:
            message = (
                "Request header fields are too large. Larger than api_max_header_size "
                f"({limits.max_header_size})."
            )
        else:
            message = str(error.body)
        body = json.dumps(
            {
                "NeutronError": {
                    "type": "HTTP" + error.reason.replace(" ", ""),  # webob's names: HTTPBadRequest
                    "message": message,
                    "detail": "",
                }
            }
        ).encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.channel.linger_on_close = True
        self.content_length = len(body)
        self.write(body)


class BoundedChannel(HTTPChannel):
    """One client connection: requests carry their start time; errors speak Neutron."""

    error_task_class = NeutronErrorTask
    _latest_request: TimedRequest | None = None
    linger_on_close = False
    lingering_until: float | None = None

    def parser_class(self, adj) -> TimedRequest:
        """Start a request's clock, except after a blank "request" (bare CRLFs): HTTP ignores
        those, so they must not restart the deadline either."""
        request = TimedRequest(adj)
        latest = self._latest_request
        request.started = (
            latest.started if latest is not None and latest.empty else time.monotonic()
        )
        self._latest_request = request
        return request

    def receiving_since(self) -> float | None:
        """When the request now arriving began (blank lines before it included); None
        between requests."""
        latest = self._latest_request
        if latest is None or (latest.completed and not latest.empty):
            return None
        return latest.started

    def handle_close(self):
        """Close; but after an error answer, whose client may still be sending the body we
        refused, first read and drop its input for a moment: closing on unread data resets
        the connection, and the client would lose the answer (a lingering close, as Apache
        and nginx do)."""
        if self.socket is None:
            return
        if self.linger_on_close and self.lingering_until is None and self.connected:
            try:
                self.socket.shutdown(socket.SHUT_WR)
                self.lingering_until = time.monotonic() + LINGER_SECONDS
                return
            except OSError:
                pass
        super().handle_close()

    def readable(self):
        return self.lingering_until is not None or super().readable()

    def writable(self):
        return self.lingering_until is None and super().writable()

    def handle_read(self):
        if self.lingering_until is None:
            super().handle_read()
            return
        try:
            data = self.socket.recv(self.adj.recv_bytes)
        except OSError:
            data = b""
        if not data or time.monotonic() > self.lingering_until:
            super().handle_close()


class BoundedServer(TcpWSGIServer):
    """waitress's TCP server whose maintenance also closes connections whose current request
    has been arriving for longer than ``limits.request_timeout``."""

    channel_class = BoundedChannel

    def __init__(self, application, adj: Adjustments, limits: HttpLimits):
        self.limits = limits
        super().__init__(application, adj=adj)

    def maintenance(self, now):
        super().maintenance(now)
        monotonic_now = time.monotonic()
        for channel in [
            c
            for c in self.active_channels.values()
            if c.lingering_until is not None and c.lingering_until < monotonic_now
        ]:
            channel.handle_close()
        started_before = monotonic_now - self.limits.request_timeout
        late = [
            channel
            for channel in self.active_channels.values()
            if not channel.requests
            and not channel.will_close
            and (channel.receiving_since() or started_before) < started_before
        ]
        for channel in late:
            channel.will_close = True
        if late:
            LOG.warning(
                "closing %d connection(s) that took more than %gs to send a request",
                len(late),
                self.limits.request_timeout,
            )
