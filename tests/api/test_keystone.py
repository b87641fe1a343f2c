"""naas-sdn behind a real Keystone (auth_strategy = keystone): the real clients with password
authentication and project names, the catalog and version discovery, Keystone's roles under
the same policy rules, Nova's service token, and tokens Keystone no longer vouches for."""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import openstack
import openstack.config
import pytest
from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from tests.helpers import OPENSTACK, ApiClient, ServerProcess, free_port
from tests.keystone import ADMIN_PASSWORD, REGION, PrivateKeystone

pytestmark = pytest.mark.xdist_group("keystone")  # one Keystone for the module, one worker

PASSWORD = "naas-test-password"
SERVICE_PASSWORD = "naas-service-password"
TOKEN_CACHE_TIME = 2  # seconds the server trusts a token it validated (production: 300)


@dataclass
class Cloud:
    keystone: PrivateKeystone
    server: ServerProcess
    admin: openstack.connection.Connection  # Keystone's bootstrapped admin
    projects: dict[str, str] = field(default_factory=dict)  # name -> id
    tmp: Path = Path("/tmp")

    def auth(self, user: str, project: str | None = None) -> dict:
        """Password credentials of ``user`` on ``project`` (by default the user's own)."""
        return {
            "auth_url": self.keystone.url,
            "username": user,
            "password": _PASSWORDS.get(user, PASSWORD),
            "project_name": project or _PROJECT_OF[user],
            "user_domain_name": "Default",
            "project_domain_name": "Default",
        }

    def token(self, user: str, project: str | None = None) -> str:
        auth = self.auth(user, project)
        return ks_session.Session(auth=v3.Password(**auth)).get_token()

    def client(self, user: str) -> ApiClient:
        return ApiClient(self.server.url, self.token(user))

    def sdk(self, user: str) -> openstack.connection.Connection:
        """openstacksdk on a clouds.yaml of password clouds, one per user (as devstack's)."""
        path = self.tmp / "clouds.yaml"
        if not path.exists():
            clouds = {
                name: {
                    "auth_type": "password",
                    "auth": self.auth(name),
                    "region_name": REGION,
                    "identity_api_version": 3,
                }
                for name in ("demo", "alt", "demo-reader", "admin")
            }
            path.write_text(json.dumps({"clouds": clouds}))  # YAML's flow style is JSON
        config = openstack.config.OpenStackConfig(config_files=[str(path)])
        return openstack.connection.Connection(config=config.get_one(cloud=user))

    def cli(self, user: str, *args: str, parse: bool = True, check: bool = True):
        """The real ``openstack`` CLI as ``user``: password authentication, the network
        service found in Keystone's catalog."""
        auth = self.auth(user)
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.tmp),
            "OS_AUTH_TYPE": "password",
            "OS_AUTH_URL": auth["auth_url"],
            "OS_USERNAME": auth["username"],
            "OS_PASSWORD": auth["password"],
            "OS_PROJECT_NAME": auth["project_name"],
            "OS_USER_DOMAIN_NAME": "Default",
            "OS_PROJECT_DOMAIN_NAME": "Default",
            "OS_REGION_NAME": REGION,
            "OS_IDENTITY_API_VERSION": "3",
        }
        out = subprocess.run(
            [OPENSTACK, *args, *(["-f", "json"] if parse else [])],
            capture_output=True,
            text=True,
            timeout=90,
            env=env,
            check=False,
        )
        if check:
            assert out.returncode == 0, f"openstack {' '.join(args)}: {out.stderr}"
        return json.loads(out.stdout) if parse and check and out.stdout.strip() else out


# who is who: user -> (project, role); "admin" is Keystone's bootstrapped admin
_USERS = {
    "demo": ("demo", "member"),
    "demo-reader": ("demo", "reader"),
    "alt": ("alt", "member"),
    "nova": ("service", "service"),
    "neutron": ("service", "service"),  # auth_token's own user, validating tokens
    "ephemeral": ("ephemeral", "member"),
}
_PASSWORDS = {"admin": ADMIN_PASSWORD, "nova": SERVICE_PASSWORD, "neutron": SERVICE_PASSWORD}
_PROJECT_OF = {"admin": "admin", **{user: project for user, (project, _) in _USERS.items()}}


