"""The topology page, at ``/ui/``: static files shipped in the package, served as they are.

The page holds no data and no credentials: it asks for a token, then reads and traces through
the public API with it (the same scoping and policy as any client). Everything it loads comes
from here (the graph library included, ``static/vendor``), which the Content-Security-Policy
header enforces.
"""

from __future__ import annotations

import importlib.resources
import mimetypes

import webob

from naas_sdn.model import errors

POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}


def serve(req: webob.Request, rest: list[str]) -> webob.Response:
    """GET (or HEAD) of a file under ``static``; ``/ui`` itself redirects to ``/ui/``."""
    if req.method not in ("GET", "HEAD"):
        response = webob.Response(status=405)
        response.allow = ("GET", "HEAD")
        return response
    if not rest and not req.path_info.endswith("/"):
        return webob.Response(status=301, location=req.host_url + req.script_name + "/ui/")
    if any(part in ("", ".", "..") or part.startswith(".") for part in rest):
        raise errors.ResourceNotFound()
    found = importlib.resources.files(__name__).joinpath("static", *(rest or ["index.html"]))
    if not found.is_file():
        raise errors.ResourceNotFound()
    name = rest[-1] if rest else "index.html"
    suffix = name[name.rfind(".") :] if "." in name else ""
    kind = _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = webob.Response(body=found.read_bytes(), content_type=kind)
    if kind.startswith("text/"):
        response.charset = "utf-8"
    response.headers["Content-Security-Policy"] = POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-cache"
    return response
