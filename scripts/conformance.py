"""Run the OpenStack clients' own functional network tests against a private naas-sdn.

The tests are those openstacksdk and python-openstackclient ship in their wheels
(``openstack/tests/functional/network/v2``, ``openstackclient/tests/functional/network/v2``),
run unchanged: a controller on a temporary SQLite database with every in-tree plugin and
devstack's external network ``public`` (172.24.4.0/24), behind a private Keystone
(``auth_strategy = keystone``, tests/keystone.py), registered in its catalog as the network
service, and a ``clouds.yaml`` whose ``devstack`` (user demo, a member of project demo),
``devstack-alt`` (alt_demo, of project alt_demo), ``devstack-admin`` (Keystone's admin) and
``devstack-system-admin`` (the admin, system scope) clouds authenticate with passwords, as
devstack's do. ``--no-keystone``: the controller's own tokens with ``auth_type:
admin_token`` instead (no catalog: what needs Keystone fails for that reason).

Prints pass / fail / skip counts per module and writes the failures with their first error
line to ``conformance-results.txt`` (``--out``). ``make conformance`` installs what the tests
import (``.[conformance]``) and runs this.
"""

from __future__ import annotations

import argparse
import collections
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers import ApiClient, ServerProcess, start_server  # noqa: E402
from tests.keystone import ADMIN_PASSWORD, REGION, PrivateKeystone  # noqa: E402

PLUGINS = "router,qos,protocol-block,statistics,l2-remote-gateway,network-ip-availability"
SUITES = {
    "sdk": "openstack.tests.functional.network.v2",
    "osc": "openstackclient.tests.functional.network.v2",
}


# the only service there is: the suites' setUp looks for flavors and images
_NO_OTHER_SERVICES = [
    "    has_compute: false",
    "    has_image: false",
    "    has_block_storage: false",
    "    has_object_store: false",
]
PASSWORD = "conformance-secret"
# devstack's users: user -> (project, role); the admin is Keystone's bootstrapped one
USERS = {
    "demo": ("demo", "member"),
    "alt_demo": ("alt_demo", "member"),
    "neutron": ("service", "service"),
}
CLOUD_USERS = {"devstack": "demo", "devstack-alt": "alt_demo", "devstack-admin": "admin"}


def clouds_yaml(url: str, tokens: dict[str, str]) -> str:
    """admin_token clouds on the controller's own tokens (``--no-keystone``)."""
    lines = ["clouds:"]
    for cloud, token in tokens.items():
        lines += [
            f"  {cloud}:",
            "    auth_type: admin_token",
            "    auth:",
            f"      endpoint: {url}",
            f"      token: {token}",
            "    region_name: RegionOne",
            "    network_api_version: '2'",
            f"    network_endpoint_override: {url}",
            *_NO_OTHER_SERVICES,
        ]
    return "\n".join(lines) + "\n"


def keystone_clouds_yaml(keystone: PrivateKeystone) -> str:
    """devstack's password clouds on Keystone's users; the network service from its catalog."""
    lines = ["clouds:"]
    for cloud, user in [*CLOUD_USERS.items(), ("devstack-system-admin", "admin")]:
        project = USERS[user][0] if user in USERS else "admin"
        scope = (
            ["      system_scope: all"]
            if cloud == "devstack-system-admin"
            else [f"      project_name: {project}", "      project_domain_name: Default"]
        )
        lines += [
            f"  {cloud}:",
            "    auth_type: password",
            "    auth:",
            f"      auth_url: {keystone.url}",
            f"      username: {user}",
            f"      password: {ADMIN_PASSWORD if user == 'admin' else PASSWORD}",
            "      user_domain_name: Default",
            *scope,
            f"    region_name: {REGION}",
            "    identity_api_version: '3'",
            *_NO_OTHER_SERVICES,
        ]
    return "\n".join(lines) + "\n"


def keystone_controller(tmp: str) -> tuple[PrivateKeystone, ServerProcess, str]:
    """A Keystone with devstack's users, the controller behind it in its catalog, and an
    admin's token."""
    keystone = PrivateKeystone(pathlib.Path(tmp, "keystone")).setup().start()
    keystone.populate(USERS, dict.fromkeys(USERS, PASSWORD))
    config = pathlib.Path(tmp, "naas-sdn.conf")
    config.write_text(
        "[DEFAULT]\nauth_strategy = keystone\n[keystone_authtoken]\n"
        + keystone.auth_options("neutron", PASSWORD)
    )
    server = ServerProcess(
        pathlib.Path(tmp, "server"),
        extra_args=["--config", str(config), "--service-plugins", PLUGINS],
    )
    keystone.register("network", "neutron", server.url)
    server.start()
    return keystone, server, keystone.admin().auth_token


