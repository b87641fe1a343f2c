"""A project on another project's shared network, on real OVS: whatever it asks for, it
cannot send as the owner's VMs (frames forged with scapy never arrive)."""

from tests.dataplane.lab import Capture, lab, ping, plug, scapy, v4, wait_ping


def test_shared_network_user_cannot_spoof_the_owners_vms(controller, tenants):
    alice, bob = tenants
    with lab(controller.ofp_port, switches=1, hosts={"h1": 1, "h2": 1, "h3": 1}) as net:
        network = alice.create("/v2.0/networks", "network", {"name": "shared", "shared": True})
        alice.create(
            "/v2.0/subnets",
            "subnet",
            {
                "network_id": network["id"],
                "ip_version": 4,
                "cidr": "10.0.0.0/24",
                "enable_dhcp": False,
            },
        )
        h1, h2, h3 = (net.get(h) for h in ("h1", "h2", "h3"))
        vm1, vm2 = alice.port(network, "h1"), alice.port(network, "h2")
        plug(h1, vm1, v4(vm1))
        plug(h2, vm2, v4(vm2))
        ip1, ip2 = v4(vm1), v4(vm2)
        assert wait_ping(h1, ip2)
        # Bob asks for what would let him pose as Alice's VM: refused, nothing created.
        for attrs in (
            {"allowed_address_pairs": [{"ip_address": "0.0.0.0/0"}]},
            {"port_security_enabled": False},
            {"device_owner": "network:dhcp"},
            {"mac_address": vm1["mac_address"]},
            {"fixed_ips": [{"ip_address": ip1}]},
        ):
            resp = bob.api.post("/v2.0/ports", {"port": dict(network_id=network["id"], **attrs)})
            assert resp.status == 403, (attrs, resp)
        intruder = bob.port(network, "h3")
        resp = bob.api.put(
            "/v2.0/ports/" + intruder["id"],
            {"port": {"allowed_address_pairs": [{"ip_address": "0.0.0.0/0"}]}},
        )
        assert resp.status == 403, resp
        plug(h3, intruder, v4(intruder))
        shown = bob.show_port(intruder)
        assert shown["port_security_enabled"] is True and shown["allowed_address_pairs"] == []

        capture = Capture(h2, [vm1["mac_address"], intruder["mac_address"]], extra=("udp",))
        own = f"Ether(src={vm1['mac_address']!r}, dst={vm2['mac_address']!r})"
        scapy(
            h1,
            f"sendp({own}/IP(src={ip1!r}, dst={ip2!r})/UDP(sport=1, dport=7777)/b'alice', count=3)",
        )
        forged = f"Ether(src={intruder['mac_address']!r}, dst={vm2['mac_address']!r})"
        posing = f"Ether(src={vm1['mac_address']!r}, dst={vm2['mac_address']!r})"
        scapy(
            h3,
            f"""
sendp({forged}/IP(src={ip1!r}, dst={ip2!r})/UDP(sport=2, dport=7777)/b'forged', count=3)
sendp({posing}/IP(src={ip1!r}, dst={ip2!r})/UDP(sport=3, dport=7777)/b'posing', count=3)""",
        )
        lines = capture.stop()
        seen = "\n".join(lines)
        assert sum(f"{ip1}.1 > {ip2}.7777" in line for line in lines) == 3, seen
        assert f"{ip1}.2 >" not in seen and f"{ip1}.3 >" not in seen, seen
        # Configured with Alice's address, Bob's VM gets no answer from her other VM.
        h3.cmd(f"ip addr flush dev {h3.defaultIntf().name}")
        h3.cmd(f"ip addr add {ip1}/24 dev {h3.defaultIntf().name}")
        assert ping(h3, ip2, count=5) == 0
        assert ping(h1, ip2, count=2) == 2
