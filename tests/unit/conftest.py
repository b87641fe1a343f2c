"""Fixtures shared by the model's unit tests: a NetworkService on a fresh SQLite file."""

import pytest

from naas_sdn.model import db
from naas_sdn.model.service import NetworkService


@pytest.fixture
def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'model.sqlite'}"


@pytest.fixture
def service(db_url):
    svc = NetworkService(db.connect(db_url))
    yield svc
    svc.close()
