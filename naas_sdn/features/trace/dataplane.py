"""What a trace reads of the dataplane: the fabric as this process's controller last saw it
(switches, links, where each VIF is plugged), published by the runtime as it changes, and
the desired state of every switch as the programmer last compiled it, with a classifier per
switch kept beside it change by change.

Physical facts and compiled states flow up from below; the API only reads them, as it reads
the traffic counters the poller writes (:mod:`naas_sdn.features.statistics.store`). A trace
so costs its packet's lookups, not a compilation of the model: the same at 10,000 ports as
at 10.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

from naas_sdn.flows.fabric import FabricSnapshot
from naas_sdn.flows.ofp import SwitchState
from naas_sdn.flows.simulate import Classifier
from naas_sdn.flows.trace import ModelIndex
from naas_sdn.model.snapshot import ModelSnapshot

T = TypeVar("T")


class DataplaneView:
    @classmethod
    def of(cls, service) -> DataplaneView:
        """The model's one view of the dataplane (made on first use)."""
        return service.beside(cls)

    def __init__(self, _engine):
        self._changed = threading.Condition()
        self._fabric: FabricSnapshot | None = None
        self._model: ModelSnapshot | None = None  # the model the states were compiled from
        self._compiled_fabric: FabricSnapshot | None = None
        self._states: dict[int, SwitchState] = {}
        self._classifiers: dict[int, Classifier] = {}
        self._index = ModelIndex()  # of the model the states were compiled from

    def publish(self, snapshot: FabricSnapshot) -> None:
        with self._changed:
            self._fabric = snapshot

    def snapshot(self) -> FabricSnapshot | None:
        """None: no controller runs in this process (the API alone), nothing seen yet."""
        with self._changed:
            return self._fabric

    def publish_compiled(
        self,
        model: ModelSnapshot,
        fabric: FabricSnapshot,
        states: Mapping[int, SwitchState],
        changes: tuple[int | None, Mapping | None] = (None, None),
    ) -> None:
        """The programmer's pass compiled ``states`` from ``model`` and ``fabric``. A switch's
        classifier follows its state by the owners changed since the last one (what
        ``SwitchState.since`` names), else is built again; the model's index follows the
        model by ``changes`` (the revision they follow, collection -> ids changed), else is
        built again."""
        with self._changed:
            try:
                self._follow(model, fabric, states, changes)
            except Exception:
                # half followed: forget it all, the next publication builds afresh
                self._states.clear()
                self._classifiers.clear()
                self._model = self._compiled_fabric = None
                raise
            self._changed.notify_all()

    def _follow(self, model, fabric, states, changes) -> None:
        """The classifiers and the index advanced to ``states`` and ``model`` (the lock
        held)."""
        follows, changed = changes
        if self._model is None or follows != self._model.revision:
            changed = None  # not the changes since what was last published: all anew
        self._index.update(model, changed)
        for dpid, state in states.items():
            before = self._states.get(dpid)
            if state is before:
                continue
            since = state.since
            if before is not None and since is not None and since[0]() is before:
                classifier = self._classifiers[dpid]
                for owner in since[1]:
                    old = before.parts.get(owner, frozenset())
                    new = state.parts.get(owner, frozenset())
                    for flow in old - new:
                        classifier.remove(flow)
                    for flow in new - old:
                        classifier.add(flow)
            else:
                self._classifiers[dpid] = Classifier(
                    flow for part in state.parts.values() for flow in part
                )
            self._states[dpid] = state
        for gone in self._states.keys() - states.keys():
            del self._states[gone], self._classifiers[gone]
        self._model, self._compiled_fabric = model, fabric

    def with_compiled(
        self,
        revision: int,
        timeout: float,
        use: Callable[[ModelSnapshot, FabricSnapshot, Mapping, Mapping, ModelIndex], T],
    ) -> T | None:
        """``use(model, fabric, states, classifiers, index)`` once states compiled from revision
        ``revision`` or a later one are here, holding them still; None if none come within
        ``timeout`` seconds (no switch connected, or the controller not ready)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._model is None or self._model.revision < revision:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._changed.wait(left)
            assert self._compiled_fabric is not None
            return use(
                self._model, self._compiled_fabric, self._states, self._classifiers, self._index
            )
