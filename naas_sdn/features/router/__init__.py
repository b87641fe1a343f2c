"""Routers: the ``router`` service plugin, /v2.0/routers with Neutron's L3 and extraroute
dialect, as one slice — the declaration and its route rules (:mod:`.resource`), the interface
actions (:mod:`.interfaces`) and the API below. Its flows are the compiler's
(:mod:`naas_sdn.flows.routing`), which reads the routers' views from the snapshot.

Routers connect the subnets of their interface ports (added and removed with the
``add_router_interface`` / ``remove_router_interface`` member actions) and carry static routes.
External gateways need external networks, which the model does not have: only null is accepted.
"""

from __future__ import annotations

import dataclasses

from naas_sdn.model import errors
from naas_sdn.northbound import attributes as a
from naas_sdn.northbound.attributes import Attr, AttributeMap
from naas_sdn.northbound.extensions import Extension, Plugin
from naas_sdn.northbound.policy import ADMIN_OR_OWNER, crud, rule
from naas_sdn.northbound.resources import declared_resource

from .interfaces import add_router_interface, remove_router_interface
from .resource import ROUTERS, Router, add_extraroutes, interfaces_of, remove_extraroutes

__all__ = [
    "ROUTERS",
    "Router",
    "add_extraroutes",
    "add_router_interface",
    "interfaces_of",
    "remove_extraroutes",
    "remove_router_interface",
    "router_plugin",
]

_NO_GATEWAY = (
    "external gateways are not supported: there are no external networks, so "
    "external_gateway_info can only be null"
)
_NO_AZ = "availability zones are not supported"
_NO_FLAVOR = "router flavors are not supported: the flavors service plugin is not loaded"

# What the API shows and accepts beyond the declared fields: what routers here never have.
_GATEWAY = Attr(
    "external_gateway_info",
    lambda r: None,
    True,
    True,
    None,
    a.only_none(_NO_GATEWAY),
    None,
    kind="other",
)
_NEVER_SET = (
    Attr("flavor_id", lambda r: None, True, False, None, a.only_none(_NO_FLAVOR), None),
    Attr(
        "availability_zone_hints",
        lambda r: [],
        True,
        False,
        [],
        a.only_empty_list(_NO_AZ),
        None,
        kind="other",
    ),
    Attr("availability_zones", lambda r: [], kind="other"),
)


def _attributes(declared: AttributeMap) -> AttributeMap:
    """The declared attributes and the unsupported ones, in the order of Neutron's body."""
    attrs = declared.attrs
    at = [attr.name for attr in attrs].index("routes")
    return AttributeMap((*attrs[:at], _GATEWAY, attrs[at], *_NEVER_SET, *attrs[at + 1 :]))


ROUTER_EXTENSIONS = (
    Extension(
        "router",
        "Neutron L3 Router",
        "Router abstraction for basic L3 forwarding between L2 Neutron networks and "
        "access to external networks via a NAT gateway.",
    ),
    Extension("extraroute", "Neutron Extra Route", "Extra routes configuration for L3 router"),
    Extension(
        "extraroute-atomic",
        "Atomically add/remove extra routes",
        "Edit extra routes of a router on server side by atomically adding/removing extra routes",
    ),
)

ACTIONS = (
    "add_router_interface",
    "remove_router_interface",
    "add_extraroutes",
    "remove_extraroutes",
)
ROUTER_RULES = crud("router") + tuple(
    rule(action, ADMIN_OR_OWNER, f"{action.replace('_', ' ').capitalize()} of a router")
    for action in ACTIONS
)


def _routes_body(body) -> list:
    """extraroute-atomic bodies: ``{"router": {"routes": [...]}}``."""
    router = body.get("router")
    if set(body) != {"router"} or not isinstance(router, dict) or set(router) != {"routes"}:
        raise errors.BadRequestMessage(
            msg="Unable to find 'router' in request body, with 'routes' as its only attribute"
        )
    return a.host_routes("routes", router["routes"])


def router_plugin(service) -> Plugin:
    def render(router: Router) -> dict:
        return {"router": routers.attributes.render(router)}

    def add_routes(ctx, router_id, body):
        routes = _routes_body(body)
        return render(add_extraroutes(service, ctx, router_id, routes))

    def remove_routes(ctx, router_id, body):
        service.get_record(ctx, "routers", router_id)  # 404 before a bad body, as Neutron
        routes = _routes_body(body)
        return render(remove_extraroutes(service, ctx, router_id, routes))

    routers = declared_resource(
        service,
        ROUTERS,
        actions={
            "add_router_interface": lambda ctx, rid, info: add_router_interface(
                service, ctx, rid, info
            ),
            "remove_router_interface": lambda ctx, rid, info: remove_router_interface(
                service, ctx, rid, info
            ),
            "add_extraroutes": add_routes,
            "remove_extraroutes": remove_routes,
        },
    )
    routers = dataclasses.replace(routers, attributes=_attributes(routers.attributes))
    return Plugin("router", (routers,), ROUTER_EXTENSIONS, policy_rules=ROUTER_RULES)
