"""JSON over WebOb, shared by the API's controllers."""

from __future__ import annotations

import json

import webob

from naas_sdn.model import errors
from naas_sdn.northbound import attributes as a

JSON = "application/json"


def json_response(body, status: int = 200) -> webob.Response:
    return webob.Response(
        status=status, content_type=JSON, charset="UTF-8", body=json.dumps(body).encode()
    )


def allow(req, *methods: str) -> str:
    if req.method not in methods:
        raise errors.MethodNotAllowed(method=req.method)
    return req.method


def json_body(req) -> dict:
    if not req.body:
        raise errors.BadRequestMessage(msg="Resource body required")
    try:
        body = json.loads(req.body)
    except (ValueError, RecursionError):  # bad JSON or UTF-8; nesting past the parser's stack
        raise errors.BadRequestMessage(msg="Malformed request body") from None
    if not isinstance(body, dict):
        raise errors.BadRequestMessage(msg="Malformed request body: the body must be a JSON object")
    a.storable_body(body)
    return body
