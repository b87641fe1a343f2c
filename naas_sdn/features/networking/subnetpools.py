"""Subnet pools: prefixes that subnets are carved from (Neutron's ``subnet_allocation``,
``default-subnetpools`` and ``subnetpool-prefix-ops`` extensions, /v2.0/subnetpools).

A subnet created with ``subnetpool_id`` (or ``use_default_subnetpool``) takes its prefix from
the pool: any free one of ``prefixlen`` (default ``default_prefixlen``), or the one it names if
no other subnet of the pool holds any of it. The pool bounds the prefix lengths, and
``default_quota`` bounds how much of it one project holds: addresses for IPv4, /64s for IPv6.
The rules and their errors are Neutron's (neutron/ipam/subnet_alloc.py,
neutron/db/db_base_plugin_v2.py); the pure prefix arithmetic is here, the subnet side in
:mod:`.subnets`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import netaddr
from sqlalchemy import Boolean, Integer, String

from naas_sdn.model import db, derived, errors, schema
from naas_sdn.model.common import Context
from naas_sdn.model.schema import COMPUTED, field
from naas_sdn.model.store import Transaction
from naas_sdn.northbound import attributes as a

from . import rbac
from .address_scopes import ADDRESS_SCOPES, POOLS_IN_SCOPE

OBJECT_TYPE = "subnetpool"  # its RBAC object type
BITS = {4: 32, 6: 128}
DEFAULT_MIN_PREFIXLEN = {4: 8, 6: 64}
QUOTA_UNIT = {4: 32, 6: 64}  # default_quota counts addresses (IPv4) or /64s (IPv6)
PREFIXLEN_FIELDS = ("min_prefixlen", "max_prefixlen", "default_prefixlen")


def _prefixlen() -> Any:
    return field(
        Integer, post=True, put=True, default=COMPUTED, validate=a.non_negative, kind="integer"
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class SubnetPool(schema.Standard):
    ip_version: int = field(Integer, kind="integer")  # its prefixes'
    prefixes: tuple[str, ...] = schema.json_list(
        pairs=False, post=True, put=True, validate=a.subnet_list, show=lambda p: list(p.prefixes)
    )
    min_prefixlen: int = _prefixlen()
    max_prefixlen: int = _prefixlen()
    default_prefixlen: int = _prefixlen()
    default_quota: int | None = field(
        Integer, nullable=True, post=True, put=True, default=None, validate=a.non_negative
    )
    is_default: bool = field(
        Boolean, post=True, put=True, default=False, validate=a.boolean, kind="boolean"
    )
    # shared with every project (its "*" RBAC entry), fixed at creation as in Neutron
    shared: bool = rbac.shared_field(OBJECT_TYPE, put=False)
    address_scope_id: str | None = field(
        String(db.UUID_LEN),
        nullable=True,
        foreign_key="address_scopes.id",
        on_delete="RESTRICT",
        index=True,
        post=True,
        put=True,
        default=None,
        validate=a.uuid_or_none,
    )


# the subnets allocated from each pool
SUBNETS_OF_POOL = derived.Grouped("subnets", keys=lambda subnet: (subnet.subnetpool_id,))


# ------------------------------------------------------------------------- prefix arithmetic
def compact(prefixes: Iterable[str]) -> tuple[str, ...]:
    """Overlapping and adjacent prefixes merged, as Neutron keeps a pool's."""
    merged = netaddr.IPSet(netaddr.IPNetwork(p) for p in prefixes)
    merged.compact()
    return tuple(str(cidr) for cidr in merged.iter_cidrs())


def prefix_version(prefixes: Iterable[str]) -> int:
    """The IP version of a pool's prefixes, which must all have one."""
    versions = {netaddr.IPNetwork(p).version for p in prefixes}
    if not versions:
        raise errors.EmptySubnetPoolPrefixList()
    if len(versions) > 1:
        raise errors.PrefixVersionMismatch()
    return versions.pop()


