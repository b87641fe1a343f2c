"""Answers the controller gives VMs from packet-ins: DHCPv4, DHCPv6, router advertisements
and neighbour advertisements for subnet gateways. No dnsmasq, no agent.

Every punt reaches here through the asking port's own meter (see
``naas_sdn.flows.answers.punt_flows``), so one flooding VM exhausts its own budget only.
Replies are built with os-ken's packet library and sent straight out of the asking port.
"""

from __future__ import annotations

import logging
import struct

import netaddr
from os_ken.lib.packet import dhcp, dhcp6, ethernet, icmp, icmpv6, ipv4, ipv6, packet, udp

from naas_sdn.flows import addresses
from naas_sdn.flows.inputs import router_interfaces
from naas_sdn.flows.layout import gateway_mac
from naas_sdn.model.snapshot import ROUTER_INTERFACE

LOG = logging.getLogger(__name__)

LEASE_SECONDS = 86400
DHCP_NAK = 6  # os-ken names the other message types but not this one
NO_GATEWAY_SERVER_ID = "169.254.169.254"  # server identifier when a subnet has no gateway
ALL_NODES = "ff02::1"
ALL_NODES_MAC = "33:33:00:00:00:01"
RA_VALID_LIFETIME, RA_PREFERRED_LIFETIME = 86400, 14400

# DHCPv6 (RFC 8415)
SOLICIT, ADVERTISE, REQUEST, CONFIRM, RENEW, REBIND, REPLY, RELEASE, DECLINE = range(1, 10)
INFORMATION_REQUEST = 11
OPT_CLIENTID, OPT_SERVERID, OPT_IA_NA, OPT_IAADDR = 1, 2, 3, 5
OPT_STATUS_CODE, OPT_RAPID_COMMIT, OPT_DNS_SERVERS = 13, 14, 23


ROUTER_LIFETIME = 1800


class RouterIndex:
    """Router interfaces of one model snapshot (as the compiler derives them), indexed for
    packet-in answers."""

    def __init__(self, model):
        self.by_network: dict[str, list] = {}  # network id -> [(router id, ip, mac, cidr)]
        self.ips: dict[str, set] = {}  # router id -> its addresses
        for interface in router_interfaces(model):
            ip = str(netaddr.IPAddress(interface.ip))
            self.by_network.setdefault(interface.network.id, []).append(
                (interface.router_id, ip, interface.mac, interface.cidr)
            )
            self.ips.setdefault(interface.router_id, set()).add(ip)


def _touches_routers(changed: dict, before, after) -> bool:
    """Whether the views ``changed`` (collection -> ids) between two snapshots can change a
    router interface: a router, network or subnet, or a port that is or was one."""
    if changed.keys() & {"routers", "networks", "subnets"}:
        return True
    return any(
        port is not None and port.device_owner == ROUTER_INTERFACE
        for port_id in changed.get("ports", ())
        for port in (before.ports.get(port_id), after.ports.get(port_id))
    )


class Located:
    """The port a packet came from, with its network's subnets and routers."""

    def __init__(self, port, network, subnets, routers: RouterIndex | None = None):
        self.port, self.network, self.subnets = port, network, subnets
        self.gw_mac = gateway_mac(network.key)
        self.gw_link_local = addresses.link_local(self.gw_mac)
        self.interfaces = routers.by_network.get(network.id, []) if routers else []
        self.router_ips = routers.ips if routers else {}

    def router_of_mac(self, mac: str):
        return next((r for r, _ip, m, _c in self.interfaces if m == mac), None)

    def neighbor_mac(self, ip: str):
        """The MAC answering for ``ip`` on this network: a router port's, else the gateway's."""
        ip = str(netaddr.IPAddress(ip))
        for _router, rip, mac, _cidr in self.interfaces:
            if ip in (rip, addresses.link_local(mac)):
                return mac
        gateways = {
            str(netaddr.IPAddress(s.gateway_ip))
            for s in self.subnets
            if s.ip_version == 6 and s.gateway_ip
        }
        if ip in gateways | {self.gw_link_local}:
            return self.gw_mac
        return None

    def v6_router(self, subnet):
        """(MAC, link-local) of a router on this IPv6 subnet, if one is attached."""
        for _router, _ip, mac, cidr in self.interfaces:
            if netaddr.IPNetwork(cidr) == netaddr.IPNetwork(subnet.cidr):
                return mac, addresses.link_local(mac)
        return None

    def subnet_address(self, version: int, dhcp_only=True, modes=None):
        """The port's first (subnet, address) of this IP version, as DHCP hands it out."""
        by_id = {s.id: s for s in self.subnets}
        for subnet_id, ip in self.port.fixed_ips:
            subnet = by_id.get(subnet_id)
            if subnet is None or subnet.ip_version != version:
                continue
            if dhcp_only and not subnet.enable_dhcp:
                continue
            if modes is not None and subnet.ipv6_address_mode not in modes:
                continue
            return subnet, ip
        return None, None


