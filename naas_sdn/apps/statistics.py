"""Reads the switches' traffic counters every ``stats_interval`` and feeds the statistics store.

Three kinds of switch statistics, each a few requests per switch and round:

- port statistics of every bound VIF: what the VM sent and received, all of it (broadcast,
  answers from the switch and the controller included), and the interface's drops and errors;
- flow statistics of the counted flows alone (cookie kind ``Owner.COUNTER``: a port's policy
  drops and its per-address flows), so a round reads a few flows per port, not the pipeline;
- meter statistics of the QoS meters: what a port's rate limit dropped.

A counted flow removed between two rounds reports its last counters in a flow-removed message;
messages are numbered in wire order, so a removal is applied before or after the round's
reading of that switch, as it happened.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time

from os_ken.ofproto import ofproto_v1_3 as ofproto
from os_ken.ofproto import ofproto_v1_3_parser as parser

from naas_sdn.apps import codec, metrics
from naas_sdn.apps.channel import SwitchError
from naas_sdn.features.statistics.store import Reading, StatisticsStore, ip_object
from naas_sdn.flows.layout import (
    QOS_METER_BASE,
    TUNNEL_DROP_COOKIE,
    Owner,
    cookie,
    counted_as,
    identity,
    owner_of,
)

LOG = logging.getLogger(__name__)
COUNTER_COOKIE = cookie(Owner.COUNTER, 0)
KIND_MASK = 0xFFFF << 48  # magic and owner kind: every counted flow of every port


class StatisticsPoller:
    def __init__(self, service, fabric_state, channels, interval: float, ready=lambda: True):
        self._service = service
        self._store = StatisticsStore.of(service)
        self._polled: set[int] = set()  # the switches read in the last round
        self._fabric = fabric_state
        self._channels = channels  # () -> {dpid: Channel}
        self._interval = interval
        self._ready = ready  # VIF locations known (OVSDB read): else a VIF looks gone
        # port key -> (port id, network id), kept after deletion
        self._owners: dict[int, tuple[str, str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="statistics", daemon=True)

    def start(self):
        if self._interval > 0:
            self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self):
        while not self._stop.wait(self._interval):
            if not self._ready():
                continue
            try:
                self.poll()
            except Exception:
                LOG.exception("statistics round failed")
        try:
            self._store.flush()
        except Exception:
            LOG.exception("writing the last statistics failed")

    def poll(self) -> dict:
        """One round over every connected switch; returns what it cost (seconds, switches,
        counted flows read, reply bytes by kind)."""
        started = time.perf_counter()
        model, fabric = self._service.snapshot(), self._fabric.snapshot()
        plugged = [model.ports[i] for i in fabric.vifs if i in model.ports]
        # Only plugged ports have counted flows and meters; a port's stays known until the
        # end of the round after it is gone (its flows' last counters may still come).
        self._owners.update({p.key: (p.id, p.network_id) for p in plugged})
        vifs = {
            (fabric.vifs[p.id].dpid, fabric.vifs[p.id].ofport): (p.id, p.network_id)
            for p in plugged
        }
        cost: dict[str, float] = {"switches": 0, "flows": 0, "port": 0, "flow": 0, "meter": 0}
        channels = self._channels()
        if self._store.shared:  # a switch this process now masters: go on from its last master
            for dpid in channels.keys() - self._polled:
                for kind in ("vif", "flow", "meter"):
                    self._store.reload_sources(f"{kind}/{dpid:016x}")
        self._polled = set(channels)
        for dpid, channel in sorted(channels.items()):
            try:
                self._poll_switch(channel, vifs, cost)
                cost["switches"] += 1
            except SwitchError as error:
                LOG.debug("statistics of %016x not read: %s", dpid, error)
        self._store.forget("network", model.networks)
        for scope in ("port", "vif", "ip"):
            self._store.forget(scope, model.ports)
        self._owners = {k: v for k, v in self._owners.items() if v[0] in model.ports}
        self._store.flush()
        cost["seconds"] = time.perf_counter() - started
        metrics.STATS_ROUNDS.observe(cost["seconds"])
        for kind in ("port", "flow", "meter"):
            metrics.STATS_BYTES.labels(kind=kind).inc(cost[kind])
        return cost

    def _poll_switch(self, channel, vifs: dict, cost: dict) -> None:
        dp, dpid = channel.datapath, channel.dpid
        ports = channel.request(parser.OFPPortStatsRequest(dp, 0, ofproto.OFPP_ANY))
        flows = channel.request(
            parser.OFPFlowStatsRequest(
                dp,
                0,
                ofproto.OFPTT_ALL,
                ofproto.OFPP_ANY,
                ofproto.OFPG_ANY,
                COUNTER_COOKIE,
                KIND_MASK,
                parser.OFPMatch(),
            )
        )
        meters = channel.request(parser.OFPMeterStatsRequest(dp, 0, ofproto.OFPM_ALL))
        removed = channel.take_removed()
        earlier = [m for m in removed if m.arrival < flows.arrival]
        later = [m for m in removed if m.arrival >= flows.arrival]
        self._removals(dpid, earlier)

        readings = []
        for stat in ports:
            bound = vifs.get((dpid, stat.port_no))
            if bound is not None:
                readings += self._vif_readings(channel, dpid, stat, *bound)
        for stat in flows:
            if identity(stat.cookie) == identity(TUNNEL_DROP_COOKIE):
                metrics.TUNNEL_DROPPED.labels(switch_id=f"{dpid:016x}").set(stat.packet_count)
                continue
            reading = self._flow_reading(dpid, stat)
            if reading is not None:
                readings.append(reading)
        for stat in meters:
            reading = self._meter_reading(dpid, stat)
            if reading is not None:
                readings.append(reading)
        seen = {r.source for r in readings}
        gone = [
            s
            for kind in ("vif", "flow", "meter")
            for s in self._store.sources(kind, f"{dpid:016x}")
            if s not in seen
        ]
        self._store.record(readings, gone)
        self._removals(dpid, later)
        cost["flows"] += len(flows)
        for kind, replies in (("port", ports), ("flow", flows), ("meter", meters)):
            cost[kind] += replies.wire_bytes

    # -- readings ----------------------------------------------------------------------------
    def _vif_readings(self, channel, dpid, stat, port_id, network_id) -> list[Reading]:
        """The switch receives what the VM sends: its rx is the port's tx, and the reverse."""
        desc = channel.datapath.ports.get(stat.port_no)
        name = (
            desc.name.decode(errors="replace")
            if desc is not None and isinstance(desc.name, bytes)
            else (desc.name if desc is not None else str(stat.port_no))
        )
        self._store.place_vif(
            port_id, {"name": name, "switch_id": f"{dpid:016x}", "ofport": stat.port_no}
        )
        age = stat.duration_sec + stat.duration_nsec / 1e9  # a re-created interface is younger
        base = f"vif/{dpid:016x}/{stat.port_no}/{port_id}"

        def traffic(direction, packets, nbytes):
            return Reading(
                f"{base}/{direction}",
                (("packets", packets), ("bytes", nbytes)),
                (
                    ("port", port_id, direction),
                    ("network", network_id, direction),
                    ("vif", port_id, direction),
                ),
                age,
            )

        def trouble(direction, dropped, errors):
            return Reading(
                f"{base}/{direction}-errors",
                (("dropped", dropped), ("errors", errors)),
                (("vif", port_id, direction),),
                age,
            )

        return [
            traffic("tx", stat.rx_packets, stat.rx_bytes),
            traffic("rx", stat.tx_packets, stat.tx_bytes),
            trouble("tx", stat.rx_dropped, stat.rx_errors),
            trouble("rx", stat.tx_dropped, stat.tx_errors),
        ]

    def _flow_reading(self, dpid, stat) -> Reading | None:
        owner = owner_of(stat.cookie)
        if owner is None or owner[0] != Owner.COUNTER or owner[1] not in self._owners:
            return None
        key = codec.flow_key(stat)
        what = counted_as(*key)
        if what is None:
            return None
        port_id, network_id = self._owners[owner[1]]
        prefix, ip = what
        targets: tuple[tuple[str, str, str], ...]
        if ip is None:
            targets = (("port", port_id, prefix), ("network", network_id, prefix))
        else:
            targets = (("ip", ip_object(port_id, ip), prefix),)
        digest = hashlib.blake2b(repr(key).encode(), digest_size=10).hexdigest()
        return Reading(
            f"flow/{dpid:016x}/{owner[1]}/{digest}",
            (("packets", stat.packet_count), ("bytes", stat.byte_count)),
            targets,
        )

    def _meter_reading(self, dpid, stat) -> Reading | None:
        if stat.meter_id < QOS_METER_BASE or not stat.band_stats:
            return None
        owner = self._owners.get((stat.meter_id - QOS_METER_BASE) // 2)
        if owner is None:
            return None
        port_id, network_id = owner
        band = stat.band_stats[0]
        return Reading(
            f"meter/{dpid:016x}/{stat.meter_id}",
            (("packets", band.packet_band_count), ("bytes", band.byte_band_count)),
            (("port", port_id, "dropped_qos"), ("network", network_id, "dropped_qos")),
        )

    def _removals(self, dpid, messages) -> None:
        """A removed flow's last counters count, then its source is forgotten (a flow added
        again with the same match starts from zero)."""
        for msg in messages:
            reading = self._flow_reading(dpid, msg)
            if reading is not None:
                self._store.record([reading], gone=[reading.source])
