"""Which switches hold a network's entries: what Neutron's l2population and OVN's
conditional monitoring do, for the cabled fabric.

A network's entries (its ports' lookups, outputs, ARP answers and routes, its flood group
and fabric untagging) go only to the switches that can see its traffic:

- its *hosts*: the switches with a bound port of it;
- its *origins*: its hosts, and the hosts of every network that shares a router with it
  (routing is distributed: a frame is routed on the switch it entered, then looked up in
  the destination network there);
- the switches on the hop-by-hop routes from each origin to each host (transit);
- the part of the spanning tree that joins its hosts, where its broadcasts travel; a
  switch floods a network's broadcast only toward the tree links that lead to its hosts.

A switch where none of this holds gets nothing of the network; the first port of a network
on a switch brings its entries there, the last one leaving takes them away. Routers go to
the hosts of their networks. Pure, and memoized on exactly its inputs.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from naas_sdn.flows.inputs import BoundPort, RouterInputs


@dataclasses.dataclass(frozen=True)
class NetworkPlace:
    """Where one network's entries go."""

    hosts: frozenset  # dpids with a bound port of the network
    needed: frozenset  # dpids that hold its entries
    flood: Mapping  # dpid -> tree ports its broadcasts leave by there (sorted tuple)
    # host dpid -> the underlay addresses of the other hosts only a tunnel reaches from it
    # (sorted tuple): a broadcast from a port there is copied to each (head-end replication)
    tunnels: Mapping = dataclasses.field(default_factory=lambda: MappingProxyType({}))
    # host dpid -> the underlay addresses its frames of the network may come in a tunnel
    # from: the origins only a tunnel reaches it from (anything else on the underlay, such
    # as a remote site's endpoint, cannot put a frame into the network)
    sources: Mapping = dataclasses.field(default_factory=lambda: MappingProxyType({}))


def routed_with(routers: Iterable[RouterInputs]) -> dict[int, frozenset]:
    """Network key -> the keys of the networks that share a router with it."""
    found: dict[int, set] = {}
    for inputs in routers:
        keys = inputs.network_keys
        for key in keys:
            found.setdefault(key, set()).update(keys)
    return {key: frozenset(keys) for key, keys in found.items()}


@functools.lru_cache(maxsize=16384)
def network_place(topology, hosts: frozenset, origins: frozenset) -> NetworkPlace:
    """Where a network with bound ports on ``hosts`` and traffic from ``origins`` is needed,
    on ``topology``: the view that carries it (:meth:`Topology.for_key`)."""
    needed = set(origins | hosts)
    for host in hosts:
        for origin in origins:
            needed.update(topology.route(origin, host))
    subtree = topology.subtree(hosts)
    needed.update(subtree)
    flood = {
        dpid: tuple(sorted(topology.port_toward(dpid, peer) for peer in peers))
        for dpid, peers in subtree.items()
    }
    tunnels, sources = {}, {}
    for host in hosts:
        reached = {other: topology.tunnel_toward(host, other) for other in origins}
        if any(reached.values()):
            tunnels[host] = tuple(sorted(reached[o].ip for o in hosts if reached.get(o)))
            sources[host] = tuple(sorted({e.ip for e in reached.values() if e is not None}))
    return NetworkPlace(
        hosts,
        frozenset(needed),
        MappingProxyType(flood),
        MappingProxyType(tunnels),
        MappingProxyType(sources),
    )


def placements(bound: Iterable[BoundPort], routers: Iterable[RouterInputs], topology) -> dict:
    """Network key -> NetworkPlace of every network with a bound port."""
    hosts: dict[int, set] = {}
    for b in bound:
        hosts.setdefault(b.network.key, set()).add(b.dpid)
    return places(
        {key: frozenset(dpids) for key, dpids in hosts.items()}, routed_with(routers), topology
    )


def places(hosts: Mapping[int, frozenset], neighbours: Mapping, topology) -> dict:
    """Network key -> NetworkPlace, from each network's hosts and the networks routed with
    it (:func:`routed_with`)."""
    return {
        key: network_place(topology.for_key(key), mine, origins_of(key, hosts, neighbours))
        for key, mine in hosts.items()
    }


def origins_of(key: int, hosts: Mapping[int, frozenset], neighbours: Mapping) -> frozenset:
    """The switches a network's traffic can enter the fabric at: its hosts and those of the
    networks routed with it."""
    found = set(hosts.get(key, ()))
    for other in neighbours.get(key, ()):
        found |= hosts.get(other, frozenset())
    return frozenset(found)


def routers_on(dpid: int, routers: Iterable[RouterInputs], hosts: Mapping[int, frozenset]):
    """The routers switch ``dpid`` routes for: those with a network that has a port there
    (a gateway's external network has its localnet port on the exit switch)."""
    return [
        inputs
        for inputs in routers
        if any(dpid in hosts.get(key, ()) for key in inputs.network_keys)
    ]


def gateways_on(dpid: int, routers: Iterable[RouterInputs]):
    """The routers whose gateway leaves the fabric at switch ``dpid``: their NAT is there."""
    return [
        inputs
        for inputs in routers
        if inputs.gateway is not None and inputs.gateway.exit_dpid == dpid
    ]
