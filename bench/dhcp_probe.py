"""Raw DHCP client for the benchmark, run inside a Mininet host's namespace.

``probe IFACE MAC N``: N DISCOVERs one after another, prints each OFFER's latency (ms).
``flood IFACE MAC SECONDS``: DISCOVERs as fast as the socket takes them; prints
"sent received" at the end (OFFERs counted while flooding).
"""

import os
import select
import socket
import sys
import time

from os_ken.lib.packet import dhcp, ethernet, ipv4, packet, udp


def discover(mac: str, xid: int) -> bytes:
    pkt = packet.Packet()
    pkt.add_protocol(ethernet.ethernet(dst="ff:ff:ff:ff:ff:ff", src=mac, ethertype=0x0800))
    pkt.add_protocol(ipv4.ipv4(src="0.0.0.0", dst="255.255.255.255", proto=17))
    pkt.add_protocol(udp.udp(src_port=68, dst_port=67))
    pkt.add_protocol(
        dhcp.dhcp(
            op=dhcp.DHCP_BOOT_REQUEST,
            chaddr=mac,
            xid=xid,
            hlen=6,
            options=dhcp.options(
                [dhcp.option(dhcp.DHCP_MESSAGE_TYPE_OPT, bytes([dhcp.DHCP_DISCOVER]))]
            ),
        )
    )
    pkt.serialize()
    return bytes(pkt.data)


def offer_xid(frame: bytes):
    try:
        found = packet.Packet(frame).get_protocol(dhcp.dhcp)
    except Exception:
        return None
    return found.xid if found is not None and found.op == dhcp.DHCP_BOOT_REPLY else None


def main():
    mode, iface, mac, amount = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    sock.bind((iface, 0))
    if mode == "probe":
        for _i in range(int(amount)):
            xid = int.from_bytes(os.urandom(4), "big")
            start = time.perf_counter()
            sock.send(discover(mac, xid))
            deadline = start + 2.0
            while time.perf_counter() < deadline:
                ready, _, _ = select.select([sock], [], [], deadline - time.perf_counter())
                if ready and offer_xid(sock.recv(2048)) == xid:
                    print("%.3f" % ((time.perf_counter() - start) * 1000), flush=True)
                    break
            else:
                print("timeout", flush=True)
            time.sleep(0.05)
    else:
        sock.setblocking(False)
        sent = received = 0
        end = time.perf_counter() + amount
        frame = discover(mac, 1)
        while time.perf_counter() < end:
            try:
                sock.send(frame)
                sent += 1
            except BlockingIOError:
                pass
            try:
                while True:
                    if offer_xid(sock.recv(2048)) is not None:
                        received += 1
            except BlockingIOError:
                pass
        print(sent, received, flush=True)


if __name__ == "__main__":
    main()
