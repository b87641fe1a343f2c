"""The network service: every invariant of the logical model, enforced in one SQL transaction.

Writes are serialized by one lock (SQLite has a single writer anyway) and applied to an in-memory
mirror only after their transaction commits, so readers — the API and the flow compiler — see a
consistent, committed model without touching SQL. A request that fails leaves no trace.
"""
from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import logging
import random
import secrets
import threading
import uuid
from types import MappingProxyType
from typing import Callable, Iterable, Mapping

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from naas_sdn.model import db, errors
from naas_sdn.model.snapshot import EMPTY, ModelSnapshot, NetworkView, PortView

LOG = logging.getLogger(__name__)

SEGMENTATION_MIN, SEGMENTATION_MAX = 1, 4094  # VLAN ids carried on fabric trunks
DEFAULT_MTU = 1500
NETWORK_TYPE = "vlan"
MAC_PREFIX = (0xFA, 0x16, 0x3E)  # Neutron's default base_mac
MAC_ATTEMPTS = 16
VIF_TYPE_UNBOUND, VIF_TYPE_OVS = "unbound", "ovs"
VNIC_NORMAL = "normal"
STATUS_ACTIVE, STATUS_DOWN = "ACTIVE", "DOWN"
_WRITE_ATTEMPTS = 3


@dataclasses.dataclass(frozen=True)
class Context:
    """Who is asking: the project a request acts for and whether it has the admin role."""

    project_id: str
    is_admin: bool = False

    @classmethod
    def admin(cls) -> "Context":
        return cls(project_id="", is_admin=True)


@dataclasses.dataclass(frozen=True)
class Network:
    id: str
    project_id: str
    name: str
    description: str
    admin_state_up: bool
    shared: bool
    mtu: int
    segmentation_id: int
    revision_number: int
    created_at: datetime.datetime
    updated_at: datetime.datetime
    tags: tuple[str, ...] = ()
    status: str = STATUS_ACTIVE
    network_type: str = NETWORK_TYPE


@dataclasses.dataclass(frozen=True)
class Port:
    id: str
    key: int
    network_id: str
    project_id: str
    name: str
    description: str
    mac_address: str
    admin_state_up: bool
    status: str
    device_id: str
    device_owner: str
    binding_host_id: str
    binding_vif_type: str
    binding_vnic_type: str
    binding_profile_json: str
    revision_number: int
    created_at: datetime.datetime
    updated_at: datetime.datetime
    tags: tuple[str, ...] = ()

    @property
    def binding_profile(self) -> dict:
        return json.loads(self.binding_profile_json)

    @property
    def binding_vif_details(self) -> dict:
        return {}


NETWORK_UPDATABLE = frozenset({"name", "description", "admin_state_up", "shared"})
PORT_UPDATABLE = frozenset({"name", "description", "admin_state_up", "mac_address", "device_id",
                            "device_owner", "binding_vnic_type", "binding_profile", "fixed_ips"})


def utcnow() -> datetime.datetime:
    """Second resolution, naive UTC: what Neutron's timestamps show."""
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0, tzinfo=None)


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class _Changes:
    """What one transaction did, applied to the mirror only once it has committed."""

    def __init__(self):
        self.networks: dict[str, Network | None] = {}
        self.ports: dict[str, Port | None] = {}


