"""Mininet labs against a running naas-sdn: userspace OVS bridges, hosts bound to API ports.

Shared by the researcher scripts in this folder and the dataplane tests. Switches are named
``t1``, ``t2``... and hosts by the caller; a lab stops its network and removes its bridges
even when what runs inside it fails.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import urllib.error
import urllib.request

from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.node import OVSSwitch, RemoteController
from mininet.topo import Topo

setLogLevel("error")
SWITCH_NAME = re.compile(r"^t\d+$")


def cleanup_bridges() -> None:
    """Remove bridges a crashed test may have left (only names this suite uses)."""
    out = subprocess.run(
        ["ovs-vsctl", "--timeout=5", "list-br"], check=False, capture_output=True, text=True
    ).stdout.split()
    for bridge in out:
        if SWITCH_NAME.match(bridge):
            subprocess.run(
                ["ovs-vsctl", "--timeout=5", "--if-exists", "del-br", bridge], check=False
            )
    links = subprocess.run(
        ["ip", "-o", "link", "show"], check=False, capture_output=True, text=True
    ).stdout
    for name in re.findall(r"^\d+: (t\d+-eth\d+)[@:]", links, re.M):
        subprocess.run(["ip", "link", "del", name], check=False, capture_output=True)


PHYSICAL_BASE = 90  # physical networks' switches: t91, t92... (no controller's)


class LabTopo(Topo):
    """switches: count; cables: (i, j) switch pairs; hosts: name -> switch index;
    physical: physical network -> (fabric switch index, {host: VLAN or None}), each a plain
    learning switch cabled to that fabric switch, its hosts on access ports."""

    def build(self, switches=1, cables=(), hosts=None, physical=None):
        names = [self.addSwitch(f"t{i}", dpid=f"{i:016x}") for i in range(1, switches + 1)]
        for host, switch in (hosts or {}).items():
            self.addLink(self.addHost(host), names[switch - 1])
        for a, b in cables:
            self.addLink(names[a - 1], names[b - 1])
        for k, (_, (switch, members)) in enumerate(sorted((physical or {}).items()), 1):
            name = f"t{PHYSICAL_BASE + k}"
            self.addSwitch(name, cls=PhysicalSwitch, dpid=f"{PHYSICAL_BASE + k:016x}")
            self.addLink(names[switch - 1], name)  # the trunk: its first port
            for host in members:
                self.addLink(self.addHost(host), name)


class UserspaceSwitch(OVSSwitch):
    """OVS bridge on the userspace datapath, OpenFlow 1.3 only, fail-mode secure."""

    def __init__(self, name, **params):
        params.update(datapath="user", failMode="secure", protocols="OpenFlow13")
        super().__init__(name, **params)


class PhysicalSwitch(UserspaceSwitch):
    """A switch of a physical network outside the fabric: a plain learning switch (fail
    mode standalone) that no controller programs."""

    def __init__(self, name, **params):
        super().__init__(name, **params)
        self.failMode = "standalone"

    def start(self, controllers):
        super().start([])


@contextlib.contextmanager
def lab(ofp_port: int, switches=1, cables=(), hosts=None, ofp_host="127.0.0.1", physical=None):
    """A running lab (see :class:`LabTopo`); a physical network's trunk is marked on its
    fabric switch as leading there (``external_ids:naas-physnet``) and its hosts sit on
    access ports of their VLAN (untagged frames for None)."""
    cleanup_bridges()
    net = Mininet(
        topo=LabTopo(switches=switches, cables=cables, hosts=hosts, physical=physical),
        switch=UserspaceSwitch,
        controller=None,
        autoSetMacs=False,
        autoStaticArp=False,
        build=False,
        waitConnected=False,
    )
    net.addController(RemoteController("c0", ip=ofp_host, port=ofp_port))
    try:
        net.build()
        net.start()
        for host in net.hosts:
            host.cmd(f"ethtool -K {host.defaultIntf().name} tx off")
            host.cmd("sysctl -qw net.ipv6.conf.all.disable_ipv6=1")
        for switch in net.switches:
            # A switch port is no host interface: without this the machine's own IPv6 stack
            # sends router solicitations and MLD reports out of it, straight to the VM.
            for intf in switch.intfList():
                if intf.name != "lo":
                    switch.cmd(f"sysctl -qw net.ipv6.conf.{intf.name}.disable_ipv6=1")
        for k, (physnet, (_, members)) in enumerate(sorted((physical or {}).items()), 1):
            outside = net.get(f"t{PHYSICAL_BASE + k}")
            for host, vlan in members.items():  # access ports (VLAN 0: untagged frames)
                outside.vsctl(f"set port {switch_side(net.get(host)).name} tag={vlan or 0}")
            uplink = trunk(net, physnet, physical)
            uplink.node.vsctl(f"set Interface {uplink.name} external_ids:naas-physnet={physnet}")
        yield net
    finally:
        net.stop()
        cleanup_bridges()


def switch_side(host):
    """The switch interface a host's default interface is cabled to."""
    link = host.defaultIntf().link
    return link.intf1 if link.intf2.node is host else link.intf2


def plug(host, port: dict, ip: str | None = None) -> None:
    """Make ``host`` the VM of API port ``port``: its MAC, an address if given (else it is
    left to DHCP or SLAAC), the iface-id binding."""
    host.setMAC(port["mac_address"])
    if ip is None:
        host.cmd(f"ip addr flush dev {host.defaultIntf().name}")
    else:
        host.setIP(ip, prefixLen=24)
    intf = switch_side(host)
    intf.node.vsctl(f"set Interface {intf.name} external_ids:iface-id={port['id']}")


def unplug(host) -> None:
    intf = switch_side(host)
    intf.node.vsctl(f"remove Interface {intf.name} external_ids iface-id")


def trunk(net, physnet: str, physical):
    """The fabric switch's interface cabled to a physical network's switch."""
    k = sorted(physical).index(physnet) + 1
    outside = net.get(f"t{PHYSICAL_BASE + k}")
    link = outside.intfList()[1].link  # its first port (after lo): the trunk
    return link.intf1 if link.intf2.node is outside else link.intf2


FABRICS = {
    # name: (switches, cables)
    "single": (1, []),
    "linear": (3, [(1, 2), (2, 3)]),
    "tree": (3, [(1, 2), (1, 3)]),
    "ring": (4, [(1, 2), (2, 3), (3, 4), (4, 1)]),
}


class Api:
    """The few Neutron v2.0 calls the scripts need, over plain HTTP."""

    def __init__(self, url: str, token: str):
        self.url, self.token = url.rstrip("/"), token

    def call(self, method: str, path: str, body=None):
        request = urllib.request.Request(
            self.url + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={
                "X-Auth-Token": self.token,
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"{method} {path}: {error.code} {error.read().decode()}") from None
        return json.loads(raw) if raw else None

    def create(self, collection: str, body: dict) -> dict:
        resource = collection[:-1]
        return self.call("POST", f"/v2.0/{collection}", {resource: body})[resource]

    def delete(self, collection: str, object_id: str) -> None:
        self.call("DELETE", f"/v2.0/{collection}/{object_id}")
