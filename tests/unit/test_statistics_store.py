"""The statistics store: totals never go back, whatever the switch counters and the
controller do, and they survive a restart (a new store on the same database)."""

from __future__ import annotations

import pytest

from naas_sdn.features.statistics.store import Reading, StatisticsStore, ip_object
from naas_sdn.model import db

PORT, OTHER, NET = "port-a", "port-b", "net-1"
PLACE = {"name": "tap1", "switch_id": "0000000000000001", "ofport": 5}


@pytest.fixture
def engine(db_url):
    engine = db.connect(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def store(engine):
    return StatisticsStore(engine)


def tx(source, packets, octets, age=None, targets=(("port", PORT, "tx"),)):
    return Reading(source, (("packets", packets), ("bytes", octets)), targets, age)


def sent(store, scope=("port", PORT)):
    view = store.traffic(*scope)
    return view["tx_packets"], view["tx_bytes"]


def test_totals_grow_by_what_each_counter_grew(store):
    assert sent(store) == (0, 0) and store.traffic("port", PORT)["updated_at"] is None
    store.record([tx("s/1", 10, 1000, targets=(("port", PORT, "tx"), ("network", NET, "tx")))])
    store.record([tx("s/2", 1, 100, targets=(("network", NET, "tx"),))])
    store.record([tx("s/1", 25, 2500, targets=(("port", PORT, "tx"), ("network", NET, "tx")))])
    store.record([tx("s/1", 25, 2500, targets=(("port", PORT, "tx"), ("network", NET, "tx")))])
    assert sent(store) == (25, 2500)
    assert sent(store, ("network", NET)) == (26, 2600)
    assert store.traffic("port", PORT)["updated_at"] is not None


def test_a_counter_that_went_back_restarted_from_zero(store):
    store.record([tx("s/1", 25, 2500)])
    store.record([tx("s/1", 5, 500)])  # the flow was re-added: 5 new packets
    assert sent(store) == (30, 3000)
    store.record([tx("s/1", 8, 800)])
    assert sent(store) == (33, 3300)


def test_a_counter_younger_than_at_the_last_reading_is_a_new_counter(store):
    store.record([tx("s/1", 100, 1000, age=30.0)])
    store.record([tx("s/1", 150, 1500, age=40.0)])  # older: the same counter
    assert sent(store) == (150, 1500)
    store.record([tx("s/1", 150, 1500, age=50.0)])  # unchanged values, the age goes on
    store.record([tx("s/1", 200, 2000, age=5.0)])  # re-created 5 s ago: 200 since then
    assert sent(store) == (350, 3500)


def test_the_age_survives_a_restart(engine, store):
    store.record([tx("s/1", 100, 1000, age=30.0)])
    store.flush()
    again = StatisticsStore(engine)
    again.record([tx("s/1", 120, 1200, age=2.0)])  # interface re-created while we were down
    assert sent(again) == (220, 2200)


def test_totals_and_last_readings_survive_a_restart(engine, store):
    store.record(
        [
            tx(
                "s/1",
                10,
                1000,
                targets=(("port", PORT, "tx"), ("ip", ip_object(PORT, "10.0.0.5"), "tx")),
            )
        ]
    )
    store.record(
        [Reading("d/1", (("packets", 2), ("bytes", 128)), (("port", PORT, "dropped_qos"),))]
    )
    store.flush()
    again = StatisticsStore(engine)
    assert sent(again) == (10, 1000)
    assert sent(again, ("ip", ip_object(PORT, "10.0.0.5"))) == (10, 1000)
    assert again.traffic("port", PORT)["dropped"]["qos"] == {"packets": 2, "bytes": 128}
    assert again.traffic("port", PORT)["updated_at"] == store.traffic("port", PORT)["updated_at"]
    again.record([tx("s/1", 12, 1200)])  # the switch kept counting: only the 2 new ones
    assert sent(again) == (12, 1200)
    again.flush()
    assert sent(StatisticsStore(engine)) == (12, 1200)


def test_unflushed_counts_are_not_persisted(engine, store):
    store.record([tx("s/1", 10, 1000)])
    store.flush()
    store.record([tx("s/1", 20, 2000)])
    assert sent(StatisticsStore(engine)) == (10, 1000)


def test_a_gone_source_counts_from_zero_when_it_comes_back(engine, store):
    store.record([tx("s/1", 10, 1000)])
    store.record([], gone=["s/1", "never-seen"])
    store.flush()
    store.record([tx("s/1", 30, 3000)])  # same name, new counter: 30 new packets
    assert sent(store) == (40, 4000)
    restarted = StatisticsStore(engine)  # the gone reading was deleted from SQL too
    restarted.record([tx("s/1", 15, 1500)])
    assert sent(restarted) == (25, 2500)


def test_a_switchs_sources_are_found_by_kind_and_switch_and_survive_a_restart(engine, store):
    store.record([tx("vif/00000000000000aa/3/p/tx", 1, 1), tx("flow/00000000000000aa/7/x", 1, 1)])
    store.record([tx("vif/00000000000000bb/3/p/tx", 1, 1)])
    assert store.sources("vif", "00000000000000aa") == ["vif/00000000000000aa/3/p/tx"]
    assert store.sources("flow", "00000000000000aa") == ["flow/00000000000000aa/7/x"]
    store.record([], gone=["vif/00000000000000aa/3/p/tx"])
    assert store.sources("vif", "00000000000000aa") == []
    store.flush()
    restarted = StatisticsStore(engine)
    assert restarted.sources("vif", "00000000000000bb") == ["vif/00000000000000bb/3/p/tx"]
    assert restarted.sources("vif", "00000000000000aa") == []


def test_forget_drops_the_counters_of_objects_gone(engine, store):
    store.record(
        [
            tx(
                "s/1",
                1,
                10,
                targets=(
                    ("port", PORT, "tx"),
                    ("port", OTHER, "tx"),
                    ("ip", ip_object(PORT, "10.0.0.5"), "tx"),
                    ("ip", ip_object(OTHER, "10.0.0.6"), "tx"),
                    ("network", NET, "tx"),
                ),
            )
        ]
    )
    store.flush()
    store.forget("port", keep=[PORT])
    store.forget("ip", keep=[PORT])
    assert sent(store, ("port", OTHER)) == (0, 0)
    assert store.traffic("port", OTHER)["updated_at"] is None
    assert sent(store, ("ip", ip_object(OTHER, "10.0.0.6"))) == (0, 0)
    assert sent(store, ("ip", ip_object(PORT, "10.0.0.5"))) == (1, 10)
    assert sent(store, ("network", NET)) == (1, 10)  # networks are forgotten on their own
    store.flush()
    restarted = StatisticsStore(engine)
    assert set(restarted.all_totals("port")) == {PORT}
    assert set(restarted.all_totals("ip")) == {ip_object(PORT, "10.0.0.5")}


def test_a_vif_is_counted_from_its_placement(engine, store):
    assert store.traffic("vif", PORT) is None
    store.place_vif(PORT, PLACE)
    rx = Reading(
        "if/1",
        (("packets", 7), ("bytes", 700), ("dropped", 1), ("errors", 2)),
        (("vif", PORT, "rx"),),
    )
    store.record([rx])
    vif = store.traffic("vif", PORT)
    attached = vif["attached_at"]
    assert {
        k: vif[k]
        for k in (
            "name",
            "switch_id",
            "ofport",
            "rx_packets",
            "rx_bytes",
            "rx_dropped",
            "rx_errors",
            "tx_packets",
        )
    } == dict(PLACE, rx_packets=7, rx_bytes=700, rx_dropped=1, rx_errors=2, tx_packets=0)
    store.place_vif(PORT, dict(PLACE))  # the same interface again: nothing changes
    assert store.traffic("vif", PORT)["rx_bytes"] == 700
    assert store.traffic("vif", PORT)["attached_at"] == attached
    store.flush()
    assert StatisticsStore(engine).traffic("vif", PORT)["rx_bytes"] == 700
    store.place_vif(PORT, dict(PLACE, ofport=6))  # re-plugged elsewhere: a new VIF
    vif = store.traffic("vif", PORT)
    assert (vif["ofport"], vif["rx_packets"], vif["rx_dropped"]) == (6, 0, 0)
    store.place_vif(PORT, dict(PLACE, ofport=6, name="tap2"))
    assert store.traffic("vif", PORT)["name"] == "tap2"


def test_processes_sharing_a_database_add_up_each_switch_they_read(postgres):
    """Two processes each master one switch of a network: its totals are the sum, shown by
    both; a switch taken over goes on from its last master's reading (nothing twice)."""
    engine = db.connect(postgres.test_database())
    try:
        first, second = StatisticsStore(engine), StatisticsStore(engine)
        net = (("network", NET, "tx"),)
        first.record([tx("vif/0000000000000001/1/a/tx", 10, 1000, targets=net)])
        second.record([tx("vif/0000000000000002/1/b/tx", 5, 500, targets=net)])
        first.flush()
        second.flush()
        first.flush()  # reads back what the second added
        assert sent(first, ("network", NET)) == sent(second, ("network", NET)) == (15, 1500)
        # the second takes over the first's switch: its counter went from 10 to 12
        second.reload_sources("vif/0000000000000001")
        second.record([tx("vif/0000000000000001/1/a/tx", 12, 1200, targets=net)])
        second.flush()
        first.flush()
        assert sent(first, ("network", NET)) == sent(second, ("network", NET)) == (17, 1700)
    finally:
        engine.dispose()
