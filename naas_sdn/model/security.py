"""Port security, allowed address pairs and security groups (Neutron's core extensions
``port-security``, ``allowed-address-pairs`` and ``security-group``).

A mixin of the network service: every method runs under the service's write lock, in its one
transaction, and reads the committed mirror overlaid with the transaction's own changes.
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import netaddr
from sqlalchemy import delete, insert, or_, select

from naas_sdn.model import db, errors, protocols
from naas_sdn.model.common import (
    Changes,
    Context,
    bump,
    check_revision,
    check_updatable,
    current,
    evolve,
    next_counter,
    norm_tags,
    owner,
    update_row,
    utcnow,
    write_tags,
)
from naas_sdn.model.snapshot import SecurityGroupRuleView, SecurityGroupView

DEFAULT_NAME = "default"
DEFAULT_DESCRIPTION = "Default security group"
MAX_ADDRESS_PAIRS = 10  # Neutron's max_allowed_address_pair default
TRUSTED_OWNER_PREFIX = "network:"  # Neutron's is_port_trusted: no security groups, no filtering
GROUP_UPDATABLE = frozenset({"name", "description", "stateful"})
DIRECTIONS = ("ingress", "egress")
ANY_PREFIXES = ("0.0.0.0/0", "::/0")

if TYPE_CHECKING:
    pass


@dataclasses.dataclass(frozen=True)
class SecurityGroupRule:
    id: str
    key: int
    security_group_id: str
    project_id: str
    direction: str
    ethertype: str
    protocol: str | None  # as shown: "tcp", "6" or None (any)
    port_range_min: int | None
    port_range_max: int | None
    remote_ip_prefix: str | None  # normalized cidr
    remote_group_id: str | None
    description: str
    revision_number: int
    created_at: datetime.datetime
    updated_at: datetime.datetime

    def identity(self) -> tuple:
        """What makes two rules the same rule (Neutron's duplicate check): protocols compared
        by number, an any-address prefix the same as none."""
        prefix = None if self.remote_ip_prefix in ANY_PREFIXES else self.remote_ip_prefix
        return (
            self.direction,
            self.ethertype,
            protocols.number(self.protocol, self.ethertype),
            self.port_range_min,
            self.port_range_max,
            prefix,
            self.remote_group_id,
        )


@dataclasses.dataclass(frozen=True)
class SecurityGroup:
    id: str
    project_id: str
    name: str
    description: str
    stateful: bool
    revision_number: int
    created_at: datetime.datetime
    updated_at: datetime.datetime
    tags: tuple[str, ...] = ()
    rules: tuple[SecurityGroupRule, ...] = ()  # by key
    is_default: bool = False  # the project's "default" group
    shared: bool = False


def is_trusted(device_owner: str) -> bool:
    """Router interfaces and other network-owned ports get no security groups."""
    return device_owner.startswith(TRUSTED_OWNER_PREFIX)


def enforced_protection(port) -> tuple[bool, tuple, tuple]:
    """(port security on, security groups, allowed address pairs) as the switches enforce
    them: a trusted port has none of them. The API shows exactly these, so what a tenant
    reads is what the compiler receives."""
    if is_trusted(port.device_owner):
        return False, (), ()
    return port.port_security_enabled, port.security_groups, port.allowed_address_pairs


def address_pairs(value, mac: str) -> tuple[tuple[str, str | None], ...]:
    """Neutron's allowed-address-pairs validation: a list of at most MAX_ADDRESS_PAIRS
    {"ip_address", "mac_address"?} without duplicates (a missing mac is the port's own ``mac``).

    Returns (address or normalized cidr, lower-case mac or None) pairs in request order.
    """
    if value is None:
        return ()
    if not isinstance(value, list):
        raise errors.BadRequestMessage(msg="Allowed address pairs must be a list.")
    if len(value) > MAX_ADDRESS_PAIRS:
        raise errors.AllowedAddressPairExhausted(quota=MAX_ADDRESS_PAIRS)
    result, seen = [], set()
    for pair in value:
        if not isinstance(pair, dict):
            raise errors.InvalidAttribute(
                attr="allowed_address_pairs", reason=f"'{pair}' is not a dictionary"
            )
        given_mac = pair.get("mac_address")
        if "mac_address" in pair:
            given_mac = _mac(given_mac)
        if "ip_address" not in pair:
            raise errors.AllowedAddressPairsMissingIP()
        unknown = set(pair) - {"mac_address", "ip_address"}
        if unknown:
            raise errors.BadRequestMessage(
                msg=f"Unrecognized attribute(s) '{', '.join(sorted(unknown))}'"
            )
        ip = _pair_address(pair["ip_address"])
        if (given_mac or mac, ip) in seen:
            raise errors.DuplicateAddressPairInRequest(
                mac_address=given_mac or mac, ip_address=pair["ip_address"]
            )
        seen.add((given_mac or mac, ip))
        result.append((ip, given_mac))
    return tuple(result)


def _mac(value) -> str:
    if not isinstance(value, str) or not netaddr.valid_mac(value):
        raise errors.BadRequestMessage(msg=f"'{value}' is not a valid MAC address")
    return str(netaddr.EUI(value, dialect=netaddr.mac_unix_expanded)).lower()


def _pair_address(value) -> str:
    """An IP address, or a cidr without host bits (Neutron's validate_subnet)."""
    text = value if isinstance(value, str) else ""
    address, slash, length = text.partition("/")
    if not (netaddr.valid_ipv4(address, netaddr.INET_PTON) or netaddr.valid_ipv6(address)) or (
        slash and not length.isdigit()
    ):
        kind = "IP subnet" if slash else "IP address"
        raise errors.BadRequestMessage(msg=f"'{value}' is not a valid {kind}")
    if not slash:
        return str(netaddr.IPAddress(address))
    try:
        net = netaddr.IPNetwork(text)
    except (netaddr.AddrFormatError, ValueError):
        raise errors.BadRequestMessage(msg=f"'{value}' is not a valid IP subnet") from None
    if net.ip != net.network:
        raise errors.BadRequestMessage(
            msg=f"'{value}' isn't a recognized IP subnet cidr, '{net.cidr}' is recommended"
        )
    return str(net.cidr)


class SecurityMixin:
    """Security groups, their rules and the port attributes that use them."""

    _security_groups: Mapping[str, SecurityGroup]
    # NetworkService's, of which this mixin is a part
    records: Callable[[str], Mapping[str, Any]]
    _write: Callable[..., Any]
    _enforce_quota: Callable[..., None]

    # ------------------------------------------------------------------------ security groups
    def list_security_groups(self, ctx: Context) -> list[SecurityGroup]:
        """The visible groups; the caller's project gets its default group on first use."""
        if ctx.project_id and self._default_group_id(Changes(), ctx.project_id) is None:
            self._write(
                lambda conn, changes: self._ensure_default_group(conn, changes, ctx.project_id)
            )
        return [g for g in self._security_groups.values() if _group_visible(ctx, g)]

    def get_security_group(self, ctx: Context, group_id: str) -> SecurityGroup:
        group = self._security_groups.get(group_id)
        if group is None or not _group_visible(ctx, group):
            raise errors.SecurityGroupNotFound(id=group_id)
        return group

    def create_security_group(self, ctx: Context, attrs: Mapping) -> SecurityGroup:
        return self.create_security_groups(ctx, [attrs])[0]

    def create_security_groups(self, ctx: Context, items: Iterable[Mapping]) -> list:
        """Create groups, all or none, each with Neutron's two egress rules (IPv4, IPv6, any).

        ``attrs`` keys: name, description, stateful (true only), project_id, tags. The
        project's default group is created first if it has none.
        """
        items = list(items)

        def work(conn, changes):
            created = []
            for attrs in items:
                project_id = owner(ctx, attrs)
                name = attrs.get("name", "")
                if name.lower() == DEFAULT_NAME:
                    raise errors.SecurityGroupDefaultAlreadyExists()
                _check_stateful(attrs.get("stateful", True))
                self._ensure_default_group(conn, changes, project_id)
                created.append(
                    self._insert_group(
                        conn,
                        changes,
                        project_id,
                        name,
                        attrs.get("description", ""),
                        norm_tags(attrs.get("tags", ())),
                    )
                )
            projects = [g.project_id for g in created]
            self._enforce_quota(conn, "security_group", projects)
            # a new group's own egress rules count against the rule quota, as in Neutron
            self._enforce_quota(conn, "security_group_rule", projects)
            return created

        return self._write(work)

    def update_security_group(
        self, ctx: Context, group_id: str, attrs: Mapping, if_revision: int | None = None
    ) -> SecurityGroup:
        check_updatable(attrs, GROUP_UPDATABLE)

        def work(conn, changes):
            group = self._owned_group(ctx, changes, group_id, if_revision)
            values = {k: v for k, v in attrs.items() if getattr(group, k) != v}
            if "stateful" in values:
                _check_stateful(values["stateful"])
            if "name" in values:
                if group.is_default:
                    raise errors.SecurityGroupCannotUpdateDefault()
                if values["name"].lower() == DEFAULT_NAME:
                    raise errors.SecurityGroupDefaultAlreadyExists()
            if not values:
                return group
            new = bump(group, **values)
            update_row(conn, db.security_groups, new, values)
            changes.security_groups[new.id] = new
            return new

        return self._write(work)

    def delete_security_group(
        self, ctx: Context, group_id: str, if_revision: int | None = None
    ) -> None:
        """Refused while a port uses the group, and for the default group unless by an admin.
        Its rules go with it, and so do the other groups' rules naming it as remote group."""

        def work(conn, changes):
            group = self._owned_group(ctx, changes, group_id, if_revision)
            if group.is_default and not ctx.is_admin:
                raise errors.SecurityGroupCannotRemoveDefault()
            if any(group_id in p.security_groups for p in self.records("ports").values()):
                raise errors.SecurityGroupInUse(id=group_id)
            rules = db.security_group_rules.c
            conn.execute(
                delete(db.security_group_rules).where(
                    or_(rules.security_group_id == group_id, rules.remote_group_id == group_id)
                )
            )
            conn.execute(
                delete(db.default_security_groups).where(
                    db.default_security_groups.c.security_group_id == group_id
                )
            )
            conn.execute(
                delete(db.tags).where(
                    db.tags.c.resource_type == "security_groups", db.tags.c.resource_id == group_id
                )
            )
            conn.execute(delete(db.security_groups).where(db.security_groups.c.id == group_id))
            changes.security_groups[group_id] = None
            for other in self._security_groups.values():
                kept = tuple(r for r in other.rules if r.remote_group_id != group_id)
                if other.id != group_id and kept != other.rules:
                    new = bump(other, rules=kept)
                    update_row(conn, db.security_groups, new, {})
                    changes.security_groups[other.id] = new

        self._write(work)

    def _owned_group(
        self, ctx: Context, changes: Changes, group_id: str, if_revision: int | None = None
    ) -> SecurityGroup:
        """A group the caller may change (visible means owned, or admin)."""
        group = current(self._security_groups, changes.security_groups, group_id)
        if group is None or not _group_visible(ctx, group):
            raise errors.SecurityGroupNotFound(id=group_id)
        check_revision(group.revision_number, if_revision)
        return group

    def _default_group_id(self, changes: Changes, project_id: str) -> str | None:
        groups = {**self._security_groups, **changes.security_groups}
        return next(
            (
                g.id
                for g in groups.values()
                if g is not None and g.is_default and g.project_id == project_id
            ),
            None,
        )

    def _ensure_default_group(self, conn, changes: Changes, project_id: str) -> str:
        """The project's default group, created (Neutron's four rules) if it has none."""
        existing = self._default_group_id(changes, project_id)
        if existing is not None:
            return existing
        group = self._insert_group(
            conn, changes, project_id, DEFAULT_NAME, DEFAULT_DESCRIPTION, (), is_default=True
        )
        conn.execute(
            insert(db.default_security_groups).values(
                project_id=project_id, security_group_id=group.id
            )
        )
        return group.id

    def _insert_group(
        self,
        conn,
        changes: Changes,
        project_id: str,
        name: str,
        description: str,
        tags: tuple[str, ...],
        is_default: bool = False,
    ) -> SecurityGroup:
        now = utcnow()
        group = SecurityGroup(
            id=str(uuid.uuid4()),
            project_id=project_id,
            name=name,
            description=description,
            stateful=True,
            revision_number=1,
            created_at=now,
            updated_at=now,
            tags=tags,
            is_default=is_default,
        )
        conn.execute(
            insert(db.security_groups).values(
                id=group.id,
                project_id=project_id,
                name=name,
                description=description,
                stateful=True,
                revision_number=1,
                created_at=now,
                updated_at=now,
            )
        )
        write_tags(conn, "security_groups", group.id, tags)
        rules: list[tuple[str, str, str | None]] = [
            ("egress", "IPv4", None),
            ("egress", "IPv6", None),
        ]
        if is_default:
            rules += [("ingress", "IPv4", group.id), ("ingress", "IPv6", group.id)]
        group = dataclasses.replace(
            group,
            rules=tuple(
                self._insert_rule(
                    conn,
                    group,
                    {"direction": direction, "ethertype": ethertype, "remote_group_id": remote},
                    now,
                )
                for direction, ethertype, remote in rules
            ),
        )
        changes.security_groups[group.id] = group
        return group

    # ------------------------------------------------------------------- security group rules
    def list_security_group_rules(self, ctx: Context) -> list[SecurityGroupRule]:
        return [
            r for g in self._security_groups.values() if _group_visible(ctx, g) for r in g.rules
        ]

    def get_security_group_rule(self, ctx: Context, rule_id: str) -> SecurityGroupRule:
        for group in self._security_groups.values():
            for rule in group.rules:
                if rule.id == rule_id and _group_visible(ctx, group):
                    return rule
        raise errors.SecurityGroupRuleNotFound(id=rule_id)

    def create_security_group_rule(self, ctx: Context, attrs: Mapping) -> SecurityGroupRule:
        return self.create_security_group_rules(ctx, [attrs])[0]

    def create_security_group_rules(self, ctx: Context, items: Iterable[Mapping]) -> list:
        """Create rules of one group, all or none.

        ``attrs`` keys: security_group_id, direction (required); ethertype (IPv4), protocol,
        port_range_min, port_range_max, remote_ip_prefix, remote_group_id, description,
        project_id. An existing identical rule: SecurityGroupRuleExists.
        """
        items = list(items)
        if len({attrs.get("security_group_id") for attrs in items}) > 1:
            raise errors.SecurityGroupNotSingleGroupRules()

        def work(conn, changes):
            created = []
            now = utcnow()
            for attrs in items:
                group = self._owned_group(ctx, changes, attrs["security_group_id"])
                if attrs.get("project_id") not in (None, group.project_id):
                    owner(ctx, attrs)  # a tenant naming another project: Neutron's 400
                    raise errors.BadRequestMessage(
                        msg="A security group rule belongs to its security group's project"
                    )
                remote = attrs.get("remote_group_id")
                if remote is not None:
                    self._owned_group(ctx, changes, remote)
                rule = self._insert_rule(conn, group, attrs, now)
                for other in group.rules:
                    if other.identity() == rule.identity():
                        if other in created:
                            raise errors.DuplicateSecurityGroupRuleInPost()
                        raise errors.SecurityGroupRuleExists(rule_id=other.id)
                new = bump(group, rules=group.rules + (rule,))
                update_row(conn, db.security_groups, new, {})
                changes.security_groups[new.id] = new
                created.append(rule)
            self._enforce_quota(conn, "security_group_rule", (r.project_id for r in created))
            return created

        return self._write(work)

    def update_security_group_rule(
        self, ctx: Context, rule_id: str, attrs: Mapping, if_revision: int | None = None
    ) -> SecurityGroupRule:
        """Rules are immutable, as in Neutron: only an empty update is accepted."""
        check_updatable(attrs, ())
        rule = self.get_security_group_rule(ctx, rule_id)
        check_revision(rule.revision_number, if_revision)
        return rule

    def delete_security_group_rule(
        self, ctx: Context, rule_id: str, if_revision: int | None = None
    ) -> None:
        def work(conn, changes):
            rule = self.get_security_group_rule(ctx, rule_id)
            check_revision(rule.revision_number, if_revision)
            group = self._security_groups[rule.security_group_id]
            conn.execute(
                delete(db.security_group_rules).where(db.security_group_rules.c.id == rule_id)
            )
            new = bump(group, rules=tuple(r for r in group.rules if r.id != rule_id))
            update_row(conn, db.security_groups, new, {})
            changes.security_groups[new.id] = new

        self._write(work)

    def _insert_rule(
        self, conn, group: SecurityGroup, attrs: Mapping, now: datetime.datetime
    ) -> SecurityGroupRule:
        """Validate one rule of ``group`` (Neutron's order and errors) and insert its row."""
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
        prefix = protocols.parse_prefix(attrs.get("remote_ip_prefix"), ethertype)
        rule = SecurityGroupRule(
            id=str(uuid.uuid4()),
            key=next_counter(conn, "security_group_rule_key"),
            security_group_id=group.id,
            project_id=group.project_id,
            direction=direction,
            ethertype=ethertype,
            protocol=protocol,
            port_range_min=low,
            port_range_max=high,
            remote_ip_prefix=prefix,
            remote_group_id=remote_group,
            description=attrs.get("description", ""),
            revision_number=1,
            created_at=now,
            updated_at=now,
        )
        conn.execute(
            insert(db.security_group_rules).values(
                {c: getattr(rule, c) for c in db.security_group_rules.c.keys()}
            )
        )
        return rule

    # ------------------------------------------------------------------- port and network side
    def _port_security_on_create(
        self, conn, changes: Changes, ctx: Context, attrs: Mapping, port, network
    ):
        """Give a new port its port security, address pairs and groups (Neutron's rules): port
        security defaults to the network's; a port with it on and no ``security_groups``
        gets its project's default group; router and other ``network:`` ports get none."""
        enabled = attrs.get("port_security_enabled")
        if enabled is None:
            enabled = network.port_security_enabled
        pairs = address_pairs(attrs.get("allowed_address_pairs"), port.mac_address)
        if pairs and not enabled:
            raise errors.AddressPairAndPortSecurityRequired()
        requested = attrs.get("security_groups")
        groups: tuple[str, ...]
        if is_trusted(port.device_owner):
            groups = ()
        elif not enabled:
            if requested:
                raise errors.PortSecurityAndIPRequiredForSecurityGroups()
            groups = ()
        elif requested is None:
            groups = (self._ensure_default_group(conn, changes, port.project_id),)
        else:
            groups = self._port_groups(ctx, changes, port.project_id, requested)
        port = evolve(
            port, port_security_enabled=enabled, security_groups=groups, allowed_address_pairs=pairs
        )
        _write_port_security(conn, port, insert_enabled=True, insert_groups=True, insert_pairs=True)
        return port

    def _port_security_on_update(
        self,
        conn,
        changes: Changes,
        ctx: Context,
        port,
        attrs: Mapping,
        mac: str,
        device_owner: str,
    ) -> dict:
        """The port security, address pair and group values an update changes, checked as
        Neutron's ML2 does and written; ``mac`` and ``device_owner`` are the port's new ones."""
        enabled = attrs.get("port_security_enabled")
        if enabled is None:
            enabled = port.port_security_enabled
        pairs = port.allowed_address_pairs
        if "allowed_address_pairs" in attrs:
            pairs = address_pairs(attrs["allowed_address_pairs"], mac)
        groups = port.security_groups
        if is_trusted(device_owner):
            groups = ()
        elif "security_groups" in attrs:
            groups = self._port_groups(
                ctx, changes, port.project_id, attrs["security_groups"] or []
            )
        if not enabled:
            if pairs:
                raise errors.AddressPairAndPortSecurityRequired()
            if groups and attrs.get("security_groups"):
                raise errors.PortSecurityAndIPRequiredForSecurityGroups()
            if groups:
                raise errors.PortSecurityPortHasSecurityGroup()
        values = {
            name: value
            for name, value in (
                ("port_security_enabled", enabled),
                ("allowed_address_pairs", pairs),
                ("security_groups", groups),
            )
            if getattr(port, name) != value
        }
        if values:
            _write_port_security(
                conn,
                evolve(port, **values),
                insert_enabled="port_security_enabled" in values,
                insert_groups="security_groups" in values,
                insert_pairs="allowed_address_pairs" in values,
                replace=True,
            )
        return values

    def _port_groups(
        self, ctx: Context, changes: Changes, project_id: str, requested
    ) -> tuple[str, ...]:
        """Requested group ids, each the port's project's (any project for an admin)."""
        missing = []
        for group_id in dict.fromkeys(requested):
            group = current(self._security_groups, changes.security_groups, group_id)
            if group is None or not (ctx.is_admin or group.project_id == project_id):
                missing.append(group_id)
        if missing:
            raise errors.SecurityGroupNotFound(id=", ".join(missing))
        return tuple(sorted(set(requested)))


def write_network_port_security(conn, network_id: str, enabled: bool, replace: bool) -> None:
    table = db.network_port_security
    if replace:
        conn.execute(delete(table).where(table.c.network_id == network_id))
    conn.execute(insert(table).values(network_id=network_id, port_security_enabled=enabled))


def _write_port_security(
    conn, port, insert_enabled: bool, insert_groups: bool, insert_pairs: bool, replace: bool = False
) -> None:
    for wanted, table, rows in (
        (
            insert_enabled,
            db.port_port_security,
            [{"port_id": port.id, "port_security_enabled": port.port_security_enabled}],
        ),
        (
            insert_groups,
            db.security_group_port_bindings,
            [{"port_id": port.id, "security_group_id": g} for g in port.security_groups],
        ),
        (
            insert_pairs,
            db.allowed_address_pairs,
            [
                {"port_id": port.id, "position": i, "ip_address": ip, "mac_address": mac}
                for i, (ip, mac) in enumerate(port.allowed_address_pairs)
            ],
        ),
    ):
        if not wanted:
            continue
        if replace:
            conn.execute(delete(table).where(table.c.port_id == port.id))
        if rows:
            conn.execute(insert(table), rows)


def _check_stateful(value) -> None:
    if value is not True:
        raise errors.InvalidInput(
            error_message="stateless security groups are not supported: stateful must be true"
        )


def _group_visible(ctx: Context, group: SecurityGroup) -> bool:
    return ctx.is_admin or group.project_id == ctx.project_id


# ------------------------------------------------------------------------- loading and views
def load_security_groups(conn, tags: Mapping) -> dict[str, SecurityGroup]:
    defaults = {row.security_group_id for row in conn.execute(select(db.default_security_groups))}
    rules: dict[str, list[SecurityGroupRule]] = {}
    table = db.security_group_rules
    for row in conn.execute(select(table).order_by(table.c.key)):
        rules.setdefault(row.security_group_id, []).append(
            SecurityGroupRule(**{c: getattr(row, c) for c in table.c.keys()})
        )
    groups = {}
    for row in conn.execute(
        select(db.security_groups).order_by(
            db.security_groups.c.created_at, db.security_groups.c.id
        )
    ):
        groups[row.id] = SecurityGroup(
            id=row.id,
            project_id=row.project_id,
            name=row.name,
            description=row.description,
            stateful=row.stateful,
            revision_number=row.revision_number,
            created_at=row.created_at,
            updated_at=row.updated_at,
            tags=tags.get(("security_groups", row.id), ()),
            rules=tuple(rules.get(row.id, ())),
            is_default=row.id in defaults,
        )
    return groups


def load_port_security(conn) -> tuple[dict[str, dict], dict[str, dict]]:
    """The port-security attributes of networks and of ports, as dataclass field values."""
    networks = {
        row.network_id: {"port_security_enabled": row.port_security_enabled}
        for row in conn.execute(select(db.network_port_security))
    }
    ports: dict[str, dict] = {}
    for row in conn.execute(select(db.port_port_security)):
        ports.setdefault(row.port_id, {})["port_security_enabled"] = row.port_security_enabled
    bindings = db.security_group_port_bindings
    for row in conn.execute(select(bindings).order_by(bindings.c.security_group_id)):
        extras = ports.setdefault(row.port_id, {})
        extras["security_groups"] = extras.get("security_groups", ()) + (row.security_group_id,)
    pairs = db.allowed_address_pairs
    for row in conn.execute(select(pairs).order_by(pairs.c.port_id, pairs.c.position)):
        extras = ports.setdefault(row.port_id, {})
        extras["allowed_address_pairs"] = extras.get("allowed_address_pairs", ()) + (
            (row.ip_address, row.mac_address),
        )
    return networks, ports


def security_group_view(group: SecurityGroup) -> SecurityGroupView:
    return SecurityGroupView(
        id=group.id,
        project_id=group.project_id,
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
