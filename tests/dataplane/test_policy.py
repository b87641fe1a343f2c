"""Policies on real OVS with real traffic: port security, stateful and stateless security
groups, network-wide protocol blocks and QoS (meters, DSCP), and their drop counters."""

import re
import time

from naas_sdn.flows.layout import Owner
from tests.dataplane.conftest import metric
from tests.dataplane.lab import (
    Capture,
    dump_flows,
    iperf_udp,
    lab,
    ping,
    plugged_ports,
    scapy,
    switch_side,
    tcp_ok,
    udp_blocked,
    v4,
    wait_for,
    wait_ping,
)


def _put(tenant, path, key, body):
    resp = tenant.api.put(path, {key: body})
    assert resp.status == 200, resp
    return resp.json[key]


def _counted(net, host):
    """n_packets of the drop flows of ``host``'s port (its counter owner's flows)."""
    side = switch_side(net.get(host))
    flows = dump_flows(side.node)
    classify = next(
        (f for f in flows if f'in_port="{side.name}"' in f and "goto_table:10" in f), None
    )
    assert classify, "\n".join(f for f in flows if "in_port" in f)
    port = int(re.search(r"cookie=(0x[0-9a-f]+)", classify).group(1), 16) & ~(0xFF << 40)
    cookie = (port & ~(0xFF << 48)) | (Owner.COUNTER << 48)
    total = 0
    for flow in flows:
        own = int(re.search(r"cookie=(0x[0-9a-f]+)", flow).group(1), 16) & ~(0xFF << 40)
        if own == cookie and flow.rstrip().endswith("actions=drop"):
            total += int(re.search(r"n_packets=(\d+)", flow).group(1))
    return total


def test_port_security_drops_spoofed_frames_and_counts_them(controller, tenants):
    alice = tenants[0]
    with lab(controller.ofp_port, switches=1, hosts={"h1": 1, "h2": 1, "h3": 1}) as net:
        network = alice.network("net", "10.0.0.0/24")
        ports = plugged_ports(
            alice,
            net,
            network,
            ("h1", "h2", "h3"),
            h3={"allowed_address_pairs": [{"ip_address": "10.0.0.200"}]},
        )
        h1, h2, h3 = (net.get(h) for h in ("h1", "h2", "h3"))
        ip1, ip2 = v4(ports["h1"]), v4(ports["h2"])
        assert wait_ping(h1, ip2)
        before = _counted(net, "h1")
        capture = Capture(h2, [ports["h1"]["mac_address"], "fa:16:3e:de:ad:01"])
        legit = f"Ether(src={ports['h1']['mac_address']!r}, dst={ports['h2']['mac_address']!r})"
        scapy(
            h1,
            f"""
sendp({legit}/IP(src={ip1!r}, dst={ip2!r})/UDP(sport=1111, dport=7777)/b'legit', count=3)
sendp({legit}/IP(src='10.0.0.99', dst={ip2!r})/UDP(sport=1111, dport=7777)/b'spoof-ip', count=3)
sendp({legit}/IP(src={v4(ports["h3"])!r}, dst={ip2!r})/UDP(dport=7777), count=3)
sendp(Ether(src='fa:16:3e:de:ad:01', dst={ports["h2"]["mac_address"]!r})/IP(src={ip1!r},
      dst={ip2!r})/UDP(sport=1111, dport=7777), count=3)
sendp(Ether(src={ports["h1"]["mac_address"]!r}, dst='ff:ff:ff:ff:ff:ff')/ARP(op=2,
      hwsrc={ports["h1"]["mac_address"]!r}, psrc={ip2!r}, pdst={ip2!r}), count=3)""",
        )
        lines = capture.stop()
        seen = "\n".join(lines)
        assert sum("7777" in line and ip1 + ".1111" in line for line in lines) == 3, seen
        assert "10.0.0.99" not in seen and v4(ports["h3"]) not in seen, seen
        assert "fa:16:3e:de:ad:01" not in seen, seen
        assert "is-at" not in seen, seen  # the forged ARP reply never arrived
        # Each rejected frame is counted on the sender's own drop flows.
        assert _counted(net, "h1") - before >= 12
        # An allowed address pair is a legitimate source.
        h3.cmd(f"ip addr add 10.0.0.200/24 dev {h3.defaultIntf().name}")
        assert ping(h3, ip2, count=2) == 2
        assert "2 received" in h3.cmd(f"ping -n -c2 -W1 -I 10.0.0.200 {ip2}")
        # Port security cannot go while groups are on the port; then it goes at once.
        url = "/v2.0/ports/" + ports["h1"]["id"]
        resp = alice.api.put(url, {"port": {"port_security_enabled": False}})
        assert resp.status == 409, resp
        _put(alice, url, "port", {"security_groups": [], "port_security_enabled": False})
        _put(
            alice,
            "/v2.0/ports/" + ports["h2"]["id"],
            "port",
            {"security_groups": [], "port_security_enabled": False},
        )
        h1.cmd(f"ip addr add 10.0.0.99/24 dev {h1.defaultIntf().name}")
        assert wait_for(
            lambda: "1 received" in h1.cmd(f"ping -n -c1 -W1 -I 10.0.0.99 {ip2}"), timeout=10
        )


