"""Policy stages of the pipeline, compiled from the model: port security and security groups
(stateful and stateless), and the matches and per-switch flows the slices of the other policy
stages share (protocol blocks: :mod:`naas_sdn.features.protocol_block.flows`; QoS:
:mod:`naas_sdn.features.qos.flows`). Pure, like the rest of ``naas_sdn.flows``.

Security groups are conjunctive matches (OVS ``conjunction``), so the flow count grows with
rules + ports, not their product. A rule R is conjunction R with two or three clauses:

1. the port: one flow per port (``reg6`` from it, ``reg7`` to it) carrying a
   ``conjunction(R, 1/n)`` action for every rule of every group the port is in;
2. what is allowed: ethertype, protocol and destination port range (a range is several
   masked matches), shared by every rule with the same match;
3. only with a remote: the remote prefix, or each address of the remote group's ports.

Flows with the same match merge into one flow listing every conjunction, so clause flows
are shared across groups and projects; they belong to one owner (``Owner.ACL``) per switch.
A new connection completing conjunction R is committed to conntrack in the port's zone;
packets of known connections pass before any rule is looked at.

A port whose groups are stateless (Neutron's ``stateful: false``) never goes through
conntrack: its packets go straight to the same clauses, with any state an earlier ``ct``
left on them cleared, each judged by itself; R's conjunction flow lets it on without a
commit, so a reply gets through only if a rule of the other direction admits it.

Two slices build these stages here (:class:`PortSecurity`, :class:`SecurityGroups`); each
answers for a port on its own switch only.
"""

from __future__ import annotations

import dataclasses
import functools
from types import MappingProxyType

import netaddr

from naas_sdn.flows import addresses, ofp
from naas_sdn.flows.builder import NOTHING, Built, LocalBuilder
from naas_sdn.flows.inputs import BoundPort, PassInputs, PortPolicy
from naas_sdn.flows.layout import (
    CT_EST,
    CT_INV,
    CT_REL,
    CT_TRK,
    ETH_TYPE_ARP,
    ETH_TYPE_IPV4,
    ETH_TYPE_IPV6,
    ICMPV6_MLD2_REPORT,
    ICMPV6_MLD_DONE,
    ICMPV6_MLD_QUERY,
    ICMPV6_MLD_REPORT,
    ICMPV6_NA,
    ICMPV6_NS,
    ICMPV6_RA,
    ICMPV6_REDIRECT,
    ICMPV6_RS,
    IPPROTO_ICMP,
    IPPROTO_ICMPV6,
    IPPROTO_SCTP,
    IPPROTO_TCP,
    IPPROTO_UDP,
    REG_DST_PORT,
    REG_SRC_PORT,
    REMOTE_BUCKETS,
    SWITCH_COOKIE,
    Owner,
    Priority,
    Table,
    cookie,
)

ACL_COOKIE = cookie(Owner.ACL, 0)
ETH_TYPES = {"IPv4": ETH_TYPE_IPV4, "IPv6": ETH_TYPE_IPV6}
_PORT_FIELDS = {IPPROTO_TCP: "tcp_dst", IPPROTO_UDP: "udp_dst", IPPROTO_SCTP: "sctp_dst"}
_ND_AND_MLD = (
    ICMPV6_MLD_QUERY,
    ICMPV6_MLD_REPORT,
    ICMPV6_MLD_DONE,
    ICMPV6_RS,
    ICMPV6_RA,
    ICMPV6_NS,
    ICMPV6_NA,
    ICMPV6_MLD2_REPORT,
)


@dataclasses.dataclass(frozen=True)
class Direction:
    """One side of a VM: what it sends (egress) or what it receives (ingress)."""

    name: str
    register: str  # the port register naming the VM (and its conntrack zone)
    policy: Table  # blocks and conntrack
    acl: Table  # rules
    then: Table  # where accepted packets go on
    remote_side: str  # "src" or "dst": the field naming the other end


EGRESS = Direction(
    "egress", REG_SRC_PORT, Table.EGRESS_POLICY, Table.EGRESS_ACL, Table.EGRESS_QOS, "dst"
)
INGRESS = Direction(
    "ingress", REG_DST_PORT, Table.INGRESS_POLICY, Table.INGRESS_ACL, Table.OUTPUT, "src"
)
DIRECTIONS = {d.name: d for d in (EGRESS, INGRESS)}


