"""A real Keystone for the tests: Keystone from PyPI, SQLite, Fernet tokens, bootstrapped with
``keystone-manage`` and served by waitress on a private port; projects, users and roles made
through its own API with the ``openstack`` CLI's library (openstacksdk)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import openstack

from tests.helpers import BIN_DIR, free_port

KEYSTONE_MANAGE = str(BIN_DIR / "keystone-manage")
ADMIN_PASSWORD = "keystone-admin-secret"
REGION = "RegionOne"

# Serve Keystone's WSGI application: its options come from OS_KEYSTONE_CONFIG_FILES, and
# oslo.config would read waitress's arguments as its own, hence no waitress-serve.
_SERVE = textwrap.dedent(
    """
    import sys, waitress
    listen = sys.argv[1]
    sys.argv = sys.argv[:1]
    from keystone.wsgi.api import application
    waitress.serve(application, listen=listen, threads=8, ident="keystone")
    """
)


class PrivateKeystone:
    """One Keystone in ``directory``: ``url`` (``http://127.0.0.1:PORT/v3``), the admin's
    password, and ``start()`` / ``stop()``. ``token_expiration`` is its tokens' lifetime."""

    def __init__(self, directory: Path, token_expiration: int = 3600):
        self.directory = Path(directory)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v3"
        self.config = self.directory / "keystone.conf"
        self.log_path = self.directory / "keystone.log"
        self.token_expiration = token_expiration
        self.process: subprocess.Popen | None = None

    def write_config(self, database: Path | None = None, keys: Path | None = None) -> None:
        """Keystone's file: its database and key repositories (another Keystone's, to serve
        the same identities with other settings), tokens' lifetime."""
        keys = keys or self.directory
        self.config.write_text(
            textwrap.dedent(
                f"""
                [DEFAULT]
                log_file = {self.log_path}
                [database]
                connection = sqlite:///{database or self.directory / "keystone.sqlite"}
                [token]
                provider = fernet
                expiration = {self.token_expiration}
                [fernet_tokens]
                key_repository = {keys / "fernet-keys"}
                [fernet_receipts]
                key_repository = {keys / "fernet-keys"}
                [credential]
                key_repository = {keys / "credential-keys"}
                """
            )
        )

    def setup(self) -> PrivateKeystone:
        """A new Keystone: schema, keys, the admin, and its own catalog entry."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for keys in ("fernet-keys", "credential-keys"):
            (self.directory / keys).mkdir(exist_ok=True)
        self.write_config()
        user = ["--keystone-user", "root", "--keystone-group", "root"]
        self._manage("db_sync")
        self._manage("fernet_setup", *user)
        self._manage("credential_setup", *user)
        self._manage(
            "bootstrap",
            "--bootstrap-password",
            ADMIN_PASSWORD,
            "--bootstrap-public-url",
            self.url,
            "--bootstrap-region-id",
            REGION,
        )
        return self

    def _manage(self, *args: str) -> None:
        done = subprocess.run(
            [KEYSTONE_MANAGE, "--config-file", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"keystone-manage {args[0]} failed:\n{done.stderr[-3000:]}")

    def start(self, timeout: float = 60.0) -> PrivateKeystone:
        env = dict(os.environ, OS_KEYSTONE_CONFIG_FILES=str(self.config))
        with open(self.directory / "waitress.log", "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _SERVE, f"127.0.0.1:{self.port}"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"keystone exited:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as resp:
                    if resp.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"keystone did not answer within {timeout}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        text = ""
        for name in ("waitress.log", "keystone.log"):
            path = self.directory / name
            if path.exists():
                text += "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) + "\n"
        return text

    def admin_auth(self) -> dict:
        """The bootstrapped admin's password credentials (openstacksdk's ``auth``)."""
        return {
            "auth_url": self.url,
            "username": "admin",
            "password": ADMIN_PASSWORD,
            "project_name": "admin",
            "user_domain_name": "Default",
            "project_domain_name": "Default",
        }

    def admin(self) -> openstack.connection.Connection:
        return openstack.connect(auth=self.admin_auth(), region_name=REGION, auth_type="password")

    def populate(self, users: dict[str, tuple[str, str]], passwords: dict[str, str]) -> dict:
        """Projects, users and their roles: ``users`` maps a user to (project, role), its
        password from ``passwords`` (by user). Returns project name -> id, the admin's too."""
        admin = self.admin()
        roles = {r.name: r for r in admin.identity.roles()}  # bootstrap's: admin, member...
        for role in {role for _, role in users.values()} - roles.keys():  # service: 2024.2+
            roles[role] = admin.identity.create_role(name=role)
        projects = {
            name: admin.identity.create_project(name=name, domain_id="default")
            for name in sorted({project for project, _ in users.values()})
        }
        for user, (project, role) in users.items():
            made = admin.identity.create_user(
                name=user,
                password=passwords[user],
                domain_id="default",
                default_project_id=projects[project].id,
            )
            admin.identity.assign_project_role_to_user(projects[project], made, roles[role])
        ids = {name: p.id for name, p in projects.items()}
        ids["admin"] = admin.identity.find_project("admin").id
        return ids

    def register(self, service_type: str, name: str, url: str) -> None:
        """A service's public endpoint in the catalog."""
        admin = self.admin()
        service = admin.identity.create_service(name=name, type=service_type)
        admin.identity.create_endpoint(
            service_id=service.id, interface="public", url=url, region_id=REGION
        )

    def auth_options(self, username: str, password: str, project: str = "service") -> str:
        """keystoneauth's options of a password user (a configuration section's body)."""
        return textwrap.dedent(
            f"""
            auth_url = {self.url}
            auth_type = password
            username = {username}
            password = {password}
            project_name = {project}
            user_domain_name = Default
            project_domain_name = Default
            region_name = {REGION}
            interface = public
            """
        )
