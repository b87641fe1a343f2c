"""API tokens: hashed at rest, shared through SQL with the CLI, revocable."""

import pytest
from sqlalchemy import select

from naas_sdn import cli
from naas_sdn.model import db
from naas_sdn.model.common import Context
from naas_sdn.model.tokens import TOKENS, TokenStore


def test_tokens(db_url, service):
    tokens = service.tokens
    secret = tokens.create("alice", admin=False, description="ci")
    assert tokens.authenticate(secret) == Context("alice", False)
    assert tokens.authenticate("wrong") is None and tokens.authenticate("") is None
    assert tokens.authenticate(None) is None
    # 256 random bits, and never a leading "-" that a command line would take for an option
    assert len(secret) == 64 and int(secret, 16) >= 0
    cli_engine = db.connect(db_url)  # e.g. the CLI, while the server runs
    admin_secret = TokenStore(cli_engine).create("ops", admin=True)
    assert tokens.authenticate(admin_secret) == Context("ops", True)
    rows = tokens.entries()
    assert {r["project_id"] for r in rows} == {"alice", "ops"}
    assert all(secret not in str(r) for r in rows)
    with cli_engine.connect() as conn:
        stored = conn.execute(select(TOKENS.c.secret_sha256)).scalars().all()
    cli_engine.dispose()
    assert secret not in stored and all(len(h) == 64 for h in stored)
    token_id = next(r["id"] for r in rows if r["project_id"] == "alice")
    assert tokens.revoke(token_id) is True
    assert tokens.revoke(token_id) is False
    assert tokens.authenticate(secret) is None


@pytest.mark.parametrize("project_id", ["", "p" * (db.PROJECT_LEN + 1)])
def test_a_project_id_must_fit_its_column(service, project_id):
    with pytest.raises(ValueError, match="1 to 255 characters"):
        service.tokens.create(project_id)
    assert service.tokens.entries() == []


def test_the_cli_makes_one_token_per_project_given(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'naas.sqlite'}"
    assert cli.main(["token", "create", "--db-url", url, "--project", "a", "--project", "b"]) == 0
    made = capsys.readouterr().out.split()
    assert len(made) == 2
    store = TokenStore(db.connect(url))
    assert [store.authenticate(secret) for secret in made] == [Context("a"), Context("b")]
