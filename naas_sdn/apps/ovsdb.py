"""VIF binding and tunnel endpoints from OVSDB: which Interface rows carry
``external_ids:iface-id``, and where; which bridges the operator gave an underlay address
(``external_ids:naas-encap-ip``), whose tunnel port the controller keeps; which interfaces
lead to a physical network (``external_ids:naas-physnet``).

Uses the ``ovs`` Python IDL (maintained in the Open vSwitch tree; ovsdbapp builds on it): a
monitored, self-reconnecting replica of just the Bridge, Port and Interface columns we use.
The one write, a bridge's tunnel port, is a single transaction on that replica, so
ovsdbapp's command layer would add nothing.
"""

from __future__ import annotations

import dataclasses
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
    "Bridge": ["name", "datapath_id", "datapath_type", "ports", "external_ids"],
    "Port": ["name", "interfaces", "external_ids"],
    "Interface": ["name", "ofport", "external_ids", "type", "options"],
}
ENCAP_IP = "naas-encap-ip"  # Bridge external_ids: the switch's address on the IP underlay
ENCAP_IP6 = "naas-encap-ip6"  # ... and its IPv6 one, for remote sites with IPv6 addresses
PHYSNET = "naas-physnet"  # Interface external_ids: the physical network it leads to
TUNNEL = "naas-tunnel"  # Port and Interface external_ids: the controller's tunnel port
HOST = "naas-host"  # Bridge external_ids: the compute host whose VMs it takes (Nova's name)


@dataclasses.dataclass(frozen=True)
class BridgeHost:
    """A bridge as a port's binding names it: the compute host its VMs run on (Nova's
    ``binding:host_id``: the bridge's ``external_ids:naas-host``, else its name), and what
    os-vif needs to plug a VM there (the bridge's name and datapath type)."""

    host: str
    bridge: str
    datapath_type: str


def read_hosts(idl) -> dict[int, BridgeHost]:
    """dpid -> host of every bridge with a datapath id."""
    found = {}
    for bridge in idl.tables["Bridge"].rows.values():
        if bridge.datapath_id and bridge.datapath_id[0]:
            found[int(bridge.datapath_id[0], 16)] = BridgeHost(
                bridge.external_ids.get(HOST) or bridge.name,
                bridge.name,
                bridge.datapath_type or "system",  # OVS's default: the kernel's datapath
            )
    return found


def tunnel_name(bridge: str) -> str:
    """The tunnel port's name: unique per bridge (interface names are one namespace per
    host) and within the 15 characters of a Linux device name."""
    return f"naasvx{zlib.crc32(bridge.encode()):08x}"


def encap_ip(bridge, version: int = 4) -> str | None:
    """The bridge's underlay address of that IP version, if it has a valid one: the IPv4
    one (``naas-encap-ip``) for the hypervisors' tunnels and IPv4 sites, the IPv6 one
    (``naas-encap-ip6``) for remote sites with IPv6 addresses."""
    key = ENCAP_IP if version == 4 else ENCAP_IP6
    value = bridge.external_ids.get(key)
    if not value:
        return None
    try:
        return str((ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address)(value))
    except ValueError:
        LOG.warning("bridge %s: %s=%r is not an IPv%d address", bridge.name, key, value, version)
        return None


def tunnel_options(ip: str) -> dict:
    """One flow-based VXLAN port per switch: each flow names the remote endpoint and the
    VNI, so a new hypervisor costs no OVSDB write anywhere else."""
    return {"remote_ip": "flow", "key": "flow", "local_ip": ip}


def remote_tunnel_name(port_id: str) -> str:
    return f"naasrg{zlib.crc32(port_id.encode()):08x}"


HYPERVISORS, REMOTE_SITE = "vxlan", "remote-gateway"  # the TUNNEL marks: whose port it is


_UNREACHABLE: set[str] = set()  # connections whose site's address family we have no end for


