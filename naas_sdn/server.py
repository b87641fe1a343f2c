"""``naas-sdn serve``: one process with the model, the REST API and the OpenFlow controller."""
from __future__ import annotations

import logging
import signal
import threading
import time

import waitress.server

from naas_sdn import config

LOG = logging.getLogger("naas_sdn.server")


def serve(conf) -> int:
    logging.basicConfig(level=conf.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from naas_sdn.model import db
    from naas_sdn.model.service import NetworkService
    from naas_sdn.northbound.app import make_app
    from naas_sdn.apps import runtime

    service = NetworkService(db.connect(config.db_url(conf)))
    api_host, api_port = config.split_host_port(conf.api_listen, "--api-listen")
    from naas_sdn.northbound.plugins import UnknownPluginError
    try:
        app = with_metrics(make_app(service, plugins=conf.service_plugins, conf=conf))
    except UnknownPluginError as error:
        LOG.error("%s", error)
        service.close()
        return 2
    http = waitress.server.create_server(app, host=api_host, port=api_port,
                                         threads=conf.api_threads, ident="naas-sdn",
                                         clear_untrusted_proxy_headers=True)
    controller = runtime.start(conf, service)

    stop = threading.Event()

    def _on_signal(signum, _frame):
        LOG.info("signal %d: shutting down", signum)
        stop.set()
        http.close()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    LOG.info("REST API on http://%s:%d/, OpenFlow on %s", api_host, api_port, conf.ofp_listen)
    http_thread = threading.Thread(target=_run_http, args=(http, stop), name="rest-api", daemon=True)
    http_thread.start()
    while not stop.wait(0.5):
        if not http_thread.is_alive():
            LOG.error("REST server stopped unexpectedly")
            break
    controller.close()
    service.close()
    LOG.info("stopped")
    return 0


def with_metrics(app):
    """Serve the controller's Prometheus series at ``/metrics`` beside the Neutron API, and
    time every other request (``naas_api_request_seconds``)."""
    from prometheus_client import make_wsgi_app
    from naas_sdn.apps.metrics import API_REQUEST_SECONDS, REGISTRY

    metrics_app = make_wsgi_app(REGISTRY)

    def dispatch(environ, start_response):
        if environ.get("PATH_INFO") == "/metrics":
            return metrics_app(environ, start_response)
        started = time.perf_counter()
        method = environ.get("REQUEST_METHOD", "")
        status = []

        def capture(line, headers, exc_info=None):
            status[:] = [line]
            return start_response(line, headers, exc_info)

        def observe():
            code = status[0][:1] if status else "5"
            API_REQUEST_SECONDS.labels(
                method=method if method in _METHODS else "other",
                status=f"{code}xx").observe(time.perf_counter() - started)

        try:
            body = app(environ, capture)
        except BaseException:
            observe()
            raise
        return _TimedBody(body, observe)

    return dispatch


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class _TimedBody:
    """A WSGI body that reports once the server is done with it (PEP 3333: ``close`` is
    always called), so the time includes sending the body."""

    def __init__(self, body, done):
        self._body, self._done = body, done

    def __iter__(self):
        return iter(self._body)

    def close(self):
        try:
            if hasattr(self._body, "close"):
                self._body.close()
        finally:
            done, self._done = self._done, None
            if done is not None:
                done()


def _run_http(http, stop: threading.Event) -> None:
    try:
        http.run()
    except Exception:  # a closed socket during shutdown ends the loop with an error
        if not stop.is_set():
            LOG.exception("REST server failed")
