"""The pure compiler: (logical model, fabric) -> the flows, groups and meters of every switch.

No I/O and no os-ken objects: the same inputs always give the same output, so it is tested
in milliseconds and the programmer can diff its output against what a switch holds.

The compiler knows no feature. It derives the pass's inputs once (``naas_sdn.flows.inputs``),
lays down the pipeline's own table defaults (``layout.TABLE_DEFAULTS``), and walks each
switch scope by scope — the switch, each bound port it sees, what its ports share, each
router, each network — asking every loaded builder (``naas_sdn.flows.builder``) for its
part. Each scope's answer is memoized on exactly its inputs, so an unchanged owner yields
the very same frozenset object on every pass; a port, router or network whose builders
raise is left out and named in ``failed``.
"""

from __future__ import annotations

import collections
import functools
import weakref
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType

from naas_sdn.features import in_tree_builders
from naas_sdn.flows import ofp
from naas_sdn.flows.answers import Services
from naas_sdn.flows.builder import Builder, Built, Options
from naas_sdn.flows.fabric import FabricSnapshot
from naas_sdn.flows.inputs import (
    BoundPort,
    LocalNetwork,
    PassInputs,
    RouterInputs,
    bound_ports,
    delivery,
    live_ports,
    policy_context,
    routed_interfaces,
    router_inputs,
    unheld_gateways,
    with_uplinks,
)
from naas_sdn.flows.layout import (
    SLICES,
    SWITCH_COOKIE,
    TABLE_DEFAULTS,
    Owner,
    Priority,
    Slice,
    Table,
    cookie,
)
from naas_sdn.flows.placement import NetworkPlace, gateways_on, placements, routers_on
from naas_sdn.flows.policy import PortSecurity, SecurityGroups
from naas_sdn.flows.routing import Routing
from naas_sdn.flows.switching import Switching
from naas_sdn.model.frozenmap import FrozenMap
from naas_sdn.model.snapshot import L2_REMOTE_GATEWAY, LOCALNET, ModelSnapshot

__all__ = [
    "FEATURES",
    "Options",
    "builders_for",
    "compile_fabric",
    "compile_inputs",
    "compile_switch",
]

# Every feature with flows, by slice name, in the order of their slices (layout.SLICES, then
# plugins' as they register): what the compiler can load, and the order a pass asks them in.
FEATURES: dict[str, type[Builder]] = {}


def register_feature(builder: type[Builder], feature_slice: Slice) -> None:
    """Make a builder one of the features every switch is compiled with, writing only the
    tables its slice declares (a plugin registers when the operator loads it)."""
    SLICES[feature_slice.name] = feature_slice
    FEATURES[builder.name] = builder
    order = list(SLICES)
    ranked = sorted(FEATURES.items(), key=lambda item: order.index(item[0]))
    FEATURES.clear()
    FEATURES.update(ranked)


# The core's builders, and the in-tree slices' from their own packages (naas_sdn.features).
for _builder in (Switching, Services, PortSecurity, SecurityGroups, Routing, *in_tree_builders()):
    register_feature(_builder, SLICES[_builder.name])


def builders_for(options: Options, features: tuple | None = None) -> tuple:
    """One builder per loaded feature (None: every registered one), the same objects for the
    same options (the scopes' memoization is keyed on them)."""
    return _builders(options, tuple(FEATURES) if features is None else features)


@functools.lru_cache(maxsize=64)
def _builders(options: Options, features: tuple) -> tuple:
    return tuple(FEATURES[name](options) for name in features)


DEFAULT_OPTIONS = Options()


def compile_fabric(
    model: ModelSnapshot, fabric: FabricSnapshot, options: Options = DEFAULT_OPTIONS
) -> dict[int, ofp.SwitchState]:
    """Desired state of every connected switch."""
    bound, routers, rules = compile_inputs(model, fabric)
    return {
        dpid: compile_switch(dpid, bound, fabric, options, routers, rules, extra=model.extra)
        for dpid in fabric.switches
    }


def compile_inputs(model: ModelSnapshot, fabric: FabricSnapshot):
    """What every switch's compilation shares in one pass: bound ports, routers (from one
    walk over the router interfaces) and security group rules (rule key -> RuleInputs)."""
    fabric = with_uplinks(fabric, model)
    interfaces = routed_interfaces(model)
    context = policy_context(model, live_ports(model, fabric))
    return (
        bound_ports(model, fabric, interfaces, context),
        router_inputs(model, interfaces, fabric),
        context.rules,
    )


