"""Fixtures every suite may use."""

import pathlib
import tempfile

import pytest

from tests.postgres import PrivateCluster


@pytest.fixture(scope="session")
def postgres():
    """A private PostgreSQL cluster for the session (in /tmp: its server user must reach it),
    made on first use."""
    cluster = PrivateCluster(pathlib.Path(tempfile.mkdtemp(prefix="naas-pg-"))).start()
    yield cluster
    cluster.stop()
