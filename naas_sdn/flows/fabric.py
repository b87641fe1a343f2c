"""The physical side the compiler needs: switches, links between them, tunnel endpoints,
where VIFs sit.

Built by the apps from OpenFlow (switches, ports), link discovery and OVSDB (VIF binding,
tunnel endpoints); immutable, so the compiler reads it without locks. Topology questions
(spanning tree, shortest paths, which switches only a tunnel joins) are answered once per
fabric snapshot with networkx.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from types import MappingProxyType

import networkx as nx

MAX_VLAN = 4094  # the highest network key a cable can carry, as an 802.1Q VLAN id


@dataclasses.dataclass(frozen=True, order=True)
class Link:
    """A unidirectional fabric link as discovered: a probe sent out src arrived at dst."""

    src_dpid: int
    src_port: int
    dst_dpid: int
    dst_port: int

    def reversed(self) -> Link:
        return Link(self.dst_dpid, self.dst_port, self.src_dpid, self.src_port)


@dataclasses.dataclass(frozen=True)
class VifLocation:
    """Where an OVS Interface carrying ``external_ids:iface-id`` is plugged."""

    bridge: str
    dpid: int
    ofport: int


@dataclasses.dataclass(frozen=True, order=True)
class TunnelEndpoint:
    """A switch's address on the IP underlay (the operator's ``external_ids:naas-encap-ip``
    on its bridge) and the OpenFlow port of the flow-based tunnel the controller made there."""

    ip: str
    ofport: int


@dataclasses.dataclass(frozen=True)
class FabricSnapshot:
    switches: frozenset = frozenset()  # dpids connected to the controller
    links: frozenset = frozenset()  # of Link, both directions when healthy
    vifs: Mapping[str, VifLocation] = dataclasses.field(  # iface-id -> location
        default_factory=lambda: MappingProxyType({})
    )
    endpoints: Mapping[int, TunnelEndpoint] = dataclasses.field(  # dpid -> its endpoint
        default_factory=lambda: MappingProxyType({})
    )
    # physical network -> the interfaces that lead to it (``external_ids:naas-physnet``), by
    # switch then ofport: the first is where its provider networks leave the fabric
    uplinks: Mapping[str, tuple[VifLocation, ...]] = dataclasses.field(
        default_factory=lambda: MappingProxyType({})
    )
    # (network id, address) -> MAC of hosts of physical networks the controller resolved by
    # ARP: the routers beyond router gateways (the external subnets' gateways)
    neighbours: Mapping[tuple[str, str], str] = dataclasses.field(
        default_factory=lambda: MappingProxyType({})
    )

    @functools.cached_property
    def topology(self) -> Topology:
        dpids = frozenset(self.switches | {vif.dpid for vif in self.vifs.values()})
        return topology_of(self.links, dpids, frozenset(self.endpoints.items()))


@functools.lru_cache(maxsize=16)
def topology_of(links: frozenset, dpids: frozenset, endpoints: frozenset = frozenset()):
    """One Topology object per distinct fabric, so flows memoized against it stay valid
    across snapshots that differ only in VIFs or the model."""
    return Topology(links, dpids, endpoints)


@dataclasses.dataclass(frozen=True)
class Hop:
    """How a frame leaves a switch toward another: out a cabled port, or into the tunnel
    port with the destination switch's underlay address (``tunnel_dst``)."""

    port: int
    tunnel_dst: str | None = None


