"""The pipeline, declared once: tables, allowed gotos, priority bands, registers and cookies,
and the slice of it each feature builds (:data:`SLICES`).

Every flow the compiler emits names a table from :class:`Table` and a priority from the
band of that table; :func:`check_goto` rejects a goto the layout does not allow, and
:meth:`Slice.check` a flow, meter or group outside its feature's declaration, so a wrong
pipeline fails at compile time, not on the switch. ``docs/pipeline.md`` explains each
table in prose.
"""

from __future__ import annotations

import dataclasses
import enum
import zlib


class Table(enum.IntEnum):
    """OpenFlow tables, in pipeline order. Gaps leave room for later stages."""

    CLASSIFY = 0  # in_port / fabric VLAN -> network key (metadata) + source port (reg6)
    PORT_SECURITY = 10  # a VM sends only from its own MAC / addresses (and allowed pairs)
    SERVICES = 20  # ARP answers, ND steering, DHCP / DHCPv6 / RS / gateway NS -> controller
    EGRESS_POLICY = 22  # from a VM: protocol blocks; into conntrack (zone = reg6) or the ACL
    EGRESS_ACL = 24  # from a VM: connection state (stateful) + group egress rules
    EGRESS_QOS = 26  # from a VM: DSCP marking, egress rate limit (meter)
    L3_GATEWAY = 30  # (network, router port MAC) -> router key (reg5); else switching
    ROUTING = 35  # router key + destination IP -> TTL-1, MACs, destination network
    L2_LOOKUP = 40  # (network, eth_dst) -> destination port (reg7); broadcast -> flood group
    INGRESS_POLICY = 50  # to a local VM: protocol blocks; into conntrack (zone = reg7) or ACL
    GATEWAY_NAT = 45  # on a gateway's exit switch: what leaves by it, translated (SNAT, FIPs)
    INGRESS_ACL = 55  # to a local VM: connection state (stateful) + group ingress rules
    OUTPUT = 90  # destination port -> local ofport (ingress meter), or toward its switch


NEXT_TABLES = {
    Table.CLASSIFY: {Table.PORT_SECURITY, Table.L2_LOOKUP},
    Table.PORT_SECURITY: {Table.SERVICES},
    Table.SERVICES: {Table.EGRESS_POLICY, Table.L2_LOOKUP},
    # *_ACL: a stateless port's packets go there straight, a stateful one's by ct(table=...)
    Table.EGRESS_POLICY: {Table.EGRESS_QOS, Table.EGRESS_ACL},
    Table.EGRESS_ACL: {Table.EGRESS_QOS},
    Table.EGRESS_QOS: {Table.L3_GATEWAY},
    Table.L3_GATEWAY: {Table.ROUTING, Table.L2_LOOKUP},
    Table.ROUTING: {Table.L2_LOOKUP},
    Table.L2_LOOKUP: {Table.INGRESS_POLICY},
    Table.GATEWAY_NAT: {Table.OUTPUT},
    Table.INGRESS_POLICY: {Table.OUTPUT, Table.INGRESS_ACL},
    Table.INGRESS_ACL: {Table.OUTPUT},
    Table.OUTPUT: set(),
}

# Where conntrack recirculates: a stateful port's way into the ACL tables, and the gateway's NAT
# (from L2_LOOKUP on the exit switch: out to GATEWAY_NAT, in back to ROUTING; a floating IP's
# destination translated, ROUTING again).
CT_TABLES = {
    Table.EGRESS_POLICY: {Table.EGRESS_ACL},
    Table.INGRESS_POLICY: {Table.INGRESS_ACL},
    Table.L2_LOOKUP: {Table.GATEWAY_NAT, Table.ROUTING},
    Table.ROUTING: {Table.ROUTING},
}