def check_bounds(ip_version: int, low: int, high: int, default: int) -> None:
    """min <= default <= max <= the version's bits (Neutron's SubnetPoolHelper)."""
    if low > high:
        raise errors.IllegalSubnetPoolPrefixBounds(
            prefix_type="min_prefixlen",
            prefixlen=low,
            base_prefix_type="max_prefixlen",
            base_prefixlen=high,
        )
    if high > BITS[ip_version]:
        raise errors.IllegalSubnetPoolPrefixBounds(
            prefix_type="max_prefixlen",
            prefixlen=high,
            base_prefix_type="ip_version_max",
            base_prefixlen=BITS[ip_version],
        )
    for name, bound, base in (("min_prefixlen", low, 1), ("max_prefixlen", high, -1)):
        if (default - bound) * base < 0:
            raise errors.IllegalSubnetPoolPrefixBounds(
                prefix_type="default_prefixlen",
                prefixlen=default,
                base_prefix_type=name,
                base_prefixlen=bound,
            )


def quota_units(ip_version: int, prefixlen: int) -> float:
    """How much of a pool's ``default_quota`` one prefix of ``prefixlen`` takes."""
    return 2.0 ** (QUOTA_UNIT[ip_version] - prefixlen)


def free_prefixes(pool: SubnetPool, allocated: Iterable[str]) -> list[netaddr.IPNetwork]:
    """The pool's prefixes no subnet holds, smallest first (Neutron fills the smallest hole
    that fits, keeping big blocks whole)."""
    free = netaddr.IPSet(pool.prefixes) - netaddr.IPSet(allocated)
    free.compact()
    return sorted(free.iter_cidrs(), key=lambda cidr: cidr.prefixlen, reverse=True)


def check_prefixlen(pool: SubnetPool, prefixlen: int) -> None:
    if prefixlen > pool.max_prefixlen:
        raise errors.MaxPrefixSubnetAllocationError(
            prefixlen=prefixlen, max_prefixlen=pool.max_prefixlen
        )
    if prefixlen < pool.min_prefixlen:
        raise errors.MinPrefixSubnetAllocationError(
            prefixlen=prefixlen, min_prefixlen=pool.min_prefixlen
        )


def allocate(pool: SubnetPool, allocated: Iterable[str], cidr: str | None, prefixlen: int) -> str:
    """The prefix a new subnet takes from ``pool``: ``cidr`` if it is free, else the first
    free prefix of ``prefixlen``."""
    free = free_prefixes(pool, allocated)
    if cidr is not None:
        wanted = netaddr.IPNetwork(cidr)
        matched = netaddr.all_matching_cidrs(wanted, free)
        if len(matched) == 1 and matched[0].prefixlen <= wanted.prefixlen:
            return str(wanted.cidr)
        raise errors.SubnetAllocationError(
            reason="Cannot allocate requested subnet from the available set of prefixes"
        )
    for block in free:
        if prefixlen >= block.prefixlen:
            return str(next(block.subnet(prefixlen)))
    raise errors.SubnetAllocationError(
        reason=f"Insufficient prefix space to allocate subnet size /{prefixlen}"
    )


# ---------------------------------------------------------------------------- relational rules
# the default pools, by IP version
_DEFAULTS = derived.Grouped(
    "subnetpools", keys=lambda pool: (pool.ip_version,) if pool.is_default else ()
)


def _default_pool(txn: Transaction, ip_version: int, but: str | None = None):
    others = [p for p in _DEFAULTS.in_transaction(txn, ip_version).values() if p.id != but]
    return others[0] if others else None


def default_pool(txn: Transaction, ctx: Context, ip_version: int):
    """The default pool of ``ip_version`` the caller may use, or None (Neutron looks for it
    among the pools the caller sees)."""
    pool = _default_pool(txn, ip_version)
    if pool is None or not SUBNETPOOLS.is_visible(ctx, pool, txn.service):
        return None
    return pool


def _check_one_default(txn: Transaction, ip_version: int, pool_id: str | None) -> None:
    if _default_pool(txn, ip_version, but=pool_id) is not None:
        raise errors.InvalidInput(
            error_message="A default subnetpool for this IP family has already been set. "
            "Only one default may exist per IP family"
        )


