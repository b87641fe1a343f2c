"""IP services: ARP/ND flows on the simulated fabric, and the controller's DHCP/RA answers."""

from types import MappingProxyType

import netaddr
from os_ken.lib.packet import dhcp, dhcp6, ethernet, icmpv6, ipv4, ipv6, packet, udp

from naas_sdn.apps.services import PacketServices, classless_routes
from naas_sdn.flows import addresses, compiler
from naas_sdn.flows.fabric import FabricSnapshot, VifLocation
from naas_sdn.flows.layout import gateway_mac, port_meter
from naas_sdn.flows.simulate import Simulator
from naas_sdn.model.snapshot import ModelSnapshot, NetworkView, PortView, SubnetView

BCAST = "ff:ff:ff:ff:ff:ff"


def mac(key):
    return f"fa:16:3e:00:00:{key:02x}"


def lab(v4_dhcp=True, ra_mode="slaac", dns=("192.0.2.53",), routes=()):
    """Tenants A and B, each with 10.0.0.0/24 (same addresses!) and 2001:db8:N::/64."""
    nets = [NetworkView("A", "ta", 10, True), NetworkView("B", "tb", 11, True)]
    subnets = []
    for net, n in (("A", 1), ("B", 2)):
        subnets.append(
            SubnetView(f"{net}4", net, "t", 4, "10.0.0.0/24", "10.0.0.1", v4_dhcp, dns, routes)
        )
        subnets.append(
            SubnetView(
                f"{net}6",
                net,
                "t",
                6,
                f"2001:db8:{n}::/64",
                f"2001:db8:{n}::1",
                True,
                ("2001:db8::53",),
                (),
                ra_mode,
                ra_mode,
            )
        )
    ports = []
    for key, net, ip in ((1, "A", "10.0.0.11"), (2, "A", "10.0.0.12"), (3, "B", "10.0.0.13")):
        n = 1 if net == "A" else 2
        v6 = addresses.eui64(f"2001:db8:{n}::/64", mac(key))
        ports.append(
            PortView(f"p{key}", net, "t", key, mac(key), True, ((f"{net}4", ip), (f"{net}6", v6)))
        )
    model = ModelSnapshot.build(nets, ports, subnets=subnets)
    fabric = FabricSnapshot(
        frozenset({1}),
        frozenset(),
        MappingProxyType({f"p{k}": VifLocation("br", 1, k) for k in (1, 2, 3)}),
    )
    return model, fabric


def arp_request(sender_key, sender_ip, target_ip):
    return dict(
        eth_src=mac(sender_key),
        eth_dst=BCAST,
        eth_type=0x0806,
        arp_op=1,
        arp_spa=sender_ip,
        arp_sha=mac(sender_key),
        arp_tpa=target_ip,
        arp_tha="00:00:00:00:00:00",
    )


def test_arp_for_a_known_address_is_answered_by_flows_back_out_the_asking_port():
    model, fabric = lab()
    sim = Simulator(compiler.compile_fabric(model, fabric))
    out = sim.inject(1, 1, **arp_request(1, "10.0.0.11", "10.0.0.12"))
    assert len(out) == 1 and out[0].port == 1
    reply = dict(out[0].packet)
    assert (
        reply["arp_op"],
        reply["arp_spa"],
        reply["arp_sha"],
        reply["eth_src"],
        reply["eth_dst"],
        reply["arp_tpa"],
        reply["arp_tha"],
    ) == (2, "10.0.0.12", mac(2), mac(2), mac(1), "10.0.0.11", mac(1))


def test_arp_answers_stay_inside_the_network():
    model, fabric = lab()
    sim = Simulator(compiler.compile_fabric(model, fabric))
    # 10.0.0.13 belongs to tenant B: A's request floods inside A only, nobody answers for B.
    out = sim.inject(1, 1, **arp_request(1, "10.0.0.11", "10.0.0.13"))
    assert [(d.port, dict(d.packet)["arp_op"]) for d in out] == [(2, 1)]