class NetworkService:
    """Networks, ports, tokens and the fabric, backed by SQL and mirrored in memory."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self._lock = threading.RLock()
        self._notify_lock = threading.RLock()
        self._subscribers: list[Callable[[ModelSnapshot], None]] = []
        self._delivered = -1
        self._random = random.SystemRandom()
        self._networks: Mapping[str, Network] = {}
        self._ports: Mapping[str, Port] = {}
        self._snapshot = EMPTY
        self._load()

    # ----------------------------------------------------------------- mirror and snapshots
    def _load(self) -> None:
        with self._read() as conn:
            tags: dict[tuple[str, str], list[str]] = {}
            for row in conn.execute(select(db.tags).order_by(db.tags.c.tag)):
                tags.setdefault((row.resource_type, row.resource_id), []).append(row.tag)
            nets = {}
            for row in conn.execute(select(db.networks).order_by(db.networks.c.created_at,
                                                                  db.networks.c.id)):
                nets[row.id] = _network_from_row(row, tuple(tags.get(("networks", row.id), ())))
            ports = {}
            for row in conn.execute(select(db.ports).order_by(db.ports.c.created_at,
                                                               db.ports.c.id)):
                ports[row.id] = _port_from_row(row, tuple(tags.get(("ports", row.id), ())))
        self._networks, self._ports = nets, ports
        self._snapshot = ModelSnapshot(
            networks=MappingProxyType({n.id: _network_view(n) for n in nets.values()}),
            ports=MappingProxyType({p.id: _port_view(p) for p in ports.values()}),
            revision=1)

    def _read(self):
        return self._engine.connect().execution_options(readonly=True)

    def _write(self, work: Callable[[object, _Changes], object]):
        """Run ``work(conn, changes)`` in one transaction, then publish what it changed.

        An IntegrityError can only come from a writer in another process racing us for a unique
        value; the work is retried from a fresh read.
        """
        with self._lock:
            for attempt in range(_WRITE_ATTEMPTS):
                changes = _Changes()
                try:
                    with self._engine.begin() as conn:
                        result = work(conn, changes)
                    break
                except IntegrityError:
                    if attempt == _WRITE_ATTEMPTS - 1:
                        raise
                    LOG.warning("write conflict with another database client; retrying")
            views_changed = self._apply(changes)
        if views_changed:
            self._notify()
        return result

    def _apply(self, changes: _Changes) -> bool:
        """Apply committed changes to the mirror (copy on write); True if the views changed."""
        snap = self._snapshot
        net_views, port_views = dict(snap.networks), dict(snap.ports)
        changed = False
        if changes.networks:
            nets = dict(self._networks)
            for net_id, net in changes.networks.items():
                if net is None:
                    nets.pop(net_id, None)
                    changed |= net_views.pop(net_id, None) is not None
                else:
                    nets[net_id] = net
                    view = _network_view(net)
                    changed |= net_views.get(net_id) != view
                    net_views[net_id] = view
            self._networks = nets
        if changes.ports:
            ports = dict(self._ports)
            for port_id, port in changes.ports.items():
                if port is None:
                    ports.pop(port_id, None)
                    changed |= port_views.pop(port_id, None) is not None
                else:
                    ports[port_id] = port
                    view = _port_view(port)
                    changed |= port_views.get(port_id) != view
                    port_views[port_id] = view
            self._ports = ports
        if changed:
            self._snapshot = ModelSnapshot(networks=MappingProxyType(net_views),
                                           ports=MappingProxyType(port_views),
                                           revision=snap.revision + 1)
        return changed

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
        """Call ``callback(snapshot)`` after every commit that changes a network or port view."""
        with self._notify_lock:
            self._subscribers.append(callback)

    # ----------------------------------------------------------------------------- tokens
    def create_token(self, project_id: str, admin: bool = False, description: str = "") -> str:
        """Create an API token for ``project_id``; returns the secret (only its hash is kept)."""
        if not project_id or len(project_id) > db.PROJECT_LEN:
            raise ValueError("project id must be 1 to 255 characters")
        secret = secrets.token_urlsafe(32)
        with self._engine.begin() as conn:
            conn.execute(insert(db.tokens).values(
                id=str(uuid.uuid4()), secret_sha256=_hash_secret(secret), project_id=project_id,
                admin=bool(admin), description=description or "", created_at=utcnow()))
        return secret

    def list_tokens(self) -> list[dict]:
        with self._read() as conn:
            rows = conn.execute(select(db.tokens).order_by(db.tokens.c.created_at)).all()
        return [{"id": r.id, "project_id": r.project_id, "admin": r.admin,
                 "created_at": format_time(r.created_at), "description": r.description}
                for r in rows]

    def revoke_token(self, token_id: str) -> bool:
        with self._engine.begin() as conn:
            return conn.execute(delete(db.tokens).where(db.tokens.c.id == token_id)).rowcount > 0

    def authenticate(self, secret: str | None) -> Context | None:
        """The context of a token, read from SQL each time so CLI changes apply at once."""
        if not secret:
            return None
        with self._read() as conn:
            row = conn.execute(select(db.tokens.c.project_id, db.tokens.c.admin).where(
                db.tokens.c.secret_sha256 == _hash_secret(secret))).first()
        return Context(project_id=row.project_id, is_admin=bool(row.admin)) if row else None

    # ---------------------------------------------------------------------------- networks
    def list_networks(self, ctx: Context) -> list[Network]:
        return [n for n in self._networks.values() if _network_visible(ctx, n)]

    def get_network(self, ctx: Context, network_id: str) -> Network:
        net = self._networks.get(network_id)
        if net is None or not _network_visible(ctx, net):
            raise errors.NetworkNotFound(net_id=network_id)
        return net

    def create_network(self, ctx: Context, attrs: Mapping) -> Network:
        return self.create_networks(ctx, [attrs])[0]

    def create_networks(self, ctx: Context, items: Iterable[Mapping]) -> list[Network]:
        """Create networks, all or none.

        ``attrs`` keys: name, description, admin_state_up, shared, project_id, tags,
        segmentation_id (admin only), network_type.
        """
        items = list(items)

        def work(conn, changes):
            used = {n.segmentation_id for n in self._networks.values()}
            created = []
            for attrs in items:
                net = self._insert_network(conn, ctx, attrs, used)
                used.add(net.segmentation_id)
                changes.networks[net.id] = net
                created.append(net)
            return created
        return self._write(work)

    def _insert_network(self, conn, ctx: Context, attrs: Mapping, used: set[int]) -> Network:
        project_id = _owner(ctx, attrs)
        network_type = attrs.get("network_type") or NETWORK_TYPE
        if network_type != NETWORK_TYPE:
            raise errors.InvalidInput(
                error_message=f"network_type value '{network_type}' not supported")
        seg = attrs.get("segmentation_id")
        if seg is not None:
            if seg in used:
                raise errors.VlanIdInUse(vlan_id=seg, physical_network=None)
        else:
            seg = next((s for s in range(SEGMENTATION_MIN, SEGMENTATION_MAX + 1) if s not in used),
                       None)
            if seg is None:
                raise errors.NoNetworkAvailable()
        now = utcnow()
        net = Network(id=str(uuid.uuid4()), project_id=project_id,
                      name=attrs.get("name", ""), description=attrs.get("description", ""),
                      admin_state_up=bool(attrs.get("admin_state_up", True)),
                      shared=bool(attrs.get("shared", False)), mtu=DEFAULT_MTU,
                      segmentation_id=seg, revision_number=1, created_at=now, updated_at=now,
                      tags=_norm_tags(attrs.get("tags", ())))
        conn.execute(insert(db.networks).values(
            id=net.id, project_id=net.project_id, name=net.name, description=net.description,
            admin_state_up=net.admin_state_up, shared=net.shared, mtu=net.mtu,
            segmentation_id=seg, revision_number=1, created_at=now, updated_at=now))
        _write_tags(conn, "networks", net.id, net.tags)
        return net

    def update_network(self, ctx: Context, network_id: str, attrs: Mapping,
                       if_revision: int | None = None) -> Network:
        unknown = set(attrs) - NETWORK_UPDATABLE
        if unknown:
            raise errors.BadRequestMessage(
                msg=f"Cannot update read-only attribute {sorted(unknown)[0]}")

        def work(conn, changes):
            net = self._owned_network(ctx, network_id, "update_network", if_revision)
            values = {k: v for k, v in attrs.items() if getattr(net, k) != v}
            if values.get("shared") is False:
                foreign = {p.project_id for p in self._ports.values()
                           if p.network_id == network_id} - {net.project_id}
                if foreign:
                    raise errors.InvalidSharedSetting(network=network_id)
            if not values:
                return net
            new = dataclasses.replace(net, **values, revision_number=net.revision_number + 1,
                                      updated_at=utcnow())
            _update_row(conn, db.networks, new, values)
            changes.networks[new.id] = new
            return new
        return self._write(work)

    def delete_network(self, ctx: Context, network_id: str,
                       if_revision: int | None = None) -> None:
        def work(conn, changes):
            self._owned_network(ctx, network_id, "delete_network", if_revision)
            if any(p.network_id == network_id for p in self._ports.values()):
                raise errors.NetworkInUse(net_id=network_id)
            conn.execute(delete(db.tags).where(db.tags.c.resource_type == "networks",
                                               db.tags.c.resource_id == network_id))
            conn.execute(delete(db.networks).where(db.networks.c.id == network_id))
            changes.networks[network_id] = None
        self._write(work)

    def _owned_network(self, ctx: Context, network_id: str, action: str,
                       if_revision: int | None) -> Network:
        net = self.get_network(ctx, network_id)
        if not (ctx.is_admin or net.project_id == ctx.project_id):
            raise errors.PolicyNotAuthorized(action=action)  # visible (shared) but not owned
        _check_revision(net.revision_number, if_revision)
        return net

    # ------------------------------------------------------------------------------- ports
    def list_ports(self, ctx: Context) -> list[Port]:
        nets = self._networks
        return [p for p in self._ports.values() if _port_visible(ctx, p, nets)]

    def get_port(self, ctx: Context, port_id: str) -> Port:
        port = self._ports.get(port_id)
        if port is None or not _port_visible(ctx, port, self._networks):
            raise errors.PortNotFound(port_id=port_id)
        return port

    def create_port(self, ctx: Context, attrs: Mapping) -> Port:
        return self.create_ports(ctx, [attrs])[0]

    def create_ports(self, ctx: Context, items: Iterable[Mapping]) -> list[Port]:
        """Create ports, all or none.

        ``attrs`` keys: network_id (required), name, description, admin_state_up, mac_address,
        device_id, device_owner, binding_vnic_type, binding_profile, fixed_ips, project_id, tags.
        """
        items = list(items)

        def work(conn, changes):
            macs = {(p.network_id, p.mac_address) for p in self._ports.values()}
            created = []
            for attrs in items:
                port = self._insert_port(conn, ctx, attrs, macs)
                macs.add((port.network_id, port.mac_address))
                changes.ports[port.id] = port
                created.append(port)
            return created
        return self._write(work)

    def _insert_port(self, conn, ctx: Context, attrs: Mapping, macs: set) -> Port:
        network_id = attrs["network_id"]
        net = self.get_network(ctx, network_id)
        project_id = _owner(ctx, attrs)
        _check_fixed_ips(attrs.get("fixed_ips") or [])
        mac = attrs.get("mac_address")
        if mac is not None:
            if (network_id, mac) in macs:
                raise errors.MacAddressInUse(net_id=network_id, mac=mac)
        else:
            mac = self._allocate_mac(network_id, macs)
        key = _next_counter(conn, "port_key")
        now = utcnow()
        port = Port(id=str(uuid.uuid4()), key=key, network_id=net.id, project_id=project_id,
                    name=attrs.get("name", ""), description=attrs.get("description", ""),
                    mac_address=mac, admin_state_up=bool(attrs.get("admin_state_up", True)),
                    status=STATUS_DOWN, device_id=attrs.get("device_id", ""),
                    device_owner=attrs.get("device_owner", ""), binding_host_id="",
                    binding_vif_type=VIF_TYPE_UNBOUND,
                    binding_vnic_type=attrs.get("binding_vnic_type", VNIC_NORMAL),
                    binding_profile_json=json.dumps(attrs.get("binding_profile") or {},
                                                    sort_keys=True),
                    revision_number=1, created_at=now, updated_at=now,
                    tags=_norm_tags(attrs.get("tags", ())))
        conn.execute(insert(db.ports).values(
            id=port.id, key=key, network_id=port.network_id, project_id=project_id,
            name=port.name, description=port.description, mac_address=mac,
            admin_state_up=port.admin_state_up, status=port.status, device_id=port.device_id,
            device_owner=port.device_owner, binding_host_id="",
            binding_vif_type=port.binding_vif_type, binding_vnic_type=port.binding_vnic_type,
            binding_profile=port.binding_profile_json, revision_number=1,
            created_at=now, updated_at=now))
        _write_tags(conn, "ports", port.id, port.tags)
        return port

    def _allocate_mac(self, network_id: str, macs: set) -> str:
        """Neutron's scheme: the base prefix plus random bytes, unique within the network."""
        for _ in range(MAC_ATTEMPTS):
            tail = [self._random.randrange(256) for _ in range(3)]
            mac = ":".join(f"{b:02x}" for b in (*MAC_PREFIX, *tail))
            if (network_id, mac) not in macs:
                return mac
        raise errors.MacAddressGenerationFailure(net_id=network_id)

    def update_port(self, ctx: Context, port_id: str, attrs: Mapping,
                    if_revision: int | None = None) -> Port:
        unknown = set(attrs) - PORT_UPDATABLE
        if unknown:
            raise errors.BadRequestMessage(
                msg=f"Cannot update read-only attribute {sorted(unknown)[0]}")

        def work(conn, changes):
            port = self._owned_port(ctx, port_id, "update_port", if_revision, network_owner=False)
            attrs_ = dict(attrs)
            if "fixed_ips" in attrs_:
                _check_fixed_ips(attrs_.pop("fixed_ips") or [])
            if "binding_profile" in attrs_:
                attrs_["binding_profile_json"] = json.dumps(attrs_.pop("binding_profile") or {},
                                                            sort_keys=True)
            values = {k: v for k, v in attrs_.items() if getattr(port, k) != v}
            if "mac_address" in values:
                if port.binding_vif_type != VIF_TYPE_UNBOUND:
                    raise errors.PortBound(port_id=port_id, vif_type=port.binding_vif_type,
                                           old_mac=port.mac_address, new_mac=values["mac_address"])
                if any(p.network_id == port.network_id and p.mac_address == values["mac_address"]
                       for p in self._ports.values()):
                    raise errors.MacAddressInUse(net_id=port.network_id,
                                                 mac=values["mac_address"])
            if "admin_state_up" in values:
                values["status"] = _port_status(port.binding_host_id, values["admin_state_up"])
            if not values:
                return port
            new = dataclasses.replace(port, **values, revision_number=port.revision_number + 1,
                                      updated_at=utcnow())
            _update_row(conn, db.ports, new, values)
            changes.ports[new.id] = new
            return new
        return self._write(work)

    def delete_port(self, ctx: Context, port_id: str, if_revision: int | None = None) -> None:
        def work(conn, changes):
            self._owned_port(ctx, port_id, "delete_port", if_revision, network_owner=True)
            conn.execute(delete(db.tags).where(db.tags.c.resource_type == "ports",
                                               db.tags.c.resource_id == port_id))
            conn.execute(delete(db.ports).where(db.ports.c.id == port_id))
            changes.ports[port_id] = None
        self._write(work)

    def _owned_port(self, ctx: Context, port_id: str, action: str, if_revision: int | None,
                    network_owner: bool) -> Port:
        port = self.get_port(ctx, port_id)
        allowed = ctx.is_admin or port.project_id == ctx.project_id
        if not allowed and network_owner:
            net = self._networks.get(port.network_id)
            allowed = net is not None and net.project_id == ctx.project_id
        if not allowed:
            raise errors.PolicyNotAuthorized(action=action)
        _check_revision(port.revision_number, if_revision)
        return port

    def update_port_bindings(self, bindings: Mapping[str, str]) -> None:
        """Reconcile port binding with the plugged VIFs: ``bindings`` maps port id → host.

        Ports listed become bound to their host (ACTIVE, or DOWN when administratively down);
        the others unbound and DOWN. Only ports whose values change are written.
        """
        with self._lock:
            wanted = {}
            for port in self._ports.values():
                host = bindings.get(port.id) or ""
                values = {"binding_host_id": host,
                          "binding_vif_type": VIF_TYPE_OVS if host else VIF_TYPE_UNBOUND,
                          "status": _port_status(host, port.admin_state_up)}
                diff = {k: v for k, v in values.items() if getattr(port, k) != v}
                if diff:
                    wanted[port.id] = diff
            if not wanted:
                return

            def work(conn, changes):
                now = utcnow()
                for port_id, values in wanted.items():
                    port = self._ports.get(port_id)
                    if port is None:
                        continue
                    new = dataclasses.replace(port, **values, updated_at=now,
                                              revision_number=port.revision_number + 1)
                    _update_row(conn, db.ports, new, values)
                    changes.ports[port_id] = new
            self._write(work)

    # -------------------------------------------------------------------------------- tags
    def _taggable(self, ctx: Context, resource: str, resource_id: str, write: bool):
        if resource == "networks":
            if write:
                return self._owned_network(ctx, resource_id, "update_network", None)
            return self.get_network(ctx, resource_id)
        if resource == "ports":
            if write:
                return self._owned_port(ctx, resource_id, "update_port", None, False)
            return self.get_port(ctx, resource_id)
        raise errors.ResourceNotFound()

    def get_tags(self, ctx: Context, resource: str, resource_id: str) -> list[str]:
        return list(self._taggable(ctx, resource, resource_id, write=False).tags)

    def set_tags(self, ctx: Context, resource: str, resource_id: str,
                 tags: Iterable[str]) -> list[str]:
        """Replace every tag of a network or port (bumps its revision if they differ)."""
        wanted = _norm_tags(tags)

        def work(conn, changes):
            obj = self._taggable(ctx, resource, resource_id, write=True)
            if obj.tags == wanted:
                return list(wanted)
            conn.execute(delete(db.tags).where(db.tags.c.resource_type == resource,
                                               db.tags.c.resource_id == resource_id))
            _write_tags(conn, resource, resource_id, wanted)
            new = dataclasses.replace(obj, tags=wanted, updated_at=utcnow(),
                                      revision_number=obj.revision_number + 1)
            table = db.networks if resource == "networks" else db.ports
            _update_row(conn, table, new, {})
            (changes.networks if resource == "networks" else changes.ports)[resource_id] = new
            return list(wanted)
        return self._write(work)

    def add_tag(self, ctx: Context, resource: str, resource_id: str, tag: str) -> None:
        with self._lock:
            current = self._taggable(ctx, resource, resource_id, write=True).tags
            if tag not in current:
                self.set_tags(ctx, resource, resource_id, (*current, tag))

    def remove_tag(self, ctx: Context, resource: str, resource_id: str, tag: str) -> None:
        with self._lock:
            current = self._taggable(ctx, resource, resource_id, write=True).tags
            if tag not in current:
                raise errors.TagNotFound(tag=tag, resource=resource[:-1], resource_id=resource_id)
            self.set_tags(ctx, resource, resource_id, [t for t in current if t != tag])

    # ------------------------------------------------------------------------------ fabric
    def load_fabric_links(self) -> list[tuple[int, int, int, int]]:
        with self._read() as conn:
            rows = conn.execute(select(db.fabric_links)).all()
        return sorted((int(r.src_dpid, 16), int(r.src_port), int(r.dst_dpid, 16), int(r.dst_port))
                      for r in rows)

    def save_fabric_links(self, links: Iterable[tuple[int, int, int, int]]) -> None:
        """Replace the persisted fabric with ``links`` (src_dpid, src_port, dst_dpid, dst_port)."""
        links = sorted({tuple(int(x) for x in link) for link in links})
        for s, sp, d, dp in links:
            if not (0 <= s < 2 ** 64 and 0 <= d < 2 ** 64 and 0 <= sp < 2 ** 32
                    and 0 <= dp < 2 ** 32):
                raise ValueError(f"invalid fabric link {(s, sp, d, dp)}")
        rows = [{"src_dpid": f"{s:016x}", "src_port": sp, "dst_dpid": f"{d:016x}", "dst_port": dp}
                for s, sp, d, dp in links]
        with self._lock, self._engine.begin() as conn:
            conn.execute(delete(db.fabric_links))
            if rows:
                conn.execute(insert(db.fabric_links), rows)

    def close(self) -> None:
        with self._lock:
            self._engine.dispose()


