"""A simulated fabric of OpenFlow 1.3 tables: inject a packet, see where copies come out.

Applies the compiler's own value objects with OpenFlow semantics (highest priority match,
instructions in order, ALL groups copy the packet, output to the ingress port is dropped),
Open vSwitch's conjunctive matches and a connection tracker (zones, commit, new / established /
reply, one-address NAT of either side, ct_clear), and follows fabric links between switches.
Tests assert behaviour with it ("a broadcast from port 1 reaches exactly these ports"), and
the packet trace explains what it records (:mod:`naas_sdn.flows.trace`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import netaddr

from naas_sdn.flows.fabric import Link
from naas_sdn.flows.layout import CT_EST, CT_NEW, CT_RPL, CT_TRK, OFPP_IN_PORT, OFPVID_PRESENT
from naas_sdn.flows.ofp import Flow, SwitchState

MAX_HOPS = 32


class SimulationError(Exception):
    """The tables are ambiguous or forwarding loops."""


@dataclasses.dataclass(frozen=True)
class Delivery:
    dpid: int
    port: int | str  # an ofport, or "controller"
    packet: tuple  # sorted (field, value) of the packet as it leaves


def _mac_int(mac: str) -> int:
    return int(mac.replace(":", ""), 16)


_IPS = {"ipv4_src", "ipv4_dst", "ipv6_src", "ipv6_dst", "arp_spa", "arp_tpa", "ipv6_nd_target"}


def _value(field: str, value):
    """A match value in the one form compared: IP addresses and masked MACs as integers."""
    if field in _IPS:
        return int(netaddr.IPAddress(value))
    if field in ("eth_src", "eth_dst") and isinstance(value, str):
        return _mac_int(value)
    return value


def _packet_value(packet: dict, field: str):
    """What the packet holds in ``field`` (None: nothing a match on it can meet)."""
    if field in _IPS:
        return _value(field, packet[field]) if field in packet else None
    if field == "nw_ttl":
        return packet.get("nw_ttl", 64)
    if field == "vlan_vid":
        vlans = packet.get("vlans", ())
        return (OFPVID_PRESENT | vlans[0]) if vlans else 0
    return _value(field, packet.get(field, 0))


def _shape(flow: Flow) -> tuple[tuple, tuple]:
    """The fields a flow matches with their masks (its shape), and its values under them."""
    shape, key = [], []
    for field, wanted in flow.match:
        if isinstance(wanted, tuple):
            mask = _value(field, wanted[1])
            shape.append((field, mask))
            key.append(_value(field, wanted[0]) & mask)
        else:
            shape.append((field, None))
            key.append(_value(field, wanted))
    return tuple(shape), tuple(key)


class Classifier:
    """A switch's flows, looked up as Open vSwitch's classifier does (tuple space search):
    per table, the flows grouped by shape, each group hashed by its values. A lookup costs a
    probe per shape, however many flows a table holds; flows come and go one by one, so a
    classifier kept beside a switch's desired state follows it change by change."""

    def __init__(self, flows=()):
        # table -> shape -> values -> flows
        self._tables: dict[int, dict[tuple, dict[tuple, set[Flow]]]] = {}
        for flow in flows:
            self.add(flow)

    def add(self, flow: Flow) -> None:
        shape, key = _shape(flow)
        self._tables.setdefault(flow.table, {}).setdefault(shape, {}).setdefault(key, set()).add(
            flow
        )

    def remove(self, flow: Flow) -> None:
        shape, key = _shape(flow)
        shapes = self._tables.get(flow.table, {})
        found = shapes.get(shape, {}).get(key)
        if found is None:
            return
        found.discard(flow)
        if not found:
            del shapes[shape][key]
            if not shapes[shape]:
                del shapes[shape]
                if not shapes:
                    del self._tables[flow.table]

    def __eq__(self, other) -> bool:
        """The same flows (what a classifier kept change by change must equal)."""
        return isinstance(other, Classifier) and self._tables == other._tables

    __hash__ = None  # type: ignore[assignment]

    def matching(self, table: int, packet: dict) -> list[Flow]:
        """Every flow of ``table`` the packet matches, whatever its priority."""
        found: list[Flow] = []
        for shape, groups in self._tables.get(table, {}).items():
            key = []
            for field, mask in shape:
                actual = _packet_value(packet, field)
                if actual is None:
                    break
                key.append(actual if mask is None else actual & mask)
            else:
                found.extend(groups.get(tuple(key), ()))
        return found


_HIDDEN = ("metadata", "ct_state", "conj_id", "dpid", "recirculate")


def _conjunctions(flow) -> list:
    """The conjunction actions of a clause flow (such a flow has no other action)."""
    if len(flow.instructions) == 1 and flow.instructions[0][0] == "apply":
        actions = flow.instructions[0][1]
        if actions and all(a[0] == "conjunction" for a in actions):
            return list(actions)
    return []


