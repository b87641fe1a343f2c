"""``GET /v2.0/fabric-switches`` and ``/v2.0/fabric-links``: the switches this process's
controller sees and the cables between them, for admins (the topology page draws them).

Read from the dataplane view the runtime publishes (:mod:`naas_sdn.features.trace.dataplane`),
as discovered: a link is a cable probes crossed both ways or one way (``bidirectional``).
Policy ``get_fabric_switch`` and ``get_fabric_link``: admins; anyone else lists nothing and
is answered 404, as Neutron does for its agents' details kept from tenants.
"""

from __future__ import annotations

import collections
import dataclasses
import re
from collections.abc import Callable

from naas_sdn.features.trace.dataplane import DataplaneView
from naas_sdn.flows.fabric import FabricSnapshot
from naas_sdn.model import errors
from naas_sdn.model.service import Context, NetworkService
from naas_sdn.northbound.attributes import Attr, AttributeMap
from naas_sdn.northbound.policy import ADMIN, rule
from naas_sdn.northbound.resources import ResourceDef, read_only

FABRIC_RULES = (
    rule("get_fabric_switch", ADMIN, "Get the switches the controller sees"),
    rule("get_fabric_link", ADMIN, "Get the cables between the switches"),
)
_SWITCH_ID = re.compile(r"^[0-9a-f]{16}$")
_LINK_ID = re.compile(r"^[0-9a-f]{16}:\d+-[0-9a-f]{16}:\d+$")


@dataclasses.dataclass(frozen=True)
class FabricSwitch:
    id: str  # the datapath id, 16 hex digits
    bridge: str | None  # its Open vSwitch bridge, as its interfaces name it
    tunnel_ip: str | None  # its address on the underlay, if it has one
    bound_ports: int  # the API's ports whose VIF is plugged there
    physical_networks: tuple[str, ...]  # those it has an uplink to


@dataclasses.dataclass(frozen=True)
class FabricLink:
    id: str  # "<switch>:<port>-<switch>:<port>", the lower end first
    switch_a: str
    port_a: int
    switch_b: str
    port_b: int
    bidirectional: bool  # probes crossed it both ways (else one way only: half seen)


SWITCH = AttributeMap(
    (
        Attr("id", lambda s: s.id),
        Attr("bridge", lambda s: s.bridge),
        Attr("tunnel_ip", lambda s: s.tunnel_ip),
        Attr("bound_ports", lambda s: s.bound_ports, kind="other"),
        Attr("physical_networks", lambda s: list(s.physical_networks), kind="other"),
    )
)
LINK = AttributeMap(
    (
        Attr("id", lambda link: link.id),
        Attr("switch_a", lambda link: link.switch_a),
        Attr("port_a", lambda link: link.port_a, kind="other"),
        Attr("switch_b", lambda link: link.switch_b),
        Attr("port_b", lambda link: link.port_b, kind="other"),
        Attr("bidirectional", lambda link: link.bidirectional, kind="boolean"),
    )
)


def _admin(ctx: Context, _record) -> bool:
    """The default rules' decision (ADMIN), the same for every switch and link."""
    return ctx.is_admin


class FabricReader:
    def __init__(self, service: NetworkService):
        self.service = service

    def _fabric(self) -> FabricSnapshot:
        return DataplaneView.of(self.service).snapshot() or FabricSnapshot()

    def switches(self, ctx: Context) -> list[FabricSwitch]:
        fabric = self._fabric()
        ports = self.service.records("ports")
        bridges: dict[int, str] = {}
        bound: collections.Counter = collections.Counter()
        for port_id, where in fabric.vifs.items():
            bridges.setdefault(where.dpid, where.bridge)
            bound[where.dpid] += port_id in ports
        uplinks: dict[int, set[str]] = collections.defaultdict(set)
        for physnet, places in fabric.uplinks.items():
            for where in places:
                bridges.setdefault(where.dpid, where.bridge)
                uplinks[where.dpid].add(physnet)
        return [
            FabricSwitch(
                f"{dpid:016x}",
                bridges.get(dpid),
                fabric.endpoints[dpid].ip if dpid in fabric.endpoints else None,
                bound[dpid],
                tuple(sorted(uplinks[dpid])),
            )
            for dpid in sorted(fabric.switches)
        ]

    def switch(self, ctx: Context, switch_id: str) -> FabricSwitch:
        found = next((s for s in self.switches(ctx) if s.id == switch_id), None)
        if found is None:
            raise errors.ResourceNotFound()
        return found

    def links(self, ctx: Context) -> list[FabricLink]:
        seen = self._fabric().links
        cables = {}
        for link in seen:
            ends = sorted([(link.src_dpid, link.src_port), (link.dst_dpid, link.dst_port)])
            (a, port_a), (b, port_b) = ends
            both = link.reversed() in seen
            cables[(a, port_a, b, port_b)] = FabricLink(
                f"{a:016x}:{port_a}-{b:016x}:{port_b}",
                f"{a:016x}",
                port_a,
                f"{b:016x}",
                port_b,
                both,
            )
        return [cables[key] for key in sorted(cables)]

    def link(self, ctx: Context, link_id: str) -> FabricLink:
        found = next((link for link in self.links(ctx) if link.id == link_id), None)
        if found is None:
            raise errors.ResourceNotFound()
        return found


def _named_by(pattern: re.Pattern) -> Callable[[str], bool]:
    """What a member's id must look like (anything else is not found)."""
    return lambda value: bool(pattern.match(value))


def fabric_resources(service: NetworkService) -> tuple[ResourceDef, ...]:
    reader = FabricReader(service)
    kinds = (
        ("fabric_switches", "fabric_switch", SWITCH, reader.switches, reader.switch, _SWITCH_ID),
        ("fabric_links", "fabric_link", LINK, reader.links, reader.link, _LINK_ID),
    )
    return tuple(
        read_only(
            collection,
            member,
            attributes,
            listed,
            shown,
            lambda rid: errors.ResourceNotFound(),
            _named_by(pattern),
            _admin,
        )
        for collection, member, attributes, listed, shown, pattern in kinds
    )
