"""Fixtures shared by the model's unit tests: a NetworkService on a fresh database, each
test once on SQLite (the default) and once on PostgreSQL (production's)."""

import pytest

from naas_sdn.model import db
from naas_sdn.model.service import NetworkService


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'model.sqlite'}"
    return request.getfixturevalue("postgres").test_database()


@pytest.fixture
def service(db_url):
    svc = NetworkService(db.connect(db_url))
    yield svc
    svc.close()
