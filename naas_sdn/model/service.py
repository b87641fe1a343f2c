"""The network service: every invariant of the logical model, enforced in one SQL transaction.

Writes are serialized by one lock (SQLite has a single writer anyway) and applied to an in-memory
mirror only after their transaction commits, so readers — the API and the flow compiler — see a
consistent, committed model without touching SQL. A request that fails leaves no trace.

Every resource is declared (:mod:`naas_sdn.model.schema`) and kept by the generic store
(:mod:`naas_sdn.model.store`); the core ones — networks, subnets, ports — are a slice like the
others (:mod:`naas_sdn.features.networking`), so nothing here names a resource's rules.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from naas_sdn import features
from naas_sdn.model import db, replication, schema
from naas_sdn.model.allocation import MacIndex, owners_after
from naas_sdn.model.common import (
    Changes,
    Context,
    merge,
    read_tags,
)
from naas_sdn.model.fabric_links import FabricLinkStore
from naas_sdn.model.frozenmap import FrozenMap
from naas_sdn.model.quotas import QuotaMixin
from naas_sdn.model.segments import TenantSegments
from naas_sdn.model.snapshot import EMPTY, ModelSnapshot
from naas_sdn.model.store import DeclaredStore
from naas_sdn.model.tokens import TokenStore

LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Change:
    """One record's change in a commit: ``old`` None for a create, ``new`` None for a delete
    (records of the resource's declaration, ``collection`` its collection)."""

    collection: str
    id: str
    old: Any
    new: Any
    # made by another process sharing the database, and followed here: what a change sets
    # off outside the model (a message to Nova) is that process's to do
    followed: bool = False


_WRITE_ATTEMPTS = 3
VIEW_LOG_LENGTH = 4096  # snapshots whose changed views a reader can still ask for
T = TypeVar("T")


class NetworkService(QuotaMixin, DeclaredStore):
    """Every declared resource (networks, subnets, ports, security groups, routers, QoS
    policies, protocol blocks, plugins' own) and quotas, backed by SQL and mirrored in memory.
    Stores that share only the engine hang beside it: ``tokens``, ``fabric_links`` and the
    slices' own (:meth:`beside`)."""

    def __init__(self, engine: Engine, tenant_segments: TenantSegments | None = None):
        self._engine = engine
        # which types and ids new networks get (the operator's tenant_network_types, vni_ranges)
        self.tenant_segments = tenant_segments or TenantSegments()
        self._lock = threading.RLock()
        self._notify_lock = threading.RLock()
        self._subscribers: list[Callable[[ModelSnapshot], None]] = []
        self._delivered = -1
        self._listeners: list[Callable[[int, tuple[Change, ...]], None]] = []
        self._pending: collections.deque = collections.deque()  # (commit, changes) to deliver
        self._commits = 0
        features.import_declarations()
        schema.PLUGIN_METADATA.create_all(engine)  # plugins' tables, beside the migrated ones
        self._declared = {}
        self.allocations: Mapping[str, Mapping[str, str]] = {}  # subnet -> {ip: port id}
        self.macs = MacIndex()  # (network id, MAC) of every port
        # compute host -> where os-vif plugs its VMs ({"bridge_name", "datapath_type"}), as
        # the OVSDB servers tell the runtime: a port bound to a host not here fails to bind
        self.hosts: Mapping[str, Mapping[str, str]] = MappingProxyType({})
        self._snapshot = EMPTY
        # on PostgreSQL, the commits of every process sharing the database (None: this one's)
        self._log = replication.ChangeLog(engine) if db.shared(engine) else None
        self._following = threading.Event()  # set: stop following the log
        # (revision, collection -> ids of the views it changed, None: any) of recent snapshots,
        # one per revision, the newest the current snapshot's
        self._view_log: collections.deque = collections.deque(maxlen=VIEW_LOG_LENGTH)
        self._log_lock = threading.Lock()
        self._load()
        self._beside: dict[Callable, Any] = {}
        self.tokens = TokenStore(engine)
        self.fabric_links = FabricLinkStore(engine)

    def beside(self, kind: Callable[[Engine], T]) -> T:
        """The one store of ``kind`` that shares only this model's engine (a slice's own, such
        as the statistics' counters), made on first use: ``kind(engine)``."""
        with self._lock:
            if kind not in self._beside:
                self._beside[kind] = kind(self._engine)
            return self._beside[kind]

    @property
    def shared(self) -> bool:
        """Whether other processes may share this model's database (PostgreSQL): switches
        then have one master among them (:mod:`naas_sdn.apps.mastership`)."""
        return self._log is not None

    @property
    def lock(self) -> threading.RLock:
        """The write lock: held, the committed model cannot change."""
        return self._lock

    # ----------------------------------------------------------------- mirror and snapshots
    def _load(self) -> None:
        with self._read() as conn:
            if self._log is not None:  # first: what commits while loading is applied again
                self._log.seen = self._log.newest(conn)
            tags = read_tags(conn)
            declared = self._load_declared(conn, tags, schema.DECLARED.values())
        self._declared = declared
        self.allocations = owners_after({}, {}, declared.get("ports", {}))
        self.macs = MacIndex(declared.get("ports", {}))
        views = {}
        for collection, resource in schema.DECLARED.items():
            if resource.has_view:
                make_view = resource.make_view(lambda c: declared.get(c, {}))
                views[collection] = FrozenMap(
                    (k, make_view(v)) for k, v in declared[collection].items()
                )
        self._snapshot = ModelSnapshot(
            revision=1,
            **_declared_views(views),
        )

    def _declared_adopted(self, resource: schema.Resource) -> None:
        """Publish the views of a resource :meth:`adopt` has just loaded (under the lock)."""
        if not resource.has_view:
            return
        snap = self._snapshot
        make_view = resource.make_view(self.records)
        records = self._declared[resource.collection]
        views = {
            **snap.extra,
            resource.collection: FrozenMap((k, make_view(v)) for k, v in records.items()),
        }
        self._publish(
            dataclasses.replace(snap, extra=MappingProxyType(views), revision=snap.revision + 1),
            None,
        )

    def _read(self):
        return self._engine.connect().execution_options(readonly=True)

    def write(self, work: Callable[[object, Changes], object]):
        """Run ``work(conn, changes)`` in one transaction, then publish what it changed.

        An IntegrityError can only come from a writer in another process racing us for a unique
        value; the work is retried from a fresh read. On a shared database (PostgreSQL), the
        transaction first serializes with every process's writes and applies what they
        committed (:mod:`naas_sdn.model.replication`), so the work checks the newest model.
        """
        log = self._log
        try:
            with self._lock:
                for attempt in range(_WRITE_ATTEMPTS):
                    changes, logged = Changes(), None
                    try:
                        with self._engine.begin() as conn:
                            if log is not None:
                                log.lock(conn)
                                self._catch_up(conn, log)
                            result = work(conn, changes)
                            changed = {c: r for c, r in changes.declared.items() if r}
                            if log is not None and changed:
                                logged = log.append(conn, changed)
                        break
                    except IntegrityError:
                        if attempt == _WRITE_ATTEMPTS - 1:
                            raise
                        LOG.warning("write conflict with another database client; retrying")
                self._apply(changes)
                if log is not None and logged is not None:
                    log.seen = logged
        finally:
            self._deliver_changes()
            self._notify()
        return result

    def refresh(self) -> None:
        """Apply what other processes sharing the database have committed (nothing to do on
        SQLite): before an API request, so a client reads what it wrote through another."""
        log = self._log
        if log is None:
            return
        with self._read() as conn:
            if log.newest(conn) <= log.seen:
                return
        try:
            with self._lock, self._read() as conn:
                self._catch_up(conn, log)
        finally:
            self._deliver_changes()
            self._notify()

    def follow(self) -> None:
        """Keep the mirror up with other processes' commits as they are notified, until
        :meth:`close` (nothing to do on SQLite)."""
        if self._log is not None:
            self._log.follow(self.refresh, self._following)

    def _catch_up(self, conn, log: replication.ChangeLog) -> None:
        """Apply the log's entries this mirror lacks, in commit order (under the lock)."""
        entries, complete = log.since(conn)
        if not complete:
            self._reload(conn, log)
            return
        for seq, declared in entries:
            changes = Changes()
            for collection, records in declared:
                if collection in self._declared:
                    changes.of(collection).update(records)
            self._apply(changes, followed=True)
            log.seen = seq

    def _reload(self, conn, log: replication.ChangeLog) -> None:
        """Bring the mirror to the tables when the log no longer reaches back to it: every
        record that differs, applied as one commit (under the lock)."""
        LOG.warning("the model's change log no longer reaches back here: reloading the model")
        newest = log.newest(conn)
        loaded = self._load_declared(
            conn, read_tags(conn), [schema.DECLARED[c] for c in self._declared]
        )
        changes = Changes()
        for collection, records in loaded.items():
            before = self.records(collection)
            differing = changes.of(collection)
            differing.update({k: r for k, r in records.items() if before.get(k) != r})
            differing.update(dict.fromkeys(before.keys() - records.keys()))
        self._apply(changes, followed=True)
        log.seen = newest

    _write = write

    def _apply(self, changes: Changes, followed: bool = False) -> bool:
        """Apply committed changes to the mirror (copy on write); True if the views changed.

        Collections are merged in declaration order, so a view that reads another collection
        (a subnet's reads its network) sees it as committed."""
        snap = self._snapshot
        old_ports = self.records("ports")
        self._queue_changes(changes, followed)
        declared, views, changed = dict(self._declared), {}, {}
        for collection in self._declared:
            resource = schema.DECLARED[collection]
            views[collection] = snap.views(collection)
            updates = changes.declared.get(collection)
            if not updates:
                continue
            declared[collection], new_views, changed_ids = merge(
                declared[collection],
                views[collection],
                updates,
                resource.make_view(lambda c: declared.get(c, {})),
            )
            if resource.has_view and changed_ids:
                views[collection] = new_views
                changed[collection] = frozenset(changed_ids)
        self._declared = declared
        port_changes = changes.declared.get("ports", {})
        deleted_subnets = [i for i, s in changes.declared.get("subnets", {}).items() if s is None]
        if port_changes or deleted_subnets:
            self.allocations = owners_after(
                self.allocations, old_ports, port_changes, deleted_subnets
            )
            self.macs.changed(old_ports, port_changes)
        if changed:
            self._publish(
                ModelSnapshot(
                    revision=snap.revision + 1,
                    **_declared_views(
                        {c: v for c, v in views.items() if schema.DECLARED[c].has_view}
                    ),
                ),
                changed,
            )
        return bool(changed)

    def _publish(self, snap: ModelSnapshot, changed: Mapping[str, frozenset] | None) -> None:
        """Make ``snap`` the current snapshot, logging which views it changed (None: any)."""
        with self._log_lock:
            self._view_log.append((snap.revision, changed))
            self._snapshot = snap

    def snapshot_since(self, revision: int | None) -> tuple[ModelSnapshot, dict | None]:
        """The current snapshot, and the ids of the views that changed after ``revision``, by
        collection: what a reader that keeps what it derived recomputes. None instead when
        that is not known (no revision given, or one older than the log keeps).

        The log's revisions follow one another up to the snapshot's, so the commits since
        ``revision`` are its newest entries: a reader that keeps up (the programmer, every
        pass) costs the one or two it missed, not a walk through the whole log."""
        with self._log_lock:
            snap = self._snapshot
            if revision is None or revision > snap.revision:
                return snap, None
            missed = snap.revision - revision
            entries = list(itertools.islice(reversed(self._view_log), missed))
        if len(entries) != missed or any(c is None for _, c in entries):
            return snap, None  # the log no longer reaches back that far
        since: dict[str, set] = {}
        for _, changed in entries:
            for collection, ids in changed.items():
                since.setdefault(collection, set()).update(ids)
        return snap, since

    def _queue_changes(self, changes: Changes, followed: bool = False) -> None:
        """Queue a commit's typed changes (under the write lock, so in commit order)."""
        events = []
        for collection, updates in changes.declared.items():
            committed = self._declared.get(collection, {})
            for record_id, new in updates.items():
                old = committed.get(record_id)
                if old is not new:
                    events.append(Change(collection, record_id, old, new, followed))
        if events:
            self._commits += 1
            self._pending.append((self._commits, tuple(events)))

    def _deliver_changes(self) -> None:
        """Hand queued commits to the change listeners, oldest first, outside the write lock."""
        with self._notify_lock:
            while self._pending:
                commit, events = self._pending.popleft()
                for callback in list(self._listeners):
                    try:
                        callback(commit, events)
                    except Exception:  # a listener's bug must not fail the API request
                        LOG.exception("change listener %r failed", callback)

    def listen(self, callback: Callable[[int, tuple[Change, ...]], None]) -> None:
        """Call ``callback(commit, changes)`` after every commit that changed a record — views
        or not (a port's binding, a tag) — with what it changed, record by record, commits in
        the order they were made."""
        with self._notify_lock:
            self._listeners.append(callback)

    def _notify(self) -> None:
        """Deliver the newest snapshot to subscribers, in revision order, outside the write lock."""
        with self._notify_lock:
            snap = self._snapshot
            if snap.revision <= self._delivered:
                return
            self._delivered = snap.revision
            for callback in list(self._subscribers):
                try:
                    callback(snap)
                except Exception:  # a subscriber's bug must not fail the API request
                    LOG.exception("snapshot subscriber %r failed", callback)

    def snapshot(self) -> ModelSnapshot:
        """The current committed model (immutable, shared; no SQL)."""
        return self._snapshot

    def subscribe(self, callback: Callable[[ModelSnapshot], None]) -> None:
        """Call ``callback(snapshot)`` after every commit that changes a view: network, subnet,
        port, router, security group (its rules included), QoS policy (its rules included) or
        protocol block (a router's interfaces are ports: attaching one changes a view)."""
        with self._notify_lock:
            self._subscribers.append(callback)

    # ------------------------------------------ the core resources, by the names callers know
    def list_networks(self, ctx: Context) -> list:
        return self.list_records(ctx, "networks")

    def get_network(self, ctx: Context, network_id: str):
        return self.get_record(ctx, "networks", network_id)

    def create_network(self, ctx: Context, attrs: Mapping):
        return self.create_records(ctx, "networks", [attrs])[0]

    def create_networks(self, ctx: Context, items: Iterable[Mapping]) -> list:
        return self.create_records(ctx, "networks", items)

    def update_network(self, ctx: Context, network_id: str, attrs: Mapping, if_revision=None):
        return self.update_record(ctx, "networks", network_id, attrs, if_revision)

    def delete_network(self, ctx: Context, network_id: str, if_revision=None) -> None:
        self.delete_record(ctx, "networks", network_id, if_revision)

    def list_subnets(self, ctx: Context) -> list:
        return self.list_records(ctx, "subnets")

    def get_subnet(self, ctx: Context, subnet_id: str):
        return self.get_record(ctx, "subnets", subnet_id)

    def network_subnets(self, network_id: str) -> list:
        """The network's subnets, oldest first (no visibility check: internal use)."""
        net = self.records("networks").get(network_id)
        return [self.records("subnets")[i] for i in net.subnets] if net is not None else []

    def create_subnet(self, ctx: Context, attrs: Mapping):
        return self.create_records(ctx, "subnets", [attrs])[0]

    def create_subnets(self, ctx: Context, items: Iterable[Mapping]) -> list:
        return self.create_records(ctx, "subnets", items)

    def update_subnet(self, ctx: Context, subnet_id: str, attrs: Mapping, if_revision=None):
        return self.update_record(ctx, "subnets", subnet_id, attrs, if_revision)

    def delete_subnet(self, ctx: Context, subnet_id: str, if_revision=None) -> None:
        self.delete_record(ctx, "subnets", subnet_id, if_revision)

    def list_ports(self, ctx: Context) -> list:
        return self.list_records(ctx, "ports")

    def get_port(self, ctx: Context, port_id: str):
        return self.get_record(ctx, "ports", port_id)

    def create_port(self, ctx: Context, attrs: Mapping):
        return self.create_records(ctx, "ports", [attrs])[0]

    def create_ports(self, ctx: Context, items: Iterable[Mapping]) -> list:
        return self.create_records(ctx, "ports", items)

    def update_port(self, ctx: Context, port_id: str, attrs: Mapping, if_revision=None):
        return self.update_record(ctx, "ports", port_id, attrs, if_revision)

    def delete_port(self, ctx: Context, port_id: str, if_revision=None) -> None:
        self.delete_record(ctx, "ports", port_id, if_revision)

    def set_hosts(self, hosts: Mapping[str, Mapping[str, str]]) -> None:
        self.hosts = MappingProxyType(dict(hosts))

    def update_port_bindings(
        self, bindings: Mapping[str, str], only: Iterable[str] | None = None
    ) -> None:
        from naas_sdn.features.networking.ports import update_bindings

        update_bindings(self, bindings, only)

    def close(self) -> None:
        self._following.set()
        with self._lock:
            self._engine.dispose()


def _declared_views(views: Mapping[str, Mapping]) -> dict:
    """ModelSnapshot keywords for declared resources' views: a field of its own where the
    snapshot has one, ``extra`` otherwise."""
    named = {c: v for c, v in views.items() if c in ModelSnapshot.__dataclass_fields__}
    return {**named, "extra": MappingProxyType({c: v for c, v in views.items() if c not in named})}
