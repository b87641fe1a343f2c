"""A third-party slice on a real switch: the example plugin (tests/plugins/example), loaded
by the operator, drops the frames of one ethertype on a network and nothing else."""

import pytest

from tests.dataplane.conftest import Tenant
from tests.dataplane.lab import dump_flows, lab, ping, plug, switch_side, v4, wait_for, wait_ping
from tests.helpers import start_server

pytest.importorskip(
    "naas_example_plugin",
    reason="run scripts/setup.sh: it installs tests/plugins/example into the venv",
)

ETHERTYPE = 0x0806  # ARP: with it barred, only hosts with a static neighbour entry talk


@pytest.fixture
def plugin_controller(tmp_path):
    server = start_server(
        tmp_path,
        extra_args=[
            "--ovsdb",
            "unix:/var/run/openvswitch/db.sock",
            "--service-plugins",
            "ethertype-block",
        ],
    )
    yield server
    server.stop()


def _fresh_ping(src, ip) -> int:
    """Pings answered after forgetting every neighbour: ARP must work again first."""
    src.cmd("ip neigh flush all")
    return ping(src, ip, count=2)


def test_example_plugin_flow_drops_its_ethertype_on_a_real_switch(plugin_controller):
    alice = Tenant(plugin_controller, "tenant-a")
    with lab(plugin_controller.ofp_port, switches=1, hosts={"h1": 1, "h2": 1}) as net:
        network = alice.network("lab", "10.0.0.0/24")
        ports = {}
        for host in ("h1", "h2"):
            ports[host] = alice.port(network, host)
            plug(net.get(host), ports[host], v4(ports[host]))
        h1, h2 = net.get("h1"), net.get("h2")
        ip2 = v4(ports["h2"])
        assert wait_ping(h1, ip2)
        assert _fresh_ping(h1, ip2) == 2
        block = alice.create(
            "/v2.0/ethertype-blocks",
            "ethertype_block",
            {"network_id": network["id"], "ethertype": ETHERTYPE},
        )
        switch = switch_side(h1).node
        assert wait_for(
            lambda: any(
                "arp" in f and "priority=400" in f and "actions=drop" in f
                for f in dump_flows(switch)
            )
        )
        assert _fresh_ping(h1, ip2) == 0
        # IPv4 itself still flows, between hosts that know each other's MAC
        h1.cmd(
            f"ip neigh replace {ip2} lladdr {ports['h2']['mac_address']} dev "
            f"{h1.defaultIntf().name}"
        )
        h2.cmd(
            f"ip neigh replace {v4(ports['h1'])} lladdr {ports['h1']['mac_address']} dev "
            f"{h2.defaultIntf().name}"
        )
        assert ping(h1, ip2, count=2) == 2
        assert alice.api.delete("/v2.0/ethertype-blocks/" + block["id"]).status == 204
        assert wait_for(lambda: not any("priority=400" in f for f in dump_flows(switch)))
        assert _fresh_ping(h1, ip2) == 2
