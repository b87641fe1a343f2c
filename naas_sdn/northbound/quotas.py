"""/v2.0/quotas: Neutron's ``quotas`` and ``quota_details`` extensions.

``GET /quotas`` lists the projects with limits of their own (admin); ``GET|PUT|DELETE
/quotas/{project_id}`` shows, sets (admin) and resets to the defaults (admin);
``/quotas/{project_id}/default`` and ``/details`` (limit, used, reserved) are read-only views;
``/quotas/project`` names the caller's project. Not the generic resource controller: a quota is
a set of limits addressed by project, with no id, revision, tags or POST.

Only the quotas of loaded resources are shown and settable, as Neutron registers a quota only
when the plugin serving its resource is loaded.
"""

from __future__ import annotations

from collections.abc import Collection

import webob

from naas_sdn.model import errors, quotas
from naas_sdn.model.common import Context
from naas_sdn.model.db import PROJECT_LEN
from naas_sdn.model.service import NetworkService
from naas_sdn.northbound import attributes as a
from naas_sdn.northbound import http
from naas_sdn.northbound.extensions import Extension
from naas_sdn.northbound.policy import ADMIN, ADMIN_OR_OWNER, Authorizer, as_reader, rule

PATH = "quotas"
MEMBER = "quota"
RESERVED = 0  # usage is counted inside the creating transaction: nothing is ever held back
# GET /quotas/project → {"project": {"project_id": <the caller's>}}; "tenant" likewise
_CALLER_PROJECT_ACTIONS = ("project", "tenant")

QUOTA_EXTENSIONS = (
    Extension(
        "quotas",
        "Quota management support",
        "Expose functions for quotas management per project",
        updated="2012-07-29T10:00:00-00:00",
    ),
    Extension(
        "quota_details",
        "Quota details management support",
        "Expose functions for quotas usage statistics per project",
        updated="2017-02-10T10:00:00-00:00",
    ),
    Extension(
        "quota-check-limit",
        "Quota engine limit check",
        "Support for checking the resource usage before applying a new quota limit",
        updated="2021-09-08T16:00:00-00:00",
    ),
    Extension(
        "quota-check-limit-default",
        "Quota engine limit check by default",
        "By default, the Neutron quota engine checks the resource usage before applying "
        "a new quota limit",
        updated="2024-08-21T16:00:00-00:00",
    ),
)

_LIMIT = a.integer_range(quotas.UNLIMITED, quotas.MAX_LIMIT)
# Neutron's quota rules: a project reads its own quota; listing, reading another project's,
# setting and resetting are for admins (403, not 404: any project id has a quota, so the
# answer reveals nothing).
QUOTA_RULES = (
    rule(
        "get_quota",
        as_reader(ADMIN_OR_OWNER),
        "Show a project's quota (or, with no project, list them)",
    ),
    rule("get_quota_details", as_reader(ADMIN_OR_OWNER), "Show a project's quota limits and usage"),
    rule("update_quota", ADMIN, "Set a project's quota"),
    rule("delete_quota", ADMIN, "Reset a project's quota to the defaults"),
)


class QuotaController:
    """Routes ``/v2.0/quotas[/<project_id>[/default|/details]]`` to the service's quotas."""

    def __init__(
        self, service: NetworkService, loaded_paths: Collection[str], authorizer: Authorizer
    ):
        self.service = service
        self.authorizer = authorizer
        self.names = [r.name for r in quotas.REGISTRY.values() if r.api_path in loaded_paths]

    def dispatch(self, req: webob.Request, ctx: Context, rest: list[str]) -> webob.Response:
        _allow, _json = http.allow, http.json_response
        if not rest:
            if req.method == "POST":
                raise errors.QuotaPostNotSupported()
            _allow(req, "GET")
            self._authorize(ctx, "get_quota", None)
            return _json(
                {
                    PATH: [
                        {**self._shown(limits), "project_id": project_id, "tenant_id": project_id}
                        for project_id, limits in self.service.projects_with_quotas().items()
                    ]
                }
            )
        project_id = rest[0]
        if not 0 < len(project_id) <= PROJECT_LEN:
            raise errors.ResourceNotFound()
        if len(rest) == 1 and project_id in _CALLER_PROJECT_ACTIONS:
            _allow(req, "GET")
            return _json({project_id: {f"{project_id}_id": ctx.project_id}})
        if len(rest) == 1:
            method = _allow(req, "GET", "PUT", "DELETE")
            if method == "GET":
                self._authorize(ctx, "get_quota", project_id)
                return _json({MEMBER: self._shown(self.service.quota_limits(project_id))})
            if method == "PUT":
                self._authorize(ctx, "update_quota", project_id)
                return _json({MEMBER: self._update(project_id, http.json_body(req))})
            self._authorize(ctx, "delete_quota", project_id)
            self.service.reset_quota_limits(project_id)
            return webob.Response(status=204)
        if len(rest) == 2 and rest[1] == "default":
            _allow(req, "GET")
            self._authorize(ctx, "get_quota", project_id)
            return _json({MEMBER: self._shown(quotas.defaults())})
        if len(rest) == 2 and rest[1] == "details":
            _allow(req, "GET")
            self._authorize(ctx, "get_quota_details", project_id)
            limits = self.service.quota_limits(project_id)
            used = self.service.quota_usage(project_id)
            return _json(
                {
                    MEMBER: {
                        name: {"limit": limits[name], "used": used[name], "reserved": RESERVED}
                        for name in self.names
                    }
                }
            )
        raise errors.ResourceNotFound()

    def _authorize(self, ctx: Context, action: str, project_id: str | None) -> None:
        """``project_id`` None: every project's (a listing)."""
        target = {"project_id": project_id or "", "tenant_id": project_id or ""}
        if action == "get_quota_details" and not self.authorizer.allowed(ctx, action, target):
            raise errors.AdminRequired(
                reason="Only admin is authorized to access quotas for another project"
            )
        self.authorizer.authorize(ctx, action, target)

    def _shown(self, limits: dict[str, int]) -> dict[str, int]:
        return {name: limits[name] for name in self.names}

    def _update(self, project_id: str, body: dict) -> dict[str, int]:
        """PUT {"quota": {resource: limit, ..., "force"?, "check_limit"?}}: ``check_limit`` is
        what the client sends unless ``--force``; checking usage is the default anyway."""
        if set(body) != {MEMBER} or not isinstance(body[MEMBER], dict):
            raise errors.BadRequestMessage(msg=f"Unable to find '{MEMBER}' in request body")
        item = dict(body[MEMBER])
        force = a.boolean("force", item.pop("force", False))
        a.boolean("check_limit", item.pop("check_limit", True))
        unknown = [key for key in item if key not in self.names]
        if unknown:
            raise errors.BadRequestMessage(msg=f"Unrecognized attribute(s) '{', '.join(unknown)}'")
        limits = {key: _LIMIT(key, value) for key, value in item.items()}
        return self._shown(self.service.set_quota_limits(project_id, limits, force=force))
