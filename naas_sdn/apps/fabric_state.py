"""Live, mutable view of the physical fabric; publishes immutable FabricSnapshots.

Fed by the OpenFlow app (switch and port events, discovery probes) and the OVSDB monitor
(VIF locations, tunnel endpoints). Links are persisted so that after a controller restart
the fabric is known before the first probe returns: reconciling a switch against a fabric
with no links yet would tear down working inter-switch forwarding.
"""

from __future__ import annotations

import logging
import threading
import time
from types import MappingProxyType

from naas_sdn.flows.fabric import FabricSnapshot, Link, TunnelEndpoint, VifLocation

LOG = logging.getLogger(__name__)


class FabricState:
    def __init__(
        self,
        link_timeout: float,
        on_change,
        persist_links=None,
        initial_links=(),
        clock=time.monotonic,
        persist_neighbours=None,
        initial_neighbours=None,
        probing_since=None,
    ):
        self._lock = threading.Lock()
        self._clock = clock
        # dpid -> since when its ports are probed and its probes read (None: not now); by
        # default since it connected. Several processes: since it has had a working master.
        self._probing_since = probing_since
        self._link_timeout = link_timeout
        self._on_change = on_change
        self._persist = persist_links
        self._connected: dict[int, float] = {}  # dpid -> monotonic time of connection
        self._ports_up: dict[int, dict[int, str]] = {}  # dpid -> {ofport: name} of ports up
        self._links = {link: clock() for link in initial_links}  # link -> last seen
        self._vifs: dict[str, VifLocation] = {}
        self._vif_times: dict[str, float] = {}  # port id -> when its VIF came or moved
        self._endpoints: dict[int, TunnelEndpoint] = {}  # dpid -> its underlay endpoint
        self._uplinks: dict[str, tuple[VifLocation, ...]] = {}  # physical network -> uplinks
        self._neighbours: dict[tuple[str, str], str] = dict(initial_neighbours or {})
        self._persist_neighbours = persist_neighbours
        self._snapshot: FabricSnapshot | None = None

    # -- switches and ports ------------------------------------------------------------------
    def switch_connected(self, dpid: int, ports_up: dict[int, str]) -> None:
        with self._lock:
            self._connected[dpid] = self._clock()
            self._ports_up[dpid] = dict(ports_up)
            self._drop_links_on_down_ports(dpid)
        self._changed()

    def switch_disconnected(self, dpid: int) -> None:
        with self._lock:
            self._connected.pop(dpid, None)
        self._changed()

    def port_changed(self, dpid: int, ofport: int, name: str, up: bool) -> None:
        with self._lock:
            ports = self._ports_up.setdefault(dpid, {})
            if up:
                ports[ofport] = name
            else:
                ports.pop(ofport, None)
            links_changed = self._drop_links_on_down_ports(dpid)
        if links_changed or not up:
            self._changed(persist=links_changed)

    def _drop_links_on_down_ports(self, dpid: int) -> bool:
        up = self._ports_up.get(dpid, {})
        gone = [
            link
            for link in self._links
            if (link.src_dpid == dpid and link.src_port not in up)
            or (link.dst_dpid == dpid and link.dst_port not in up)
        ]
        for link in gone:
            LOG.info("fabric link %s gone (port down)", _fmt(link))
            del self._links[link]
        return bool(gone)

    def connected(self) -> dict[int, float]:
        with self._lock:
            return dict(self._connected)

    def _edge_ports(self) -> set[tuple[int, int]]:
        """(dpid, ofport) of the interfaces that are no fabric link: VMs' and the uplinks to
        physical networks (two switches on one physical network are not cabled together)."""
        found = {(v.dpid, v.ofport) for v in self._vifs.values()}
        found.update((v.dpid, v.ofport) for found_on in self._uplinks.values() for v in found_on)
        return found

    def probe_ports(self, dpid: int) -> dict[int, str]:
        """Ports worth probing for links: up, and neither a VM's nor an uplink."""
        with self._lock:
            edge = {ofport for switch, ofport in self._edge_ports() if switch == dpid}
            return {p: n for p, n in self._ports_up.get(dpid, {}).items() if p not in edge}

    # -- links -------------------------------------------------------------------------------
    def link_seen(self, link: Link) -> None:
        with self._lock:
            vif_ports = self._edge_ports()
            if (link.src_dpid, link.src_port) in vif_ports or (
                link.dst_dpid,
                link.dst_port,
            ) in vif_ports:
                return
            if link.dst_port not in self._ports_up.get(link.dst_dpid, {}):
                return
            new = link not in self._links
            self._links[link] = self._clock()
        if new:
            LOG.info("fabric link %s discovered", _fmt(link))
            self._changed(persist=True)

    def _evidence_since(self, dpid: int) -> float | None:
        connected = self._connected.get(dpid)
        if connected is None or self._probing_since is None:
            return connected
        since = self._probing_since(dpid)
        return None if since is None else max(since, connected)

    def expire_links(self) -> None:
        """Forget links not heard from although both ends could have reported them."""
        now = self._clock()
        with self._lock:
            gone = []
            for link, seen in self._links.items():
                ends = (self._evidence_since(link.src_dpid), self._evidence_since(link.dst_dpid))
                if None in ends:
                    continue  # no evidence either way while an end is not connected
                if now - max(seen, *ends) > self._link_timeout:
                    gone.append(link)
            for link in gone:
                LOG.info("fabric link %s gone (no probe for %.1fs)", _fmt(link), self._link_timeout)
                del self._links[link]
        if gone:
            self._changed(persist=True)

    # -- VIFs --------------------------------------------------------------------------------
    def set_vifs(self, vifs: dict[str, VifLocation]) -> bool:
        """Whether they changed (and the change was announced)."""
        with self._lock:
            if vifs == self._vifs:
                return False
            now, times = self._clock(), self._vif_times
            for port_id, location in vifs.items():
                if self._vifs.get(port_id) != location:
                    times[port_id] = now
            for port_id in [i for i in times if i not in vifs]:
                del times[port_id]
            self._vifs = dict(vifs)
        self._changed()
        return True

    def take_vif_times(self, vifs) -> dict[str, float]:
        """When each VIF of ``vifs`` (a snapshot's) came or moved there, for those not taken
        yet: what the programmer measures its latency from, once it has programmed them."""
        with self._lock:
            taken = {
                port_id: seen
                for port_id, seen in self._vif_times.items()
                if vifs.get(port_id) == self._vifs.get(port_id)
            }
            for port_id in taken:
                del self._vif_times[port_id]
            return taken

    # -- tunnel endpoints ----------------------------------------------------------------------
    def set_endpoints(self, endpoints: dict[int, TunnelEndpoint]) -> bool:
        """Whether they changed (and the change was announced)."""
        with self._lock:
            if endpoints == self._endpoints:
                return False
            self._endpoints = dict(endpoints)
        self._changed()
        return True

    # -- uplinks to physical networks --------------------------------------------------------
    def set_uplinks(self, uplinks: dict[str, tuple[VifLocation, ...]]) -> bool:
        """Whether they changed (and the change was announced)."""
        with self._lock:
            if uplinks == self._uplinks:
                return False
            self._uplinks = dict(uplinks)
        self._changed()
        return True

    # -- neighbours on physical networks ----------------------------------------------------
    def set_neighbour(self, network_id: str, ip: str, mac: str | None) -> bool:
        """Learn (or, with None, forget) the MAC of ``ip`` on a provider network; whether it
        changed (and the change was persisted and announced)."""
        with self._lock:
            key = (network_id, ip)
            if self._neighbours.get(key) == mac:
                return False
            if mac is None:
                del self._neighbours[key]
            else:
                self._neighbours[key] = mac
            neighbours = dict(self._neighbours)
        if self._persist_neighbours is not None:
            try:
                self._persist_neighbours(neighbours)
            except Exception:
                LOG.exception("could not persist neighbours")
        self._changed()
        return True

    # -- snapshots ---------------------------------------------------------------------------
    def snapshot(self) -> FabricSnapshot:
        with self._lock:
            if self._snapshot is None:
                self._snapshot = FabricSnapshot(
                    switches=frozenset(self._connected),
                    links=frozenset(self._links),
                    vifs=MappingProxyType(dict(self._vifs)),
                    endpoints=MappingProxyType(dict(self._endpoints)),
                    uplinks=MappingProxyType(dict(self._uplinks)),
                    neighbours=MappingProxyType(dict(self._neighbours)),
                )
            return self._snapshot

    def _changed(self, persist: bool = False) -> None:
        with self._lock:
            self._snapshot = None
            links = sorted(self._links)
        if persist and self._persist is not None:
            try:
                self._persist(
                    [(link.src_dpid, link.src_port, link.dst_dpid, link.dst_port) for link in links]
                )
            except Exception:
                LOG.exception("could not persist fabric links")
        self._on_change()


def _fmt(link: Link) -> str:
    return f"{link.src_dpid:016x}:{link.src_port} -> {link.dst_dpid:016x}:{link.dst_port}"
