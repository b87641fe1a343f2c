"""The API of subnet pools and address scopes (core, as in Neutron's ML2: ``subnet_allocation``,
``default-subnetpools``, ``subnetpool-prefix-ops``, ``address-scope`` and their RBAC object
types): /v2.0/subnetpools and /v2.0/address-scopes, served by the generic store.

Policy: Neutron's defaults, but for ``shared``: as with networks and QoS policies, a project
shares what it owns (Neutron: admins only; an operator restores that with
``"create_subnetpool:shared": "rule:admin_only"``). Marking the default pool of an IP
version is an admin's, as in Neutron.
"""

from __future__ import annotations

from naas_sdn.northbound.extensions import Extension
from naas_sdn.northbound.policy import (
    ADMIN,
    ADMIN_OR_OWNER,
    ANY,
    as_member,
    crud,
    either,
    rule,
)
from naas_sdn.northbound.resources import ResourceDef, declared_resource

from . import subnetpools
from .address_scopes import ADDRESS_SCOPES

POOL_EXTENSIONS = (
    Extension(
        "subnet_allocation",
        "Subnet Allocation",
        "Enables allocation of subnets from a subnet pool",
    ),
    Extension(
        "default-subnetpools",
        "Default Subnetpools",
        "Provides ability to mark and use a subnetpool as the default.",
    ),
    Extension(
        "subnetpool-prefix-ops",
        "Subnet Pool Prefix Operations",
        "Provides support for adjusting the prefix list of subnet pools",
    ),
    Extension("address-scope", "Address scope", "Address scopes extension."),
    Extension("rbac-subnetpool", "Add subnetpool type to RBAC", "Add subnetpool type to RBAC"),
    Extension(
        "rbac-address-scope", "Add address_scope type to RBAC", "Add address_scope type to RBAC"
    ),
)

POOL_RULES = (
    rule("shared_subnetpools", "field:subnetpools:shared=True", "A subnet pool shared with one"),
    rule(
        "shared_address_scopes",
        "field:address_scopes:shared=True",
        "An address scope shared with one",
    ),
    *crud(
        "subnetpool",
        create=ANY,
        get=either(ADMIN_OR_OWNER, "rule:shared_subnetpools"),
        attributes={"create:is_default": ADMIN, "update:is_default": ADMIN},
    ),
    rule("add_prefixes", as_member(ADMIN_OR_OWNER), "Add prefixes to a subnet pool"),
    rule("remove_prefixes", as_member(ADMIN_OR_OWNER), "Remove unused prefixes from a subnet pool"),
    *crud("address_scope", create=ANY, get=either(ADMIN_OR_OWNER, "rule:shared_address_scopes")),
)


def pool_resources(service) -> list[ResourceDef]:
    pools = declared_resource(
        service,
        subnetpools.SUBNETPOOLS,
        actions={
            "add_prefixes": lambda ctx, pool_id, body: subnetpools.add_prefixes(
                service, ctx, pool_id, body
            ),
            "remove_prefixes": lambda ctx, pool_id, body: subnetpools.remove_prefixes(
                service, ctx, pool_id, body
            ),
        },
    )
    return [pools, declared_resource(service, ADDRESS_SCOPES)]
