"""The topology page in a real browser (Debian's Chromium, headless, driven through its
chromedriver): after a token login it draws the caller's networks, subnets, router and its
interfaces, ports with their addresses, status, groups and counters, and nothing of another
tenant's; a port going DOWN changes its drawing; two ports clicked are traced; an admin also
sees the switches, the cable and where each port is bound. A screenshot of each view is kept
in test-artifacts/."""

import pathlib
import shutil

import pytest

from tests.dataplane.lab import lab, ping, plugged_ports, unplug, v4, wait_for
from tests.helpers import ApiClient, start_server

ARTIFACTS = pathlib.Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture
def controller(tmp_path):
    """The controller, its counters read every second (the page's are seen to move)."""
    server = start_server(
        tmp_path,
        extra_args=["--ovsdb", "unix:/var/run/openvswitch/db.sock", "--stats-interval", "1"],
    )
    yield server
    server.stop()


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for tool in (CHROMIUM, CHROMEDRIVER):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: scripts/setup.sh installs it")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,900",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(30)
    yield driver
    driver.quit()


class Page:
    """The topology page as a user sees it, read through the page's own graph."""

    def __init__(self, driver, url):
        self.driver, self.url = driver, url

    def login(self, token: str) -> None:
        from selenium.webdriver.common.by import By

        self.driver.get(self.url + "/ui/")
        self.driver.execute_script("sessionStorage.clear()")
        self.driver.get(self.url + "/ui/")
        self.driver.find_element(By.ID, "token").send_keys(token)
        self.driver.find_element(By.ID, "sign-in").click()
        assert wait_for(lambda: self.js("return window.naas.loads") >= 1, timeout=15)
        assert not self.driver.find_element(By.ID, "login").is_displayed()
        assert self.driver.find_element(By.ID, "graph").is_displayed()

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def nodes(self) -> dict[str, list[str]]:
        return self.js(
            "const out = {}; window.naas.cy.nodes().forEach(n => out[n.id()] = n.classes());"
            "return out;"
        )

    def edges(self) -> set[tuple[str, str]]:
        pairs = self.js(
            "return window.naas.cy.edges().map(e => [e.source().id(), e.target().id()]);"
        )
        return {tuple(pair) for pair in pairs}

    def label(self, node_id: str) -> str:
        return self.js("return window.naas.cy.getElementById(arguments[0]).data('label');", node_id)

    def everything_said(self) -> str:
        """Every id, label and detail the graph holds, as one text."""
        return self.js("return JSON.stringify(window.naas.cy.elements().map(e => e.data()));")

    def tap(self, node_id: str) -> None:
        self.js("window.naas.cy.getElementById(arguments[0]).emit('tap');", node_id)

    def traced(self, source: str, destination: str) -> dict:
        """Click one port, then the other: the page's trace between them, once answered."""
        self.js("window.naas.lastTrace = null;")
        self.tap(source)
        self.tap(destination)
        assert wait_for(lambda: self.js("return window.naas.lastTrace") is not None)
        return self.js("return window.naas.lastTrace")

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        assert self.driver.save_screenshot(str(ARTIFACTS / name))


def _alices_networks(alice, net):
    """Two networks joined by a router, a VM on each (h1 in groups default and web, so that
    h2's default group admits it), the first extended to a remote site."""
    front = alice.network("front", "10.0.0.0/24")
    back = alice.network("back", "10.0.1.0/24")
    group = alice.create("/v2.0/security-groups", "security_group", {"name": "web"})
    default = alice.api.get("/v2.0/security-groups?name=default").json["security_groups"]
    both = {"security_groups": [default[0]["id"], group["id"]]}
    ports = plugged_ports(alice, net, front, ("h1",), h1=both)
    ports.update(plugged_ports(alice, net, back, ("h2",)))
    router = alice.create("/v2.0/routers", "router", {"name": "edge"})
    for network in (front, back):
        subnet = alice.api.get(f"/v2.0/subnets?network_id={network['id']}").json["subnets"]
        resp = alice.api.put(
            f"/v2.0/routers/{router['id']}/add_router_interface",
            {"subnet_id": subnet[0]["id"]},
        )
        assert resp.status == 200, resp.raw
    site = alice.create(
        "/v2.0/l2-remote-gateways",
        "l2_remote_gateway",
        {"name": "branch", "remote_ip": "192.0.2.10"},
    )
    alice.create(
        "/v2.0/l2-remote-gateway-connections",
        "l2_remote_gateway_connection",
        {"l2_remote_gateway_id": site["id"], "network_id": front["id"]},
    )
    return front, back, router, ports, site


