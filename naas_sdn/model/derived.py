"""Indexes derived from a committed collection, kept as commits change it: which records of
a collection fall under a key (the ports of a network, the RBAC entries of an object),
without a walk through the collection per question or per commit.

The mirror replaces a changed collection with a :class:`FrozenMap` sharing what did not
change, so the records a commit changed are found from the two maps alone
(:meth:`FrozenMap.changed_since`); when that is not known (a fold, another service's model)
the index is made again from the whole collection, which the folds make rare (amortised,
what the mirror's own copy costs).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any

from naas_sdn.model.frozenmap import FrozenMap


class Grouped:
    """``keys(record)`` -> {record id: ``value(record)``} over one collection of a model (a
    service: ``records(collection)``), as committed. A record may fall under several keys
    (a port under each of its security groups), or none."""

    def __init__(
        self,
        collection: str,
        keys: Callable[[Any], Iterable[Hashable]],
        value: Callable[[Any], Any] = lambda record: record,
    ):
        self.collection = collection
        self._keys, self._value = keys, value
        self._lock = threading.Lock()
        self._known: Mapping | None = None
        self._groups: dict[Hashable, dict[str, Any]] = {}

    def under(self, model, key: Hashable) -> Mapping[str, Any]:
        """{record id: value} of the committed records under ``key`` (a copy: the index moves
        on with the next commit)."""
        records = model.records(self.collection)
        with self._lock:
            self._follow(records)
            return dict(self._groups.get(key, {}))

    def in_transaction(self, txn, key: Hashable) -> dict[str, Any]:
        """:meth:`under` as one transaction sees the collection: the committed records under
        ``key`` with the transaction's own changes of the collection over them."""
        found = dict(self.under(txn.service, key))
        for record_id, record in txn.changes.of(self.collection).items():
            found.pop(record_id, None)
            if record is not None and key in self._keys(record):
                found[record_id] = self._value(record)
        return found

    def _follow(self, records: Mapping) -> None:
        known = self._known
        if known is records:
            return
        changed = None
        if isinstance(records, FrozenMap) and isinstance(known, FrozenMap):
            changed = records.changed_since(known)
        if changed is None or known is None:
            self._groups = {}
            for record_id, record in records.items():
                self._add(record_id, record)
        else:
            for record_id in changed:
                old = known.get(record_id)
                if old is not None:
                    self._remove(record_id, old)
                new = records.get(record_id)
                if new is not None:
                    self._add(record_id, new)
        self._known = records

    def _add(self, record_id: str, record) -> None:
        for key in self._keys(record):
            self._groups.setdefault(key, {})[record_id] = self._value(record)

    def _remove(self, record_id: str, record) -> None:
        for key in self._keys(record):
            group = self._groups.get(key)
            if group is not None:
                group.pop(record_id, None)
                if not group:
                    del self._groups[key]