class Priority(enum.IntEnum):
    """Named priority bands; a table's flows never use bare numbers."""

    # CLASSIFY
    CLASSIFY_VIF = 300  # traffic from a bound VM interface
    CLASSIFY_DISCOVERY = 200  # link-discovery probes from non-VIF ports -> controller (metered)
    CLASSIFY_TREE_GUARD = 110  # broadcast arriving on a fabric link off the spanning tree: drop
    CLASSIFY_FABRIC = 100  # tagged traffic from a fabric link
    CLASSIFY_TUNNEL = 100  # traffic from the switch's tunnel port, by tunnel id (VNI)
    CLASSIFY_TUNNEL_DROP = 1  # anything else from it: an unknown VNI or sender (counted)
    # PORT_SECURITY
    PORTSEC_DENY = 300  # DHCP server replies, router advertisements, redirects from a VM
    PORTSEC_ND = 250  # neighbour advertisements only for the port's own addresses
    PORTSEC_ND_DENY = 240  # any other neighbour advertisement from the port
    PORTSEC_ADDRESS = 210  # IP from one of the port's fixed addresses (counted per address)
    PORTSEC_ALLOW = 200  # the port's MAC with its addresses (ARP, IPv4, IPv6) -> SERVICES
    PORTSEC_PASS = 2  # port security disabled: anything from the port -> SERVICES
    PORTSEC_DROP = 1  # anything else the port sends: spoofed
    # EGRESS_POLICY / INGRESS_POLICY
    POLICY_INFRA = 300  # neighbour discovery and MLD: never blocked, never tracked
    POLICY_BLOCK = 200  # a network's protocol blocks, per port
    POLICY_DHCP = 150  # DHCP client traffic to / from a tenant's own server: untracked
    POLICY_STATELESS = 110  # IP of a port whose groups are stateless -> the ACL, untracked
    POLICY_TRACK = 100  # IP of a port with (stateful) security groups -> conntrack
    POLICY_PASS = 0  # untracked: no security groups, or not IP
    # EGRESS_ACL / INGRESS_ACL
    ACL_ESTABLISHED = 300  # packets of connections already allowed (and related ICMP)
    ACL_INVALID = 250  # conntrack says invalid: drop, per stateful port
    ACL_RULE = 100  # security group rules: conjunctive clauses and their conj_id
    ACL_DROP = 10  # what no rule allows (a new connection; stateless: any packet): drop
    # EGRESS_QOS
    QOS_MARK = 110  # IP from a port with a DSCP mark (and its meter)
    QOS_LIMIT = 100  # anything else from a port with an egress limit
    QOS_PASS = 0
    # SERVICES
    SERVICE_SELF = 110  # a port asking about its own address (DAD, gratuitous): no answer
    SERVICE_ANSWER = 100  # ARP replies, ND steering, packet-in punts
    SERVICE_PASS = 0  # everything else goes on to L3_GATEWAY
    # L3_GATEWAY
    GATEWAY_ROUTER = 100  # addressed to a router port's MAC: route
    GATEWAY_PASS = 0  # everything else is switched
    # ROUTING (longest prefix first: ROUTE_LPM + 2 * prefix length, +1 for a port's own address)
    ROUTE_NAT_INVALID = 510  # come in by a gateway, conntrack says invalid: drop
    ROUTE_TTL = 500  # TTL / hop limit would expire: ICMP time exceeded, or drop
    ROUTE_DNAT = 460  # a new connection to a floating IP: its fixed address, routed again
    ROUTE_SELF_ICMP = 450  # echo request to the router itself: the controller answers
    ROUTE_SELF_DROP = 440  # anything else addressed to the router
    ROUTE_LPM = 100
    # L2_LOOKUP
    L2_GATEWAY = 110  # on the exit switch: to or from a router gateway's MAC -> its NAT zone
    L2_ROUTED_OUT = 105  # from a router gateway's MAC (routed out): toward its exit switch
    L2_UNICAST = 100
    L2_FLOOD = 50
    L2_FLOOD_TRANSIT = 51  # where cables and tunnels meet: a flood that came from the fabric
    L2_FLOOD_TUNNELED = 52  # ... and one that came from a tunnel
    # GATEWAY_NAT (after the router's conntrack zone, on the way out)
    NAT_INVALID = 400  # conntrack says invalid: drop
    NAT_TRACKED = 300  # a connection already translated (or a reply): out as it is now
    NAT_FLOATING = 200  # new, from a fixed address with a floating IP: from the floating IP
    NAT_SNAT = 100  # new, from a subnet of the router with SNAT on: from the gateway's address
    NAT_PASS = 10  # anything else (SNAT off): out untranslated
    # OUTPUT
    OUTPUT_ADDRESS = 110  # IP to one of a local port's fixed addresses (counted per address)
    OUTPUT_PORT = 100
    # every table
    TABLE_MISS = 0  # drop whatever no stage claimed


