"""Two processes' services on one PostgreSQL database: each mirror follows the other's
commits, writes serialize across them, and no invariant breaks under parallel creates."""

import threading

import pytest

from naas_sdn.model import db, replication
from naas_sdn.model.common import Context
from naas_sdn.model.service import NetworkService

TENANT = Context("tenant-a")


@pytest.fixture
def pair(postgres):
    url = postgres.test_database()
    first, second = NetworkService(db.connect(url)), NetworkService(db.connect(url))
    yield first, second
    first.close()
    second.close()


def _network_with_subnet(service, cidr="10.0.0.0/24"):
    net = service.create_network(TENANT, {"name": "n"})
    service.create_subnet(TENANT, {"network_id": net.id, "ip_version": 4, "cidr": cidr})
    return net


def test_a_commit_reaches_the_other_process_mirror_and_its_subscribers(pair):
    first, second = pair
    seen = []
    second.subscribe(lambda snap: seen.append(snap.revision))
    net = _network_with_subnet(first)
    assert net.id not in second.records("networks")
    second.refresh()  # as before an API request
    assert second.records("networks")[net.id] == first.records("networks")[net.id]
    assert second.snapshot().networks[net.id] == first.snapshot().networks[net.id]
    assert seen, "the other process's commits wake its programmer"
    first.delete_network(TENANT, net.id)
    second.refresh()
    assert net.id not in second.records("networks")
    assert not second.records("subnets")


def test_a_write_first_applies_what_others_committed(pair):
    """The second process checks the newest model: a subnet overlapping one the first just
    made is refused, a port takes a free address."""
    first, second = pair
    net = _network_with_subnet(first)
    port = second.create_port(TENANT, {"network_id": net.id})  # no refresh: the write does it
    assert second.records("networks")[net.id].subnets
    taken = first.create_port(TENANT, {"network_id": net.id})
    assert taken.fixed_ips != port.fixed_ips
    assert taken.mac_address != port.mac_address


def test_following_applies_notified_commits_without_a_request(pair):
    first, second = pair
    second.follow()
    net = first.create_network(TENANT, {"name": "n"})
    deadline = threading.Event()
    for _ in range(50):
        if net.id in second.records("networks"):
            break
        deadline.wait(0.1)
    assert net.id in second.records("networks")


def test_parallel_creates_on_two_processes_never_share_an_address(pair):
    first, second = pair
    net = _network_with_subnet(first, "10.1.0.0/26")
    made: list = []
    failures: list = []

    def create(service, count):
        for _ in range(count):
            try:
                made.append(service.create_port(TENANT, {"network_id": net.id}))
            except Exception as error:
                failures.append(error)

    threads = [threading.Thread(target=create, args=(s, 15)) for s in (first, second) * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    addresses = [ip for port in made for _, ip in port.fixed_ips]
    assert len(addresses) == len(set(addresses)) == 60
    assert len({p.mac_address for p in made}) == 60
    for service in pair:
        service.refresh()
        assert {p.id for p in made} <= service.records("ports").keys()
        assert service.allocations == first.allocations


def test_a_follower_behind_the_log_reloads_the_tables(pair, monkeypatch):
    first, second = pair
    monkeypatch.setattr(replication, "KEEP", 1)
    monkeypatch.setattr(replication, "PRUNE_EVERY", 1)
    nets = [first.create_network(TENANT, {"name": f"n{i}"}) for i in range(3)]
    first.delete_network(TENANT, nets[0].id)
    second.refresh()
    assert second.records("networks").keys() == {nets[1].id, nets[2].id}
    assert second.snapshot().networks.keys() == first.snapshot().networks.keys()
