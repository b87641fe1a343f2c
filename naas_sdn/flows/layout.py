"""The pipeline, declared once: tables, allowed gotos, priority bands, registers and cookies.

Every flow the compiler emits names a table from :class:`Table` and a priority from the
band of that table; :func:`check_goto` rejects a goto the layout does not allow, so a wrong
pipeline fails at compile time, not on the switch. ``docs/pipeline.md`` explains each
table in prose.
"""
from __future__ import annotations

import enum


class Table(enum.IntEnum):
    """OpenFlow tables, in pipeline order. Gaps leave room for later stages."""

    CLASSIFY = 0      # in_port / fabric VLAN -> network key (metadata) + source port (reg6)
    SERVICES = 20     # ARP answers, ND steering, DHCP / DHCPv6 / RS / gateway NS -> controller
    L3_GATEWAY = 30   # (network, router port MAC) -> router key (reg5); else switching
    ROUTING = 35      # router key + destination IP -> TTL-1, MACs, destination network
    L2_LOOKUP = 40    # (network, eth_dst) -> destination port (reg7); broadcast -> flood group
    OUTPUT = 90       # destination port -> local ofport, or tagged toward its switch


NEXT_TABLES = {
    Table.CLASSIFY: {Table.SERVICES, Table.L2_LOOKUP},
    Table.SERVICES: {Table.L3_GATEWAY, Table.L2_LOOKUP},
    Table.L3_GATEWAY: {Table.ROUTING, Table.L2_LOOKUP},
    Table.ROUTING: {Table.L2_LOOKUP},
    Table.L2_LOOKUP: {Table.OUTPUT},
    Table.OUTPUT: set(),
}


class Priority(enum.IntEnum):
    """Named priority bands; a table's flows never use bare numbers."""

    # CLASSIFY
    CLASSIFY_VIF = 300          # traffic from a bound VM interface
    CLASSIFY_DISCOVERY = 200    # link-discovery probes from non-VIF ports -> controller (metered)
    CLASSIFY_TREE_GUARD = 110   # broadcast arriving on a fabric link off the spanning tree: drop
    CLASSIFY_FABRIC = 100       # tagged traffic from a fabric link
    # SERVICES
    SERVICE_SELF = 110          # a port asking about its own address (DAD, gratuitous): no answer
    SERVICE_ANSWER = 100        # ARP replies, ND steering, packet-in punts
    SERVICE_PASS = 0            # everything else goes on to L3_GATEWAY
    # L3_GATEWAY
    GATEWAY_ROUTER = 100        # addressed to a router port's MAC: route
    GATEWAY_PASS = 0            # everything else is switched
    # ROUTING (longest prefix first: ROUTE_LPM + 2 * prefix length, +1 for a port's own address)
    ROUTE_TTL = 500             # TTL / hop limit would expire: ICMP time exceeded, or drop
    ROUTE_SELF_ICMP = 450       # echo request to the router itself: the controller answers
    ROUTE_SELF_DROP = 440       # anything else addressed to the router
    ROUTE_LPM = 100
    # L2_LOOKUP
    L2_UNICAST = 100
    L2_FLOOD = 50
    # OUTPUT
    OUTPUT_PORT = 100
    # every table
    TABLE_MISS = 0              # drop whatever no stage claimed


# Registers carrying logical context between tables (OVN style).
REG_SRC_PORT = "reg6"   # key of the logical port the packet came from (0: from the fabric)
REG_DST_PORT = "reg7"   # key of the logical port the packet goes to
REG_ROUTER = "reg5"     # key of the router routing the packet (set in L3_GATEWAY)
METADATA_MASK = 0xFFFFFFFF  # metadata holds the network key in its low 32 bits

OFPVID_PRESENT = 0x1000
ETH_TYPE_LLDP = 0x88CC
LLDP_NEAREST_BRIDGE = "01:80:c2:00:00:0e"
MULTICAST_BIT = ("01:00:00:00:00:00", "01:00:00:00:00:00")

PACKET_IN_METER = 1  # meter of the discovery trap
PORT_METER_BASE = 0x100  # meter of port P's packet-ins: PORT_METER_BASE + P (one VM, one budget)
ROUTER_METER_BASE = 0x10000000  # meter of router R's packet-ins (echo, TTL expiry)
OFPP_IN_PORT = 0xFFFFFFF8

ETH_TYPE_IPV4, ETH_TYPE_ARP, ETH_TYPE_IPV6 = 0x0800, 0x0806, 0x86DD
IPPROTO_UDP, IPPROTO_ICMPV6 = 17, 58
ICMPV6_RS, ICMPV6_RA, ICMPV6_NS, ICMPV6_NA = 133, 134, 135, 136


def port_meter(port_key: int) -> int:
    return PORT_METER_BASE + port_key


def router_meter(router_key: int) -> int:
    return ROUTER_METER_BASE + router_key


def gateway_mac(network_key: int) -> str:
    """The MAC answering for a network's subnet gateways and for the controller's services.

    Locally administered (02:...), so it never meets a port MAC (fa:16:3e:...)."""
    return "02:4e:41:00:%02x:%02x" % (network_key >> 8, network_key & 0xFF)


class Owner(enum.IntEnum):
    """Kind of logical object a flow belongs to, stored in the cookie."""

    SWITCH = 1    # per-switch plumbing: table misses, discovery, tree guards
    NETWORK = 2   # flood group entry and fabric classification of one network
    PORT = 3      # classification, lookup, output of one logical port, and routes to it
    ROUTER = 4    # gateway entries, TTL and self handling, static routes of one router


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


def check_goto(src: Table, dst: Table) -> None:
    if dst not in NEXT_TABLES[src]:
        raise ValueError(f"pipeline layout forbids goto {src.name} -> {dst.name}")
