"""Allocation without SQL: address ownership over the mirror, MACs unique per network."""

import random
from types import SimpleNamespace

import netaddr
import pytest

from naas_sdn.model import errors
from naas_sdn.model.allocation import Addresses, MacIndex, TakenMacs, allocate_mac, owners_after

SUBNET = SimpleNamespace(id="s", network_id="n", allocation_pools=(("10.0.0.2", "10.0.0.4"),))


def test_addresses_lay_the_transaction_over_the_committed_owners():
    committed = {"s": {"10.0.0.2": "p1"}}
    addresses = Addresses(committed)
    assert addresses.allocate(SUBNET, "p2") == "10.0.0.3"
    with pytest.raises(errors.IpAddressInUse):
        addresses.take("s", "10.0.0.3", "p3", "n")
    addresses.release("s", "10.0.0.2")
    assert addresses.owner("s", "10.0.0.2") is None
    assert addresses.allocate(SUBNET, "p3") == "10.0.0.2"  # released in this transaction
    assert addresses.allocate(SUBNET, "p4") == "10.0.0.4"
    assert addresses.allocate(SUBNET, "p5") is None
    assert committed == {"s": {"10.0.0.2": "p1"}}  # the mirror is only read


def test_owners_after_copies_only_the_subnets_that_change():
    owners = {"s": {"10.0.0.2": "p1"}, "t": {"10.1.0.2": "p2"}, "u": {}}
    ports = {"p1": SimpleNamespace(fixed_ips=(("s", "10.0.0.2"),))}
    moved = SimpleNamespace(fixed_ips=(("s", "10.0.0.3"),))
    after = owners_after(owners, ports, {"p1": moved, "p9": None}, deleted_subnets=["u"])
    assert after == {"s": {"10.0.0.3": "p1"}, "t": {"10.1.0.2": "p2"}}
    assert after["t"] is owners["t"] and owners["s"] == {"10.0.0.2": "p1"}
    assert owners_after(after, {"p1": moved}, {"p1": None}) == {"s": {}, "t": {"10.1.0.2": "p2"}}


def test_macs_have_neutrons_prefix_and_are_unique_within_a_network():
    mac = allocate_mac("n", set(), random.Random(1))
    assert mac.startswith("fa:16:3e:") and len(mac) == 17
    assert allocate_mac("n", {("n", mac)}, random.Random(1)) != mac
    assert allocate_mac("other", {("n", mac)}, random.Random(1)) == mac


def test_mac_generation_gives_up_after_its_attempts():
    always_zero = SimpleNamespace(randrange=lambda _n: 0)
    with pytest.raises(errors.MacAddressGenerationFailure):
        allocate_mac("n", {("n", "fa:16:3e:00:00:00")}, always_zero)


def test_the_lowest_free_address_is_found_from_a_low_water_mark():
    """Allocation scans from the mark, not from the pool's start: what a subnet holds below
    it is never read again, and a release moves it back."""
    pools = (("10.0.0.2", "10.0.3.254"),)
    subnet = SimpleNamespace(id="s", network_id="n", allocation_pools=pools)
    owners = owners_after({}, {}, {})
    for i in range(300):
        addresses = Addresses(owners)
        ip = addresses.allocate(subnet, f"p{i}")
        owners = owners_after(
            owners, {}, {f"p{i}": SimpleNamespace(fixed_ips=(("s", ip),), network_id="n")}
        )
    assert ip == "10.0.1.45" and owners["s"].low == int(netaddr.IPAddress("10.0.1.46"))
    gone = {"p7": SimpleNamespace(fixed_ips=(("s", "10.0.0.9"),))}
    owners = owners_after(owners, gone, {"p7": None})
    assert owners["s"].low == int(netaddr.IPAddress("10.0.0.9"))
    assert Addresses(owners).allocate(subnet, "q") == "10.0.0.9"


def test_the_mac_index_follows_commits():
    port = SimpleNamespace(network_id="n", mac_address="fa:16:3e:00:00:01")
    index = MacIndex({"p": port})
    assert ("n", "fa:16:3e:00:00:01") in index and ("m", "fa:16:3e:00:00:01") not in index
    moved = SimpleNamespace(network_id="n", mac_address="fa:16:3e:00:00:02")
    index.changed({"p": port}, {"p": moved})
    assert ("n", "fa:16:3e:00:00:01") not in index and ("n", "fa:16:3e:00:00:02") in index
    taken = TakenMacs(index)
    taken.add(("n", "fa:16:3e:00:00:03"))
    assert ("n", "fa:16:3e:00:00:03") in taken and ("n", "fa:16:3e:00:00:02") in taken
    index.changed({"p": moved}, {"p": None})
    assert ("n", "fa:16:3e:00:00:02") not in index
