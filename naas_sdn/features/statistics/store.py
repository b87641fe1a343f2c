"""Traffic counters of networks, ports, VIFs and IP addresses: monotonic and persisted.

Switch counters start again from zero when what holds them is re-created (a flow re-added, an
interface re-plugged, Open vSwitch restarted), and the controller itself restarts; a user must
never see a counter go back. So the store keeps, for every *source* (one counter on one switch:
a VIF's port statistics, a counted flow, a meter band), its last raw reading, and adds the
increase of each new reading to the totals of every object the source counts for. Totals and
last readings are written to SQL each round, so a restarted controller resumes where it left
off: nothing counted twice, nothing lost.

Scopes and their object ids: ``network`` (network id), ``port`` (port id), ``vif`` (port id:
the interface bound to that port, reset when another interface is bound) and ``ip``
(``<port id>/<address>``). Direction is the port's (the VM's) point of view: ``tx`` is what it
sent into the network, ``rx`` what the network delivered to it.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import threading
from collections.abc import Container, Iterable
from typing import Any, Literal, overload

from sqlalchemy import Column, DateTime, Float, String, Table, Text, delete, insert, select

from naas_sdn.model import db

TRAFFIC_COUNTERS = Table(
    "traffic_counters",
    db.metadata,
    # Totals of one network, port (the seed's "port caches its statistics"), VIF or address,
    # as JSON: the set of counters grows with the policies that count, not the schema.
    Column("scope", String(8), primary_key=True),
    Column("object_id", String(80), primary_key=True),
    Column("counters", Text, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)


COUNTER_READINGS = Table(
    "counter_readings",
    db.metadata,
    # Last raw value of each switch counter: a restarted controller adds only what is new.
    Column("source", String(160), primary_key=True),
    Column("counts", Text, nullable=False),
    Column("age", Float, nullable=True),  # seconds the switch had kept the counter
)

SCOPES = ("network", "port", "vif", "ip")
TRAFFIC = ("rx_packets", "rx_bytes", "tx_packets", "tx_bytes")
DROP_REASONS = ("port_security", "security_group", "protocol_block", "qos")
VIF_ERRORS = ("rx_dropped", "tx_dropped", "rx_errors", "tx_errors")
VIF_PLACE = ("name", "switch_id", "ofport")


@dataclasses.dataclass(frozen=True)
class Reading:
    """One raw switch counter as read now, and what it counts for.

    ``counts``: (suffix, raw value) pairs, e.g. (("packets", 12), ("bytes", 1000)); every
    target (scope, object id, prefix) gets the increase of each as ``<prefix>_<suffix>``.
    ``age``: how long the switch has kept this counter (seconds), if it says; younger than at
    the last reading means a new counter, whatever its values (no clock is compared).
    """

    source: str
    counts: tuple
    targets: tuple
    age: float | None = None


def ip_object(port_id: str, ip: str) -> str:
    return f"{port_id}/{ip}"


def _place(source: str) -> str:
    """A source's kind and switch: "vif/000000000000000a/3/<port>/tx" -> "vif/00..0a"."""
    return "/".join(source.split("/", 2)[:2])


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class StatisticsStore:
    @classmethod
    def of(cls, service) -> StatisticsStore:
        """The model's statistics store (one per service)."""
        return service.beside(cls)

    def __init__(self, engine):
        self._engine = engine
        self._lock = threading.Lock()
        self._totals: dict[tuple[str, str], dict] = {}  # (scope, id) -> {counter: value}
        self._updated: dict[tuple[str, str], datetime.datetime] = {}
        self._last: dict[str, tuple[tuple, float | None]] = {}  # source -> (counts, age)
        # "kind/switch id" -> its sources in _last: a switch's are found without a scan
        self._placed: dict[str, set[str]] = {}
        self._dirty_totals: set = set()
        self._dirty_sources: set = set()
        # Several processes on one PostgreSQL database each poll the switches they master, and
        # a network's counters are the sum of every switch's: each flush then adds what this
        # process counted since the last one to the stored totals, under a lock all share.
        self._shared = db.shared(engine)
        self._added: dict[tuple[str, str], dict[str, int]] = {}  # counted since the flush
        self._replaced: set = set()  # totals set anew (a VIF's new place) or dropped
        self._load()

    def _load(self) -> None:
        with self._engine.connect().execution_options(readonly=True) as conn:
            for row in conn.execute(select(TRAFFIC_COUNTERS)):
                key = (row.scope, row.object_id)
                self._totals[key] = json.loads(row.counters)
                self._updated[key] = row.updated_at
            for row in conn.execute(select(COUNTER_READINGS)):
                self._last[row.source] = (tuple(tuple(c) for c in json.loads(row.counts)), row.age)
                self._placed.setdefault(_place(row.source), set()).add(row.source)

    # -- from the poller ---------------------------------------------------------------------
    def record(self, readings: Iterable[Reading], gone: Iterable[str] = ()) -> None:
        """Add what each reading grew by since the last one; ``gone``: sources that no longer
        exist (their last reading is dropped, so a counter re-created under the same name
        counts from zero)."""
        now = _now()
        with self._lock:
            for reading in readings:
                self._add(reading, now)
            for source in gone:
                if self._last.pop(source, None) is not None:
                    self._dirty_sources.add(source)
                    placed = self._placed.get(_place(source))
                    if placed is not None:
                        placed.discard(source)

    def _add(self, reading: Reading, now) -> None:
        last = self._last.get(reading.source)
        raw = dict(reading.counts)
        increase = raw
        if last is not None:
            before, age = dict(last[0]), last[1]
            restarted = any(raw.get(k, 0) < v for k, v in before.items()) or (
                reading.age is not None and age is not None and reading.age < age
            )
            if not restarted:
                increase = {k: v - before.get(k, 0) for k, v in raw.items()}
        # The age is kept up to date in memory, written with the values only when they change:
        # an older age on disk can only make a restart look less like a new counter.
        if last is None:
            self._placed.setdefault(_place(reading.source), set()).add(reading.source)
        if last is None or last[0] != reading.counts:
            self._dirty_sources.add(reading.source)
        self._last[reading.source] = (reading.counts, reading.age)
        for scope, object_id, prefix in reading.targets:
            key = (scope, object_id)
            totals = self._totals.setdefault(key, {})
            for suffix, value in increase.items():
                if value:
                    name = f"{prefix}_{suffix}"
                    totals[name] = totals.get(name, 0) + value
                    self._dirty_totals.add(key)
                    if self._shared:
                        added = self._added.setdefault(key, {})
                        added[name] = added.get(name, 0) + value
            if self._updated.get(key) != now:
                self._updated[key] = now
                self._dirty_totals.add(key)

    def sources(self, kind: str, switch_id: str) -> list[str]:
        """The counters of ``kind`` (vif, flow, meter) read so far on one switch."""
        with self._lock:
            return list(self._placed.get(f"{kind}/{switch_id}", ()))

    def place_vif(self, port_id: str, place: dict) -> None:
        """Where the port's VIF is (interface name, switch id, OpenFlow port): another
        interface than the one counted so far starts the VIF's counters again."""
        key = ("vif", port_id)
        with self._lock:
            totals = self._totals.get(key, {})
            if all(totals.get(k) == place[k] for k in VIF_PLACE):
                return
            self._totals[key] = dict(place, attached_at=_now().isoformat())
            self._updated[key] = _now()
            self._dirty_totals.add(key)
            self._replaced.add(key)

    def forget(self, scope: str, keep: Container[str]) -> None:
        """Drop the counters of objects of ``scope`` that no longer exist (ip: by port id)."""
        with self._lock:
            for key in [k for k in self._totals if k[0] == scope]:
                owner = key[1].split("/", 1)[0] if scope == "ip" else key[1]
                if owner not in keep:
                    del self._totals[key]
                    self._updated.pop(key, None)
                    self._dirty_totals.add(key)
                    self._replaced.add(key)

    def flush(self) -> None:
        """Write what changed since the last flush, in one transaction."""
        if self._shared:
            self._flush_shared()
            return
        with self._lock:
            totals = {
                k: (dict(self._totals[k]), self._updated.get(k))
                for k in self._dirty_totals
                if k in self._totals
            }
            removed = [k for k in self._dirty_totals if k not in self._totals]
            sources = {s: self._last.get(s) for s in self._dirty_sources}
            self._dirty_totals, self._dirty_sources = set(), set()
        if not totals and not removed and not sources:
            return
        try:
            with self._engine.begin() as conn:
                written = {k: (v, at or _now()) for k, (v, at) in totals.items()}
                _write_totals(conn, {**written, **dict.fromkeys(removed)})
                _write_sources(conn, sources)
        except Exception:
            with self._lock:  # written next round instead
                self._dirty_totals.update(totals, removed)
                self._dirty_sources.update(sources)
            raise

    def _flush_shared(self) -> None:
        """Add what this process counted to the totals every process adds to, and read back
        everyone's (the API of any process shows the sum), in one transaction."""
        with self._lock:
            added, self._added = self._added, {}
            replaced = {k: self._totals.get(k) for k in self._replaced}
            sources = {s: self._last.get(s) for s in self._dirty_sources}
            updated = {k: self._updated.get(k) or _now() for k in self._dirty_totals}
            self._replaced, self._dirty_totals, self._dirty_sources = set(), set(), set()
        try:
            with self._engine.begin() as conn:
                db.exclusive(conn, _FLUSH_LOCK)
                stored: dict[tuple[str, str], tuple[dict, Any] | None] = {
                    (row.scope, row.object_id): (json.loads(row.counters), row.updated_at)
                    for row in conn.execute(select(TRAFFIC_COUNTERS))
                }
                written: dict[tuple[str, str], tuple[dict, Any] | None] = {}
                for key, totals in replaced.items():
                    written[key] = None if totals is None else (dict(totals), updated.get(key))
                for key, increase in added.items():
                    if key in replaced:
                        continue  # the replacement in memory already holds them
                    before = stored.get(key)
                    totals = dict(before[0]) if before else {}
                    for name, count in increase.items():
                        totals[name] = totals.get(name, 0) + count
                    written[key] = (totals, updated.get(key) or _now())
                _write_totals(conn, written)
                _write_sources(conn, sources)
        except Exception:
            with self._lock:  # added next round instead
                for key, increase in added.items():
                    pending = self._added.setdefault(key, {})
                    for name, value in increase.items():
                        pending[name] = pending.get(name, 0) + value
                self._replaced.update(replaced)
                self._dirty_sources.update(sources)
            raise
        stored.update(written)
        with self._lock:  # everyone's totals, and what was counted meanwhile
            self._totals, self._updated = {}, {}
            for key, entry in stored.items():
                if entry is None:
                    continue
                totals = dict(entry[0])
                for name, more in self._added.get(key, {}).items():
                    totals[name] = totals.get(name, 0) + more
                self._totals[key], self._updated[key] = totals, entry[1]

    @property
    def shared(self) -> bool:
        """Whether other processes add to the same totals (:meth:`flush`)."""
        return self._shared

    def reload_sources(self, place: str) -> None:
        """Take the last readings of one switch's counters (``kind/switch id``) as stored: a
        process that has just become its master goes on from where the last master was."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(COUNTER_READINGS).where(COUNTER_READINGS.c.source.like(place + "/%"))
            ).all()
        with self._lock:
            for source in self._placed.pop(place, set()):
                self._last.pop(source, None)
            for row in rows:
                self._last[row.source] = (tuple(tuple(c) for c in json.loads(row.counts)), row.age)
                self._placed.setdefault(place, set()).add(row.source)

    # -- for the API and /metrics ------------------------------------------------------------
    def totals(self, scope: str, object_id: str) -> tuple[dict, datetime.datetime | None]:
        with self._lock:
            key = (scope, object_id)
            return dict(self._totals.get(key, {})), self._updated.get(key)

    def all_totals(self, scope: str) -> dict[str, dict]:
        with self._lock:
            return {k[1]: dict(v) for k, v in self._totals.items() if k[0] == scope}

    @overload
    def traffic(self, scope: Literal["network", "port", "ip"], object_id: str) -> dict: ...
    @overload
    def traffic(self, scope: Literal["vif"], object_id: str) -> dict | None: ...

    def traffic(self, scope: str, object_id: str) -> dict | None:
        """rx/tx packets and bytes, the drops by policy (network and port), the updated time;
        a VIF adds its place and interface drops and errors (None: no VIF counted yet)."""
        totals, updated = self.totals(scope, object_id)
        if scope == "vif" and "switch_id" not in totals:
            return None
        view = {name: totals.get(name, 0) for name in TRAFFIC}
        if scope in ("network", "port"):
            view["dropped"] = {
                reason: {
                    "packets": totals.get(f"dropped_{reason}_packets", 0),
                    "bytes": totals.get(f"dropped_{reason}_bytes", 0),
                }
                for reason in DROP_REASONS
            }
        if scope == "vif":
            view.update({name: totals.get(name, 0) for name in VIF_ERRORS})
            view.update({name: totals.get(name) for name in VIF_PLACE + ("attached_at",)})
        view["updated_at"] = updated
        return view


_FLUSH_LOCK = 0x6E616163  # "naac", any constant: the lock of the shared totals' flushes


def _write_totals(conn, written: dict) -> None:
    """Replace the rows of ``written`` keys: (counters, updated) or None (dropped)."""
    for scope in SCOPES:
        ids = [k[1] for k in written if k[0] == scope]
        for chunk in _chunks(ids):
            conn.execute(
                delete(TRAFFIC_COUNTERS).where(
                    TRAFFIC_COUNTERS.c.scope == scope, TRAFFIC_COUNTERS.c.object_id.in_(chunk)
                )
            )
    rows = [
        dict(
            scope=k[0],
            object_id=k[1],
            counters=json.dumps(v[0], sort_keys=True),
            updated_at=v[1] or _now(),
        )
        for k, v in written.items()
        if v is not None
    ]
    if rows:
        conn.execute(insert(TRAFFIC_COUNTERS), rows)


def _write_sources(conn, sources: dict) -> None:
    for chunk in _chunks(list(sources)):
        conn.execute(delete(COUNTER_READINGS).where(COUNTER_READINGS.c.source.in_(chunk)))
    rows = [
        dict(source=s, counts=json.dumps(v[0]), age=v[1])
        for s, v in sources.items()
        if v is not None
    ]
    if rows:
        conn.execute(insert(COUNTER_READINGS), rows)


def _chunks(items: list, size: int = 500):
    for start in range(0, len(items), size):
        yield items[start : start + size]