def test_stateful_security_group_admits_ssh_only_and_replies(controller, tenants):
    alice = tenants[0]
    with lab(controller.ofp_port, switches=2, cables=[(1, 2)], hosts={"h1": 1, "h2": 2}) as net:
        network = alice.network("net", "10.0.0.0/24")
        ssh = alice.create("/v2.0/security-groups", "security_group", {"name": "ssh"})
        rule = alice.create(
            "/v2.0/security-group-rules",
            "security_group_rule",
            {
                "security_group_id": ssh["id"],
                "direction": "ingress",
                "protocol": "tcp",
                "port_range_min": 22,
                "port_range_max": 22,
            },
        )
        web = alice.create("/v2.0/security-groups", "security_group", {"name": "web"})
        alice.create(
            "/v2.0/security-group-rules",
            "security_group_rule",
            {
                "security_group_id": web["id"],
                "direction": "ingress",
                "protocol": "tcp",
                "port_range_min": 80,
                "port_range_max": 80,
                "remote_ip_prefix": "10.0.0.0/24",
            },
        )
        ports = plugged_ports(
            alice,
            net,
            network,
            ("h1", "h2"),
            h1={"security_groups": [web["id"]]},
            h2={"security_groups": [ssh["id"]]},
        )
        h1, h2 = net.get("h1"), net.get("h2")
        ip1, ip2 = v4(ports["h1"]), v4(ports["h2"])
        for host, listen in ((h2, 22), (h2, 80), (h1, 80)):
            host.cmd(f"nc -lk {listen} >/dev/null 2>&1 &")
        try:
            assert wait_for(lambda: tcp_ok(h1, ip2, 22), timeout=20)
            assert not tcp_ok(h1, ip2, 80)
            assert ping(h1, ip2, count=2) == 0  # no rule admits ICMP
            # h2's own connection out: its replies come back although no rule admits them.
            assert tcp_ok(h2, ip1, 80)
            assert _counted(net, "h2") > 0
            # Without the rule no new connection gets in, at once.
            assert alice.api.delete("/v2.0/security-group-rules/" + rule["id"]).status == 204
            assert wait_for(lambda: not tcp_ok(h1, ip2, 22), timeout=10)
            assert tcp_ok(h2, ip1, 80)
        finally:
            for host in (h1, h2):
                host.cmd("pkill -f 'nc -lk'")


def _icmp_seen(capture: Capture, kind: str) -> int:
    """Echo requests or replies (``kind``) among a capture's lines."""
    return sum(f"ICMP echo {kind}" in line for line in capture.stop())


