"""A private PostgreSQL cluster for the tests: Debian's server binaries (scripts/setup.sh
installs them), a data directory of its own, a Unix socket only (no TCP port to collide
with), durability off (a test's database is thrown away), stopped and removed at the end.

No system-wide configuration is touched: the cluster runs as the ``postgres`` user when the
tests run as root (PostgreSQL refuses root), as the caller otherwise.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

SUPERUSER = "naas"
DATABASE = "naas_tests"


def _binaries() -> Path:
    """The newest installed server's bin directory (/usr/lib/postgresql/<version>/bin)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if not found:
        raise RuntimeError("PostgreSQL's server is not installed: run scripts/setup.sh")
    return Path(found[-1]).parent


class PrivateCluster:
    def __init__(self, base: Path):
        self.base = base
        self.data = base / "data"
        self.bin = _binaries()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.made = False

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, timeout=60)

    def start(self) -> PrivateCluster:
        self.base.mkdir(parents=True, exist_ok=True)
        if self.as_user:
            shutil.chown(self.base, "postgres")
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", SUPERUSER,
            "--no-sync", "-E", "UTF8",
        )  # fmt: skip
        self.resume()
        return self

    @property
    def _options(self) -> str:
        return (
            f"-k {self.base} -c listen_addresses='' -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=200"
        )

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@/{database}?host={self.base}"

    def _admin(self, database: str = "postgres"):
        import psycopg

        conn = psycopg.connect(host=str(self.base), user=SUPERUSER, dbname=database)
        conn.autocommit = True
        return conn

    def new_database(self, name: str) -> str:
        """A database of its own at the schema of this code (a server that outlives a test:
        :meth:`test_database` is emptied before each)."""
        from naas_sdn.model import db

        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        db.connect(self.url(name)).dispose()
        return self.url(name)

    def test_database(self) -> str:
        """The session's test database, made once at the schema of this code and emptied
        before each test (TRUNCATE is much cheaper than a database per test: every table's
        rows go, the revision stamp stays)."""
        from naas_sdn.model import db

        if not self.made:
            with self._admin() as conn:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')
            db.connect(self.url(DATABASE)).dispose()
            self.made = True
        with self._admin(DATABASE) as conn:
            tables = [
                row[0]
                for row in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'"
                )
            ]
            conn.execute("SET lock_timeout = '10s'")  # a test that left a transaction open
            conn.execute(
                "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
            )
        return self.url(DATABASE)

    def pause(self) -> None:
        """Stop the server, keeping its data (a database restarting under its clients)."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop")

    def resume(self) -> None:
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", self._options,
            "-l", str(self.base / "server.log"), "-w", "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.base, ignore_errors=True)
