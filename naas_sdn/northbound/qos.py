"""The ``qos`` service plugin: /v2.0/qos/policies with their nested bandwidth_limit_rules and
dscp_marking_rules, /v2.0/qos/rule-types, and ``qos_policy_id`` on networks and ports.

Unlike Neutron's default policy, a project may create and manage its own policies (Neutron
leaves that to admins); a policy is visible to its project, to admins and, when shared, to all.
"""

from __future__ import annotations

import dataclasses
import operator

from naas_sdn.model import errors
from naas_sdn.model.qos import BANDWIDTH_LIMIT, DSCP_MARKING, RULE_FIELDS, VALID_DSCP_MARKS
from naas_sdn.model.service import NetworkService
from naas_sdn.northbound import attributes as a
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
from naas_sdn.northbound.resources import ResourceDef, _standard

DRIVER = "naas-sdn"


def _rule_attrs(rule_type: str, post_defaults: dict) -> AttributeMap:
    """A rule type's attribute map; values are checked by the model (Neutron's errors)."""
    return AttributeMap(
        (Attr("id", lambda r: r.id),)
        + tuple(
            Attr(
                name,
                operator.attrgetter(name),
                True,
                True,
                post_defaults[name],
                None,
                name,
                kind="string" if name == "direction" else "integer",
            )
            for name in RULE_FIELDS[rule_type]
        )
    )


RULE_ATTRIBUTES = {
    BANDWIDTH_LIMIT: _rule_attrs(
        BANDWIDTH_LIMIT, {"max_kbps": a.MISSING, "max_burst_kbps": 0, "direction": "egress"}
    ),
    DSCP_MARKING: _rule_attrs(DSCP_MARKING, {"dscp_mark": a.MISSING}),
}


def _rules(policy) -> list[dict]:
    return [
        {
            "id": r.id,
            "type": r.type,
            "qos_policy_id": policy.id,
            **{k: getattr(r, k) for k in RULE_FIELDS[r.type]},
        }
        for r in policy.rules
    ]


POLICY_ATTRIBUTES = AttributeMap(
    _standard()
    + (
        Attr("shared", lambda r: r.shared, True, True, False, a.boolean, "shared", kind="boolean"),
        Attr(
            "is_default",
            lambda r: r.is_default,
            True,
            True,
            False,
            a.only_false("default QoS policies are not supported"),
            None,
            kind="boolean",
        ),
        Attr("rules", _rules, kind="other"),
    )
)

POLICY_BINDING = Attr(
    "qos_policy_id", lambda r: r.qos_policy_id, True, True, None, a.uuid_or_none, "qos_policy_id"
)


@dataclasses.dataclass(frozen=True)
class RuleType:
    type: str
    drivers: tuple


RULE_TYPES = {
    BANDWIDTH_LIMIT: RuleType(
        BANDWIDTH_LIMIT,
        (
            {
                "name": DRIVER,
                "supported_parameters": [
                    {
                        "parameter_name": "max_kbps",
                        "parameter_type": "range",
                        "parameter_values": {"start": 0, "end": 2147483647},
                    },
                    {
                        "parameter_name": "max_burst_kbps",
                        "parameter_type": "range",
                        "parameter_values": {"start": 0, "end": 2147483647},
                    },
                    {
                        "parameter_name": "direction",
                        "parameter_type": "choices",
                        "parameter_values": ["egress", "ingress"],
                    },
                ],
            },
        ),
    ),
    DSCP_MARKING: RuleType(
        DSCP_MARKING,
        (
            {
                "name": DRIVER,
                "supported_parameters": [
                    {
                        "parameter_name": "dscp_mark",
                        "parameter_type": "choices",
                        "parameter_values": list(VALID_DSCP_MARKS),
                    }
                ],
            },
        ),
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


def _unsupported(*_args):
    raise errors.MethodNotAllowed(method="this")


def _rule_type(_ctx, name: str) -> RuleType:
    if name not in RULE_TYPES:
        raise errors.ResourceNotFound()
    return RULE_TYPES[name]


def _rule_resource(service: NetworkService, rule_type: str) -> ResourceDef:
    return ResourceDef(
        collection=f"{rule_type}_rules",
        member=f"{rule_type}_rule",
        attributes=RULE_ATTRIBUTES[rule_type],
        list=lambda ctx, pid: service.list_qos_rules(ctx, pid, rule_type),
        get=lambda ctx, pid, rid: service.get_qos_rule(ctx, pid, rule_type, rid),
        create=lambda ctx, pid, items: service.create_qos_rules(ctx, pid, rule_type, items),
        update=lambda ctx, pid, rid, fields, rev: service.update_qos_rule(
            ctx, pid, rule_type, rid, fields, rev
        ),
        delete=lambda ctx, pid, rid, rev: service.delete_qos_rule(ctx, pid, rule_type, rid, rev),
        not_found=lambda pid, rid: errors.QosRuleNotFound(rule_id=rid, policy_id=pid),
        taggable=False,
        policy_member=f"policy_{rule_type}_rule",
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


def qos_plugin(service: NetworkService) -> Plugin:
    policies = ResourceDef(
        collection="policies",
        member="policy",
        path="qos/policies",
        attributes=POLICY_ATTRIBUTES,
        list=service.list_qos_policies,
        get=service.get_qos_policy,
        create=service.create_qos_policies,
        update=service.update_qos_policy,
        delete=service.delete_qos_policy,
        not_found=lambda rid: errors.QosPolicyNotFound(policy_id=rid),
        children={f"{t}_rules": _rule_resource(service, t) for t in RULE_TYPES},
    )
    rule_types = ResourceDef(
        collection="rule_types",
        member="rule_type",
        path="qos/rule-types",
        attributes=RULE_TYPE_ATTRIBUTES,
        list=lambda ctx: list(RULE_TYPES.values()),
        get=_rule_type,
        create=_unsupported,
        update=_unsupported,
        delete=_unsupported,
        not_found=lambda rid: errors.ResourceNotFound(),
        taggable=False,
        valid_id=lambda rid: True,
        read_only=True,
    )
    return Plugin(
        "qos",
        (policies, rule_types),
        QOS_EXTENSIONS,
        attribute_extensions={"networks": (POLICY_BINDING,), "ports": (POLICY_BINDING,)},
        policy_rules=QOS_RULES,
    )
