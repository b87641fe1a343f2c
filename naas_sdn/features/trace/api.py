"""``POST /v2.0/traces``: a packet from a port's VM traced through the compiled pipeline.

Body ``trace``: ``source_port_id`` (and ``source_ip``, to send from an address the port may
not hold); ``destination_port_id`` or ``destination_ip``;
``protocol`` (``icmp``, ``tcp``, ``udp`` or a number), ``destination_port``, ``ethertype``
(``IPv4``, ``IPv6``), ``ct_state`` (``new``, or ``established``: the reply of a connection
the destination opened). The answer: ``reachable``, the ``hops`` (switch, table, stage, the
matched flow's priority band, its action, the object owning it) and, when dropped,
``dropped_by`` (who and why).

A tenant traces from and to ports it sees (its own, or another's on a network shared with
it: anything else is not found); a hop or a drop owned by an object it does not see shows
the kind of object, without its id. The packet is built from the ports' own MACs and first
fixed addresses; routed when its destination is off the source's subnets (to the router
interface that is the subnet's gateway). The trace reads the desired flows as this process's
programmer compiled them from the request's revision of the model or a later one, and the
fabric it compiled them for: no switch is touched, and no model compiled again (only when no
pass comes within a moment, as when no switch is connected).
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import netaddr

from naas_sdn.features.trace.dataplane import DataplaneView
from naas_sdn.features.trace.fabric import FABRIC_RULES, fabric_resources
from naas_sdn.features.trace.switch import SwitchTracer
from naas_sdn.flows import compiler
from naas_sdn.flows import trace as tracing
from naas_sdn.model import errors
from naas_sdn.model.schema import MISSING
from naas_sdn.model.service import Context, NetworkService
from naas_sdn.northbound import attributes as a
from naas_sdn.northbound.attributes import Attr, AttributeMap
from naas_sdn.northbound.extensions import Extension, Plugin
from naas_sdn.northbound.policy import ADMIN, ANY, as_reader, rule
from naas_sdn.northbound.resources import ResourceDef, refuse_change

PLUGIN = "trace"
PROTOCOLS = {"icmp": 1, "tcp": 6, "udp": 17}
EPHEMERAL = 40000  # the source port of a traced tcp or udp packet
COMPILED_WAIT = 2.0  # seconds a trace waits for the programmer to compile its revision
DEFAULTS = {
    "destination_port_id": None,
    "destination_ip": None,
    "protocol": PROTOCOLS["icmp"],
    "destination_port": None,
    "ethertype": "IPv4",
    "ct_state": "new",
    "mode": "compiled",
    "source_ip": None,
}

TRACE_EXTENSIONS = (
    Extension(
        PLUGIN,
        "Packet trace",
        "Why a port's VM can or cannot reach another port or address: the packet traced "
        "through the compiled pipeline, each hop named with the object that owns it; and "
        "for admins, the switches and cables the controller sees.",
        updated="2026-12-06T00:00:00-00:00",
    ),
)

TRACE_RULES = (
    rule("create_trace", as_reader(ANY), "Trace a packet from a port one sees"),
    rule(
        "create_trace:mode",
        ADMIN,
        "Choose where a packet is traced: mode switch reads the real switches",
    ),
)


@dataclasses.dataclass(frozen=True)
class Answer:
    id: str
    project_id: str
    request: dict
    reachable: bool
    hops: tuple
    dropped_by: dict | None
    drift: list | None = None  # mode switch: where the switches differ from the compiled


def _protocol(attr, value):
    if isinstance(value, str) and value.lower() in PROTOCOLS:
        return PROTOCOLS[value.lower()]
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 255:
        return value
    if isinstance(value, str) and value.isdigit() and int(value) <= 255:
        return int(value)
    raise a.invalid(attr, f"'{value}' is not icmp, tcp, udp or a protocol number (0-255)")


def _posted(name: str, validate, kind: str = "string") -> Attr:
    """A request attribute: posted, checked, shown back as it was asked (its default from
    :data:`DEFAULTS`, none for the source)."""
    return Attr(
        name,
        lambda r: r.request.get(name),
        allow_post=True,
        default=DEFAULTS.get(name, MISSING),
        validate=validate,
        field=name,
        kind=kind,
    )


def _port_number(attr, value):
    return None if value is None else a.integer_range(0, 65535)(attr, value)


TRACE = AttributeMap(
    (
        Attr("id", lambda r: r.id),
        Attr("project_id", lambda r: r.project_id),
        Attr("tenant_id", lambda r: r.project_id),
        _posted("source_port_id", a.uuid_string),
        _posted("destination_port_id", a.uuid_or_none),
        _posted("destination_ip", a.ip_or_none),
        _posted("source_ip", a.ip_or_none),
        _posted("protocol", _protocol, kind="other"),
        _posted("destination_port", _port_number, kind="other"),
        _posted("ethertype", a.one_of("IPv4", "IPv6")),
        _posted("ct_state", a.one_of("new", "established")),
        Attr("reachable", lambda r: r.reachable, kind="boolean"),
        Attr("hops", lambda r: list(r.hops), kind="other"),
        Attr("dropped_by", lambda r: r.dropped_by, kind="other"),
        _posted("mode", a.one_of("compiled", "switch")),
        Attr("drift", lambda r: r.drift, kind="other"),
    )
)


class Tracer:
    def __init__(self, service: NetworkService, switches: SwitchTracer | None = None):
        self.service = service
        self.switches = switches or SwitchTracer()

    def create(self, ctx: Context, items: list[dict]) -> list[Answer]:
        return [self._trace(ctx, {**DEFAULTS, **item}) for item in items]

    def _trace(self, ctx: Context, request: dict) -> Answer:
        source = self.service.get_port(ctx, request["source_port_id"])
        destination = None
        if request.get("destination_port_id"):
            destination = self.service.get_port(ctx, request["destination_port_id"])
        elif not request.get("destination_ip"):
            raise errors.BadRequest(
                resource="trace", msg="either destination_port_id or destination_ip is required"
            )
        model = self.service.snapshot()
        version = 6 if request["ethertype"] == "IPv6" else 4
        addresses = self._addresses(source, destination, request, version)
        established = request["ct_state"] == "established"

        def run(model, fabric, states, classifiers=None, index=None) -> tuple:
            """The compiled trace, the packet traced and the fabric it was traced on."""
            if source.id not in fabric.vifs:
                raise errors.PortNotPlugged(port_id=source.id)
            index = index if index is not None else tracing.ModelIndex(model)
            target = destination or _holder(model, index, source, addresses[1])
            packet = self._packet(model, index, source, target, request, addresses)
            target_id = target.id if target is not None else None
            compiled = tracing.trace(
                states,
                fabric,
                model,
                source.id,
                packet,
                target_id,
                established,
                classifiers,
                index,
            )
            return compiled, packet, fabric, target_id

        view = DataplaneView.of(self.service)
        fabric = view.snapshot()
        if fabric is None or source.id not in fabric.vifs:
            raise errors.PortNotPlugged(port_id=source.id)
        answered = view.with_compiled(model.revision, COMPILED_WAIT, run)
        if answered is None:  # no pass compiled this revision yet (or no switch connected)
            answered = run(model, fabric, compiler.compile_fabric(model, fabric))
        found, packet, traced_on, target_id = answered
        drift = None
        if request["mode"] == "switch":
            # The bridges are asked with nothing held (the programmer publishes meanwhile),
            # then their answer is named against the newest compiled states.
            read = self.switches.read(traced_on, source.id, packet, established)

            def explain(model, _fabric, states, _classifiers=None, index=None):
                index = index if index is not None else tracing.ModelIndex(model)
                return self.switches.explain(
                    read, states, traced_on, model, index, source.id, packet, target_id
                )

            on_switches = view.with_compiled(model.revision, COMPILED_WAIT, explain)
            if on_switches is None:
                on_switches = explain(model, traced_on, compiler.compile_fabric(model, traced_on))
            found, drift = on_switches, _drift(found, on_switches)
        return Answer(
            str(uuid.uuid4()),
            ctx.project_id,
            request,
            found.reachable,
            tuple(self._hop(ctx, step) for step in found.steps),
            self._drop(ctx, found.dropped_by),
            drift,
        )

    def _addresses(self, source, destination, request, version: int) -> tuple[str, str]:
        """The packet's source and destination addresses, or why there are none. A source
        address asked for is sent from as given, whether the port holds it or not: what port
        security does with a VM that sends from another's address."""
        src_ip = request["source_ip"] or _address(source, version)
        if src_ip is None:
            raise errors.PortWithoutAddress(port_id=source.id, version=version)
        if netaddr.IPAddress(src_ip).version != version:
            raise errors.BadRequest(
                resource="trace", msg=f"source_ip is not an {request['ethertype']} address"
            )
        if destination is not None:
            dst_ip = _address(destination, version)
            if dst_ip is None:
                raise errors.PortWithoutAddress(port_id=destination.id, version=version)
            return src_ip, dst_ip
        dst_ip = request["destination_ip"]
        if netaddr.IPAddress(dst_ip).version != version:
            raise errors.BadRequest(
                resource="trace",
                msg=f"destination_ip is not an {request['ethertype']} address",
            )
        return src_ip, dst_ip

    def _packet(self, model, index, source, destination, request, addresses) -> dict:
        src_ip, dst_ip = addresses
        version = netaddr.IPAddress(src_ip).version
        eth_dst = self._next_hop_mac(model, index, source, destination, dst_ip)
        ip = "ipv6" if version == 6 else "ipv4"
        packet: dict[str, Any] = {
            "eth_src": source.mac_address,
            "eth_dst": eth_dst,
            "eth_type": 0x86DD if version == 6 else 0x0800,
            f"{ip}_src": src_ip,
            f"{ip}_dst": dst_ip,
            "ip_proto": request["protocol"],
            "nw_ttl": 64,
        }
        proto = request["protocol"]
        if proto in (1, 58):  # an echo request, ICMPv6's on IPv6
            packet["ip_proto"] = 58 if version == 6 else 1
            packet["icmpv6_type" if version == 6 else "icmpv4_type"] = 128 if version == 6 else 8
        elif proto in (6, 17):
            name = "tcp" if proto == 6 else "udp"
            packet[f"{name}_src"] = EPHEMERAL
            packet[f"{name}_dst"] = request.get("destination_port") or (80 if proto == 6 else 53)
        return packet

    def _next_hop_mac(self, model, index, source, destination, dst_ip: str) -> str:
        """The destination's MAC on the source's network, else its subnet's gateway's."""
        if destination is not None and destination.network_id == source.network_id:
            return destination.mac_address
        for subnet_id, ip in source.fixed_ips:
            subnet = model.subnets.get(subnet_id)
            if (
                subnet is None
                or subnet.gateway_ip is None
                or netaddr.IPAddress(dst_ip) in netaddr.IPNetwork(subnet.cidr)
                or netaddr.IPAddress(ip).version != netaddr.IPAddress(dst_ip).version
            ):
                continue
            gateway = model.ports.get(index.holder(subnet_id, subnet.gateway_ip) or "")
            if gateway is not None and gateway.network_id == source.network_id:
                return gateway.mac_address
        return destination.mac_address if destination is not None else "ff:ff:ff:ff:ff:ff"

    def _visible(self, ctx: Context, resource_type: str | None, resource_id: str | None):
        collection = {
            "port": "ports",
            "network": "networks",
            "router": "routers",
            "protocol_block": "protocol_blocks",
        }.get(resource_type or "")
        if resource_id is None or collection is None:
            return None
        try:
            self.service.get_record(ctx, collection, resource_id)
        except errors.NeutronException:
            return None
        return resource_id

    def _hop(self, ctx: Context, step: tracing.Step) -> dict:
        return {
            "switch": f"{step.switch:016x}",
            "table": step.table,
            "stage": step.stage,
            "priority": step.priority,
            "action": step.action,
            "resource_type": step.resource_type,
            "resource_id": self._visible(ctx, step.resource_type, step.resource_id),
        }

    def _drop(self, ctx: Context, drop: tracing.Drop | None) -> dict | None:
        if drop is None:
            return None
        shown = self._visible(ctx, drop.resource_type, drop.resource_id)
        reason = drop.reason
        if drop.resource_id is not None and shown is None:
            reason = reason.replace(
                drop.resource_id, f"(a {drop.resource_type} of another project)"
            )
        return {"resource_type": drop.resource_type, "resource_id": shown, "reason": reason}


