"""API tokens: an operator-made secret standing for one project, with or without the admin role.

Only the secret's SHA-256 is stored. Every check reads SQL, so a token the CLI creates or
revokes while the server runs counts at once; nothing here touches the logical model.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
)

from naas_sdn.model import db
from naas_sdn.model.common import Context, format_time, utcnow

TOKENS = Table(
    "tokens",
    db.metadata,
    Column("id", String(db.UUID_LEN), primary_key=True),
    # SHA-256 of the secret: the secret is 32 random bytes, so no salt or slow hash is needed.
    Column("secret_sha256", String(64), nullable=False, unique=True),
    Column("project_id", String(db.PROJECT_LEN), nullable=False),
    Column("admin", Boolean, nullable=False, default=False),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", DateTime, nullable=False),
)


class TokenStore:
    def __init__(self, engine: Engine):
        self._engine = engine

    def create(self, project_id: str, admin: bool = False, description: str = "") -> str:
        """Create a token for ``project_id``; returns the secret (only its hash is kept).

        Raises:
            ValueError: the project id is empty or longer than the column.
        """
        if not project_id or len(project_id) > db.PROJECT_LEN:
            raise ValueError("project id must be 1 to 255 characters")
        # Hex, not URL-safe base64: a secret starting with "-" would read as an option in
        # `openstack --os-token SECRET` (1 token in 64 did).
        secret = secrets.token_hex(32)
        with self._engine.begin() as conn:
            conn.execute(
                insert(TOKENS).values(
                    id=str(uuid.uuid4()),
                    secret_sha256=_hash_secret(secret),
                    project_id=project_id,
                    admin=bool(admin),
                    description=description or "",
                    created_at=utcnow(),
                )
            )
        return secret

    def entries(self) -> list[dict]:
        """Every token, oldest first, without its secret."""
        with self._read() as conn:
            rows = conn.execute(select(TOKENS).order_by(TOKENS.c.created_at)).all()
        return [
            {
                "id": r.id,
                "project_id": r.project_id,
                "admin": r.admin,
                "created_at": format_time(r.created_at),
                "description": r.description,
            }
            for r in rows
        ]

    def revoke(self, token_id: str) -> bool:
        """Delete a token by its id; False if there was none."""
        with self._engine.begin() as conn:
            return conn.execute(delete(TOKENS).where(TOKENS.c.id == token_id)).rowcount > 0

    def authenticate(self, secret: str | None) -> Context | None:
        """The context a secret stands for; None for no secret or an unknown one."""
        if not secret:
            return None
        with self._read() as conn:
            row = conn.execute(
                select(TOKENS.c.project_id, TOKENS.c.admin).where(
                    TOKENS.c.secret_sha256 == _hash_secret(secret)
                )
            ).first()
        return Context(project_id=row.project_id, is_admin=bool(row.admin)) if row else None

    def _read(self):
        return self._engine.connect().execution_options(readonly=True)


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