def server_config(path: Path, keystone: PrivateKeystone) -> Path:
    path.write_text(
        "[DEFAULT]\nauth_strategy = keystone\n"
        "[keystone_authtoken]\n"
        f"www_authenticate_uri = {keystone.url}\n"
        f"token_cache_time = {TOKEN_CACHE_TIME}\n"
        + keystone.auth_options("neutron", SERVICE_PASSWORD)
    )
    return path


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    keystone = PrivateKeystone(tmp_path_factory.mktemp("keystone")).setup().start()
    projects = keystone.populate(_USERS, {u: _PASSWORDS.get(u, PASSWORD) for u in _USERS})
    tmp = tmp_path_factory.mktemp("naas-keystone")
    server = ServerProcess(
        tmp / "server",
        extra_args=[
            "--config",
            str(server_config(tmp / "naas-sdn.conf", keystone)),
            "--service-plugins",
            "router,qos,protocol-block,statistics,l2-remote-gateway,network-ip-availability,trace",
        ],
    )
    # the catalog names naas-sdn the network service, unversioned as Neutron's endpoint
    keystone.register("network", "neutron", server.url)
    server.start()
    yield Cloud(keystone, server, keystone.admin(), projects, tmp)
    assert server.stop(timeout=5) == 0, server.log_tail()
    keystone.stop()


# ------------------------------------------------------------------ discovery, the CLI, sdk
def test_version_discovery_through_the_catalog(cloud):
    """The clients find the network service in Keystone's catalog and read its versions."""
    versions = cloud.cli("demo", "versions", "show", "--service", "network")
    assert [(v["Service Type"], v["Version"], v["Status"]) for v in versions] == [
        ("network", "2.0", "CURRENT")
    ]
    assert versions[0]["Endpoint"].rstrip("/") == cloud.server.url + "/v2.0"
    # open without a token, as Neutron's; everything under /v2.0 wants one
    assert ApiClient(cloud.server.url).get("/").status == 200
    refused = ApiClient(cloud.server.url).get("/v2.0/networks")
    assert refused.status == 401
    challenge = {k.lower(): v for k, v in refused.headers.items()}["www-authenticate"]
    assert challenge == f'Keystone uri="{cloud.keystone.url}"'


def test_openstack_cli_with_password_and_project_names(cloud):
    issued = cloud.cli("demo", "token", "issue")
    assert issued["project_id"] == cloud.projects["demo"]
    net = cloud.cli("demo", "network", "create", "ks-net")
    assert net["project_id"] == cloud.projects["demo"]
    subnet = cloud.cli(
        "demo",
        "subnet",
        "create",
        "ks-sub",
        "--network",
        "ks-net",
        "--subnet-range",
        "10.61.0.0/24",
    )
    assert subnet["cidr"] == "10.61.0.0/24"
    port = cloud.cli("demo", "port", "create", "ks-port", "--network", "ks-net")
    assert port["fixed_ips"][0]["ip_address"].startswith("10.61.0.")
    cloud.cli("demo", "router", "create", "ks-router")
    cloud.cli("demo", "router", "add", "subnet", "ks-router", "ks-sub", parse=False)
    cloud.cli("demo", "security", "group", "create", "ks-web")
    rule = cloud.cli(
        "demo",
        "security",
        "group",
        "rule",
        "create",
        "ks-web",
        "--protocol",
        "tcp",
        "--dst-port",
        "80",
    )
    assert rule["port_range_min"] == 80
    cloud.cli("demo", "network", "qos", "policy", "create", "ks-qos")
    cloud.cli(
        "demo",
        "network",
        "qos",
        "rule",
        "create",
        "ks-qos",
        "--type",
        "bandwidth-limit",
        "--max-kbps",
        "1000",
    )
    # project names are looked up in Keystone, which lets admins list projects: the admin
    # shares demo's network with alt by name, and lists by project name
    rbac = cloud.cli(
        "admin",
        "network",
        "rbac",
        "create",
        "ks-net",
        "--type",
        "network",
        "--action",
        "access_as_shared",
        "--target-project",
        "alt",
        "--target-project-domain",
        "Default",
    )
    assert rbac["target_project_id"] == cloud.projects["alt"]
    seen_by_alt = cloud.cli("alt", "network", "list")
    assert "ks-net" in [n["Name"] for n in seen_by_alt]
    demo_ports = cloud.cli("admin", "port", "list", "--project", "demo")
    assert port["id"] in {p["ID"] for p in demo_ports}
    demo_nets = cloud.cli("admin", "network", "list", "--project", "demo")
    assert [n["Name"] for n in demo_nets] == ["ks-net"]
    # admins by project name too
    quota = cloud.cli("admin", "quota", "show", "demo", "--network")
    assert any(row.get("Resource") == "networks" for row in quota) or "networks" in quota