def test_gateway_arp_answered_before_any_router_exists():
    model, fabric = lab()
    sim = Simulator(compiler.compile_fabric(model, fabric))
    out = sim.inject(1, 3, **arp_request(3, "10.0.0.13", "10.0.0.1"))
    reply = dict(out[0].packet)
    assert out[0].port == 3 and reply["arp_sha"] == gateway_mac(11) and reply["arp_op"] == 2


def test_own_address_probe_is_not_answered():
    model, fabric = lab()
    sim = Simulator(compiler.compile_fabric(model, fabric))
    probe = arp_request(1, "0.0.0.0", "10.0.0.11")
    out = sim.inject(1, 1, **probe)
    assert all(dict(d.packet)["arp_op"] == 1 for d in out)  # flooded, never answered


def test_neighbor_solicitation_goes_to_the_owner_only():
    model, fabric = lab()
    sim = Simulator(compiler.compile_fabric(model, fabric))
    target = addresses.eui64("2001:db8:1::/64", mac(2))
    ns = dict(
        eth_src=mac(1),
        eth_dst="33:33:ff:00:00:02",
        eth_type=0x86DD,
        ip_proto=58,
        icmpv6_type=135,
        ipv6_nd_target=target,
        ipv6_src=addresses.link_local(mac(1)),
    )
    assert [(d.port, dict(d.packet)["eth_dst"]) for d in sim.inject(1, 1, **ns)] == [(2, mac(2))]
    ns["ipv6_nd_target"] = addresses.link_local(mac(2))
    assert [d.port for d in sim.inject(1, 1, **ns)] == [2]


def test_dhcp_and_rs_are_punted_through_the_ports_own_meter():
    model, fabric = lab()
    states = compiler.compile_fabric(model, fabric)
    sim = Simulator(states)
    discover = dict(
        eth_src=mac(1),
        eth_dst=BCAST,
        eth_type=0x0800,
        ip_proto=17,
        udp_src=68,
        udp_dst=67,
        ipv4_src="0.0.0.0",
        ipv4_dst="255.255.255.255",
    )
    assert [d.port for d in sim.inject(1, 1, **discover)] == ["controller"]
    punts = [
        f
        for f in states[1].flows
        if f.instructions and f.instructions[0][0] == "meter" and dict(f.match).get("reg6") == 1
    ]
    assert punts and {f.instructions[0][1] for f in punts} == {port_meter(1)}
    assert port_meter(1) in {m.meter_id for m in states[1].meters}
    rs = dict(
        eth_src=mac(1),
        eth_dst="33:33:00:00:00:02",
        eth_type=0x86DD,
        ip_proto=58,
        icmpv6_type=133,
        ipv6_src=addresses.link_local(mac(1)),
    )
    assert [d.port for d in sim.inject(1, 1, **rs)] == ["controller"]


def test_no_dhcp_punt_when_dhcp_is_disabled():
    model, fabric = lab(v4_dhcp=False)
    sim = Simulator(compiler.compile_fabric(model, fabric))
    discover = dict(
        eth_src=mac(1),
        eth_dst=BCAST,
        eth_type=0x0800,
        ip_proto=17,
        udp_src=68,
        udp_dst=67,
        ipv4_src="0.0.0.0",
        ipv4_dst="255.255.255.255",
    )
    # Flooded in the network like any broadcast: a tenant may run its own DHCP server.
    assert [d.port for d in sim.inject(1, 1, **discover)] == [2]


# -- the controller's answers --------------------------------------------------------------


class _Static:
    def __init__(self, value):
        self.value = value

    def snapshot(self):
        return self.value


def services(**kw):
    model, fabric = lab(**kw)
    sent = []
    return PacketServices(
        _Static(model), _Static(fabric), lambda d, p, data: sent.append((d, p, data))
    ), sent


