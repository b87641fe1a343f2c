"""The trace on the real switches: ``ovs-appctl ofproto/trace`` on each bridge the packet
crosses, its flows' cookies named back to the objects that own them.

Open vSwitch's own trace runs the packet through the flows the switch holds (its classifier,
its conntrack recirculations), so what it answers is what the switch does, whatever was
compiled: beside the compiled trace, a difference is drift. It reaches the ovs-vswitchd of
this host only (``ovs-appctl`` talks to a local socket): a switch elsewhere cannot be read.
From one bridge to the next the packet goes as the last section's ``Final flow`` says it
leaves (its VLAN pushed, its MACs rewritten), into the port at the other end of the cable.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Mapping

from naas_sdn.flows import trace as tracing
from naas_sdn.flows.fabric import FabricSnapshot
from naas_sdn.flows.layout import identity
from naas_sdn.flows.ofp import SwitchState
from naas_sdn.flows.simulate import MAX_HOPS, Delivery
from naas_sdn.model import errors

TIMEOUT = 10.0  # seconds an ovs-appctl or ovs-vsctl call may take
_TABLE_LINE = re.compile(r"^\s*(\d+)\. (?:(.*?), )?priority (\d+)(?:, cookie (0x[0-9a-f]+))?$")
_NO_MATCH = re.compile(r"^\s*(\d+)\. No match\.?$")
_OUTPUT = re.compile(r"^output:(\d+)$")
# what a packet leaving a bridge does not carry to the next: the bridge's registers,
# metadata, conntrack and recirculation state, where it came in (and "eth", which a trace
# prints after a recirculation but does not read)
_LEFT_BEHIND = re.compile(
    r"^(reg\d+|xreg\d+|metadata|in_port|recirc_id|dp_hash|ct_\w+|skb_\w+|pkt_mark|"
    r"tun_\w+|packet_type|vlan_tci1|tcp_flags|eth)$"
)


class SwitchTraceUnavailable(errors.Conflict):
    message = "The trace cannot read switch %(switch)s: %(reason)s."


def _run(*command: str) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise OSError(f"{command[0]}: {error}") from error
    if done.returncode:
        raise OSError(done.stderr.strip() or f"{command[0]} exited {done.returncode}")
    return done.stdout


def local_bridge(dpid: int) -> str | None:
    """The name of this host's bridge with datapath id ``dpid``, if there is one."""
    found = _run(
        "ovs-vsctl",
        f"--timeout={int(TIMEOUT)}",
        "--bare",
        "--columns=name",
        "find",
        "Bridge",
        f"datapath_id={dpid:016x}",
    ).split()
    return found[0] if found else None


def flow_text(packet: Mapping, in_port: int) -> str:
    """The simulator's packet headers as the flow ``ofproto/trace`` reads."""
    fields = [f"in_port={in_port}", f"dl_src={packet['eth_src']}", f"dl_dst={packet['eth_dst']}"]
    fields.append(f"dl_type=0x{packet['eth_type']:04x}")
    version = "ipv6" if "ipv6_src" in packet else "ip" if "ipv4_src" in packet else None
    if version == "ip":
        fields += [f"nw_src={packet['ipv4_src']}", f"nw_dst={packet['ipv4_dst']}"]
    elif version == "ipv6":
        fields += [f"ipv6_src={packet['ipv6_src']}", f"ipv6_dst={packet['ipv6_dst']}"]
    if version:
        fields += [f"nw_proto={packet.get('ip_proto', 0)}", f"nw_ttl={packet.get('nw_ttl', 64)}"]
    for name, as_ovs in (("icmpv4_type", "icmp_type"), ("icmpv6_type", "icmp_type")):
        if name in packet:
            fields += [f"{as_ovs}={packet[name]}", "icmp_code=0"]
    for l4 in ("tcp", "udp"):
        if f"{l4}_dst" in packet:
            fields += [f"tp_src={packet[f'{l4}_src']}", f"tp_dst={packet[f'{l4}_dst']}"]
    return ",".join(fields)


def _leaving(final: str, in_port: int) -> str:
    """The flow arriving at the next bridge, from the one that left this bridge."""
    kept = [
        field
        for field in final.split(",")
        if field and not _LEFT_BEHIND.match(field.split("=", 1)[0])
    ]
    return ",".join([f"in_port={in_port}", *kept])


