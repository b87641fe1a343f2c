"""Address scopes: the address spaces that subnet pools belong to (Neutron's ``address-scope``
extension, /v2.0/address-scopes).

A scope gathers subnet pools whose prefixes never overlap, so that addresses from one scope are
unique within it; a network's subnets of one IP version all come from pools of one scope, which
the network shows as ``ipv4_address_scope`` / ``ipv6_address_scope``. A scope is shared as
networks are (``shared``, or RBAC ``access_as_shared`` entries); once shared with every project
it stays so (Neutron's rule), and it is not deleted while a pool is in it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Integer

from naas_sdn.model import derived, errors, schema
from naas_sdn.model.common import Context
from naas_sdn.model.schema import field
from naas_sdn.model.store import Transaction
from naas_sdn.northbound import attributes as a

from . import rbac

OBJECT_TYPE = "address_scope"  # its RBAC object type


@dataclasses.dataclass(frozen=True, kw_only=True)
class AddressScope(schema.Standard):
    # shared with every project (its "*" RBAC entry); the API shows the caller's own view
    shared: bool = rbac.shared_field(OBJECT_TYPE)
    ip_version: int = field(Integer, post=True, validate=a.ip_version, kind="integer")


# the subnet pools of each scope
POOLS_IN_SCOPE = derived.Grouped("subnetpools", keys=lambda pool: (pool.address_scope_id,))


def _prepare(txn: Transaction, ctx: Context, attrs: Mapping) -> dict[str, Any]:
    return {"ip_version": attrs["ip_version"], "shared": bool(attrs.get("shared", False))}


def _after_create(txn: Transaction, ctx: Context, attrs: Mapping, scope: AddressScope) -> None:
    if scope.shared:
        rbac.share_with_all(txn, OBJECT_TYPE, scope, True)


def _before_update(txn: Transaction, ctx: Context, scope: AddressScope, values: dict) -> None:
    if "shared" not in values:
        return
    if scope.shared and not values["shared"]:
        raise errors.AddressScopeUpdateError(
            address_scope_id=scope.id, reason="Shared address scope can't be unshared"
        )
    rbac.share_with_all(txn, OBJECT_TYPE, scope, values["shared"])


def _before_delete(txn: Transaction, scope: AddressScope) -> None:
    if POOLS_IN_SCOPE.in_transaction(txn, scope.id):
        raise errors.AddressScopeInUse(address_scope_id=scope.id)


def _users(txn: Transaction, scope: AddressScope) -> set[str]:
    """The projects with subnet pools in the scope: they depend on seeing it."""
    return {pool.project_id for pool in POOLS_IN_SCOPE.in_transaction(txn, scope.id).values()}


def _not_found(scope_id: str) -> errors.NeutronException:
    return errors.AddressScopeNotFound(address_scope_id=scope_id)


ADDRESS_SCOPES = schema.declare(
    schema.Resource(
        AddressScope,
        "address_scopes",
        "address_scope",
        path="address-scopes",
        not_found=_not_found,
        prepare=_prepare,
        after_create=_after_create,
        before_update=_before_update,
        before_delete=_before_delete,
        visible=rbac.visible(OBJECT_TYPE),
        quota=10,
    )
)

rbac.shareable(
    rbac.Shareable(OBJECT_TYPE, ADDRESS_SCOPES.collection, _not_found, _users, flag=True)
)
