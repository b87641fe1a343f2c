"""Controller health series for operators, scraped at ``GET /metrics`` (Prometheus)."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

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
