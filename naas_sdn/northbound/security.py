"""Security groups and their rules (core: Neutron's ``security-group`` extension), with the
``port-security`` and ``allowed-address-pairs`` extensions of ports and networks.

Only stateful groups exist (``stateful`` accepts true only); groups are never shared. The model
validates rules (protocol, ports, prefixes) with Neutron's errors; the attribute map checks
shapes.
"""

from __future__ import annotations

from naas_sdn.model import errors
from naas_sdn.model.service import NetworkService
from naas_sdn.northbound import attributes as a
from naas_sdn.northbound.attributes import Attr, AttributeMap
from naas_sdn.northbound.extensions import Extension
from naas_sdn.northbound.resources import ResourceDef, _owned_and_stamped, _standard

RULE_ATTRIBUTES = AttributeMap(
    (
        Attr("id", lambda r: r.id),
        Attr(
            "security_group_id",
            lambda r: r.security_group_id,
            True,
            False,
            a.MISSING,
            a.uuid_string,
            "security_group_id",
        ),
        Attr(
            "direction",
            lambda r: r.direction,
            True,
            False,
            a.MISSING,
            a.one_of("ingress", "egress"),
            "direction",
        ),
        Attr("ethertype", lambda r: r.ethertype, True, False, "IPv4", None, "ethertype"),
        Attr("protocol", lambda r: r.protocol, True, False, None, None, "protocol"),
        Attr(
            "port_range_min",
            lambda r: r.port_range_min,
            True,
            False,
            None,
            None,
            "port_range_min",
            kind="integer",
        ),
        Attr(
            "port_range_max",
            lambda r: r.port_range_max,
            True,
            False,
            None,
            None,
            "port_range_max",
            kind="integer",
        ),
        Attr(
            "remote_ip_prefix",
            lambda r: r.remote_ip_prefix,
            True,
            False,
            None,
            None,
            "remote_ip_prefix",
        ),
        Attr("normalized_cidr", lambda r: r.remote_ip_prefix),
        Attr(
            "remote_group_id",
            lambda r: r.remote_group_id,
            True,
            False,
            None,
            a.uuid_or_none,
            "remote_group_id",
        ),
        Attr(
            "remote_address_group_id",
            lambda r: None,
            True,
            False,
            None,
            a.only_none("address groups are not supported"),
            None,
        ),
        Attr("description", lambda r: r.description, True, False, "", a.string(), "description"),
    )
    + _owned_and_stamped()
)

GROUP_ATTRIBUTES = AttributeMap(
    _standard()
    + (
        Attr(
            "security_group_rules",
            lambda r: [RULE_ATTRIBUTES.render(rule) for rule in r.rules],
            kind="other",
        ),
        Attr(
            "stateful",
            lambda r: r.stateful,
            True,
            True,
            True,
            a.boolean,
            "stateful",
            kind="boolean",
        ),
        Attr("shared", lambda r: r.shared, kind="boolean"),
    )
)

SECURITY_EXTENSIONS = (
    Extension("security-group", "security-group", "The security groups extension."),
    Extension(
        "stateful-security-group",
        "Stateful security group",
        "Indicates if the security group is stateful or not (only stateful ones are supported).",
    ),
    Extension("port-security", "Port Security", "Provides port security"),
    Extension("allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs"),
)


def security_resources(service: NetworkService) -> list[ResourceDef]:
    return [
        ResourceDef(
            collection="security_groups",
            path="security-groups",
            member="security_group",
            attributes=GROUP_ATTRIBUTES,
            list=service.list_security_groups,
            get=service.get_security_group,
            create=service.create_security_groups,
            update=service.update_security_group,
            delete=service.delete_security_group,
            not_found=lambda rid: errors.SecurityGroupNotFound(id=rid),
        ),
        ResourceDef(
            collection="security_group_rules",
            path="security-group-rules",
            member="security_group_rule",
            attributes=RULE_ATTRIBUTES,
            list=service.list_security_group_rules,
            get=service.get_security_group_rule,
            create=service.create_security_group_rules,
            update=service.update_security_group_rule,
            delete=service.delete_security_group_rule,
            not_found=lambda rid: errors.SecurityGroupRuleNotFound(id=rid),
            taggable=False,
        ),
    ]