def compile_switch(
    dpid: int,
    bound: list[BoundPort],
    fabric: FabricSnapshot,
    options: Options,
    routers: Sequence[RouterInputs] = (),
    rules: dict | None = None,
    features: tuple | None = None,
    extra: Mapping = MappingProxyType({}),
    places: Mapping[int, NetworkPlace] | None = None,
) -> ofp.SwitchState:
    """Flows grouped by owner, from every builder of ``features``, for the networks the
    switch needs (``places``: :mod:`naas_sdn.flows.placement`, derived when not given). A
    port, router, network or security group rule whose flows cannot be built is left out
    and named in the state's ``failed``, instead of failing the whole switch.

    Every scope at once; :class:`naas_sdn.flows.compilation.Compilation` keeps the same
    scopes from pass to pass and recomputes only those whose inputs changed."""
    builders = builders_for(options, features)
    topology = fabric.topology
    if places is None:
        places = placements(bound, routers, topology)
    switch = SwitchParts()
    switch.set(("switch",), switch_part(builders, dpid, topology))
    local_ports = []
    seen: dict[int, list[BoundPort]] = {}
    for b in bound:
        place = places.get(b.network.key)
        if place is None or dpid not in place.needed:
            continue  # no port of the network, or of one routed with it, is seen from here
        seen.setdefault(b.network.key, []).append(b)
        if b.dpid == dpid:
            local_ports.append(b)
        switch.set(("port", b.port.id), port_part(builders, dpid, b, topology))
    shared = PassInputs(rules, extra)
    for scope, built in shared_parts(builders, dpid, tuple(local_ports), shared).items():
        switch.set(scope, built)
    hosts = {key: place.hosts for key, place in places.items()}
    for inputs in routers_on(dpid, routers, hosts):
        switch.set(("router", inputs.router.key), router_part(builders, inputs))
    for inputs in gateways_on(dpid, routers):
        switch.set(("gateway", inputs.router.key), gateway_part(builders, dpid, inputs))
    held = held_by_routers(routers)
    for key, ports in seen.items():
        claimed = {ip for b in ports for _, ip in b.port.fixed_ips}
        ofports = tuple(delivery(b) for b in ports if b.dpid == dpid)
        place = places[key]
        local = local_network(
            ports[0], ofports, claimed, held, place, dpid, remote_sites(ports, extra)
        )
        switch.set(("network", key), network_part(builders, dpid, local, topology))
    return switch.state()


