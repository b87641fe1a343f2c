"""Networks: isolated L2 segments, each carried on the fabric by its own key: a VLAN id on
cables, a VNI in tunnels (:mod:`naas_sdn.model.segments`).

The declaration gives the table, the API attributes and the view; what is left here is the
relational rules: a segmentation id is unique (the first free one unless an admin names it),
a network in use by ports is not deleted (its subnets go with it), and a network another
project has ports on stays shared with it (:mod:`.rbac`: ``shared`` is its entry for all).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Boolean, Integer, String

from naas_sdn.model import db, derived, errors, schema, segments
from naas_sdn.model.common import Context
from naas_sdn.model.schema import field
from naas_sdn.model.snapshot import NetworkView, localnet_port_id
from naas_sdn.model.store import Transaction
from naas_sdn.northbound import attributes as a

from . import provider, rbac, subnetpools

SEGMENTATION_MIN, SEGMENTATION_MAX = 1, segments.VNI_MAX
NETWORK_TYPE = segments.VLAN  # what networks made before tunnels read
STATUS_ACTIVE = "ACTIVE"


def network_reference(on_delete: str) -> Any:
    """The ``network_id`` field of what belongs to a network (given on create, then fixed)."""
    return field(
        String(db.UUID_LEN),
        foreign_key="networks.id",
        on_delete=on_delete,
        index=True,
        post=True,
        validate=a.uuid_string,
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class Network(schema.Extensible):
    admin_state_up: bool = field(
        Boolean, post=True, put=True, default=True, validate=a.boolean, kind="boolean"
    )
    status: str = field(record_default=STATUS_ACTIVE)
    # its subnets' ids, oldest first (kept by the store: schema.Parent's listed_in)
    subnets: tuple[str, ...] = field(
        record_default=(), show=lambda net: list(net.subnets), kind="other"
    )
    # shared with every project (its "*" RBAC entry); the API shows the caller's own view
    shared: bool = rbac.shared_field("network")
    mtu: int = field(Integer, kind="integer")
    network_type: str = field(
        record_default=NETWORK_TYPE,
        wire="provider:network_type",
        post=True,
        default=None,
        validate=a.one_of(*segments.TYPES, provider.FLAT),
    )
    # the network's key in the fabric (its VLAN on cables, its VNI in tunnels); the API's
    # segmentation id, but for a provider network, whose is its VLAN on the physical network
    segmentation_id: int = field(
        Integer,
        unique=True,
        wire="provider:segmentation_id",
        post=True,
        default=None,
        validate=a.integer_range(SEGMENTATION_MIN, SEGMENTATION_MAX),
        kind="integer",
        show=lambda net: net.physical_segment if net.physical_network else net.segmentation_id,
    )
    # a provider network's: the physical network it rides (the operator maps names to switch
    # interfaces) and its VLAN there (None: flat, untagged)
    physical_network: str | None = field(
        String(provider.PHYSNET_LEN),
        nullable=True,
        wire="provider:physical_network",
        post=True,
        default=None,
        validate=provider.physical_network_name,
    )
    physical_segment: int | None = field(Integer, nullable=True, visible=False, default=None)
    # an external network (its access_as_external RBAC entries: "*" for router:external true)
    external: bool = field(
        Boolean,
        wire="router:external",
        post=True,
        put=True,
        default=False,
        validate=a.boolean,
        kind="boolean",
        column_default=False,
    )
    # the default external network (auto-allocated-topology's, whose API attribute comes with
    # the router plugin): only an external network is, and one at a time
    is_default: bool = field(
        Boolean,
        post=True,
        put=True,
        default=False,
        validate=a.boolean,
        kind="boolean",
        column_default=False,
        visible=False,
    )


# the default external network (a key of its own: found without a scan of the networks)
_DEFAULT = derived.Grouped("networks", keys=lambda net: ("default",) if net.is_default else ())


def default_external_network(txn: Transaction):
    """The default external network as the transaction sees it, or None."""
    found = [n for n in _DEFAULT.in_transaction(txn, "default").values() if n.external]
    return found[0] if found else None


def _default_external(txn: Transaction, net_id: str | None, external: bool, wanted: bool) -> bool:
    """Whether the network is the default external one: asked for and external (Neutron
    ignores is_default on other networks), and no other is (DefaultExternalNetworkExists)."""
    if not (external and wanted):
        return False
    for other in _DEFAULT.in_transaction(txn, "default").values():
        if other.id != net_id:
            raise errors.DefaultExternalNetworkExists(net_id=other.id)
    return True


def _prepare(txn: Transaction, ctx: Context, attrs: Mapping) -> dict[str, Any]:
    """The type and segmentation id: those an admin names if free and in the type's range,
    else the first tenant type with a free id, its lowest free one."""
    tenant: segments.TenantSegments = txn.service.tenant_segments
    used = txn.changes.memo.get("segmentation_ids")
    if used is None:
        used = {n.segmentation_id for n in txn.service.records("networks").values()}
        txn.changes.memo["segmentation_ids"] = used
    seg: int | None = attrs.get("segmentation_id")
    asked: str | None = attrs.get("network_type")
    physical = provider.physical_attributes(txn, asked, attrs.get("physical_network"), seg)
    if physical:  # the fabric key of a provider network is drawn as a tenant network's
        seg, asked = None, None
    network_type = asked or NETWORK_TYPE
    if seg is not None:
        low, high = segments.VALID[network_type]
        if not low <= seg <= high:
            raise errors.InvalidInput(
                error_message=f"segmentation_id {seg} out of range for a {network_type} "
                f"network ({low} through {high})"
            )
        if seg in used:
            if network_type == segments.VLAN:
                raise errors.VlanIdInUse(vlan_id=seg, physical_network=None)
            raise errors.TunnelIdInUse(tunnel_id=seg)
    elif asked is not None:
        seg = _lowest_free(tenant.ranges(network_type), used)
    else:
        for network_type in tenant.types:
            seg = _lowest_free(tenant.ranges(network_type), used)
            if seg is not None:
                break
    if seg is None:
        raise errors.NoNetworkAvailable()
    used.add(seg)
    default = _default_external(
        txn, None, bool(attrs.get("external")), bool(attrs.get("is_default"))
    )
    if physical:
        return {
            "is_default": default,
            "segmentation_id": seg,
            "mtu": tenant.physical_mtu,
            **physical,
        }
    return {
        "is_default": default,
        "segmentation_id": seg,
        "mtu": tenant.mtu(network_type),
        "network_type": network_type,
    }


def _lowest_free(ranges, used) -> int | None:
    for low, high in ranges:
        seg = next((s for s in range(low, high + 1) if s not in used), None)
        if seg is not None:
            return seg
    return None


def _after_create(txn: Transaction, ctx: Context, attrs: Mapping, net: Network) -> None:
    if net.physical_network is not None:
        provider.add_localnet_port(txn, net)
    if net.shared:
        rbac.share_with_all(txn, "network", net, True)
    if net.external:
        rbac.share_with_all(txn, "network", net, True, rbac.ACCESS_AS_EXTERNAL)


def _before_update(txn: Transaction, ctx: Context, net: Network, values: dict) -> None:
    """Unsharing is refused while a project that no other entry lets in has ports or subnets
    on it (Neutron's InvalidSharedSetting); ``router:external`` adds or removes the network's
    access_as_external entries."""
    if "external" in values:
        rbac.share_with_all(txn, "network", net, values["external"], rbac.ACCESS_AS_EXTERNAL)
    if "external" in values or "is_default" in values:
        external = values.get("external", net.external)
        wanted = values.get("is_default", net.is_default)
        values["is_default"] = _default_external(txn, net.id, external, wanted)
    if "shared" not in values:
        return
    if not values["shared"]:
        allowed = {
            e.target_tenant
            for e in rbac.entries(txn, "network", net.id)
            if e.target_tenant != rbac.WILDCARD
        } | {net.project_id}
        if _dependent_projects(txn, net, unsharing=True) - allowed:
            raise errors.InvalidSharedSetting(network=net.id)
    rbac.share_with_all(txn, "network", net, values["shared"])


# the ports of each network
_PORTS = derived.Grouped("ports", keys=lambda port: (port.network_id,))


def _dependent_projects(txn: Transaction, net: Network, unsharing: bool = False) -> set[str]:
    """The projects with ports on the network (a router's interface too: Neutron forgets
    those when unsharing, and strands them) and, when it stops being shared with all, with
    subnets on it."""
    found = {p.project_id for p in _PORTS.in_transaction(txn, net.id).values()}
    if unsharing:
        subnets = (txn.get("subnets", s) for s in txn.get("networks", net.id).subnets)
        found |= {s.project_id for s in subnets if s is not None}
    return found - {""}  # a router gateway's or floating IP's port is no project's


def _before_delete(txn: Transaction, net: Network) -> None:
    """Refused while a port is on it (its subnets, then free of addresses, go with it); a
    provider network's own localnet port goes with it."""
    ports = _PORTS.in_transaction(txn, net.id)
    localnet = ports.pop(localnet_port_id(net.id), None)
    if ports:
        raise errors.NetworkInUse(net_id=net.id)
    if localnet is not None:
        provider.remove_localnet_port(txn, localnet)


def _address_scope(ip_version: int):
    """address-scope's ``ipv4_address_scope``/``ipv6_address_scope`` of a network: the scope
    of its subnets' pools of that version."""

    def show(ctx: Context, net: Network, model) -> str | None:
        return subnetpools.network_address_scope(
            lambda collection, record_id: model.records(collection).get(record_id),
            net,
            ip_version,
        )

    return show


def _view(net: Network) -> NetworkView:
    return NetworkView(
        id=net.id,
        project_id=net.project_id,
        key=net.segmentation_id,
        admin_state_up=net.admin_state_up,
        physical_network=net.physical_network,
        physical_segment=net.physical_segment,
        **NETWORKS.extension_view(net),
    )


NETWORKS = schema.declare(
    schema.Resource(
        Network,
        "networks",
        "network",
        not_found=lambda net_id: errors.NetworkNotFound(net_id=net_id),
        view=_view,
        prepare=_prepare,
        after_create=_after_create,
        before_update=_before_update,
        before_delete=_before_delete,
        visible=rbac.visible("network"),
        quota=100,
        virtual=tuple(
            (
                f"ipv{version}_address_scope",
                schema.Spec(show_to=_address_scope(version), kind="other"),
            )
            for version in (4, 6)
        ),
    )
)


rbac.shareable(
    rbac.Shareable(
        "network",
        NETWORKS.collection,
        lambda net_id: errors.NetworkNotFound(net_id=net_id),
        users=_dependent_projects,
        flag=True,
        actions=(rbac.ACCESS_AS_SHARED, rbac.ACCESS_AS_EXTERNAL),
    )
)
