"""``naas-sdn serve``: one process with the model, the REST API and the OpenFlow controller."""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
import time

from naas_sdn import config, http_server, nova

LOG = logging.getLogger("naas_sdn.server")


def _configure_logging(conf) -> None:
    logging.basicConfig(
        level=conf.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its INFO lines are for developers


def serve(conf) -> int:
    _configure_logging(conf)
    from naas_sdn.apps import runtime
    from naas_sdn.model import db
    from naas_sdn.model.service import NetworkService
    from naas_sdn.northbound.app import make_app

    api_host, api_port = config.split_host_port(conf.api_listen, "--api-listen")
    metrics_address = (
        config.split_host_port(conf.metrics_listen, "--metrics-listen")
        if conf.metrics_listen
        else None
    )
    from naas_sdn.model import migrations

    try:
        engine = db.connect(config.db_url(conf))
    except migrations.SchemaMismatch as error:
        LOG.error("%s", error)
        return 2
    from naas_sdn.model.segments import TenantSegments

    try:
        segments = TenantSegments.from_config(
            conf.tenant_network_types, conf.vni_ranges, conf.global_physnet_mtu
        )
    except ValueError as error:
        LOG.error("%s", error)
        return 2
    service = NetworkService(engine, segments)
    service.follow()  # other processes' commits, on a database shared with them
    from naas_sdn.northbound.plugins import UnknownPluginError

    try:
        app = with_request_timing(make_app(service, plugins=conf.service_plugins, conf=conf))
    except UnknownPluginError as error:
        LOG.error("%s", error)
        service.close()
        return 2
    try:
        servers = _http_servers(conf, app, (api_host, api_port), metrics_address)
    except OSError as error:
        LOG.error("cannot listen: %s", error)
        service.close()
        return 2
    controller = runtime.start(conf, service)
    stop_notifying = nova.notify(conf, service)

    stop = threading.Event()

    def _on_signal(signum, _frame):
        LOG.info("signal %d: shutting down", signum)
        stop.set()
        for http in servers:
            http.close()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    LOG.info(
        "REST API on http://%s:%d/, OpenFlow on %s, metrics %s",
        api_host,
        api_port,
        conf.ofp_listen,
        f"on http://{metrics_address[0]}:{metrics_address[1]}/metrics"
        if metrics_address
        else "off",
    )
    threads = [
        threading.Thread(target=_run_http, args=(http, stop), name=name, daemon=True)
        for http, name in zip(servers, ("rest-api", "metrics"), strict=False)
    ]
    for thread in threads:
        thread.start()
    while not stop.wait(0.5):
        if not all(thread.is_alive() for thread in threads):
            LOG.error("an HTTP server stopped unexpectedly")
            break
    controller.close()
    stop_notifying()
    service.close()
    LOG.info("stopped")
    return 0


def _http_servers(
    conf, app, api_address: tuple[str, int], metrics_address: tuple[str, int] | None
) -> list:
    """The API server and, if configured, the operators' metrics server: the Prometheus
    series name every tenant's objects, so they are kept off the API's address."""
    from prometheus_client import make_wsgi_app

    from naas_sdn.apps.metrics import REGISTRY

    limits = http_server.HttpLimits.from_conf(conf)
    metrics_connections = METRICS_CONNECTION_LIMIT if metrics_address else 0
    fitting = http_server.fit_open_files(limits.connection_limit + metrics_connections)
    api_connections = max(1, fitting - metrics_connections)
    if api_connections < limits.connection_limit:
        LOG.warning(
            "api_connection_limit lowered from %d to %d to fit the open-files limit "
            "(raise its hard limit: ulimit -Hn)",
            limits.connection_limit,
            api_connections,
        )
        limits = dataclasses.replace(limits, connection_limit=api_connections)
    servers = [http_server.create_server(app, *api_address, limits, threads=conf.api_threads)]
    if metrics_address:
        metrics_limits = dataclasses.replace(
            limits, connection_limit=METRICS_CONNECTION_LIMIT, max_body_size=0
        )
        try:
            servers.append(
                http_server.create_server(
                    make_wsgi_app(REGISTRY), *metrics_address, metrics_limits, threads=2
                )
            )
        except OSError:
            servers[0].close()
            raise
    return servers


# Prometheus scrapes over one connection; a few more leave room for an operator's curl.
METRICS_CONNECTION_LIMIT = 16


def with_request_timing(app):
    """Time every API request to its last byte (``naas_api_request_seconds``)."""
    from naas_sdn.apps.metrics import API_REQUEST_SECONDS

    def timed(environ, start_response):
        started = time.perf_counter()
        method = environ.get("REQUEST_METHOD", "")
        status: list[str] = []  # the status line, once the app has started its response

        def capture(line, headers, exc_info=None):
            status[:] = [line]
            return start_response(line, headers, exc_info)

        def observe():
            code = status[0][:1] if status else "5"
            API_REQUEST_SECONDS.labels(
                method=method if method in _METHODS else "other", status=f"{code}xx"
            ).observe(time.perf_counter() - started)

        try:
            body = app(environ, capture)
        except BaseException:
            observe()
            raise
        return _TimedBody(body, observe)

    return timed


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
