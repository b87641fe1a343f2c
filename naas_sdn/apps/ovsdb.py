"""VIF binding and tunnel endpoints from OVSDB: which Interface rows carry
``external_ids:iface-id``, and where; which bridges the operator gave an underlay address
(``external_ids:naas-encap-ip``), whose tunnel port the controller keeps.

Uses the ``ovs`` Python IDL (maintained in the Open vSwitch tree; ovsdbapp builds on it): a
monitored, self-reconnecting replica of just the Bridge, Port and Interface columns we use.
The one write, a bridge's tunnel port, is a single transaction on that replica, so
ovsdbapp's command layer would add nothing.
"""

from __future__ import annotations

import ipaddress
import logging
import select
import threading
import zlib

import ovs.db.idl
import ovs.jsonrpc
import ovs.poller
import ovs.stream
import ovs.vlog

from naas_sdn.flows.fabric import TunnelEndpoint, VifLocation

# ovs emulates poll() with select() for eventlet's sake, and select() fails on descriptors
# above 1023, which a busy API (thousands of client connections) hands out: no green threads
# here, so the real poll() serves (the replacement ovs.poller itself suggests).
ovs.poller.SelectPoll = select.poll

LOG = logging.getLogger(__name__)
_COLUMNS = {
    "Bridge": ["name", "datapath_id", "ports", "external_ids"],
    "Port": ["name", "interfaces", "external_ids"],
    "Interface": ["name", "ofport", "external_ids", "type", "options"],
}
ENCAP_IP = "naas-encap-ip"  # Bridge external_ids: the switch's address on the IP underlay
TUNNEL = "naas-tunnel"  # Port and Interface external_ids: the controller's tunnel port


def tunnel_name(bridge: str) -> str:
    """The tunnel port's name: unique per bridge (interface names are one namespace per
    host) and within the 15 characters of a Linux device name."""
    return f"naasvx{zlib.crc32(bridge.encode()):08x}"


def encap_ip(bridge) -> str | None:
    """The bridge's underlay address, if it has a valid IPv4 one."""
    value = bridge.external_ids.get(ENCAP_IP)
    if not value:
        return None
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        LOG.warning("bridge %s: %s=%r is not an IPv4 address", bridge.name, ENCAP_IP, value)
        return None


def tunnel_options(ip: str) -> dict:
    """One flow-based VXLAN port per switch: each flow names the remote endpoint and the
    VNI, so a new hypervisor costs no OVSDB write anywhere else."""
    return {"remote_ip": "flow", "key": "flow", "local_ip": ip}


def _tunnel_ports(bridge) -> list:
    return [p for p in bridge.ports if p.external_ids.get(TUNNEL)]


def read_endpoints(idl) -> dict[int, TunnelEndpoint]:
    """dpid -> endpoint of every bridge whose tunnel port is as wanted and numbered."""
    found = {}
    for bridge in idl.tables["Bridge"].rows.values():
        ip = encap_ip(bridge)
        if not ip or not bridge.datapath_id or not bridge.datapath_id[0]:
            continue
        for port in _tunnel_ports(bridge):
            for iface in port.interfaces:
                ofport = iface.ofport[0] if iface.ofport else -1
                if (
                    iface.type == "vxlan"
                    and dict(iface.options) == tunnel_options(ip)
                    and (ofport > 0)
                ):
                    found[int(bridge.datapath_id[0], 16)] = TunnelEndpoint(ip, ofport)
    return found