# Flows whose statistics are read (cookie kind Owner.COUNTER, key: the port they count for).
# Those that drop on purpose, by (table, priority): the policy that rejected what they count.
POLICY_DROPS: dict[tuple[int, int], str] = {  # keyed by the ints a switch reports
    (Table.PORT_SECURITY, Priority.PORTSEC_DENY): "port_security",
    (Table.PORT_SECURITY, Priority.PORTSEC_ND_DENY): "port_security",
    (Table.PORT_SECURITY, Priority.PORTSEC_DROP): "port_security",
    (Table.EGRESS_POLICY, Priority.POLICY_BLOCK): "protocol_block",
    (Table.INGRESS_POLICY, Priority.POLICY_BLOCK): "protocol_block",
    (Table.EGRESS_ACL, Priority.ACL_INVALID): "security_group",
    (Table.EGRESS_ACL, Priority.ACL_DROP): "security_group",
    (Table.INGRESS_ACL, Priority.ACL_INVALID): "security_group",
    (Table.INGRESS_ACL, Priority.ACL_DROP): "security_group",
}
# Those counting IP traffic of one of the port's addresses: "tx" from it, "rx" to it.
ADDRESS_COUNTERS: dict[tuple[int, int], tuple[str, str]] = {
    (Table.PORT_SECURITY, Priority.PORTSEC_ADDRESS): ("tx", "src"),
    (Table.OUTPUT, Priority.OUTPUT_ADDRESS): ("rx", "dst"),
}

# Registers carrying logical context between tables (OVN style).
REG_SRC_PORT = "reg6"  # key of the logical port the packet came from (0: from the fabric)
REG_DST_PORT = "reg7"  # key of the logical port the packet goes to
REG_ROUTER = "reg5"  # key of the router routing the packet (set in L3_GATEWAY)
REG_NAT_ZONE = "reg4"  # conntrack zone of the gateway a packet passes (set in L2_LOOKUP)
CT_ZONE_BITS = 16  # conntrack zone = low bits of the port register (a zone per port)
METADATA_MASK = 0xFFFFFFFF  # metadata holds the network key in its low 32 bits

OFPVID_PRESENT = 0x1000
ETH_TYPE_LLDP = 0x88CC
LLDP_NEAREST_BRIDGE = "01:80:c2:00:00:0e"
MULTICAST_BIT = ("01:00:00:00:00:00", "01:00:00:00:00:00")

PACKET_IN_METER = 1  # meter of the discovery trap
PORT_METER_BASE = 0x100  # meter of port P's packet-ins: PORT_METER_BASE + P (one VM, one budget)
ROUTER_METER_BASE = 0x10000000  # meter of router R's packet-ins (echo, TTL expiry)
QOS_METER_BASE = 0x20000000  # port P's rate limits: + 2P (egress, from the VM), + 2P+1 (ingress)
OFPP_IN_PORT = 0xFFFFFFF8

ETH_TYPE_IPV4, ETH_TYPE_ARP, ETH_TYPE_IPV6 = 0x0800, 0x0806, 0x86DD
IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMPV6, IPPROTO_SCTP = 1, 6, 17, 58, 132
ICMPV6_RS, ICMPV6_RA, ICMPV6_NS, ICMPV6_NA, ICMPV6_REDIRECT = 133, 134, 135, 136, 137
ICMPV6_MLD_QUERY, ICMPV6_MLD_REPORT, ICMPV6_MLD_DONE, ICMPV6_MLD2_REPORT = 130, 131, 132, 143

# Connection tracking state bits (os-ken has no names for them).
CT_NEW, CT_EST, CT_REL, CT_RPL, CT_INV, CT_TRK = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20


def port_meter(port_key: int) -> int:
    return PORT_METER_BASE + port_key


def router_meter(router_key: int) -> int:
    return ROUTER_METER_BASE + router_key


def nat_zone(router_key: int) -> int:
    """The conntrack zone of a router's gateway on its exit switch. Ports' zones count up
    from 1 (their keys); routers' count down from 0xFFFF, so the two meet only past 65,535
    ports and routers made (zones are 16 bits in OVS)."""
    return 0xFFFF - (router_key & 0x7FFF)


