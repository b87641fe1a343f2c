"""The API of security groups and their rules (core: Neutron's ``security-group`` extension),
with the ``port-security`` and ``allowed-address-pairs`` extensions of ports and networks:
/v2.0/security-groups and /v2.0/security-group-rules, served by the generic store and loaded
with the core, whatever ``service_plugins`` says.

The attribute maps are the declared ones with what the declarations cannot say: a group shows
its rules whole, and a rule shows its never-set address group and its normalized cidr.
"""

from __future__ import annotations

import dataclasses

from naas_sdn.northbound import attributes as a
from naas_sdn.northbound.attributes import Attr, AttributeMap
from naas_sdn.northbound.extensions import Extension
from naas_sdn.northbound.policy import ADMIN_OR_OWNER, crud, either, rule
from naas_sdn.northbound.resources import ResourceDef, _owned_and_stamped, declared_resource

from .groups import GROUPS, SECURITY_GROUP_RULES, SECURITY_GROUPS

SECURITY_EXTENSIONS = (
    Extension("security-group", "security-group", "The security groups extension."),
    Extension(
        "stateful-security-group",
        "Stateful security group",
        "Indicates if the security group is stateful or not",
    ),
    Extension("port-security", "Port Security", "Provides port security"),
    Extension(
        "port-security-groups-filtering",
        "Port filtering on security groups",
        "Provides security groups filtering when listing ports",
    ),
    Extension("allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs"),
)

SECURITY_RULES = (
    rule(
        "shared_security_group",
        "field:security_groups:shared=True",
        "Definition of a security group shared with the caller",
    ),
    *crud("security_group", get=either(ADMIN_OR_OWNER, "rule:shared_security_group")),
    *crud("security_group_rule"),
)


def _rule_attributes(declared: AttributeMap) -> AttributeMap:
    """The declared rule attributes in the order of Neutron's body, with the rest of it."""
    names = [attr.name for attr in declared.attrs]
    prefix, remote = names.index("remote_ip_prefix"), names.index("remote_group_id")
    attrs = declared.attrs
    return AttributeMap(
        (
            *attrs[: prefix + 1],
            Attr("normalized_cidr", lambda r: r.remote_ip_prefix),
            *attrs[prefix + 1 : remote + 1],
            Attr(
                "remote_address_group_id",
                lambda r: None,
                True,
                False,
                None,
                a.only_none("address groups are not supported"),
                None,
            ),
            Attr(
                "description", lambda r: r.description, True, False, "", a.string(), "description"
            ),
            *attrs[remote + 1 :],
            *_owned_and_stamped(),
        )
    )


def _group_attributes(declared: AttributeMap, rules: AttributeMap) -> AttributeMap:
    """The declared group attributes, with its rules rendered whole."""
    listed = Attr(
        "security_group_rules", lambda g: [rules.render(rule) for rule in g.rules], kind="other"
    )
    return AttributeMap(
        tuple(listed if attr.name == listed.name else attr for attr in declared.attrs)
    )


def security_resources(service) -> list[ResourceDef]:
    groups = declared_resource(service, SECURITY_GROUPS)
    rules = declared_resource(service, SECURITY_GROUP_RULES)
    rule_attributes = _rule_attributes(rules.attributes)

    def list_rules(ctx):
        """Group by group, each group's by key, as the groups list them."""
        return [
            rule
            for group in service.records(GROUPS).values()
            if ctx.is_admin or group.project_id == ctx.project_id
            for rule in group.rules
        ]

    return [
        dataclasses.replace(
            groups, attributes=_group_attributes(groups.attributes, rule_attributes)
        ),
        dataclasses.replace(rules, attributes=rule_attributes, list=list_rules),
    ]