def test_stateless_security_group_needs_a_rule_each_way(controller, tenants):
    """h1 and h2 on two switches, each port in a stateless group: h1's pings reach h2 and
    come back only while h2's group admits ICMP in and its replies out, nothing tracked."""
    alice = tenants[0]
    with lab(controller.ofp_port, switches=2, cables=[(1, 2)], hosts={"h1": 1, "h2": 2}) as net:
        network = alice.network("net", "10.0.0.0/24")
        stateless = {"stateful": False}
        client = alice.create("/v2.0/security-groups", "security_group", {"name": "c", **stateless})
        alice.admit(client, "10.0.0.0/24")  # the replies h1 gets
        server = alice.create("/v2.0/security-groups", "security_group", {"name": "s", **stateless})
        for made in server["security_group_rules"]:  # its egress to anywhere
            assert alice.api.delete("/v2.0/security-group-rules/" + made["id"]).status == 204
        ping_in = alice.admit(server, "10.0.0.0/24")
        answer = {
            "security_group_id": server["id"],
            "direction": "egress",
            "protocol": "icmp",
            "remote_ip_prefix": "10.0.0.0/24",
        }
        reply_out = alice.create("/v2.0/security-group-rules", "security_group_rule", answer)
        ports = plugged_ports(
            alice,
            net,
            network,
            ("h1", "h2"),
            h1={"security_groups": [client["id"]]},
            h2={"security_groups": [server["id"]]},
        )
        h1, h2 = net.get("h1"), net.get("h2")
        ip2, mac1, mac2 = v4(ports["h2"]), ports["h1"]["mac_address"], ports["h2"]["mac_address"]
        assert wait_ping(h1, ip2), controller.log_tail()
        # Neither switch sends these ports' packets through conntrack.
        for host in (h1, h2):
            flows = dump_flows(switch_side(host).node)
            assert not [f for f in flows if "ct(" in f], "\n".join(f for f in flows if "ct(" in f)
            assert len([f for f in flows if "ct_clear" in f]) == 4  # v4 and v6, both ways
        # Without h2's egress rule its replies stop at its own port: the requests get in.
        rule_url = "/v2.0/security-group-rules/"
        assert alice.api.delete(rule_url + reply_out["id"]).status == 204
        assert wait_for(lambda: ping(h1, ip2, count=1) == 0, timeout=10)
        at_h2, at_h1 = Capture(h2, [mac1], ("icmp",)), Capture(h1, [mac2], ("icmp",))
        assert ping(h1, ip2, count=3) == 0
        assert (_icmp_seen(at_h2, "request"), _icmp_seen(at_h1, "reply")) == (3, 0)
        alice.create("/v2.0/security-group-rules", "security_group_rule", answer)
        assert wait_for(lambda: ping(h1, ip2, count=1) == 1, timeout=10)
        assert ping(h1, ip2, count=3) == 3
        # Without its ingress rule the requests do not reach h2 at all.
        assert alice.api.delete(rule_url + ping_in["id"]).status == 204
        assert wait_for(lambda: ping(h1, ip2, count=1) == 0, timeout=10)
        at_h2 = Capture(h2, [mac1], ("icmp",))
        assert ping(h1, ip2, count=3) == 0
        assert _icmp_seen(at_h2, "request") == 0
        assert _counted(net, "h2") > 0  # the drops are counted on h2's own flows


def test_network_udp_block_stops_udp_in_that_network_only(controller, tenants):
    alice = tenants[0]
    with lab(
        controller.ofp_port, switches=2, cables=[(1, 2)], hosts={"h1": 1, "h2": 2, "h3": 1, "h4": 2}
    ) as net:
        blocked = alice.network("blocked", "10.0.0.0/24")
        other = alice.network("other", "10.0.1.0/24")
        ports = plugged_ports(alice, net, blocked, ("h1", "h2"))
        ports.update(plugged_ports(alice, net, other, ("h3", "h4")))
        h1, h2, h3, h4 = (net.get(h) for h in ("h1", "h2", "h3", "h4"))
        assert wait_ping(h1, v4(ports["h2"])) and wait_ping(h3, v4(ports["h4"]))
        assert iperf_udp(h1, h2, v4(ports["h2"])) > 0.5e6
        block = alice.create(
            "/v2.0/protocol-blocks",
            "protocol_block",
            {"network_id": blocked["id"], "protocol": "udp"},
        )
        assert udp_blocked(h1, h2, v4(ports["h2"]))
        assert udp_blocked(h2, h1, v4(ports["h1"]))
        assert iperf_udp(h3, h4, v4(ports["h4"])) > 0.5e6
        assert ping(h1, v4(ports["h2"]), count=2) == 2  # the rest still flows
        assert _counted(net, "h1") > 0
        assert alice.api.delete("/v2.0/protocol-blocks/" + block["id"]).status == 204
        assert iperf_udp(h1, h2, v4(ports["h2"])) > 0.5e6


