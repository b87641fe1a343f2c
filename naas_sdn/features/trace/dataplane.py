"""What a trace reads of the dataplane: the fabric as this process's controller last saw it
(switches, links, where each VIF is plugged), published by the runtime as it changes.

Physical facts flow up from the switches; the API only reads them, as it reads the traffic
counters the poller writes (:mod:`naas_sdn.features.statistics.store`).
"""

from __future__ import annotations

import threading

from naas_sdn.flows.fabric import FabricSnapshot


class FabricView:
    @classmethod
    def of(cls, service) -> FabricView:
        """The model's one view of the fabric (made on first use)."""
        return service.beside(cls)

    def __init__(self, _engine):
        self._lock = threading.Lock()
        self._snapshot: FabricSnapshot | None = None

    def publish(self, snapshot: FabricSnapshot) -> None:
        with self._lock:
            self._snapshot = snapshot

    def snapshot(self) -> FabricSnapshot | None:
        """None: no controller runs in this process (the API alone), nothing seen yet."""
        with self._lock:
            return self._snapshot
