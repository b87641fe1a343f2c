"""Traffic statistics on real OVS with real traffic: what the API reports per network, port,
VIF and address is what was sent, only its owner sees it, and it never goes back."""

import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.dataplane import conftest
from tests.dataplane.lab import iperf3, lab, ping, plug, scapy, v4, wait_for, wait_ping
from tests.helpers import start_server

PINGS = 20
ICMP_FRAME = 98  # Ethernet 14 + IPv4 20 + ICMP 8 + ping's 56 bytes of data
INTERVAL = 1.0


@pytest.fixture
def polled(tmp_path):
    """A controller reading the switches' counters every second."""
    server = start_server(
        tmp_path,
        extra_args=[
            "--ovsdb",
            "unix:/var/run/openvswitch/db.sock",
            "--stats-interval",
            str(INTERVAL),
        ],
    )
    yield server
    server.stop()


class Tenant(conftest.Tenant):
    """A tenant reading its statistics."""

    def stats(self, collection, object_id=None, **query):
        path = f"/v2.0/{collection}" + (f"/{object_id}" if object_id else "")
        if query:
            path += "?" + "&".join(
                f"{k}={v}"
                for k, vs in query.items()
                for v in (vs if isinstance(vs, list) else [vs])
            )
        resp = self.api.get(path)
        key = collection.replace("-", "_")
        return resp.status, resp.json.get(key) if resp.json else None

    def counters(self, ports):
        """Every figure of the given ports: theirs, their VIFs', their addresses', their
        networks'."""
        found = {}
        for name, port in ports.items():
            found[("port", name)] = self.stats("port-statistics", port["id"])[1]
            found[("vif", name)] = self.stats("vif-statistics", port["id"])[1]
            found[("ip", name)] = self.stats("ip-statistics", port_id=port["id"])[1][0]
            found[("network", port["network_id"])] = self.stats(
                "network-statistics", port["network_id"]
            )[1]
        return found


def _quiet(*hosts_and_ports):
    """No ARP while counting: each host knows the others' MACs for good."""
    for host, port in hosts_and_ports:
        for _other_host, other in hosts_and_ports:
            if other is not port:
                host.cmd(
                    f"ip neigh replace {v4(other)} lladdr {other['mac_address']} "
                    f"dev {host.defaultIntf().name} nud permanent"
                )


def _settled(tenant, ports):
    """The counters once two polling rounds in a row changed nothing."""
    previous = None
    for _ in range(30):
        time.sleep(INTERVAL * 1.5)
        now = tenant.counters(ports)
        for figures in now.values():
            figures.pop("updated_at")  # stamped every round
        if now == previous:
            return now
        previous = now
    raise AssertionError("counters never settled")


def _delta(after, before, key, field):
    return after[key][field] - before[key][field]


def _iperf_udp(client, server, ip, size="8M"):
    """A UDP iperf3 run of a known size: (bytes sent, bytes received) by iperf3's account."""
    end = iperf3(client, server, ip, f"-u -b 40M -l 1400 -n {size}")
    sent = end["sum_sent"]["bytes"] if "sum_sent" in end else end["sum"]["bytes"]
    received = end["sum_received"]["bytes"] if "sum_received" in end else sent
    return sent, received