def test_the_page_draws_what_the_token_shows_and_traces_two_ports(controller, tenants, browser):
    alice, bob = tenants
    with lab(
        controller.ofp_port, switches=2, cables=[(1, 2)], hosts={"h1": 1, "h2": 2, "h3": 2}
    ) as net:
        front, back, router, ports, site = _alices_networks(alice, net)
        theirs = bob.network("theirs", "10.9.0.0/24")
        bobs = plugged_ports(bob, net, theirs, ("h3",))["h3"]
        for owner, port in ((alice, ports["h1"]), (alice, ports["h2"]), (bob, bobs)):
            assert wait_for(lambda o=owner, p=port: o.show_port(p)["status"] == "ACTIVE")

        page = Page(browser, controller.url)
        page.login(alice.api.token)
        nodes = page.nodes()
        h1, h2 = (f"port:{ports[h]['id']}" for h in ("h1", "h2"))
        expected = {
            f"network:{front['id']}": "network",
            f"network:{back['id']}": "network",
            f"router:{router['id']}": "router",
            h1: "port",
            h2: "port",
            f"site:{site['id']}": "site",
        }
        assert {n: c[0] for n, c in nodes.items()} == expected
        edges = page.edges()
        assert (h1, f"network:{front['id']}") in edges and (h2, f"network:{back['id']}") in edges
        assert (f"router:{router['id']}", f"network:{front['id']}") in edges
        assert (f"router:{router['id']}", f"network:{back['id']}") in edges
        assert (f"site:{site['id']}", f"network:{front['id']}") in edges
        assert "10.0.0.0/24" in page.label(f"network:{front['id']}")
        label = page.label(h1)
        assert ports["h1"]["fixed_ips"][0]["ip_address"] in label and "ACTIVE" in label
        assert "groups: default, web" in label
        said = page.everything_said()
        for other in (theirs["id"], bobs["id"], bobs["mac_address"], "10.9.0."):
            assert other not in said  # nothing of bob's, not even in the details
        assert not [n for n in nodes if n.startswith("switch:")]  # switches: admins only

        # traffic: the counters drawn move at the next reads
        net.get("h1").cmd("ip route replace default via 10.0.0.1")
        net.get("h2").cmd("ip route replace default via 10.0.1.1")
        assert ping(net.get("h1"), v4(ports["h2"])) == 3
        assert wait_for(lambda: "↑0 pkts" not in page.label(h1), timeout=20), page.label(h1)
        assert "↓0 ↑0 pkts" not in page.label(f"network:{front['id']}")

        # two ports clicked: the routed packet's trace, its path drawn
        assert page.traced(h1, h2)["reachable"] is True
        on_path = page.js("return window.naas.cy.$('.on-path').map(e => e.id());")
        assert f"router:{router['id']}" in on_path and h1 in on_path and h2 in on_path
        assert "reachable" in browser.find_element("id", "trace-result").text
        page.screenshot("topology-tenant.png")

        # a port going DOWN changes its drawing at the next read
        unplug(net.get("h2"))
        assert wait_for(lambda: "down" in page.nodes()[h2], timeout=20)
        assert "DOWN" in page.label(h2)
        # traced now, the packet is dropped, and the page says so and marks where
        assert page.traced(h1, h2)["reachable"] is False
        assert browser.find_element("id", "trace-result").text.startswith("dropped by")
        assert page.js("return window.naas.cy.$('.dropped-here').length") == 1
        page.screenshot("topology-drop.png")

        # an admin sees the switches, the cable and where each port is bound
        admin = ApiClient(controller.url, controller.token("ops", admin=True))
        page.login(admin.token)
        nodes = page.nodes()
        switches = {f"switch:{d:016x}" for d in (1, 2)}
        assert switches <= nodes.keys() and f"port:{bobs['id']}" in nodes
        edges = page.edges()
        assert (f"switch:{1:016x}", f"switch:{2:016x}") in edges
        assert (h1, f"switch:{1:016x}") in edges
        page.screenshot("topology-admin.png")
