"""QoS policies and their rules, declared for the generic store: a policy is a standard
resource at /v2.0/qos/policies; its bandwidth_limit_rules and dscp_marking_rules are nested
below it, listed in its ``rules`` and seen through it, and a rule's change raises the policy's
revision (as in Neutron).

What is left here is the relational rules: a policy in use by a network or port neither goes
nor stops being shared with their project (sharing is an RBAC entry:
:mod:`naas_sdn.features.networking.rbac`); one bandwidth limit per direction and one DSCP mark
per policy. Rule values are checked here too, after the API's authorization, with Neutron's
errors.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

from sqlalchemy import BigInteger, Integer, String, UniqueConstraint

from naas_sdn.features.networking import rbac
from naas_sdn.model import db, derived, errors, schema
from naas_sdn.model.common import Context, parse_int
from naas_sdn.model.schema import field
from naas_sdn.model.snapshot import QosPolicyView
from naas_sdn.model.store import Transaction
from naas_sdn.northbound import attributes as a

BANDWIDTH_LIMIT, DSCP_MARKING = "bandwidth_limit", "dscp_marking"
DIRECTIONS = ("egress", "ingress")
MAX_KBPS = 2**31 - 1
# neutron-lib's VALID_DSCP_MARKS: CS0-CS7, the AF classes, VOICE-ADMIT (44) and EF (46)
VALID_DSCP_MARKS = (0, *range(8, 41, 2), 44, 46, 48, 56)


def _rules_on_wire(policy: QosPolicy) -> list[dict]:
    return [
        {"id": r.id, "type": r.type, "qos_policy_id": policy.id, **r.values()} for r in policy.rules
    ]


@dataclasses.dataclass(frozen=True, kw_only=True)
class QosPolicy(schema.Standard):
    # shared with every project (its "*" RBAC entry); the API shows the caller's own view
    shared: bool = rbac.shared_field("qos_policy")
    is_default: bool = field(
        record_default=False,
        post=True,
        put=True,
        default=False,
        validate=a.only_false("default QoS policies are not supported"),
        kind="boolean",
    )
    # its rules, bandwidth limits (egress first) then the DSCP mark: kept by the store
    rules: tuple = field(record_default=(), show=_rules_on_wire, kind="other")


def _policy_link(**spec) -> Any:
    """A rule's policy (set by the store from the URL, not shown): it goes with its policy."""
    fk = {"foreign_key": "qos_policies.id", "on_delete": "CASCADE"}
    return field(String(db.UUID_LEN), visible=False, **fk, **spec)


@dataclasses.dataclass(frozen=True, kw_only=True)
class QosRule(schema.Bare):
    """What both rule types share: the policy they belong to."""

    type: ClassVar[str]
    FIELDS: ClassVar[tuple[str, ...]]  # the rule's own attributes, in the API's order

    qos_policy_id: str = _policy_link(index=True)

    def values(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.FIELDS}


@dataclasses.dataclass(frozen=True, kw_only=True)
class BandwidthLimitRule(QosRule):
    type: ClassVar[str] = BANDWIDTH_LIMIT
    FIELDS: ClassVar[tuple[str, ...]] = ("max_kbps", "max_burst_kbps", "direction")

    max_kbps: int = field(BigInteger, post=True, put=True, kind="integer")
    max_burst_kbps: int = field(BigInteger, post=True, put=True, default=0, kind="integer")
    direction: str = field(String(8), post=True, put=True, default="egress")


@dataclasses.dataclass(frozen=True, kw_only=True)
class DscpMarkingRule(QosRule):
    type: ClassVar[str] = DSCP_MARKING
    FIELDS: ClassVar[tuple[str, ...]] = ("dscp_mark",)

    # one mark per policy: the policy's column is unique (and so needs no index of its own)
    qos_policy_id: str = _policy_link(unique=True)
    dscp_mark: int = field(Integer, post=True, put=True, kind="integer")


# ------------------------------------------------------------------------------- rule values
def _bandwidth_values(attrs: Mapping) -> dict[str, Any]:
    """A bandwidth limit's values, checked as neutron-lib declares them."""
    if attrs.get("max_kbps") is None:
        raise errors.BadRequestMessage(
            msg="Failed to parse request. Required attribute 'max_kbps' not specified"
        )
    direction = attrs.get("direction", "egress")
    if direction not in DIRECTIONS:
        raise errors.InvalidAttribute(
            attr="direction", reason=f"'{direction}' is not in {list(DIRECTIONS)}"
        )
    return {
        "max_kbps": _kbps("max_kbps", attrs["max_kbps"]),
        "max_burst_kbps": _kbps("max_burst_kbps", attrs.get("max_burst_kbps", 0)),
        "direction": direction,
    }


def _dscp_values(attrs: Mapping) -> dict[str, Any]:
    mark = attrs.get("dscp_mark")
    if parse_int(mark) not in VALID_DSCP_MARKS:
        raise errors.InvalidAttribute(
            attr="dscp_mark", reason=f"'{mark}' is not in {list(VALID_DSCP_MARKS)}"
        )
    return {"dscp_mark": parse_int(mark)}


def _kbps(attr: str, value) -> int:
    number = parse_int(value)
    if number is None:
        raise errors.InvalidAttribute(attr=attr, reason=f"'{value}' is not an integer")
    if not 0 <= number <= MAX_KBPS:
        raise errors.InvalidAttribute(
            attr=attr, reason=f"'{value}' is not in range 0 through {MAX_KBPS}"
        )
    return number


