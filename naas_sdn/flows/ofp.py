"""Plain value objects for flows, groups and meters: no datapath, no os-ken objects.

The compiler builds these; ``naas_sdn.apps.codec`` turns them into OpenFlow messages at send
time and parses the switch's tables back into them, so desired and installed state compare
with ``==``.

Matches are sorted tuples of ``(field, value)``; a masked value is ``(value, mask)``.
Instructions are tuples in OpenFlow's execution order::

    ("meter", id) ("apply", actions) ("write_metadata", value, mask) ("goto", table)

Actions are tuples: ``("output", port)``, ``("controller", max_len)``, ``("group", id)``,
``("push_vlan", ethertype)``, ``("pop_vlan",)``, ``("set_field", field, value)``,
``("move", src_field, dst_field, n_bits)``, ``("ct", commit, zone_register, recirc_table)``
(``+ (nat,)`` when it translates: ``()`` applies a connection's translation, ``("src", ip)`` or
``("dst", ip)`` sets one up on commit), ``("ct_clear",)``,
``("conjunction", id, clause, n_clauses)`` (clause counted from 1, as ovs-ofctl writes it).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping

import netaddr

from naas_sdn.flows.layout import CT_TABLES, Table, check_goto, identity

_INSTRUCTION_ORDER = {"meter": 0, "apply": 1, "write_metadata": 2, "goto": 3}


_IP_FIELDS = {
    "ipv4_src",
    "ipv4_dst",
    "ipv6_src",
    "ipv6_dst",
    "tun_ipv4_src",
    "tun_ipv4_dst",
    "arp_spa",
    "arp_tpa",
    "ipv6_nd_target",
}


def _normalize(field, value):
    """One spelling per value, so compiled and read-back flows compare equal."""
    if field in ("eth_src", "eth_dst", "arp_sha", "arp_tha"):
        if isinstance(value, tuple):
            return (value[0].lower(), value[1].lower())
        return value.lower()
    if field in _IP_FIELDS:
        if isinstance(value, tuple):
            return (str(netaddr.IPAddress(value[0])), str(netaddr.IPAddress(value[1])))
        return str(netaddr.IPAddress(value))
    return value


def prefix_match(field: str, cidr: str) -> dict:
    """Match fields for a CIDR: exact for a host, masked for a prefix, nothing for /0."""
    net = netaddr.IPNetwork(cidr)
    if net.prefixlen == 0:
        return {}
    if net.size == 1:
        return {field: str(net.ip)}
    return {field: (str(net.network), str(net.netmask))}


def match(**fields) -> tuple:
    return tuple(sorted((k, _normalize(k, v)) for k, v in fields.items()))


@dataclasses.dataclass(frozen=True)
class Flow:
    table: int
    priority: int
    match: tuple
    instructions: tuple
    cookie: int

    @property
    def key(self):
        """OpenFlow's identity of a flow entry: table, priority and exact match."""
        return (self.table, self.priority, self.match)

    @property
    def body(self):
        """What must be equal for an installed flow to be correct."""
        return (self.instructions, identity(self.cookie))


def flow(table: Table, priority: int, fields: tuple, instructions: tuple, cookie: int) -> Flow:
    order = [_INSTRUCTION_ORDER[i[0]] for i in instructions]
    if order != sorted(order):
        raise ValueError(f"instructions out of OpenFlow order: {instructions}")
    for instruction in instructions:
        if instruction[0] == "goto":
            check_goto(table, instruction[1])
        if instruction[0] == "apply":
            for action in instruction[1]:
                if (
                    action[0] == "ct"
                    and action[3] is not None
                    and action[3] not in CT_TABLES.get(table, ())
                ):
                    raise ValueError(
                        f"pipeline layout forbids conntrack from {table!r} to table {action[3]}"
                    )
    return Flow(
        int(table),
        int(priority),
        fields,
        tuple((i[0], int(i[1])) if i[0] == "goto" else i for i in instructions),
        cookie,
    )


def apply(*actions) -> tuple:
    return ("apply", tuple(actions))


