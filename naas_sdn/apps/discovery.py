"""Link discovery probes: LLDP frames built and checked with os-ken's packet library.

Each probe names its switch and port and carries an HMAC under a secret of this controller
run, so a VM on an unbound port cannot forge a fabric link and pull traffic toward itself.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct

from os_ken.lib.packet import ethernet, lldp, packet

from naas_sdn.flows.fabric import Link
from naas_sdn.flows.layout import ETH_TYPE_LLDP, LLDP_NEAREST_BRIDGE

_OUI = b"\x00\x26\xe1"  # identifies the TLV as ours; the HMAC is what authenticates it
_SUBTYPE = 0x4E


class Prober:
    def __init__(self, secret: bytes | None = None):
        self._secret = secret or os.urandom(32)

    def _mac(self, dpid: int, port: int) -> bytes:
        return hmac.new(self._secret, struct.pack("!QI", dpid, port), hashlib.sha256).digest()[:16]

    def build(self, dpid: int, port: int, src_mac: str) -> bytes:
        tlvs = [
            lldp.ChassisID(
                subtype=lldp.ChassisID.SUB_LOCALLY_ASSIGNED, chassis_id=b"dpid:%016x" % dpid
            ),
            lldp.PortID(subtype=lldp.PortID.SUB_PORT_COMPONENT, port_id=struct.pack("!I", port)),
            lldp.TTL(ttl=120),
            lldp.OrganizationallySpecific(oui=_OUI, subtype=_SUBTYPE, info=self._mac(dpid, port)),
            lldp.End(),
        ]
        pkt = packet.Packet()
        pkt.add_protocol(
            ethernet.ethernet(dst=LLDP_NEAREST_BRIDGE, src=src_mac, ethertype=ETH_TYPE_LLDP)
        )
        pkt.add_protocol(lldp.lldp(tlvs))
        pkt.serialize()
        return bytes(pkt.data)

    def parse(self, data: bytes, dst_dpid: int, dst_port: int) -> Link | None:
        """The link a received probe proves, or None if it is not a genuine probe of ours."""
        try:
            frame = lldp.lldp.parser(data[ethernet.ethernet._MIN_LEN :])[0]
            chassis, port_id, _ttl, org = frame.tlvs[:4]
            if not chassis.chassis_id.startswith(b"dpid:"):
                return None
            src_dpid = int(chassis.chassis_id[5:], 16)
            (src_port,) = struct.unpack("!I", port_id.port_id)
            if not isinstance(org, lldp.OrganizationallySpecific) or org.oui != _OUI:
                return None
            if not hmac.compare_digest(org.info, self._mac(src_dpid, src_port)):
                return None
        except Exception:
            return None
        return Link(src_dpid, src_port, dst_dpid, dst_port)
