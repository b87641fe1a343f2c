"""The network service: every invariant of the logical model, enforced in one SQL transaction.

Writes are serialized by one lock (SQLite has a single writer anyway) and applied to an in-memory
mirror only after their transaction commits, so readers — the API and the flow compiler — see a
consistent, committed model without touching SQL. A request that fails leaves no trace.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

import netaddr
from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import IntegrityError

from naas_sdn import features
from naas_sdn.features.qos import bindings as qos_bindings
from naas_sdn.features.statistics.store import StatisticsStore
from naas_sdn.model import db, errors, hooks, ipam, schema
from naas_sdn.model.allocation import Addresses, allocate_mac, owners_after
from naas_sdn.model.common import (
    Changes,
    Context,
    bump,
    check_revision,
    check_updatable,
    merge,
    next_counter,
    norm_tags,
    owner,
    read_tags,
    update_row,
    utcnow,
    write_tags,
)
from naas_sdn.model.fabric_links import FabricLinkStore
from naas_sdn.model.quotas import QuotaMixin
from naas_sdn.model.security import (
    SecurityMixin,
    enforced_protection,
    load_port_security,
    load_security_groups,
    security_group_view,
    write_network_port_security,
)
from naas_sdn.model.snapshot import (
    EMPTY,
    ModelSnapshot,
    NetworkView,
    PortView,
    SubnetView,
)
from naas_sdn.model.store import DeclaredStore, Transaction
from naas_sdn.model.tokens import TokenStore

LOG = logging.getLogger(__name__)

SEGMENTATION_MIN, SEGMENTATION_MAX = 1, 4094  # VLAN ids carried on fabric trunks
DEFAULT_MTU = 1500
NETWORK_TYPE = "vlan"
VIF_TYPE_UNBOUND, VIF_TYPE_OVS = "unbound", "ovs"
VNIC_NORMAL = "normal"
STATUS_ACTIVE, STATUS_DOWN = "ACTIVE", "DOWN"
_WRITE_ATTEMPTS = 3


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
    subnets: tuple[str, ...] = ()  # ids, oldest first (kept by the mirror, not a column)
    port_security_enabled: bool = True  # the default of its new ports
    qos_policy_id: str | None = None


@dataclasses.dataclass(frozen=True)
class Subnet:
    id: str
    network_id: str
    project_id: str
    name: str
    description: str
    ip_version: int
    cidr: str
    gateway_ip: str | None
    enable_dhcp: bool
    ipv6_ra_mode: str | None
    ipv6_address_mode: str | None
    allocation_pools: tuple[tuple[str, str], ...]  # (start, end), ordered by start
    dns_nameservers: tuple[str, ...]
    host_routes: tuple[tuple[str, str], ...]  # (destination, nexthop)
    revision_number: int
    created_at: datetime.datetime
    updated_at: datetime.datetime
    tags: tuple[str, ...] = ()
    seq: int = 0  # creation order, from a counter that never goes back

    @property
    def auto_address(self) -> bool:
        """SLAAC or DHCPv6-stateless: ports get their EUI-64 address, never a chosen one."""
        return ipam.is_auto_address(self.ip_version, self.ipv6_ra_mode, self.ipv6_address_mode)


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
    fixed_ips: tuple[tuple[str, str], ...] = ()  # (subnet id, ip address), API order
    port_security_enabled: bool = True
    security_groups: tuple[str, ...] = ()  # sorted ids
    # (ip address or cidr, mac or None: the port's own), API order
    allowed_address_pairs: tuple[tuple[str, str | None], ...] = ()
    qos_policy_id: str | None = None

    @property
    def binding_profile(self) -> dict:
        return json.loads(self.binding_profile_json)

    @property
    def binding_vif_details(self) -> dict:
        return {}


NETWORK_EXTENSIONS = frozenset({"port_security_enabled", "qos_policy_id"})  # not columns
NETWORK_UPDATABLE = (
    frozenset({"name", "description", "admin_state_up", "shared"}) | NETWORK_EXTENSIONS
)
PORT_EXTENSIONS = frozenset(
    {"port_security_enabled", "security_groups", "allowed_address_pairs", "qos_policy_id"}
)
PORT_UPDATABLE = (
    frozenset(
        {
            "name",
            "description",
            "admin_state_up",
            "mac_address",
            "device_id",
            "device_owner",
            "binding_vnic_type",
            "binding_profile",
            "fixed_ips",
        }
    )
    | PORT_EXTENSIONS
)
SUBNET_UPDATABLE = frozenset(
    {
        "name",
        "description",
        "gateway_ip",
        "allocation_pools",
        "dns_nameservers",
        "host_routes",
        "enable_dhcp",
    }
)
DEFAULT_GATEWAY = object()  # create_subnet without "gateway_ip": the first host address


@dataclasses.dataclass(frozen=True)
class _TagKind:
    member: str  # singular name, for messages
    changes: str  # the Changes attribute (and mirror) holding such records
    table: object
    get: Callable  # (ctx, id) -> record the caller can see (the API decided who may change it)


class NetworkService(SecurityMixin, QuotaMixin, DeclaredStore):
    """Networks, ports, security groups, the declared resources (routers, QoS policies,
    protocol blocks, plugins' own) and quotas, backed by SQL and mirrored in memory (the mixins
    hold each feature's logic). Stores that share only the engine hang beside it:
    ``statistics``, ``tokens``, ``fabric_links``."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self._lock = threading.RLock()
        self._notify_lock = threading.RLock()
        self._subscribers: list[Callable[[ModelSnapshot], None]] = []
        self._delivered = -1
        self._networks: Mapping[str, Network] = {}
        self._ports: Mapping[str, Port] = {}
        self._subnets: Mapping[str, Subnet] = {}
        self._security_groups = {}
        features.import_declarations()
        schema.PLUGIN_METADATA.create_all(engine)  # plugins' tables, beside the migrated ones
        self._declared = {}
        self._allocations: Mapping[str, Mapping[str, str]] = {}  # subnet -> {ip: port id}
        self._snapshot = EMPTY
        self._load()
        self.statistics = StatisticsStore(engine)
        self.tokens = TokenStore(engine)
        self.fabric_links = FabricLinkStore(engine)

    # ----------------------------------------------------------------- mirror and snapshots
    def _load(self) -> None:
        with self._read() as conn:
            tags = read_tags(conn)
            subnets: dict[str, Subnet] = {}
            subnet_ids: dict[str, list[str]] = {}
            for row in conn.execute(select(db.subnets).order_by(db.subnets.c.seq)):
                subnets[row.id] = _subnet_from_row(row, tags.get(("subnets", row.id), ()))
                subnet_ids.setdefault(row.network_id, []).append(row.id)
            net_security, port_security = load_port_security(conn)
            net_qos, port_qos = qos_bindings.load(conn)
            nets = {}
            for row in conn.execute(
                select(db.networks).order_by(db.networks.c.created_at, db.networks.c.id)
            ):
                nets[row.id] = dataclasses.replace(
                    _network_from_row(row, tags.get(("networks", row.id), ())),
                    subnets=tuple(subnet_ids.get(row.id, ())),
                    qos_policy_id=net_qos.get(row.id),
                    **net_security.get(row.id, {}),
                )
            fixed: dict[str, list[tuple[str, str]]] = {}
            allocations: dict[str, dict[str, str]] = {}
            for row in conn.execute(
                select(db.ip_allocations).order_by(
                    db.ip_allocations.c.port_id, db.ip_allocations.c.position
                )
            ):
                fixed.setdefault(row.port_id, []).append((row.subnet_id, row.ip_address))
                allocations.setdefault(row.subnet_id, {})[row.ip_address] = row.port_id
            ports = {}
            for row in conn.execute(
                select(db.ports).order_by(db.ports.c.created_at, db.ports.c.id)
            ):
                ports[row.id] = dataclasses.replace(
                    _port_from_row(row, tags.get(("ports", row.id), ())),
                    fixed_ips=tuple(fixed.get(row.id, ())),
                    qos_policy_id=port_qos.get(row.id),
                    **port_security.get(row.id, {}),
                )
            groups = load_security_groups(conn, tags)
            declared = self._load_declared(conn, tags, schema.DECLARED.values())
        self._networks, self._ports, self._subnets = nets, ports, subnets
        self._security_groups = groups
        self._declared = declared
        self._allocations = allocations
        self._snapshot = ModelSnapshot(
            networks=MappingProxyType({n.id: _network_view(n) for n in nets.values()}),
            ports=MappingProxyType({p.id: _port_view(p) for p in ports.values()}),
            revision=1,
            subnets=MappingProxyType(
                {s.id: _subnet_view(s, nets[s.network_id]) for s in subnets.values()}
            ),
            **{
                kind: MappingProxyType({k: view(v) for k, v in getattr(self, "_" + kind).items()})
                for kind, view in _SIMPLE_VIEWS.items()
            },
            **_declared_views(
                {
                    c: MappingProxyType({k: r.view(v) for k, v in declared[c].items()})
                    for c, r in schema.DECLARED.items()
                    if r.view is not None
                }
            ),
        )

    def _declared_adopted(self, resource: schema.Resource) -> None:
        """Publish the views of a resource :meth:`adopt` has just loaded (under the lock)."""
        if resource.view is None:
            return
        snap = self._snapshot
        records = self._declared[resource.collection]
        views = {
            **snap.extra,
            resource.collection: MappingProxyType(
                {k: resource.view(v) for k, v in records.items()}
            ),
        }
        self._snapshot = dataclasses.replace(
            snap, extra=MappingProxyType(views), revision=snap.revision + 1
        )

    def _read(self):
        return self._engine.connect().execution_options(readonly=True)

    def _write(self, work: Callable[[object, Changes], object]):
        """Run ``work(conn, changes)`` in one transaction, then publish what it changed.

        An IntegrityError can only come from a writer in another process racing us for a unique
        value; the work is retried from a fresh read.
        """
        with self._lock:
            for attempt in range(_WRITE_ATTEMPTS):
                changes = Changes()
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

    def _apply(self, changes: Changes) -> bool:
        """Apply committed changes to the mirror (copy on write); True if the views changed."""
        snap = self._snapshot
        port_views, subnet_views = snap.ports, snap.subnets
        nets, net_views, changed = self._networks, snap.networks, False
        if changes.networks or changes.subnets:
            nets, net_views, changed = merge(
                self._networks, snap.networks, changes.networks, _network_view
            )
        if changes.subnets:
            touched = {
                s.network_id
                for s in (self._subnets.get(i) for i in changes.subnets)
                if s is not None
            }
            touched |= {s.network_id for s in changes.subnets.values() if s is not None}
            subnets, subnet_views, subnets_changed = merge(
                self._subnets,
                snap.subnets,
                changes.subnets,
                lambda subnet: _subnet_view(subnet, nets[subnet.network_id]),
            )
            changed |= subnets_changed
            assert isinstance(nets, dict)  # merged above: a copy this pass may change
            for net_id in touched & nets.keys():  # a network lists its subnets, oldest first
                ids = sorted(
                    (s for s in subnets.values() if s.network_id == net_id), key=lambda s: s.seq
                )
                nets[net_id] = dataclasses.replace(nets[net_id], subnets=tuple(s.id for s in ids))
            self._subnets = subnets
        self._networks = nets
        deleted_subnets = [i for i, subnet in changes.subnets.items() if subnet is None]
        if changes.ports or deleted_subnets:
            self._allocations = owners_after(
                self._allocations, self._ports, changes.ports, deleted_subnets
            )
        if changes.ports:
            self._ports, port_views, ports_changed = merge(
                self._ports, snap.ports, changes.ports, _port_view
            )
            changed |= ports_changed
        simple_views = {}
        for kind, make_view in _SIMPLE_VIEWS.items():
            simple_views[kind] = getattr(snap, kind)
            if getattr(changes, kind):
                records, views, kind_changed = merge(
                    getattr(self, "_" + kind), simple_views[kind], getattr(changes, kind), make_view
                )
                setattr(self, "_" + kind, records)
                simple_views[kind] = MappingProxyType(views)
                changed |= kind_changed
        declared, declared_views = dict(self._declared), {}
        for collection in self._declared:
            resource = schema.DECLARED[collection]
            if resource.view is not None:
                declared_views[collection] = snap.views(collection)
            updates = changes.declared.get(collection)
            if not updates:
                continue
            declared[collection], views, kind_changed = merge(
                declared[collection],
                declared_views.get(collection, {}),
                updates,
                resource.view or (lambda record: None),
            )
            if resource.view is not None:
                declared_views[collection] = MappingProxyType(views)
                changed |= kind_changed
        self._declared = declared
        simple_views.update(_declared_views(declared_views))
        if changed:
            self._snapshot = ModelSnapshot(
                networks=_read_only(net_views),
                ports=_read_only(port_views),
                revision=snap.revision + 1,
                subnets=_read_only(subnet_views),
                **simple_views,
            )
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
        """Call ``callback(snapshot)`` after every commit that changes a view: network, subnet,
        port, router, security group (its rules included), QoS policy (its rules included) or
        protocol block (a router's interfaces are ports: attaching one changes a view)."""
        with self._notify_lock:
            self._subscribers.append(callback)

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
        segmentation_id (admin only), network_type, port_security_enabled (true: the default
        of its ports), qos_policy_id.
        """
        items = list(items)

        def work(conn, changes):
            used = {n.segmentation_id for n in self._networks.values()}
            created = []
            for attrs in items:
                net = self._insert_network(conn, ctx, changes, attrs, used)
                used.add(net.segmentation_id)
                changes.networks[net.id] = net
                created.append(net)
            self._enforce_quota(conn, "network", (n.project_id for n in created))
            return created

        return self._write(work)

    def _insert_network(
        self, conn, ctx: Context, changes: Changes, attrs: Mapping, used: set[int]
    ) -> Network:
        project_id = owner(ctx, attrs)
        network_type = attrs.get("network_type") or NETWORK_TYPE
        if network_type != NETWORK_TYPE:
            raise errors.InvalidInput(
                error_message=f"network_type value '{network_type}' not supported"
            )
        seg = attrs.get("segmentation_id")
        if seg is not None:
            if seg in used:
                raise errors.VlanIdInUse(vlan_id=seg, physical_network=None)
        else:
            seg = next(
                (s for s in range(SEGMENTATION_MIN, SEGMENTATION_MAX + 1) if s not in used), None
            )
            if seg is None:
                raise errors.NoNetworkAvailable()
        now = utcnow()
        net = Network(
            id=str(uuid.uuid4()),
            project_id=project_id,
            name=attrs.get("name", ""),
            description=attrs.get("description", ""),
            admin_state_up=bool(attrs.get("admin_state_up", True)),
            shared=bool(attrs.get("shared", False)),
            mtu=DEFAULT_MTU,
            segmentation_id=seg,
            revision_number=1,
            created_at=now,
            updated_at=now,
            tags=norm_tags(attrs.get("tags", ())),
            port_security_enabled=bool(attrs.get("port_security_enabled", True)),
        )
        conn.execute(
            insert(db.networks).values(
                id=net.id,
                project_id=net.project_id,
                name=net.name,
                description=net.description,
                admin_state_up=net.admin_state_up,
                shared=net.shared,
                mtu=net.mtu,
                segmentation_id=seg,
                revision_number=1,
                created_at=now,
                updated_at=now,
            )
        )
        write_tags(conn, "networks", net.id, net.tags)
        write_network_port_security(conn, net.id, net.port_security_enabled, replace=False)
        policy_id = qos_bindings.bind_network(
            Transaction(conn, changes, self), ctx, net.id, attrs.get("qos_policy_id")
        )
        return dataclasses.replace(net, qos_policy_id=policy_id)

    def update_network(
        self, ctx: Context, network_id: str, attrs: Mapping, if_revision: int | None = None
    ) -> Network:
        """Change NETWORK_UPDATABLE attributes; port_security_enabled only sets the default of
        ports created from now on."""
        check_updatable(attrs, NETWORK_UPDATABLE)

        def work(conn, changes):
            net = self._changing_network(ctx, network_id, if_revision)
            values = {k: v for k, v in attrs.items() if getattr(net, k) != v}
            if values.get("shared") is False:
                foreign = {
                    p.project_id for p in self._ports.values() if p.network_id == network_id
                } - {net.project_id}
                if foreign:
                    raise errors.InvalidSharedSetting(network=network_id)
            if not values:
                return net
            new = bump(net, **values)
            if "port_security_enabled" in values:
                write_network_port_security(conn, net.id, new.port_security_enabled, replace=True)
            if "qos_policy_id" in values:
                qos_bindings.bind_network(
                    Transaction(conn, changes, self), ctx, net.id, new.qos_policy_id, replace=True
                )
            update_row(
                conn,
                db.networks,
                new,
                {k: v for k, v in values.items() if k not in NETWORK_EXTENSIONS},
            )
            changes.networks[new.id] = new
            return new

        return self._write(work)

    def delete_network(self, ctx: Context, network_id: str, if_revision: int | None = None) -> None:
        def work(conn, changes):
            self._changing_network(ctx, network_id, if_revision)
            if any(p.network_id == network_id for p in self._ports.values()):
                raise errors.NetworkInUse(net_id=network_id)
            self.delete_children(conn, changes, "networks", [network_id])
            subnet_ids = list(self._networks[network_id].subnets)
            if subnet_ids:  # no port, hence no address: the subnets go with the network
                conn.execute(
                    delete(db.tags).where(
                        db.tags.c.resource_type == "subnets", db.tags.c.resource_id.in_(subnet_ids)
                    )
                )
                conn.execute(delete(db.subnets).where(db.subnets.c.network_id == network_id))
                for subnet_id in subnet_ids:
                    changes.subnets[subnet_id] = None
            conn.execute(
                delete(db.tags).where(
                    db.tags.c.resource_type == "networks", db.tags.c.resource_id == network_id
                )
            )
            conn.execute(delete(db.networks).where(db.networks.c.id == network_id))
            changes.networks[network_id] = None

        self._write(work)

    def _changing_network(self, ctx: Context, network_id: str, if_revision: int | None) -> Network:
        """A network about to change: visible, at the expected revision (who may change it is
        the API's policy decision)."""
        net = self.get_network(ctx, network_id)
        check_revision(net.revision_number, if_revision)
        return net

    # ----------------------------------------------------------------------------- subnets
    def list_subnets(self, ctx: Context) -> list[Subnet]:
        nets = self._networks
        return [s for s in self._subnets.values() if _subnet_visible(ctx, s, nets)]

    def get_subnet(self, ctx: Context, subnet_id: str) -> Subnet:
        subnet = self._subnets.get(subnet_id)
        if subnet is None or not _subnet_visible(ctx, subnet, self._networks):
            raise errors.SubnetNotFound(subnet_id=subnet_id)
        return subnet

    def network_subnets(self, network_id: str) -> list[Subnet]:
        """The network's subnets, oldest first (no visibility check: internal use)."""
        net = self._networks.get(network_id)
        return [self._subnets[i] for i in net.subnets] if net is not None else []

    def create_subnet(self, ctx: Context, attrs: Mapping) -> Subnet:
        return self.create_subnets(ctx, [attrs])[0]

    def create_subnets(self, ctx: Context, items: Iterable[Mapping]) -> list[Subnet]:
        """Create subnets, all or none.

        ``attrs`` keys: network_id, ip_version, cidr (required); name, description,
        gateway_ip (absent: the first host address; None: no gateway), allocation_pools
        ([{"start", "end"}], absent: the whole cidr but the gateway), dns_nameservers,
        host_routes ([{"destination", "nexthop"}]), enable_dhcp, ipv6_ra_mode,
        ipv6_address_mode, project_id, tags. A SLAAC or DHCPv6-stateless subnet gives every
        existing port of the network its EUI-64 address, in the same transaction.
        """
        items = list(items)

        def work(conn, changes):
            addresses = Addresses(self._allocations)
            created = []
            for attrs in items:
                subnet = self._insert_subnet(conn, ctx, attrs, changes, addresses)
                changes.subnets[subnet.id] = subnet
                created.append(subnet)
            self._enforce_quota(conn, "subnet", (s.project_id for s in created))
            return created

        return self._write(work)

    def _insert_subnet(
        self, conn, ctx: Context, attrs: Mapping, changes: Changes, addresses: Addresses
    ) -> Subnet:
        net = self._changing_network(ctx, attrs["network_id"], None)
        project_id = owner(ctx, attrs)
        ip_version = attrs.get("ip_version")
        if ip_version not in (4, 6):
            raise errors.InvalidAttribute(
                attr="ip_version", reason=f"'{ip_version}' is not in [4, 6]"
            )
        if not attrs.get("cidr"):
            raise errors.BadRequest(
                resource="subnets", msg="a subnetpool must be specified in the absence of a cidr"
            )
        cidr = _normalize_cidr(attrs["cidr"])
        if netaddr.IPNetwork(cidr).prefixlen == 0:
            raise ipam.invalid_input("0 is not allowed as CIDR prefix length")
        ipam.check_ip_version(ip_version, cidr, "cidr")
        enable_dhcp = bool(attrs.get("enable_dhcp", True))
        if enable_dhcp:
            ipam.check_dhcp_prefix(cidr)
        gateway = attrs.get("gateway_ip", DEFAULT_GATEWAY)
        if gateway is DEFAULT_GATEWAY:
            gateway = ipam.default_gateway(cidr)
        elif gateway is not None:
            ipam.check_gateway(cidr, gateway, ip_version)
            gateway = ipam.normalize_ip(gateway)
        dns = tuple(ipam.normalize_ip(d) for d in attrs.get("dns_nameservers") or ())
        ipam.check_dns("new subnet", ip_version, dns)
        routes = ipam.normalize_routes(attrs.get("host_routes") or ())
        ipam.check_host_routes("new subnet", ip_version, routes)
        ra_mode, address_mode = attrs.get("ipv6_ra_mode"), attrs.get("ipv6_address_mode")
        if ip_version == 4:
            for name, value in (("ipv6_ra_mode", ra_mode), ("ipv6_address_mode", address_mode)):
                if value is not None:
                    raise ipam.invalid_input(f"{name} is not valid when ip_version is 4")
        else:
            for name, value in (("ipv6_ra_mode", ra_mode), ("ipv6_address_mode", address_mode)):
                if value is not None and value not in ipam.IPV6_MODES:
                    raise errors.InvalidAttribute(
                        attr=name, reason=f"'{value}' is not in {[*ipam.IPV6_MODES, None]}"
                    )
            ipam.check_ipv6_modes(cidr, ra_mode, address_mode, enable_dhcp)
        if attrs.get("allocation_pools") is not None:
            pools = ipam.validate_pools(_pools(attrs["allocation_pools"]), cidr, gateway)
        else:
            pools = ipam.generate_pools(cidr, gateway)
        siblings = [s for s in self.network_subnets(net.id) if s.id not in changes.subnets]
        siblings += [
            s for s in changes.subnets.values() if s is not None and s.network_id == net.id
        ]
        if any(ipam.cidrs_overlap(cidr, s.cidr) for s in siblings):
            # Neutron gives no detail of the other subnet, which may belong to someone else
            raise ipam.invalid_input(
                f"Requested subnet with cidr: {cidr} for network: {net.id} "
                f"overlaps with another subnet"
            )
        now = utcnow()
        seq = next_counter(conn, "subnet_seq")
        subnet = Subnet(
            id=str(uuid.uuid4()),
            network_id=net.id,
            project_id=project_id,
            seq=seq,
            name=attrs.get("name", ""),
            description=attrs.get("description", ""),
            ip_version=ip_version,
            cidr=cidr,
            gateway_ip=gateway,
            enable_dhcp=enable_dhcp,
            ipv6_ra_mode=ra_mode,
            ipv6_address_mode=address_mode,
            allocation_pools=tuple(pools),
            dns_nameservers=dns,
            host_routes=routes,
            revision_number=1,
            created_at=now,
            updated_at=now,
            tags=norm_tags(attrs.get("tags", ())),
        )
        conn.execute(
            insert(db.subnets).values(
                id=subnet.id,
                network_id=net.id,
                project_id=project_id,
                seq=seq,
                name=subnet.name,
                description=subnet.description,
                ip_version=ip_version,
                cidr=cidr,
                gateway_ip=gateway,
                enable_dhcp=enable_dhcp,
                ipv6_ra_mode=ra_mode,
                ipv6_address_mode=address_mode,
                **_subnet_lists(subnet),
                revision_number=1,
                created_at=now,
                updated_at=now,
            )
        )
        write_tags(conn, "subnets", subnet.id, subnet.tags)
        if subnet.auto_address:  # Neutron adds the new prefix to every port already there
            ports = {**self._ports, **{k: v for k, v in changes.ports.items() if v}}
            for port in ports.values():
                if (
                    port.network_id != net.id
                    or port.device_owner in ipam.ROUTER_INTERFACE_OWNERS_SNAT
                ):
                    continue
                ip = ipam.eui64_address(cidr, port.mac_address)
                addresses.take(subnet.id, ip, port.id, net.id)
                self._set_fixed_ips(conn, changes, port, (*port.fixed_ips, (subnet.id, ip)))
        return subnet

    def update_subnet(
        self, ctx: Context, subnet_id: str, attrs: Mapping, if_revision: int | None = None
    ) -> Subnet:
        """Change the attributes Neutron lets change (SUBNET_UPDATABLE); addresses already
        allocated stay, even outside new pools."""
        unknown = set(attrs) - SUBNET_UPDATABLE
        if unknown:
            raise errors.BadRequestMessage(
                msg=f"Cannot update read-only attribute {sorted(unknown)[0]}"
            )

        def work(conn, changes):
            subnet = self._changing_subnet(ctx, subnet_id, if_revision)
            values: dict[str, Any] = {}
            gateway = subnet.gateway_ip
            if "gateway_ip" in attrs:
                gateway = attrs["gateway_ip"]
                if gateway is not None:
                    ipam.check_gateway(subnet.cidr, gateway, subnet.ip_version)
                    gateway = ipam.normalize_ip(gateway)
                values["gateway_ip"] = gateway
            if attrs.get("allocation_pools") is not None:
                values["allocation_pools"] = tuple(
                    ipam.validate_pools(_pools(attrs["allocation_pools"]), subnet.cidr, gateway)
                )
            elif gateway is not None and gateway != subnet.gateway_ip:
                ipam.check_gateway_out_of_pools(gateway, subnet.allocation_pools)
            if "dns_nameservers" in attrs:
                dns = tuple(ipam.normalize_ip(d) for d in attrs["dns_nameservers"] or ())
                ipam.check_dns(subnet_id, subnet.ip_version, dns)
                values["dns_nameservers"] = dns
            if "host_routes" in attrs:
                routes = ipam.normalize_routes(attrs["host_routes"] or ())
                ipam.check_host_routes(subnet_id, subnet.ip_version, routes)
                values["host_routes"] = routes
            if "enable_dhcp" in attrs:
                enable = bool(attrs["enable_dhcp"])
                if enable and not subnet.enable_dhcp:
                    ipam.check_dhcp_prefix(subnet.cidr)
                if not enable and (subnet.ipv6_ra_mode or subnet.ipv6_address_mode):
                    raise ipam.invalid_input("Cannot disable enable_dhcp with ipv6 attributes set")
                values["enable_dhcp"] = enable
            for key in ("name", "description"):
                if key in attrs:
                    values[key] = attrs[key]
            values = {k: v for k, v in values.items() if getattr(subnet, k) != v}
            if not values:
                return subnet
            new = dataclasses.replace(
                subnet, **values, revision_number=subnet.revision_number + 1, updated_at=utcnow()
            )
            columns = {
                k: v
                for k, v in values.items()
                if k not in ("allocation_pools", "dns_nameservers", "host_routes")
            }
            columns.update({k: v for k, v in _subnet_lists(new).items() if k in values})
            update_row(conn, db.subnets, new, columns)
            changes.subnets[new.id] = new
            return new

        return self._write(work)

    def delete_subnet(self, ctx: Context, subnet_id: str, if_revision: int | None = None) -> None:
        """Refused (SubnetInUse) while a port holds an address from it, except the automatic
        SLAAC addresses and DHCP ports' ones, which go with the subnet."""

        def work(conn, changes):
            subnet = self._changing_subnet(ctx, subnet_id, if_revision)
            holders = {self._ports[p] for p in set(self._allocations.get(subnet_id, {}).values())}
            for port in holders:
                if subnet.auto_address:
                    busy = port.device_owner in ipam.ROUTER_INTERFACE_OWNERS_SNAT
                else:
                    busy = port.device_owner not in ipam.AUTO_DELETE_PORT_OWNERS
                if busy:
                    raise errors.SubnetInUse(subnet_id=subnet_id)
            for port in sorted(holders, key=lambda p: p.id):
                self._set_fixed_ips(
                    conn, changes, port, tuple(f for f in port.fixed_ips if f[0] != subnet_id)
                )
            conn.execute(
                delete(db.tags).where(
                    db.tags.c.resource_type == "subnets", db.tags.c.resource_id == subnet_id
                )
            )
            conn.execute(delete(db.subnets).where(db.subnets.c.id == subnet_id))
            changes.subnets[subnet_id] = None

        self._write(work)

    def _changing_subnet(self, ctx: Context, subnet_id: str, if_revision: int | None) -> Subnet:
        subnet = self.get_subnet(ctx, subnet_id)
        check_revision(subnet.revision_number, if_revision)
        return subnet

    def _set_fixed_ips(
        self,
        conn,
        changes: Changes,
        port: Port,
        fixed_ips: tuple[tuple[str, str], ...],
        bump: bool = True,
    ) -> Port:
        """Rewrite a port's allocation rows (the caller has taken/released the addresses)."""
        conn.execute(delete(db.ip_allocations).where(db.ip_allocations.c.port_id == port.id))
        if fixed_ips:
            conn.execute(
                insert(db.ip_allocations),
                [
                    {"subnet_id": sid, "ip_address": ip, "port_id": port.id, "position": i}
                    for i, (sid, ip) in enumerate(fixed_ips)
                ],
            )
        new = dataclasses.replace(port, fixed_ips=tuple(fixed_ips))
        if bump:
            new = dataclasses.replace(
                new, revision_number=port.revision_number + 1, updated_at=utcnow()
            )
            update_row(conn, db.ports, new, {})
        changes.ports[new.id] = new
        return new

    def _port_addresses(
        self,
        ctx: Context,
        addresses: Addresses,
        network_id: str,
        port_id: str,
        mac: str,
        device_owner: str,
        requested,
        original: tuple[tuple[str, str], ...] = (),
    ) -> tuple[tuple[str, str], ...]:
        """The fixed IPs a port gets, taking new addresses and releasing dropped ones.

        ``requested`` None: Neutron's default (one IPv4 address from the first IPv4 subnet with
        a free one, likewise one from a stateful/static IPv6 subnet). Otherwise a list of
        {"subnet_id"?, "ip_address"?}; on update an address the port has is kept, and a
        subnet-only entry reuses the port's address on that subnet. In every case the port
        gets its EUI-64 address on each SLAAC / DHCPv6-stateless subnet (not router ports).
        """
        subnets = self.network_subnets(network_id)
        router = device_owner in ipam.ROUTER_INTERFACE_OWNERS_SNAT

        def auto(subnet):
            return subnet.auto_address and not router

        unclaimed = list(original)
        result: list[tuple[str, str]] = []

        def claim(subnet_id, ip) -> bool:
            if (subnet_id, ip) in unclaimed:
                unclaimed.remove((subnet_id, ip))
                result.append((subnet_id, ip))
                return True
            return False

        def add_eui64(subnet) -> None:
            ip = ipam.eui64_address(subnet.cidr, mac)
            if (subnet.id, ip) in result:
                return
            if not claim(subnet.id, ip):
                addresses.take(subnet.id, ip, port_id, network_id)
                result.append((subnet.id, ip))

        if requested is None:
            for group in (
                [s for s in subnets if s.ip_version == 4],
                [s for s in subnets if s.ip_version == 6 and not s.auto_address],
            ):
                if not group:
                    continue
                for subnet in group:
                    ip = addresses.allocate(subnet, port_id)
                    if ip is not None:
                        result.append((subnet.id, ip))
                        break
                else:
                    raise errors.IpAddressGenerationFailureAllSubnets()
        else:
            if requested and not subnets:
                raise ipam.invalid_input("IP allocation requires subnets for network")
            for entry in requested:
                subnet = self._subnet_for_fixed_ip(ctx, network_id, entry, device_owner, subnets)
                ip = ipam.normalize_ip(entry["ip_address"]) if "ip_address" in entry else None
                if auto(subnet):
                    eui = ipam.eui64_address(subnet.cidr, mac)
                    if ip is not None and ip != eui and (subnet.id, ip) not in original:
                        raise errors.AllocationOnAutoAddressSubnet(
                            ip=entry["ip_address"], subnet_id=subnet.id
                        )
                    add_eui64(subnet)  # from the port's (possibly new) MAC, in request order
                    continue
                if ip is not None:
                    if not claim(subnet.id, ip):
                        addresses.take(subnet.id, ip, port_id, network_id)
                        result.append((subnet.id, ip))
                    continue
                mine = next((f for f in unclaimed if f[0] == subnet.id), None)
                if mine is not None:
                    claim(*mine)
                    continue
                ip = addresses.allocate(subnet, port_id)
                if ip is None:
                    raise errors.IpAddressGenerationFailure(subnet_id=subnet.id)
                result.append((subnet.id, ip))
        for subnet in subnets:
            if auto(subnet):
                add_eui64(subnet)
        for subnet_id, ip in unclaimed:
            addresses.release(subnet_id, ip)
        return tuple(result)

    def _subnet_for_fixed_ip(
        self,
        ctx: Context,
        network_id: str,
        entry: Mapping,
        device_owner: str,
        subnets: list[Subnet],
    ) -> Subnet:
        """Neutron's _get_subnet_for_fixed_ip: which subnet of the network an entry names."""
        if "subnet_id" in entry:
            subnet = next((s for s in subnets if s.id == entry["subnet_id"]), None)
            if subnet is None:
                other = self.get_subnet(ctx, entry["subnet_id"])  # SubnetNotFound if invisible
                raise ipam.invalid_input(
                    f"Failed to create port on network {other.network_id}, because fixed_ips "
                    f"included invalid subnet {other.id}"
                )
            if "ip_address" in entry and not ipam.check_subnet_ip(
                subnet.cidr, entry["ip_address"], device_owner
            ):
                raise errors.InvalidIpForSubnet(ip_address=entry["ip_address"])
            return subnet
        if "ip_address" not in entry:
            raise ipam.invalid_input("IP allocation requires subnet_id or ip_address")
        for subnet in subnets:
            if ipam.check_subnet_ip(subnet.cidr, entry["ip_address"], device_owner):
                return subnet
        raise errors.InvalidIpForNetwork(ip_address=entry["ip_address"])

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
        device_id, device_owner, binding_vnic_type, binding_profile, fixed_ips, project_id, tags,
        port_security_enabled (absent: the network's), security_groups (absent: the project's
        default group when port security is on), allowed_address_pairs ([{"ip_address",
        "mac_address"?}]), qos_policy_id.
        """
        items = list(items)

        def work(conn, changes):
            macs = {(p.network_id, p.mac_address) for p in self._ports.values()}
            addresses = Addresses(self._allocations)
            created = []
            for attrs in items:
                hooks.run("ports", "before_create", Transaction(conn, changes, self), ctx, attrs)
                port = self._insert_port(conn, ctx, changes, attrs, macs, addresses)
                macs.add((port.network_id, port.mac_address))
                changes.ports[port.id] = port
                created.append(port)
            self._enforce_quota(conn, "port", (p.project_id for p in created))
            return created

        return self._write(work)

    def _insert_port(
        self, conn, ctx: Context, changes: Changes, attrs: Mapping, macs: set, addresses: Addresses
    ) -> Port:
        network_id = attrs["network_id"]
        net = self.get_network(ctx, network_id)
        project_id = owner(ctx, attrs)
        mac = attrs.get("mac_address")
        if mac is not None:
            if (network_id, mac) in macs:
                raise errors.MacAddressInUse(net_id=network_id, mac=mac)
        else:
            mac = allocate_mac(network_id, macs)
        port_id = str(uuid.uuid4())
        fixed_ips = self._port_addresses(
            ctx,
            addresses,
            network_id,
            port_id,
            mac,
            attrs.get("device_owner", ""),
            attrs.get("fixed_ips"),
        )
        key = next_counter(conn, "port_key")
        now = utcnow()
        port = Port(
            id=port_id,
            key=key,
            network_id=net.id,
            project_id=project_id,
            name=attrs.get("name", ""),
            description=attrs.get("description", ""),
            mac_address=mac,
            admin_state_up=bool(attrs.get("admin_state_up", True)),
            status=STATUS_DOWN,
            device_id=attrs.get("device_id", ""),
            device_owner=attrs.get("device_owner", ""),
            binding_host_id="",
            binding_vif_type=VIF_TYPE_UNBOUND,
            binding_vnic_type=attrs.get("binding_vnic_type", VNIC_NORMAL),
            binding_profile_json=json.dumps(attrs.get("binding_profile") or {}, sort_keys=True),
            revision_number=1,
            created_at=now,
            updated_at=now,
            tags=norm_tags(attrs.get("tags", ())),
            fixed_ips=fixed_ips,
        )
        conn.execute(
            insert(db.ports).values(
                id=port.id,
                key=key,
                network_id=port.network_id,
                project_id=project_id,
                name=port.name,
                description=port.description,
                mac_address=mac,
                admin_state_up=port.admin_state_up,
                status=port.status,
                device_id=port.device_id,
                device_owner=port.device_owner,
                binding_host_id="",
                binding_vif_type=port.binding_vif_type,
                binding_vnic_type=port.binding_vnic_type,
                binding_profile=port.binding_profile_json,
                revision_number=1,
                created_at=now,
                updated_at=now,
            )
        )
        if fixed_ips:
            conn.execute(
                insert(db.ip_allocations),
                [
                    {"subnet_id": sid, "ip_address": ip, "port_id": port.id, "position": i}
                    for i, (sid, ip) in enumerate(fixed_ips)
                ],
            )
        write_tags(conn, "ports", port.id, port.tags)
        port = self._port_security_on_create(conn, changes, ctx, attrs, port, net)
        return dataclasses.replace(
            port,
            qos_policy_id=qos_bindings.bind_port(
                Transaction(conn, changes, self), ctx, port.id, attrs.get("qos_policy_id")
            ),
        )

    def update_port(
        self, ctx: Context, port_id: str, attrs: Mapping, if_revision: int | None = None
    ) -> Port:
        """Change PORT_UPDATABLE attributes (security groups at any time, [] allowed)."""
        check_updatable(attrs, PORT_UPDATABLE)

        def work(conn, changes):
            port = self._changing_port(ctx, port_id, if_revision)
            attrs_ = {k: v for k, v in attrs.items() if k not in PORT_EXTENSIONS}
            requested = attrs_.pop("fixed_ips", None)
            if "binding_profile" in attrs_:
                attrs_["binding_profile_json"] = json.dumps(
                    attrs_.pop("binding_profile") or {}, sort_keys=True
                )
            values = {k: v for k, v in attrs_.items() if getattr(port, k) != v}
            hooks.run(
                "ports",
                "before_update",
                Transaction(conn, changes, self),
                ctx,
                port,
                values,
                requested,
            )
            if "mac_address" in values:
                if port.binding_vif_type != VIF_TYPE_UNBOUND:
                    raise errors.PortBound(
                        port_id=port_id,
                        vif_type=port.binding_vif_type,
                        old_mac=port.mac_address,
                        new_mac=values["mac_address"],
                    )
                if any(
                    p.network_id == port.network_id and p.mac_address == values["mac_address"]
                    for p in self._ports.values()
                ):
                    raise errors.MacAddressInUse(net_id=port.network_id, mac=values["mac_address"])
            if "admin_state_up" in values:
                values["status"] = _port_status(port.binding_host_id, values["admin_state_up"])
            fixed_ips = port.fixed_ips
            if requested is not None or "mac_address" in values or "device_owner" in values:
                if requested is None:  # keep the chosen addresses, recompute the EUI-64 ones
                    requested = [
                        {"subnet_id": sid, "ip_address": ip}
                        for sid, ip in port.fixed_ips
                        if not self._subnets[sid].auto_address
                    ]
                fixed_ips = self._port_addresses(
                    ctx,
                    Addresses(self._allocations),
                    port.network_id,
                    port.id,
                    values.get("mac_address", port.mac_address),
                    values.get("device_owner", port.device_owner),
                    requested,
                    port.fixed_ips,
                )
            extensions = self._port_security_on_update(
                conn,
                changes,
                ctx,
                port,
                attrs,
                values.get("mac_address", port.mac_address),
                values.get("device_owner", port.device_owner),
            )
            if "qos_policy_id" in attrs and attrs["qos_policy_id"] != port.qos_policy_id:
                extensions["qos_policy_id"] = qos_bindings.bind_port(
                    Transaction(conn, changes, self), ctx, port.id, attrs["qos_policy_id"], True
                )
            if not values and not extensions and fixed_ips == port.fixed_ips:
                return port
            new = bump(port, **values, **extensions)
            update_row(conn, db.ports, new, values)
            if fixed_ips != port.fixed_ips:  # released and allocated in this one transaction
                new = self._set_fixed_ips(conn, changes, new, fixed_ips, bump=False)
            changes.ports[new.id] = new
            return new

        return self._write(work)

    def delete_port(self, ctx: Context, port_id: str, if_revision: int | None = None) -> None:
        """Refused when a rule a feature attaches says so (a router's interface goes only
        through remove_router_interface)."""

        def work(conn, changes):
            port = self._changing_port(ctx, port_id, if_revision)
            hooks.run("ports", "before_delete", Transaction(conn, changes, self), port)
            _delete_port_rows(conn, changes, port_id)

        self._write(work)

    def _changing_port(self, ctx: Context, port_id: str, if_revision: int | None) -> Port:
        port = self.get_port(ctx, port_id)
        check_revision(port.revision_number, if_revision)
        return port

    def update_port_bindings(self, bindings: Mapping[str, str]) -> None:
        """Reconcile port binding with the plugged VIFs: ``bindings`` maps port id → host.

        Ports listed become bound to their host (ACTIVE, or DOWN when administratively down);
        the others unbound and DOWN. Only ports whose values change are written, compared with
        the mirror under the write lock, so a concurrent admin_state_up change is never undone.
        The binding app (apps/binding.py) calls it; no view changes, so no subscriber wakes.
        """
        with self._lock:
            wanted: dict[str, dict[str, Any]] = {}
            for port in self._ports.values():
                host = bindings.get(port.id) or ""
                values = {
                    "binding_host_id": host,
                    "binding_vif_type": VIF_TYPE_OVS if host else VIF_TYPE_UNBOUND,
                    "status": _port_status(host, port.admin_state_up),
                }
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
                    new = dataclasses.replace(
                        port, **values, updated_at=now, revision_number=port.revision_number + 1
                    )
                    update_row(conn, db.ports, new, values)
                    changes.ports[port_id] = new

            self._write(work)

    # -------------------------------------------------------------------------------- tags
    def _tag_kind(self, resource: str) -> _TagKind:
        """How tags reach each taggable resource (named by its API collection)."""
        kinds = {
            "networks": _TagKind("network", "networks", db.networks, self.get_network),
            "ports": _TagKind("port", "ports", db.ports, self.get_port),
            "subnets": _TagKind("subnet", "subnets", db.subnets, self.get_subnet),
            "security_groups": _TagKind(
                "security_group", "security_groups", db.security_groups, self.get_security_group
            ),
        }
        kinds.update(
            {
                r.api_collection: _TagKind(
                    r.member, c, r.table, lambda ctx, rid, c=c: self.get_record(ctx, c, rid)
                )
                for c, r in schema.DECLARED.items()
                if c in self._declared and r.standard
            }
        )
        if resource not in kinds:
            raise errors.ResourceNotFound()
        return kinds[resource]

    def _taggable(self, ctx: Context, resource: str, resource_id: str):
        return self._tag_kind(resource).get(ctx, resource_id)

    def get_tags(self, ctx: Context, resource: str, resource_id: str) -> list[str]:
        return list(self._taggable(ctx, resource, resource_id).tags)

    def set_tags(
        self, ctx: Context, resource: str, resource_id: str, tags: Iterable[str]
    ) -> list[str]:
        """Replace every tag of a taggable resource (bumps its revision if they differ)."""
        wanted = norm_tags(tags)

        def work(conn, changes):
            obj = self._taggable(ctx, resource, resource_id)
            if obj.tags == wanted:
                return list(wanted)
            conn.execute(
                delete(db.tags).where(
                    db.tags.c.resource_type == resource, db.tags.c.resource_id == resource_id
                )
            )
            write_tags(conn, resource, resource_id, wanted)
            new = bump(obj, tags=wanted)
            kind = self._tag_kind(resource)
            update_row(conn, kind.table, new, {})
            if kind.changes in schema.DECLARED:
                changes.of(kind.changes)[resource_id] = new
            else:
                getattr(changes, kind.changes)[resource_id] = new
            return list(wanted)

        return self._write(work)

    def add_tag(self, ctx: Context, resource: str, resource_id: str, tag: str) -> None:
        with self._lock:
            current = self._taggable(ctx, resource, resource_id).tags
            if tag not in current:
                self.set_tags(ctx, resource, resource_id, (*current, tag))

    def remove_tag(self, ctx: Context, resource: str, resource_id: str, tag: str) -> None:
        with self._lock:
            current = self._taggable(ctx, resource, resource_id).tags
            if tag not in current:
                raise errors.TagNotFound(
                    tag=tag, resource=self._tag_kind(resource).member, resource_id=resource_id
                )
            self.set_tags(ctx, resource, resource_id, [t for t in current if t != tag])

    def close(self) -> None:
        with self._lock:
            self._engine.dispose()


def _declared_views(views: Mapping[str, Mapping]) -> dict:
    """ModelSnapshot keywords for declared resources' views: a field of its own where the
    snapshot has one, ``extra`` otherwise."""
    named = {c: v for c, v in views.items() if c in ModelSnapshot.__dataclass_fields__}
    return {**named, "extra": MappingProxyType({c: v for c, v in views.items() if c not in named})}


def _read_only(views: Mapping) -> Mapping:
    """A snapshot's mapping: a new dict is wrapped; an unchanged (already wrapped) one is kept,
    so proxies never nest revision after revision."""
    return views if isinstance(views, MappingProxyType) else MappingProxyType(views)


def _network_visible(ctx: Context, net: Network) -> bool:
    return ctx.is_admin or net.shared or net.project_id == ctx.project_id


def _port_visible(ctx: Context, port: Port, nets: Mapping[str, Network]) -> bool:
    if ctx.is_admin or port.project_id == ctx.project_id:
        return True
    net = nets.get(port.network_id)
    return net is not None and net.project_id == ctx.project_id  # the network owner sees ports


def _delete_port_rows(conn, changes: Changes, port_id: str) -> None:
    conn.execute(
        delete(db.tags).where(db.tags.c.resource_type == "ports", db.tags.c.resource_id == port_id)
    )
    conn.execute(delete(db.ip_allocations).where(db.ip_allocations.c.port_id == port_id))
    conn.execute(delete(db.ports).where(db.ports.c.id == port_id))
    changes.ports[port_id] = None


def _subnet_visible(ctx: Context, subnet: Subnet, nets: Mapping[str, Network]) -> bool:
    if ctx.is_admin or subnet.project_id == ctx.project_id:
        return True
    net = nets.get(subnet.network_id)
    return net is not None and (net.shared or net.project_id == ctx.project_id)


def _normalize_cidr(text: str) -> str:
    """A subnet cidr in canonical form; host bits set are an error (as Neutron's validator)."""
    try:
        net = netaddr.IPNetwork(text)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise errors.InvalidAttribute(
            attr="cidr", reason=f"'{text}' is not a valid IP subnet"
        ) from None
    if "/" not in text or net.ip != net.network:
        raise errors.InvalidAttribute(
            attr="cidr",
            reason=f"'{text}' isn't a recognized IP subnet cidr, '{net.cidr}' is recommended",
        )
    return str(net.cidr)


def _pools(pools) -> list[tuple[str, str]]:
    return [(p["start"], p["end"]) if isinstance(p, Mapping) else tuple(p) for p in pools]


def _subnet_lists(subnet: Subnet) -> dict:
    return {
        "allocation_pools": json.dumps([list(p) for p in subnet.allocation_pools]),
        "dns_nameservers": json.dumps(list(subnet.dns_nameservers)),
        "host_routes": json.dumps([list(r) for r in subnet.host_routes]),
    }


def _port_status(host: str, admin_state_up: bool) -> str:
    return STATUS_ACTIVE if host and admin_state_up else STATUS_DOWN


def _network_from_row(row, tags) -> Network:
    return Network(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        description=row.description,
        admin_state_up=row.admin_state_up,
        shared=row.shared,
        mtu=row.mtu,
        segmentation_id=row.segmentation_id,
        revision_number=row.revision_number,
        created_at=row.created_at,
        updated_at=row.updated_at,
        tags=tags,
    )


def _port_from_row(row, tags) -> Port:
    return Port(
        id=row.id,
        key=row.key,
        network_id=row.network_id,
        project_id=row.project_id,
        name=row.name,
        description=row.description,
        mac_address=row.mac_address,
        admin_state_up=row.admin_state_up,
        status=row.status,
        device_id=row.device_id,
        device_owner=row.device_owner,
        binding_host_id=row.binding_host_id,
        binding_vif_type=row.binding_vif_type,
        binding_vnic_type=row.binding_vnic_type,
        binding_profile_json=row.binding_profile,
        revision_number=row.revision_number,
        created_at=row.created_at,
        updated_at=row.updated_at,
        tags=tags,
    )


def _subnet_from_row(row, tags) -> Subnet:
    return Subnet(
        id=row.id,
        network_id=row.network_id,
        project_id=row.project_id,
        name=row.name,
        description=row.description,
        ip_version=row.ip_version,
        cidr=row.cidr,
        gateway_ip=row.gateway_ip,
        enable_dhcp=row.enable_dhcp,
        ipv6_ra_mode=row.ipv6_ra_mode,
        ipv6_address_mode=row.ipv6_address_mode,
        allocation_pools=tuple(tuple(p) for p in json.loads(row.allocation_pools)),
        dns_nameservers=tuple(json.loads(row.dns_nameservers)),
        host_routes=tuple(tuple(r) for r in json.loads(row.host_routes)),
        revision_number=row.revision_number,
        created_at=row.created_at,
        updated_at=row.updated_at,
        tags=tags,
        seq=row.seq,
    )


def _subnet_view(subnet: Subnet, net: Network) -> SubnetView:
    return SubnetView(
        id=subnet.id,
        network_id=subnet.network_id,
        project_id=subnet.project_id,
        ip_version=subnet.ip_version,
        cidr=subnet.cidr,
        gateway_ip=subnet.gateway_ip,
        enable_dhcp=subnet.enable_dhcp,
        dns_nameservers=subnet.dns_nameservers,
        host_routes=subnet.host_routes,
        ipv6_ra_mode=subnet.ipv6_ra_mode,
        ipv6_address_mode=subnet.ipv6_address_mode,
        mtu=net.mtu,
    )


def _network_view(net: Network) -> NetworkView:
    return NetworkView(
        id=net.id,
        project_id=net.project_id,
        key=net.segmentation_id,
        admin_state_up=net.admin_state_up,
        qos_policy_id=net.qos_policy_id,
    )


def _port_view(port: Port) -> PortView:
    """A router interface (any ``network:`` port) is trusted: no anti-spoofing, no groups."""
    enabled, groups, pairs = enforced_protection(port)
    return PortView(
        id=port.id,
        network_id=port.network_id,
        project_id=port.project_id,
        key=port.key,
        mac_address=port.mac_address,
        admin_state_up=port.admin_state_up,
        fixed_ips=port.fixed_ips,
        device_owner=port.device_owner,
        device_id=port.device_id,
        port_security_enabled=enabled,
        security_group_ids=groups,
        allowed_address_pairs=tuple((ip, mac or port.mac_address) for ip, mac in pairs),
        qos_policy_id=port.qos_policy_id,
    )


_SIMPLE_VIEWS: dict[str, Callable[[Any], Any]] = {
    "security_groups": security_group_view,
}