def parse(text: str) -> tuple[list[tuple[int, int | None, int, list[str]]], list[int], bool, str]:
    """(lookups, output ports, to the controller, the flow last seen leaving) of one
    bridge's ``ofproto/trace`` answer, its recirculations followed."""
    lookups: list[tuple[int, int | None, int, list[str]]] = []
    outputs: list[int] = []
    controller = False
    final = ""
    first_flow = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("Flow: ") and not first_flow:
            first_flow = line[len("Flow: ") :]
        elif line.startswith("Final flow: "):
            value = line[len("Final flow: ") :]
            final = first_flow if value == "unchanged" else value
        elif match := _TABLE_LINE.match(raw):
            table, _fields, priority, cookie = match.groups()
            lookups.append((int(table), int(priority), int(cookie or "0", 16), []))
        elif match := _NO_MATCH.match(raw):
            lookups.append((int(match.group(1)), None, 0, []))
        elif lookups and raw.startswith("    ") and not line.startswith("->"):
            lookups[-1][3].append(line)
            if out := _OUTPUT.match(line):
                outputs.append(int(out.group(1)))
            elif line.startswith(("controller", "CONTROLLER")):
                controller = True
    return lookups, outputs, controller, final


class SwitchTracer:
    """Traces on the real bridges of this host (``appctl`` and ``bridge_of`` replaceable:
    a test names its own)."""

    def __init__(
        self,
        appctl: Callable[..., str] = lambda *args: _run("ovs-appctl", *args),
        bridge_of: Callable[[int], str | None] = local_bridge,
    ):
        self._appctl = appctl
        self._bridge_of = bridge_of

    def read(self, fabric: FabricSnapshot, source_port: str, packet: Mapping, established: bool):
        """What the bridges do with the packet: (lookups as (dpid, table, priority, cookie,
        actions), deliveries). Only Open vSwitch is asked, not the model: this runs with
        nothing of the controller's held."""
        source = fabric.vifs[source_port]
        peer = {
            (link.src_dpid, link.src_port): (link.dst_dpid, link.dst_port) for link in fabric.links
        }
        ct_next = ["--ct-next", "trk,est"] * 4 if established else []
        pending = [(source.dpid, flow_text(packet, source.ofport), 0)]
        lookups: list[tuple[int, int, int | None, int, list[str]]] = []
        deliveries: list[Delivery] = []
        while pending:
            dpid, flow, crossed = pending.pop(0)
            if crossed > MAX_HOPS:
                break
            bridge = self._bridge(dpid)
            try:
                text = self._appctl("ofproto/trace", bridge, flow, *ct_next)
            except OSError as error:
                raise SwitchTraceUnavailable(switch=f"{dpid:016x}", reason=str(error)) from error
            found, outputs, controller, final = parse(text)
            lookups += [(dpid, *lookup) for lookup in found]
            if controller:
                deliveries.append(Delivery(dpid, "controller", ()))
            for port in outputs:
                cable_end = peer.get((dpid, port))
                if cable_end is None:
                    deliveries.append(Delivery(dpid, port, ()))
                else:
                    pending.append((cable_end[0], _leaving(final, cable_end[1]), crossed + 1))
        return lookups, tuple(deliveries)

    @staticmethod
    def explain(
        read: tuple,
        states: Mapping[int, SwitchState],
        fabric: FabricSnapshot,
        model,
        index: tracing.ModelIndex,
        source_port: str,
        packet: Mapping,
        destination_port: str | None,
    ) -> tracing.Trace:
        """The bridges' answer as a trace: each lookup named by its cookie's owner, the drop
        explained from the compiled flow the switch's is (or as drift, when none is)."""
        lookups, deliveries = read
        steps = tuple(_step(index, dpid, table, (p, c, a)) for dpid, table, p, c, a in lookups)
        reachable = tracing.reached(fabric, deliveries, destination_port)
        dropped = None
        if not reachable:
            known = [
                (dpid, table, _compiled(states.get(dpid), table, priority, cookie))
                for dpid, table, priority, cookie, _a in lookups
            ]
            if known and known[-1][2] is None and lookups[-1][2] is not None:
                dropped = tracing.Drop(
                    steps[-1].resource_type or "switch",
                    steps[-1].resource_id,
                    f"switch {lookups[-1][0]:016x} holds a flow in table {steps[-1].table} "
                    "that was not compiled (drift): it drops the packet",
                )
            else:
                dropped = tracing.explain_drop(
                    model, index, known, source_port, destination_port, packet
                )
        return tracing.Trace(reachable, steps, deliveries, dropped)

    def _bridge(self, dpid: int) -> str:
        try:
            bridge = self._bridge_of(dpid)
        except OSError as error:
            raise SwitchTraceUnavailable(switch=f"{dpid:016x}", reason=str(error)) from error
        if bridge is None:
            raise SwitchTraceUnavailable(
                switch=f"{dpid:016x}", reason="it is not a bridge of this controller's host"
            )
        return bridge


def _compiled(state: SwitchState | None, table: int, priority: int | None, cookie: int):
    """The compiled flow the switch's matched flow is (same table, priority and owner)."""
    if state is None or priority is None:
        return None
    part = state.parts.get(identity(cookie), ())
    return next((f for f in part if f.table == table and f.priority == priority), None)


def _step(index: tracing.ModelIndex, dpid: int, table: int, installed: tuple) -> tracing.Step:
    priority, cookie, actions = installed
    return tracing.step(index, dpid, table, priority, cookie, ", ".join(actions) or "drop")