def remote_tunnel(view, local_ips: dict) -> tuple | None:
    """(type, options, external_ids) of a remote site's tunnel from the bridge's address of
    the site's family (``local_ips``: IP version -> address): a port of its own (fixed
    remote and key), whose iface-id is the connection's port."""
    version = ipaddress.ip_address(view.remote_ip).version
    local_ip = local_ips.get(version)
    if local_ip is None:
        if view.id not in _UNREACHABLE:
            _UNREACHABLE.add(view.id)
            LOG.warning(
                "connection %s: the remote site %s is IPv%d, and the terminating bridge has no "
                "such address (%s): its tunnel waits",
                view.id,
                view.remote_ip,
                version,
                ENCAP_IP6 if version == 6 else ENCAP_IP,
            )
        return None
    _UNREACHABLE.discard(view.id)
    options = {"remote_ip": view.remote_ip, "key": str(view.segmentation_id), "local_ip": local_ip}
    if view.tunnel_type == "vxlan" and view.udp_port not in (None, 4789):
        options["dst_port"] = str(view.udp_port)
    return view.tunnel_type, options, {TUNNEL: REMOTE_SITE, "iface-id": view.port_id}


def wanted_tunnels(bridge, remote_bridge: str | None, remote_tunnels) -> dict:
    """Port name -> (type, options, external_ids) of every tunnel the bridge should have."""
    ip = encap_ip(bridge)
    if not ip:
        return {}
    found = {tunnel_name(bridge.name): ("vxlan", tunnel_options(ip), {TUNNEL: HYPERVISORS})}
    if bridge.name == remote_bridge:
        local_ips = {4: ip, 6: encap_ip(bridge, 6)}
        for view in remote_tunnels:
            spec = remote_tunnel(view, local_ips)
            if spec is not None:
                found[remote_tunnel_name(view.port_id)] = spec
    return found


def _tunnel_ports(bridge, mark: str | None = None) -> list:
    return [
        p
        for p in bridge.ports
        if p.external_ids.get(TUNNEL) and mark in (None, p.external_ids[TUNNEL])
    ]


def _shape(port) -> list:
    return [(i.type, dict(i.options), dict(i.external_ids)) for i in port.interfaces]


def read_endpoints(idl) -> dict[int, TunnelEndpoint]:
    """dpid -> endpoint of every bridge whose tunnel port is as wanted and numbered."""
    found = {}
    for bridge in idl.tables["Bridge"].rows.values():
        ip = encap_ip(bridge)
        if not ip or not bridge.datapath_id or not bridge.datapath_id[0]:
            continue
        for port in _tunnel_ports(bridge, HYPERVISORS):
            for iface in port.interfaces:
                ofport = iface.ofport[0] if iface.ofport else -1
                if (
                    iface.type == "vxlan"
                    and dict(iface.options) == tunnel_options(ip)
                    and (ofport > 0)
                ):
                    found[int(bridge.datapath_id[0], 16)] = TunnelEndpoint(ip, ofport)
    return found


def keep_tunnels(idl, remote_bridge: str | None = None, remote_tunnels=()) -> bool:
    """Make every bridge's tunnel ports what its underlay address asks, and the remote
    sites' on ``remote_bridge`` what ``remote_tunnels`` (views of the connections) ask:
    added, changed or removed; whether a transaction was sent."""
    txn = None
    for bridge in idl.tables["Bridge"].rows.values():
        wanted = wanted_tunnels(bridge, remote_bridge, remote_tunnels)
        ours = {p.name: p for p in _tunnel_ports(bridge)}
        keep = {n for n, p in ours.items() if n in wanted and _shape(p) == [wanted[n]]}
        if keep == wanted.keys() == ours.keys():
            continue
        txn = txn or ovs.db.idl.Transaction(idl)
        bridge.verify("ports")
        ports = [p for p in bridge.ports if p.name not in ours or p.name in keep]
        for name in sorted(wanted.keys() - keep):
            kind, options, ids = wanted[name]
            iface = txn.insert(idl.tables["Interface"])
            iface.name, iface.type, iface.options, iface.external_ids = name, kind, options, ids
            port = txn.insert(idl.tables["Port"])
            port.name, port.interfaces = name, [iface]
            port.external_ids = {TUNNEL: ids[TUNNEL]}
            ports.append(port)
            LOG.info("bridge %s: tunnel port %s %s", bridge.name, name, options)
        for name in sorted(ours.keys() - keep):
            LOG.info("bridge %s: tunnel port %s removed", bridge.name, name)
        bridge.ports = ports
    if txn is None:
        return False
    status = txn.commit_block()
    if status not in (ovs.db.idl.Transaction.SUCCESS, ovs.db.idl.Transaction.UNCHANGED):
        # Raced with another writer (TRY_AGAIN) or refused: the next round tries again.
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