def _check_scope(
    txn: Transaction,
    ctx: Context,
    pool_id: str,
    scope_id: str | None,
    prefixes,
    ip_version: int,
    moving: bool = False,
) -> None:
    """Neutron's _validate_address_scope_id: a scope the caller sees, of the pool's IP
    version, with no prefix of another of its pools overlapping the pool's; a pool ``moving``
    into it takes its networks whole (none may keep a subnet of that version in another
    scope). Neutron checks that on every update, which refuses renaming a pool that shares
    networks with another pool of its scope: here only a move is checked."""
    if scope_id is None:
        return
    scope = txn.get(ADDRESS_SCOPES.collection, scope_id)
    if scope is None or not ADDRESS_SCOPES.is_visible(ctx, scope, txn.service):
        raise errors.AddressScopeNotFound(address_scope_id=scope_id)
    if scope.ip_version != ip_version:
        raise errors.IllegalSubnetPoolIpVersionAssociationToAddressScope(
            subnetpool_id=pool_id, address_scope_id=scope_id, ip_version=scope.ip_version
        )
    rescoped = SUBNETS_OF_POOL.in_transaction(txn, pool_id) if moving else {}
    for network_id in {subnet.network_id for subnet in rescoped.values()}:
        for subnet_id in txn.get("networks", network_id).subnets:
            subnet = txn.get("subnets", subnet_id)
            if subnet.ip_version == ip_version and subnet.id not in rescoped:
                raise errors.NetworkAddressScopeAffinityError()
    mine = netaddr.IPSet(prefixes)
    for other in POOLS_IN_SCOPE.in_transaction(txn, scope_id).values():
        if other.id != pool_id and mine & netaddr.IPSet(other.prefixes):
            raise errors.AddressScopePrefixConflict()


def _bounds(attrs: Mapping, ip_version: int) -> dict[str, int]:
    given = {k: attrs.get(k, COMPUTED) for k in ("min_prefixlen", "max_prefixlen")}
    low = (
        DEFAULT_MIN_PREFIXLEN[ip_version]
        if given["min_prefixlen"] is COMPUTED
        else given["min_prefixlen"]
    )
    high = BITS[ip_version] if given["max_prefixlen"] is COMPUTED else given["max_prefixlen"]
    default = attrs.get("default_prefixlen", COMPUTED)
    default = low if default is COMPUTED else default
    check_bounds(ip_version, low, high, default)
    return {"min_prefixlen": low, "max_prefixlen": high, "default_prefixlen": default}


def _prepare(txn: Transaction, ctx: Context, attrs: Mapping) -> dict[str, Any]:
    prefixes = attrs["prefixes"]
    ip_version = prefix_version(prefixes)
    prefixes = compact(prefixes)
    if attrs.get("is_default"):
        _check_one_default(txn, ip_version, None)
    scope_id = attrs.get("address_scope_id")
    _check_scope(txn, ctx, "", scope_id, prefixes, ip_version)
    return {
        "ip_version": ip_version,
        "prefixes": prefixes,
        **_bounds(attrs, ip_version),
        "default_quota": attrs.get("default_quota"),
        "is_default": bool(attrs.get("is_default", False)),
        "shared": bool(attrs.get("shared", False)),
        "address_scope_id": scope_id,
    }


def _after_create(txn: Transaction, ctx: Context, attrs: Mapping, pool: SubnetPool) -> None:
    if pool.shared:
        rbac.share_with_all(txn, OBJECT_TYPE, pool, True)


def _before_update(txn: Transaction, ctx: Context, pool: SubnetPool, values: dict) -> None:
    """Prefixes only grow (remove_prefixes shrinks them, around the allocated ones); a pool in
    a scope another project owns is changed by that project or an admin only."""
    if "prefixes" in values:
        new = compact(values["prefixes"])
        if prefix_version(new) != pool.ip_version:
            raise errors.PrefixVersionMismatch()
        if not netaddr.IPSet(pool.prefixes).issubset(netaddr.IPSet(new)):
            raise errors.IllegalSubnetPoolPrefixUpdate(
                msg="Existing prefixes must be a subset of the new prefixes"
            )
        values["prefixes"] = new
    merged = {
        name: values.get(name, getattr(pool, name))
        for name in ("prefixes", "address_scope_id", *PREFIXLEN_FIELDS)
    }
    values.update((k, v) for k, v in _bounds(merged, pool.ip_version).items() if k in values)
    if values.get("is_default") and not pool.is_default:
        _check_one_default(txn, pool.ip_version, pool.id)
    if pool.address_scope_id is not None:
        scope = txn.get(ADDRESS_SCOPES.collection, pool.address_scope_id)
        if not ctx.is_admin and scope is not None and scope.project_id != ctx.project_id:
            raise errors.IllegalSubnetPoolUpdate(
                reason=f"subnetpool {pool.id} cannot be updated when associated with shared "
                f"address scope {pool.address_scope_id}"
            )
    _check_scope(
        txn,
        ctx,
        pool.id,
        merged["address_scope_id"],
        merged["prefixes"],
        pool.ip_version,
        moving=merged["address_scope_id"] != pool.address_scope_id,
    )