class PacketServices:
    def __init__(self, model_source, fabric_state, send):
        self._model = model_source
        self._fabric = fabric_state
        self._send = send  # (dpid, ofport, bytes) -> None
        self._index_for = None
        self._index = {}
        self._routers_for = None
        self._routers: RouterIndex | None = None

    # -- where did it come from ----------------------------------------------------------
    def locate(self, dpid: int, ofport: int) -> Located | None:
        fabric = self._fabric.snapshot()
        if self._index_for is not fabric:
            self._index = {(v.dpid, v.ofport): port_id for port_id, v in fabric.vifs.items()}
            self._index_for = fabric
        port_id = self._index.get((dpid, ofport))
        model = self._model.snapshot()
        port = model.ports.get(port_id) if port_id else None
        network = model.networks.get(port.network_id) if port else None
        if port is None or network is None:
            return None
        subnets = tuple(model.subnets_of(network.id))
        return Located(port, network, subnets, self._router_index(model))

    def _router_index(self, model) -> RouterIndex:
        """The router interfaces of ``model``: those of the last index when nothing a router
        interface depends on changed since (a port create is not read from every port)."""
        kept = self._routers_for
        if kept is model and self._routers is not None:
            return self._routers
        since = getattr(self._model, "snapshot_since", None)
        changed = None
        if kept is not None and since is not None:
            current, changed = since(kept.revision)
            if current is not model:
                changed = None  # a newer commit came meanwhile: index this one afresh
        if self._routers is None or changed is None or _touches_routers(changed, kept, model):
            self._routers = RouterIndex(model)
        self._routers_for = model
        return self._routers

    def handle(self, dpid: int, ofport: int, data: bytes) -> str | None:
        """Answer a punted packet; returns what it was (for metrics) or None if not ours."""
        pkt = packet.Packet(data)
        where = self.locate(dpid, ofport)
        if where is None:
            return None
        eth = pkt.get_protocol(ethernet.ethernet)
        router_id = where.router_of_mac(eth.dst) if eth else None
        if router_id is not None:
            reply = self.router_icmp(where, router_id, pkt)
            kind = "router"
        elif pkt.get_protocol(dhcp.dhcp):
            reply = self.dhcp4(where, pkt)
            kind = "dhcp"
        elif pkt.get_protocol(dhcp6.dhcp6):
            reply = self.dhcp6(where, pkt)
            kind = "dhcpv6"
        elif (icmp := pkt.get_protocol(icmpv6.icmpv6)) is not None:
            if icmp.type_ == icmpv6.ND_ROUTER_SOLICIT:
                reply = self.router_advert(
                    where, pkt.get_protocol(ipv6.ipv6).src, pkt.get_protocol(ethernet.ethernet).src
                )
                kind = "rs"
            elif icmp.type_ == icmpv6.ND_NEIGHBOR_SOLICIT:
                reply = self.neighbor_advert(where, pkt)
                kind = "ns"
            else:
                return None
        else:
            return None
        if reply is not None:
            self._send(dpid, ofport, reply)
        return kind

    # -- DHCPv4 ----------------------------------------------------------------------------
    def dhcp4(self, where: Located, pkt) -> bytes | None:
        request = pkt.get_protocol(dhcp.dhcp)
        options = {o.tag: o.value for o in (request.options.option_list or [])}
        kind = options.get(dhcp.DHCP_MESSAGE_TYPE_OPT, b"\x00")[0]
        subnet, ip = where.subnet_address(4)
        if subnet is None or request.chaddr.lower() != where.port.mac_address:
            return None  # no address for it here, or it asks for someone else's
        server_id = subnet.gateway_ip or NO_GATEWAY_SERVER_ID
        if kind == dhcp.DHCP_DISCOVER:
            return self._dhcp4_reply(where, request, subnet, ip, server_id, dhcp.DHCP_OFFER)
        if kind == dhcp.DHCP_REQUEST:
            asked = options.get(dhcp.DHCP_REQUESTED_IP_ADDR_OPT)
            asked = (
                str(netaddr.IPAddress(int.from_bytes(asked, "big"))) if asked else request.ciaddr
            )
            if asked != ip:
                return self._dhcp4_nak(where, request, server_id)
            return self._dhcp4_reply(where, request, subnet, ip, server_id, dhcp.DHCP_ACK)
        if kind == dhcp.DHCP_INFORM:
            return self._dhcp4_reply(
                where, request, subnet, ip, server_id, dhcp.DHCP_ACK, inform=True
            )
        return None  # RELEASE / DECLINE: the address stays the port's; nothing to answer

    def _dhcp4_options(self, subnet, server_id, kind, inform):
        network = netaddr.IPNetwork(subnet.cidr)
        options = [
            (dhcp.DHCP_MESSAGE_TYPE_OPT, bytes([kind])),
            (dhcp.DHCP_SERVER_IDENTIFIER_OPT, netaddr.IPAddress(server_id).packed),
            (dhcp.DHCP_SUBNET_MASK_OPT, network.netmask.packed),
            (28, network.broadcast.packed),  # broadcast address
            (26, struct.pack("!H", subnet.mtu)),  # interface MTU
        ]
        if not inform:
            options += [
                (dhcp.DHCP_IP_ADDR_LEASE_TIME_OPT, struct.pack("!I", LEASE_SECONDS)),
                (58, struct.pack("!I", LEASE_SECONDS // 2)),  # renewal (T1)
                (59, struct.pack("!I", LEASE_SECONDS * 7 // 8)),
            ]  # rebinding (T2)
        if subnet.gateway_ip:
            options.append(
                (dhcp.DHCP_GATEWAY_ADDR_OPT, netaddr.IPAddress(subnet.gateway_ip).packed)
            )
        if subnet.dns_nameservers:
            options.append(
                (
                    dhcp.DHCP_DNS_SERVER_ADDR_OPT,
                    b"".join(
                        netaddr.IPAddress(d).packed
                        for d in subnet.dns_nameservers
                        if netaddr.IPAddress(d).version == 4
                    ),
                )
            )
        routes = [(d, n) for d, n in subnet.host_routes if netaddr.IPNetwork(d).version == 4]
        if routes:
            # RFC 3442: a client honouring option 121 ignores option 3, so the default
            # route travels inside it too.
            if subnet.gateway_ip:
                routes.append(("0.0.0.0/0", subnet.gateway_ip))
            options.append((121, classless_routes(routes)))
        return [dhcp.option(tag, value) for tag, value in options]

    def _dhcp4_reply(self, where, request, subnet, ip, server_id, kind, inform=False):
        reply = dhcp.dhcp(
            op=dhcp.DHCP_BOOT_REPLY,
            chaddr=request.chaddr,
            xid=request.xid,
            flags=request.flags,
            ciaddr=request.ciaddr if inform else "0.0.0.0",
            yiaddr="0.0.0.0" if inform else ip,
            siaddr=server_id,
            giaddr=request.giaddr,
            hlen=6,
            options=dhcp.options(self._dhcp4_options(subnet, server_id, kind, inform)),
        )
        broadcast = bool(request.flags & 0x8000)
        if inform:
            dst_mac, dst_ip = where.port.mac_address, request.ciaddr
        elif broadcast:
            dst_mac, dst_ip = "ff:ff:ff:ff:ff:ff", "255.255.255.255"
        else:
            dst_mac, dst_ip = where.port.mac_address, ip
        return _udp(where.gw_mac, dst_mac, server_id, dst_ip, 67, 68, reply)

    def _dhcp4_nak(self, where, request, server_id):
        reply = dhcp.dhcp(
            op=dhcp.DHCP_BOOT_REPLY,
            chaddr=request.chaddr,
            xid=request.xid,
            flags=request.flags,
            giaddr=request.giaddr,
            hlen=6,
            options=dhcp.options(
                [
                    dhcp.option(dhcp.DHCP_MESSAGE_TYPE_OPT, bytes([DHCP_NAK])),
                    dhcp.option(
                        dhcp.DHCP_SERVER_IDENTIFIER_OPT, netaddr.IPAddress(server_id).packed
                    ),
                ]
            ),
        )
        return _udp(where.gw_mac, "ff:ff:ff:ff:ff:ff", server_id, "255.255.255.255", 67, 68, reply)

    # -- DHCPv6 ----------------------------------------------------------------------------
    def dhcp6(self, where: Located, pkt) -> bytes | None:
        request = pkt.get_protocol(dhcp6.dhcp6)
        options: dict[int, bytes] = {}
        for option in request.options.option_list or []:
            options.setdefault(option.code, option.data)
        subnet, ip = where.subnet_address(6, modes=("dhcpv6-stateful",))
        info_subnet, _ = where.subnet_address(6, modes=("dhcpv6-stateful", "dhcpv6-stateless"))
        if info_subnet is None or OPT_CLIENTID not in options:
            return None
        server_duid = struct.pack("!HH", 3, 1) + netaddr.EUI(where.gw_mac).packed  # DUID-LL
        if OPT_SERVERID in options and options[OPT_SERVERID] != server_duid:
            return None  # addressed to another server
        reply = [(OPT_CLIENTID, options[OPT_CLIENTID]), (OPT_SERVERID, server_duid)]
        kind = request.msg_type
        if kind in (SOLICIT, REQUEST, RENEW, REBIND, CONFIRM) and OPT_IA_NA in options:
            iaid = options[OPT_IA_NA][:4]
            if subnet is None:
                ia = (
                    iaid
                    + struct.pack("!II", 0, 0)
                    + _v6_option(
                        OPT_STATUS_CODE, struct.pack("!H", 2) + b"no addresses for this port"
                    )
                )
            else:
                ia = (
                    iaid
                    + struct.pack("!II", LEASE_SECONDS // 2, LEASE_SECONDS * 4 // 5)
                    + _v6_option(
                        OPT_IAADDR,
                        netaddr.IPAddress(ip).packed
                        + struct.pack("!II", LEASE_SECONDS, LEASE_SECONDS),
                    )
                )
            reply.append((OPT_IA_NA, ia))
        elif kind in (RELEASE, DECLINE):
            reply.append((OPT_STATUS_CODE, struct.pack("!H", 0) + b"ok"))
        elif kind != INFORMATION_REQUEST:
            return None
        dns = [d for d in info_subnet.dns_nameservers if ":" in d]
        if dns:
            reply.append((OPT_DNS_SERVERS, b"".join(netaddr.IPAddress(d).packed for d in dns)))
        answer = ADVERTISE if kind == SOLICIT and OPT_RAPID_COMMIT not in options else REPLY
        if kind == SOLICIT and answer == REPLY:
            reply.append((OPT_RAPID_COMMIT, b""))
        message = dhcp6.dhcp6(
            answer,
            dhcp6.options([dhcp6.option(code, data, len(data)) for code, data in reply]),
            transaction_id=request.transaction_id,
        )
        src = pkt.get_protocol(ipv6.ipv6).src
        eth_src = pkt.get_protocol(ethernet.ethernet).src
        return _udp(where.gw_mac, eth_src, where.gw_link_local, src, 547, 546, message)

    # -- IPv6 neighbour discovery ----------------------------------------------------------
    def router_advert(self, where: Located, dst_ip="::", dst_mac=None) -> bytes | None:
        """A router advertisement of the network's RA-enabled IPv6 subnets."""
        subnets = [s for s in where.subnets if s.ip_version == 6 and s.ipv6_ra_mode]
        if not subnets:
            return None
        modes = {s.ipv6_ra_mode for s in subnets}
        flags = (0b10 if "dhcpv6-stateful" in modes else 0) | (
            0b01 if modes & {"dhcpv6-stateful", "dhcpv6-stateless"} else 0
        )
        # The MTU option as bytes: os-ken's nd_option_mtu cannot report its own length.
        # With a router on the subnet, it is the router that advertises, as default router.
        router = next(filter(None, map(where.v6_router, subnets)), None)
        src_mac, src_ip = router if router else (where.gw_mac, where.gw_link_local)
        options = [
            icmpv6.nd_option_sla(hw_src=src_mac),
            struct.pack("!BBHI", icmpv6.ND_OPTION_MTU, 1, 0, subnets[0].mtu),
        ]
        for subnet in subnets:
            prefix = netaddr.IPNetwork(subnet.cidr)
            autonomous = subnet.ipv6_ra_mode in ("slaac", "dhcpv6-stateless")
            options.append(
                icmpv6.nd_option_pi(
                    pl=prefix.prefixlen,
                    res1=0b100 | (0b010 if autonomous else 0),
                    val_l=RA_VALID_LIFETIME,
                    pre_l=RA_PREFERRED_LIFETIME,
                    prefix=str(prefix.network),
                )
            )
        # Router lifetime 0 without a router: prefixes only, no default route.
        advert = icmpv6.nd_router_advert(
            ch_l=64, res=flags, rou_l=ROUTER_LIFETIME if router else 0, options=options
        )
        unicast = dst_ip not in ("::", None)
        return _icmp6(
            src_mac,
            dst_mac if unicast and dst_mac else ALL_NODES_MAC,
            src_ip,
            dst_ip if unicast else ALL_NODES,
            icmpv6.ND_ROUTER_ADVERT,
            advert,
        )

    def neighbor_advert(self, where: Located, pkt) -> bytes | None:
        solicit = pkt.get_protocol(icmpv6.icmpv6).data
        target = str(netaddr.IPAddress(solicit.dst))
        mac = where.neighbor_mac(target)
        if mac is None:
            return None
        src = pkt.get_protocol(ipv6.ipv6).src
        eth_src = pkt.get_protocol(ethernet.ethernet).src
        solicited = src != "::"
        is_router = mac != where.gw_mac
        advert = icmpv6.nd_neighbor(
            res=(0b100 if is_router else 0) | (0b010 if solicited else 0) | 0b001,
            dst=target,
            option=icmpv6.nd_option_tla(hw_src=mac),
        )
        return _icmp6(
            mac,
            eth_src if solicited else ALL_NODES_MAC,
            target,
            src if solicited else ALL_NODES,
            icmpv6.ND_NEIGHBOR_ADVERT,
            advert,
        )

    # -- routers ---------------------------------------------------------------------------
    def router_icmp(self, where: Located, router_id: str, pkt) -> bytes | None:
        """Echo replies from the router's addresses; time exceeded when TTL runs out."""
        eth = pkt.get_protocol(ethernet.ethernet)
        ip4, ip6 = pkt.get_protocol(ipv4.ipv4), pkt.get_protocol(ipv6.ipv6)
        ip = ip4 or ip6
        if ip is None:
            return None
        mine = where.router_ips.get(router_id, set())
        dst = str(netaddr.IPAddress(ip.dst))
        if ip4 is not None:
            echo = pkt.get_protocol(icmp.icmp)
            if dst in mine and echo is not None and echo.type == icmp.ICMP_ECHO_REQUEST:
                reply = icmp.icmp(type_=icmp.ICMP_ECHO_REPLY, code=0, data=echo.data)
                return _ip_packet(eth.dst, eth.src, dst, ip4.src, 1, reply)
            if ip4.ttl <= 1:
                source = self._interface_ip(where, ip4.src, 4)
                original = bytes(pkt.data)[14 : 14 + ip4.header_length * 4 + 8]
                reply = icmp.icmp(
                    type_=icmp.ICMP_TIME_EXCEEDED, code=0, data=icmp.TimeExceeded(data=original)
                )
                return _ip_packet(eth.dst, eth.src, source, ip4.src, 1, reply)
            return None
        echo = pkt.get_protocol(icmpv6.icmpv6)
        if dst in mine and echo is not None and echo.type_ == icmpv6.ICMPV6_ECHO_REQUEST:
            reply = icmpv6.icmpv6(type_=icmpv6.ICMPV6_ECHO_REPLY, code=0, data=echo.data)
            return _ip_packet(eth.dst, eth.src, dst, ip6.src, 58, reply)
        if ip6.hop_limit <= 1:
            source = self._interface_ip(where, ip6.src, 6)
            original = bytes(pkt.data)[14 : 14 + 1232]
            reply = icmpv6.icmpv6(
                type_=icmpv6.ICMPV6_TIME_EXCEEDED, code=0, data=b"\0" * 4 + original
            )  # unused word, then the packet
            return _ip_packet(eth.dst, eth.src, source, ip6.src, 58, reply)
        return None

    @staticmethod
    def _interface_ip(where: Located, source: str, version: int) -> str:
        """The router's address on the sender's subnet: what traceroute shows as the hop."""
        candidates = [
            (ip, cidr)
            for _r, ip, _m, cidr in where.interfaces
            if netaddr.IPNetwork(cidr).version == version
        ]
        for ip, cidr in candidates:
            if netaddr.IPAddress(source) in netaddr.IPNetwork(cidr):
                return ip
        return candidates[0][0] if candidates else source


def classless_routes(routes) -> bytes:
    """RFC 3442 option 121: width, significant octets of the destination, router."""
    out = bytearray()
    for destination, nexthop in routes:
        net = netaddr.IPNetwork(destination)
        out.append(net.prefixlen)
        out += net.network.packed[: (net.prefixlen + 7) // 8]
        out += netaddr.IPAddress(nexthop).packed
    return bytes(out)


def _v6_option(code: int, data: bytes) -> bytes:
    return struct.pack("!HH", code, len(data)) + data


def _frame(src_mac, dst_mac, network_layer, *upper) -> bytes:
    """An Ethernet frame around an IPv4 or IPv6 header and what rides on it."""
    pkt = packet.Packet()
    ethertype = 0x0800 if isinstance(network_layer, ipv4.ipv4) else 0x86DD
    pkt.add_protocol(ethernet.ethernet(dst=dst_mac, src=src_mac, ethertype=ethertype))
    for layer in (network_layer, *upper):
        pkt.add_protocol(layer)
    pkt.serialize()
    return bytes(pkt.data)


def _ip_header(src_ip: str, dst_ip: str, proto: int, ttl: int = 64):
    """The IPv4 or IPv6 header (by the addresses' family) of a packet the controller sends."""
    if ":" in src_ip:
        return ipv6.ipv6(src=src_ip, dst=dst_ip, nxt=proto, hop_limit=ttl)
    return ipv4.ipv4(src=src_ip, dst=dst_ip, proto=proto, ttl=ttl)


def _udp(src_mac, dst_mac, src_ip, dst_ip, sport, dport, payload) -> bytes:
    return _frame(
        src_mac,
        dst_mac,
        _ip_header(src_ip, dst_ip, 17),
        udp.udp(src_port=sport, dst_port=dport),
        payload,
    )


def _ip_packet(src_mac, dst_mac, src_ip, dst_ip, proto, payload) -> bytes:
    return _frame(src_mac, dst_mac, _ip_header(src_ip, dst_ip, proto), payload)


def _icmp6(src_mac, dst_mac, src_ip, dst_ip, kind, body) -> bytes:
    """Neighbour discovery: hop limit 255, as RFC 4861 requires of it."""
    return _frame(
        src_mac,
        dst_mac,
        _ip_header(src_ip, dst_ip, 58, ttl=255),
        icmpv6.icmpv6(type_=kind, data=body),
    )
