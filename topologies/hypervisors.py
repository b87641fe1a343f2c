"""Hypervisors that share only an IP underlay, each its own Open vSwitch, against naas-sdn.

Each hypervisor N is what a compute node is: an ovsdb-server and an ovs-vswitchd of its own
(userspace datapath), an integration bridge ``hvNint`` (secure, OpenFlow 1.3, connected to
the controller, ``external_ids:naas-encap-ip=10.200.0.N``), and a bridge ``hvNphy`` holding
that underlay address and an uplink to the underlay switch (a Linux bridge, ``nunder``),
through which OVS routes the tunnel packets (Open vSwitch's userspace-tunneling howto). The
controller adds the tunnel port itself. VMs are namespaces on veths plugged into ``hvNint``.

Why each ovs-vswitchd runs in a network namespace of its own (``naashvN``): the userspace
datapath always makes a kernel tap named ``ovs-netdev``, which the machine's own OVS holds;
the namespace also gives each hypervisor its own routes and ARP, as a real node has. Its
ovsdb-server stays in the root namespace (control sockets are files, reachable from both),
and it reaches the controller over a management network (``nmgmt``, 10.254.0.1 in the root
namespace, 10.254.0.1N on hypervisor N), as compute nodes do.

Researchers: with the controller listening on the management address and monitoring the
hypervisors' databases, one line builds the lab, two tenants with the same addresses on it,
and prints who can ping whom:

    sudo .venv/bin/python -m topologies.hypervisors --token <admin token> --hypervisors 3
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pathlib
import re
import shutil
import signal
import subprocess
import time

BASE = pathlib.Path("/tmp/naas-hv")
SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
UNDERLAY = "nunder"
MGMT = "nmgmt"
MGMT_IP = "10.254.0.1"  # the controller's address on the management network
UNDERLAY_MTU = 1600  # room for VXLAN's 50 bytes around a 1500-byte frame
NETNS = re.compile(r"^(naashv\d+|naasvm-.*|naassite\d+)$")


def sh(*args: str, check: bool = True) -> str:
    return subprocess.run(args, check=check, capture_output=True, text=True).stdout


def ovsdb_remotes(count: int) -> list[str]:
    return [f"unix:{BASE / f'hv{n}' / 'db.sock'}" for n in range(1, count + 1)]


class Hypervisor:
    def __init__(self, n: int):
        self.n = n
        self.dir = BASE / f"hv{n}"
        self.netns = f"naashv{n}"
        self.bridge = f"hv{n}int"
        self.phy = f"hv{n}phy"
        self.encap_ip = f"10.200.0.{n}"
        self.encap_ip6 = f"fd00:200::{n:x}"  # for remote sites with IPv6 addresses
        self.mgmt_ip = f"10.254.0.{10 + n}"
        self.dpid = 0x4E00 + n
        self.ovsdb = f"unix:{self.dir / 'db.sock'}"

    def vsctl(self, *args: str) -> str:
        return sh("ovs-vsctl", "--timeout=20", f"--db={self.ovsdb}", *args)

    def ofctl(self, command: str, *args: str) -> str:
        target = f"unix:{self.dir / (self.bridge + '.mgmt')}"
        return sh("ovs-ofctl", "-O", "OpenFlow13", command, target, *args)

    def appctl(self, *args: str) -> str:
        return sh("ovs-appctl", "-t", str(self.dir / "ovs-vswitchd.ctl"), *args)

    def exec(self, *args: str) -> str:
        return sh("ip", "netns", "exec", self.netns, *args)

    def start(self, controller: str | None) -> None:
        """With no ``controller``: an Open vSwitch of a site's own (the integration bridge a
        standalone learning switch, no endpoint for naas-sdn to use)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, OVS_RUNDIR=str(self.dir), OVS_DBDIR=str(self.dir),
                   OVS_LOGDIR=str(self.dir))  # fmt: skip
        sh("ip", "netns", "add", self.netns)
        self.exec("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        self.exec("sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
        self.exec("ip", "link", "set", "lo", "up")
        sh("ovsdb-tool", "create", str(self.dir / "conf.db"), SCHEMA)
        subprocess.run(
            ["ovsdb-server", str(self.dir / "conf.db"), f"--remote=p{self.ovsdb}",
             f"--pidfile={self.dir / 'ovsdb-server.pid'}", f"--unixctl={self.dir / 'ovsdb.ctl'}",
             f"--log-file={self.dir / 'ovsdb-server.log'}", "--no-chdir", "--detach"],
            check=True, capture_output=True, env=env,
        )  # fmt: skip
        self.vsctl("--no-wait", "init")
        subprocess.run(
            ["ip", "netns", "exec", self.netns, "ovs-vswitchd", self.ovsdb,
             f"--pidfile={self.dir / 'ovs-vswitchd.pid'}",
             f"--unixctl={self.dir / 'ovs-vswitchd.ctl'}",
             f"--log-file={self.dir / 'ovs-vswitchd.log'}", "--no-chdir", "--detach"],
            check=True, capture_output=True, env=env,
        )  # fmt: skip
        self._wire(f"hv{self.n}u", UNDERLAY, UNDERLAY_MTU)
        self._wire(f"hv{self.n}m", MGMT, 1500)
        self.exec("ip", "addr", "add", f"{self.mgmt_ip}/24", "dev", f"hv{self.n}m")
        self.vsctl(
            "add-br", self.phy, "--", "set", "bridge", self.phy, "datapath_type=netdev",
            "fail_mode=standalone", f"other_config:hwaddr=02:00:0a:c8:00:{self.n:02x}",
            "--", "set", "interface", self.phy, f"mtu_request={UNDERLAY_MTU}",
            "--", "add-port", self.phy, f"hv{self.n}u",
        )  # fmt: skip
        self.exec("ip", "addr", "add", f"{self.encap_ip}/24", "dev", self.phy)
        self.exec("sysctl", "-qw", f"net.ipv6.conf.{self.phy}.disable_ipv6=0")
        self.exec("ip", "-6", "addr", "add", f"{self.encap_ip6}/64", "dev", self.phy, "nodad")
        self.exec("ip", "link", "set", self.phy, "up")
        # OVS routes encapsulated packets with its own table: the underlay is behind hvNphy.
        self.appctl("ovs/route/add", "10.200.0.0/24", self.phy)
        self.appctl("ovs/route/add", "fd00:200::/64", self.phy)
        if controller is None:
            self.vsctl("add-br", self.bridge, "--", "set", "bridge", self.bridge,
                       "datapath_type=netdev", "fail_mode=standalone")  # fmt: skip
            return
        self.vsctl(
            "add-br", self.bridge, "--", "set", "bridge", self.bridge, "datapath_type=netdev",
            "protocols=OpenFlow13", "fail_mode=secure",
            f"other_config:datapath-id={self.dpid:016x}",
            f"external_ids:naas-encap-ip={self.encap_ip}",
            f'external_ids:naas-encap-ip6="{self.encap_ip6}"',
            "--", "set-controller", self.bridge, controller,
        )  # fmt: skip

    def _wire(self, name: str, switch: str, mtu: int) -> None:
        """A veth from this hypervisor's namespace (``name``) to ``switch`` (``name``b)."""
        sh("ip", "link", "add", name, "type", "veth", "peer", "name", f"{name}b")
        sh("ip", "link", "set", name, "netns", self.netns)
        sh("sysctl", "-qw", f"net.ipv6.conf.{name}b.disable_ipv6=1")
        sh("ip", "link", "set", f"{name}b", "mtu", str(mtu), "master", switch, "up")
        self.exec("ip", "link", "set", name, "mtu", str(mtu), "up")

    def tunnel_port(self, timeout: float = 20.0) -> int:
        """The OpenFlow port of the tunnel the controller made here."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.vsctl("--bare", "--columns=ofport,external_ids", "find", "interface",
                             "type=vxlan")  # fmt: skip
            found = re.search(r"^(\d+)\s*$", out, re.M)
            if found and int(found.group(1)) > 0:
                return int(found.group(1))
            time.sleep(0.2)
        raise RuntimeError(f"{self.bridge}: the controller made no tunnel port")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            sh("timeout", "5", "ovs-appctl", "-t", str(self.dir / "ovs-vswitchd.ctl"), "exit",
               "--cleanup")  # fmt: skip
        for name in ("ovs-vswitchd.pid", "ovsdb-server.pid"):
            _kill(self.dir / name)
        sh("ip", "netns", "del", self.netns, check=False)


def _kill(pidfile: pathlib.Path) -> None:
    try:
        pid = int(pidfile.read_text())
    except (OSError, ValueError):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        for _ in range(50):
            os.kill(pid, 0)
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)


class Vm:
    """A namespace on a veth whose other end is plugged into a hypervisor's bridge; speaks
    enough of Mininet's host API (``cmd``, ``popen``, ``defaultIntf``) for the test helpers."""

    def __init__(self, name: str, hypervisor):
        """``hypervisor``: where the veth's other end goes (a Hypervisor or a RemoteSite:
        its ``netns`` and ``exec``)."""
        self.name, self.hypervisor = name, hypervisor
        self.netns = f"naasvm-{name}"
        self.outside = f"{name}o"
        self.bridge = getattr(hypervisor, "bridge", None)
        sh("ip", "netns", "add", self.netns)
        sh("ip", "link", "add", self.outside, "type", "veth", "peer", "name", f"{name}i")
        sh("ip", "link", "set", f"{name}i", "netns", self.netns)
        sh("ip", "link", "set", self.outside, "netns", hypervisor.netns)
        self.run("ip", "link", "set", f"{name}i", "name", "eth0")
        self.run("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        self.run("ip", "link", "set", "lo", "up")
        hypervisor.exec("ip", "link", "set", self.outside, "up")

    def run(self, *args: str) -> str:
        return sh("ip", "netns", "exec", self.netns, *args)

    def cmd(self, command: str) -> str:
        done = subprocess.run(["ip", "netns", "exec", self.netns, "sh", "-c", command],
                              check=False, capture_output=True, text=True)  # fmt: skip
        return done.stdout + done.stderr

    def popen(self, args, **kwargs) -> subprocess.Popen:
        return subprocess.Popen(["ip", "netns", "exec", self.netns, *args], **kwargs)

    def defaultIntf(self):  # noqa: N802 (Mininet's name)
        return type("Intf", (), {"name": "eth0"})()

    def address(self, mac: str, ip: str, prefix: int = 24) -> None:
        """Its MAC and address; checksums in software (the userspace datapath does none)."""
        self.run("ip", "link", "set", "eth0", "address", mac)
        self.run("ip", "addr", "add", f"{ip}/{prefix}", "dev", "eth0")
        self.run("ip", "link", "set", "eth0", "up")
        self.run("ethtool", "-K", "eth0", "tx", "off")

    def plug(self, port: dict, ip: str, prefix: int = 24, bridge: str | None = None) -> None:
        """Become the VM of API port ``port``: its MAC and ``ip``, the iface-id binding (on
        the hypervisor's integration bridge, or ``bridge``)."""
        self.address(port["mac_address"], ip, prefix)
        self.bridge = bridge or self.hypervisor.bridge
        self.hypervisor.vsctl(
            "add-port", self.bridge, self.outside, "--", "set", "interface",
            self.outside, f"external_ids:iface-id={port['id']}",
        )  # fmt: skip

    def unplug(self) -> None:
        self.hypervisor.vsctl("--if-exists", "del-port", self.bridge, self.outside)


class RemoteSite:
    """A tenant's on-premise site: a namespace on the underlay (10.200.0.10N) whose kernel
    bridges its hosts to a tunnel (a Linux vxlan or gretap device) toward the terminating
    hypervisor: the bridging device at the site's end."""

    def __init__(self, n: int):
        self.n = n
        self.netns = f"naassite{n}"
        self.underlay_ip = f"10.200.0.{100 + n}"
        self.underlay_ip6 = f"fd00:200::{100 + n:x}"
        self.hosts: list[Vm] = []
        sh("ip", "netns", "add", self.netns)
        self.run("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        self.run("ip", "link", "set", "lo", "up")
        name = f"st{n}u"
        sh("ip", "link", "add", name, "type", "veth", "peer", "name", f"{name}b")
        sh("ip", "link", "set", name, "netns", self.netns)
        sh("sysctl", "-qw", f"net.ipv6.conf.{name}b.disable_ipv6=1")
        sh("ip", "link", "set", f"{name}b", "mtu", str(UNDERLAY_MTU), "master", UNDERLAY, "up")
        self.run("ip", "link", "set", name, "name", "u0")
        self.run("ip", "link", "set", "u0", "mtu", str(UNDERLAY_MTU), "up")
        # Checksums filled in, not left to an offload no one does: OVS's userspace tunnel
        # termination checks them, and drops a packet with a partial one.
        self.run("ethtool", "-K", "u0", "tx", "off")
        self.run("ip", "addr", "add", f"{self.underlay_ip}/24", "dev", "u0")
        self.run("sysctl", "-qw", "net.ipv6.conf.u0.disable_ipv6=0")
        self.run("ip", "-6", "addr", "add", f"{self.underlay_ip6}/64", "dev", "u0", "nodad")
        self.run(
            "ip", "link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0"
        )
        self.run("ip", "link", "set", "br0", "up")

    def run(self, *args: str) -> str:
        return sh("ip", "netns", "exec", self.netns, *args)

    def tunnel(self, name: str, remote_ip: str, key: int, kind: str = "vxlan",
               udp_port: int = 4789, bridged: bool = True) -> None:  # fmt: skip
        """A tunnel device to ``remote_ip`` with ``key``, in the site's bridge if
        ``bridged``."""
        local = self.underlay_ip6 if ":" in remote_ip else self.underlay_ip
        if kind == "vxlan":
            self.run("ip", "link", "add", name, "type", "vxlan", "id", str(key), "remote",
                     remote_ip, "local", local, "dstport", str(udp_port), "dev", "u0",
                     "udp6zerocsumrx")  # fmt: skip
        else:
            self.run("ip", "link", "add", name, "type", "gretap", "remote", remote_ip, "local",
                     self.underlay_ip, "key", str(key))  # fmt: skip
        if bridged:
            self.run("ip", "link", "set", name, "master", "br0")
        self.run("ip", "link", "set", name, "up")

    exec = run  # what Vm calls its host's namespace by

    def host(self, name: str, ip: str, mac: str) -> Vm:
        """An on-premise host on the site's bridge."""
        vm = Vm(name, self)
        vm.address(mac, ip)
        self.run("ip", "link", "set", vm.outside, "master", "br0")
        self.hosts.append(vm)
        return vm


class OvsSite(Hypervisor):
    """A remote site whose bridging device is an Open vSwitch of its own (GRE, which the
    kernel here lacks, or VXLAN): its bridge holds the tunnel and the site's hosts."""

    def __init__(self, n: int):
        super().__init__(n)
        self.encap_ip = self.underlay_ip = f"10.200.0.{100 + n}"
        self.start(None)

    def tunnel(self, name: str, remote_ip: str, key: int, kind: str = "gre") -> None:
        self.vsctl("add-port", self.bridge, name, "--", "set", "interface", name,
                   f"type={kind}", f"options:remote_ip={remote_ip}", f"options:key={key}",
                   f"options:local_ip={self.underlay_ip}")  # fmt: skip

    def host(self, name: str, ip: str, mac: str) -> Vm:
        vm = Vm(name, self)
        vm.address(mac, ip)
        self.vsctl("add-port", self.bridge, vm.outside)
        return vm


def cleanup() -> None:
    """Remove what a crashed lab may have left: its processes, namespaces and links."""
    if BASE.exists():
        for run_dir in BASE.glob("hv*"):
            for name in ("ovs-vswitchd.pid", "ovsdb-server.pid"):
                _kill(run_dir / name)
    for line in sh("ip", "netns", "list", check=False).splitlines():
        name = line.split()[0] if line.split() else ""
        if NETNS.match(name):
            sh("ip", "netns", "del", name, check=False)
    for name in (UNDERLAY, MGMT):
        sh("ip", "link", "del", name, check=False)
    shutil.rmtree(BASE, ignore_errors=True)


@contextlib.contextmanager
def underlay(count: int, ofp_port: int):
    """``count`` hypervisors on one underlay, their bridges pointed at the controller's
    OpenFlow port on the management address; all removed on exit."""
    cleanup()
    hypervisors = [Hypervisor(n) for n in range(1, count + 1)]
    try:
        sh("ip", "link", "add", UNDERLAY, "type", "bridge", "stp_state", "0", "forward_delay", "0")
        sh("ip", "link", "set", UNDERLAY, "mtu", str(UNDERLAY_MTU), "up")
        sh("ip", "link", "add", MGMT, "type", "bridge", "stp_state", "0", "forward_delay", "0")
        # A MAC of its own: a bridge left to take its ports' lowest changes it as hypervisors
        # join, and one that resolved the old one cannot reach the controller for a while.
        sh("ip", "link", "set", MGMT, "address", "02:00:0a:fe:00:01")
        sh("ip", "addr", "add", f"{MGMT_IP}/24", "dev", MGMT)
        sh("ip", "link", "set", MGMT, "up")
        for hypervisor in hypervisors:
            hypervisor.start(f"tcp:{MGMT_IP}:{ofp_port}")
        yield hypervisors
    finally:
        for hypervisor in hypervisors:
            hypervisor.stop()
        cleanup()


def main() -> int:
    from topologies.lab import Api

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", default="http://127.0.0.1:9696")
    parser.add_argument("--token", required=True, help="an admin token")
    parser.add_argument("--ofp-port", type=int, default=6653)
    parser.add_argument("--hypervisors", type=int, default=3)
    parser.add_argument(
        "--remote-site",
        action="store_true",
        help="extend alice's network to an on-premise site (host 10.0.0.200) over VXLAN; "
        "the controller must run with --remote-gateway-bridge hv1int",
    )
    args = parser.parse_args()
    api = Api(args.api, args.token)
    # 0.0.0.0: the management address appears with the lab, and the controller may be first.
    print("start the controller with --ofp-listen", f"0.0.0.0:{args.ofp_port}",
          " ".join(f"--ovsdb {r}" for r in ovsdb_remotes(args.hypervisors)),
          "--remote-gateway-bridge hv1int" if args.remote_site else "")  # fmt: skip
    with underlay(args.hypervisors, args.ofp_port) as hypervisors:
        for hypervisor in hypervisors:
            hypervisor.tunnel_port(timeout=60)  # the controller has seen it
        vms = []
        # Port security off: the site's hosts are in no security group of alice's.
        open_ports = {"port_security_enabled": False} if args.remote_site else {}
        for tenant, cidr in (("alice", "10.0.0.0/24"), ("bob", "10.0.1.0/24")):
            net = api.call("POST", "/v2.0/networks", {"network": {"name": tenant,
                           "project_id": tenant}})["network"]  # fmt: skip
            api.call("POST", "/v2.0/subnets", {"subnet": {"network_id": net["id"],
                     "ip_version": 4, "cidr": cidr, "project_id": tenant}})  # fmt: skip
            for i, hypervisor in enumerate(hypervisors):
                port = api.call("POST", "/v2.0/ports", {"port": {"network_id": net["id"],
                                "project_id": tenant, **open_ports}})["port"]  # fmt: skip
                vm = Vm(f"{tenant[0]}{i + 1}", hypervisor)
                vm.plug(port, port["fixed_ips"][0]["ip_address"])
                vms.append((tenant, vm, port["fixed_ips"][0]["ip_address"]))
            if args.remote_site and tenant == "alice":
                vms.append(("alice-site", _remote_site(api, net), "10.0.0.200"))
        time.sleep(3)
        for tenant, vm, _ in vms:
            for other, _, ip in vms:
                out = vm.cmd(f"ping -n -c 1 -W 1 {ip}")
                print(f"{tenant}:{vm.name} -> {other}:{ip}", "ok" if " 0% packet loss" in out
                      else "no")  # fmt: skip
    return 0


def _remote_site(api, network: dict) -> Vm:
    """Site 1 with one host, bridged to ``network`` through a connection to hypervisor 1."""
    site = RemoteSite(1)
    host = site.host("site1h1", "10.0.0.200", "02:00:0a:00:00:c8")
    gateway = api.call("POST", "/v2.0/l2-remote-gateways", {"l2_remote_gateway": {
        "remote_ip": site.underlay_ip, "project_id": network["project_id"]}})  # fmt: skip
    connection = api.call("POST", "/v2.0/l2-remote-gateway-connections", {
        "l2_remote_gateway_connection": {
            "l2_remote_gateway_id": gateway["l2_remote_gateway"]["id"],
            "network_id": network["id"]}})["l2_remote_gateway_connection"]  # fmt: skip
    site.tunnel("vx0", Hypervisor(1).encap_ip, connection["segmentation_id"])
    return host


if __name__ == "__main__":
    raise SystemExit(main())