def _before_delete(txn: Transaction, pool: SubnetPool) -> None:
    if SUBNETS_OF_POOL.in_transaction(txn, pool.id):
        raise errors.SubnetPoolDeleteError(reason="Subnet pool has existing allocations")


def _users(txn: Transaction, pool: SubnetPool) -> set[str]:
    """The projects with subnets from the pool: they depend on using it."""
    return {s.project_id for s in SUBNETS_OF_POOL.in_transaction(txn, pool.id).values()}


def _not_found(pool_id: str) -> errors.NeutronException:
    return errors.SubnetPoolNotFound(subnetpool_id=pool_id)


SUBNETPOOLS = schema.declare(
    schema.Resource(
        SubnetPool,
        "subnetpools",
        "subnetpool",
        not_found=_not_found,
        prepare=_prepare,
        after_create=_after_create,
        before_update=_before_update,
        before_delete=_before_delete,
        visible=rbac.visible(OBJECT_TYPE),
        quota=10,
    )
)

rbac.shareable(rbac.Shareable(OBJECT_TYPE, SUBNETPOOLS.collection, _not_found, _users, flag=True))


# ------------------------------------------------------------------------ prefix operations
def _prefixes_body(body) -> list[str]:
    """subnetpool-prefix-ops' request: {"prefixes": [cidr, ...]}."""
    if not isinstance(body, dict) or set(body) != {"prefixes"}:
        raise errors.BadRequestMessage(msg="Failed to parse request. Required 'prefixes' list")
    return a.subnet_list("prefixes", body["prefixes"])


def add_prefixes(service, ctx: Context, pool_id: str, body) -> dict:
    prefixes = _prefixes_body(body)

    def change(txn: Transaction, pool: SubnetPool) -> dict:
        if not prefixes:
            return {"prefixes": list(pool.prefixes)}
        values = {"prefixes": [*pool.prefixes, *prefixes]}
        _before_update(txn, ctx, pool, values)
        return {"prefixes": list(txn.save(SUBNETPOOLS.collection, pool, values).prefixes)}

    return service.change_record(ctx, SUBNETPOOLS.collection, pool_id, change)


def remove_prefixes(service, ctx: Context, pool_id: str, body) -> dict:
    """Neutron's: prefixes no subnet of the pool holds any of; absent ones are ignored."""
    prefixes = _prefixes_body(body)

    def change(txn: Transaction, pool: SubnetPool) -> dict:
        removed = netaddr.IPSet(prefixes)
        kept = netaddr.IPSet(pool.prefixes)
        if not prefixes or kept.isdisjoint(removed):
            return {"prefixes": list(pool.prefixes)}
        allocated = netaddr.IPSet(
            s.cidr for s in SUBNETS_OF_POOL.in_transaction(txn, pool.id).values()
        )
        if not allocated.isdisjoint(removed):
            raise errors.IllegalSubnetPoolPrefixUpdate(
                msg="One or more the prefixes to be removed is in use by a subnet."
            )
        left = compact(str(cidr) for cidr in (kept - removed).iter_cidrs())
        saved = txn.save(SUBNETPOOLS.collection, pool, {"prefixes": left})
        return {"prefixes": list(saved.prefixes)}

    return service.change_record(ctx, SUBNETPOOLS.collection, pool_id, change)


def network_address_scope(get: Callable[[str, str], Any], network, ip_version: int) -> str | None:
    """The address scope of a network's subnets of ``ip_version`` (their pools'), as
    ``ipv4_address_scope``/``ipv6_address_scope`` show it; ``get(collection, id)`` reads
    the model or a transaction."""
    for subnet_id in network.subnets:
        subnet = get("subnets", subnet_id)
        if subnet is None or subnet.ip_version != ip_version or subnet.subnetpool_id is None:
            continue
        pool = get(SUBNETPOOLS.collection, subnet.subnetpool_id)
        if pool is not None and pool.address_scope_id is not None:
            return pool.address_scope_id
    return None