def devstack_public(url: str, admin_token: str) -> None:
    """What devstack makes and the suites look for: the external network ``public`` (flat,
    on physical network ``public``) with its subnet 172.24.4.0/24."""
    admin = ApiClient(url, admin_token)
    network = admin.post(
        "/v2.0/networks",
        {
            "network": {
                "name": "public",
                "router:external": True,
                "provider:network_type": "flat",
                "provider:physical_network": "public",
            }
        },
    )
    assert network.status == 201, network
    subnet = {
        "name": "public-subnet",
        "network_id": network.json["network"]["id"],
        "ip_version": 4,
        "cidr": "172.24.4.0/24",
        "gateway_ip": "172.24.4.1",
        "enable_dhcp": False,
    }
    created = admin.post("/v2.0/subnets", {"subnet": subnet})
    assert created.status == 201, created


def _module(case: ET.Element) -> str:
    name = case.get("classname", "")
    return ".".join(name.split(".")[:-1]) or name


# the exception a failure ended with: "openstack.exceptions.HttpException: HttpException: 501..."
_RAISED = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception)\b[^\n]*", re.M)


def _outcome(case: ET.Element) -> tuple[str, str]:
    for kind in ("failure", "error"):
        found = case.find(kind)
        if found is not None:
            text = f"{found.get('message') or ''}\n{found.text or ''}"
            raised = [m.group(0) for m in _RAISED.finditer(text)]
            lines = text.strip().splitlines()
            why = raised[-1] if raised else (lines[0] if lines else "")
            return "failed", why[:240]
    if case.find("skipped") is not None:
        return "skipped", ""
    return "passed", ""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="conformance-results.txt")
    parser.add_argument("-k", default=None, help="pytest -k expression (a subset)")
    parser.add_argument(
        "--no-keystone",
        action="store_true",
        help="the controller's own tokens (admin_token clouds) instead of a Keystone",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        keystone = None
        config = pathlib.Path(tmp, "clouds.yaml")
        if args.no_keystone:
            server = start_server(tmp, extra_args=["--service-plugins", PLUGINS])
            tokens = {
                "devstack": server.token("demo"),
                "devstack-alt": server.token("alt"),
                "devstack-admin": server.token("admin", admin=True),
                "devstack-system-admin": server.token("admin", admin=True),
            }
            config.write_text(clouds_yaml(server.url, tokens))
            admin_token = tokens["devstack-admin"]
        else:
            keystone, server, admin_token = keystone_controller(tmp)
            config.write_text(keystone_clouds_yaml(keystone))
        try:
            devstack_public(server.url, admin_token)
            env = dict(
                os.environ,
                OS_CLIENT_CONFIG_FILE=str(config),
                # openstacksdk's tests allow 5 s each by default: too few on a busy machine
                # with two cores, where creating a project in Keystone alone may take 1 s
                OS_TEST_TIMEOUT=os.environ.get("OS_TEST_TIMEOUT", "60"),
                PATH=f"{pathlib.Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
            )
            counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
            failures = []
            for suite, package in SUITES.items():
                report = pathlib.Path(tmp, f"{suite}.xml")
                command = [
                    sys.executable,
                    "-m",
                    "pytest",
                    "-q",
                    "-p",
                    "no:cacheprovider",
                    "--rootdir",
                    tmp,
                    f"--junitxml={report}",
                    "--pyargs",
                    package,
                ] + (["-k", args.k] if args.k else [])
                subprocess.run(command, env=env, cwd=tmp, check=False, capture_output=True)
                for case in ET.parse(report).getroot().iter("testcase"):
                    outcome, why = _outcome(case)
                    module = f"{suite} {_module(case)}"
                    counts[module][outcome] += 1
                    if outcome == "failed":
                        failures.append(
                            f"{suite} {case.get('classname')}.{case.get('name')}: {why}"
                        )
        finally:
            server.stop()
            if keystone is not None:
                keystone.stop()
    total: collections.Counter = collections.Counter()
    for module in sorted(counts):
        c = counts[module]
        total.update(c)
        print(f"{module:70} {c['passed']:4} passed {c['failed']:4} failed {c['skipped']:4} skipped")
    print(
        f"{'total':70} {total['passed']:4} passed {total['failed']:4} failed "
        f"{total['skipped']:4} skipped"
    )
    pathlib.Path(args.out).write_text("\n".join(failures) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
