"""Leases and roles on a real PostgreSQL: one master per switch, epochs that only grow, a
lease taken only once expired, handed over to the member the hash prefers."""

import time

import pytest
from os_ken.ofproto import ofproto_v1_3 as ofp

from naas_sdn.apps.channel import SwitchError
from naas_sdn.apps.mastership import Mastership, preferred
from naas_sdn.model import db
from naas_sdn.model.cluster import ClusterStore


@pytest.fixture
def engine(postgres):
    engine = db.connect(postgres.test_database())
    yield engine
    engine.dispose()


def member(engine, name, lease=1.0):
    store = ClusterStore(engine)
    store.join(name, lease)
    return store


def test_a_lease_is_taken_once_expired_renewed_by_its_holder_and_handed_over(engine):
    a, b = member(engine, "a"), member(engine, "b")
    assert a.acquire(1) == 1
    assert b.acquire(1) is None  # held
    assert not b.renew(1, 1)
    assert a.renew(1, 1)
    assert a.hand_over(1, 1, "b") == 2
    assert not a.renew(1, 2) and b.renew(1, 2)
    view = a.beat([1])
    assert view.leases[1].holder == "b" and view.leases[1].epoch == 2
    time.sleep(1.1)
    assert not b.renew(1, 2)  # expired: its holder was frozen or cut off
    assert a.acquire(1) == 3  # the epoch only grows
    a.leave()
    assert b.acquire(1) == 4  # a clean stop frees it at once


def test_members_are_live_while_they_beat(engine):
    a, b = member(engine, "a"), member(engine, "b")
    a.beat([1, 2])
    view = b.beat([2])
    assert view.members == {"a": frozenset({1, 2}), "b": frozenset({2})}
    time.sleep(1.1)
    assert b.beat([2]).members == {"b": frozenset({2})}


def test_members_share_one_discovery_secret(engine):
    a, b = member(engine, "a"), member(engine, "b")
    assert a.secret("discovery") == b.secret("discovery") != a.secret("other")


def test_the_preferred_member_moves_only_its_own_share():
    switches = range(1, 201)
    two = {d: preferred(["a", "b"], d) for d in switches}
    three = {d: preferred(["a", "b", "c"], d) for d in switches}
    assert 60 < sum(1 for d in switches if two[d] == "a") < 140
    assert all(three[d] in (two[d], "c") for d in switches)


class FakeChannel:
    """A switch's connection that records the roles asked and refuses stale epochs."""

    def __init__(self, dpid, switch):
        self.dpid, self.datapath, self.switch = dpid, None, switch

    def request(self, msg):
        if self.switch.generation is not None and msg.generation_id < self.switch.generation:
            raise SwitchError("stale")
        self.switch.generation = msg.generation_id
        self.switch.roles[self] = msg.role
        if msg.role == ofp.OFPCR_ROLE_MASTER:  # the others' MASTER becomes SLAVE
            for other, role in self.switch.roles.items():
                if other is not self and role == ofp.OFPCR_ROLE_MASTER:
                    self.switch.roles[other] = ofp.OFPCR_ROLE_SLAVE


class FakeSwitch:
    def __init__(self):
        self.generation = None
        self.roles = {}


def running(engine, name, channels, events):
    mastership = Mastership(
        member(engine, name, lease=1.2),
        lambda: channels,
        lambda dpid, channel: events.append((name, "master", dpid)),
        lambda dpid: events.append((name, "slave", dpid)),
    )
    mastership.start()
    return mastership


def test_two_processes_share_the_switches_and_one_takes_over_when_the_other_stops(engine):
    switches = {d: FakeSwitch() for d in range(1, 9)}
    one = {d: FakeChannel(d, s) for d, s in switches.items()}
    two = {d: FakeChannel(d, s) for d, s in switches.items()}
    events: list = []
    first = running(engine, "first", one, events)
    second = running(engine, "second", two, events)
    try:

        def masters():
            return {
                d: [c for c, r in s.roles.items() if r == ofp.OFPCR_ROLE_MASTER]
                for d, s in switches.items()
            }

        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not all(len(m) == 1 for m in masters().values()):
            time.sleep(0.1)
        time.sleep(0.6)  # a round more: handed over where the hash wants
        for dpid, found in masters().items():
            wanted = preferred(["first", "second"], dpid)
            assert found == [(one if wanted == "first" else two)[dpid]]
            assert (first if wanted == "first" else second).is_master(dpid)
            assert not (second if wanted == "first" else first).is_master(dpid)
        first.stop()
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not all(second.is_master(d) for d in switches):
            time.sleep(0.1)
        assert all(second.is_master(d) for d in switches)
        assert all(m == [two[d]] for d, m in masters().items())
    finally:
        first.stop()
        second.stop()


def test_a_master_cut_from_the_database_stops_once_its_lease_ran_out(engine):
    store = member(engine, "alone", lease=1.2)
    events: list = []
    mastership = Mastership(
        store,
        lambda: {1: FakeChannel(1, FakeSwitch())},
        lambda dpid, channel: events.append(("master", dpid)),
        lambda dpid: events.append(("slave", dpid)),
    )
    mastership.start()
    try:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not mastership.is_master(1):
            time.sleep(0.05)
        assert mastership.is_master(1) and events == [("master", 1)]

        def unreachable(_datapaths):
            raise ConnectionError("database unreachable")

        store.beat = unreachable  # another process takes the switch once the lease expires
        cut = time.monotonic()
        while time.monotonic() - cut < 3 and mastership.is_master(1):
            time.sleep(0.05)
        assert not mastership.is_master(1) and time.monotonic() - cut <= 1.2 + 0.1
        time.sleep(0.5)
        assert events == [("master", 1), ("slave", 1)]
    finally:
        mastership.stop()


def test_a_switch_reconnecting_to_its_master_is_claimed_again(engine):
    switch = FakeSwitch()
    channels = {1: FakeChannel(1, switch)}
    events: list = []
    mastership = running(engine, "alone", channels, events)
    try:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not events:
            time.sleep(0.05)
        channels[1] = FakeChannel(1, switch)  # a new connection: EQUAL, not yet programmed
        mastership.connected(1)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and len(events) < 2:
            time.sleep(0.05)
        assert events == [("alone", "master", 1), ("alone", "master", 1)]
        assert switch.roles[channels[1]] == ofp.OFPCR_ROLE_MASTER
    finally:
        mastership.stop()
