"""IP configuration reaching real VMs: DHCP, DHCPv6 and SLAAC from the controller, ARP/ND."""

import re
import time

from tests.dataplane.lab import HOOKS, Capture, lab, ping, plug, udhcpc, v4, wait_for, wait_ping


def enable_ipv6(host):
    intf = host.defaultIntf().name
    for key in ("all.disable_ipv6=0", f"{intf}.disable_ipv6=0", f"{intf}.accept_ra=1"):
        host.cmd(f"sysctl -qw net.ipv6.conf.{key}")
    host.cmd(f"ip link set {intf} down; ip link set {intf} up")  # sends router solicitations


def global_v6(host):
    out = host.cmd(f"ip -6 -o addr show dev {host.defaultIntf().name} scope global")
    return re.findall(r"inet6 ([0-9a-f:]+)/", out)


def _subnet(tenant, network, **attrs):
    body = {"network_id": network["id"], **attrs}
    resp = tenant.api.post("/v2.0/subnets", {"subnet": body})
    assert resp.status == 201, resp
    return resp.json["subnet"]


def test_dhcp_configures_each_vm_and_overlapping_tenants_stay_apart(controller, tenants, tmp_path):
    layout = {"a1": (0, 1), "a2": (0, 2), "b1": (1, 1), "b2": (1, 2)}
    with lab(
        controller.ofp_port,
        switches=2,
        cables=[(1, 2)],
        hosts={h: s for h, (_, s) in layout.items()},
    ) as net:
        ports, subnets = {}, []
        for t, tenant in enumerate(tenants):
            network = tenant.network("net")
            subnets.append(
                _subnet(
                    tenant,
                    network,
                    ip_version=4,
                    cidr="10.0.0.0/24",
                    dns_nameservers=["192.0.2.53"],
                    host_routes=[{"destination": "192.168.50.0/24", "nexthop": "10.0.0.254"}],
                )
            )
            for h, (ti, _) in layout.items():
                if ti == t:
                    ports[h] = tenant.port(network, h)
                    plug(net.get(h), ports[h])
        # Both tenants got the same addresses from their own 10.0.0.0/24.
        assert sorted(v4(ports[h]) for h in ("a1", "a2")) == sorted(
            v4(ports[h]) for h in ("b1", "b2")
        )
        a_macs = [ports[h]["mac_address"] for h in ("a1", "a2")]
        watch = [Capture(net.get(h), a_macs) for h in ("b1", "b2")]
        for h in layout:
            got = wait_for(lambda: udhcpc(net.get(h), tmp_path / f"{h}.lease"), timeout=30)
            assert got, f"{h} got no lease"
            assert got["ip"] == v4(ports[h])
            assert got["router"] == "10.0.0.1" and got["dns"].strip() == "192.0.2.53"
            assert got["mtu"] == "1500" and got["serverid"] == "10.0.0.1"
            # Option 121 carries the host route and the default route (RFC 3442).
            assert got["staticroutes"].split() == [
                "192.168.50.0/24",
                "10.0.0.254",
                "0.0.0.0/0",
                "10.0.0.1",
            ]
        for src, dst in (("a1", "a2"), ("b2", "b1")):
            assert wait_ping(net.get(src), v4(ports[dst]))
        for capture in watch:
            assert capture.stop() == []  # tenant B never saw a frame of tenant A
        # ARP for the gateway is answered before any router exists, with its MAC.
        a1 = net.get("a1")
        a1.cmd("ping -c1 -W1 10.0.0.1")
        assert re.search(r"10\.0\.0\.1 .*lladdr 02:4e:41:00", a1.cmd("ip neigh show 10.0.0.1"))
        # ARP between VMs is answered by flows: a2 never sees a1's request for it.
        a2_sees = Capture(net.get("a2"), [ports["a1"]["mac_address"]])
        a1.cmd("ip neigh flush all")
        assert ping(a1, v4(ports["a2"]), count=1) == 1
        assert not [line for line in a2_sees.stop() if "ARP" in line and "Request" in line]


def test_dhcp_gives_nothing_useful_to_spoofers_or_without_dhcp(controller, tenants, tmp_path):
    alice = tenants[0]
    with lab(controller.ofp_port, hosts={"h1": 1, "h2": 1, "h3": 1}) as net:
        network = alice.network("net")
        _subnet(alice, network, ip_version=4, cidr="10.1.0.0/24")
        other = alice.network("quiet")
        _subnet(alice, other, ip_version=4, cidr="10.2.0.0/24", enable_dhcp=False)
        p1, p2 = alice.port(network, "h1"), alice.port(network, "h2")
        p3 = alice.port(other, "h3")
        for host, port in (("h1", p1), ("h2", p2), ("h3", p3)):
            plug(net.get(host), port)
        h1 = net.get("h1")
        assert wait_for(lambda: udhcpc(h1, tmp_path / "h1.lease"), timeout=30)["ip"] == v4(p1)
        # Asking for another port's address: the server hands this port's own.
        assert udhcpc(h1, tmp_path / "h1.lease", f"-r {v4(p2)}")["ip"] == v4(p1)
        # Wearing another port's MAC on this port: no offer at all.
        h1.setMAC(p2["mac_address"])
        assert udhcpc(h1, tmp_path / "h1-spoof.lease") == {}
        # A subnet with DHCP disabled gets no answer from us.
        assert udhcpc(net.get("h3"), tmp_path / "h3.lease") == {}