def goto(table: Table) -> tuple:
    return ("goto", table)


def write_metadata(value: int, mask: int) -> tuple:
    return ("write_metadata", value, mask)


def meter(meter_id: int) -> tuple:
    return ("meter", meter_id)


def output(port: int) -> tuple:
    return ("output", port)


def to_controller(max_len: int = 0xFFFF) -> tuple:
    return ("controller", max_len)


def group(group_id: int) -> tuple:
    return ("group", group_id)


def move(src: str, dst: str, n_bits: int) -> tuple:
    """Copy a whole field into another (Nicira reg_move)."""
    return ("move", src, dst, n_bits)


def dec_ttl() -> tuple:
    return ("dec_ttl",)


def ct(
    zone_register: str,
    table: Table | None = None,
    commit: bool = False,
    nat: tuple | None = None,
) -> tuple:
    """Send through conntrack in the zone held by ``zone_register`` (its low 16 bits): with
    ``table``, continue there with ct_state known; with ``commit``, remember the connection;
    with ``nat``, translate: ``()`` as the connection already is, ``("src" | "dst", ip)`` a
    new one (with ``commit``)."""
    action = ("ct", commit, zone_register, None if table is None else int(table))
    if nat is None:
        return action
    if nat:
        nat = (nat[0], str(netaddr.IPAddress(nat[1])))
    return (*action, nat)


def ct_clear() -> tuple:
    """Forget the conntrack state an earlier ``ct`` gave the packet (another port's zone, a
    router's NAT): what follows judges the packet itself."""
    return ("ct_clear",)


def conjunction(conj_id: int, clause: int, n_clauses: int) -> tuple:
    """This flow is dimension ``clause`` (1..n) of conjunctive match ``conj_id``."""
    return ("conjunction", conj_id, clause, n_clauses)


def push_vlan(ethertype: int = 0x8100) -> tuple:
    return ("push_vlan", ethertype)


def pop_vlan() -> tuple:
    return ("pop_vlan",)


def set_field(field: str, value) -> tuple:
    return ("set_field", field, _normalize(field, value))


@dataclasses.dataclass(frozen=True)
class Group:
    """An ALL group: each bucket is a tuple of actions applied to its own copy."""

    group_id: int
    buckets: tuple
    # Not on the wire (groups have no cookie): names the owner, so it is not compared.
    cookie: int = dataclasses.field(default=0, compare=False)


@dataclasses.dataclass(frozen=True)
class Meter:
    """A meter with one drop band: packets per second, or kilobits per second (``kbps``,
    burst in kilobits)."""

    meter_id: int
    rate: int
    burst: int
    kbps: bool = False


@dataclasses.dataclass(frozen=True)
class SwitchState:
    """Everything of ours one switch should hold (desired) or holds (installed).

    Flows are grouped by owner (the cookie without its generation), so the programmer can
    skip, by identity, every owner whose flows did not change. ``failed``: owners whose
    flows could not be compiled (owner cookie -> error), left out so that the rest of the
    switch is programmed; the programmer reports them.
    """

    parts: Mapping[int, frozenset] = dataclasses.field(default_factory=dict)
    groups: frozenset = frozenset()
    meters: frozenset = frozenset()
    failed: Mapping[int, str] = dataclasses.field(default_factory=dict)
    # (weak reference to an earlier state, owners whose flows changed since it): a plan
    # against that very state needs to look at those owners alone. Not part of equality.
    since: tuple | None = dataclasses.field(default=None, compare=False, repr=False)

    @classmethod
    def from_flows(cls, flows, groups=frozenset(), meters=frozenset()) -> SwitchState:
        parts: dict[int, set] = {}
        for f in flows:
            parts.setdefault(identity(f.cookie), set()).add(f)
        return cls(
            {owner: frozenset(fs) for owner, fs in parts.items()},
            frozenset(groups),
            frozenset(meters),
        )

    @functools.cached_property
    def flows(self) -> frozenset:
        return frozenset().union(*self.parts.values())
