"""API tokens: an operator-made secret standing for one project, with or without the admin role.

Only the secret's SHA-256 is stored. Every check reads SQL, so a token the CLI creates or
revokes while the server runs counts at once; nothing here touches the logical model.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid

from sqlalchemy import Engine, delete, insert, select

from naas_sdn.model import db
from naas_sdn.model.common import Context, format_time, utcnow


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
                insert(db.tokens).values(
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
            rows = conn.execute(select(db.tokens).order_by(db.tokens.c.created_at)).all()
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
            return conn.execute(delete(db.tokens).where(db.tokens.c.id == token_id)).rowcount > 0

    def authenticate(self, secret: str | None) -> Context | None:
        """The context a secret stands for; None for no secret or an unknown one."""
        if not secret:
            return None
        with self._read() as conn:
            row = conn.execute(
                select(db.tokens.c.project_id, db.tokens.c.admin).where(
                    db.tokens.c.secret_sha256 == _hash_secret(secret)
                )
            ).first()
        return Context(project_id=row.project_id, is_admin=bool(row.admin)) if row else None

    def _read(self):
        return self._engine.connect().execution_options(readonly=True)


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