def test_subnet_changes_reach_vms_at_renewal_and_deletion_stops_answers(
    controller, tenants, tmp_path
):
    alice = tenants[0]
    with lab(controller.ofp_port, hosts={"h1": 1}) as net:
        network = alice.network("net")
        subnet = _subnet(
            alice, network, ip_version=4, cidr="10.3.0.0/24", dns_nameservers=["192.0.2.1"]
        )
        port = alice.port(network, "h1")
        plug(net.get("h1"), port)
        h1 = net.get("h1")
        assert (
            wait_for(lambda: udhcpc(h1, tmp_path / "l"), timeout=30)["dns"].strip() == "192.0.2.1"
        )
        resp = alice.api.put(
            "/v2.0/subnets/" + subnet["id"],
            {
                "subnet": {
                    "dns_nameservers": ["192.0.2.2", "192.0.2.3"],
                    "host_routes": [{"destination": "172.16.0.0/12", "nexthop": "10.3.0.9"}],
                }
            },
        )
        assert resp.status == 200, resp
        renewed = wait_for(
            lambda: (
                (got := udhcpc(h1, tmp_path / "l"))
                and got["dns"].split() == ["192.0.2.2", "192.0.2.3"]
                and got
            )
        )
        assert renewed and renewed["staticroutes"].split()[:2] == ["172.16.0.0/12", "10.3.0.9"]
        # Without an address on the subnet, and then without the subnet: no more answers.
        assert alice.api.put("/v2.0/ports/" + port["id"], {"port": {"fixed_ips": []}}).status == 200
        assert alice.api.delete("/v2.0/subnets/" + subnet["id"]).status == 204
        time.sleep(1)
        assert udhcpc(h1, tmp_path / "l") == {}
        h1.cmd("ip neigh flush all")
        h1.cmd("ping -c1 -W1 10.3.0.1")
        assert "lladdr" not in h1.cmd("ip neigh show 10.3.0.1")


def test_slaac_and_dhcpv6_give_ipv6_addresses(controller, tenants, tmp_path):
    alice = tenants[0]
    with lab(
        controller.ofp_port, switches=2, cables=[(1, 2)], hosts={"s1": 1, "s2": 2, "d1": 1}
    ) as net:
        slaac_net = alice.network("v6-slaac")
        _subnet(
            alice,
            slaac_net,
            ip_version=6,
            cidr="2001:db8:1::/64",
            ipv6_ra_mode="slaac",
            ipv6_address_mode="slaac",
        )
        stateful_net = alice.network("v6-stateful")
        _subnet(
            alice,
            stateful_net,
            ip_version=6,
            cidr="2001:db8:2::/64",
            ipv6_ra_mode="dhcpv6-stateful",
            ipv6_address_mode="dhcpv6-stateful",
            dns_nameservers=["2001:db8::53"],
        )
        ports = {h: alice.port(slaac_net, h) for h in ("s1", "s2")}
        ports["d1"] = alice.port(stateful_net, "d1")
        for h, port in ports.items():
            plug(net.get(h), port)
            enable_ipv6(net.get(h))
        # SLAAC: each host configures exactly its port's EUI-64 address from our RA.
        for h in ("s1", "s2"):
            want = [f["ip_address"] for f in ports[h]["fixed_ips"]]
            assert wait_for(lambda: global_v6(net.get(h)) == want, timeout=30), (
                h,
                global_v6(net.get(h)),
                want,
            )
        s2_ip = ports["s2"]["fixed_ips"][0]["ip_address"]
        assert wait_for(
            lambda: " 1 received" in net.get("s1").cmd(f"ping -6 -c1 -W1 {s2_ip}"), timeout=15
        )
        # DHCPv6 stateful: the port's address, and the DNS server.
        d1, lease = net.get("d1"), tmp_path / "d1.lease6"
        want = ports["d1"]["fixed_ips"][0]["ip_address"]
        # dhclient gives its script a clean environment: name the lease file in a wrapper.
        hook = tmp_path / "dhclient6-hook.sh"
        hook.write_text(f"#!/bin/sh\nNAAS_LEASE_FILE={lease} exec {HOOKS / 'dhclient6.sh'}\n")
        hook.chmod(0o755)

        def dhcpv6():
            d1.cmd(
                f"timeout 15 dhclient -6 -1 -sf {hook} -lf {tmp_path / 'd1.leases'} "
                f"-pf {tmp_path / 'd1.pid'} {d1.defaultIntf().name} >/dev/null 2>&1"
            )
            return lease.exists() and dict(
                line.split("=", 1) for line in lease.read_text().splitlines()
            )

        try:
            got = wait_for(dhcpv6, timeout=45, interval=1)
        finally:  # dhclient stays as a daemon once bound
            d1.cmd(f"kill $(cat {tmp_path / 'd1.pid'}) 2>/dev/null")
        assert got and got["new_ip6_address"] == want
        assert "2001:db8::53" in got["new_dhcp6_name_servers"]
