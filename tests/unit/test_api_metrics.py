"""``naas_api_request_seconds``: every API request timed to its last byte."""

from __future__ import annotations

import time

import webob

from naas_sdn.apps.metrics import REGISTRY
from naas_sdn.northbound.app import make_app
from naas_sdn.server import with_request_timing

SERIES = "naas_api_request_seconds"


def serve(app, req: webob.Request) -> tuple[str, bytes]:
    """Call ``app`` as a WSGI server does: iterate the body, then close it (PEP 3333)."""
    status = []
    body = app(req.environ, lambda line, headers, exc_info=None: status.append(line))
    try:
        data = b"".join(body)
    finally:
        if hasattr(body, "close"):
            body.close()
    return status[0], data


def observed(method: str, status: str) -> tuple[float, float]:
    labels = {"method": method, "status": status}
    return (
        REGISTRY.get_sample_value(SERIES + "_count", labels) or 0.0,
        REGISTRY.get_sample_value(SERIES + "_sum", labels) or 0.0,
    )


def test_requests_are_timed_by_method_and_status_class(service):
    app = with_request_timing(make_app(service, []))
    token = service.tokens.create("p")
    before = {
        key: observed(*key)
        for key in (("GET", "2xx"), ("GET", "4xx"), ("POST", "2xx"), ("other", "4xx"))
    }
    for method, path in (
        ("GET", "/v2.0/networks"),
        ("GET", "/v2.0/nothing"),
        ("GET", "/metrics"),
        ("POST", "/v2.0/networks"),
        ("BREW", "/v2.0/networks"),
    ):
        req = webob.Request.blank(path, method=method, headers={"X-Auth-Token": token})
        if method == "POST":
            req.body = b'{"network": {}}'
        serve(app, req)
    counts = {key: observed(*key)[0] - before[key][0] for key in before}
    # /metrics is no API path (the series have an address of their own): one more 404
    assert counts == {("GET", "2xx"): 1, ("GET", "4xx"): 2, ("POST", "2xx"): 1, ("other", "4xx"): 1}


def test_time_includes_sending_the_body():
    def slow(environ, start_response):
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")])

        def body():
            time.sleep(0.05)
            yield b"late"

        return body()

    before = observed("PUT", "5xx")
    assert serve(with_request_timing(slow), webob.Request.blank("/v2.0/x", method="PUT")) == (
        "503 Service Unavailable",
        b"late",
    )
    count, total = observed("PUT", "5xx")
    assert count == before[0] + 1 and total - before[1] >= 0.05


def test_a_scrape_of_named_series_skips_the_traffic_collector(service):
    """The traffic series are made at scrape time from every counted object: a scrape that
    asks for other series by name (as the tests and benchmarks poll flow-mods) does not pay
    for them, and one that asks for them gets them."""
    from prometheus_client import CollectorRegistry, generate_latest

    from naas_sdn.apps.metrics import TrafficCollector

    class Programmer:
        def installed_flow_counts(self):
            return {1: 7}

    collector = TrafficCollector(service, Programmer())
    registry = CollectorRegistry()
    registry.register(collector)
    made = []
    collect = collector.collect
    collector.collect = lambda: made.append(1) or collect()
    names = {family.name for family in collector.describe()}
    assert {"naas_port_tx_bytes", "naas_network_rx_packets", "naas_switch_flows"} <= names
    assert generate_latest(registry.restricted_registry(["naas_flow_mods_total"])) == b""
    assert made == []
    flows = generate_latest(registry.restricted_registry(["naas_switch_flows"])).decode()
    assert 'naas_switch_flows{switch_id="0000000000000001"} 7.0' in flows and made == [1]