def _dhcp_packet(key, kind, requested=None):
    options = [dhcp.option(dhcp.DHCP_MESSAGE_TYPE_OPT, bytes([kind]))]
    if requested:
        options.append(
            dhcp.option(dhcp.DHCP_REQUESTED_IP_ADDR_OPT, netaddr.IPAddress(requested).packed)
        )
    pkt = packet.Packet()
    pkt.add_protocol(ethernet.ethernet(dst=BCAST, src=mac(key), ethertype=0x0800))
    pkt.add_protocol(ipv4.ipv4(src="0.0.0.0", dst="255.255.255.255", proto=17))
    pkt.add_protocol(udp.udp(src_port=68, dst_port=67))
    pkt.add_protocol(
        dhcp.dhcp(
            op=dhcp.DHCP_BOOT_REQUEST,
            chaddr=mac(key),
            xid=77,
            hlen=6,
            options=dhcp.options(options),
        )
    )
    pkt.serialize()
    return bytes(pkt.data)


def _reply(sent):
    ((_, port, data),) = sent
    return port, packet.Packet(data)


def test_dhcp_offer_and_ack_carry_the_ports_configuration():
    svc, sent = services(routes=(("192.168.0.0/16", "10.0.0.254"),))
    assert svc.handle(1, 1, _dhcp_packet(1, dhcp.DHCP_DISCOVER)) == "dhcp"
    port, pkt = _reply(sent)
    offer = pkt.get_protocol(dhcp.dhcp)
    opts = {o.tag: o.value for o in offer.options.option_list}
    assert port == 1 and offer.yiaddr == "10.0.0.11" and offer.xid == 77
    assert opts[dhcp.DHCP_MESSAGE_TYPE_OPT] == bytes([dhcp.DHCP_OFFER])
    assert opts[dhcp.DHCP_SUBNET_MASK_OPT] == netaddr.IPAddress("255.255.255.0").packed
    assert opts[dhcp.DHCP_GATEWAY_ADDR_OPT] == netaddr.IPAddress("10.0.0.1").packed
    assert opts[dhcp.DHCP_DNS_SERVER_ADDR_OPT] == netaddr.IPAddress("192.0.2.53").packed
    assert opts[121] == classless_routes(
        [("192.168.0.0/16", "10.0.0.254"), ("0.0.0.0/0", "10.0.0.1")]
    )
    assert opts[26] == (1500).to_bytes(2, "big")
    sent.clear()
    svc.handle(1, 1, _dhcp_packet(1, dhcp.DHCP_REQUEST, "10.0.0.11"))
    ack = _reply(sent)[1].get_protocol(dhcp.dhcp)
    assert {o.tag: o.value for o in ack.options.option_list}[53] == bytes([dhcp.DHCP_ACK])
    sent.clear()
    svc.handle(1, 1, _dhcp_packet(1, dhcp.DHCP_REQUEST, "10.0.0.99"))
    nak = _reply(sent)[1].get_protocol(dhcp.dhcp)
    assert {o.tag: o.value for o in nak.options.option_list}[53] == bytes([6])


def test_dhcp_refuses_a_spoofed_client_mac_and_unknown_ports():
    svc, sent = services()
    data = _dhcp_packet(2, dhcp.DHCP_DISCOVER)  # port 1's interface asking as port 2's MAC
    assert svc.handle(1, 1, data) == "dhcp" and sent == []
    assert svc.handle(1, 9, _dhcp_packet(1, dhcp.DHCP_DISCOVER)) is None


def test_classless_routes_encoding():
    assert classless_routes([("10.0.0.0/8", "1.2.3.4"), ("0.0.0.0/0", "1.1.1.1")]) == bytes(
        [8, 10, 1, 2, 3, 4, 0, 1, 1, 1, 1]
    )


