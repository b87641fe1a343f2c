"""Test-side helpers over the shared Mininet lab: pings, captures, flow dumps."""

from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys
import time

from topologies.lab import lab, plug, switch_side, trunk, unplug  # noqa: F401  (re-exported)

HOOKS = pathlib.Path(__file__).parent / "hooks"  # DHCP clients' scripts: a lease applied in a host


def v4(port: dict) -> str:
    """A port's first IPv4 fixed address."""
    return next(f["ip_address"] for f in port["fixed_ips"] if ":" not in f["ip_address"])


def ping(src, dst_ip: str, count: int = 3, wait: float = 1.0) -> int:
    """Echo replies received."""
    out = src.cmd(f"ping -n -c {count} -i 0.2 -W {wait} {dst_ip}")
    found = re.search(r"(\d+) received", out)
    return int(found.group(1)) if found else 0


def wait_ping(src, dst_ip: str, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ping(src, dst_ip, count=1) == 1:
            return True
        time.sleep(0.3)
    return False


class Capture:
    """tcpdump on a host, inbound only, of frames from the given source MACs (``extra``:
    more tcpdump arguments, the last one ANDed to the filter, e.g. ("-v", "icmp"))."""

    def __init__(self, host, macs, extra=()):
        self.host = host
        intf = host.defaultIntf().name
        expression = "(" + " or ".join(f"ether src {m}" for m in macs) + ")"
        flags = list(extra[:-1])
        if extra:
            expression += f" and ({extra[-1]})"
        self.proc = host.popen(
            ["tcpdump", "-l", "-n", "-e", "-Q", "in", "-i", intf, *flags, expression],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # tcpdump says "listening on" once it captures
            line = self.proc.stderr.readline()
            if "listening on" in line or not line:
                break

    def stop(self) -> list[str]:
        time.sleep(0.5)
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=10)
        return [line for line in out.splitlines() if line.strip()]


def iperf3(client, server, ip: str, args: str, timeout: float = 60) -> dict:
    """Run iperf3 from ``client`` to a one-shot server on ``server``; the ``end`` section of
    its JSON report ({} when the run failed)."""
    server.cmd("iperf3 -s -1 -D")
    time.sleep(0.5)
    out = client.cmd(f"timeout {timeout} iperf3 -c {ip} {args} -J")
    server.cmd("pkill iperf3")
    try:
        return json.loads(out[out.index("{") :]).get("end") or {}
    except ValueError:
        return {}


def scapy(host, code):
    """Run scapy code in the host's namespace (frames leave its default interface)."""
    intf = host.defaultIntf().name
    script = (
        "import logging; logging.getLogger('scapy').setLevel(logging.ERROR)\n"
        f"from scapy.all import *\nconf.iface = {intf!r}\n{code}\n"
    )
    out = host.cmd(f"{sys.executable} - <<'EOF'\n{script}EOF")
    assert "Traceback" not in out, out


def dump_flows(switch) -> list[str]:
    out = switch.cmd(f"ovs-ofctl -O OpenFlow13 dump-flows {switch.name}")
    return [line for line in out.splitlines() if "cookie=" in line]


def flow_cookies(switch) -> set[int]:
    return {int(m, 16) for m in re.findall(r"cookie=(0x[0-9a-f]+)", "\n".join(dump_flows(switch)))}


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def plugged_ports(tenant, net, network, hosts, **attrs):
    """An API port per host, plugged, with the port's fixed address configured."""
    ports = {}
    for host in hosts:
        ports[host] = tenant.port(network, host, **attrs.get(host, {}))
        plug(net.get(host), ports[host], v4(ports[host]))
    return ports


def udhcpc(host, lease_file, extra=""):
    """Run busybox udhcpc once on the host; the lease it got (empty dict: none)."""
    lease_file.unlink(missing_ok=True)
    host.cmd(
        f"NAAS_LEASE_FILE={lease_file} busybox udhcpc -i {host.defaultIntf().name} "
        f"-n -q -f -t 4 -T 1 -A 1 -s {HOOKS / 'udhcpc.sh'} -O staticroutes -O mtu {extra}"
        " >/dev/null 2>&1"
    )
    if not lease_file.exists():
        return {}
    return dict(line.split("=", 1) for line in lease_file.read_text().splitlines())


def tcp_ok(client, ip, port):
    """A TCP connection from ``client`` to ip:port opens (within 2 s)."""
    return client.cmd(f"nc -z -w 2 {ip} {port}; echo rc=$?").strip().endswith("rc=0")


def iperf_udp(client, server, ip, rate="1M", seconds=2):
    """Received bits/s of a UDP iperf3 run (0 when nothing got through)."""
    end = iperf3(client, server, ip, f"-u -b {rate} -t {seconds}", timeout=seconds + 15)
    return float((end.get("sum_received") or {}).get("bits_per_second") or 0.0)


def udp_blocked(client, server, ip) -> bool:
    """Not one UDP datagram of iperf3's gets through: its client, connected to the server
    over TCP (port 5201: admit it), waits for the answer to its first datagram and never
    starts (cut short after 4 s, where a run that gets through takes 2)."""
    server.cmd("iperf3 -s -1 -D")
    time.sleep(0.5)
    out = client.cmd(f"timeout 4 iperf3 -c {ip} -u -b 1M -t 1 -J >/dev/null; echo rc=$?")
    server.cmd("pkill iperf3")
    return out.strip().endswith("rc=124")