def test_qos_limits_rate_marks_dscp_and_lets_go(controller, tenants):
    alice = tenants[0]
    with lab(controller.ofp_port, switches=1, hosts={"h1": 1, "h2": 1}) as net:
        network = alice.network("net", "10.0.0.0/24")
        ports = plugged_ports(alice, net, network, ("h1", "h2"))
        h1, h2 = net.get("h1"), net.get("h2")
        ip2 = v4(ports["h2"])
        assert wait_ping(h1, ip2)
        policy = alice.create("/v2.0/qos/policies", "policy", {"name": "10M"})
        base = f"/v2.0/qos/policies/{policy['id']}"
        alice.create(
            base + "/bandwidth_limit_rules",
            "bandwidth_limit_rule",
            {"max_kbps": 10000, "max_burst_kbps": 1000, "direction": "egress"},
        )
        alice.create(base + "/dscp_marking_rules", "dscp_marking_rule", {"dscp_mark": 26})
        url = "/v2.0/ports/" + ports["h1"]["id"]
        free = iperf_udp(h1, h2, ip2, rate="30M", seconds=4)
        assert free > 25e6, free
        _put(alice, url, "port", {"qos_policy_id": policy["id"]})
        time.sleep(0.5)
        limited = iperf_udp(h1, h2, ip2, rate="30M", seconds=4)
        assert 8.5e6 <= limited <= 11.5e6, limited
        capture = Capture(h2, [ports["h1"]["mac_address"]], extra=("-v", "icmp"))
        ping(h1, ip2, count=2)
        lines = capture.stop()
        assert any("tos 0x68" in line for line in lines), lines  # DSCP 26 << 2
        _put(alice, url, "port", {"qos_policy_id": None})
        time.sleep(0.5)
        assert iperf_udp(h1, h2, ip2, rate="30M", seconds=4) > 25e6


def test_one_tenants_prefix_rule_does_not_stop_programming_a_shared_switch(controller, tenants):
    """Issue 11: a masked remote prefix in tenant A's group, next to the exact member
    addresses of tenant B's default group in one ACL table, once stopped every later
    programming pass of their shared switch."""
    alice, bob = tenants
    with lab(
        controller.ofp_port, switches=1, hosts={"b1": 1, "b2": 1, "b3": 1, "a1": 1, "a2": 1}
    ) as net:
        b_net = bob.network("b-net", "10.0.1.0/24")
        b_ports = plugged_ports(bob, net, b_net, ("b1", "b2"))
        b1, b3 = net.get("b1"), net.get("b3")
        assert wait_ping(b1, v4(b_ports["b2"]))
        alice.admit(alice.default_group(), "10.8.0.0/24")
        client = alice.create("/v2.0/security-groups", "security_group", {"name": "client"})
        a_net = alice.network("a-net", "10.8.0.0/24")
        a_ports = plugged_ports(
            alice, net, a_net, ("a1", "a2"), a2={"security_groups": [client["id"]]}
        )
        b_ports.update(plugged_ports(bob, net, b_net, ("b3",)))
        # New flows still reach the switch: B's new VM and B's old ones reach each other.
        assert wait_ping(b3, v4(b_ports["b1"]))
        assert wait_ping(b1, v4(b_ports["b3"]))
        # A's VM is admitted by the prefix rule alone (a2 is not in A's default group).
        a1, a2 = net.get("a1"), net.get("a2")
        assert wait_ping(a2, v4(a_ports["a1"]))
        assert ping(a1, v4(a_ports["a2"]), count=2) == 0  # a2's group admits nothing


def test_a_meter_the_switch_refuses_stops_only_its_own_port(controller, tenants):
    """OVS refuses a meter of rate 0 (a QoS limit of 0 kbps, which the API allows): that
    port's limited flows are left out and counted, and the switch goes on being programmed."""
    alice = tenants[0]
    with lab(controller.ofp_port, switches=1, hosts={"h1": 1, "h2": 1, "h3": 1}) as net:
        network = alice.network("net", "10.0.0.0/24")
        zero = alice.create("/v2.0/qos/policies", "policy", {"name": "zero"})
        alice.create(
            f"/v2.0/qos/policies/{zero['id']}/bandwidth_limit_rules",
            "bandwidth_limit_rule",
            {"max_kbps": 0, "direction": "ingress"},
        )
        ports = plugged_ports(alice, net, network, ("h1", "h2"), h2={"qos_policy_id": zero["id"]})
        h1, h3 = net.get("h1"), net.get("h3")
        assert wait_for(lambda: alice.show_port(ports["h2"])["status"] == "ACTIVE")
        ports.update(plugged_ports(alice, net, network, ("h3",)))
        assert wait_ping(h3, v4(ports["h1"])), controller.log_tail()
        assert metric(controller, "naas_flows_rejected_total", 'reason="refused"') > 0
        assert ping(h1, v4(ports["h2"]), count=2) == 0  # nothing is delivered to h2