def test_openstacksdk_with_a_password_cloud(cloud):
    alt = cloud.sdk("alt")
    net = alt.network.create_network(name="sdk-net")
    try:
        assert net.project_id == cloud.projects["alt"]
        alt.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.62.0.0/24")
        port = alt.network.create_port(network_id=net.id)
        assert [p.id for p in alt.network.ports(network_id=net.id)] == [port.id]
        # demo does not see alt's network
        assert cloud.sdk("demo").network.find_network(net.id) is None
    finally:
        alt.network.delete_port(port.id, ignore_missing=True)
        alt.network.delete_network(net.id)


# ---------------------------------------------------------------------- roles and tokens
def test_keystone_roles_meet_the_policy_rules(cloud):
    demo, reader, alt = cloud.client("demo"), cloud.client("demo-reader"), cloud.client("alt")
    made = demo.post("/v2.0/networks", {"network": {"name": "roles"}})
    assert made.status == 201, made
    net_id = made.json["network"]["id"]
    # the reader reads the project's network and changes nothing
    assert reader.get(f"/v2.0/networks/{net_id}").status == 200
    assert net_id in {n["id"] for n in reader.get("/v2.0/networks").json["networks"]}
    for refused in (
        reader.post("/v2.0/networks", {"network": {"name": "nope"}}),
        reader.put(f"/v2.0/networks/{net_id}", {"network": {"name": "nope"}}),
        reader.delete(f"/v2.0/networks/{net_id}"),
        reader.post("/v2.0/ports", {"port": {"network_id": net_id}}),
    ):
        assert refused.status == 403 and refused.error_type == "PolicyNotAuthorized", refused
    # another project's member does not see it
    assert alt.get(f"/v2.0/networks/{net_id}").status == 404
    # Keystone's admin sees it and may do what Neutron lets admins do
    admin = ApiClient(cloud.server.url, cloud.token("admin"))
    assert admin.get(f"/v2.0/networks/{net_id}").status == 200
    assert demo.delete(f"/v2.0/networks/{net_id}").status == 204


def test_nova_binds_a_tenant_port_with_its_service_role_and_service_token(cloud):
    demo, nova = cloud.client("demo"), cloud.client("nova")
    net = demo.post("/v2.0/networks", {"network": {"name": "vm-net"}}).json["network"]
    port = demo.post("/v2.0/ports", {"port": {"network_id": net["id"]}}).json["port"]
    # Nova's own token (role service, project service) sees and binds the tenant's port
    assert nova.get(f"/v2.0/ports/{port['id']}").status == 200
    bound = nova.put(
        f"/v2.0/ports/{port['id']}",
        {
            "port": {
                "device_id": "6f1c1a2e-0000-4000-8000-000000000001",
                "device_owner": "compute:nova",
                "binding:host_id": "compute-1",
            }
        },
    )
    assert bound.status == 200, bound
    assert bound.json["port"]["binding:host_id"] == "compute-1"
    # ...which the tenant itself may not do
    refused = demo.put(f"/v2.0/ports/{port['id']}", {"port": {"binding:host_id": "compute-2"}})
    assert refused.status == 403
    # the tenant's token with Nova's service token: both validated
    service_token = cloud.token("nova")
    both = ApiClient(cloud.server.url, demo.token).get(
        f"/v2.0/ports/{port['id']}", headers={"X-Service-Token": service_token}
    )
    assert both.status == 200 and both.json["port"]["device_owner"] == "compute:nova"
    bad_service = ApiClient(cloud.server.url, demo.token).get(
        f"/v2.0/ports/{port['id']}", headers={"X-Service-Token": "not-a-token"}
    )
    assert bad_service.status == 401
    assert demo.delete(f"/v2.0/ports/{port['id']}").status == 204
    assert demo.delete(f"/v2.0/networks/{net['id']}").status == 204


def test_tokens_keystone_does_not_vouch_for_get_401(cloud):
    # never a Keystone token, nor a naas-sdn one: this server asks Keystone alone
    for token in ("not-a-token", "0" * 64):
        resp = ApiClient(cloud.server.url, token).get("/v2.0/networks")
        assert resp.status == 401, resp
    # revoked: refused once the server's token cache has let it go
    token = cloud.token("demo")
    demo = ApiClient(cloud.server.url, token)
    assert demo.get("/v2.0/networks").status == 200
    cloud.admin.identity.delete("/auth/tokens", headers={"X-Subject-Token": token})
    assert _refused_within(demo, TOKEN_CACHE_TIME + 3)


