"""The API of RBAC policies (core: Neutron's ``rbac-policies`` extension, with ``rbac-qos``
and ``rbac-security-groups`` when their objects are served): /v2.0/rbac-policies, served by
the generic store.

The object types an entry may name are those of the loaded plugins (:func:`for_types`);
``target_project`` is the newer name of ``target_tenant`` (either may be sent, both are
shown), as ``tenant_id`` is of ``project_id``.
"""

from __future__ import annotations

import dataclasses

from naas_sdn.northbound import attributes as a
from naas_sdn.northbound.attributes import Attr, AttributeMap
from naas_sdn.northbound.extensions import Extension
from naas_sdn.northbound.policy import ADMIN_OR_OWNER, ANY, crud, either, rule
from naas_sdn.northbound.resources import MISSING_OWNER, ResourceDef, declared_resource

from .rbac import RBAC_POLICIES

RBAC_EXTENSIONS = (
    Extension(
        "rbac-policies",
        "RBAC Policies",
        "Allows creation and modification of policies that control tenant access to resources.",
    ),
    Extension(
        "rbac-security-groups",
        "Add security_group type to RBAC",
        "Add security_group type to RBAC",
    ),
)
RBAC_QOS = Extension("rbac-qos", "Add qos_policy type to RBAC", "Add qos_policy type to RBAC")

_NOT_WILDCARD = "(not field:rbac_policy:target_tenant=* and not field:rbac_policy:target_project=*)"

# Neutron's rules (neutron/conf/policies/rbac.py), but for the wildcard: as ``shared: true``
# does, a project may share what it owns with every project (Neutron: admins only; an
# operator restores that with "restrict_wildcard": "<not wildcard> or rule:admin_only").
RBAC_RULES = (
    rule(
        "restrict_wildcard",
        either(_NOT_WILDCARD, ADMIN_OR_OWNER),
        "Who may target every project (*) with an RBAC policy",
    ),
    *crud(
        "rbac_policy",
        create=ANY,
        attributes={
            "create:target_tenant": "rule:restrict_wildcard",
            "create:target_project": "rule:restrict_wildcard",
            "update:target_tenant": f"rule:restrict_wildcard and ({ADMIN_OR_OWNER})",
            "update:target_project": f"rule:restrict_wildcard and ({ADMIN_OR_OWNER})",
        },
    ),
)


def _attributes(declared: AttributeMap) -> AttributeMap:
    """The declared attributes with the project's two names and the target's two names."""
    target = declared["target_tenant"]
    project = Attr(
        "project_id", lambda r: r.project_id, True, False, MISSING_OWNER, a.string(), "project_id"
    )
    return AttributeMap(
        (
            *declared.attrs,
            dataclasses.replace(target, name="target_project"),
            project,
            dataclasses.replace(project, name="tenant_id"),
        )
    )


def rbac_resource(service) -> ResourceDef:
    res = declared_resource(service, RBAC_POLICIES)
    return dataclasses.replace(res, attributes=_attributes(res.attributes), taggable=False)


def for_types(res: ResourceDef, object_types) -> ResourceDef:
    """The collection accepting only ``object_types`` (those of the loaded plugins)."""
    allowed = tuple(object_types)

    def check(attr, value):
        if value not in allowed:
            raise a.invalid(attr, f"'{value}' is not in {sorted(allowed)}")
        return value

    attrs = tuple(
        dataclasses.replace(attr, validate=check) if attr.name == "object_type" else attr
        for attr in res.attributes.attrs
    )
    return dataclasses.replace(res, attributes=AttributeMap(attrs))