def format_time(value: datetime.datetime) -> str:
    """Neutron's timestamp format: ``2026-11-21T06:06:00Z``."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _owner(ctx: Context, attrs: Mapping) -> str:
    project_id = attrs.get("project_id") or ctx.project_id
    if project_id != ctx.project_id and not ctx.is_admin:
        raise errors.BadRequestMessage(
            msg="Specifying 'project_id' or 'tenant_id' other than the authenticated project in "
                "request requires admin privileges")
    if not project_id:
        raise errors.BadRequestMessage(msg="Running without keystone AuthN requires that "
                                           "tenant_id is specified")
    return project_id


def _network_visible(ctx: Context, net: Network) -> bool:
    return ctx.is_admin or net.shared or net.project_id == ctx.project_id


def _port_visible(ctx: Context, port: Port, nets: Mapping[str, Network]) -> bool:
    if ctx.is_admin or port.project_id == ctx.project_id:
        return True
    net = nets.get(port.network_id)
    return net is not None and net.project_id == ctx.project_id  # the network owner sees ports


def _check_revision(current: int, expected: int | None) -> None:
    if expected is not None and expected != current:
        raise errors.RevisionNumberConstraintFailed(expected=expected, current=current)


def _check_fixed_ips(fixed_ips) -> None:
    """No subnet exists yet, so any requested fixed IP names something that is not there."""
    for entry in fixed_ips:
        if entry.get("subnet_id"):
            raise errors.SubnetNotFound(subnet_id=entry["subnet_id"])
        if entry.get("ip_address"):
            raise errors.InvalidIpForNetwork(ip_address=entry["ip_address"])


def _port_status(host: str, admin_state_up: bool) -> str:
    return STATUS_ACTIVE if host and admin_state_up else STATUS_DOWN


def _norm_tags(tags: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(tags)))


def _write_tags(conn, resource: str, resource_id: str, tags: Iterable[str]) -> None:
    rows = [{"resource_type": resource, "resource_id": resource_id, "tag": t} for t in tags]
    if rows:
        conn.execute(insert(db.tags), rows)


def _update_row(conn, table, obj, values: Mapping) -> None:
    """Write ``values`` plus the standard attributes; the row must exist (we hold the lock)."""
    columns = {("binding_profile" if k == "binding_profile_json" else k): v
               for k, v in values.items()}
    columns.update(revision_number=obj.revision_number, updated_at=obj.updated_at)
    result = conn.execute(update(table).where(table.c.id == obj.id).values(**columns))
    if result.rowcount != 1:
        raise RuntimeError(f"{table.name} row {obj.id} vanished under the write lock")


def _next_counter(conn, name: str) -> int:
    row = conn.execute(select(db.counters.c.next_value).where(db.counters.c.name == name)).first()
    if row is None:
        conn.execute(insert(db.counters).values(name=name, next_value=2))
        return 1
    conn.execute(update(db.counters).where(db.counters.c.name == name)
                 .values(next_value=row.next_value + 1))
    return row.next_value


def _network_from_row(row, tags) -> Network:
    return Network(id=row.id, project_id=row.project_id, name=row.name,
                   description=row.description, admin_state_up=row.admin_state_up,
                   shared=row.shared, mtu=row.mtu, segmentation_id=row.segmentation_id,
                   revision_number=row.revision_number, created_at=row.created_at,
                   updated_at=row.updated_at, tags=tags)


def _port_from_row(row, tags) -> Port:
    return Port(id=row.id, key=row.key, network_id=row.network_id, project_id=row.project_id,
                name=row.name, description=row.description, mac_address=row.mac_address,
                admin_state_up=row.admin_state_up, status=row.status, device_id=row.device_id,
                device_owner=row.device_owner, binding_host_id=row.binding_host_id,
                binding_vif_type=row.binding_vif_type, binding_vnic_type=row.binding_vnic_type,
                binding_profile_json=row.binding_profile, revision_number=row.revision_number,
                created_at=row.created_at, updated_at=row.updated_at, tags=tags)


def _network_view(net: Network) -> NetworkView:
    return NetworkView(id=net.id, project_id=net.project_id, key=net.segmentation_id,
                       admin_state_up=net.admin_state_up)


def _port_view(port: Port) -> PortView:
    return PortView(id=port.id, network_id=port.network_id, project_id=port.project_id,
                    key=port.key, mac_address=port.mac_address,
                    admin_state_up=port.admin_state_up)
