"""The northbound WSGI application: Neutron v2.0 routing, authentication, wire format, errors.

Stateless apart from the service it wraps, so waitress may run it on many threads at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote

import sqlalchemy.exc
import webob

from naas_sdn import ui
from naas_sdn.features.networking import rbac, rbac_api
from naas_sdn.model import errors
from naas_sdn.model.service import Context, NetworkService
from naas_sdn.northbound import attributes as a
from naas_sdn.northbound import http, keystone
from naas_sdn.northbound import plugins as plugin_registry
from naas_sdn.northbound.policy import Authorizer
from naas_sdn.northbound.query import ListQuery, pagination_links
from naas_sdn.northbound.quotas import PATH as QUOTAS_PATH
from naas_sdn.northbound.quotas import QuotaController
from naas_sdn.northbound.resources import ResourceDef

LOG = logging.getLogger(__name__)
API_VERSION = "v2.0"


def make_app(
    service: NetworkService, plugins: Iterable[str] | None = (), conf=None
) -> NeutronApp | keystone.KeystoneAuth:
    """Build the API for ``service`` with the core and the configured service plugins;
    ``conf`` (oslo.config) may name the operator's policy file (``[oslo_policy]``) and
    choose Keystone's tokens (``auth_strategy``, ``[keystone_authtoken]``).

    Raises:
        plugins.UnknownPluginError: a name in ``plugins`` is not an installed plugin.
    """
    app = NeutronApp(service, plugin_registry.load(service, plugins), conf)
    return keystone.KeystoneAuth(app, conf) if app.keystone else app


def error_response(exc: errors.NeutronException) -> webob.Response:
    resp = http.json_response(exc.body(), exc.status)
    if exc.status == 401:
        resp.headers["WWW-Authenticate"] = "Keystone uri='local'"
    return resp


# Neutron's tag extension names QoS policies by this collection: /v2.0/policies/{id}/tags
TAGGED_QOS_POLICIES = "policies"


class NeutronApp:
    """Routes ``/``, ``/v2.0/``, ``/v2.0/extensions`` and each loaded resource collection
    (``/v2.0/<path>[/<id>[/<nested collection>[/<id>]]]``)."""

    def __init__(self, service: NetworkService, plugins: list[plugin_registry.Plugin], conf=None):
        self.service = service
        self.plugins = plugins
        # keystone: tokens validated by keystonemiddleware in front (make_app); naas: ours
        self.keystone = conf is not None and conf.auth_strategy == "keystone"
        self.authorizer = Authorizer([r for p in plugins for r in p.policy_rules], conf)
        self.resources: dict[str, ResourceDef] = {}  # by collection
        self.extensions: dict[str, plugin_registry.Extension] = {}
        added: dict[str, list] = {}
        for plugin in plugins:
            for collection, attrs in plugin.attribute_extensions.items():
                added.setdefault(collection, []).extend(attrs)
        for plugin in plugins:
            for res in plugin.resources:
                if res.collection in added:
                    res = res.extended(added[res.collection])
                self.resources[res.collection] = res
            for ext in plugin.extensions:
                self.extensions[ext.alias] = ext
        rbac_policies = self.resources.get(rbac_api.RBAC_POLICIES.collection)
        if rbac_policies is not None:  # entries may name the object types of loaded plugins
            self.resources[rbac_policies.collection] = rbac_api.for_types(
                rbac_policies, [t for p in plugins for t in p.shareable]
            )
        self.routes = {tuple(r.url_path.split("/")): r for r in self.resources.values()}
        self.dormant = plugin_registry.dormant_areas(p.name for p in plugins)
        self.quotas = QuotaController(
            service, [r.url_path for r in self.resources.values()], self.authorizer
        )

    def __call__(self, environ, start_response):
        try:
            response = self.dispatch(webob.Request(environ))
        except errors.NeutronException as exc:
            if exc.status == 500:
                LOG.error("%s: %s", _request_line(environ), exc.msg)
            response = error_response(exc)
        except sqlalchemy.exc.OperationalError as exc:  # the database unreachable: no bug here
            LOG.warning("%s: database unavailable: %s", _request_line(environ), exc.orig)
            response = error_response(errors.DatabaseUnavailable())
        except Exception:  # every failure becomes a Neutron 500, never a dropped connection
            LOG.exception("unhandled error in %s", _request_line(environ))
            response = error_response(errors.InternalError())
        return response(environ, start_response)

    # ------------------------------------------------------------------------------- routing
    def dispatch(self, req: webob.Request) -> webob.Response:
        _check_url(req)
        segments = [s for s in req.path_info.split("/") if s]
        if segments and segments[0] == "ui":
            return ui.serve(req, segments[1:])  # static: no model read, no token
        self.service.refresh()  # what other processes sharing the database committed
        if not segments:
            http.allow(req, "GET")
            return http.json_response({"versions": [self._version(req)]})
        if segments[-1].endswith(".json"):
            segments[-1] = segments[-1][: -len(".json")]
        if segments[0] != API_VERSION or not all(segments):
            raise errors.ResourceNotFound()
        ctx = self._authenticate(req)
        rest = segments[1:]
        if not rest:
            http.allow(req, "GET")
            return http.json_response(
                {
                    "resources": [
                        {
                            "name": r.member,
                            "collection": r.collection,
                            "links": [{"rel": "self", "href": self._base(req) + r.url_path}],
                        }
                        for r in self.resources.values()
                    ]
                }
            )
        if rest[0] == "extensions":
            return self._extensions(req, rest[1:])
        if rest[0] == QUOTAS_PATH:
            return self.quotas.dispatch(req, ctx, rest[1:])
        for length in (2, 1):  # the longest path first: "qos/policies"
            res = self.routes.get(tuple(rest[:length]))
            if res is not None:
                return self._resource(req, ctx, res, rest[length:])
        policies = self.routes.get(("qos", "policies"))
        if rest[0] == TAGGED_QOS_POLICIES and policies is not None:
            if len(rest) in (3, 4) and rest[2] == "tags":  # Neutron's tag path for them
                return self._resource(req, ctx, policies, rest[1:])
            raise errors.ResourceNotFound()
        plugin = plugin_registry.SERVICE_AREAS.get(rest[0]) or self.dormant.get(rest[0])
        if plugin is not None and not any(path[0] == rest[0] for path in self.routes):
            served = {plugin_registry.SERVICE_AREAS.get(path[0]) for path in self.routes}
            if plugin in served or plugin in {p.name for p in self.plugins}:
                raise errors.NotOfferedByPlugin(resource=rest[0], plugin=plugin)
            raise errors.NotImplementedByPlugin(resource=rest[0], plugin=plugin)
        raise errors.ResourceNotFound()

    def _authenticate(self, req: webob.Request) -> Context:
        if self.keystone:  # auth_token has refused what Keystone did not validate
            ctx = keystone.context(req.environ)
            if ctx is None:
                raise errors.ProjectScopeRequired()
            return ctx
        ctx = self.service.tokens.authenticate(req.headers.get("X-Auth-Token"))
        if ctx is None:
            raise errors.NotAuthenticated()
        return ctx

    def _base(self, req) -> str:
        return f"{req.host_url}{req.script_name}/{API_VERSION}/"

    def _version(self, req) -> dict:
        return {
            "id": API_VERSION,
            "status": "CURRENT",
            "links": [{"href": self._base(req), "rel": "self"}],
        }

    def _extensions(self, req, rest: list[str]) -> webob.Response:
        http.allow(req, "GET")
        if not rest:
            return http.json_response(
                {"extensions": [e.to_wire() for e in self.extensions.values()]}
            )
        if len(rest) == 1:
            ext = self.extensions.get(rest[0])
            if ext is None:
                raise errors.ExtensionNotFound(alias=rest[0])
            return http.json_response({"extension": ext.to_wire()})
        raise errors.ResourceNotFound()

    def _resource(self, req, ctx: Context, res: ResourceDef, rest: list[str]) -> webob.Response:
        if not rest:
            method = http.allow(req, "GET") if res.read_only else http.allow(req, "GET", "POST")
            return self._list(req, ctx, res) if method == "GET" else self._create(req, ctx, res)
        resource_id = rest[0]
        if not res.valid_id(resource_id):
            raise res.not_found(resource_id)
        if len(rest) >= 2 and rest[1] in res.children:
            parent = res.get(ctx, resource_id)  # an invisible parent: its not-found error
            child = res.children[rest[1]].bind(resource_id, parent.project_id)
            return self._resource(req, ctx, child, rest[2:])
        if len(rest) == 1:
            method = (
                http.allow(req, "GET") if res.read_only else http.allow(req, "GET", "PUT", "DELETE")
            )
            if method == "GET":
                return self._show(req, ctx, res, resource_id)
            if method == "PUT":
                return self._update(req, ctx, res, resource_id)
            self._authorize_change(ctx, res, res.rule("delete"), res.get(ctx, resource_id))
            res.delete(ctx, resource_id, _if_revision(req))
            return webob.Response(status=204)
        if len(rest) == 2 and rest[1] in res.actions:
            http.allow(req, "PUT")
            self._authorize_change(ctx, res, rest[1], res.get(ctx, resource_id))
            return http.json_response(res.actions[rest[1]](ctx, resource_id, http.json_body(req)))
        if rest[1] == "tags" and res.taggable and len(rest) <= 3:
            return self._tags(req, ctx, res, resource_id, rest[2] if len(rest) == 3 else None)
        raise errors.ResourceNotFound()

    # ------------------------------------------------------------------------- authorization
    def _target(self, ctx: Context, res: ResourceDef, wire: dict, creating: bool = False) -> dict:
        """Neutron's policy target: the object on the wire, its project, the network it
        lives on (``network:tenant_id``, ``network:shared``) and the owner of its parent.
        A new object's network must be one the caller sees (else its 404)."""
        target = dict(wire, _resource=res.policy_name)
        project = wire.get("project_id") or wire.get("tenant_id") or ctx.project_id
        target["project_id"] = target["tenant_id"] = project
        network_id = wire.get("network_id")
        if res.member != "network" and isinstance(network_id, str) and a.is_uuid(network_id):
            network = self.service.get_network(ctx if creating else Context.admin(), network_id)
            target["network:tenant_id"] = target["network:project_id"] = network.project_id
            target["network:shared"] = rbac.shared_with(
                self.service, "network", network, ctx.project_id
            )
            target["network:router:external"] = network.external
        if res.parent_owner is not None:
            target["ext_parent:tenant_id"] = target["ext_parent:project_id"] = res.parent_owner
        return target

    def _authorize(self, ctx: Context, action: str, target: dict, attributes=()) -> None:
        """The action's rule, then the rule of each attribute set (``create_port:mac_address``,
        and per fixed IP ``create_port:fixed_ips:ip_address`` / ``:subnet_id``), and of each
        key given in an attribute that is an object, as Neutron's sub-attribute rules
        (``update_router:external_gateway_info:enable_snat``): 403 before the model sees the
        request, so no conflict answer tells what another project uses."""
        self.authorizer.authorize(ctx, action, target)
        for name in attributes:
            rule = f"{action}:{name}"
            if self.authorizer.knows(rule):
                self.authorizer.authorize(ctx, rule, target)
            if isinstance(target.get(name), dict):
                for key in target[name]:
                    if self.authorizer.knows(f"{rule}:{key}"):
                        self.authorizer.authorize(ctx, f"{rule}:{key}", target)
            if name == "fixed_ips" and isinstance(target.get(name), list):
                for key in ("ip_address", "subnet_id"):
                    if any(key in entry for entry in target[name]) and self.authorizer.knows(
                        f"{rule}:{key}"
                    ):
                        self.authorizer.authorize(ctx, f"{rule}:{key}", target)

    def _authorize_change(
        self, ctx: Context, res: ResourceDef, action: str, record, changes: dict | None = None
    ) -> None:
        """A change of an object the caller sees: 403 when a rule says no. The target is the
        object as it would be after the change, as in Neutron."""
        shown = res.attributes.render(record, ctx=ctx)
        target = self._target(ctx, res, {**shown, **(changes or {})})
        self._authorize(ctx, action, target, changes or ())

    def _readable(self, ctx: Context, res: ResourceDef, record) -> bool:
        return self.authorizer.allowed(
            ctx, res.rule("get"), self._target(ctx, res, res.attributes.render(record, ctx=ctx))
        )

    def _hidden(self, ctx: Context, res: ResourceDef) -> frozenset:
        """Attributes whose ``get_<resource>:<attribute>`` rule denies this caller (decided
        per request, against a target of the caller's own project)."""
        own = {
            "_resource": res.policy_name,
            "project_id": ctx.project_id,
            "tenant_id": ctx.project_id,
        }
        return frozenset(
            attr.name
            for attr in res.attributes.attrs
            if self.authorizer.knows(f"{res.rule('get')}:{attr.name}")
            and not self.authorizer.allowed(ctx, f"{res.rule('get')}:{attr.name}", own)
        )

    # ------------------------------------------------------------------------------ handlers
    def _render(self, ctx: Context, res: ResourceDef, record, hidden=None) -> dict:
        hidden = self._hidden(ctx, res) if hidden is None else hidden
        return res.attributes.render(record, hidden, ctx)

    def _list(self, req, ctx: Context, res: ResourceDef) -> webob.Response:
        hidden = self._hidden(ctx, res)
        query = ListQuery.parse(req.GET, res.attributes, hidden, res.list_filters, res.primary_key)
        records = res.list(ctx, **query.list_arguments)
        # the model's scoping is the default rule's for tokens with the reader role; another
        # token (a Keystone role of an operator's making alone) is judged item by item
        if not self.authorizer.is_default(res.rule("get")) or not ctx.reads:
            records = [r for r in records if self._readable(ctx, res, r)]
        elif res.default_visible is not None:
            records = [r for r in records if res.default_visible(ctx, r)]
        items = [
            item
            for item in (self._render(ctx, res, r, hidden) for r in records)
            if query.matches(item)
        ]
        if query.sorts or query.limit or query.marker:
            items = query.sort(items)
        page, has_next, has_previous = query.page(items, res.not_found)
        body = {res.collection: [query.select_fields(item) for item in page]}
        links = pagination_links(req, res.collection, page, has_next, has_previous, query)
        if links:
            body[res.collection + "_links"] = links
        return http.json_response(body)

    def _show(self, req, ctx: Context, res: ResourceDef, resource_id: str) -> webob.Response:
        fields = [f for v in req.GET.getall("fields") for f in v.split(",") if f]
        if res.show is not None:  # the answer depends on the fields asked: shown whole
            record, fields = res.show(ctx, resource_id, fields), []
        else:
            record = res.get(ctx, resource_id)
        if not self._readable(ctx, res, record):
            # Neutron's controller answers its generic 404 to a show the policy denies; an
            # object a scoped model shows but the policy hides looks missing instead
            if res.default_visible is None:
                raise res.not_found(resource_id)
            raise errors.ResourceNotFound()
        item = self._render(ctx, res, record)
        if fields:
            item = {k: v for k, v in item.items() if k in fields}
        return http.json_response({res.member: item})

    def _create(self, req, ctx: Context, res: ResourceDef) -> webob.Response:
        body = http.json_body(req)
        if set(body) == {res.member} and isinstance(body[res.member], dict):
            items, bulk = [body[res.member]], False
        elif set(body) == {res.collection} and isinstance(body[res.collection], list):
            items, bulk = [_unwrap(res, item) for item in body[res.collection]], True
            if not items:
                raise errors.BadRequestMessage(msg="Resources required")
        else:
            raise errors.BadRequestMessage(msg=f"Unable to find '{res.member}' in request body")
        fields = [_post_fields(ctx, res, item) for item in items]
        for item in items:  # Neutron checks the attributes set to other than their default
            self._authorize(
                ctx,
                res.rule("create"),
                self._target(ctx, res, item, creating=True),
                [key for key, value in item.items() if value != res.attributes[key].default],
            )
        records = res.create(ctx, fields)
        if bulk:
            return http.json_response(
                {res.collection: [self._render(ctx, res, r) for r in records]}, 201
            )
        return http.json_response({res.member: self._render(ctx, res, records[0])}, 201)

    def _update(self, req, ctx: Context, res: ResourceDef, resource_id: str) -> webob.Response:
        body = http.json_body(req)
        if set(body) != {res.member} or not isinstance(body[res.member], dict):
            raise errors.BadRequestMessage(msg=f"Unable to find '{res.member}' in request body")
        current = res.get(ctx, resource_id)  # not visible → 404 before any complaint
        fields = _put_fields(res, body[res.member])
        self._authorize_change(ctx, res, res.rule("update"), current, body[res.member])
        record = res.update(ctx, resource_id, fields, _if_revision(req))
        return http.json_response({res.member: self._render(ctx, res, record)})

    def _tags(
        self, req, ctx: Context, res: ResourceDef, resource_id: str, tag: str | None
    ) -> webob.Response:
        service, kind = self.service, res.collection
        if req.method != "GET":
            self._authorize_change(ctx, res, res.rule("update"), res.get(ctx, resource_id))
        if tag is None:
            method = http.allow(req, "GET", "PUT", "POST", "DELETE")
            if method == "GET":
                return http.json_response({"tags": service.get_tags(ctx, kind, resource_id)})
            if method in ("PUT", "POST"):
                body = http.json_body(req)
                if set(body) != {"tags"}:
                    raise errors.InvalidInput(error_message="Invalid tags body")
                tags = a.tag_list("tags", body["tags"])
                if method == "POST":  # tag-creation: these join the tags there are
                    service.add_tags(ctx, kind, resource_id, tags)
                    return http.json_response({"tags": tags}, status=201)
                return http.json_response({"tags": service.set_tags(ctx, kind, resource_id, tags)})
            service.set_tags(ctx, kind, resource_id, [])
            return webob.Response(status=204)
        method = http.allow(req, "GET", "PUT", "DELETE")
        if method == "GET":
            if tag not in service.get_tags(ctx, kind, resource_id):
                raise errors.TagNotFound(tag=tag, resource=res.member, resource_id=resource_id)
            return webob.Response(status=204)
        if method == "PUT":
            service.add_tag(ctx, kind, resource_id, a.tag("tag", tag))
            return webob.Response(status=201)
        service.remove_tag(ctx, kind, resource_id, tag)
        return webob.Response(status=204)


