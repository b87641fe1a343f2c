"""Starts and wires the controller side: os-ken, fabric state, discovery, OVSDB, VIF binding,
programmer.

Events flow up (switches, probes, OVSDB -> fabric state), desired state flows down
(model + fabric -> compiler -> programmer -> switches).
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from typing import TYPE_CHECKING

from naas_sdn import config
from naas_sdn.apps import metrics
from naas_sdn.apps.binding import VifBinding
from naas_sdn.apps.channel import Channel
from naas_sdn.apps.discovery import Prober
from naas_sdn.apps.fabric_state import FabricState
from naas_sdn.apps.neighbours import GatewayNeighbours
from naas_sdn.apps.programmer import Programmer
from naas_sdn.apps.services import PacketServices
from naas_sdn.apps.statistics import StatisticsPoller
from naas_sdn.features.trace.dataplane import DataplaneView
from naas_sdn.flows import compiler
from naas_sdn.flows.fabric import Link

if TYPE_CHECKING:
    from naas_sdn.apps.ovsdb import BridgeHost

LOG = logging.getLogger(__name__)


class Runtime:
    def __init__(self, conf, service):
        self.conf = conf
        self.service = service
        self.channels: dict[int, Channel] = {}  # every connected switch
        self.masters: set[int] = set()  # those this process programs and answers
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._vifs_by_remote = {}
        self._endpoints_by_remote = {}
        self._uplinks_by_remote: dict[str, dict] = {}
        self._hosts_by_remote: dict[str, dict] = {}
        self.hosts: dict[int, BridgeHost] = {}  # dpid -> the compute host it serves
        self.mastership = self._mastership() if service.shared else None
        # probes one process sends, another may read: signed with a secret they share
        self.prober = Prober(self._cluster.secret("discovery") if self.mastership else None)
        self.fabric = FabricState(
            link_timeout=conf.link_timeout,
            probing_since=self.mastership.probing_since if self.mastership else None,
            on_change=self._fabric_changed,
            persist_links=service.fabric_links.save,
            initial_links=[Link(*row) for row in service.fabric_links.load()],
            persist_neighbours=service.fabric_links.save_neighbours,
            initial_neighbours=service.fabric_links.load_neighbours(),
        )
        self.monitors = []
        self.programmer = Programmer(
            service,
            self.fabric,
            compiler.Options(
                packet_in_rate=conf.packet_in_rate, port_packet_in_rate=conf.port_packet_in_rate
            ),
            generation=int(time.time()) & 0xFF,
            ready=self._ovsdb_synced,
            settle=2 * conf.discovery_interval + 1.0,
            may_program=self.mastership.is_master if self.mastership else lambda dpid: True,
            compiled=DataplaneView.of(service).publish_compiled,
        )
        self.binding = VifBinding(
            service, self.fabric, ready=self._ovsdb_synced, hosts=lambda: self.hosts
        )
        self._app_manager = None
        self.services = PacketServices(service, self.fabric, self._send_packet)
        self.neighbours = GatewayNeighbours(service, self.fabric, self._send_packet)
        self.statistics = StatisticsPoller(
            service,
            self.fabric,
            self._master_channels,
            conf.stats_interval,
            ready=self._ovsdb_synced,
        )
        self._traffic_metrics = None
        self._ra_due = {}  # port id -> monotonic time of its next router advertisement
        self._sighted: set[Link] = set()  # fabric links seen since last shared

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self):
        metrics.watch_garbage_collection()
        self._start_ovsdb()
        DataplaneView.of(self.service).publish(self.fabric.snapshot())
        self.service.subscribe(self.programmer.changed)
        self.service.subscribe(self.binding.changed)  # a port created after its VIF plugged
        self.binding.start()
        self.programmer.start()
        self._start_os_ken()
        threading.Thread(target=self._discovery_loop, name="discovery", daemon=True).start()
        threading.Thread(target=self._advert_loop, name="router-adverts", daemon=True).start()
        self.neighbours.start()
        self.statistics.start()
        if self.mastership is not None:
            self.mastership.start()
        self._traffic_metrics = metrics.TrafficCollector(self.service, self.programmer)
        metrics.REGISTRY.register(self._traffic_metrics)
        return self

    def close(self):
        self._stop.set()
        if self.mastership is not None:
            self.mastership.stop()
        if self._traffic_metrics is not None:
            metrics.REGISTRY.unregister(self._traffic_metrics)
        self.statistics.stop()
        self.neighbours.stop()
        self.programmer.stop()
        self.binding.stop()
        for monitor in self.monitors:
            monitor.stop()
        if self._app_manager is not None:
            try:
                self._app_manager.close()
            except Exception:
                LOG.exception("closing os-ken")

    def _mastership(self):
        """On a database shared with other processes, who is master of each switch."""
        import os
        import socket
        import uuid

        from naas_sdn.apps.mastership import Mastership
        from naas_sdn.model.cluster import ClusterStore

        store = self._cluster = self.service.beside(ClusterStore)
        store.join(
            f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
            self.conf.mastership_lease,
        )
        return Mastership(store, self._connected_channels, self._became_master, self._became_slave)

    def _start_ovsdb(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ovs.poller probes for eventlet, which warns
            from naas_sdn.apps.ovsdb import OvsdbMonitor
        for remote in self.conf.ovsdb_connections:
            monitor = OvsdbMonitor(remote, self._vifs_changed, self._remote_tunnels)
            monitor.start()
            self.monitors.append(monitor)

    def _start_os_ken(self):
        from os_ken import cfg as os_ken_cfg
        from os_ken.base import app_manager

        from naas_sdn.apps import openflow

        host, port = config.split_host_port(self.conf.ofp_listen, "--ofp-listen")
        os_conf = os_ken_cfg.CONF
        os_conf(args=[], project="os_ken")
        os_conf.set_override("ofp_listen_host", host)
        os_conf.set_override("ofp_tcp_listen_port", port)
        os_conf.set_override("echo_request_interval", self.conf.echo_interval)
        os_conf.set_override("maximum_unreplied_echo_requests", self.conf.echo_max_unreplied)
        openflow.RUNTIME = self
        manager = app_manager.AppManager.get_instance()
        manager.load_apps(["naas_sdn.apps.openflow"])
        contexts = manager.create_contexts()
        self._app_manager = manager
        # A daemon thread, so that every hub thread os-ken spawns from it is a daemon too.
        started = threading.Event()

        def run():
            manager.instantiate_apps(**contexts)
            started.set()

        threading.Thread(target=run, name="os-ken", daemon=True).start()
        started.wait(10)

    def _remote_tunnels(self):
        """The bridge terminating remote sites' tunnels and the connections' views."""
        views = self.service.snapshot().extra.get("l2_remote_gateway_connections", {})
        return self.conf.remote_gateway_bridge or None, tuple(views.values())

    # -- readiness and VIFs ------------------------------------------------------------------
    def _ovsdb_synced(self) -> bool:
        return all(m.synced.is_set() for m in self.monitors)

    def _vifs_changed(self, remote, vifs, endpoints=None, uplinks=None, hosts=None):
        with self._lock:
            self._vifs_by_remote[remote] = vifs
            self._endpoints_by_remote[remote] = endpoints or {}
            self._uplinks_by_remote[remote] = uplinks or {}
            self._hosts_by_remote[remote] = hosts or {}
            serving = {d: h for part in self._hosts_by_remote.values() for d, h in part.items()}
            moved_hosts = serving != self.hosts
            self.hosts = serving
            merged, reached = {}, {}
            for part in self._vifs_by_remote.values():
                merged.update(part)
            for part in self._endpoints_by_remote.values():
                reached.update(part)
            leading: dict[str, list] = {}
            for part in self._uplinks_by_remote.values():
                for physnet, places in part.items():
                    leading.setdefault(physnet, []).extend(places)
        first = not self._ovsdb_synced()
        self.fabric.set_endpoints(reached)
        moved = self.fabric.set_uplinks(
            {
                physnet: tuple(sorted(places, key=lambda v: (v.dpid, v.ofport)))
                for physnet, places in leading.items()
            }
        )
        if moved_hosts:  # where Nova may bind ports, and what a VIF's host is called
            self.service.set_hosts(
                {
                    h.host: {"bridge_name": h.bridge, "datapath_type": h.datapath_type}
                    for h in serving.values()
                }
            )
        changed = self.fabric.set_vifs(merged) or moved or moved_hosts
        # Also after a first dump equal to nothing (set_vifs then reports no change): the
        # switches waiting for it are read, and the statuses of unplugged ports resync. Any
        # other update that moved no VIF (an interface's row before OVS numbers its port)
        # wakes nobody: a pass for nothing would hold up the one for the port's number.
        if first:
            self.programmer.changed()
        if changed or first:
            self.binding.changed()

    def _fabric_changed(self):
        DataplaneView.of(self.service).publish(self.fabric.snapshot())  # what traces read
        self.programmer.changed()

    # -- OpenFlow events (called from the os-ken app's handlers) -----------------------------
    def switch_connected(self, datapath):
        channel = Channel(datapath)
        with self._lock:
            old = self.channels.get(datapath.id)
            self.channels[datapath.id] = channel
            self.masters.discard(datapath.id)
        if old is not None:
            old.close()
        ports = {
            no: p.name.decode(errors="replace") if isinstance(p.name, bytes) else p.name
            for no, p in datapath.ports.items()
            if no < datapath.ofproto.OFPP_MAX and not p.state & datapath.ofproto.OFPPS_LINK_DOWN
        }
        LOG.info(
            "switch %016x connected from %s with %d ports",
            datapath.id,
            datapath.address[0] if datapath.address else "?",
            len(ports),
        )
        self.fabric.switch_connected(datapath.id, ports)
        metrics.SWITCHES.set(len(self.channels))
        if self.mastership is not None:
            self.mastership.connected(datapath.id)  # master or slave, once the lease says
        else:
            self._became_master(datapath.id, channel)

    def _became_master(self, dpid: int, channel: Channel) -> None:
        """This process programs the switch from now on: read back, reconciled by diff."""
        with self._lock:
            if self.channels.get(dpid) is not channel:
                return  # reconnected meanwhile: the new connection is decided anew
            self.masters.add(dpid)
        self.service.refresh()  # the newest model, not the one a frozen process last saw
        self.programmer.switch_connected(channel)
        self._probe_switch(dpid)

    def _became_slave(self, dpid: int) -> None:
        """Another process programs the switch: leave it alone (its flows stay)."""
        with self._lock:
            if dpid not in self.masters:
                return
            self.masters.discard(dpid)
        self.programmer.switch_disconnected(dpid)

    def switch_disconnected(self, datapath):
        with self._lock:
            channel = self.channels.get(datapath.id)
            if channel is None or channel.datapath is not datapath:
                return  # an older connection of a switch that has reconnected
            del self.channels[datapath.id]
            self.masters.discard(datapath.id)
        channel.close()
        LOG.info("switch %016x disconnected", datapath.id)
        if self.mastership is not None:
            self.mastership.disconnected(datapath.id)
        self.programmer.switch_disconnected(datapath.id)
        self.fabric.switch_disconnected(datapath.id)
        metrics.SWITCHES.set(len(self.channels))

    def port_status(self, datapath, reason, desc):
        ofproto = datapath.ofproto
        if desc.port_no >= ofproto.OFPP_MAX:
            return
        up = reason != ofproto.OFPPR_DELETE and not desc.state & ofproto.OFPPS_LINK_DOWN
        name = desc.name.decode(errors="replace") if isinstance(desc.name, bytes) else desc.name
        self.fabric.port_changed(datapath.id, desc.port_no, name, up)
        if up:
            self._probe_port(datapath.id, desc.port_no, desc.hw_addr)

    def packet_in(self, msg):
        if msg.datapath.id not in self.masters:
            return  # a connection not yet made SLAVE: its master answers
        in_port = msg.match.get("in_port")
        link = self.prober.parse(msg.data, msg.datapath.id, in_port)
        if link is not None:
            metrics.PACKET_INS.labels(reason="discovery").inc()
            self.fabric.link_seen(link)
            if self.mastership is not None:
                with self._lock:
                    self._sighted.add(link)
            return
        if self.neighbours.handle(msg.datapath.id, in_port, msg.data):
            metrics.PACKET_INS.labels(reason="neighbour").inc()
            return
        kind = self.services.handle(msg.datapath.id, in_port, msg.data)
        metrics.PACKET_INS.labels(reason=kind or "other").inc()

    def _master_channel(self, dpid) -> Channel | None:
        """The switch's connection, if this process is its master (else packets and probes
        are its master's to send: a SLAVE's would be refused)."""
        with self._lock:
            return self.channels.get(dpid) if dpid in self.masters else None

    def _send_packet(self, dpid, ofport, data):
        from naas_sdn.apps import codec

        channel = self._master_channel(dpid)
        if channel is not None:
            channel.send(codec.packet_out(channel.datapath, ofport, data))

    def _advert_loop(self):
        """Unsolicited router advertisements: about a second after a VM is plugged (its
        flows are in by then), then every ra_interval."""
        while not self._stop.wait(1.0):
            try:
                now = time.monotonic()
                vifs = self.fabric.snapshot().vifs
                due = {pid: self._ra_due.get(pid, now + 1.0) for pid in vifs}
                self._ra_due = due
                for port_id, when in due.items():
                    if when > now:
                        continue
                    self._ra_due[port_id] = now + self.conf.ra_interval
                    location = vifs[port_id]
                    where = self.services.locate(location.dpid, location.ofport)
                    advert = self.services.router_advert(where) if where else None
                    if advert is not None:
                        self._send_packet(location.dpid, location.ofport, advert)
            except Exception:
                LOG.exception("router advertisement round failed")

    def flow_removed(self, msg):
        with self._lock:
            channel = self.channels.get(msg.datapath.id)
        if channel is not None:
            channel.flow_removed(msg)

    def _connected_channels(self) -> dict:
        with self._lock:
            return dict(self.channels)

    def _master_channels(self) -> dict:
        with self._lock:
            return {dpid: c for dpid, c in self.channels.items() if dpid in self.masters}

    def reply(self, msg):
        with self._lock:
            channel = self.channels.get(msg.datapath.id)
        if channel is not None:
            channel.deliver(msg)

    # -- discovery ---------------------------------------------------------------------------
    def _discovery_loop(self):
        while not self._stop.wait(self.conf.discovery_interval):
            try:
                with self._lock:
                    dpids = list(self.masters)
                for dpid in dpids:
                    self._probe_switch(dpid)
                if self.mastership is not None:
                    self._share_sightings()
                self.fabric.expire_links()
                metrics.FABRIC_LINKS.set(len(self.fabric.snapshot().links))
            except Exception:
                LOG.exception("discovery round failed")

    def _share_sightings(self) -> None:
        """Links are seen by the master of the switch a probe arrives on, neighbours beyond
        gateways by the master of the exit switch: each process writes what it saw and learns
        what the others did."""
        with self._lock:
            seen, self._sighted = self._sighted, set()
        store = self._cluster
        store.sight((k.src_dpid, k.src_port, k.dst_dpid, k.dst_port) for k in seen)
        for row in store.sightings(within=self.conf.link_timeout):
            self.fabric.link_seen(Link(*row))
        # the routers beyond gateways, learned by the master of each exit switch
        for (network_id, ip), mac in self.service.fabric_links.load_neighbours().items():
            self.fabric.set_neighbour(network_id, ip, mac)

    def _probe_switch(self, dpid):
        channel = self._master_channel(dpid)
        if channel is None:
            return
        ports = channel.datapath.ports
        for ofport in self.fabric.probe_ports(dpid):
            port = ports.get(ofport)
            self._probe_port(dpid, ofport, port.hw_addr if port else "02:00:00:00:00:00")

    def _probe_port(self, dpid, ofport, hw_addr):
        from naas_sdn.apps import codec

        channel = self._master_channel(dpid)
        if channel is None:
            return
        try:
            channel.send(
                codec.packet_out(channel.datapath, ofport, self.prober.build(dpid, ofport, hw_addr))
            )
        except Exception as error:
            LOG.debug("probe %016x:%d not sent: %s", dpid, ofport, error)


def start(conf, service) -> Runtime:
    return Runtime(conf, service).start()
