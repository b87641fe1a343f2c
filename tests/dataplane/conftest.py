import os
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from tests.dataplane.lab import wait_for
from tests.helpers import ApiClient, start_server

pytestmark = pytest.mark.dataplane


def _skip_reason():
    if os.geteuid() != 0:
        return "dataplane tests need root (Mininet, network namespaces)"
    for tool in ("ovs-vsctl", "mnexec", "tcpdump", "ethtool"):
        if shutil.which(tool) is None:
            return f"{tool} is missing: run scripts/setup.sh"
    if subprocess.run(
        ["ovs-vsctl", "--timeout=3", "show"], check=False, capture_output=True
    ).returncode:
        return "Open vSwitch is not running: run scripts/setup.sh"
    return None


def pytest_collection_modifyitems(config, items):
    reason = _skip_reason()
    for item in items:
        if "dataplane" in str(item.fspath):
            item.add_marker(pytest.mark.dataplane)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def controller(tmp_path):
    """A naas-sdn server watching the machine's real OVSDB, with fast discovery."""
    server = start_server(tmp_path, extra_args=["--ovsdb", "unix:/var/run/openvswitch/db.sock"])
    yield server
    server.stop()


class Tenant:
    """A tenant's view of the API: create networks and ports, read them back."""

    def __init__(self, server, project):
        self.api = ApiClient(server.url, server.token(project))
        self.project = project

    def create(self, path, key, body):
        resp = self.api.post(path, {key: body})
        assert resp.status == 201, resp
        return resp.json[key]

    def network(self, name, cidr=None):
        """A network; with ``cidr``, an IPv4 subnet on it too (no DHCP: hosts are set by
        hand)."""
        network = self.create("/v2.0/networks", "network", {"name": name})
        if cidr is not None:
            self.create(
                "/v2.0/subnets",
                "subnet",
                {"network_id": network["id"], "ip_version": 4, "cidr": cidr, "enable_dhcp": False},
            )
        return network

    def port(self, network, name, **attrs):
        resp = self.api.post(
            "/v2.0/ports", {"port": dict({"network_id": network["id"], "name": name}, **attrs)}
        )
        assert resp.status == 201, resp
        return resp.json["port"]

    def show_port(self, port):
        return self.api.get("/v2.0/ports/" + port["id"]).json["port"]

    def default_group(self) -> dict:
        groups = self.api.get("/v2.0/security-groups").json["security_groups"]
        return next(g for g in groups if g["name"] == "default")

    def admit(self, group: dict, prefix: str, protocol: str = "icmp") -> dict:
        """An ingress rule of ``group`` admitting ``protocol`` from ``prefix``."""
        return self.create(
            "/v2.0/security-group-rules",
            "security_group_rule",
            {
                "security_group_id": group["id"],
                "direction": "ingress",
                "protocol": protocol,
                "remote_ip_prefix": prefix,
            },
        )


@pytest.fixture
def tenants(controller):
    return Tenant(controller, "tenant-a"), Tenant(controller, "tenant-b")


def metric(server, name, labels=""):
    """A value of the controller's /metrics (0 if the series does not exist yet), from a
    scrape of that series alone."""
    query = urllib.parse.urlencode({"name[]": name})
    text = urllib.request.urlopen(f"{server.metrics_url}?{query}", timeout=5).read().decode()
    pattern = re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else "") + r" (\S+)"
    found = re.search(r"^" + pattern + r"$", text, re.M)
    return float(found.group(1)) if found else 0.0


def restart_while(controller, pingers, *, switches: int, pings: int) -> None:
    """Stop and start the controller while ``pingers`` (``pings`` each) run: every switch
    read back, every ping answered, not one flow, group or meter changed."""
    time.sleep(2)
    controller.stop()
    time.sleep(2)
    controller.start()
    assert wait_for(
        lambda: metric(controller, "naas_switch_syncs_total", 'kind="full"') >= switches,
        timeout=30,
    ), controller.log_tail()
    for pinger in pingers:
        reply, _ = pinger.communicate(timeout=40)
        assert f"{pings} packets transmitted, {pings} received" in reply, reply
    for kind in ("flow", "group", "meter"):
        assert metric(controller, f"naas_{kind}_mods_total") == 0, controller.log_tail()