# ------------------------------------------------------------------------------ body helpers


def _check_url(req) -> None:
    """The path and the query must be UTF-8, and no query key or value may hold NUL: every
    handler can then read them without a decoding error."""
    try:
        _ = req.path_info
    except UnicodeDecodeError:
        raise errors.BadRequestMessage(msg="The request path is not valid UTF-8") from None
    try:
        params = req.GET.items()
    except UnicodeDecodeError:
        raise errors.BadRequestMessage(msg="The query string is not valid UTF-8") from None
    for key, value in params:
        a.storable("query parameter name", key)
        a.storable(key, value)


def _request_line(environ) -> str:
    """The method and URL for a log line, from the raw WSGI strings: never a decoding error."""

    def raw(key: str, safe: str) -> str:
        return quote(environ.get(key, "").encode("latin-1", "backslashreplace"), safe=safe)

    path = raw("SCRIPT_NAME", "/") + raw("PATH_INFO", "/")
    query = raw("QUERY_STRING", "/?%=&:@,;+")  # already percent-encoded: kept as sent
    return f"{environ.get('REQUEST_METHOD', '?')} {path}" + (f"?{query}" if query else "")


def _unwrap(res: ResourceDef, item):
    """Bulk items are plain objects; the legacy ``[{"network": {...}}]`` form is accepted too."""
    if isinstance(item, dict) and set(item) == {res.member} and isinstance(item[res.member], dict):
        item = item[res.member]
    if not isinstance(item, dict):
        raise errors.BadRequestMessage(msg="Malformed request body: every item must be an object")
    return item


