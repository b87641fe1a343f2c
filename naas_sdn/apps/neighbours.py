"""The routers beyond router gateways, found by ARP: the compiler's default route out of a
gateway needs the MAC of its external subnet's gateway, a host of the physical network the
model knows nothing of but its address.

From each such gateway's own address and MAC, out of the uplink where its external network
leaves the fabric (the exit switch), the controller asks for the next hop's MAC: every
couple of seconds until it answers, then every ``refresh`` seconds so a replaced router is
noticed. The reply comes back through the gateway's punt flow (ARP replies to its address,
behind the router's meter) and is learned into the fabric state, which persists it and wakes
the compiler: routes out appear once the next hop is known, and a restart knows it at once.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time

from os_ken.lib.packet import arp, ethernet, packet, vlan

from naas_sdn.flows.inputs import with_uplinks
from naas_sdn.model.snapshot import ROUTER_GATEWAY, localnet_port_id

LOG = logging.getLogger(__name__)

BROADCAST = "ff:ff:ff:ff:ff:ff"
RETRY = 2.0  # seconds between requests for a next hop not known yet


@dataclasses.dataclass(frozen=True)
class Wanted:
    """One next hop to resolve: asked from a gateway's address, out of its exit uplink."""

    network_id: str
    ip: str  # the external subnet's gateway
    src_mac: str
    src_ip: str
    dpid: int
    ofport: int
    vlan: int | None  # a vlan provider network's VLAN on the uplink


def wanted(model, fabric) -> list[Wanted]:
    """The next hops of every router gateway whose external network has an uplink (one
    request per network and address, from the first gateway there)."""
    fabric = with_uplinks(fabric, model)
    found: dict[tuple, Wanted] = {}
    for router in model.routers.values():
        port = model.ports.get(router.gw_port_id or "")
        if port is None or port.device_owner != ROUTER_GATEWAY:
            continue
        network = model.networks.get(port.network_id)
        exit_at = fabric.vifs.get(localnet_port_id(port.network_id))
        if network is None or exit_at is None:
            continue
        for subnet_id, ip in port.fixed_ips:
            subnet = model.subnets.get(subnet_id)
            if subnet is None or subnet.ip_version != 4 or not subnet.gateway_ip:
                continue
            key = (network.id, subnet.gateway_ip)
            found.setdefault(
                key,
                Wanted(
                    network.id,
                    subnet.gateway_ip,
                    port.mac_address,
                    ip,
                    exit_at.dpid,
                    exit_at.ofport,
                    network.physical_segment,
                ),
            )
    return sorted(found.values(), key=lambda w: (w.network_id, w.ip))


def arp_request(want: Wanted) -> bytes:
    pkt = packet.Packet()
    if want.vlan is None:
        pkt.add_protocol(ethernet.ethernet(BROADCAST, want.src_mac, ethernet.ether.ETH_TYPE_ARP))
    else:
        pkt.add_protocol(ethernet.ethernet(BROADCAST, want.src_mac, ethernet.ether.ETH_TYPE_8021Q))
        pkt.add_protocol(vlan.vlan(vid=want.vlan, ethertype=ethernet.ether.ETH_TYPE_ARP))
    pkt.add_protocol(
        arp.arp_ip(arp.ARP_REQUEST, want.src_mac, want.src_ip, "00:00:00:00:00:00", want.ip)
    )
    pkt.serialize()
    return bytes(pkt.data)


class GatewayNeighbours:
    def __init__(self, model_source, fabric_state, send, refresh: float = 30.0, clock=None):
        self._model = model_source
        self._fabric = fabric_state
        self._send = send  # (dpid, ofport, bytes) -> None
        self._refresh = refresh
        self._clock = clock or time.monotonic
        self._asked: dict[tuple, float] = {}  # (network id, ip) -> when last asked
        self._wanted: list[Wanted] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="neighbours", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            try:
                self.ask()
            except Exception:
                LOG.exception("neighbour resolution round failed")

    def ask(self) -> int:
        """Send the requests that are due; how many were sent."""
        fabric = self._fabric.snapshot()
        self._wanted = wanted(self._model.snapshot(), fabric)
        now, sent = self._clock(), 0
        for want in self._wanted:
            key = (want.network_id, want.ip)
            known = key in fabric.neighbours
            last = self._asked.get(key)
            if last is not None and now - last < (self._refresh if known else RETRY):
                continue
            self._asked[key] = now
            self._send(want.dpid, want.ofport, arp_request(want))
            sent += 1
        return sent

    def handle(self, dpid: int, ofport: int, data: bytes) -> bool:
        """Learn from an ARP reply to a gateway's request; whether it was one."""
        found = packet.Packet(data).get_protocol(arp.arp)
        if found is None or found.opcode != arp.ARP_REPLY:
            return False
        for want in self._wanted:
            if (want.dpid, want.ofport, want.src_ip, want.ip) == (
                dpid,
                ofport,
                found.dst_ip,
                found.src_ip,
            ):
                if self._fabric.set_neighbour(want.network_id, want.ip, found.src_mac.lower()):
                    LOG.info(
                        "next hop %s on network %s is at %s",
                        want.ip,
                        want.network_id,
                        found.src_mac,
                    )
                return True
        return False
