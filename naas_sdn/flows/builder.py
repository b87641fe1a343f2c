"""The one interface every feature's flow builder answers (in the spirit of Faucet's managers).

The compiler walks a switch scope by scope — the switch itself, each bound port as the switch
sees it, each network there, each router, and what the switch's ports share — and asks every
loaded builder for its part of each, the same way for every feature::

    for builder in builders:
        built = builder.add_port(dpid, bound, topology)

A builder returns :class:`Built`: its flows, and the meters and groups they need, declared
right there instead of found by scanning flows. What a builder may write is its slice in
:data:`naas_sdn.flows.layout.SLICES`; the compiler checks each answer against it. Builders
are pure and hold only the compile options, so the compiler memoizes each scope's answers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType

from naas_sdn.flows.inputs import BoundPort, LocalNetwork, PassInputs, RouterInputs
from naas_sdn.flows.layout import SLICES, Slice


@dataclasses.dataclass(frozen=True)
class Options:
    packet_in_rate: int = 500  # discovery probes a switch may send to the controller, per s
    port_packet_in_rate: int = 20  # DHCP / RS / NS packets one VM may send to the controller, per s


@dataclasses.dataclass(frozen=True)
class Built:
    """A builder's answer for one scope: flows, the meters and groups they use, and (for the
    shared scope, where one object's failure must not fail its neighbours) what failed."""

    flows: frozenset = frozenset()
    meters: frozenset = frozenset()
    groups: frozenset = frozenset()
    failed: Mapping[int, str] = dataclasses.field(default_factory=lambda: MappingProxyType({}))
    # ((owner, flows), ...) beside ``flows``, already apart by owner: an answer of many owners
    # (the buckets of remote addresses) the compiler neither joins nor splits again.
    parts: tuple = ()


NOTHING = Built()


class Builder:
    """One feature's flows, scope by scope; a feature answers the scopes it has part in and
    inherits "nothing" for the others. ``name`` picks its slice of the layout."""

    name = ""

    def __init__(self, options: Options):
        self.options = options

    @property
    def slice(self) -> Slice:
        return SLICES[self.name]

    def add_switch(self, dpid: int, topology) -> Built:
        """Per-switch flows, owned by the switch (Owner.SWITCH)."""
        return NOTHING

    def add_port(self, dpid: int, bound: BoundPort, topology) -> Built:
        """A bound port as switch ``dpid`` sees it: its own switch, or one that reaches it
        (never asked where the port is unreachable). Flows owned by the port."""
        return NOTHING

    def add_network(self, dpid: int, local: LocalNetwork, topology) -> Built:
        """A network with a bound port somewhere, on switch ``dpid``: owned by the network."""
        return NOTHING

    def add_router(self, inputs: RouterInputs) -> Built:
        """A router, the same on every switch (distributed routing): owned by the router."""
        return NOTHING

    def add_gateway(self, dpid: int, inputs: RouterInputs) -> Built:
        """A router whose gateway leaves the fabric at switch ``dpid`` (its exit): what only
        that switch does for it (NAT). Owned by the router."""
        return NOTHING

    def add_shared(self, dpid: int, ports: tuple, inputs: PassInputs) -> Built:
        """What the ports on switch ``dpid`` (``ports``: their BoundPorts) share."""
        return NOTHING


class LocalBuilder(Builder):
    """A feature whose port flows are all on the port's own switch (policy stages, counters):
    it answers :meth:`add_local_port`, asked there alone."""

    def add_port(self, dpid: int, bound: BoundPort, topology) -> Built:
        return self.add_local_port(bound) if bound.dpid == dpid else NOTHING

    def add_local_port(self, bound: BoundPort) -> Built:
        """A bound port on the switch being compiled, which holds it. Flows owned by the port
        (or its counter owner)."""
        return NOTHING