def _drift(compiled: tracing.Trace, on_switches: tracing.Trace) -> list[dict]:
    """Where the switches' trace leaves the compiled one: the first hop that differs (its
    switch, table, and the flow each names), and a verdict that differs."""
    found: list[dict] = []

    def seen(step):
        return (step.priority, step.resource_type, step.resource_id) if step else None

    for position in range(max(len(compiled.steps), len(on_switches.steps))):
        want = compiled.steps[position] if position < len(compiled.steps) else None
        have = on_switches.steps[position] if position < len(on_switches.steps) else None
        where = have or want
        assert where is not None
        if (want and (want.switch, want.table)) != (have and (have.switch, have.table)) or seen(
            want
        ) != seen(have):
            found.append(
                {
                    "switch": f"{where.switch:016x}",
                    "table": where.table,
                    "compiled": _named(want),
                    "installed": _named(have),
                }
            )
            break
    if compiled.reachable != on_switches.reachable:
        found.append({"compiled_reachable": compiled.reachable})
    return found


def _named(step: tracing.Step | None) -> str | None:
    if step is None:
        return None
    return " ".join(filter(None, (step.table, step.priority, step.resource_type)))


def _holder(model, index, source, address: str):
    """The port on the source's network holding ``address`` (what ARP or ND would find
    there), if one does: a trace to an address is judged by its arrival at that port."""
    ip = netaddr.IPAddress(address)
    for subnet in model.subnets_of(source.network_id):
        if ip in netaddr.IPNetwork(subnet.cidr):
            return model.ports.get(index.holder(subnet.id, str(ip)) or "")
    return None


def _address(port, version: int) -> str | None:
    return next((ip for _, ip in port.fixed_ips if netaddr.IPAddress(ip).version == version), None)


def _not_kept(_ctx: Context, _trace_id: str):
    """Traces are answered, not kept: none is found again."""
    raise errors.ResourceNotFound()


def trace_plugin(service: NetworkService) -> Plugin:
    tracer = Tracer(service)
    resource = ResourceDef(
        collection="traces",
        member="trace",
        attributes=TRACE,
        list=lambda ctx: [],  # none kept
        get=_not_kept,
        create=tracer.create,
        update=refuse_change,
        delete=refuse_change,
        not_found=lambda rid: errors.ResourceNotFound(),
        taggable=False,
    )
    return Plugin(
        PLUGIN,
        (resource, *fabric_resources(service)),
        TRACE_EXTENSIONS,
        policy_rules=TRACE_RULES + FABRIC_RULES,
    )