def test_router_advert_announces_prefix_and_flags():
    svc, sent = services(ra_mode="dhcpv6-stateless")
    pkt = packet.Packet()
    pkt.add_protocol(ethernet.ethernet(dst="33:33:00:00:00:02", src=mac(1), ethertype=0x86DD))
    pkt.add_protocol(ipv6.ipv6(src=addresses.link_local(mac(1)), dst="ff02::2", nxt=58))
    pkt.add_protocol(icmpv6.icmpv6(type_=icmpv6.ND_ROUTER_SOLICIT, data=icmpv6.nd_router_solicit()))
    pkt.serialize()
    assert svc.handle(1, 1, bytes(pkt.data)) == "rs"
    _port, reply = _reply(sent)
    advert = reply.get_protocol(icmpv6.icmpv6).data
    assert advert.res == 0b01  # O: other configuration by DHCPv6, addresses by SLAAC
    # os-ken's RA parser folds later options into the first: walk them from the bytes.
    options = _nd_options(sent[0][2][14 + 40 + 16 :])
    pi = options[icmpv6.ND_OPTION_PI]
    assert (pi[0], pi[1] >> 5, str(netaddr.IPAddress(int.from_bytes(pi[14:30], "big"), 6))) == (
        64,
        0b110,
        "2001:db8:1::",
    )
    assert int.from_bytes(options[icmpv6.ND_OPTION_MTU][2:6], "big") == 1500
    assert options[icmpv6.ND_OPTION_SLA] == netaddr.EUI(gateway_mac(10)).packed
    assert reply.get_protocol(ipv6.ipv6).src == addresses.link_local(gateway_mac(10))


def _nd_options(raw: bytes) -> dict:
    found = {}
    while raw:
        kind, length = raw[0], raw[1] * 8
        found[kind], raw = raw[2:length], raw[length:]
    return found


def test_dhcpv6_stateful_hands_out_the_ports_address():
    svc, sent = services(ra_mode="dhcpv6-stateful")
    client_id = b"\x00\x03\x00\x01" + netaddr.EUI(mac(1)).packed
    ia_na = b"\x00\x00\x00\x07" + b"\x00" * 8
    pkt = packet.Packet()
    pkt.add_protocol(ethernet.ethernet(dst="33:33:00:01:00:02", src=mac(1), ethertype=0x86DD))
    pkt.add_protocol(ipv6.ipv6(src=addresses.link_local(mac(1)), dst="ff02::1:2", nxt=17))
    pkt.add_protocol(udp.udp(src_port=546, dst_port=547))
    pkt.add_protocol(
        dhcp6.dhcp6(
            dhcp6.DHCPV6_SOLICIT,
            dhcp6.options(
                [dhcp6.option(1, client_id, len(client_id)), dhcp6.option(3, ia_na, len(ia_na))]
            ),
            transaction_id=0x010203,
        )
    )
    pkt.serialize()
    assert svc.handle(1, 1, bytes(pkt.data)) == "dhcpv6"
    reply = _reply(sent)[1].get_protocol(dhcp6.dhcp6)
    assert reply.msg_type == dhcp6.DHCPV6_ADVERTISE
    ia = next(o.data for o in reply.options.option_list if o.code == 3)
    address = netaddr.IPAddress(int.from_bytes(ia[16:32], "big"), 6)
    assert str(address) == addresses.eui64("2001:db8:1::/64", mac(1))


def test_dhcpv6_stateless_answers_information_requests_with_dns_only():
    svc, sent = services(ra_mode="dhcpv6-stateless")
    client_id = b"\x00\x03\x00\x01" + netaddr.EUI(mac(1)).packed
    pkt = packet.Packet()
    pkt.add_protocol(ethernet.ethernet(dst="33:33:00:01:00:02", src=mac(1), ethertype=0x86DD))
    pkt.add_protocol(ipv6.ipv6(src=addresses.link_local(mac(1)), dst="ff02::1:2", nxt=17))
    pkt.add_protocol(udp.udp(src_port=546, dst_port=547))
    pkt.add_protocol(
        dhcp6.dhcp6(
            11, dhcp6.options([dhcp6.option(1, client_id, len(client_id))]), transaction_id=0x0A0B0C
        )
    )
    pkt.serialize()
    assert svc.handle(1, 1, bytes(pkt.data)) == "dhcpv6"
    reply = _reply(sent)[1].get_protocol(dhcp6.dhcp6)
    codes = {o.code: o.data for o in reply.options.option_list}
    assert reply.msg_type == dhcp6.DHCPV6_REPLY and reply.transaction_id == 0x0A0B0C
    assert 3 not in codes  # no address in stateless mode
    assert codes[23] == netaddr.IPAddress("2001:db8::53").packed
