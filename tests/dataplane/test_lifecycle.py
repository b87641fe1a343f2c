"""Flow ownership and restart: deletes remove exactly their flows; restarts lose nothing."""

import re
import time

from naas_sdn.flows.layout import Owner, identity, owner_of
from tests.dataplane.conftest import restart_while
from tests.dataplane.lab import dump_flows, flow_cookies, lab, plug, wait_for, wait_ping

# These networks have no subnets: hosts use addresses of their own, which port security
# (admitting only a port's fixed addresses) would drop.
OWN_ADDRESSES = {"port_security_enabled": False}


def _owners(net):
    return {owner_of(identity(c)) for s in net.switches for c in flow_cookies(s)}


def test_deleting_port_and_network_removes_exactly_their_flows(controller, tenants):
    alice = tenants[0]
    with lab(
        controller.ofp_port, switches=2, cables=[(1, 2)], hosts={"h1": 1, "h2": 2, "h3": 2}
    ) as net:
        network = alice.network("net1")
        other = alice.network("net2")
        ports = {h: alice.port(network, h, **OWN_ADDRESSES) for h in ("h1", "h2")}
        lone = alice.port(other, "h3", **OWN_ADDRESSES)
        for i, (h, port) in enumerate(ports.items()):
            plug(net.get(h), port, f"10.0.0.{i + 1}")
        plug(net.get("h3"), lone, "10.0.1.3")
        assert wait_ping(net.get("h1"), "10.0.0.2")
        keys = {h: _port_key(net, p["mac_address"]) for h, p in {**ports, "h3": lone}.items()}
        before = _owners(net)
        before_lines = {s.name: set(_strip(dump_flows(s))) for s in net.switches}

        resp = alice.api.delete("/v2.0/ports/" + ports["h2"]["id"])
        assert resp.status == 204
        assert wait_for(lambda: (Owner.PORT, keys["h2"]) not in _owners(net))
        assert before - _owners(net) == {(Owner.PORT, keys["h2"])}
        # Flows of other objects were not touched: no new or changed entry anywhere.
        for s in net.switches:
            assert set(_strip(dump_flows(s))) <= before_lines[s.name]
        assert wait_for(lambda: " 0 received" in net.get("h1").cmd("ping -c1 -W1 10.0.0.2"))

        # Deleting a network with a port is refused; once its ports are gone it goes, and
        # all its flows (flood entries, fabric untagging) with it.
        resp = alice.api.delete("/v2.0/networks/" + network["id"])
        assert resp.status == 409 and resp.error_type == "NetworkInUse"
        assert alice.api.delete("/v2.0/ports/" + ports["h1"]["id"]).status == 204
        assert alice.api.delete("/v2.0/networks/" + network["id"]).status == 204
        network_keys = {k for kind, k in before if kind == Owner.NETWORK}
        assert len(network_keys) == 2
        remaining = wait_for(
            lambda: (
                (o := _owners(net))
                == {(Owner.SWITCH, 0), (Owner.PORT, keys["h3"])}
                | {(Owner.NETWORK, k) for k in network_keys if (Owner.NETWORK, k) in o}
                and len([1 for kind, _ in o if kind == Owner.NETWORK]) == 1
                and o
            )
        )
        assert remaining, _owners(net)


def _strip(lines):
    """A flow line without its counters and age."""
    return [
        re.sub(r"duration=[^,]+, |n_packets=\d+, |n_bytes=\d+, |idle_age=[^,]+, ", "", line)
        for line in lines
    ]


def _port_key(net, mac):
    for s in net.switches:
        for line in dump_flows(s):
            if f"dl_dst={mac}" in line and "reg7" in line:
                return int(re.search(r"set_field:(0x[0-9a-f]+)->reg7", line).group(1), 16)
    return None


def test_controller_restart_loses_no_packet_and_changes_no_flow(controller, tenants):
    alice = tenants[0]
    with lab(
        controller.ofp_port, switches=3, cables=[(1, 2), (2, 3)], hosts={"h1": 1, "h2": 3}
    ) as net:
        # A subnet the hosts do not use: the ports' addresses and its gateway get ARP answers
        # (flows whose moves OVS reports in Nicira fields), which a restart must find equal.
        network = alice.network("net1", "10.9.0.0/24")
        for i, h in enumerate(("h1", "h2")):
            plug(net.get(h), alice.port(network, h, **OWN_ADDRESSES), f"10.0.0.{i + 1}")
        assert wait_ping(net.get("h1"), "10.0.0.2")
        time.sleep(2)  # let the fabric settle and be persisted
        assert any("arp_op=1" in line for line in dump_flows(net.get("t1")))
        before = {s.name: dump_flows(s) for s in net.switches}

        pinger = net.get("h1").popen(
            ["ping", "-n", "-i", "0.1", "-c", "150", "10.0.0.2"], text=True
        )
        # Every switch reconnects and is read back: nothing to change.
        restart_while(controller, (pinger,), switches=3, pings=150)
        # The flows are the very same entries: their age went on across the restart.
        for s in net.switches:
            ages = _ages(dump_flows(s))
            for key, age in _ages(before[s.name]).items():
                assert ages[key] >= age, f"{s.name}: {key} was re-installed"

        # A switch whose flows OVS flushed (controller removed and set again) is rebuilt.
        t2 = net.get("t2")
        t2.vsctl("del-controller t2")
        t2.vsctl(f"set-controller t2 tcp:127.0.0.1:{controller.ofp_port}")
        assert wait_ping(net.get("h1"), "10.0.0.2", timeout=30)


def _ages(lines):
    result = {}
    for line in lines:
        age = float(re.search(r"duration=([\d.]+)s", line).group(1))
        key = re.sub(
            r"cookie=\S+ |duration=[^,]+, |n_packets=\d+, |n_bytes=\d+, |idle_age=[^,]+, ", "", line
        ).strip()
        result[key] = age
    return result


def test_port_unplugged_while_controller_down_turns_down_on_restart(controller, tenants):
    alice = tenants[0]
    with lab(controller.ofp_port, switches=1, hosts={"h1": 1}) as net:
        port = alice.port(alice.network("net1"), "h1", **OWN_ADDRESSES)
        plug(net.get("h1"), port, "10.0.0.1")
        assert wait_for(lambda: alice.show_port(port)["status"] == "ACTIVE")
        controller.stop()
        net.get("t1").vsctl("del-br t1")  # the whole bridge goes while nobody watches
        controller.start()
        shown = wait_for(lambda: (p := alice.show_port(port))["status"] == "DOWN" and p)
        assert shown and shown["binding:host_id"] == ""