def qos_meter(port_key: int, direction: str) -> int:
    """Meter limiting what port P sends ("egress") or receives ("ingress")."""
    return QOS_METER_BASE + 2 * port_key + (direction == "ingress")


def gateway_mac(network_key: int) -> str:
    """The MAC answering for a network's subnet gateways and for the controller's services.

    Locally administered (02:...), so it never meets a port MAC (fa:16:3e:...)."""
    return "02:4e:41:" + ":".join(f"{network_key >> s & 0xFF:02x}" for s in (16, 8, 0))


class Owner(enum.IntEnum):
    """Kind of logical object a flow belongs to, stored in the cookie."""

    SWITCH = 1  # per-switch plumbing: table misses, discovery, tree guards
    NETWORK = 2  # flood group entry and fabric classification of one network
    PORT = 3  # classification, lookup, output of one logical port, and routes to it
    ROUTER = 4  # gateway entries, TTL and self handling, static routes of one router
    ACL = 5  # security group clauses shared by ports (key 0): merged across groups
    COUNTER = 6  # a port's flows whose statistics are read: policy drops, per-address counts
    PLUGIN = 7  # a third-party slice's flows of one of its records (key: the record's key)
    REMOTE = 8  # security group clauses of remote addresses, one bucket of them (key: bucket)


# Remote addresses of security group rules (a remote group's members, a remote prefix) are
# spread over this many buckets, each its own owner: a member joining a group of 10,000
# changes one bucket's few dozen flows, not one owner of 10,000.
REMOTE_BUCKETS = 256


def remote_bucket(prefix: str) -> int:
    """The bucket of a remote address or prefix (normalized text), the same in every run."""
    return zlib.crc32(prefix.encode()) % REMOTE_BUCKETS


# Cookie: 0xA5 | owner kind (8) | generation (8) | owner key (40).
COOKIE_MAGIC = 0xA5
COOKIE_MAGIC_MASK = 0xFF << 56
GENERATION_MASK = 0xFF << 40
KEY_MASK = (1 << 40) - 1


def cookie(owner: Owner, key: int) -> int:
    """The cookie naming a flow's owner; the generation bits are stamped at send time."""
    if not 0 <= key <= KEY_MASK:
        raise ValueError(f"owner key {key} does not fit the cookie")
    return (COOKIE_MAGIC << 56) | (int(owner) << 48) | key


SWITCH_COOKIE = cookie(Owner.SWITCH, 0)  # the pipeline's own flows and per-switch ones
# The switch's drop of tunnel traffic no network admits: a counted flow of no port (port
# keys start at 1), which the statistics poller reads with the ports' counted flows.
TUNNEL_DROP_COOKIE = cookie(Owner.COUNTER, 0)


def with_generation(value: int, generation: int) -> int:
    return (value & ~GENERATION_MASK) | ((generation & 0xFF) << 40)


def identity(value: int) -> int:
    """The cookie without its generation: what says who owns a flow."""
    return value & ~GENERATION_MASK


def is_ours(value: int) -> bool:
    return (value >> 56) == COOKIE_MAGIC


def owner_of(value: int) -> tuple[Owner, int] | None:
    if not is_ours(value):
        return None
    return Owner((value >> 48) & 0xFF), value & KEY_MASK


def counted_as(table: int, priority: int, match: tuple) -> tuple[str, str | None] | None:
    """What a counted flow (Owner.COUNTER) counts for its port: ("dropped_<policy>", None),
    or ("tx" / "rx", the address it counts IP traffic from / to)."""
    reason = POLICY_DROPS.get((table, priority))
    if reason is not None:
        return f"dropped_{reason}", None
    address = ADDRESS_COUNTERS.get((table, priority))
    if address is None:
        return None
    prefix, side = address
    fields = dict(match)
    return prefix, fields.get(f"ipv4_{side}") or fields.get(f"ipv6_{side}")


def check_goto(src: Table, dst: Table) -> None:
    if dst not in NEXT_TABLES[src]:
        raise ValueError(f"pipeline layout forbids goto {src.name} -> {dst.name}")


