"""QoS policies with bandwidth-limit and DSCP-marking rules, and the ``qos_policy_id`` of
networks and ports (Neutron's ``qos`` service plugin).

A mixin of the network service: writes run under its lock, in its one transaction.
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import delete, insert, select

from naas_sdn.model import db, errors
from naas_sdn.model.common import (
    Changes,
    Context,
    bump,
    check_revision,
    check_updatable,
    current,
    norm_tags,
    owner,
    parse_int,
    update_row,
    utcnow,
    write_tags,
)
from naas_sdn.model.snapshot import QosPolicyView

BANDWIDTH_LIMIT, DSCP_MARKING = "bandwidth_limit", "dscp_marking"
RULE_TYPES = (BANDWIDTH_LIMIT, DSCP_MARKING)
DIRECTIONS = ("egress", "ingress")
MAX_KBPS = 2**31 - 1
# neutron-lib's VALID_DSCP_MARKS: CS0-CS7, the AF classes, VOICE-ADMIT (44) and EF (46)
VALID_DSCP_MARKS = (
    0,
    8,
    10,
    12,
    14,
    16,
    18,
    20,
    22,
    24,
    26,
    28,
    30,
    32,
    34,
    36,
    38,
    40,
    44,
    46,
    48,
    56,
)
POLICY_UPDATABLE = frozenset({"name", "description", "shared"})
RULE_FIELDS = {
    BANDWIDTH_LIMIT: ("max_kbps", "max_burst_kbps", "direction"),
    DSCP_MARKING: ("dscp_mark",),
}
RULE_TABLES = {
    BANDWIDTH_LIMIT: db.qos_bandwidth_limit_rules,
    DSCP_MARKING: db.qos_dscp_marking_rules,
}

if TYPE_CHECKING:
    from naas_sdn.model.service import Network, Port


@dataclasses.dataclass(frozen=True)
class QosRule:
    id: str
    qos_policy_id: str
    type: str  # BANDWIDTH_LIMIT or DSCP_MARKING
    max_kbps: int | None = None
    max_burst_kbps: int | None = None
    direction: str | None = None
    dscp_mark: int | None = None

    def conflicts(self, other: QosRule) -> bool:
        """One bandwidth limit per direction, one DSCP mark per policy."""
        return self.id != other.id and self.type == other.type and self.direction == other.direction


@dataclasses.dataclass(frozen=True)
class QosPolicy:
    id: str
    project_id: str
    name: str
    description: str
    shared: bool
    revision_number: int
    created_at: datetime.datetime
    updated_at: datetime.datetime
    tags: tuple[str, ...] = ()
    rules: tuple[QosRule, ...] = ()  # bandwidth limits (egress first), then the DSCP mark
    is_default: bool = False

    def rules_of(self, rule_type: str) -> list[QosRule]:
        return [r for r in self.rules if r.type == rule_type]


def _rule_order(rule: QosRule):
    return RULE_TYPES.index(rule.type), DIRECTIONS.index(rule.direction or "egress")


class QosMixin:
    """QoS policies and rules, and the policy bindings of networks and ports."""

    _qos_policies: Mapping[str, QosPolicy]
    # NetworkService's, of which this mixin is a part
    _networks: Mapping[str, Network]
    _ports: Mapping[str, Port]
    _write: Callable[..., Any]
    _enforce_quota: Callable[..., None]

    # -------------------------------------------------------------------------------- policies
    def list_qos_policies(self, ctx: Context) -> list[QosPolicy]:
        return [p for p in self._qos_policies.values() if _policy_visible(ctx, p)]

    def get_qos_policy(self, ctx: Context, policy_id: str) -> QosPolicy:
        policy = self._qos_policies.get(policy_id)
        if policy is None or not _policy_visible(ctx, policy):
            raise errors.QosPolicyNotFound(policy_id=policy_id)
        return policy

    def create_qos_policy(self, ctx: Context, attrs: Mapping) -> QosPolicy:
        return self.create_qos_policies(ctx, [attrs])[0]

    def create_qos_policies(self, ctx: Context, items: Iterable[Mapping]) -> list[QosPolicy]:
        """Create policies, all or none. ``attrs`` keys: name, description, shared,
        project_id, tags. A new policy has no rule."""
        items = list(items)

        def work(conn, changes):
            created = []
            for attrs in items:
                now = utcnow()
                policy = QosPolicy(
                    id=str(uuid.uuid4()),
                    project_id=owner(ctx, attrs),
                    name=attrs.get("name", ""),
                    description=attrs.get("description", ""),
                    shared=bool(attrs.get("shared", False)),
                    revision_number=1,
                    created_at=now,
                    updated_at=now,
                    tags=norm_tags(attrs.get("tags", ())),
                )
                conn.execute(
                    insert(db.qos_policies).values(
                        id=policy.id,
                        project_id=policy.project_id,
                        name=policy.name,
                        description=policy.description,
                        shared=policy.shared,
                        revision_number=1,
                        created_at=now,
                        updated_at=now,
                    )
                )
                write_tags(conn, "policies", policy.id, policy.tags)
                changes.qos_policies[policy.id] = policy
                created.append(policy)
            self._enforce_quota(conn, "qos_policy", (p.project_id for p in created))
            return created

        return self._write(work)

    def update_qos_policy(
        self, ctx: Context, policy_id: str, attrs: Mapping, if_revision: int | None = None
    ) -> QosPolicy:
        """Change name, description or shared; unsharing is refused while another project's
        network or port uses the policy."""
        check_updatable(attrs, POLICY_UPDATABLE)

        def work(conn, changes):
            policy = self._changing_policy(ctx, policy_id, if_revision)
            values = {k: v for k, v in attrs.items() if getattr(policy, k) != v}
            if values.get("shared") is False:
                for kind, obj in self._policy_users(policy_id):
                    if obj.project_id != policy.project_id:
                        raise errors.QosPolicyInUse(
                            policy_id=policy_id, object_type=kind, object_id=obj.id
                        )
            if not values:
                return policy
            new = bump(policy, **values)
            update_row(conn, db.qos_policies, new, values)
            changes.qos_policies[new.id] = new
            return new

        return self._write(work)

    def delete_qos_policy(
        self, ctx: Context, policy_id: str, if_revision: int | None = None
    ) -> None:
        """Refused (QosPolicyInUse) while a network or port uses it; its rules go with it."""

        def work(conn, changes):
            self._changing_policy(ctx, policy_id, if_revision)
            for kind, obj in self._policy_users(policy_id):
                raise errors.QosPolicyInUse(policy_id=policy_id, object_type=kind, object_id=obj.id)
            for table in RULE_TABLES.values():
                conn.execute(delete(table).where(table.c.qos_policy_id == policy_id))
            conn.execute(
                delete(db.tags).where(
                    db.tags.c.resource_type == "policies", db.tags.c.resource_id == policy_id
                )
            )
            conn.execute(delete(db.qos_policies).where(db.qos_policies.c.id == policy_id))
            changes.qos_policies[policy_id] = None

        self._write(work)

    def _changing_policy(self, ctx: Context, policy_id: str, if_revision: int | None) -> QosPolicy:
        policy = self.get_qos_policy(ctx, policy_id)
        check_revision(policy.revision_number, if_revision)
        return policy

    def _policy_users(self, policy_id: str):
        for net in self._networks.values():
            if net.qos_policy_id == policy_id:
                yield "network", net
        for port in self._ports.values():
            if port.qos_policy_id == policy_id:
                yield "port", port

    # ----------------------------------------------------------------------------------- rules
    def list_qos_rules(self, ctx: Context, policy_id: str, rule_type: str) -> list[QosRule]:
        return self.get_qos_policy(ctx, policy_id).rules_of(rule_type)

    def get_qos_rule(self, ctx: Context, policy_id: str, rule_type: str, rule_id: str) -> QosRule:
        rule = next(
            (r for r in self.list_qos_rules(ctx, policy_id, rule_type) if r.id == rule_id), None
        )
        if rule is None:
            raise errors.QosRuleNotFound(rule_id=rule_id, policy_id=policy_id)
        return rule

    def create_qos_rules(
        self, ctx: Context, policy_id: str, rule_type: str, items: Iterable[Mapping]
    ) -> list[QosRule]:
        """Add rules to a policy, all or none. bandwidth_limit keys: max_kbps (required),
        max_burst_kbps (0), direction ("egress"); dscp_marking keys: dscp_mark (required)."""
        items = list(items)

        def work(conn, changes):
            policy = self._changing_policy(ctx, policy_id, None)
            created = []
            for attrs in items:
                rule = _rule(rule_type, policy_id, str(uuid.uuid4()), attrs)
                policy = self._save_rules(conn, changes, policy, policy.rules + (rule,), rule)
                conn.execute(insert(RULE_TABLES[rule_type]).values(_rule_row(rule)))
                created.append(rule)
            return created

        return self._write(work)

    def update_qos_rule(
        self,
        ctx: Context,
        policy_id: str,
        rule_type: str,
        rule_id: str,
        attrs: Mapping,
        if_revision: int | None = None,
    ) -> QosRule:
        check_updatable(attrs, RULE_FIELDS[rule_type])

        def work(conn, changes):
            policy = self._changing_policy(ctx, policy_id, None)
            old = self.get_qos_rule(ctx, policy_id, rule_type, rule_id)
            fields = {k: getattr(old, k) for k in RULE_FIELDS[rule_type]}
            rule = _rule(rule_type, policy_id, rule_id, {**fields, **attrs})
            if rule == old:
                return old
            self._save_rules(
                conn,
                changes,
                policy,
                tuple(rule if r.id == rule_id else r for r in policy.rules),
                rule,
            )
            table = RULE_TABLES[rule_type]
            conn.execute(table.update().where(table.c.id == rule_id).values(_rule_row(rule)))
            return rule

        return self._write(work)

    def delete_qos_rule(
        self,
        ctx: Context,
        policy_id: str,
        rule_type: str,
        rule_id: str,
        if_revision: int | None = None,
    ) -> None:
        def work(conn, changes):
            policy = self._changing_policy(ctx, policy_id, None)
            self.get_qos_rule(ctx, policy_id, rule_type, rule_id)
            table = RULE_TABLES[rule_type]
            conn.execute(delete(table).where(table.c.id == rule_id))
            self._save_rules(
                conn, changes, policy, tuple(r for r in policy.rules if r.id != rule_id), None
            )

        self._write(work)

    def _save_rules(self, conn, changes: Changes, policy: QosPolicy, rules, changed):
        """Give the policy its new rule set (a rule change is a policy change, as in Neutron)."""
        if changed is not None:
            for other in rules:
                if changed.conflicts(other):
                    raise errors.QoSRulesConflict(
                        new_rule_type=changed.type, rule_id=other.id, policy_id=policy.id
                    )
        new = bump(policy, rules=tuple(sorted(rules, key=_rule_order)))
        update_row(conn, db.qos_policies, new, {})
        changes.qos_policies[new.id] = new
        return new

    # ----------------------------------------------------------- network and port attribute
    def _qos_binding(
        self,
        conn,
        ctx: Context,
        changes: Changes,
        table,
        column: str,
        object_id: str,
        policy_id: str | None,
        replace: bool,
    ) -> str | None:
        """Bind a network or port to a policy the caller can see (None: unbind)."""
        if policy_id is not None:
            policy = current(self._qos_policies, changes.qos_policies, policy_id)
            if policy is None or not _policy_visible(ctx, policy):
                raise errors.QosPolicyNotFound(policy_id=policy_id)
        if replace:
            conn.execute(delete(table).where(table.c[column] == object_id))
        if policy_id is not None:
            conn.execute(insert(table).values({column: object_id, "policy_id": policy_id}))
        return policy_id

    def _network_qos(self, conn, ctx, changes, network_id, policy_id, replace=False):
        return self._qos_binding(
            conn,
            ctx,
            changes,
            db.qos_network_policy_bindings,
            "network_id",
            network_id,
            policy_id,
            replace,
        )

    def _port_qos(self, conn, ctx, changes, port_id, policy_id, replace=False):
        return self._qos_binding(
            conn, ctx, changes, db.qos_port_policy_bindings, "port_id", port_id, policy_id, replace
        )


def _rule(rule_type: str, policy_id: str, rule_id: str, attrs: Mapping) -> QosRule:
    """A rule from its attributes, checked as neutron-lib declares them."""
    if rule_type == BANDWIDTH_LIMIT:
        if attrs.get("max_kbps") is None:
            raise errors.BadRequestMessage(
                msg="Failed to parse request. Required attribute 'max_kbps' not specified"
            )
        direction = attrs.get("direction", "egress")
        if direction not in DIRECTIONS:
            raise errors.InvalidAttribute(
                attr="direction", reason=f"'{direction}' is not in {list(DIRECTIONS)}"
            )
        return QosRule(
            id=rule_id,
            qos_policy_id=policy_id,
            type=rule_type,
            max_kbps=_kbps("max_kbps", attrs["max_kbps"]),
            max_burst_kbps=_kbps("max_burst_kbps", attrs.get("max_burst_kbps", 0)),
            direction=direction,
        )
    mark = attrs.get("dscp_mark")
    if parse_int(mark) not in VALID_DSCP_MARKS:
        raise errors.InvalidAttribute(
            attr="dscp_mark", reason=f"'{mark}' is not in {list(VALID_DSCP_MARKS)}"
        )
    return QosRule(id=rule_id, qos_policy_id=policy_id, type=rule_type, dscp_mark=parse_int(mark))


def _kbps(attr: str, value) -> int:
    number = parse_int(value)
    if number is None:
        raise errors.InvalidAttribute(attr=attr, reason=f"'{value}' is not an integer")
    if not 0 <= number <= MAX_KBPS:
        raise errors.InvalidAttribute(
            attr=attr, reason=f"'{value}' is not in range 0 through {MAX_KBPS}"
        )
    return number


def _rule_row(rule: QosRule) -> dict:
    return {
        "id": rule.id,
        "qos_policy_id": rule.qos_policy_id,
        **{k: getattr(rule, k) for k in RULE_FIELDS[rule.type]},
    }


def _policy_visible(ctx: Context, policy: QosPolicy) -> bool:
    return ctx.is_admin or policy.shared or policy.project_id == ctx.project_id


# ------------------------------------------------------------------------- loading and views
def load_qos(conn, tags: Mapping) -> tuple[dict, dict, dict]:
    """(policies by id, network id -> policy id, port id -> policy id)."""
    rules: dict[str, list[QosRule]] = {}
    for rule_type, table in RULE_TABLES.items():
        for row in conn.execute(select(table)):
            rules.setdefault(row.qos_policy_id, []).append(
                QosRule(
                    id=row.id,
                    qos_policy_id=row.qos_policy_id,
                    type=rule_type,
                    **{k: getattr(row, k) for k in RULE_FIELDS[rule_type]},
                )
            )
    policies = {}
    for row in conn.execute(
        select(db.qos_policies).order_by(db.qos_policies.c.created_at, db.qos_policies.c.id)
    ):
        policies[row.id] = QosPolicy(
            id=row.id,
            project_id=row.project_id,
            name=row.name,
            description=row.description,
            shared=row.shared,
            revision_number=row.revision_number,
            created_at=row.created_at,
            updated_at=row.updated_at,
            tags=tags.get(("policies", row.id), ()),
            rules=tuple(sorted(rules.get(row.id, ()), key=_rule_order)),
        )
    networks = {
        row.network_id: row.policy_id
        for row in conn.execute(select(db.qos_network_policy_bindings))
    }
    ports = {
        row.port_id: row.policy_id for row in conn.execute(select(db.qos_port_policy_bindings))
    }
    return policies, networks, ports


def qos_policy_view(policy: QosPolicy) -> QosPolicyView:
    marks = policy.rules_of(DSCP_MARKING)
    return QosPolicyView(
        id=policy.id,
        project_id=policy.project_id,
        # _rule gives every bandwidth_limit rule all three
        bandwidth_limits=tuple(
            cast(tuple[str, int, int], (r.direction, r.max_kbps, r.max_burst_kbps))
            for r in policy.rules_of(BANDWIDTH_LIMIT)
        ),
        dscp_mark=marks[0].dscp_mark if marks else None,
    )
