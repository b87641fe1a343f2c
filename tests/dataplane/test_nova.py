"""Nova's port lifecycle on real Open vSwitch behind a real Keystone: a tenant's port bound by
Nova's service user to a compute host, the VM plugged the way os-vif plugs it (into the
bridge vif_details names, with iface-id), network-vif-plugged sent to Nova when the port
turns ACTIVE, its lease and traffic, then unplugged and deleted.

Nova itself is out of reach here: a small HTTP server stands in for its external-events API
(registered in Keystone's catalog as the compute service) and records what it is sent."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.dataplane.lab import lab, plug, switch_side, udhcpc, unplug, wait_for, wait_ping
from tests.helpers import ApiClient, ServerProcess, free_port, send_json
from tests.keystone import PrivateKeystone

PASSWORD = "naas-test-password"
USERS = {
    "demo": ("demo", "member"),
    "nova": ("service", "service"),
    "neutron": ("service", "service"),
}
VM1, VM2 = "6f1c1a2e-0000-4000-8000-0000000000a1", "6f1c1a2e-0000-4000-8000-0000000000a2"


class _NovaEvents(BaseHTTPRequestHandler):
    """POST /v2.1/os-server-external-events, as Nova answers it: every event taken (200)."""

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.posts.append((self.path, self.headers.get("X-Auth-Token"), body["events"]))  # type: ignore[attr-defined]
        send_json(
            self,
            200 if self.path.endswith("/os-server-external-events") else 404,
            {"events": [dict(e, code=200) for e in body["events"]]},
        )

    def log_message(self, *args):
        pass


@pytest.fixture
def cloud(tmp_path):
    keystone = PrivateKeystone(tmp_path / "keystone").setup().start()
    nova = ThreadingHTTPServer(("127.0.0.1", free_port()), _NovaEvents)
    nova.posts = []  # type: ignore[attr-defined]
    threading.Thread(target=nova.serve_forever, daemon=True).start()
    try:
        keystone.populate(USERS, dict.fromkeys(USERS, PASSWORD))
        keystone.register("compute", "nova", f"http://127.0.0.1:{nova.server_port}/v2.1")
        config = tmp_path / "naas-sdn.conf"
        config.write_text(
            "[DEFAULT]\nauth_strategy = keystone\nsend_events_interval = 0.2\n"
            "[keystone_authtoken]\n"
            + keystone.auth_options("neutron", PASSWORD)
            + "[nova]\n"
            + keystone.auth_options("nova", PASSWORD)
        )
        server = ServerProcess(
            tmp_path / "server",
            extra_args=["--config", str(config), "--ovsdb", "unix:/var/run/openvswitch/db.sock"],
        )
        keystone.register("network", "neutron", server.url)
        server.start()
        yield keystone, server, nova
        server.stop()
    finally:
        nova.shutdown()
        keystone.stop()


def _token(keystone: PrivateKeystone, user: str) -> str:
    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    auth = v3.Password(
        auth_url=keystone.url,
        username=user,
        password=PASSWORD,
        project_name=USERS[user][0],
        user_domain_name="Default",
        project_domain_name="Default",
    )
    return session.Session(auth=auth).get_token()


def _events(nova) -> list[tuple[str, str, str]]:
    return [(e["name"], e["server_uuid"], e["tag"]) for _, _, events in nova.posts for e in events]


def test_nova_binds_plugs_and_is_told(cloud, tmp_path):
    keystone, server, nova = cloud
    demo = ApiClient(server.url, _token(keystone, "demo"))
    compute = ApiClient(server.url, _token(keystone, "nova"))
    with lab(server.ofp_port, switches=2, cables=[(1, 2)], hosts={"h1": 1, "h2": 2}) as net:
        net.get("t1").vsctl("br-set-external-id t1 naas-host compute-1")
        net.get("t2").vsctl("br-set-external-id t2 naas-host compute-2")
        network = demo.post("/v2.0/networks", {"network": {"name": "vms"}}).json["network"]
        subnet = {"network_id": network["id"], "ip_version": 4, "cidr": "10.70.0.0/24"}
        assert demo.post("/v2.0/subnets", {"subnet": subnet}).status == 201
        ports = {}
        for host, vm, compute_host in (("h1", VM1, "compute-1"), ("h2", VM2, "compute-2")):
            made = demo.post("/v2.0/ports", {"port": {"network_id": network["id"]}})
            port = made.json["port"]
            # Nova binds the tenant's port to the host it schedules the VM on
            bound = compute.put(
                f"/v2.0/ports/{port['id']}",
                {
                    "port": {
                        "device_id": vm,
                        "device_owner": "compute:nova",
                        "binding:host_id": compute_host,
                        "binding:vnic_type": "normal",
                        "binding:profile": {},
                    }
                },
            )
            assert bound.status == 200, bound
            shown = bound.json["port"]
            assert shown["binding:vif_type"] == "ovs" and shown["status"] == "DOWN"
            bridge = shown["binding:vif_details"]["bridge_name"]
            assert bridge == {"compute-1": "t1", "compute-2": "t2"}[compute_host]
            assert shown["binding:vif_details"]["datapath_type"] == "netdev"
            assert shown["binding:vif_details"]["port_filter"] is True
            # os-vif plugs the VM into that bridge with the port's id and MAC
            vm_side = net.get(host)
            plug(vm_side, port)
            switch_side(vm_side).node.vsctl(
                f"set Interface {switch_side(vm_side).name} "
                f"external_ids:attached-mac={port['mac_address']} external_ids:vm-uuid={vm} "
                "external_ids:iface-status=active"
            )
            ports[host] = port
        assert wait_for(
            lambda: (
                {(n, t) for n, _, t in _events(nova)}
                >= {("network-vif-plugged", p["id"]) for p in ports.values()}
            ),
            timeout=20,
        ), nova.posts
        assert sorted(_events(nova)) == sorted(
            [
                ("network-vif-plugged", VM1, ports["h1"]["id"]),
                ("network-vif-plugged", VM2, ports["h2"]["id"]),
            ]
        )
        assert all(
            path == "/v2.1/os-server-external-events" and token for path, token, _ in nova.posts
        )
        for port in ports.values():
            shown = demo.get(f"/v2.0/ports/{port['id']}").json["port"]
            assert shown["status"] == "ACTIVE"
            assert shown["binding:host_id"] in ("compute-1", "compute-2")
        # the VMs take their addresses by DHCP and reach one another across the cable
        leases = {
            h: wait_for(lambda h=h: udhcpc(net.get(h), tmp_path / f"{h}.lease"), timeout=30)
            for h in ports
        }
        assert leases["h1"]["ip"] == ports["h1"]["fixed_ips"][0]["ip_address"]
        assert wait_ping(net.get("h1"), leases["h2"]["ip"])
        # the VM on compute-2 goes: its port DOWN, still bound to the host Nova chose
        unplug(net.get("h2"))
        assert wait_for(lambda: ("network-vif-unplugged", VM2, ports["h2"]["id"]) in _events(nova))
        gone = demo.get(f"/v2.0/ports/{ports['h2']['id']}").json["port"]
        assert (gone["status"], gone["binding:host_id"], gone["binding:vif_type"]) == (
            "DOWN",
            "compute-2",
            "ovs",
        )
        # Nova deletes the port it was given: network-vif-deleted
        assert demo.delete(f"/v2.0/ports/{ports['h1']['id']}").status == 204
        assert wait_for(lambda: ("network-vif-deleted", VM1, ports["h1"]["id"]) in _events(nova))
    assert "Traceback" not in server.log_path.read_text()