def keep_tunnels(idl) -> bool:
    """Make every bridge's tunnel port what its underlay address asks (added, changed or
    removed); whether a transaction was sent."""
    txn = None
    for bridge in idl.tables["Bridge"].rows.values():
        ip = encap_ip(bridge)
        ours = _tunnel_ports(bridge)
        wanted = tunnel_options(ip) if ip else None
        name = tunnel_name(bridge.name)
        good = [
            p
            for p in ours
            if wanted is not None
            and p.name == name
            and [(i.type, dict(i.options)) for i in p.interfaces] == [("vxlan", wanted)]
        ]
        if good == ours and len(good) == (1 if wanted else 0):
            continue
        txn = txn or ovs.db.idl.Transaction(idl)
        bridge.verify("ports")
        ports = [p for p in bridge.ports if p not in ours or p in good]
        if wanted is not None and not good:
            iface = txn.insert(idl.tables["Interface"])
            iface.name, iface.type = name, "vxlan"
            iface.options = wanted
            iface.external_ids = {TUNNEL: "vxlan"}
            port = txn.insert(idl.tables["Port"])
            port.name, port.interfaces = name, [iface]
            port.external_ids = {TUNNEL: "vxlan"}
            ports.append(port)
            LOG.info("bridge %s: tunnel port %s from %s", bridge.name, name, ip)
        else:
            LOG.info("bridge %s: tunnel port removed", bridge.name)
        bridge.ports = ports
    if txn is None:
        return False
    status = txn.commit_block()
    if status not in (ovs.db.idl.Transaction.SUCCESS, ovs.db.idl.Transaction.UNCHANGED):
        # Raced with another writer (TRY_AGAIN) or refused: the next update tries again.
        LOG.warning("tunnel ports not written (%s): %s", status, txn.get_error())
    return True


def fetch_schema(remote: str, timeout: float = 5.0):
    error, stream = ovs.stream.Stream.open_block(
        ovs.stream.Stream.open(remote), int(timeout * 1000)
    )
    if error:
        raise OSError(error, f"cannot connect to OVSDB {remote}")
    rpc = ovs.jsonrpc.Connection(stream)
    try:
        request = ovs.jsonrpc.Message.create_request("get_schema", ["Open_vSwitch"])
        error, reply = rpc.transact_block(request)
        if error or reply.error:
            raise OSError(f"OVSDB {remote} get_schema failed: {error or reply.error}")
        return reply.result
    finally:
        rpc.close()


def read_vifs(idl) -> dict[str, VifLocation]:
    """iface-id -> location of every interface with an OpenFlow port number."""
    found: dict[str, VifLocation] = {}
    for bridge in idl.tables["Bridge"].rows.values():
        dpid = bridge.datapath_id[0] if bridge.datapath_id else None
        if not dpid:
            continue
        for port in bridge.ports:
            for iface in port.interfaces:
                iface_id = iface.external_ids.get("iface-id")
                ofport = iface.ofport[0] if iface.ofport else -1
                if not iface_id or ofport <= 0:
                    continue
                location = VifLocation(bridge.name, int(dpid, 16), ofport)
                # One port id plugged twice (a live migration in progress): keep one, stably.
                if iface_id not in found or (location.bridge, location.ofport) < (
                    found[iface_id].bridge,
                    found[iface_id].ofport,
                ):
                    found[iface_id] = location
    return found


class OvsdbMonitor(threading.Thread):
    """Keeps ``on_change(remote, vifs, endpoints)`` informed, and the bridges' tunnel ports
    as their underlay addresses ask; ``synced`` is set after the first dump."""

    def __init__(self, remote: str, on_change):
        super().__init__(name=f"ovsdb {remote}", daemon=True)
        self.remote = remote
        self.synced = threading.Event()
        self._on_change = on_change
        self._stop = threading.Event()

    def stop(self):
        self._stop.set()

    def run(self):
        while not self._stop.is_set():
            try:
                self._monitor(fetch_schema(self.remote))
            except Exception as error:
                LOG.warning("OVSDB %s: %s; retrying", self.remote, error)
                self._stop.wait(2.0)

    def _monitor(self, schema_json):
        helper = ovs.db.idl.SchemaHelper(schema_json=schema_json)
        for table, columns in _COLUMNS.items():
            helper.register_columns(table, columns)
        idl = ovs.db.idl.Idl(self.remote, helper)
        try:
            seqno = None
            while not self._stop.is_set():
                idl.run()
                if idl.change_seqno != seqno and idl.has_ever_connected():
                    keep_tunnels(idl)
                    seqno = idl.change_seqno
                    self._on_change(self.remote, read_vifs(idl), read_endpoints(idl))
                    self.synced.set()
                poller = ovs.poller.Poller()
                idl.wait(poller)
                poller.timer_wait(500)
                poller.block()
        finally:
            idl.close()
