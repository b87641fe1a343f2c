"""The ``router`` service plugin: /v2.0/routers with Neutron's L3 and extraroute dialect.

Routers connect the subnets of their interface ports (added and removed with the
``add_router_interface`` / ``remove_router_interface`` member actions) and carry static routes.
External gateways need external networks, which the model does not have: only null is accepted.
"""

from __future__ import annotations

from naas_sdn.model import errors
from naas_sdn.model.service import NetworkService
from naas_sdn.northbound import attributes as a
from naas_sdn.northbound.attributes import Attr, AttributeMap
from naas_sdn.northbound.extensions import Extension, Plugin
from naas_sdn.northbound.policy import ADMIN_OR_OWNER, crud, rule
from naas_sdn.northbound.resources import ResourceDef, _standard

_NO_GATEWAY = (
    "external gateways are not supported: there are no external networks, so "
    "external_gateway_info can only be null"
)
_NO_AZ = "availability zones are not supported"
_NO_FLAVOR = "router flavors are not supported: the flavors service plugin is not loaded"

ROUTER_ATTRIBUTES = AttributeMap(
    _standard()
    + (
        Attr(
            "admin_state_up",
            lambda r: r.admin_state_up,
            True,
            True,
            True,
            a.boolean,
            "admin_state_up",
            kind="boolean",
        ),
        Attr("status", lambda r: r.status),
        Attr(
            "external_gateway_info",
            lambda r: None,
            True,
            True,
            None,
            a.only_none(_NO_GATEWAY),
            None,
            kind="other",
        ),
        # extraroute: not allowed on POST, as in neutron-lib
        Attr(
            "routes",
            lambda r: [{"destination": d, "nexthop": n} for d, n in r.routes],
            False,
            True,
            None,
            a.host_routes,
            "routes",
            kind="other",
        ),
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
)

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


def _routes_body(body) -> list:
    """extraroute-atomic bodies: ``{"router": {"routes": [...]}}``."""
    router = body.get("router")
    if set(body) != {"router"} or not isinstance(router, dict) or set(router) != {"routes"}:
        raise errors.BadRequestMessage(
            msg="Unable to find 'router' in request body, with 'routes' as its only attribute"
        )
    return a.host_routes("routes", router["routes"])


def router_plugin(service: NetworkService) -> Plugin:
    def add_extraroutes(ctx, router_id, body):
        routes = _routes_body(body)
        return {"router": ROUTER_ATTRIBUTES.render(service.add_extraroutes(ctx, router_id, routes))}

    def remove_extraroutes(ctx, router_id, body):
        service.get_router(ctx, router_id)
        routes = _routes_body(body)
        return {
            "router": ROUTER_ATTRIBUTES.render(service.remove_extraroutes(ctx, router_id, routes))
        }

    routers = ResourceDef(
        collection="routers",
        member="router",
        attributes=ROUTER_ATTRIBUTES,
        list=service.list_routers,
        get=service.get_router,
        create=service.create_routers,
        update=service.update_router,
        delete=service.delete_router,
        not_found=lambda rid: errors.RouterNotFound(router_id=rid),
        actions={
            "add_router_interface": service.add_router_interface,
            "remove_router_interface": service.remove_router_interface,
            "add_extraroutes": add_extraroutes,
            "remove_extraroutes": remove_extraroutes,
        },
    )
    return Plugin("router", (routers,), ROUTER_EXTENSIONS, policy_rules=ROUTER_RULES)


ROUTER_RULES = crud("router") + tuple(
    rule(action, ADMIN_OR_OWNER, f"{action.replace('_', ' ').capitalize()} of a router")
    for action in (
        "add_router_interface",
        "remove_router_interface",
        "add_extraroutes",
        "remove_extraroutes",
    )
)
