"""VIF binding from OVSDB: which Interface rows carry ``external_ids:iface-id``, and where.

Uses the ``ovs`` Python IDL (maintained in the Open vSwitch tree; ovsdbapp builds on it): a
monitored, self-reconnecting replica of just the Bridge, Port and Interface columns we read.
We only watch, never write, so ovsdbapp's command layer would add nothing.
"""

from __future__ import annotations

import logging
import select
import threading

import ovs.db.idl
import ovs.jsonrpc
import ovs.poller
import ovs.stream
import ovs.vlog

from naas_sdn.flows.fabric import VifLocation

# ovs emulates poll() with select() for eventlet's sake, and select() fails on descriptors
# above 1023, which a busy API (thousands of client connections) hands out: no green threads
# here, so the real poll() serves (the replacement ovs.poller itself suggests).
ovs.poller.SelectPoll = select.poll

LOG = logging.getLogger(__name__)
_COLUMNS = {
    "Bridge": ["name", "datapath_id", "ports"],
    "Port": ["name", "interfaces"],
    "Interface": ["name", "ofport", "external_ids"],
}


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
    """Keeps ``on_change(remote, vifs)`` informed; ``synced`` is set after the first dump."""

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
                    seqno = idl.change_seqno
                    self._on_change(self.remote, read_vifs(idl))
                    self.synced.set()
                poller = ovs.poller.Poller()
                idl.wait(poller)
                poller.timer_wait(500)
                poller.block()
        finally:
            idl.close()
