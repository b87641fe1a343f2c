"""Why can A reach B, or not: a packet traced through the compiled pipeline, explained.

The simulator (:mod:`naas_sdn.flows.simulate`) runs a packet through the switches' desired
flows and records every table it passed and the flow that matched there. This module says
what that means to the person asking: for each hop the switch, the table's name, the stage,
the matched flow's priority band, what it did, and the object that owns it (its cookie names
the kind and key of the port, network, router or protocol block); whether the packet reached
where it was going; and, when it was dropped, which policy or default dropped it and why
("no rule of security group X admits tcp/80 ingress").

Pure: the compiled states, the fabric and the model in, the explanation out. The API that
scopes it to a tenant's own objects, and the trace on a real switch, come on top.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType

from naas_sdn.flows.fabric import FabricSnapshot
from naas_sdn.flows.layout import (
    POLICY_DROPS,
    Owner,
    Priority,
    Table,
    identity,
    owner_of,
)
from naas_sdn.flows.ofp import Flow, SwitchState
from naas_sdn.flows.simulate import Classifier, Delivery, Simulator
from naas_sdn.model.snapshot import ModelSnapshot

STAGES = {
    Table.CLASSIFY: "classification",
    Table.PORT_SECURITY: "port security",
    Table.SERVICES: "network services (ARP, ND, DHCP)",
    Table.EGRESS_POLICY: "egress policy (protocol blocks, connection tracking)",
    Table.EGRESS_ACL: "egress security group rules",
    Table.EGRESS_QOS: "egress QoS",
    Table.L3_GATEWAY: "router lookup",
    Table.ROUTING: "routing",
    Table.L2_LOOKUP: "switching",
    Table.GATEWAY_NAT: "gateway NAT",
    Table.INGRESS_POLICY: "ingress policy (protocol blocks, connection tracking)",
    Table.INGRESS_ACL: "ingress security group rules",
    Table.OUTPUT: "output",
}

# Which bands a table's flows use, by the name prefix of Priority's members.
_BANDS = {
    Table.CLASSIFY: ("CLASSIFY_",),
    Table.PORT_SECURITY: ("PORTSEC_",),
    Table.SERVICES: ("SERVICE_",),
    Table.EGRESS_POLICY: ("POLICY_",),
    Table.INGRESS_POLICY: ("POLICY_",),
    Table.EGRESS_ACL: ("ACL_",),
    Table.INGRESS_ACL: ("ACL_",),
    Table.EGRESS_QOS: ("QOS_",),
    Table.L3_GATEWAY: ("GATEWAY_",),
    Table.ROUTING: ("ROUTE_",),
    Table.L2_LOOKUP: ("L2_",),
    Table.GATEWAY_NAT: ("NAT_",),
    Table.OUTPUT: ("OUTPUT_",),
}

_RESOURCE_TYPES = {
    Owner.PORT: "port",
    Owner.COUNTER: "port",
    Owner.NETWORK: "network",
    Owner.ROUTER: "router",
    Owner.ACL: "security_group_rule",
    Owner.REMOTE: "security_group_rule",
    Owner.SWITCH: "switch",
    Owner.PLUGIN: "plugin",
}

_PROTOCOLS = {1: "icmp", 6: "tcp", 17: "udp", 58: "ipv6-icmp"}


@dataclasses.dataclass(frozen=True)
class Step:
    """One table a packet passed on one switch."""

    switch: int
    table: str
    stage: str
    priority: str  # the matched flow's band ("" when no flow matched)
    action: str
    resource_type: str | None  # who owns the flow (None: no flow)
    resource_id: str | None  # None: shared by several, or not a tenant's object


@dataclasses.dataclass(frozen=True)
class Drop:
    resource_type: str
    resource_id: str | None
    reason: str


@dataclasses.dataclass(frozen=True)
class Trace:
    reachable: bool
    steps: tuple[Step, ...]
    deliveries: tuple[Delivery, ...]
    dropped_by: Drop | None


def priority_name(table: int, priority: int) -> str:
    """The band of ``priority`` in ``table``'s flows (a route's from its prefix length)."""
    prefixes = _BANDS.get(Table(table), ()) if table in Table._value2member_map_ else ()
    names = [
        name
        for name, member in Priority.__members__.items()
        if member == priority and prefixes and name.startswith(prefixes)
    ]
    if names:
        return "/".join(names)
    if priority == Priority.TABLE_MISS:
        return "TABLE_MISS"
    if table == Table.ROUTING and priority >= Priority.ROUTE_LPM:
        length, own = divmod(priority - Priority.ROUTE_LPM, 2)
        return f"ROUTE_LPM /{length}" + (" (a port's own address)" if own else "")
    return str(priority)


def describe(flow: Flow) -> str:
    """What a flow does, in a few words: its outputs, drops, conntrack and next table."""
    said = []
    for instruction in flow.instructions:
        if instruction[0] == "goto":
            said.append(f"goto {_table_name(instruction[1])}")
        elif instruction[0] == "apply":
            for action in instruction[1]:
                kind = action[0]
                if kind == "output":
                    said.append(f"output {action[1]}")
                elif kind == "controller":
                    said.append("to the controller")
                elif kind == "group":
                    said.append(f"group {action[1]}")
                elif kind == "ct":
                    said.append(
                        "conntrack"
                        + (" commit" if action[1] else "")
                        + (f", then {_table_name(action[3])}" if action[3] is not None else "")
                    )
                elif kind == "conjunction":
                    said.append(f"clause {action[2]}/{action[3]} of conjunction {action[1]}")
                elif kind in ("set_field", "move", "push_vlan", "pop_vlan", "dec_ttl", "ct_clear"):
                    continue
                else:
                    said.append(kind)
    return ", ".join(said) or "drop"


def trace(
    states: Mapping[int, SwitchState],
    fabric: FabricSnapshot,
    model: ModelSnapshot,
    source_port: str,
    packet: Mapping,
    destination_port: str | None = None,
    established: bool = False,
    classifiers: Mapping[int, Classifier] | None = None,
    index: ModelIndex | None = None,
) -> Trace:
    """Trace ``packet`` (simulator headers) sent by the VM of ``source_port``; reachable if
    a copy reaches ``destination_port``'s VM (or, without one, any VM or uplink).
    ``established``: the packet belongs to a connection the destination opened (its
    reversed packet is sent first)."""
    source = fabric.vifs[source_port]
    simulator = Simulator(states, fabric.links, fabric.endpoints, classifiers)
    if established and destination_port is not None and destination_port in fabric.vifs:
        opener = fabric.vifs[destination_port]
        simulator.inject(opener.dpid, opener.ofport, **_reversed(packet))
    simulator.hops.clear()
    deliveries = tuple(simulator.inject(source.dpid, source.ofport, **dict(packet)))
    index = index if index is not None else ModelIndex(model)
    steps = tuple(_step(index, dpid, table, flow) for dpid, table, flow in simulator.hops)
    reachable = reached(fabric, deliveries, destination_port)
    dropped = None
    if not reachable:
        dropped = explain_drop(model, index, simulator.hops, source_port, destination_port, packet)
    return Trace(reachable, steps, deliveries, dropped)


def reached(fabric: FabricSnapshot, deliveries, destination_port: str | None) -> bool:
    """A copy arrived at ``destination_port``'s VM (without one: at any VM or uplink)."""
    if destination_port is None:
        return any(d.port != "controller" for d in deliveries)
    there = fabric.vifs.get(destination_port)
    return there is not None and any(
        d.dpid == there.dpid and d.port == there.ofport for d in deliveries
    )


