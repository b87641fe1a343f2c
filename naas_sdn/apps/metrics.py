"""Controller health series for operators, scraped at ``GET /metrics`` (Prometheus)."""

from __future__ import annotations

import gc
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from naas_sdn.features.statistics.store import StatisticsStore
from naas_sdn.model.snapshot import EMPTY

REGISTRY = CollectorRegistry()

FLOW_MODS = Counter("naas_flow_mods", "Flow-mods sent to switches", registry=REGISTRY)
GROUP_MODS = Counter("naas_group_mods", "Group-mods sent to switches", registry=REGISTRY)
METER_MODS = Counter("naas_meter_mods", "Meter-mods sent to switches", registry=REGISTRY)
SYNC_FAILURES = Counter(
    "naas_switch_sync_failures",
    "Switch synchronisations that failed and were retried",
    registry=REGISTRY,
)
FLOWS_REJECTED = Counter(
    "naas_flows_rejected",
    "Flows left out of a switch so the rest of it is programmed, by reason: "
    "an owner's flows not compiled (compile, once per owner while it "
    "lasts), os-ken could not encode it (encode), or the switch refused it "
    "or a meter it uses (refused)",
    ["reason"],
    registry=REGISTRY,
)
SWITCH_SYNCS = Counter(
    "naas_switch_syncs",
    "Completed switch synchronisations: full (tables read back) or update",
    ["kind"],
    registry=REGISTRY,
)
PACKET_INS = Counter("naas_packet_ins", "Packet-in messages handled", ["reason"], registry=REGISTRY)
SWITCHES = Gauge("naas_switches_connected", "Switches connected over OpenFlow", registry=REGISTRY)
MASTERSHIPS = Gauge(
    "naas_switches_mastered",
    "Switches this process is OpenFlow master of (all it is connected to, unless several "
    "processes share a PostgreSQL database)",
    registry=REGISTRY,
)
FABRIC_LINKS = Gauge("naas_fabric_links", "Unidirectional fabric links known", registry=REGISTRY)
TUNNEL_DROPPED = Gauge(
    "naas_tunnel_dropped_packets",
    "Packets each switch's tunnel port brought that no network admits (an unknown VNI, or a "
    "sender with no port on the network), as of the last statistics poll",
    ["switch_id"],
    registry=REGISTRY,
)
API_REQUEST_SECONDS = Histogram(
    "naas_api_request_seconds",
    "REST API requests (all but /metrics) by method and status class, from the call to the "
    "last byte of the body",
    ["method", "status"],
    registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
PASS_SECONDS = Histogram(
    "naas_programmer_pass_seconds",
    "Programmer passes that sent something: from taking the model's changes to the last "
    "switch's bundle acknowledged",
    registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
VIF_PROGRAMMED_SECONDS = Histogram(
    "naas_vif_programmed_seconds",
    "From OVSDB reporting a VIF plugged (or moved) to the end of the programmer pass that "
    "set up every switch for it: the controller's share of a port coming up",
    registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
GC_SECONDS = Histogram(
    "naas_gc_seconds",
    "Python's cyclic garbage collections by generation: each stops every thread, and a full "
    "one walks every object the controller holds, so it grows with the model",
    ["generation"],
    registry=REGISTRY,
    buckets=(0.0001, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)


def watch_garbage_collection() -> None:
    """Time every collection into GC_SECONDS: a gc callback, added by the one Runtime."""
    started = {}

    def timed(phase: str, info: dict) -> None:
        if phase == "start":
            started["at"] = time.perf_counter()
        elif "at" in started:
            GC_SECONDS.labels(generation=str(info["generation"])).observe(
                time.perf_counter() - started.pop("at")
            )

    gc.callbacks.append(timed)


STATS_ROUNDS = Histogram(
    "naas_stats_poll_seconds",
    "Duration of a round reading every switch's traffic counters",
    registry=REGISTRY,
)
STATS_BYTES = Counter(
    "naas_stats_reply_bytes",
    "Bytes of statistics replies read from switches, by kind (port, flow, meter)",
    ["kind"],
    registry=REGISTRY,
)


class TrafficCollector:
    """Per-network, per-port and per-switch series, made at scrape time from the statistics
    store and the model: labelled with the API's ids, so a series leads to its object. A
    network or port that has counted nothing yet (never plugged) has no series."""

    def __init__(self, service, programmer):
        self._service = service
        self._programmer = programmer

    def describe(self):
        """The families a scrape makes, with no series: named, a scrape that asks for other
        series alone (``/metrics?name[]=naas_flow_mods_total``) skips this collector."""
        return list(self._families(EMPTY, _NoTotals(), {}))

    def collect(self):
        return self._families(
            self._service.snapshot(),
            StatisticsStore.of(self._service),
            self._programmer.installed_flow_counts(),
        )

    def _families(self, model, store, flow_counts: dict):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        from naas_sdn.features.statistics.store import DROP_REASONS, TRAFFIC

        scopes = {
            "network": ["project_id", "network_id"],
            "port": ["project_id", "network_id", "port_id"],
        }
        for scope, labels in scopes.items():
            totals = store.all_totals(scope)
            objects = model.networks if scope == "network" else model.ports
            families = {
                name: CounterMetricFamily(
                    f"naas_{scope}_{name}",
                    f"{name.replace('_', ' ').capitalize()} of each "
                    f"{scope}, from the VM's side (tx: sent into the network)",
                    labels=labels,
                )
                for name in TRAFFIC
            }
            dropped = {
                unit: CounterMetricFamily(
                    f"naas_{scope}_dropped_{unit}",
                    f"{unit.capitalize()} of each {scope} dropped by a policy",
                    labels=labels + ["reason"],
                )
                for unit in ("packets", "bytes")
            }
            # Objects that have counted something: a port never plugged has no series, so
            # a scrape costs the ports that carry traffic, not all ports of the cloud.
            for object_id, values in totals.items():
                item = objects.get(object_id)
                if item is None:
                    continue
                ids = (
                    [item.project_id, object_id]
                    if scope == "network"
                    else [item.project_id, item.network_id, object_id]
                )
                for name, family in families.items():
                    family.add_metric(ids, values.get(name, 0))
                for unit, family in dropped.items():
                    for reason in DROP_REASONS:
                        family.add_metric(ids + [reason], values.get(f"dropped_{reason}_{unit}", 0))
            yield from families.values()
            yield from dropped.values()

        by_switch: dict[str, dict] = {}
        for port_id, values in store.all_totals("vif").items():
            if port_id in model.ports and values.get("switch_id"):
                sums = by_switch.setdefault(values["switch_id"], dict.fromkeys(TRAFFIC, 0))
                sums["vifs"] = sums.get("vifs", 0) + 1
                for name in TRAFFIC:
                    sums[name] += values.get(name, 0)
        flows = GaugeMetricFamily(
            "naas_switch_flows",
            "Flows the controller keeps on each connected switch",
            labels=["switch_id"],
        )
        for dpid, count in sorted(flow_counts.items()):
            flows.add_metric([f"{dpid:016x}"], count)
            by_switch.setdefault(f"{dpid:016x}", dict.fromkeys(TRAFFIC, 0))
        yield flows
        vifs = GaugeMetricFamily(
            "naas_switch_vifs", "VIFs counted on each switch", labels=["switch_id"]
        )
        traffic = {
            name: CounterMetricFamily(
                f"naas_switch_{name}",
                f"{name.replace('_', ' ').capitalize()} of the VIFs bound "
                f"on each switch, from the VMs' side",
                labels=["switch_id"],
            )
            for name in TRAFFIC
        }
        for switch_id, sums in sorted(by_switch.items()):
            vifs.add_metric([switch_id], sums.get("vifs", 0))
            for name, family in traffic.items():
                family.add_metric([switch_id], sums[name])
        yield vifs
        yield from traffic.values()


class _NoTotals:
    """A statistics store with nothing counted: what :meth:`TrafficCollector.describe` reads."""

    def all_totals(self, _scope: str) -> dict:
        return {}
