"""Mininet labs against a real ``naas-sdn serve``: userspace OVS bridges, hosts bound to ports.

Switches are named ``t1``, ``t2``... and hosts by the caller; every lab stops its network and
removes its bridges even when a test fails, so the next test starts clean.
"""
from __future__ import annotations

import contextlib
import re
import subprocess
import time

from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.node import OVSSwitch, RemoteController
from mininet.topo import Topo

setLogLevel("error")
SWITCH_NAME = re.compile(r"^t\d+$")


def cleanup_bridges() -> None:
    """Remove bridges a crashed test may have left (only names this suite uses)."""
    out = subprocess.run(["ovs-vsctl", "--timeout=5", "list-br"], capture_output=True,
                         text=True).stdout.split()
    for bridge in out:
        if SWITCH_NAME.match(bridge):
            subprocess.run(["ovs-vsctl", "--timeout=5", "--if-exists", "del-br", bridge])
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    for name in re.findall(r"^\d+: (t\d+-eth\d+)[@:]", links, re.M):
        subprocess.run(["ip", "link", "del", name], capture_output=True)


class LabTopo(Topo):
    """switches: count; cables: (i, j) switch pairs; hosts: name -> switch index."""

    def build(self, switches=1, cables=(), hosts=None):
        names = [self.addSwitch("t%d" % i, dpid="%016x" % i) for i in range(1, switches + 1)]
        for host, switch in (hosts or {}).items():
            self.addLink(self.addHost(host), names[switch - 1])
        for a, b in cables:
            self.addLink(names[a - 1], names[b - 1])


class UserspaceSwitch(OVSSwitch):
    """OVS bridge on the userspace datapath, OpenFlow 1.3 only, fail-mode secure."""

    def __init__(self, name, **params):
        params.update(datapath="user", failMode="secure", protocols="OpenFlow13")
        super().__init__(name, **params)


@contextlib.contextmanager
def lab(ofp_port: int, switches=1, cables=(), hosts=None):
    cleanup_bridges()
    net = Mininet(topo=LabTopo(switches=switches, cables=cables, hosts=hosts),
                  switch=UserspaceSwitch, controller=None, autoSetMacs=False,
                  autoStaticArp=False, build=False, waitConnected=False)
    net.addController(RemoteController("c0", ip="127.0.0.1", port=ofp_port))
    try:
        net.build()
        net.start()
        for host in net.hosts:
            host.cmd("ethtool -K %s tx off" % host.defaultIntf().name)
            host.cmd("sysctl -qw net.ipv6.conf.all.disable_ipv6=1")
        yield net
    finally:
        net.stop()
        cleanup_bridges()


def switch_side(host):
    """The switch interface a host's default interface is cabled to."""
    link = host.defaultIntf().link
    return link.intf1 if link.intf2.node is host else link.intf2


def plug(host, port: dict, ip: str) -> None:
    """Make ``host`` the VM of API port ``port``: its MAC, an address, the iface-id binding."""
    host.setMAC(port["mac_address"])
    host.setIP(ip, prefixLen=24)
    intf = switch_side(host)
    intf.node.vsctl("set Interface %s external_ids:iface-id=%s" % (intf.name, port["id"]))


def unplug(host) -> None:
    intf = switch_side(host)
    intf.node.vsctl("remove Interface %s external_ids iface-id" % intf.name)


def ping(src, dst_ip: str, count: int = 3, wait: float = 1.0) -> int:
    """Echo replies received."""
    out = src.cmd("ping -n -c %d -i 0.2 -W %s %s" % (count, wait, dst_ip))
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
    """tcpdump on a host, inbound only, of frames from the given source MACs."""

    def __init__(self, host, macs):
        self.host = host
        intf = host.defaultIntf().name
        expression = " or ".join("ether src %s" % m for m in macs)
        self.proc = host.popen(["tcpdump", "-l", "-n", "-e", "-Q", "in", "-i", intf,
                                expression], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
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


def dump_flows(switch) -> list[str]:
    out = switch.cmd("ovs-ofctl -O OpenFlow13 dump-flows %s" % switch.name)
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