def _settable(res: ResourceDef, item: dict, post: bool) -> Iterator[tuple[str, a.Attr, Any]]:
    """Each (name, attribute, value) of one request object, as given; Neutron's 400 for an
    attribute unknown (all of them named, first) or one the method may not set."""
    unknown = [k for k in item if res.attributes.get(k) is None]
    if unknown:
        raise errors.BadRequestMessage(msg=f"Unrecognized attribute(s) '{', '.join(unknown)}'")
    for key, value in item.items():
        attr = res.attributes[key]
        if post and not attr.allow_post:
            raise errors.BadRequestMessage(msg=f"Attribute '{key}' not allowed in POST")
        if not post and not attr.allow_put:
            raise errors.BadRequestMessage(msg=f"Cannot update read-only attribute {key}")
        yield key, attr, value


def _post_fields(ctx: Context, res: ResourceDef, item: dict) -> dict:
    """Validate one POST object and convert it to the service's field names."""
    fields: dict[str, Any] = {}
    named: dict[str, str] = {}  # field -> the attribute that set it
    for key, attr, value in _settable(res, item, post=True):
        if value is None and attr.default is None:
            continue
        value = attr.validate(key, value) if attr.validate else value
        if attr.field is None:
            continue
        if attr.field in fields and fields[attr.field] != value:
            first, second = sorted((named[attr.field], key))
            raise errors.BadRequestMessage(msg=f"'{first}' and '{second}' do not match")
        fields[attr.field] = value
        named[attr.field] = key
    if fields.get("project_id") not in (None, ctx.project_id) and not ctx.is_admin:
        raise errors.BadRequestMessage(  # Neutron's 400, before any policy rule
            msg="Specifying 'project_id' or 'tenant_id' other than the authenticated project in "
            "request requires admin privileges"
        )
    for attr in res.attributes.attrs:
        if attr.allow_post and attr.default is a.MISSING and attr.name not in item:
            raise errors.BadRequestMessage(
                msg=f"Failed to parse request. Required attribute '{attr.name}' not specified"
            )
    return fields


def _put_fields(res: ResourceDef, item: dict) -> dict:
    fields: dict[str, Any] = {}
    for key, attr, value in _settable(res, item, post=False):
        value = attr.validate(key, value) if attr.validate else value
        if attr.field is not None:
            fields[attr.field] = value
    return fields


def _if_revision(req) -> int | None:
    """Neutron's revision-if-match: ``If-Match: revision_number=N``."""
    header = req.headers.get("If-Match")
    if not header:
        return None
    for part in header.split(","):
        part = part.strip()
        if part.startswith("revision_number="):
            try:
                return int(part[len("revision_number=") :])
            except ValueError:
                raise errors.BadRequestMessage(
                    msg="Could not parse revision number from If-Match header"
                ) from None
    return None