class SwitchParts:
    """One switch's desired state as the sum of its scopes' answers (each a :class:`Built`
    with its flows in ``parts``), kept as scopes come, change and go: an owner whose scopes
    did not change keeps its very flows object, and the state is rebuilt only when asked."""

    def __init__(self):
        self.scopes: dict[tuple, Built] = {}
        self._sources: dict[int, dict[tuple, frozenset]] = {}  # owner -> scope -> its flows
        self._parts: dict[int, frozenset] = {}
        self._published: FrozenMap = FrozenMap()  # the parts of the last state asked for
        self._meters: collections.Counter = collections.Counter()
        self._groups: collections.Counter = collections.Counter()
        self._failed: dict[tuple, Mapping] = {}  # scope -> what failed in it
        self._touched: set[int] = set()  # owners whose flows changed since the last state
        self._kinds: dict[str, set[tuple]] = {}  # scope kind ("port", "router"...) -> scopes
        self._state: ofp.SwitchState | None = None
        self._last: ofp.SwitchState | None = None  # the last state asked for
        self._sets_changed = True  # groups or meters differ from the last state's

    def set(self, scope: tuple, built: Built | None) -> None:
        """Make ``built`` the answer of ``scope`` (None: the scope is gone)."""
        old = self.scopes.get(scope)
        if old is built:
            return
        self._state = None
        changes = _changed_parts(old.parts if old else (), built.parts if built else ())
        none: frozenset = frozenset()
        for counter, before, after in (
            (self._meters, old.meters if old else none, built.meters if built else none),
            (self._groups, old.groups if old else none, built.groups if built else none),
        ):
            if before != after:
                counter.subtract(before)
                counter.update(after)
                self._sets_changed = True
        self.scopes.pop(scope, None)
        self._failed.pop(scope, None)
        if built is None:
            self._kinds.get(scope[0], set()).discard(scope)
        else:
            self.scopes[scope] = built
            self._kinds.setdefault(scope[0], set()).add(scope)
            if built.failed:
                self._failed[scope] = built.failed
        for owner, flows in changes:
            sources = self._sources.setdefault(owner, {})
            if flows is None:
                del sources[scope]
            else:
                sources[scope] = flows
            self._touched.add(owner)
            if not sources:
                del self._sources[owner]
                self._parts.pop(owner, None)
            elif len(sources) == 1:
                (self._parts[owner],) = sources.values()
            else:
                self._parts[owner] = frozenset().union(*sources.values())

    def state(self) -> ofp.SwitchState:
        """The switch's state; one that follows the last state asked for names the owners
        whose flows changed since (``SwitchState.since``), so a plan looks at those alone."""
        if self._state is None:
            failed: dict[int, str] = {}
            for found in self._failed.values():
                failed.update(found)
            previous = self._last
            if previous is not None and not self._sets_changed:
                groups, meters = previous.groups, previous.meters  # plans skip them
            else:
                groups = frozenset(g for g, n in self._groups.items() if n > 0)
                meters = frozenset(m for m, n in self._meters.items() if n > 0)
                self._sets_changed = False
            if previous is None:
                self._published = FrozenMap(self._parts)
            else:  # the owners touched alone: a change costs them, not the switch's all
                self._published = self._published.updated(
                    {owner: self._parts.get(owner) for owner in self._touched}
                )
            self._state = ofp.SwitchState(
                self._published,
                groups,
                meters,
                failed,
                since=(weakref.ref(previous), frozenset(self._touched)) if previous else None,
            )
            self._touched = set()
            self._last = self._state
        return self._state

    def of_kind(self, kind: str) -> frozenset[tuple]:
        """The scopes of one kind ("port", "network", "router", "shared"...) held now."""
        return frozenset(self._kinds.get(kind, ()))


def _changed_parts(before: tuple, after: tuple) -> list:
    """(owner, flows or None) of each owner whose flows are not the same object in ``after``
    as in ``before``; answers of one scope keep their owners in order, which makes the usual
    case (a few owners of many changed) one walk side by side."""
    if before is after:
        return []
    seen = _LAST_CHANGES.get((id(before), id(after)))
    if seen is not None and seen[0] is before and seen[1] is after:
        return seen[2]  # every switch with the same rules asks the same
    found = _parts_changes(before, after)
    if len(_LAST_CHANGES) >= 8:
        _LAST_CHANGES.clear()
    _LAST_CHANGES[(id(before), id(after))] = (before, after, found)
    return found


# (id before, id after) -> (before, after, changes): the last few answers of _changed_parts,
# the objects held so that their ids cannot be reused while they are here.
_LAST_CHANGES: dict[tuple, tuple] = {}


def _parts_changes(before: tuple, after: tuple) -> list:
    if len(before) == len(after) and all(a[0] == b[0] for a, b in zip(before, after, strict=True)):
        return [
            (owner, new)
            for (owner, old), (_, new) in zip(before, after, strict=True)
            if old is not new
        ]
    old, new = dict(before), dict(after)
    return [
        (owner, new.get(owner))
        for owner in old.keys() | new.keys()
        if new.get(owner) is not old.get(owner)
    ]


def held_by_routers(routers: Sequence[RouterInputs]) -> frozenset:
    """(network key, address) of every router interface: gateways a router answers for."""
    return frozenset((i.network.key, i.ip) for r in routers for i in r.interfaces)


def local_network(
    any_port: BoundPort,
    ofports: tuple,
    claimed,
    held: frozenset,
    place: NetworkPlace,
    dpid: int,
    sites: tuple = (False, ()),
):
    """A network as switch ``dpid`` sees it (tenants may use the same addresses on different
    networks, so its gateways are its own), from one of its bound ports, its place and what
    :func:`remote_sites` says of it."""
    network = any_port.network
    gateways = unheld_gateways(network, any_port.subnets, claimed, held)
    return LocalNetwork(
        network,
        ofports,
        gateways,
        place.flood.get(dpid, ()),
        place.tunnels.get(dpid, ()),
        place.sources.get(dpid, ()),
        *sites,
    )