def _table_name(table: int) -> str:
    return Table(table).name if table in Table._value2member_map_ else str(table)


def _step(owners: ModelIndex, dpid: int, table: int, flow: Flow | None) -> Step:
    if flow is None:
        return step(owners, dpid, table, None, 0, "")
    return step(owners, dpid, table, flow.priority, flow.cookie, describe(flow))


def step(
    owners: ModelIndex, dpid: int, table: int, priority: int | None, cookie: int, does: str
) -> Step:
    """One lookup named for a reader, whether the flow was compiled or read off a switch:
    its table and stage, the flow's priority band, what it does, what owns it (``priority``
    None: no flow matched)."""
    name = _table_name(table)
    stage = STAGES.get(Table(table), name) if table in Table._value2member_map_ else name
    if priority is None:
        return Step(dpid, name, stage, "", "drop (no flow matched)", None, None)
    resource_type, resource_id = owners.owner(cookie)
    return Step(dpid, name, stage, priority_name(table, priority), does, resource_type, resource_id)


_OWNER_COLLECTIONS = MappingProxyType(
    {
        Owner.PORT: "ports",
        Owner.COUNTER: "ports",
        Owner.NETWORK: "networks",
        Owner.ROUTER: "routers",
    }
)


class ModelIndex:
    """What a trace looks up in the model without a walk over it: the ids of the ports,
    networks and routers behind flows' owner keys, and the port holding each (subnet,
    address). Kept by each revision's changes."""

    def __init__(self, model: ModelSnapshot | None = None):
        self._found: dict[tuple, str] = {}  # entry -> record id
        self._entries: dict[tuple[str, str], tuple] = {}  # (collection, id) -> its entries
        if model is not None:
            self.update(model, None)

    def update(self, model: ModelSnapshot, changed: Mapping | None) -> None:
        """``changed``: collection -> ids changed since the last update (None: all anew)."""
        if changed is None:
            self._found.clear()
            self._entries.clear()
        for collection in set(_OWNER_COLLECTIONS.values()):
            records = model.views(collection)
            ids = records.keys() if changed is None else changed.get(collection, ())
            for record_id in ids:
                for entry in self._entries.pop((collection, record_id), ()):
                    if self._found.get(entry) == record_id:
                        del self._found[entry]
                record = records.get(record_id)
                if record is None:
                    continue
                entries: tuple[tuple, ...] = ((collection, record.key),)
                if collection == "ports":
                    entries += tuple(("address", sid, ip) for sid, ip in record.fixed_ips)
                self._entries[(collection, record_id)] = entries
                self._found.update(dict.fromkeys(entries, record_id))

    def __eq__(self, other) -> bool:
        return isinstance(other, ModelIndex) and self._found == other._found

    __hash__ = None  # type: ignore[assignment]

    def owner(self, value: int) -> tuple[str | None, str | None]:
        """(resource type, id) of a flow's cookie; the id None where it names no record."""
        found = owner_of(identity(value))
        if found is None:
            return None, None
        kind, key = found
        resource_type = _RESOURCE_TYPES.get(kind, kind.name.lower())
        collection = _OWNER_COLLECTIONS.get(kind)
        return resource_type, self._found.get((collection, key)) if collection else None

    def holder(self, subnet_id: str, ip: str) -> str | None:
        """The id of the port holding ``ip`` on the subnet, if one does."""
        return self._found.get(("address", subnet_id, ip))