# ---- matches ---------------------------------------------------------------------------------


def port_range_masks(low: int, high: int) -> list:
    """The fewest (value, mask) pairs covering [low, high] of a 16-bit field."""
    found = []
    while low <= high:
        size = low & -low if low else 1 << 16
        while size > high - low + 1:
            size >>= 1
        found.append(low if size == 1 else (low, 0xFFFF & ~(size - 1)))
        low += size
    return found


def l4_matches(
    ethertype: str, protocol: int | None, low: int | None, high: int | None
) -> list[dict] | None:
    """Match fields for an ethertype, protocol and port range (ICMP: type and code); None
    when OpenFlow cannot express it (a port range on a protocol without port fields)."""
    fields = {"eth_type": ETH_TYPES[ethertype]}
    if protocol is None:
        return [fields]
    if ethertype == "IPv6" and protocol == IPPROTO_ICMP:
        protocol = IPPROTO_ICMPV6
    fields["ip_proto"] = protocol
    if low is None:
        return [fields]
    if protocol in (IPPROTO_ICMP, IPPROTO_ICMPV6):
        prefix = "icmpv4" if protocol == IPPROTO_ICMP else "icmpv6"
        fields[f"{prefix}_type"] = low
        if high is not None:
            fields[f"{prefix}_code"] = high
        return [fields]
    field = _PORT_FIELDS.get(protocol)
    if field is None:
        return None
    return [dict(fields, **{field: value}) for value in port_range_masks(low, high or low)]


def ethertypes(ethertype: str | None) -> tuple:
    """The ethertypes a rule or block of ``ethertype`` covers: both for None."""
    return ("IPv4", "IPv6") if ethertype is None else (ethertype,)


def _ip_field(version: int, side: str) -> str:
    return f"ipv{version}_{side}"


# ---- per port: owned by the port, those whose statistics are read (drops, per-address
# counts) by its counter owner ------------------------------------------------------------------


def address_match(version: int, side: str, ip: str, **fields) -> tuple:
    """IP packets from (side "src") or to ("dst") one address."""
    return ofp.match(
        eth_type=ETH_TYPE_IPV6 if version == 6 else ETH_TYPE_IPV4,
        **{_ip_field(version, side): ip},
        **fields,
    )