def remote_sites(bound: Iterable[BoundPort], extra: Mapping) -> tuple[bool, tuple]:
    """Whether a network with these bound ports reaches a remote site (its bridge device's
    port is bound) or a physical network (its localnet port is): then unknown unicast
    floods, as on a learning bridge, so frames to their hosts get there; and the (MAC, port
    key) of the site's hosts named beforehand."""
    bridges, physical = {}, False
    for b in bound:
        if b.port.device_owner == L2_REMOTE_GATEWAY:
            bridges[b.port.id] = b.port.key
        physical = physical or b.port.device_owner == LOCALNET
    if not bridges:
        return physical, ()
    connections = extra.get("l2_remote_gateway_connections", {})
    macs = sorted(
        (mac, bridges[view.port_id])
        for view in connections.values()
        if view.port_id in bridges
        for mac in view.remote_macs
    )
    return True, tuple(macs)


@functools.lru_cache(maxsize=4096)
def switch_part(builders: tuple, dpid: int, topology) -> Built:
    """The switch's own flows by owner: the switch's, and a counted one (its tunnel drop),
    kept apart as the switch reports them, so that what it holds reads back equal."""
    built = _switch_scope(builders, dpid, topology)
    by_owner: dict[int, set] = {SWITCH_COOKIE: set()}
    for f in built.flows:
        by_owner.setdefault(f.cookie, set()).add(f)
    parts = tuple((owner, frozenset(flows)) for owner, flows in sorted(by_owner.items()))
    return Built(meters=built.meters, groups=built.groups, parts=parts)


@functools.lru_cache(maxsize=65536)
def port_part(builders: tuple, dpid: int, bound: BoundPort, topology) -> Built:
    """A bound port's flows on one switch, by owner; the meters of a port on this switch."""
    try:
        owners, meters = _port_scope(builders, dpid, bound, topology)
    except Exception as error:
        return Built(failed=MappingProxyType({cookie(Owner.PORT, bound.port.key): _failure(error)}))
    return Built(meters=meters if bound.dpid == dpid else frozenset(), parts=owners)


@functools.lru_cache(maxsize=4096)
def router_part(builders: tuple, inputs: RouterInputs) -> Built:
    owner = cookie(Owner.ROUTER, inputs.router.key)
    try:
        built = _router_scope(builders, inputs)
    except Exception as error:
        return Built(failed=MappingProxyType({owner: _failure(error)}))
    # No loaded feature routes: no owner at all.
    return Built(meters=built.meters, parts=((owner, built.flows),) if built.flows else ())


@functools.lru_cache(maxsize=4096)
def gateway_part(builders: tuple, dpid: int, inputs: RouterInputs) -> Built:
    """A router's flows on its gateway's exit switch (its NAT), owned by the router."""
    owner = cookie(Owner.ROUTER, inputs.router.key)
    try:
        built = _union(builders, [b.add_gateway(dpid, inputs) for b in builders])
    except Exception as error:
        return Built(failed=MappingProxyType({owner: _failure(error)}))
    return Built(meters=built.meters, parts=((owner, built.flows),) if built.flows else ())


@functools.lru_cache(maxsize=16384)
def network_part(builders: tuple, dpid: int, local: LocalNetwork, topology) -> Built:
    owner = cookie(Owner.NETWORK, local.network.key)
    try:
        built = _network_scope(builders, dpid, local, topology)
    except Exception as error:
        return Built(failed=MappingProxyType({owner: _failure(error)}))
    return Built(groups=built.groups, parts=((owner, built.flows),))


def shared_parts(builders, dpid: int, local_ports: tuple, shared: PassInputs) -> dict:
    """What the switch's ports share: scope -> answer. ``("shared",)`` holds every builder's
    flows, merged by owner; ``("shared", name)`` a builder's answer already apart by owner
    (``Built.parts``, the buckets of remote addresses), kept as the very tuple it gave, so
    that an unchanged one is skipped by identity."""
    parts: dict[int, frozenset] = {}
    failed: dict[int, str] = {}
    meters: set[ofp.Meter] = set()
    groups: set[ofp.Group] = set()
    scopes: dict[tuple, Built] = {}
    for builder in builders:
        built = _checked(builder, builder.add_shared(dpid, local_ports, shared))
        _merge(parts, built.flows)
        if built.parts:
            _check_parts(builder.slice, built.parts)
            scopes[("shared", builder.name)] = Built(parts=built.parts)
        failed.update(built.failed)
        meters |= built.meters
        groups |= built.groups
    scopes[("shared",)] = Built(
        meters=frozenset(meters),
        groups=frozenset(groups),
        failed=MappingProxyType(failed),
        parts=tuple(parts.items()),
    )
    return scopes


