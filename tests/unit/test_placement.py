"""Where a network's entries go (l2population for the cabled fabric), on fixed topologies."""

from __future__ import annotations

from naas_sdn.flows.fabric import Link, topology_of
from naas_sdn.flows.placement import network_place, origins_of, places, routed_with


def fabric(*cables):
    """Switches joined by cables (a, b): a's port 10 + b toward b, b's port 10 + a toward a."""
    links = set()
    for a, b in cables:
        links |= {Link(a, 10 + b, b, 10 + a), Link(b, 10 + a, a, 10 + b)}
    return topology_of(frozenset(links), frozenset(d for c in cables for d in c))


LINE = fabric((1, 2), (2, 3))


def test_a_network_on_both_ends_of_a_line_is_carried_by_the_middle():
    place = network_place(LINE, frozenset({1, 3}), frozenset({1, 3}))
    assert place.needed == {1, 2, 3}
    assert dict(place.flood) == {1: (12,), 2: (11, 13), 3: (12,)}


def test_a_network_on_one_switch_stays_there_and_floods_nowhere_else():
    place = network_place(LINE, frozenset({1}), frozenset({1}))
    assert place.needed == {1}
    assert dict(place.flood) == {1: ()}


def test_networks_routed_together_go_where_either_has_ports():
    router = type("R", (), {"network_keys": frozenset({10, 11})})
    neighbours = routed_with([router])
    assert neighbours == {10: {10, 11}, 11: {10, 11}}
    hosts = {10: frozenset({1}), 11: frozenset({3}), 12: frozenset({3})}
    assert origins_of(10, hosts, neighbours) == {1, 3}
    found = places(hosts, neighbours, LINE)
    # A's ports are looked up where B's VMs route to them, and on the way there.
    assert found[10].needed == found[11].needed == {1, 2, 3}
    assert dict(found[10].flood) == {1: ()}  # but A's broadcasts stay on t1
    assert found[12].needed == {3}  # a network routed with nothing stays home


def test_on_a_ring_the_route_and_the_tree_are_all_a_network_needs():
    ring = fabric((1, 2), (2, 3), (3, 4), (4, 1))
    place = network_place(ring, frozenset({1, 2}), frozenset({1, 2}))
    assert place.needed == {1, 2}  # neighbours: nothing in between
    far = network_place(ring, frozenset({1, 3}), frozenset({1, 3}))
    assert len(far.needed) == 3 and {1, 3} < far.needed
    tree_hops = {d for d, ports in far.flood.items() if ports}
    assert tree_hops <= far.needed and {1, 3} <= tree_hops
