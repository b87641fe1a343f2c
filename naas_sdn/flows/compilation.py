"""Every switch's desired state, kept from pass to pass: a change costs its own scopes.

:func:`naas_sdn.flows.compiler.compile_switch` walks every scope of a switch — each bound
port it sees, each network, router, what its ports share — on every pass; memoized, each
is cheap, but a pass over 20 switches with a few hundred ports is thousands of them, for one
port plugged. :class:`Compilation` keeps each switch's scopes (:class:`SwitchParts`) and,
from what changed since the last pass — which bound ports (by identity), which routers, the
rules, the plugins' records, the fabric — recomputes only:

- a changed port's scope, on the switches that hold its network;
- its network's scope there (local ports, claimed addresses, flooding);
- every scope of a network on a switch it arrives at or leaves (placement changed);
- the shared scope of a switch whose local ports changed, and of every switch when rules
  or the plugins' records did; routers (and gateways, on their exit switches),
  where routers or their placement changed; networks, where the networks routers join or
  the addresses they hold changed.

Everything else keeps its very objects, so the programmer's plan skips it by identity. The
same scope functions as :func:`compile_switch`, so the result is the same (checked after
random changes in tests/unit/test_incremental.py); a new topology or a new switch starts
that switch afresh.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping, Sequence

from naas_sdn.flows import ofp
from naas_sdn.flows.builder import Options
from naas_sdn.flows.compiler import (
    SwitchParts,
    builders_for,
    gateway_part,
    held_by_routers,
    local_network,
    network_part,
    port_part,
    remote_sites,
    router_part,
    shared_parts,
    switch_part,
)
from naas_sdn.flows.inputs import BoundPort, PassInputs, RouterInputs, delivery
from naas_sdn.flows.placement import (
    gateways_on,
    network_place,
    origins_of,
    routed_with,
    routers_on,
)


class Compilation:
    """The desired state of every switch, from one pass's inputs to the next."""

    def __init__(self, options: Options, features: tuple | None = None):
        self._builders = builders_for(options, features)
        self._reset(None)

    def _reset(self, topology) -> None:
        self._topology = topology
        # dpids whose own bound ports changed in the last update: sent last, so that a new
        # port can send only once the way back to it is everywhere
        self.local_changes: set[int] = set()
        self._bound: dict[str, BoundPort] = {}
        self._bound_seen: object = None  # the token of the bound ports last given, if any
        self._ports_of: dict[int, dict[str, BoundPort]] = {}  # network key -> its bound ports
        self._local: dict[tuple, dict[str, BoundPort]] = {}  # (network key, dpid) -> ports there
        self._on_switch: dict[int, dict[str, BoundPort]] = {}  # dpid -> bound ports there
        self._hosts: dict[int, collections.Counter] = {}  # network key -> dpid -> ports there
        self._claimed: dict[int, collections.Counter] = {}  # network key -> address -> ports
        self._places: dict = {}  # network key -> NetworkPlace
        self._routers: tuple = ()
        self._routers_changed: set = set()  # keys of the routers the last update changed
        self._neighbours: dict[int, frozenset] = {}
        self._held: frozenset = frozenset()
        self._rules: dict = {}
        self._extra: dict = {}
        self._switches: dict[int, SwitchParts] = {}

    def update(
        self,
        dpids: Iterable[int],
        bound: Sequence[BoundPort],
        topology,
        routers: Sequence[RouterInputs] = (),
        rules: Mapping | None = None,
        extra: Mapping | None = None,
    ) -> dict[int, ofp.SwitchState]:
        """The desired state of each of ``dpids``; a switch whose scopes did not change gets
        the very state object of the last pass."""
        if topology is not self._topology:
            self._reset(topology)  # new paths and trees: every placement may differ
        routers = tuple(routers)
        rules, extra = dict(rules or {}), dict(extra or {})
        changed = self._bound_changes(bound)
        self._bound_seen = getattr(bound, "token", None)
        self.local_changes = {b.dpid for pair in changed.values() for b in pair if b is not None}
        networks = {b.network.key for pair in changed.values() for b in pair if b is not None}
        routers_changed = routers != self._routers
        before = {r.router.key: r for r in self._routers}
        self._routers_changed = {
            r.router.key for r in routers if before.pop(r.router.key, None) is not r
        } | before.keys()  # the routers not the very objects of the last pass, and the gone
        if routers_changed:
            # Networks are placed anew only where what routers join, or the addresses they
            # hold, changed: a floating IP or a route costs its router alone.
            neighbours, held = routed_with(routers), held_by_routers(routers)
            networks |= {
                key
                for key in neighbours.keys() | self._neighbours.keys()
                if neighbours.get(key) != self._neighbours.get(key)
            }
            networks |= {key for key, _ip in held ^ self._held}
            self._routers, self._neighbours, self._held = routers, neighbours, held
        moved = self._place(networks)
        self._hosts_of: dict | None = None  # network key -> its hosts, when first asked
        shared_changed = (
            rules.keys() != self._rules.keys()
            or any(rules[k] is not self._rules[k] for k in rules)
            or extra.keys() != self._extra.keys()
            or any(extra[k] is not self._extra[k] for k in extra)
        )
        self._rules, self._extra = rules, extra
        states = {}
        for dpid in dpids:
            switch = self._switches.get(dpid)
            if switch is None:
                switch = self._switches[dpid] = SwitchParts()
                switch.set(("switch",), switch_part(self._builders, dpid, topology))
                self._fill(dpid, switch)
            else:
                self._advance(
                    dpid, switch, changed, networks, moved, shared_changed, routers_changed
                )
            states[dpid] = switch.state()
        for gone in self._switches.keys() - states.keys():
            del self._switches[gone]
        return states

    # -- what changed -----------------------------------------------------------------------
    def _bound_changes(self, bound: Sequence[BoundPort]) -> dict[str, tuple]:
        """Port id -> (before, after) of every bound port added, changed or gone, with the
        indexes of networks' ports, hosts and claimed addresses brought up to date. Bound
        ports that say what changed since the ones of the last pass (kept inputs'
        :class:`~naas_sdn.flows.incremental.BoundPorts`) cost those changes alone."""
        changes = getattr(bound, "changes", None)
        follows = getattr(bound, "follows", None)
        given: Mapping[str, BoundPort | None]
        if (
            changes is not None
            and follows is self._bound_seen
            and (follows is not None or not self._bound)  # a first pass: changes are all
        ):
            given = changes
        else:
            every: dict[str, BoundPort | None] = {b.port.id: b for b in bound}
            every.update(dict.fromkeys(self._bound.keys() - every.keys()))
            given = every
        changed: dict[str, tuple] = {}
        for port_id, after in given.items():
            before = self._bound.get(port_id)
            if before is after or (before is not None and before == after):
                continue  # the same, derived afresh or not: keep the object the scopes hold
            changed[port_id] = (before, after)
            if after is None:
                del self._bound[port_id]
            else:
                self._bound[port_id] = after
        for port_id, (before, after) in changed.items():
            if before is not None:
                key = before.network.key
                _drop(self._ports_of, key, port_id)
                _drop(self._local, (key, before.dpid), port_id)
                _drop(self._on_switch, before.dpid, port_id)
                _count(self._hosts, key, [before.dpid], -1)
                _count(self._claimed, key, [ip for _, ip in before.port.fixed_ips], -1)
            if after is not None:
                key = after.network.key
                self._ports_of.setdefault(key, {})[port_id] = after
                self._local.setdefault((key, after.dpid), {})[port_id] = after
                self._on_switch.setdefault(after.dpid, {})[port_id] = after
                _count(self._hosts, key, [after.dpid], 1)
                _count(self._claimed, key, [ip for _, ip in after.port.fixed_ips], 1)
        return changed

    def _place(self, networks: set) -> dict:
        """Place ``networks`` and those routed with them anew; network key -> (before,
        after) of each whose place changed."""
        todo = set(networks)
        for key in networks:
            todo |= self._neighbours.get(key, frozenset())
        hosts = {k: frozenset(c) for k in todo if (c := self._hosts.get(k))}
        for key in todo:
            for other in self._neighbours.get(key, ()):
                if other not in hosts and (c := self._hosts.get(other)):
                    hosts[other] = frozenset(c)
        moved = {}
        for key in todo:
            before = self._places.get(key)
            after = None
            if key in hosts:
                origins = origins_of(key, hosts, self._neighbours)
                after = network_place(self._topology.for_key(key), hosts[key], origins)
            if after is not before:
                moved[key] = (before, after)
                if after is None:
                    del self._places[key]
                else:
                    self._places[key] = after
        return moved

    # -- one switch ---------------------------------------------------------------------------
    def _needed(self, key: int, dpid: int) -> bool:
        place = self._places.get(key)
        return place is not None and dpid in place.needed

    def _fill(self, dpid: int, switch: SwitchParts) -> None:
        """Every scope of a switch new to this compilation."""
        for key in self._places:
            if self._needed(key, dpid):
                for b in self._ports_of.get(key, {}).values():
                    switch.set(
                        ("port", b.port.id), port_part(self._builders, dpid, b, self._topology)
                    )
                self._network(dpid, switch, key)
        self._shared(dpid, switch)
        self._routers_on(dpid, switch)

    def _advance(
        self, dpid, switch, changed, networks, moved, shared_changed, routers_changed
    ) -> None:
        topology, builders = self._topology, self._builders
        local_changed = False
        for port_id, (before, after) in changed.items():
            if after is not None and self._needed(after.network.key, dpid):
                switch.set(("port", port_id), port_part(builders, dpid, after, topology))
            else:
                switch.set(("port", port_id), None)
            local_changed |= any(b is not None and b.dpid == dpid for b in (before, after))
        hosts_changed = False
        for key, (before, after) in moved.items():
            was = before is not None and dpid in before.needed
            now = after is not None and dpid in after.needed
            hosts_changed |= (before is not None and dpid in before.hosts) != (
                after is not None and dpid in after.hosts
            )
            if was == now:
                continue
            for b in self._ports_of.get(key, {}).values():
                part = port_part(builders, dpid, b, topology) if now else None
                switch.set(("port", b.port.id), part)
        for key in networks | moved.keys():
            self._network(dpid, switch, key)
        if local_changed or shared_changed:
            self._shared(dpid, switch)
        if hosts_changed:
            self._routers_on(dpid, switch)
        elif routers_changed:
            self._routers_on(dpid, switch, self._routers_changed)

    def _network(self, dpid: int, switch: SwitchParts, key: int) -> None:
        ports = self._ports_of.get(key)
        if not ports or not self._needed(key, dpid):
            switch.set(("network", key), None)
            return
        mine = sorted(self._local.get((key, dpid), {}).values(), key=lambda b: b.port.key)
        local = local_network(
            next(iter(ports.values())),
            tuple(delivery(b) for b in mine),
            self._claimed.get(key, {}),
            self._held,
            self._places[key],
            dpid,
            remote_sites(ports.values(), self._extra),
        )
        switch.set(("network", key), network_part(self._builders, dpid, local, self._topology))

    def _shared(self, dpid: int, switch: SwitchParts) -> None:
        mine = self._on_switch.get(dpid, {}).values()
        local = tuple(sorted(mine, key=lambda b: b.port.key))
        shared = PassInputs(self._rules, self._extra)
        scopes = shared_parts(self._builders, dpid, local, shared)
        for scope in switch.of_kind("shared") - scopes.keys():
            switch.set(scope, None)
        for scope, built in scopes.items():
            switch.set(scope, built)

    def _routers_on(self, dpid: int, switch: SwitchParts, only: set | None = None) -> None:
        """The router and gateway scopes of a switch: all of them, or those of the routers
        ``only`` names (where placements did not move, the others are as they were)."""
        routers = self._routers
        if only is not None:
            routers = tuple(r for r in routers if r.router.key in only)
        if self._hosts_of is None:  # once per update, for every switch
            self._hosts_of = {key: place.hosts for key, place in self._places.items()}
        wanted = {r.router.key: r for r in routers_on(dpid, routers, self._hosts_of)}
        for scope in switch.of_kind("router"):
            if scope[1] not in wanted and (only is None or scope[1] in only):
                switch.set(scope, None)
        for key, inputs in wanted.items():
            switch.set(("router", key), router_part(self._builders, inputs))
        exits = {r.router.key: r for r in gateways_on(dpid, routers)}
        for scope in switch.of_kind("gateway"):
            if scope[1] not in exits and (only is None or scope[1] in only):
                switch.set(scope, None)
        for key, inputs in exits.items():
            switch.set(("gateway", key), gateway_part(self._builders, dpid, inputs))


def _drop(index: dict, key, port_id: str) -> None:
    ports = index[key]
    del ports[port_id]
    if not ports:
        del index[key]


def _count(counters: dict, key: int, items: Iterable, sign: int) -> None:
    counter = counters.setdefault(key, collections.Counter())
    for item in items:
        counter[item] += sign
        if counter[item] <= 0:
            del counter[item]
    if not counter:
        del counters[key]
