"""Persisted fabric links: 64-bit datapath ids round-trip, a bad link changes nothing."""

import pytest


def test_fabric_links_round_trip(service):
    store = service.fabric_links
    big = 0xFFFF_FFFF_FFFF_FFFE
    links = [(1, 2, big, 3), (big, 3, 1, 2)]
    store.save(links)
    assert store.load() == sorted(links)
    store.save([(5, 1, 6, 1)])
    assert store.load() == [(5, 1, 6, 1)]
    with pytest.raises(ValueError):
        store.save([(2**64, 1, 1, 1)])
    assert store.load() == [(5, 1, 6, 1)]
    store.save([])
    assert store.load() == []


def test_learned_neighbours_round_trip(service):
    store = service.fabric_links
    assert store.load_neighbours() == {}
    store.save_neighbours({("net-1", "172.24.4.1"): "fa:16:3e:99:99:99"})
    store.save_neighbours(
        {("net-1", "172.24.4.1"): "fa:16:3e:99:99:98", ("net-2", "10.1.0.1"): "02:00:00:00:00:01"}
    )
    assert store.load_neighbours() == {
        ("net-1", "172.24.4.1"): "fa:16:3e:99:99:98",
        ("net-2", "10.1.0.1"): "02:00:00:00:00:01",
    }