def test_figures_match_what_was_sent_and_only_their_owner_sees_them(polled):
    alice, bob = Tenant(polled, "alice"), Tenant(polled, "bob")
    with lab(
        polled.ofp_port, switches=2, cables=[(1, 2)], hosts={"h1": 1, "h2": 2, "h3": 1}
    ) as net:
        network = alice.network("net", "10.0.0.0/24")
        ports = {h: alice.port(network, h) for h in ("h1", "h2")}
        theirs = bob.network("bobnet", "10.0.0.0/24")
        ports["h3"] = bob.port(theirs, "h3")
        h1, h2, h3 = (net.get(h) for h in ("h1", "h2", "h3"))
        for host in (h1, h2, h3):
            plug(host, ports[host.name], v4(ports[host.name]))
        ip2 = v4(ports["h2"])
        assert wait_ping(h1, ip2)
        _quiet((h1, ports["h1"]), (h2, ports["h2"]))
        mine = {h: ports[h] for h in ("h1", "h2")}
        before = _settled(alice, mine)

        # Ping: exact packet counts everywhere.
        assert ping(h1, ip2, count=PINGS, wait=2) == PINGS
        after = _settled(alice, mine)
        net_key = ("network", network["id"])
        for key, field, expected in [
            (("port", "h1"), "tx_packets", PINGS),
            (("port", "h1"), "rx_packets", PINGS),
            (("port", "h2"), "tx_packets", PINGS),
            (("port", "h2"), "rx_packets", PINGS),
            (("vif", "h1"), "tx_packets", PINGS),
            (("vif", "h2"), "rx_packets", PINGS),
            (("ip", "h1"), "tx_packets", PINGS),
            (("ip", "h1"), "rx_packets", PINGS),
            (("ip", "h2"), "tx_packets", PINGS),
            (("ip", "h2"), "rx_packets", PINGS),
            (net_key, "tx_packets", 2 * PINGS),
            (net_key, "rx_packets", 2 * PINGS),
            (("port", "h1"), "tx_bytes", PINGS * ICMP_FRAME),
            (("ip", "h2"), "rx_bytes", PINGS * ICMP_FRAME),
        ]:
            assert _delta(after, before, key, field) == expected, (key, field, after[key])

        # iperf3 of a known size: bytes within 5% of what iperf3 sent and received (the
        # counters see Ethernet, IP and UDP headers: 42 bytes on 1400 of data, 3%).
        sent, received = _iperf_udp(h1, h2, ip2)
        assert sent >= 8 * 2**20 and received > 0.5 * sent, (sent, received)
        final = _settled(alice, mine)
        for key, field, expected in [
            (("port", "h1"), "tx_bytes", sent),
            (("vif", "h1"), "tx_bytes", sent),
            (("ip", "h1"), "tx_bytes", sent),
            (("port", "h2"), "rx_bytes", received),
            (("ip", "h2"), "rx_bytes", received),
            (net_key, "tx_bytes", sent),
        ]:
            value = _delta(final, after, key, field)
            assert 0.95 * expected <= value <= 1.05 * expected, (key, field, value, expected)

        # Bob sees nothing of alice's traffic, and alice nothing of bob's.
        for collection, object_id in [
            ("network-statistics", network["id"]),
            ("port-statistics", ports["h1"]["id"]),
            ("vif-statistics", ports["h1"]["id"]),
        ]:
            assert bob.stats(collection, object_id)[0] == 404
            status, listed = bob.stats(collection)
            assert status == 200 and {e["id"] for e in listed} <= {
                theirs["id"],
                ports["h3"]["id"],
            }, listed
        assert {e["port_id"] for e in bob.stats("ip-statistics")[1]} == {ports["h3"]["id"]}
        assert alice.stats("port-statistics", ports["h3"]["id"])[0] == 404
        bobs = bob.stats("port-statistics", ports["h3"]["id"])[1]
        assert bobs["tx_packets"] < PINGS and bobs["rx_bytes"] < received / 10, bobs

        # The seed's query: chosen counters of chosen components of one network.
        status, chosen = alice.stats(
            "port-statistics",
            network_id=network["id"],
            port_id=ports["h2"]["id"],
            fields=["port_id", "rx_bytes", "tx_bytes"],
        )
        assert status == 200 and chosen == [
            {
                "port_id": ports["h2"]["id"],
                "rx_bytes": final[("port", "h2")]["rx_bytes"],
                "tx_bytes": final[("port", "h2")]["tx_bytes"],
            }
        ]
        status, vifs = alice.stats("vif-statistics", switch_id="0000000000000002")
        assert [v["port_id"] for v in vifs] == [ports["h2"]["id"]], vifs
        assert vifs[0]["name"].startswith("t2-eth") and vifs[0]["ofport"] > 0

        # /metrics: the same figures, labelled with the API's ids, in the Prometheus format.
        import urllib.request

        text = urllib.request.urlopen(polled.metrics_url, timeout=5).read().decode()
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }
        labels = tuple(
            sorted(
                {
                    "project_id": "alice",
                    "network_id": network["id"],
                    "port_id": ports["h1"]["id"],
                }.items()
            )
        )
        assert samples[("naas_port_tx_bytes_total", labels)] >= final[("port", "h1")]["tx_bytes"]
        assert samples[("naas_switch_vifs", (("switch_id", "0000000000000001"),))] == 2
        assert any(
            name == "naas_api_request_seconds_count" and value > 0
            for (name, _), value in samples.items()
        )


