"""Controller health series for operators, scraped at ``GET /metrics`` (Prometheus)."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()

FLOW_MODS = Counter("naas_flow_mods", "Flow-mods sent to switches", registry=REGISTRY)
GROUP_MODS = Counter("naas_group_mods", "Group-mods sent to switches", registry=REGISTRY)
METER_MODS = Counter("naas_meter_mods", "Meter-mods sent to switches", registry=REGISTRY)
SYNC_FAILURES = Counter("naas_switch_sync_failures",
                        "Switch synchronisations that failed and were retried", registry=REGISTRY)
SWITCH_SYNCS = Counter("naas_switch_syncs",
                       "Completed switch synchronisations: full (tables read back) or update",
                       ["kind"], registry=REGISTRY)
PACKET_INS = Counter("naas_packet_ins", "Packet-in messages handled", ["reason"],
                     registry=REGISTRY)
SWITCHES = Gauge("naas_switches_connected", "Switches connected over OpenFlow",
                 registry=REGISTRY)
FABRIC_LINKS = Gauge("naas_fabric_links", "Unidirectional fabric links known",
                     registry=REGISTRY)
API_REQUEST_SECONDS = Histogram(
    "naas_api_request_seconds",
    "REST API requests (all but /metrics) by method and status class, from the call to the "
    "last byte of the body", ["method", "status"], registry=REGISTRY,
    buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30))
STATS_ROUNDS = Histogram("naas_stats_poll_seconds",
                         "Duration of a round reading every switch's traffic counters",
                         registry=REGISTRY)
STATS_BYTES = Counter("naas_stats_reply_bytes",
                      "Bytes of port, flow and meter statistics replies read from switches",
                      registry=REGISTRY)
