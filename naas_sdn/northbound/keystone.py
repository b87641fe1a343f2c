"""Keystone tokens (``auth_strategy = keystone``): the API behind a cloud's identity service.

keystonemiddleware's ``auth_token``, the middleware Neutron runs, validates each request's
``X-Auth-Token`` (and Nova's ``X-Service-Token``) against Keystone with the options of the
configuration file's ``[keystone_authtoken]`` section, caches what it validated
(``token_cache_time``) and answers 401 itself to a missing, invalid, expired or revoked token.
The project and roles it found are the request's :class:`Context`; the same oslo.policy rules
then decide as for naas-sdn's own tokens. The version document and the topology page stay
open, as Neutron serves its version document outside the ``auth_token`` pipeline.
"""

from __future__ import annotations

import logging

from oslo_config import cfg

from naas_sdn.model import errors
from naas_sdn.model.common import Context
from naas_sdn.northbound import http

LOG = logging.getLogger(__name__)

TOKEN_AUTH = "keystone.token_auth"  # where auth_token leaves the validated token


class KeystoneAuth:
    """WSGI: every path under ``/v2.0`` through ``auth_token``, the open ones beside it."""

    def __init__(self, app, conf: cfg.ConfigOpts):
        """
        Raises:
            SystemExit: keystonemiddleware is not installed (``pip install naas-sdn[keystone]``).
        """
        try:
            from keystonemiddleware import auth_token
        except ImportError:
            raise SystemExit(
                "naas-sdn: auth_strategy = keystone needs keystonemiddleware "
                "(pip install 'naas-sdn[keystone]')"
            ) from None
        self._app = app
        # the middleware registers [keystone_authtoken] on our options and reads them there
        self._protected = auth_token.AuthProtocol(app, {"oslo_config_config": conf})

    def __call__(self, environ, start_response):
        if _open(environ.get("PATH_INFO", "")):
            environ.pop(TOKEN_AUTH, None)  # never a caller's: only auth_token sets it
            return self._app(environ, start_response)
        try:
            return self._protected(environ, start_response)
        except Exception as exc:  # Keystone unreachable or the catalog without it: no 500
            LOG.error("cannot validate tokens with Keystone: %s: %s", type(exc).__name__, exc)
            refusal = errors.IdentityUnavailable()
            return http.json_response(refusal.body(), refusal.status)(environ, start_response)


def _open(path: str) -> bool:
    """The paths served without a token: the version document and the page's static files.
    Anything else (``//v2.0``, ``/v2.0.json``, an unknown path) goes through ``auth_token``."""
    return path in ("", "/") or path == "/ui" or path.startswith("/ui/")


def context(environ) -> Context | None:
    """The validated token's context; None when ``auth_token`` did not validate a user
    token with a project (an unscoped or domain-scoped token acts for no project)."""
    token_auth = environ.get(TOKEN_AUTH)
    if token_auth is None or not token_auth.has_user_token:
        return None
    user = token_auth.user
    if not user.project_id:
        return None
    return Context.of_roles(user.project_id, user.role_names)
