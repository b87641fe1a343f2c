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
