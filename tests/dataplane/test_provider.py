"""Provider networks on real OVS: VMs on a flat and on a vlan provider network talk to the
hosts of a physical network (a learning switch of its own, with an access port in VLAN 100)
through the interface that leads to it, untagged and tagged (tcpdump on that link says
which), and a host there reaches a VM its groups admit."""

import subprocess
import time

from tests.dataplane.conftest import Tenant
from tests.dataplane.lab import (
    lab,
    ping,
    plugged_ports,
    trunk,
    v4,
    wait_ping,
)
from tests.helpers import ApiClient

PHYSNET = "physnet1"


def _operator(controller) -> Tenant:
    operator = Tenant(controller, "operator")
    operator.api = ApiClient(controller.url, controller.token("operator", admin=True))
    return operator


def _provider_network(operator, name, cidr, gateway, network_type, segment=None):
    body = {
        "name": name,
        "shared": True,
        "provider:network_type": network_type,
        "provider:physical_network": PHYSNET,
    }
    if segment is not None:
        body["provider:segmentation_id"] = segment
    network = operator.create("/v2.0/networks", "network", body)
    operator.create(
        "/v2.0/subnets",
        "subnet",
        {
            "network_id": network["id"],
            "ip_version": 4,
            "cidr": cidr,
            "gateway_ip": gateway,
            "enable_dhcp": False,
        },
    )
    return network


def _tcpdump(interface: str, expression: str) -> subprocess.Popen:
    """tcpdump on a fabric switch's interface (they live in the root namespace)."""
    proc = subprocess.Popen(
        ["tcpdump", "-l", "-n", "-e", "-i", interface, expression],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in proc.stderr:
        if "listening on" in line:
            break
    return proc


def _lines(proc: subprocess.Popen) -> list[str]:
    time.sleep(0.5)
    proc.terminate()
    out, _ = proc.communicate(timeout=10)
    return [line for line in out.splitlines() if line.strip()]


def test_vms_reach_the_physical_network_untagged_and_tagged(controller, tenants):
    alice = tenants[0]
    operator = _operator(controller)
    physical = {PHYSNET: (2, {"out": None, "out100": 100})}
    hosts = {"vm1": 1, "vm2": 2}
    with lab(
        controller.ofp_port, switches=2, cables=[(1, 2)], hosts=hosts, physical=physical
    ) as net:
        flat = _provider_network(operator, "flat", "203.0.113.0/24", "203.0.113.1", "flat")
        tagged = _provider_network(
            operator, "vlan100", "198.51.100.0/24", "198.51.100.1", "vlan", 100
        )
        out, out100 = net.get("out"), net.get("out100")
        out.setIP("203.0.113.1", prefixLen=24)
        out100.setIP("198.51.100.1", prefixLen=24)
        vm1, vm2 = net.get("vm1"), net.get("vm2")
        ports = plugged_ports(alice, net, flat, ("vm1",))
        ports.update(plugged_ports(alice, net, tagged, ("vm2",)))
        link = trunk(net, PHYSNET, physical).name
        # A VM of the flat network, on the other switch, reaches the outside host: untagged
        # on the link to the physical network.
        capture = _tcpdump(link, f"ether src {ports['vm1']['mac_address']} and icmp")
        assert wait_ping(vm1, "203.0.113.1")
        lines = _lines(capture)
        assert lines and all("802.1Q" not in line for line in lines), lines
        # The vlan network's VM reaches the host of VLAN 100: tagged 100 on that link.
        capture = _tcpdump(link, f"ether src {ports['vm2']['mac_address']} and vlan 100")
        assert wait_ping(vm2, "198.51.100.1")
        lines = _lines(capture)
        assert lines and all("vlan 100" in line for line in lines), lines
        # Each localnet port is up where its network leaves the fabric.
        for network in (flat, tagged):
            path = f"/v2.0/ports?network_id={network['id']}&device_owner=network:localnet"
            (localnet,) = operator.api.get(path).json["ports"]
            assert (localnet["status"], localnet["binding:host_id"]) == ("ACTIVE", "t2")
        # Each network reaches its own VLAN's hosts only.
        assert ping(vm1, "198.51.100.1", count=2) == 0
        out.cmd("ip addr add 198.51.100.7/24 dev out-eth0")  # untagged: not VLAN 100's
        assert ping(vm2, "198.51.100.7", count=2) == 0
        # The outside host starts connections to a VM where its groups let it in.
        assert ping(out, v4(ports["vm1"]), count=2) == 0
        alice.admit(alice.default_group(), "203.0.113.0/24")
        assert wait_ping(out, v4(ports["vm1"]), timeout=10)