# What a table does with a packet no stage claimed: go on to the next table at the given
# priority; a table not named here drops it (Priority.TABLE_MISS). These flows are the
# pipeline's own (Owner.SWITCH), there whatever features are loaded.
TABLE_DEFAULTS = {
    Table.SERVICES: (Priority.SERVICE_PASS, Table.EGRESS_POLICY),
    Table.EGRESS_POLICY: (Priority.POLICY_PASS, Table.EGRESS_QOS),
    Table.EGRESS_QOS: (Priority.QOS_PASS, Table.L3_GATEWAY),
    Table.L3_GATEWAY: (Priority.GATEWAY_PASS, Table.L2_LOOKUP),
    Table.INGRESS_POLICY: (Priority.POLICY_PASS, Table.OUTPUT),
}

MAX_NETWORK_KEY = 0xFFFFFF  # a network key is its VNI in tunnels (and its VLAN on cables)
# A network's flood groups: id = its key (every copy a frame needs from where it entered),
# and where cables and tunnels meet, base + key for a frame from a cable (local ports and the
# tree) or from a tunnel (local ports only): the switch it came from sent the other copies.
TRANSIT_GROUP_BASE = 1 << 24
TUNNELED_GROUP_BASE = 2 << 24
MAX_GROUP_ID = TUNNELED_GROUP_BASE + MAX_NETWORK_KEY  # ids 1..this are ours
OFPM_MAX = 0xFFFF0000  # highest meter id OpenFlow 1.3 allows


@dataclasses.dataclass(frozen=True)
class Slice:
    """One feature's part of the pipeline: the tables its builder writes flows into, and the
    ids of the meters and groups it creates (ranges). Its builder declares every meter and
    group it needs along with the flows that use them; the compiler checks them here."""

    name: str
    tables: frozenset
    meters: tuple = ()  # ranges of meter ids
    groups: tuple = ()  # ranges of group ids

    def check(self, flows, meters=(), groups=()) -> None:
        for f in flows:
            if f.table not in self.tables:
                raise ValueError(f"slice {self.name} does not write table {Table(f.table).name}")
        for meter in meters:
            if not any(meter.meter_id in r for r in self.meters):
                raise ValueError(f"slice {self.name} declares no meter {meter.meter_id:#x}")
        for group in groups:
            if not any(group.group_id in r for r in self.groups):
                raise ValueError(f"slice {self.name} declares no group {group.group_id}")


SLICES = {
    s.name: s
    for s in (
        # Classification, L2 lookup and output of ports; fabric untagging and flooding (a flood
        # group per network, id = network key); the discovery trap behind its meter.
        Slice(
            "switching",
            frozenset({Table.CLASSIFY, Table.L2_LOOKUP, Table.OUTPUT}),
            meters=(range(PACKET_IN_METER, PACKET_IN_METER + 1),),
            groups=tuple(
                range(base + 1, base + MAX_NETWORK_KEY + 1)
                for base in (0, TRANSIT_GROUP_BASE, TUNNELED_GROUP_BASE)
            ),
        ),
        # ARP answers, ND steering, and DHCP / DHCPv6 / RS / gateway NS to the controller behind
        # each port's own meter.
        Slice(
            "services",
            frozenset({Table.SERVICES}),
            meters=(range(PORT_METER_BASE, ROUTER_METER_BASE),),
        ),
        Slice("port-security", frozenset({Table.PORT_SECURITY})),
        Slice(
            "security-group",
            frozenset(
                {Table.EGRESS_POLICY, Table.EGRESS_ACL, Table.INGRESS_POLICY, Table.INGRESS_ACL}
            ),
        ),
        Slice("protocol-block", frozenset({Table.EGRESS_POLICY, Table.INGRESS_POLICY})),
        # DSCP marking and egress limits; the ingress meter rides on the port's OUTPUT entry.
        Slice("qos", frozenset({Table.EGRESS_QOS}), meters=(range(QOS_METER_BASE, OFPM_MAX + 1),)),
        # Gateway entries, routes, ARP answers for router addresses, echo and TTL expiry to the
        # controller behind each router's meter; on a gateway's exit switch, its NAT.
        Slice(
            "router",
            frozenset(
                {
                    Table.L3_GATEWAY,
                    Table.ROUTING,
                    Table.SERVICES,
                    Table.L2_LOOKUP,
                    Table.GATEWAY_NAT,
                }
            ),
            meters=(range(ROUTER_METER_BASE, QOS_METER_BASE),),
        ),
        # What is delivered to each fixed address of a port, on a flow of its own: counted.
        Slice("statistics", frozenset({Table.OUTPUT})),
    )
}