def explain_drop(model, owners: ModelIndex, hops, source_port, destination_port, packet) -> Drop:
    """The last hop's flow (or the missing one) says who dropped the packet and why."""
    if not hops:
        return Drop("switch", None, "the source port is bound to no switch")
    _, table, flow = hops[-1]
    if flow is None:
        return Drop("switch", None, f"no flow of table {_table_name(table)} takes this packet")
    policy = POLICY_DROPS.get((flow.table, flow.priority))
    ingress = flow.table in (Table.INGRESS_POLICY, Table.INGRESS_ACL)
    port_id = destination_port if ingress else source_port
    what = _what(packet)
    if policy == "port_security":
        return Drop(
            "port",
            source_port,
            f"port security of port {source_port}: it sends only from its MAC and fixed "
            "addresses (and its allowed address pairs)",
        )
    if policy == "protocol_block":
        port = model.ports.get(port_id)
        network_id = port.network_id if port is not None else None
        blocks = [
            b.id
            for b in model.protocol_blocks.values()
            if b.network_id == network_id and _blocks(b, packet)
        ]
        return Drop(
            "protocol_block",
            blocks[0] if blocks else None,
            f"a protocol block of network {network_id}: {what} is barred on it",
        )
    if policy == "security_group":
        port = model.ports.get(port_id)
        groups = ", ".join(port.security_group_ids) if port and port.security_group_ids else "none"
        direction = "ingress" if ingress else "egress"
        return Drop(
            "port",
            port_id,
            f"no rule of security group(s) {groups} of port {port_id} admits {what} {direction}",
        )
    resource_type, resource_id = owners.owner(flow.cookie)
    return Drop(
        resource_type or "switch",
        resource_id,
        f"{describe(flow)} in table {_table_name(table)} ({priority_name(table, flow.priority)})",
    )


def _blocks(block, packet: Mapping) -> bool:
    """Whether a protocol block bars this packet (its protocol and destination port)."""
    if packet.get("ip_proto") != block.protocol and not (
        block.protocol == 1 and packet.get("ip_proto") == 58
    ):
        return False
    port = packet.get("tcp_dst", packet.get("udp_dst"))
    if block.port_range_min is None or port is None:
        return True
    return block.port_range_min <= port <= (block.port_range_max or block.port_range_min)


def _what(packet: Mapping) -> str:
    """ "tcp/80", "udp/53", "icmp", "ip proto 47", "ethertype 0x88cc"."""
    proto = packet.get("ip_proto")
    if proto is None:
        return f"ethertype {packet.get('eth_type', 0):#06x}"
    name = _PROTOCOLS.get(proto, f"ip proto {proto}")
    port = packet.get("tcp_dst", packet.get("udp_dst"))
    return f"{name}/{port}" if port is not None else name


_SWAPPED = (
    ("eth_src", "eth_dst"),
    ("ipv4_src", "ipv4_dst"),
    ("ipv6_src", "ipv6_dst"),
    ("tcp_src", "tcp_dst"),
    ("udp_src", "udp_dst"),
)


def _reversed(packet: Mapping) -> dict:
    """The packet the other end sends back on the same connection."""
    reply = dict(packet)
    for a, b in _SWAPPED:
        if a in packet or b in packet:
            reply[a], reply[b] = packet.get(b), packet.get(a)
    return {k: v for k, v in reply.items() if v is not None}