def test_counters_never_go_back_across_restarts_reconnects_and_removed_flows(tmp_path):
    """A slow poll (5 s): drops counted on a flow that is removed before the next round
    still count (the switch reports them as it removes the flow)."""
    server = start_server(
        tmp_path,
        extra_args=["--ovsdb", "unix:/var/run/openvswitch/db.sock", "--stats-interval", "5"],
    )
    alice = Tenant(server, "alice")
    try:
        with lab(server.ofp_port, switches=1, hosts={"h1": 1, "h2": 1}) as net:
            network = alice.network("net", "10.0.0.0/24")
            ports = {h: alice.port(network, h) for h in ("h1", "h2")}
            h1, h2 = net.get("h1"), net.get("h2")
            for host in (h1, h2):
                plug(host, ports[host.name], v4(ports[host.name]))
            ip1, ip2 = v4(ports["h1"]), v4(ports["h2"])
            assert wait_ping(h1, ip2)
            _quiet((h1, ports["h1"]), (h2, ports["h2"]))

            def port_figures():
                return alice.stats("port-statistics", ports["h1"]["id"])[1]

            # Spoofed frames, then port security off at once: the drop flow is gone before
            # the next round, its last counters come in the flow-removed message.
            assert wait_for(lambda: port_figures()["updated_at"], timeout=15)
            start = port_figures()["dropped"]["port_security"]["packets"]
            scapy(
                h1,
                f"sendp(Ether(src={ports['h1']['mac_address']!r}, "
                f"dst={ports['h2']['mac_address']!r})/IP(src='10.0.0.99', dst={ip2!r})"
                f"/UDP(dport=9)/b'spoof', count=7)",
            )
            # Open vSwitch credits a flow with its datapath's counts about every 500 ms (its
            # revalidators): what a flow counted in its very last moment is lost by the switch.
            time.sleep(1.5)
            resp = alice.api.put(
                "/v2.0/ports/" + ports["h1"]["id"],
                {"port": {"port_security_enabled": False, "security_groups": []}},
            )
            assert resp.status == 200, resp
            assert wait_for(
                lambda: port_figures()["dropped"]["port_security"]["packets"] >= start + 7,
                timeout=15,
            ), port_figures()
            time.sleep(6)
            assert port_figures()["dropped"]["port_security"]["packets"] == start + 7

            # h1 is out of the default group now: h2 pings it (its replies are established).
            assert ping(h2, ip1, count=PINGS, wait=2) == PINGS
            time.sleep(6)
            before = port_figures()
            # Back with a fast poll: its first round comes before the VIFs are known again.
            server.extra_args[-1] = str(INTERVAL)
            server.restart()
            # A switch reconnect too: the controller is dropped and set again.
            switch = net.switches[0]
            switch.vsctl(f"del-controller {switch.name}")
            switch.vsctl(f"set-controller {switch.name} tcp:127.0.0.1:{server.ofp_port}")
            time.sleep(3)
            assert ping(h2, ip1, count=PINGS, wait=2) == PINGS
            assert wait_for(
                lambda: port_figures()["tx_packets"] >= before["tx_packets"] + PINGS, timeout=20
            ), port_figures()
            time.sleep(3)
            after = port_figures()
            # Not one packet lost or counted twice across the restart and the reconnect.
            assert after["tx_packets"] - before["tx_packets"] == PINGS, (before, after)
            assert after["rx_packets"] - before["rx_packets"] == PINGS, (before, after)
            assert after["dropped"] == before["dropped"]
    finally:
        server.stop()