def _connection(packet: dict) -> tuple:
    version = "ipv6" if "ipv6_src" in packet else "ipv4"
    proto = packet.get("ip_proto", 0)
    l4 = {6: "tcp", 17: "udp", 132: "sctp"}.get(proto)
    ports = (packet.get(f"{l4}_src", 0), packet.get(f"{l4}_dst", 0)) if l4 else (0, 0)
    if proto in (1, 58):  # ICMP: a query and its reply are one connection
        kind = packet.get("icmpv4_type", packet.get("icmpv6_type", 0))
        kind = {0: 8, 129: 128}.get(kind, kind)
        ports = (kind, kind)
    return (proto, str(packet.get(f"{version}_src")), str(packet.get(f"{version}_dst"))) + ports


def _reverse(connection: tuple) -> tuple:
    proto, src, dst, sport, dport = connection
    return (proto, dst, src, dport, sport)


class Simulator:
    """``links`` are followed as cables; with ``endpoints`` (dpid -> TunnelEndpoint), what
    leaves a switch's tunnel port arrives at the switch whose address it was sent to."""

    def __init__(
        self,
        states: Mapping[int, SwitchState],
        links=(),
        endpoints=None,
        classifiers: Mapping[int, Classifier] | None = None,
    ):
        self.states = states
        # dpid -> (state, its classifier): given (kept beside the states), else built
        self._classifiers = {d: (states[d], c) for d, c in (classifiers or {}).items()}
        self.peer = {
            (link.src_dpid, link.src_port): (link.dst_dpid, link.dst_port) for link in links
        }
        self.tunnels = {(d, e.ofport): e for d, e in (endpoints or {}).items()}
        self.by_address = {e.ip: (d, e.ofport) for d, e in (endpoints or {}).items()}
        self.trace: list[str] = []
        # (dpid, table, flow matched or None) of every lookup, in order: what a trace explains
        self.hops: list[tuple[int, int, Flow | None]] = []
        self.connections: set = set()  # (dpid, zone, connection) committed to conntrack
        # (zone, connection as it arrives) -> (connection after translation, ct_state) of
        # the connections committed with a translation, both directions
        self.translations: dict[tuple, tuple] = {}

    def inject(self, dpid: int, in_port: int, **headers) -> list[Delivery]:
        """Deliveries to non-fabric ports (and the controller) of a packet entering here."""
        headers.setdefault("vlans", ())
        headers["vlans"] = tuple(headers["vlans"])
        pending = [(dpid, in_port, headers, 0)]
        delivered = []
        while pending:
            switch, port, packet, hops = pending.pop(0)
            if hops > MAX_HOPS:
                raise SimulationError(f"packet loops: still forwarded after {MAX_HOPS} hops")
            for out_port, out_packet in self._switch(switch, port, packet):
                peer = self.peer.get((switch, out_port))
                if (switch, out_port) in self.tunnels:
                    peer = self.by_address.get(out_packet.pop("tun_ipv4_dst", None))
                    if peer is None:
                        continue  # no switch has that address: lost on the underlay
                    out_packet["tun_ipv4_src"] = self.tunnels[(switch, out_port)].ip
                elif peer is not None:
                    out_packet.pop("tunnel_id", None)  # a cable carries no tunnel metadata
                if peer is not None:
                    # Registers and metadata are the switch's own: a frame leaves them behind.
                    arriving = {k: v for k, v in out_packet.items() if not k.startswith("reg")}
                    pending.append((peer[0], peer[1], arriving, hops + 1))
                else:
                    fields = {
                        k: v
                        for k, v in out_packet.items()
                        if k not in _HIDDEN and not k.startswith("reg")
                    }
                    delivered.append(Delivery(switch, out_port, tuple(sorted(fields.items()))))
        return delivered

    def _lookup(self, dpid: int, table: int, packet: dict):
        classifier = self._classifier(dpid)
        found = classifier.matching(table, packet)
        best = [flow for flow in found if not _conjunctions(flow)]
        # A conjunction completed above the best ordinary match wins, as in Open vSwitch.
        clauses: dict[tuple, set] = {}
        for flow in found:
            for _, conj_id, clause, n in _conjunctions(flow):
                clauses.setdefault((flow.priority, conj_id, n), set()).add(clause)
        floor = max((f.priority for f in best), default=-1)
        for priority, conj_id, n in sorted(clauses, reverse=True):
            if priority <= floor or len(clauses[(priority, conj_id, n)]) < n:
                continue
            for flow in classifier.matching(table, dict(packet, conj_id=conj_id)):
                if flow.priority == priority and ("conj_id", conj_id) in flow.match:
                    return flow
        if not best:
            return None
        top = max(f.priority for f in best)
        winners = [f for f in best if f.priority == top]
        if len(winners) > 1:
            raise SimulationError(f"ambiguous flows in table {table}: {winners}")
        return winners[0]

    def _classifier(self, dpid: int) -> Classifier:
        state = self.states[dpid]
        kept = self._classifiers.get(dpid)
        if kept is None or kept[0] is not state:
            kept = self._classifiers[dpid] = (state, Classifier(state.flows))
        return kept[1]

    def _switch(self, dpid: int, in_port: int, headers: dict):
        if dpid not in self.states:
            return []  # a switch with no state of ours (not connected): nothing goes on
        packet = dict(headers, in_port=in_port, metadata=0, dpid=dpid)
        packet.pop("ct_state", None)  # conntrack state does not leave a switch
        groups = {g.group_id: g for g in self.states[dpid].groups}
        outputs: list[tuple[int | str, dict]] = []  # (port or "controller", packet)
        table: int | None = 0
        while table is not None:
            packet.pop("recirculate", None)
            flow = self._lookup(dpid, table, packet)
            self.trace.append(f"{dpid:x} table {table}: {flow}")
            self.hops.append((dpid, table, flow))
            if flow is None:
                break
            table = None
            for instruction in flow.instructions:
                kind = instruction[0]
                if kind == "apply":
                    for action in instruction[1]:
                        self._act(action, packet, groups, outputs)
                elif kind == "write_metadata":
                    _, value, mask = instruction
                    packet["metadata"] = (packet["metadata"] & ~mask) | (value & mask)
                elif kind == "goto":
                    table = instruction[1]
            if "recirculate" in packet:
                table = packet["recirculate"]
        # OpenFlow drops output to the ingress port unless it is asked for as IN_PORT.
        return [
            (in_port if port == OFPP_IN_PORT else port, p) for port, p in outputs if port != in_port
        ]

    def _act(self, action, packet, groups, outputs):
        kind = action[0]
        if kind == "output":
            outputs.append((action[1], dict(packet)))
        elif kind == "controller":
            outputs.append(("controller", dict(packet)))
        elif kind == "group":
            for bucket in groups[action[1]].buckets:
                copy = dict(packet)
                for bucket_action in bucket:
                    self._act(bucket_action, copy, groups, outputs)
        elif kind == "push_vlan":
            packet["vlans"] = (0,) + packet["vlans"]
        elif kind == "pop_vlan":
            packet["vlans"] = packet["vlans"][1:]
        elif kind == "dec_ttl":
            packet["nw_ttl"] = packet.get("nw_ttl", 64) - 1
        elif kind == "move":
            _, src, dst, _bits = action
            packet[dst] = packet.get(src, 0)
        elif kind == "ct":
            self._conntrack(action, packet)
        elif kind == "ct_clear":
            packet.pop("ct_state", None)
        elif kind == "conjunction":
            raise SimulationError(f"conjunction action outside a clause flow: {action!r}")
        elif kind == "set_field":
            _, field, value = action
            if field == "vlan_vid":
                packet["vlans"] = (value & 0xFFF,) + packet["vlans"][1:]
            else:
                packet[field] = value
        else:
            raise SimulationError(f"unknown action {action!r}")

    def _conntrack(self, action, packet) -> None:
        """Conntrack in the zone of the action's register, on this switch: commit,
        translate (NAT), and with a table, the state the packet goes on with."""
        _, commit, register, recirculate, *nat = action
        zone = (packet["dpid"], packet.get(register, 0) & 0xFFFF)
        connection = _connection(packet)
        translated = self.translations.get((zone, connection))
        if nat and translated is not None:
            _rewrite(packet, translated[0])
            if recirculate is not None:
                packet["ct_state"] = translated[1]
                packet["recirculate"] = recirculate
            return
        if commit:
            self.connections.add((zone, connection))
            if nat and nat[0]:
                side, address = nat[0]
                after = _translated(connection, side, address)
                self.translations[(zone, connection)] = (after, CT_TRK | CT_EST)
                self.translations[(zone, _reverse(after))] = (
                    _reverse(connection),
                    CT_TRK | CT_EST | CT_RPL,
                )
                _rewrite(packet, after)
        if recirculate is not None:
            if (zone, connection) in self.connections:
                packet["ct_state"] = CT_TRK | CT_EST
            elif (zone, _reverse(connection)) in self.connections:
                packet["ct_state"] = CT_TRK | CT_EST | CT_RPL
            else:
                packet["ct_state"] = CT_TRK | CT_NEW
            packet["recirculate"] = recirculate


def _translated(connection: tuple, side: str, address: str) -> tuple:
    proto, src, dst, sport, dport = connection
    return (
        (proto, address, dst, sport, dport)
        if side == "src"
        else (proto, src, address, sport, dport)
    )


def _rewrite(packet: dict, connection: tuple) -> None:
    """Give ``packet`` the addresses of ``connection`` (a NAT keeps the ports here)."""
    version = "ipv6" if "ipv6_src" in packet else "ipv4"
    packet[f"{version}_src"], packet[f"{version}_dst"] = connection[1], connection[2]


def fabric_links(pairs) -> list[Link]:
    """Both directions of each ((dpid, port), (dpid, port)) cable."""
    links = []
    for (a, pa), (b, pb) in pairs:
        links += [Link(a, pa, b, pb), Link(b, pb, a, pa)]
    return links
