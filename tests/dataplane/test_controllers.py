"""Two naas-sdn processes on one PostgreSQL database, every switch connected to both: one
master per switch, a dead or frozen master replaced with no packet lost, and a stale one
refused by the switch."""

import json
import os
import signal
import subprocess
import time

import pytest

from tests.dataplane.conftest import Tenant, metric
from tests.dataplane.lab import (
    lab,
    plug,
    plugged_ports,
    udhcpc,
    v4,
    wait_for,
    wait_ping,
)
from tests.helpers import start_server

OVSDB = ["--ovsdb", "unix:/var/run/openvswitch/db.sock"]


@pytest.fixture
def controllers(tmp_path, postgres):
    url = postgres.test_database()
    started = []
    try:
        for name in ("first", "second"):
            started.append(start_server(tmp_path / name, OVSDB, db_url=url))
        yield started
    finally:
        for server in started:
            server.kill()


def connect_to_all(net, servers) -> None:
    """What an operator does: every bridge pointed at every process."""
    targets = " ".join(f"tcp:127.0.0.1:{s.ofp_port}" for s in servers)
    for switch in net.switches:
        switch.vsctl(f"set-controller {switch.name} {targets}")


def masters(net) -> dict[str, int | None]:
    """Each switch's master controller, by its OpenFlow port, as OVS reports it."""

    def table(columns, name):
        out = subprocess.run(
            ["ovs-vsctl", "--format=json", f"--columns={columns}", "list", name],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return json.loads(out)["data"]

    roles = {row[0][1]: (row[1], row[2]) for row in table("_uuid,target,role", "Controller")}
    found = {}
    for name, controllers in table("name,controller", "Bridge"):
        refs = controllers[1] if controllers[0] == "set" else [controllers]
        found[name] = next(
            (
                int(roles[ref[1]][0].rsplit(":", 1)[1])
                for ref in refs
                if ref[1] in roles and roles[ref[1]][1] == "master"
            ),
            None,
        )
    return {s.name: found.get(s.name) for s in net.switches}


def mastered(server) -> float:
    return metric(server, "naas_switches_mastered")


def pinging(host, ip, count):
    return host.popen(["ping", "-n", "-i", "0.01", "-c", str(count), ip], text=True)


def assert_all_answered(pinger, count):
    reply, _ = pinger.communicate(timeout=60)
    assert f"{count} packets transmitted, {count} received" in reply, reply[-400:]


def test_a_killed_master_is_replaced_with_no_packet_lost(controllers, tmp_path):
    first, second = controllers
    alice = Tenant(first, "tenant-a")
    with lab(
        first.ofp_port, switches=3, cables=[(1, 2), (2, 3)], hosts={"h1": 1, "h2": 3, "h3": 2}
    ) as net:
        connect_to_all(net, controllers)
        network = alice.create("/v2.0/networks", "network", {"name": "net1"})
        alice.create(
            "/v2.0/subnets",
            "subnet",
            {"network_id": network["id"], "ip_version": 4, "cidr": "10.0.0.0/24"},
        )
        ports = plugged_ports(alice, net, network, ("h1", "h2"))
        assert wait_ping(net.get("h1"), v4(ports["h2"]))
        # every switch has one master, and OVS says which
        assert wait_for(lambda: mastered(first) + mastered(second) == 3, timeout=10)
        assert wait_for(lambda: None not in masters(net).values(), timeout=15), masters(net)
        victim = first if masters(net)["t1"] == first.ofp_port else second
        survivor = second if victim is first else first

        pinger = pinging(net.get("h1"), v4(ports["h2"]), 1000)  # 10 s, every 10 ms
        time.sleep(1)
        victim.kill()
        assert wait_for(lambda: mastered(survivor) == 3, timeout=5, interval=0.1), (
            survivor.log_tail()
        )
        assert_all_answered(pinger, 1000)
        assert wait_for(lambda: set(masters(net).values()) == {survivor.ofp_port}, timeout=15), (
            masters(net)
        )

        # the survivor's API: a new port comes up and gets its lease from the survivor
        port = Tenant(survivor, "tenant-a").port(network, "h3")
        plug(net.get("h3"), port)
        lease = wait_for(lambda: udhcpc(net.get("h3"), tmp_path / "h3.lease"), timeout=30)
        assert lease and lease["ip"] == v4(port)
        assert wait_for(lambda: Tenant(survivor, "tenant-a").show_port(port)["status"] == "ACTIVE")

        # the killed process restarted takes back its share of the switches: no loss
        pinger = pinging(net.get("h1"), v4(ports["h2"]), 800)
        time.sleep(1)
        victim.start()
        assert wait_for(lambda: metric(victim, "naas_switches_connected") == 3, timeout=15)
        assert wait_for(lambda: mastered(victim) + mastered(survivor) == 3, timeout=10)
        assert_all_answered(pinger, 800)
        assert wait_ping(net.get("h3"), v4(ports["h1"]))


def test_a_frozen_master_cannot_change_a_switch_once_replaced(controllers):
    first, second = controllers
    alice = Tenant(first, "tenant-a")
    with lab(first.ofp_port, switches=1, hosts={"h1": 1, "h2": 1}) as net:
        connect_to_all(net, controllers)
        network = alice.network("net1", "10.0.0.0/24")
        ports = plugged_ports(alice, net, network, ("h1", "h2"))
        assert wait_ping(net.get("h1"), v4(ports["h2"]))
        assert wait_for(lambda: masters(net)["t1"] is not None, timeout=15)
        frozen = first if masters(net)["t1"] == first.ofp_port else second
        other = second if frozen is first else first

        os.killpg(frozen.process.pid, signal.SIGSTOP)
        try:
            assert wait_for(lambda: mastered(other) == 1, timeout=8), other.log_tail()
            # the new master deletes h2's port: its flows go
            Tenant(other, "tenant-a").api.delete("/v2.0/ports/" + ports["h2"]["id"])
            assert wait_for(lambda: not wait_ping(net.get("h1"), v4(ports["h2"]), timeout=1))
            time.sleep(1)
            watch = subprocess.Popen(
                ["ovs-ofctl", "-O", "OpenFlow13", "monitor", "t1", "watch:!initial"],
                stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            time.sleep(0.5)
        finally:
            os.killpg(frozen.process.pid, signal.SIGCONT)
        # The thawed process held a model with h2's port and a lease it lost: nothing it
        # sends changes the switch (OVS refuses a SLAVE's flow mods), then it catches up and
        # may become master again (the hash prefers it), at a newer epoch, changing nothing.
        time.sleep(5)
        watch.terminate()
        changes = [line for line in watch.communicate()[0].splitlines() if "event=" in line]
        assert not changes, changes
        assert masters(net)["t1"] in (first.ofp_port, second.ofp_port)
        assert mastered(first) + mastered(second) == 1
        assert not wait_ping(net.get("h1"), v4(ports["h2"]), timeout=2)
