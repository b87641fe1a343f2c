"""VIF binding: a port is bound to the bridge its VIF is plugged into (the OpenStack convention).

OVSDB says where each ``external_ids:iface-id`` is plugged (the fabric's VIF locations), the
model which ports exist. This app writes what follows, binding:host_id, binding:vif_type and
status, through the service on a thread of its own, between the programmer's passes: the
programmer only reads the model. The compiler places a port by its VIF location, never by its
binding, so flows wait for no binding and no binding waits for flows.

Nothing is written before every OVSDB server has sent its first dump: until then an absent VIF
proves nothing, and writing would turn every plugged port DOWN, then ACTIVE again, across each
controller restart.
"""

from __future__ import annotations

import logging
import threading
import time

from naas_sdn.flows.inputs import with_uplinks

LOG = logging.getLogger(__name__)


class VifBinding:
    COALESCE = 0.002  # seconds a round waits for more changes: a burst of plugs, one write
    RETRY = 0.5  # seconds between two looks at readiness, and after a failed write

    def __init__(self, service, fabric_state, ready=lambda: True, hosts=dict):
        """
        Args:
            service: the model (``snapshot()``, ``update_port_bindings(port id -> host,
                ports to look at)``).
            fabric_state: where VIFs are plugged (``snapshot().vifs``).
            ready: whether the VIF locations are complete (every OVSDB server synced).
            hosts: dpid -> the compute host a bridge serves (``apps.ovsdb.BridgeHost``);
                a bridge not there is its own host, by its name.
        """
        self._service = service
        self._fabric = fabric_state
        self._ready = ready
        self._hosts = hosts
        self._wake = threading.Condition()
        self._dirty = False
        self._stop = False
        self._written: dict[str, str] | None = None  # None: reconcile every port once
        self._thread = threading.Thread(target=self._run, name="vif-binding", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop, letting a write under way finish (the database closes after us)."""
        with self._wake:
            self._stop = True
            self._wake.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def changed(self, *_args) -> None:
        """VIF locations or the model's ports may have changed: look again soon."""
        with self._wake:
            self._dirty = True
            self._wake.notify()

    def sync(self) -> None:
        """Write the bindings the VIF locations imply, unless they are those last written:
        for the ports whose VIF came, went or moved since (every port the first time)."""
        model = self._service.snapshot()
        ports = model.ports
        # provider networks' localnet ports where the compiler binds them, beside the VIFs
        vifs = with_uplinks(self._fabric.snapshot(), model).vifs
        hosts = self._hosts()
        bindings = {
            port_id: hosts[location.dpid].host if location.dpid in hosts else location.bridge
            for port_id, location in vifs.items()
            if port_id in ports
        }
        written = self._written
        if bindings == written:
            return
        only = None
        if written is not None:
            moved = bindings.keys() | written.keys()
            only = {i for i in moved if bindings.get(i) != written.get(i)}
        self._service.update_port_bindings(bindings, only)
        self._written = bindings

    def _run(self) -> None:
        while self._next_round():
            try:
                self.sync()
            except Exception:
                LOG.exception("VIF binding failed; retrying")
                self._pause(self.RETRY)
                self.changed()

    def _pause(self, seconds: float) -> None:
        """Sleep, however many changes arrive meanwhile, unless stopped."""
        deadline = time.monotonic() + seconds
        with self._wake:
            while not self._stop and (left := deadline - time.monotonic()) > 0:
                self._wake.wait(left)

    def _next_round(self) -> bool:
        """Wait until there is something to look at and the VIF locations can be trusted;
        False once stopped."""
        with self._wake:
            while not self._dirty and not self._stop:
                self._wake.wait()
        while True:
            time.sleep(self.COALESCE)
            with self._wake:
                if self._stop:
                    return False
                if self._ready():
                    self._dirty = False
                    return True
                self._wake.wait(self.RETRY)