_CHECKED = {BANDWIDTH_LIMIT: _bandwidth_values, DSCP_MARKING: _dscp_values}


def _check_conflicts(txn: Transaction, rule: QosRule) -> None:
    """One bandwidth limit per direction, one DSCP mark per policy."""
    for other in txn.current(RULES[rule.type].collection).values():
        if (
            other.id != rule.id
            and other.qos_policy_id == rule.qos_policy_id
            and getattr(other, "direction", None) == getattr(rule, "direction", None)
        ):
            raise errors.QoSRulesConflict(
                new_rule_type=rule.type, rule_id=other.id, policy_id=rule.qos_policy_id
            )


def _rule_hooks(record: type[QosRule]) -> dict[str, Any]:
    """The prepare and before_update hooks of one rule type."""
    checked = _CHECKED[record.type]

    def prepare(txn: Transaction, _ctx: Context, attrs: Mapping) -> dict[str, Any]:
        values = {"qos_policy_id": attrs["qos_policy_id"], **checked(attrs)}
        _check_conflicts(txn, record(id="", **values))
        return values

    def before_update(txn: Transaction, ctx: Context, rule: QosRule, values: dict) -> None:
        normal = checked({**rule.values(), **values})
        values.update({k: normal[k] for k in values})
        _check_conflicts(txn, dataclasses.replace(rule, **normal))

    return {"prepare": prepare, "before_update": before_update}


# ---------------------------------------------------------------------------------- policies
# the networks and the ports bound to each policy
_BOUND = {
    kind: derived.Grouped(
        collection, keys=lambda r: (r.qos_policy_id,) if getattr(r, "qos_policy_id", None) else ()
    )
    for kind, collection in (("network", "networks"), ("port", "ports"))
}


def _users(txn: Transaction, policy_id: str):
    """The networks and ports bound to a policy, as (kind, record)."""
    for kind, bound in _BOUND.items():
        for record in bound.in_transaction(txn, policy_id).values():
            yield kind, record


def _user_projects(txn: Transaction, policy: QosPolicy) -> set[str]:
    return {obj.project_id for _, obj in _users(txn, policy.id)}


def _after_policy_create(txn: Transaction, ctx: Context, attrs, policy: QosPolicy) -> None:
    if policy.shared:
        rbac.share_with_all(txn, "qos_policy", policy, True)


def _before_policy_update(txn: Transaction, ctx: Context, policy: QosPolicy, values: dict) -> None:
    """Unsharing is refused while a project that no other entry lets in uses the policy."""
    if "shared" not in values:
        return
    if not values["shared"]:
        for entry in rbac.entries(txn, "qos_policy", policy.id, target=rbac.WILDCARD):
            left_out = rbac.users_without_access(txn, "qos_policy", policy, entry)
            if left_out:
                raise errors.RbacPolicyInUse(
                    object_id=policy.id, details=f"project_id={sorted(left_out)[0]}"
                )
    rbac.share_with_all(txn, "qos_policy", policy, values["shared"])


def _before_policy_delete(txn: Transaction, policy: QosPolicy) -> None:
    for kind, obj in _users(txn, policy.id):
        raise errors.QosPolicyInUse(policy_id=policy.id, object_type=kind, object_id=obj.id)


def qos_policy_view(policy: QosPolicy) -> QosPolicyView:
    marks = [r.dscp_mark for r in policy.rules if r.type == DSCP_MARKING]
    return QosPolicyView(
        id=policy.id,
        project_id=policy.project_id,
        bandwidth_limits=tuple(
            (r.direction, r.max_kbps, r.max_burst_kbps)
            for r in policy.rules
            if r.type == BANDWIDTH_LIMIT
        ),
        dscp_mark=marks[0] if marks else None,
    )


QOS_POLICIES = schema.declare(
    schema.Resource(
        QosPolicy,
        "qos_policies",
        "policy",
        plural="policies",
        path="qos/policies",
        not_found=lambda policy_id: errors.QosPolicyNotFound(policy_id=policy_id),
        view=qos_policy_view,
        visible=rbac.visible("qos_policy"),
        after_create=_after_policy_create,
        before_update=_before_policy_update,
        before_delete=_before_policy_delete,
        # Neutron has no quota for QoS policies; ours is named like its singular resources
        quota=10,
        quota_name="qos_policy",
    )
)


def _declare_rules(record: type[QosRule], order=None, constraints=()) -> schema.Resource:
    return schema.declare(
        schema.Resource(
            record,
            f"qos_{record.type}_rules",
            f"{record.type}_rule",
            plural=f"{record.type}_rules",
            not_found=lambda policy_id, rule_id: errors.QosRuleNotFound(
                rule_id=rule_id, policy_id=policy_id
            ),
            parent=schema.Parent(
                "qos_policies", "qos_policy_id", nested=True, listed_in="rules", order=order
            ),
            constraints=constraints,
            **_rule_hooks(record),
        )
    )


RULES = {
    BANDWIDTH_LIMIT: _declare_rules(
        BandwidthLimitRule,
        order=lambda rule: DIRECTIONS.index(rule.direction),
        constraints=(
            UniqueConstraint("qos_policy_id", "direction", name="uniq_qos_bw_policy_direction"),
        ),
    ),
    DSCP_MARKING: _declare_rules(DscpMarkingRule),
}


rbac.shareable(
    rbac.Shareable(
        "qos_policy",
        QOS_POLICIES.collection,
        lambda policy_id: errors.QosPolicyNotFound(policy_id=policy_id),
        users=_user_projects,
        flag=True,
    )
)
