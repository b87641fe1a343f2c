"""What the model's unit tests share: the callers' contexts, row counts in SQL, and a call of
the WSGI app in-process."""

import json

import webob
from sqlalchemy import func, select

from naas_sdn.model.service import Context

ALICE = Context("alice")
BOB = Context("bob")
ADMIN = Context("admin", is_admin=True)


def count(service, table) -> int:
    """Rows of ``table``: what a failed write must leave as it found."""
    with service._engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def api_call(
    app, method: str, path: str, token: str, body=None, headers: dict | None = None
) -> webob.Response:
    """One request to the API in-process; ``body`` is raw bytes or an object sent as JSON."""
    req = webob.Request.blank(
        path, method=method, headers={"X-Auth-Token": token, **(headers or {})}
    )
    if body is not None:
        req.body = body if isinstance(body, bytes) else json.dumps(body).encode()
        req.content_type = "application/json"
    return req.get_response(app)