def _failure(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"


def _checked(builder, built: Built) -> Built:
    _check(builder.slice, built.flows, built.meters, built.groups)
    return built


@functools.lru_cache(maxsize=65536)
def _check(feature_slice: Slice, flows: frozenset, meters: frozenset, groups: frozenset) -> None:
    """A slice's check of one answer, once: an unchanged answer (the same frozensets, whose
    hashes Python keeps) is not walked again on every pass. A failing check raises, and
    lru_cache keeps no exception."""
    feature_slice.check(flows, meters, groups)


@functools.lru_cache(maxsize=4096)
def _check_parts(feature_slice: Slice, parts: tuple) -> None:
    """The slice's check of an answer's ``parts``, once for the same tuple."""
    for _, flows in parts:
        _check(feature_slice, flows, frozenset(), frozenset())


def _merge(parts: dict, flows: frozenset) -> None:
    """Add flows to their owners' parts; flows of one owner alone stay the object they are."""
    for owner, mine in _by_owner(flows):
        parts[owner] = parts[owner] | mine if owner in parts else mine


@functools.lru_cache(maxsize=4096)
def _by_owner(flows: frozenset) -> tuple:
    """``flows`` split by owner, in owner order, once for the same answer."""
    owners = {f.cookie for f in flows}
    if len(owners) == 1:
        return ((owners.pop(), flows),)
    return tuple(
        (owner, frozenset(f for f in flows if f.cookie == owner)) for owner in sorted(owners)
    )


def _union(builders, answers) -> Built:
    """Every builder's answer for one scope, checked against its slice, as one."""
    flows, meters, groups = set(), set(), set()
    for builder, built in zip(builders, answers, strict=True):
        _checked(builder, built)
        flows |= built.flows
        meters |= built.meters
        groups |= built.groups
    return Built(frozenset(flows), frozenset(meters), frozenset(groups))


def _pipeline_defaults() -> set[ofp.Flow]:
    """The pipeline's own flows: what each table does with a packet no stage claimed."""
    flows = {
        ofp.flow(table, Priority.TABLE_MISS, ofp.match(), (), SWITCH_COOKIE)
        for table in Table
        if table not in TABLE_DEFAULTS
    }
    flows |= {
        ofp.flow(table, priority, ofp.match(), (ofp.goto(then),), SWITCH_COOKIE)
        for table, (priority, then) in TABLE_DEFAULTS.items()
    }
    return flows


@functools.lru_cache(maxsize=1024)
def _switch_scope(builders: tuple, dpid: int, topology) -> Built:
    built = _union(builders, [b.add_switch(dpid, topology) for b in builders])
    return Built(built.flows | _pipeline_defaults(), built.meters, built.groups)


@functools.lru_cache(maxsize=65536)
def _port_scope(builders: tuple, dpid: int, bound: BoundPort, topology) -> tuple:
    """The port's flows on one switch by owner — the port's, and its counted ones (the
    switch is asked for the statistics of those alone) — and the meters they use. Nothing
    where the port is unreachable from this switch."""
    if bound.dpid != dpid and topology.for_key(bound.network.key).hop(dpid, bound.dpid) is None:
        return (), frozenset()
    built = _union(builders, [b.add_port(dpid, bound, topology) for b in builders])
    by_owner: dict[int, set] = {}
    for f in built.flows:
        by_owner.setdefault(f.cookie, set()).add(f)
    return (
        tuple((owner, frozenset(flows)) for owner, flows in sorted(by_owner.items())),
        built.meters,
    )


@functools.lru_cache(maxsize=4096)
def _router_scope(builders: tuple, inputs: RouterInputs) -> Built:
    return _union(builders, [b.add_router(inputs) for b in builders])


@functools.lru_cache(maxsize=16384)
def _network_scope(builders: tuple, dpid: int, local: LocalNetwork, topology) -> Built:
    return _union(builders, [b.add_network(dpid, local, topology) for b in builders])