def _numbered_interfaces(idl):
    """(location, external_ids) of every interface OVS has given an OpenFlow port number,
    on a bridge with a datapath id."""
    for bridge in idl.tables["Bridge"].rows.values():
        dpid = bridge.datapath_id[0] if bridge.datapath_id else None
        if not dpid:
            continue
        for port in bridge.ports:
            for iface in port.interfaces:
                ofport = iface.ofport[0] if iface.ofport else -1
                if ofport > 0:
                    yield VifLocation(bridge.name, int(dpid, 16), ofport), iface.external_ids


def read_vifs(idl) -> dict[str, VifLocation]:
    """iface-id -> location of every interface with an OpenFlow port number."""
    found: dict[str, VifLocation] = {}
    for location, external_ids in _numbered_interfaces(idl):
        iface_id = external_ids.get("iface-id")
        if not iface_id:
            continue
        # One port id plugged twice (a live migration in progress): keep one, stably.
        if iface_id not in found or (location.bridge, location.ofport) < (
            found[iface_id].bridge,
            found[iface_id].ofport,
        ):
            found[iface_id] = location
    return found


def read_uplinks(idl) -> dict[str, tuple[VifLocation, ...]]:
    """Physical network -> the interfaces the operator marked as leading to it
    (``external_ids:naas-physnet``), with an OpenFlow port number, by switch then ofport."""
    found: dict[str, list[VifLocation]] = {}
    for location, external_ids in _numbered_interfaces(idl):
        physnet = external_ids.get(PHYSNET)
        if physnet:
            found.setdefault(physnet, []).append(location)
    return {
        name: tuple(sorted(places, key=lambda v: (v.dpid, v.ofport)))
        for name, places in found.items()
    }


class OvsdbMonitor(threading.Thread):
    """Keeps ``on_change(remote, vifs, endpoints, uplinks, hosts)`` informed, and the
    bridges' tunnel ports as their underlay addresses ask; ``synced`` is set after the
    first dump."""

    def __init__(self, remote: str, on_change, remote_tunnels=lambda: (None, ())):
        super().__init__(name=f"ovsdb {remote}", daemon=True)
        self.remote = remote
        self._remote_tunnels = remote_tunnels  # () -> (terminating bridge, connection views)
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
            seqno, kept = None, None
            while not self._stop.is_set():
                idl.run()
                wanted = self._remote_tunnels()
                # After a change here, or to the connections (which changes no row here).
                if idl.has_ever_connected() and (idl.change_seqno != seqno or wanted != kept):
                    keep_tunnels(idl, *wanted)
                    kept = wanted
                if idl.change_seqno != seqno and idl.has_ever_connected():
                    seqno = idl.change_seqno
                    self._on_change(
                        self.remote,
                        read_vifs(idl),
                        read_endpoints(idl),
                        read_uplinks(idl),
                        read_hosts(idl),
                    )
                    self.synced.set()
                poller = ovs.poller.Poller()
                idl.wait(poller)
                poller.timer_wait(500)
                poller.block()
        finally:
            idl.close()