def port_security_flows(key: int, policy: PortPolicy, owner: int, counted: int) -> set[ofp.Flow]:
    """Only the port's MACs with their addresses (ARP and ND fields included) go on; IP
    from each of its fixed addresses on a flow of its own, so it is counted per address."""
    me = {REG_SRC_PORT: key}
    on = (ofp.goto(Table.SERVICES),)
    flows = {
        ofp.flow(
            Table.PORT_SECURITY,
            Priority.PORTSEC_ADDRESS,
            address_match(
                netaddr.IPAddress(ip).version, "src", ip, **me, **({"eth_src": mac} if mac else {})
            ),
            on,
            counted,
        )
        for mac, ip in policy.addresses
    }
    if not policy.port_security:
        flows.add(ofp.flow(Table.PORT_SECURITY, Priority.PORTSEC_PASS, ofp.match(**me), on, owner))
        return flows
    icmp6 = dict(eth_type=ETH_TYPE_IPV6, ip_proto=IPPROTO_ICMPV6)
    denied = [
        dict(eth_type=ETH_TYPE_IPV4, ip_proto=IPPROTO_UDP, udp_src=67, udp_dst=68),
        dict(eth_type=ETH_TYPE_IPV6, ip_proto=IPPROTO_UDP, udp_src=547, udp_dst=546),
        dict(icmp6, icmpv6_type=ICMPV6_RA),
        dict(icmp6, icmpv6_type=ICMPV6_REDIRECT),
    ]
    flows |= {
        ofp.flow(Table.PORT_SECURITY, Priority.PORTSEC_DENY, ofp.match(**me, **fields), (), counted)
        for fields in denied
    }
    flows.add(
        ofp.flow(
            Table.PORT_SECURITY,
            Priority.PORTSEC_ND_DENY,
            ofp.match(**me, **icmp6, icmpv6_type=ICMPV6_NA),
            (),
            counted,
        )
    )
    flows.add(ofp.flow(Table.PORT_SECURITY, Priority.PORTSEC_DROP, ofp.match(**me), (), counted))

    def allow(priority, **fields):
        flows.add(ofp.flow(Table.PORT_SECURITY, priority, ofp.match(**me, **fields), on, owner))

    fixed = set(policy.addresses)
    for mac, cidr in policy.allowed:
        version = netaddr.IPNetwork(cidr).version
        if (mac, cidr) not in fixed:  # a fixed address has a flow of its own, counted
            allow(
                Priority.PORTSEC_ALLOW,
                eth_src=mac,
                eth_type=ETH_TYPES[f"IPv{version}"],
                **ofp.prefix_match(_ip_field(version, "src"), cidr),
            )
        if version == 4:
            allow(
                Priority.PORTSEC_ALLOW,
                eth_src=mac,
                eth_type=ETH_TYPE_ARP,
                arp_sha=mac,
                **ofp.prefix_match("arp_spa", cidr),
            )
        else:
            allow(
                Priority.PORTSEC_ND,
                eth_src=mac,
                **icmp6,
                icmpv6_type=ICMPV6_NA,
                **ofp.prefix_match("ipv6_nd_target", cidr),
            )
    for mac in policy.macs:
        link_local = addresses.link_local(mac)
        allow(Priority.PORTSEC_ALLOW, eth_src=mac, eth_type=ETH_TYPE_IPV6, ipv6_src=link_local)
        allow(
            Priority.PORTSEC_ND,
            eth_src=mac,
            **icmp6,
            icmpv6_type=ICMPV6_NA,
            ipv6_nd_target=link_local,
        )
        # Before an address is had: DHCP discover, ARP probe, DAD and MLD from "::".
        allow(
            Priority.PORTSEC_ALLOW,
            eth_src=mac,
            eth_type=ETH_TYPE_IPV4,
            ipv4_src="0.0.0.0",
            ip_proto=IPPROTO_UDP,
            udp_src=68,
            udp_dst=67,
        )
        allow(
            Priority.PORTSEC_ALLOW,
            eth_src=mac,
            eth_type=ETH_TYPE_ARP,
            arp_sha=mac,
            arp_spa="0.0.0.0",
        )
        allow(Priority.PORTSEC_ALLOW, eth_src=mac, **icmp6, ipv6_src="::")
    return flows


def acl_port_flows(
    key: int, direction: Direction, rules: tuple, owner: int, counted: int, stateful: bool = True
) -> set[ofp.Flow]:
    """Into conntrack (``stateful``) or untracked to the rules, the port's clause of each of
    its rules, and its (counted) drops: of what conntrack finds invalid, and of what no rule
    admits."""
    me = {direction.register: key}
    priority: int = Priority.POLICY_TRACK
    into_acl: tuple = (ofp.apply(ofp.ct(direction.register, direction.acl)),)
    if not stateful:
        # Cleared: a packet from a stateful neighbour on this switch, or through a router's
        # NAT, carries that zone's state, which the established shortcut would trust.
        priority = Priority.POLICY_STATELESS
        into_acl = (ofp.apply(ofp.ct_clear()), ofp.goto(direction.acl))
    flows = {
        ofp.flow(direction.policy, priority, ofp.match(**me, eth_type=eth), into_acl, owner)
        for eth in (ETH_TYPE_IPV4, ETH_TYPE_IPV6)
    }
    if stateful:
        flows.add(
            ofp.flow(
                direction.acl,
                Priority.ACL_INVALID,
                ofp.match(**me, ct_state=(CT_TRK | CT_INV, CT_TRK | CT_INV)),
                (),
                counted,
            )
        )
    flows.add(ofp.flow(direction.acl, Priority.ACL_DROP, ofp.match(**me), (), counted))
    if rules:
        flows.add(
            ofp.flow(
                direction.acl,
                Priority.ACL_RULE,
                ofp.match(**me),
                (
                    ofp.apply(
                        *(
                            ofp.conjunction(rule_key, 1, clauses)
                            for rule_key, clauses in sorted(rules)
                        )
                    ),
                ),
                owner,
            )
        )
    return flows