def test_a_token_whose_project_is_gone_can_do_nothing(cloud):
    token = cloud.token("ephemeral")
    client = ApiClient(cloud.server.url, token)
    made = client.post("/v2.0/networks", {"network": {"name": "short-lived"}})
    assert made.status == 201
    cloud.admin.identity.update_project(cloud.projects["ephemeral"], is_enabled=False)
    assert _refused_within(client, TOKEN_CACHE_TIME + 3)
    assert client.post("/v2.0/networks", {"network": {"name": "after"}}).status == 401
    # Keystone gives no token for a project it does not know
    with pytest.raises(ks_exceptions.Unauthorized):
        cloud.token("demo", project="no-such-project")
    # what the project made is still there, for an admin to clean up
    admin = ApiClient(cloud.server.url, cloud.token("admin"))
    net_id = made.json["network"]["id"]
    assert admin.get(f"/v2.0/networks/{net_id}").status == 200
    assert admin.delete(f"/v2.0/networks/{net_id}").status == 204


def test_an_expired_token_gets_401(cloud, tmp_path):
    """A second Keystone on the same database and keys issues tokens living 5 seconds; the
    first, which the server asks, validates them until they expire."""
    brief = PrivateKeystone(tmp_path, token_expiration=5)
    brief.write_config(
        database=cloud.keystone.directory / "keystone.sqlite", keys=cloud.keystone.directory
    )
    brief.start()
    try:
        auth = dict(cloud.auth("demo"), auth_url=brief.url)
        token = ks_session.Session(auth=v3.Password(**auth)).get_token()
    finally:
        brief.stop()
    issued = time.monotonic()
    client = ApiClient(cloud.server.url, token)
    assert client.get("/v2.0/networks").status == 200
    time.sleep(max(0.0, issued + 5.5 - time.monotonic()))
    assert client.get("/v2.0/networks").status == 401


def _refused_within(client: ApiClient, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if client.get("/v2.0/networks").status == 401:
            return True
        time.sleep(0.2)
    return False


def test_a_token_for_no_project_is_refused(cloud):
    """Keystone's admin also holds the system scope: such a token acts for no project."""
    auth = cloud.auth("admin")
    del auth["project_name"], auth["project_domain_name"]
    token = ks_session.Session(auth=v3.Password(**auth, system_scope="all")).get_token()
    resp = ApiClient(cloud.server.url, token).get("/v2.0/networks")
    assert resp.status == 403 and resp.error_type == "HTTPForbidden", resp


def test_keystone_away_is_503(tmp_path):
    """A server whose Keystone does not answer: keystonemiddleware's 503 (Neutron's answer
    too), no 500, no request done."""
    nobody = f"http://127.0.0.1:{free_port()}/v3"
    config = tmp_path / "naas-sdn.conf"
    config.write_text(
        "[DEFAULT]\nauth_strategy = keystone\n[keystone_authtoken]\n"
        f"www_authenticate_uri = {nobody}\nauth_url = {nobody}\nauth_type = password\n"
        "username = neutron\npassword = x\nproject_name = service\n"
        "user_domain_name = Default\nproject_domain_name = Default\n"
    )
    server = ServerProcess(tmp_path / "server", extra_args=["--config", str(config)]).start()
    try:
        resp = ApiClient(server.url, "some-token").get("/v2.0/networks")
        assert resp.status == 503 and "Keystone" in resp.json["message"], resp
        assert ApiClient(server.url).get("/").status == 200
    finally:
        assert server.stop(timeout=5) == 0, server.log_tail()


def test_keystone_not_in_its_catalog_is_503_with_neutrons_body(cloud, tmp_path):
    """auth_token finds Keystone through its catalog: asked for an interface the catalog
    lacks (here internal), it cannot validate; the API says so, no 500."""
    config = server_config(tmp_path / "naas-sdn.conf", cloud.keystone)
    config.write_text(config.read_text().replace("interface = public", "interface = internal"))
    server = ServerProcess(tmp_path / "server", extra_args=["--config", str(config)]).start()
    try:
        resp = ApiClient(server.url, cloud.token("demo")).get("/v2.0/networks")
        assert resp.status == 503 and resp.error_type == "HTTPServiceUnavailable", resp
        assert "cannot validate tokens with Keystone" in server.log_tail()
    finally:
        assert server.stop(timeout=5) == 0, server.log_tail()
