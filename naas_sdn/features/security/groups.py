"""Security groups and their rules, declared for the generic store: a group is a standard
resource at /v2.0/security-groups; its rules live at /v2.0/security-group-rules, are listed in
the group's ``security_group_rules`` and seen through it, and a rule's change raises the
group's revision (as in Neutron).

What is left here is the relational rules: a project's ``default`` group, made on first use
with Neutron's four rules and removable only by an admin; a new group's two egress rules; a
group in use by a port stays; a rule's groups must be the caller's; no rule twice. Rule values
are checked here too, in Neutron's order and with its errors (the API checks only shapes).
A group is stateful (conntrack) or stateless (``stateful: false``, Neutron's
``stateful-security-group``: each packet judged alone); that changes only while no port uses
the group, and a port never holds both kinds (:mod:`.ports`), as in Neutron. A group is
shared through RBAC entries (:mod:`naas_sdn.features.networking.rbac`): the projects it is
shared with see it and use it on their ports, but only its own project changes it or its
rules.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Integer,
    String,
    Table,
    delete,
    insert,
    select,
)

from naas_sdn.features.networking import rbac
from naas_sdn.model import db, derived, errors, protocols, schema
from naas_sdn.model.common import Context, current, owner
from naas_sdn.model.schema import field
from naas_sdn.model.snapshot import SecurityGroupRuleView, SecurityGroupView
from naas_sdn.model.store import Transaction
from naas_sdn.northbound import attributes as a

DEFAULT_NAME = "default"
DEFAULT_DESCRIPTION = "Default security group"
DIRECTIONS = ("ingress", "egress")
ANY_PREFIXES = ("0.0.0.0/0", "::/0")
GROUPS, RULES = "security_groups", "security_group_rules"


def _group_link(**spec) -> Any:
    """A rule's group: the rule goes when the group goes, as in Neutron."""
    fk = {"foreign_key": "security_groups.id", "on_delete": "CASCADE"}
    return field(String(db.UUID_LEN), index=True, post=True, **fk, **spec)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SecurityGroupRule(schema.Owned):
    # From a counter, never reused: the compiler names a rule's conjunction by it.
    key: int = field(BigInteger, unique=True, visible=False)
    security_group_id: str = _group_link(validate=a.uuid_string)
    direction: str = field(String(16), post=True, validate=a.one_of(*DIRECTIONS))
    ethertype: str = field(String(8), post=True, default="IPv4")
    protocol: str | None = field(String(40), nullable=True, post=True, default=None)  # "tcp", "6"
    port_range_min: int | None = field(
        Integer, nullable=True, post=True, default=None, kind="integer"
    )
    port_range_max: int | None = field(
        Integer, nullable=True, post=True, default=None, kind="integer"
    )
    remote_ip_prefix: str | None = field(String(64), nullable=True, post=True, default=None)
    # a rule allowing traffic from another group goes when that group goes
    remote_group_id: str | None = _group_link(nullable=True, default=None, validate=a.uuid_or_none)

    def identity(self) -> tuple:
        return rule_identity(self.__dict__)