# ---- shared by the ports of a switch ---------------------------------------------------------


@functools.lru_cache(maxsize=1)
def policy_infra() -> frozenset[ofp.Flow]:
    """Per switch: neighbour discovery and DHCP client traffic are never tracked nor blocked
    (neither security groups nor blocks stop a network's own plumbing, as in Neutron)."""
    flows = set()
    for direction in (EGRESS, INGRESS):
        on = (ofp.goto(direction.then),)
        for icmp_type in _ND_AND_MLD:
            flows.add(
                ofp.flow(
                    direction.policy,
                    Priority.POLICY_INFRA,
                    ofp.match(
                        eth_type=ETH_TYPE_IPV6, ip_proto=IPPROTO_ICMPV6, icmpv6_type=icmp_type
                    ),
                    on,
                    SWITCH_COOKIE,
                )
            )
        client, server = (68, 67) if direction is EGRESS else (67, 68)
        client6, server6 = (546, 547) if direction is EGRESS else (547, 546)
        for fields in (
            dict(eth_type=ETH_TYPE_IPV4, udp_src=client, udp_dst=server),
            dict(eth_type=ETH_TYPE_IPV6, udp_src=client6, udp_dst=server6),
        ):
            flows.add(
                ofp.flow(
                    direction.policy,
                    Priority.POLICY_DHCP,
                    ofp.match(ip_proto=IPPROTO_UDP, **fields),
                    on,
                    SWITCH_COOKIE,
                )
            )
    return frozenset(flows)


@functools.lru_cache(maxsize=1)
def acl_established() -> frozenset[ofp.Flow]:
    """Per switch: packets of connections already allowed (and related ICMP) go on."""
    return frozenset(
        ofp.flow(
            direction.acl,
            Priority.ACL_ESTABLISHED,
            ofp.match(ct_state=(CT_TRK | state, CT_TRK | state | CT_INV)),
            (ofp.goto(direction.then),),
            SWITCH_COOKIE,
        )
        for direction in (EGRESS, INGRESS)
        for state in (CT_EST, CT_REL)
    )


@functools.lru_cache(maxsize=256)
def acl_flows(rules: tuple) -> frozenset[ofp.Flow]:
    """Clause 2 of every rule in ``rules`` (RuleInputs), merged by match, and each rule's
    conjunction flow letting the packet on: committing the new connection in the port's
    zone if the rule's group is stateful. Clause 3, the remote addresses, is
    :func:`remote_flows`'s."""
    return _rule_flows(tuple((i.rule, i.clauses, i.stateful) for i in rules))


@functools.lru_cache(maxsize=256)
def _rule_flows(rules: tuple) -> frozenset[ofp.Flow]:
    """What :func:`acl_flows` builds, from (rule, clauses, stateful): the same whatever the
    members of the rules' remote groups, so a member joining does not build it again."""
    actions: dict[tuple, set] = {}
    flows = set()
    for rule, n, stateful in rules:
        direction = DIRECTIONS[rule.direction]
        allowed = _allowed(rule)
        if not allowed:
            continue  # not expressible: allowing more than asked is no option
        for fields in allowed:
            actions.setdefault((direction.acl, ofp.match(**fields)), set()).add(
                ofp.conjunction(rule.key, 2, n)
            )
        admitted: tuple = (ofp.goto(direction.then),)
        if stateful:
            admitted = (ofp.apply(ofp.ct(direction.register, commit=True)), *admitted)
        flows.add(
            ofp.flow(
                direction.acl,
                Priority.ACL_RULE,
                ofp.match(conj_id=rule.key, eth_type=ETH_TYPES[rule.ethertype]),
                admitted,
                ACL_COOKIE,
            )
        )
    for (table, match), conjunctions in actions.items():
        flows.add(
            ofp.flow(
                table, Priority.ACL_RULE, match, (ofp.apply(*sorted(conjunctions)),), ACL_COOKIE
            )
        )
    return frozenset(flows)


def _allowed(rule) -> list[dict] | None:
    return l4_matches(rule.ethertype, rule.protocol, rule.port_range_min, rule.port_range_max)


