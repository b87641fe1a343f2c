"""The ``qos`` service plugin: /v2.0/qos/policies with their nested bandwidth_limit_rules and
dscp_marking_rules (served by the generic store), /v2.0/qos/rule-types, and ``qos_policy_id``
on networks and ports.

Unlike Neutron's default policy, a project may create and manage its own policies (Neutron
leaves that to admins); a policy is visible to its project, to admins and, when shared, to all.
"""

from __future__ import annotations

import dataclasses

from naas_sdn.features.networking.rbac_api import RBAC_QOS
from naas_sdn.model import errors
from naas_sdn.northbound.attributes import Attr, AttributeMap
from naas_sdn.northbound.extensions import Extension, Plugin
from naas_sdn.northbound.policy import (
    ADMIN_OR_OWNER,
    ADMIN_OR_PARENT_OWNER,
    ANY,
    crud,
    either,
    rule,
)
from naas_sdn.northbound.resources import ResourceDef, declared_resource, refuse_change

from .bindings import POLICY_BINDING
from .policies import (
    BANDWIDTH_LIMIT,
    DIRECTIONS,
    DSCP_MARKING,
    MAX_KBPS,
    QOS_POLICIES,
    VALID_DSCP_MARKS,
)

DRIVER = "naas-sdn"


@dataclasses.dataclass(frozen=True)
class RuleType:
    type: str
    drivers: tuple


def _range(name: str) -> dict:
    return {
        "parameter_name": name,
        "parameter_type": "range",
        "parameter_values": {"start": 0, "end": MAX_KBPS},
    }


def _choices(name: str, values) -> dict:
    return {"parameter_name": name, "parameter_type": "choices", "parameter_values": list(values)}


RULE_TYPES = {
    BANDWIDTH_LIMIT: RuleType(
        BANDWIDTH_LIMIT,
        (
            {
                "name": DRIVER,
                "supported_parameters": [
                    _range("max_kbps"),
                    _range("max_burst_kbps"),
                    _choices("direction", DIRECTIONS),
                ],
            },
        ),
    ),
    DSCP_MARKING: RuleType(
        DSCP_MARKING,
        ({"name": DRIVER, "supported_parameters": [_choices("dscp_mark", VALID_DSCP_MARKS)]},),
    ),
}

RULE_TYPE_ATTRIBUTES = AttributeMap(
    (
        Attr("type", lambda r: r.type),
        Attr("drivers", lambda r: list(r.drivers), kind="other"),
    )
)

QOS_EXTENSIONS = (
    Extension("qos", "Quality of Service", "The Quality of Service extension."),
    Extension(
        "qos-bw-limit-direction",
        "Direction for QoS bandwidth limit rule",
        "Allow to configure QoS bandwidth limit rule with specific direction: ingress or egress",
    ),
    Extension(
        "qos-rule-type-details",
        "Details of QoS rule types",
        "Expose details about QoS rule types supported by loaded backend drivers",
    ),
)


def _rule_type(_ctx, name: str) -> RuleType:
    if name not in RULE_TYPES:
        raise errors.ResourceNotFound()
    return RULE_TYPES[name]


RULE_TYPES_RESOURCE = ResourceDef(
    collection="rule_types",
    member="rule_type",
    path="qos/rule-types",
    attributes=RULE_TYPE_ATTRIBUTES,
    list=lambda ctx: list(RULE_TYPES.values()),
    get=_rule_type,
    create=refuse_change,
    update=refuse_change,
    delete=refuse_change,
    not_found=lambda rid: errors.ResourceNotFound(),
    taggable=False,
    valid_id=lambda rid: True,
    read_only=True,
)

# The blueprint's use case 5: a tenant shapes its own ports, so a project manages its own
# policies and rules (Neutron's defaults leave creating them to admins).
QOS_RULES = (
    *crud("policy", get=either(ADMIN_OR_OWNER, "field:policies:shared=True")),
    *(
        item
        for rule_type in RULE_TYPES
        for item in crud(
            f"policy_{rule_type}_rule",
            create=ADMIN_OR_PARENT_OWNER,
            get=ANY,
            update=ADMIN_OR_PARENT_OWNER,
            delete=ADMIN_OR_PARENT_OWNER,
        )
    ),
    rule("get_rule_type", ANY, "Show a QoS rule type"),
)


def qos_plugin(service) -> Plugin:
    return Plugin(
        "qos",
        (declared_resource(service, QOS_POLICIES), RULE_TYPES_RESOURCE),
        (*QOS_EXTENSIONS, RBAC_QOS),
        attribute_extensions={"networks": (POLICY_BINDING,), "ports": (POLICY_BINDING,)},
        policy_rules=QOS_RULES,
        shareable=("qos_policy",),
    )