def rule_identity(values: Mapping) -> tuple:
    """What makes two rules the same rule (Neutron's duplicate check): protocols compared
    by number, an any-address prefix the same as none."""
    prefix = values["remote_ip_prefix"]
    return (
        values["direction"],
        values["ethertype"],
        protocols.number(values["protocol"], values["ethertype"]),
        values["port_range_min"],
        values["port_range_max"],
        None if prefix in ANY_PREFIXES else prefix,
        values["remote_group_id"],
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class SecurityGroup(schema.Standard):
    # its rules, by key: kept by the store (the API renders them whole)
    rules: tuple[SecurityGroupRule, ...] = field(
        record_default=(), wire="security_group_rules", kind="other"
    )
    stateful: bool = field(
        Boolean, post=True, put=True, default=True, validate=a.boolean, kind="boolean"
    )
    # whether it is shared with the caller (RBAC entries only: there is no column)
    shared: bool = field(
        record_default=False, kind="boolean", show_to=rbac.shown_shared("security_group")
    )
    # the project's "default" group: kept in DEFAULT_GROUPS
    is_default: bool = field(record_default=False, visible=False)


# ------------------------------------------------------------------------------------ groups
def default_group_id(groups: Mapping[str, SecurityGroup], project_id: str) -> str | None:
    return next(
        (g.id for g in groups.values() if g.is_default and g.project_id == project_id), None
    )


def ensure_default_group(txn: Transaction, project_id: str) -> str:
    """The project's default group, created (Neutron's four rules) if it has none."""
    existing = default_group_id(txn.current(GROUPS), project_id)
    if existing is not None:
        return existing
    attrs = {
        "project_id": project_id,
        "name": DEFAULT_NAME,
        "description": DEFAULT_DESCRIPTION,
        "is_default": True,  # not an API attribute: only the service makes a default group
    }
    return txn.create(GROUPS, Context.admin(), attrs).id


def _prepare_group(txn: Transaction, ctx: Context, attrs: Mapping) -> dict[str, Any]:
    """A new group needs its project's default group first; none other is named default."""
    project_id = owner(ctx, attrs)
    if attrs.get("is_default"):
        return {"project_id": project_id, "stateful": True, "is_default": True}
    if attrs.get("name", "").lower() == DEFAULT_NAME:
        raise errors.SecurityGroupDefaultAlreadyExists()
    ensure_default_group(txn, project_id)
    return {"project_id": project_id}


def _group_created(txn: Transaction, _ctx: Context, _attrs, group: SecurityGroup) -> None:
    """Neutron's egress rules (IPv4, IPv6, any); a default group also lets its own members in."""
    initial: list[tuple[str, str, str | None]] = [
        ("egress", "IPv4", None),
        ("egress", "IPv6", None),
    ]
    if group.is_default:
        initial += [("ingress", "IPv4", group.id), ("ingress", "IPv6", group.id)]
    for direction, ethertype, remote in initial:
        attrs = {"security_group_id": group.id, "project_id": group.project_id}
        rule = {"direction": direction, "ethertype": ethertype, "remote_group_id": remote}
        txn.create(RULES, Context.admin(), {**attrs, **rule})
    if group.is_default:
        txn.conn.execute(
            insert(DEFAULT_GROUPS).values(project_id=group.project_id, security_group_id=group.id)
        )


def _before_group_update(
    txn: Transaction, _ctx: Context, group: SecurityGroup, values: dict
) -> None:
    """Neutron's order: statefulness changes only while no port (of any project) uses the
    group; the default group keeps its name."""
    if "stateful" in values and _PORTS.in_transaction(txn, group.id):
        raise errors.SecurityGroupInUse(id=group.id)
    if "name" in values:
        if group.is_default:
            raise errors.SecurityGroupCannotUpdateDefault()
        if values["name"].lower() == DEFAULT_NAME:
            raise errors.SecurityGroupDefaultAlreadyExists()


def _before_group_delete(txn: Transaction, group: SecurityGroup) -> None:
    """Refused while a port uses the group, and for the default group unless by an admin.
    The other groups' rules naming it as remote group go with it."""
    if group.is_default and not (txn.ctx is not None and txn.ctx.is_admin):
        raise errors.SecurityGroupCannotRemoveDefault()
    if _PORTS.in_transaction(txn, group.id):
        raise errors.SecurityGroupInUse(id=group.id)
    naming = [
        r
        for r in txn.current(RULES).values()
        if r.remote_group_id == group.id and r.security_group_id != group.id
    ]
    txn.delete(RULES, naming)
    txn.conn.execute(delete(DEFAULT_GROUPS).where(DEFAULT_GROUPS.c.security_group_id == group.id))


def _list_groups(service, ctx: Context) -> None:
    """The caller's project gets its default group on first use."""
    if ctx.project_id and default_group_id(service.records(GROUPS), ctx.project_id) is None:
        service.write(
            lambda conn, changes: ensure_default_group(
                Transaction(conn, changes, service), ctx.project_id
            )
        )


def _with_defaults(conn, groups: dict) -> dict:
    defaults = {row.security_group_id for row in conn.execute(select(DEFAULT_GROUPS))}
    return {
        key: dataclasses.replace(g, is_default=True) if key in defaults else g
        for key, g in groups.items()
    }


def security_group_view(group: SecurityGroup) -> SecurityGroupView:
    return SecurityGroupView(
        id=group.id,
        project_id=group.project_id,
        stateful=group.stateful,
        rules=tuple(
            SecurityGroupRuleView(
                id=r.id,
                key=r.key,
                security_group_id=r.security_group_id,
                direction=r.direction,
                ethertype=r.ethertype,
                protocol=protocols.number(r.protocol, r.ethertype),
                port_range_min=r.port_range_min,
                port_range_max=r.port_range_max,
                remote_ip_prefix=None if r.remote_ip_prefix in ANY_PREFIXES else r.remote_ip_prefix,
                remote_group_id=r.remote_group_id,
            )
            for r in sorted(group.rules, key=lambda r: r.key)
        ),
    )


SECURITY_GROUPS = schema.declare(
    schema.Resource(
        SecurityGroup,
        GROUPS,
        "security_group",
        path="security-groups",
        not_found=lambda group_id: errors.SecurityGroupNotFound(id=group_id),
        view=security_group_view,
        prepare=_prepare_group,
        after_create=_group_created,
        before_update=_before_group_update,
        before_delete=_before_group_delete,
        before_list=_list_groups,
        visible=rbac.visible("security_group"),
        complete=_with_defaults,
        quota=10,  # Neutron's default
        # a new group's own egress rules count against the rule quota, as in Neutron
        also_counts=("security_group_rule",),
    )
)

DEFAULT_GROUPS = Table(
    "default_security_groups",
    db.metadata,
    # The primary key makes a second "default" group for a project impossible, whoever writes.
    Column("project_id", String(db.PROJECT_LEN), primary_key=True),
    db.reference("security_group_id", "security_groups.id", "CASCADE", unique=True),
)


# ------------------------------------------------------------------------------------- rules
def _seen_group(txn: Transaction, ctx: Context, group_id: str) -> SecurityGroup:
    group = current(txn.service.records(GROUPS), txn.changes.of(GROUPS), group_id)
    if group is None or not SECURITY_GROUPS.is_visible(ctx, group, txn.service):
        raise errors.SecurityGroupNotFound(id=group_id)
    return group


def _one_group(items: list) -> None:
    if len({attrs.get("security_group_id") for attrs in items}) > 1:
        raise errors.SecurityGroupNotSingleGroupRules()


def _rule_values(attrs: Mapping) -> dict[str, Any]:
    """One rule's values, validated in Neutron's order and with its errors."""
    direction = attrs.get("direction")
    if direction not in DIRECTIONS:
        raise errors.InvalidAttribute(
            attr="direction", reason=f"'{direction}' is not in {list(DIRECTIONS)}"
        )
    ethertype = protocols.parse_ethertype(attrs.get("ethertype", "IPv4"))
    protocol = protocols.parse_protocol(attrs.get("protocol"))
    low = protocols.port_value(attrs.get("port_range_min"))
    high = protocols.port_value(attrs.get("port_range_max"))
    remote_group = attrs.get("remote_group_id")
    if remote_group is not None and attrs.get("remote_ip_prefix") not in (None, ""):
        raise errors.SecurityGroupRemoteGroupAndRemoteIpPrefix()
    protocols.check_port_range(protocol, low, high)
    protocols.check_ethertype(protocol, ethertype)
    return {
        "direction": direction,
        "ethertype": ethertype,
        "protocol": protocol,
        "port_range_min": low,
        "port_range_max": high,
        "remote_ip_prefix": protocols.parse_prefix(attrs.get("remote_ip_prefix"), ethertype),
        "remote_group_id": remote_group,
    }


def _prepare_rule(txn: Transaction, ctx: Context, attrs: Mapping) -> dict[str, Any]:
    """A rule belongs to a group the caller sees and owns (a group shared with it is used,
    not changed: Neutron's 403), to its project, may name a group the caller sees as remote,
    and exists once."""
    group = _seen_group(txn, ctx, attrs["security_group_id"])
    if not (ctx.is_admin or group.project_id == ctx.project_id):
        raise errors.PolicyNotAuthorized(action="create_security_group_rule")
    if attrs.get("project_id") not in (None, group.project_id):
        owner(ctx, attrs)  # a tenant naming another project: Neutron's 400
        raise errors.BadRequestMessage(
            msg="A security group rule belongs to its security group's project"
        )
    remote = attrs.get("remote_group_id")
    if remote is not None:
        _seen_group(txn, ctx, remote)
    values = _rule_values(attrs)
    wanted = rule_identity(values)
    for other in group.rules:
        if other.identity() == wanted:
            if other.id in txn.changes.of(RULES):
                raise errors.DuplicateSecurityGroupRuleInPost()
            raise errors.SecurityGroupRuleExists(rule_id=other.id)
    return {**values, "security_group_id": group.id, "project_id": group.project_id}


def _rule_visible(ctx: Context, rule: SecurityGroupRule, model) -> bool:
    """A rule is its group's project's: a project the group is shared with sees the rules in
    the group, not on their own (as in Neutron)."""
    return ctx.is_admin or rule.project_id == ctx.project_id


SECURITY_GROUP_RULES = schema.declare(
    schema.Resource(
        SecurityGroupRule,
        RULES,
        "security_group_rule",
        path="security-group-rules",
        not_found=lambda rule_id: errors.SecurityGroupRuleNotFound(id=rule_id),
        counter="security_group_rule_key",
        parent=schema.Parent(
            GROUPS, "security_group_id", listed_in="rules", order=lambda r: r.key, revises=True
        ),
        prepare=_prepare_rule,
        visible=_rule_visible,
        check_request=_one_group,
        quota=100,  # Neutron's default
    )
)


# the ports using each group
_PORTS = derived.Grouped("ports", keys=lambda port: getattr(port, "security_groups", ()))


def _port_projects(txn: Transaction, group: SecurityGroup) -> set[str]:
    """The projects whose ports use the group."""
    return {p.project_id for p in _PORTS.in_transaction(txn, group.id).values()}


rbac.shareable(
    rbac.Shareable(
        "security_group",
        GROUPS,
        lambda group_id: errors.SecurityGroupNotFound(id=group_id),
        users=_port_projects,
    )
)