@functools.lru_cache(maxsize=256)
def remote_flows(rules: tuple) -> tuple:
    """Clause 3 of every rule in ``rules`` (RuleInputs) with a remote end: one flow per
    remote address or prefix, merged by match, in one owner per bucket of addresses
    (``cookie(Owner.REMOTE, bucket)``). Returns ((owner, flows), ...) of the non-empty
    buckets: a member joining a remote group builds its bucket alone again."""
    remote = [(i.rule, i.clauses, i.remote) for i in rules if i.remote and _allowed(i.rule)]
    parts = []
    for bucket in range(REMOTE_BUCKETS):
        entries = tuple(
            (rule.key, rule.direction, rule.ethertype, n, r.buckets[bucket])
            for rule, n, r in remote
            if r.buckets[bucket]
        )
        if entries:
            parts.append((cookie(Owner.REMOTE, bucket), _bucket_flows(bucket, entries)))
    return tuple(parts)


@functools.lru_cache(maxsize=16384)
def _bucket_flows(bucket: int, entries: tuple) -> frozenset[ofp.Flow]:
    actions: dict[tuple, set] = {}
    for key, direction_name, ethertype, n, prefixes in entries:
        direction = DIRECTIONS[direction_name]
        field = _ip_field(4 if ethertype == "IPv4" else 6, direction.remote_side)
        for prefix in prefixes:
            actions.setdefault((direction.acl, _remote_match(ethertype, field, prefix)), set()).add(
                ofp.conjunction(key, 3, n)
            )
    owner = cookie(Owner.REMOTE, bucket)
    return frozenset(
        ofp.flow(table, Priority.ACL_RULE, match, (ofp.apply(*sorted(conjunctions)),), owner)
        for (table, match), conjunctions in actions.items()
    )


@functools.lru_cache(maxsize=65536)
def _remote_match(ethertype: str, field: str, prefix: str) -> tuple:
    return ofp.match(eth_type=ETH_TYPES[ethertype], **ofp.prefix_match(field, prefix))


def _acl_flows(rules: tuple) -> tuple[frozenset, tuple, dict]:
    """The switch's shared clauses of ``rules``; should they not build, those of every rule
    that builds alone (one that does not is named by ``cookie(Owner.ACL, rule key)`` in the
    failures, and its conjunction never completes: it admits nothing)."""
    try:
        return acl_flows(rules), remote_flows(rules), {}
    except Exception:
        buildable, failed = [], {}
        for inputs in rules:
            try:
                acl_flows((inputs,))
                remote_flows((inputs,))
                buildable.append(inputs)
            except Exception as error:
                failed[cookie(Owner.ACL, inputs.rule.key)] = f"{type(error).__name__}: {error}"
        return acl_flows(tuple(buildable)), remote_flows(tuple(buildable)), failed


# ---- the slices ------------------------------------------------------------------------------


class PortSecurity(LocalBuilder):
    name = "port-security"

    def add_local_port(self, bound: BoundPort) -> Built:
        key = bound.port.key
        return Built(
            frozenset(
                port_security_flows(
                    key, bound.policy, cookie(Owner.PORT, key), cookie(Owner.COUNTER, key)
                )
            )
        )


class SecurityGroups(LocalBuilder):
    name = "security-group"

    def add_switch(self, dpid: int, topology) -> Built:
        return Built(policy_infra() | acl_established())

    def add_local_port(self, bound: BoundPort) -> Built:
        if not bound.policy.port_security:
            return NOTHING
        key = bound.port.key
        owner, counted = cookie(Owner.PORT, key), cookie(Owner.COUNTER, key)
        flows = set()
        policy = bound.policy
        for direction in (EGRESS, INGRESS):
            rules = getattr(policy, direction.name)
            flows |= acl_port_flows(key, direction, rules, owner, counted, policy.stateful)
        return Built(frozenset(flows))

    def add_shared(self, dpid: int, ports: tuple, inputs: PassInputs) -> Built:
        """The clauses of the rules of the switch's ports, merged into one owner."""
        keys = {key for b in ports for key, _ in b.policy.egress + b.policy.ingress}
        if not keys or not inputs.rules:
            return NOTHING
        flows, parts, failed = _acl_flows(
            tuple(inputs.rules[key] for key in sorted(keys) if key in inputs.rules)
        )
        return Built(flows, parts=parts, failed=MappingProxyType(failed))