class Topology:
    """Loop-free flooding and shortest-path unicast over the bidirectional links; between
    switches no cable joins, a direct tunnel when both have an endpoint.

    A part of the fabric joined by cables carries a network as a VLAN (its key), so only
    networks with a key of 1..4094 ride cables; :meth:`for_key` gives the view a network's
    entries are built against: this one, or the same switches with their tunnels only.
    """

    def __init__(self, links, dpids, endpoints=frozenset()):
        self.endpoints: dict[int, TunnelEndpoint] = dict(endpoints)
        self._links, self._dpids = links, dpids
        graph = nx.Graph()
        graph.add_nodes_from(sorted(dpids))
        # (a, b) -> a's port toward b, lowest port of parallel links
        self._port: dict[tuple[int, int], int] = {}
        for link in sorted(links):
            if link.reversed() not in links:
                continue  # one-way evidence only: never forward over it
            a, b = link.src_dpid, link.dst_dpid
            if (a, b) not in self._port or link.src_port < self._port[(a, b)]:
                self._port[(a, b)] = link.src_port
            graph.add_edge(a, b)
        self.graph = graph
        # The cabled parts: switches of one reach each other by cable, never by tunnel.
        self._part = {dpid: min(part) for part in nx.connected_components(graph) for dpid in part}
        # Kruskal over edges inserted in sorted order: the same tree for the same links.
        self.tree = nx.minimum_spanning_tree(graph, algorithm="kruskal")
        self._paths: dict[int, dict] = {}
        self._subtrees: dict[frozenset, dict[int, frozenset]] = {}

    def for_key(self, key: int) -> Topology:
        """The view a network of this key is carried on: a key above the VLAN range cannot
        be tagged on a cable, so that network travels in tunnels only."""
        return self if key <= MAX_VLAN else self.tunnels_only

    @functools.cached_property
    def tunnels_only(self) -> Topology:
        if not self._links:
            return self
        return topology_of(frozenset(), self._dpids, frozenset(self.endpoints.items()))

    def tunnel_toward(self, a: int, b: int) -> TunnelEndpoint | None:
        """``b``'s endpoint if a frame goes from ``a`` to ``b`` in a tunnel: no cable joins
        them and both have an endpoint."""
        if a == b or self._part.get(a, a) == self._part.get(b, b):
            return None
        if a not in self.endpoints:
            return None
        return self.endpoints.get(b)

    def hop(self, src: int, dst: int) -> Hop | None:
        """How ``src`` sends toward ``dst``: the cabled next hop on a shortest path, or the
        tunnel to it; None if unreachable or the same switch."""
        port = self.next_hop_port(src, dst)
        if port is not None:
            return Hop(port)
        endpoint = self.tunnel_toward(src, dst)
        if endpoint is None:
            return None
        return Hop(self.endpoints[src].ofport, endpoint.ip)

    def port_toward(self, a: int, b: int) -> int:
        return self._port[(a, b)]

    def fabric_ports(self, dpid: int) -> set[int]:
        return {p for (a, _b), p in self._port.items() if a == dpid}

    def tree_ports(self, dpid: int) -> set[int]:
        if dpid not in self.tree:
            return set()
        return {self._port[(dpid, peer)] for peer in self.tree.neighbors(dpid)}

    def next_hop_port(self, src: int, dst: int) -> int | None:
        """Port of ``src`` on a shortest path to ``dst``; None if unreachable or same switch.

        Paths come from one BFS tree rooted at the destination, so every switch's next hop
        toward ``dst`` lies on one consistent tree: hop-by-hop forwarding cannot loop.
        """
        if src == dst:
            return None
        path = self._paths_to(dst).get(src)
        if path is None:
            return None
        return self._port[(src, path[-2])]

    def route(self, src: int, dst: int) -> tuple:
        """The switches a frame from ``src`` to ``dst`` passes hop by hop, both ends included;
        empty when ``dst`` is unreachable."""
        if src == dst:
            return (src,)
        if self.tunnel_toward(src, dst) is not None:
            return (src, dst)
        return tuple(self._paths_to(dst).get(src, ()))

    def _paths_to(self, dst: int) -> dict:
        if dst not in self._paths:
            self._paths[dst] = (
                nx.single_source_shortest_path(self.graph, dst) if dst in self.graph else {}
            )
        return self._paths[dst]

    def subtree(self, dpids: frozenset) -> dict[int, frozenset]:
        """The smallest part of the spanning tree that joins ``dpids`` (per connected part
        of the fabric): switch -> its neighbours in it. What a network's broadcast needs."""
        if dpids not in self._subtrees:
            tree = {
                node: set(self.tree.neighbors(node)) if node in self.tree else set()
                for node in self.tree.nodes | dpids
            }
            leaves = [n for n, peers in tree.items() if len(peers) <= 1 and n not in dpids]
            while leaves:
                leaf = leaves.pop()
                for peer in tree.pop(leaf, ()):
                    tree[peer].discard(leaf)
                    if len(tree[peer]) <= 1 and peer not in dpids:
                        leaves.append(peer)
            self._subtrees[dpids] = {n: frozenset(peers) for n, peers in tree.items()}
        return self._subtrees[dpids]
