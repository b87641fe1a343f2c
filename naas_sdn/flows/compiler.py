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

import functools
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

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
    policy_context,
    routed_interfaces,
    router_inputs,
    unheld_gateways,
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
from naas_sdn.flows.placement import NetworkPlace, placements, routers_on
from naas_sdn.flows.policy import PortSecurity, SecurityGroups
from naas_sdn.flows.routing import Routing
from naas_sdn.flows.switching import Switching
from naas_sdn.model.snapshot import ModelSnapshot

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
        dpid: compile_switch(dpid, bound, fabric, options, routers, rules)
        for dpid in fabric.switches
    }


def compile_inputs(model: ModelSnapshot, fabric: FabricSnapshot):
    """What every switch's compilation shares in one pass: bound ports, routers (from one
    walk over the router interfaces) and security group rules (rule key -> RuleInputs)."""
    interfaces = routed_interfaces(model)
    context = policy_context(model)
    return (
        bound_ports(model, fabric, interfaces, context),
        router_inputs(model, interfaces),
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
    and named in the state's ``failed``, instead of failing the whole switch."""
    builders = builders_for(options, features)
    topology = fabric.topology
    if places is None:
        places = placements(bound, routers, topology)
    switch = _switch_scope(builders, dpid, topology)
    parts = {SWITCH_COOKIE: switch.flows}
    groups, meters = set(switch.groups), set(switch.meters)
    failed = {}  # one object's flows that cannot be built are no reason to fail the switch
    local: dict[int, Any] = {}
    local_ports = []
    for b in bound:
        place = places.get(b.network.key)
        if place is None or dpid not in place.needed:
            continue  # no port of the network, or of one routed with it, is seen from here
        try:
            owners, port_meters = _port_scope(builders, dpid, b, topology)
        except Exception as error:
            failed[cookie(Owner.PORT, b.port.key)] = _failure(error)
            continue
        parts.update(owners)
        _, members, claimed, _ = local.setdefault(b.network.key, (b.network, [], set(), b.subnets))
        claimed.update(ip for _, ip in b.port.fixed_ips)
        if b.dpid == dpid:
            members.append(b.ofport)
            local_ports.append(b)
            meters |= port_meters
    shared = _shared_scope(
        builders, dpid, tuple(local_ports), PassInputs(tuple(routers), rules, extra)
    )
    for owner, flows in shared.parts:
        parts[owner] = parts[owner] | flows if owner in parts else flows
    failed.update(shared.failed)
    meters |= shared.meters
    groups |= shared.groups
    for inputs in routers_on(dpid, routers, {k: p.hosts for k, p in places.items()}):
        owner = cookie(Owner.ROUTER, inputs.router.key)
        try:
            built = _router_scope(builders, inputs)
        except Exception as error:
            failed[owner] = _failure(error)
            continue
        if built.flows:  # no loaded feature routes
            parts[owner] = built.flows
        meters |= built.meters
    # Per network: tenants may use the same addresses on different networks.
    held_by_routers = {(i.network.key, i.ip) for r in routers for i in r.interfaces}
    for network, ofports, claimed, subnets in local.values():
        owner = cookie(Owner.NETWORK, network.key)
        seen = LocalNetwork(
            network,
            tuple(ofports),
            unheld_gateways(network, subnets, claimed, held_by_routers),
            places[network.key].flood.get(dpid, ()),
        )
        try:
            built = _network_scope(builders, dpid, seen, topology)
        except Exception as error:
            failed[owner] = _failure(error)
            continue
        parts[owner] = built.flows
        groups |= built.groups
    return ofp.SwitchState(parts, frozenset(groups), frozenset(meters), failed)


def _shared_scope(builders, dpid: int, local_ports: tuple, shared: PassInputs) -> Built:
    """What the switch's ports share, from every builder, by owner (``parts``)."""
    parts: dict[int, frozenset] = {}
    failed: dict[int, str] = {}
    meters: set[ofp.Meter] = set()
    groups: set[ofp.Group] = set()
    for builder in builders:
        built = _checked(builder, builder.add_shared(dpid, local_ports, shared))
        _merge(parts, built.flows)
        for owner, flows in built.parts:
            _check(builder.slice, flows, frozenset(), frozenset())
            parts[owner] = parts[owner] | flows if owner in parts else flows
        failed.update(built.failed)
        meters |= built.meters
        groups |= built.groups
    return Built(
        meters=frozenset(meters),
        groups=frozenset(groups),
        failed=MappingProxyType(failed),
        parts=tuple(parts.items()),
    )


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
    if bound.dpid != dpid and topology.next_hop_port(dpid, bound.dpid) is None:
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
